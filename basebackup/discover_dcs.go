package basebackup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/pgkeep/pgkeep/pg"
)

// defaultNamespace is Patroni's default etcd namespace.
const defaultNamespace = "/service"

// Patroni's member roles that matter here.
const (
	roleReplica       = "replica"
	roleStandbyLeader = "standby_leader"
)

// dcsKeys names the etcd keys of one cluster in Patroni's layout.
type dcsKeys struct {
	prefix string // "/service/main/"
}

func newDCSKeys(namespace, cluster string) dcsKeys {
	ns := strings.TrimRight(namespace, "/")
	if namespace == "" {
		ns = defaultNamespace
	}
	return dcsKeys{prefix: ns + "/" + cluster + "/"}
}

func (k dcsKeys) leader() string            { return k.prefix + "leader" }
func (k dcsKeys) members() string           { return k.prefix + "members/" }
func (k dcsKeys) member(name string) string { return k.members() + name }

// member is one member key's value; Patroni writes more fields.
type member struct {
	Name     string `json:"-"`
	ConnURL  string `json:"conn_url"`
	APIURL   string `json:"api_url"`
	State    string `json:"state"`
	Role     string `json:"role"`
	XLogLoc  uint64 `json:"xlog_location"`
	Timeline uint32 `json:"timeline"`

	err error // the value is not a member's JSON
}

// dcsView is what etcd said about a cluster, read at one revision.
type dcsView struct {
	keys    dcsKeys
	leader  string   // "" when there is no leader key
	members []member // by name
}

// member returns the member called name.
func (v dcsView) member(name string) (member, bool) {
	i := slices.IndexFunc(v.members, func(m member) bool { return m.Name == name })
	if i < 0 {
		return member{}, false
	}
	return v.members[i], true
}

// readDCS reads the leader key and the member keys in one transaction.
func readDCS(ctx context.Context, o DiscoverOptions, keys dcsKeys) (dcsView, error) {
	where := "etcd at " + strings.Join(o.Endpoints, ",")
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   o.Endpoints,
		DialTimeout: o.Timeout,
		Context:     ctx,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return dcsView{}, fmt.Errorf("connect to %s: %w", where, err)
	}
	defer cli.Close()
	tctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	resp, err := cli.Txn(tctx).Then(
		clientv3.OpGet(keys.leader()),
		clientv3.OpGet(keys.members(), clientv3.WithPrefix()),
	).Commit()
	if err != nil {
		hint := ""
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			hint = fmt.Sprintf(" within %s (is etcd running there, are the endpoints right?)", o.Timeout)
		}
		return dcsView{}, fmt.Errorf("read %s from %s%s: %w", keys.prefix, where, hint, err)
	}
	if len(resp.Responses) != 2 {
		return dcsView{}, fmt.Errorf("read %s from %s: %d answers to 2 reads", keys.prefix, where, len(resp.Responses))
	}
	v := dcsView{keys: keys}
	if kvs := resp.Responses[0].GetResponseRange().GetKvs(); len(kvs) > 0 {
		v.leader = string(kvs[0].Value)
	}
	for _, kv := range resp.Responses[1].GetResponseRange().GetKvs() {
		name := strings.TrimPrefix(string(kv.Key), keys.members())
		if name == "" || strings.Contains(name, "/") {
			continue
		}
		v.members = append(v.members, parseMember(name, kv.Value))
	}
	slices.SortFunc(v.members, func(a, b member) int { return strings.Compare(a.Name, b.Name) })
	return v, nil
}

// parseMember decodes a member key's value; a bad value is kept, with err set.
func parseMember(name string, value []byte) member {
	var m member
	if err := json.Unmarshal(value, &m); err != nil {
		m = member{err: fmt.Errorf("not a Patroni member's JSON: %w", err)}
	}
	m.Name = name
	return m
}

// memberConn says how to reach m: the host and port of its conn_url, with
// the configured user and database when set.
func (o DiscoverOptions) memberConn(m member) (pg.ConnOptions, error) {
	c, err := parseConnURL(m.ConnURL)
	if err != nil {
		return pg.ConnOptions{}, err
	}
	if o.User != "" {
		c.User = o.User
	}
	if o.Database != "" {
		c.Database = o.Database
	}
	c.Timeout = o.Timeout
	return c, nil
}

// parseConnURL reads a member's conn_url, postgres://[user@]host[:port]/db,
// whose host may also be a socket directory in a host= parameter. Query
// parameters win, as in libpq. A password in it is ignored (libpq finds it
// in PGPASSWORD or the pgpass file) and never appears in errors.
func parseConnURL(s string) (pg.ConnOptions, error) {
	if s == "" {
		return pg.ConnOptions{}, errors.New("no conn_url")
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message would quote the URL, password and all
		}
		return pg.ConnOptions{}, fmt.Errorf("conn_url: %w", err)
	}
	shown := redactedURL(u)
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return pg.ConnOptions{}, fmt.Errorf("conn_url %s: not a postgres:// URL", shown)
	}
	q := u.Query()
	c := pg.ConnOptions{
		Host:     firstSet(q.Get("host"), u.Hostname()),
		User:     firstSet(q.Get("user"), u.User.Username()),
		Database: firstSet(q.Get("dbname"), strings.TrimPrefix(u.Path, "/")),
	}
	switch {
	case c.Host == "":
		return pg.ConnOptions{}, fmt.Errorf("conn_url %s: no host", shown)
	case strings.Contains(c.Host, ","):
		return pg.ConnOptions{}, fmt.Errorf("conn_url %s: several hosts, one expected", shown)
	}
	c.Port = 5432
	if port := firstSet(q.Get("port"), u.Port()); port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return pg.ConnOptions{}, fmt.Errorf("conn_url %s: bad port %q", shown, port)
		}
		c.Port = n
	}
	return c, nil
}

// redactedURL is u without its passwords, for messages.
func redactedURL(u *url.URL) string {
	r := *u
	q := r.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		r.RawQuery = q.Encode()
	}
	return r.Redacted()
}

// firstSet returns the first non-empty string.
func firstSet(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
