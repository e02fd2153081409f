package ha

import (
	"bytes"
	"fmt"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// managedConf is the file, in the data directory, that holds the settings
// the agent writes before every start: its defaults, the user's
// pg.parameters over them, then what it manages itself. postgresql.conf
// includes it at its end; ALTER SYSTEM (postgresql.auto.conf: the
// replication source, recovery settings) still wins over it.
const managedConf = "postgresql.pgkeep.conf"

const managedInclude = "include_if_exists = '" + managedConf + "'"

// pgConf is what the managed file is made of.
type pgConf struct {
	port           int
	listen         []string // listen_addresses
	socketDir      string   // unix_socket_directories, "" for the default
	params         map[string]string
	restoreCommand string
	archiveCommand string
	replUser       string
}

func newPGConf(o Options) pgConf {
	c := pgConf{port: o.Conn.Port, params: o.Parameters, restoreCommand: o.RestoreCommand,
		archiveCommand: o.ArchiveCommand, replUser: o.ReplicationUser}
	if c.port == 0 {
		c.port = 5432
	}
	add := func(h string) {
		if h != "" && !strings.HasPrefix(h, "/") && !slices.Contains(c.listen, h) {
			c.listen = append(c.listen, h)
		}
	}
	add(o.Conn.Host)
	if u, err := url.Parse(o.ConnURL); err == nil {
		add(u.Hostname())
	}
	if strings.HasPrefix(o.Conn.Host, "/") {
		c.socketDir = o.Conn.Host
	}
	return c
}

// render is the managed file's content.
func (c pgConf) render() []byte {
	defaults := map[string]string{
		"wal_level": "replica", "hot_standby": "on", "wal_log_hints": "on",
		"max_wal_senders": "10", "max_replication_slots": "10", "wal_keep_size": "128MB",
	}
	if len(c.listen) > 0 {
		defaults["listen_addresses"] = strings.Join(c.listen, ",")
	}
	if c.socketDir != "" {
		defaults["unix_socket_directories"] = c.socketDir
	}
	if c.archiveCommand != "" {
		defaults["archive_mode"], defaults["archive_command"] = "on", c.archiveCommand
	}
	if c.restoreCommand != "" {
		defaults["restore_command"] = c.restoreCommand
	}
	var b bytes.Buffer
	b.WriteString("# Written by pgkeep ha before every start: do not edit (set pg.parameters).\n\n# defaults\n")
	user := map[string]string{}
	for k, v := range c.params {
		user[strings.ToLower(k)] = v
	}
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		if _, ok := user[k]; !ok {
			fmt.Fprintf(&b, "%s = %s\n", k, confString(defaults[k]))
		}
	}
	b.WriteString("\n# pg.parameters\n")
	for _, k := range slices.Sorted(maps.Keys(user)) {
		fmt.Fprintf(&b, "%s = %s\n", k, confString(user[k]))
	}
	fmt.Fprintf(&b, "\n# managed\nport = %d\n", c.port)
	return b.Bytes()
}

// hba is pg_hba.conf for a cluster the agent creates: local connections by
// peer, loopback trusted, and the replication user from the server's own
// subnets (the other members: streaming, pg_basebackup and pg_rewind) by
// password (scram-sha-256; the members find it in their pgpass file).
// Nothing else trusts the network. Give your own with pg.parameters
// hba_file.
func (c pgConf) hba() []byte {
	u := c.replUser
	return fmt.Appendf(nil, `# Written by pgkeep ha when it created the cluster.
local all         all                  peer
local replication all                  peer
host  all         all   127.0.0.1/32   trust
host  all         all   ::1/128        trust
host  replication all   127.0.0.1/32   trust
host  replication all   ::1/128        trust
host  all         %[1]s samenet scram-sha-256
host  replication %[1]s samenet scram-sha-256
`, u)
}

// writeConfig writes the managed file and makes postgresql.conf include
// it.
func (p *postgres) writeConfig() error {
	if err := p.writeFile(managedConf, p.conf.render()); err != nil {
		return err
	}
	path := filepath.Join(p.dataDir, "postgresql.conf")
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("read postgresql.conf: %w", err)
	}
	if bytes.Contains(old, []byte(managedInclude)) {
		return nil
	}
	return p.writeFile("postgresql.conf", append(old, "\n# Added by pgkeep ha: its settings and pg.parameters.\n"+managedInclude+"\n"...))
}

// writeHBA writes pg_hba.conf for a new cluster, unless the user keeps
// their own (hba_file).
func (p *postgres) writeHBA() error {
	for k := range p.conf.params {
		if strings.EqualFold(k, "hba_file") {
			return nil
		}
	}
	return p.writeFile("pg_hba.conf", p.conf.hba())
}

// confString quotes s as a postgresql.conf string.
func confString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
