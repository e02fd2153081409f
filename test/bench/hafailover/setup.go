package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/pgkeep/pgkeep/test/agentconf"
)

// setup builds the trial's cluster and starts its agents; it returns the
// members once one is primary and streams to the others.
func (b *bench) setup(ctx context.Context, agent string, n int) ([]*member, error) {
	if b.pg == nil {
		for range 3 {
			b.pg, b.api = append(b.pg, b.ports.next()), append(b.api, b.ports.next())
		}
	}
	var ms []*member
	for i := range 3 {
		dir := filepath.Join(b.o.work, fmt.Sprintf("%s-t%d", agent, n), fmt.Sprintf("m%d", i+1))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		ms = append(ms, &member{name: fmt.Sprintf("m%d", i+1), pgPort: b.pg[i], apiPort: b.api[i],
			dir: dir, data: filepath.Join(dir, "data"), conf: filepath.Join(dir, "agent.yaml")})
	}
	var err error
	switch agent {
	case "pgkeep":
		err = b.setupPgkeep(ctx, ms, n)
	case "patroni":
		err = b.setupPatroni(ms, n)
	default:
		err = fmt.Errorf("unknown agent %q", agent)
	}
	if err != nil {
		return ms, err
	}
	if err := ms[0].startAgent(agent, b.o.pgbin, b.o.pgkeep); err != nil {
		return ms, err
	}
	// The first member bootstraps (Patroni: initdb) and leads; then the others
	// join (Patroni: pg_basebackup).
	if err := waitFor(3*time.Minute, "m1 to lead", func() error {
		if !ms[0].agentRunning() {
			return fmt.Errorf("the agent of m1 exited; see %s/agent.log", ms[0].dir)
		}
		if ms[0].check("/primary") != 200 {
			return fmt.Errorf("m1 is not primary yet")
		}
		return nil
	}); err != nil {
		return ms, err
	}
	for _, m := range ms[1:] {
		if err := m.startAgent(agent, b.o.pgbin, b.o.pgkeep); err != nil {
			return ms, err
		}
	}
	return ms, nil
}

// setupPgkeep copies the template's data directories (pgkeep ha does not
// create replicas by itself yet), starts them and writes the agents'
// configuration: the default timings (ttl 3s, loop-wait 1s, retry-timeout 2s).
func (b *bench) setupPgkeep(ctx context.Context, ms []*member, n int) error {
	if b.tmpl == "" {
		if err := b.makeTemplate(ctx); err != nil {
			return fmt.Errorf("template: %w", err)
		}
	}
	for i, m := range ms {
		if out, err := exec.Command("cp", "-a", filepath.Join(b.tmpl, m.name), m.data).CombinedOutput(); err != nil {
			return fmt.Errorf("copy the template: %w: %s", err, out)
		}
		if err := b.pgctl("-D", m.data, "-l", filepath.Join(m.dir, "postgres.log"), "-w", "start"); err != nil {
			return err
		}
		conf := agentconf.Agent{Cluster: fmt.Sprintf("pgkeep-t%d", n), Name: m.name, PGData: m.data, PGPort: m.pgPort,
			PGBin: b.o.pgbin, Etcd: b.etcd, APIPort: b.api[i]}.YAML()
		if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// makeTemplate creates, once, a primary (m1) and two standbys cloned from
// it with pg_basebackup -R (m2, m3), all stopped, on the members' ports.
func (b *bench) makeTemplate(ctx context.Context) error {
	b.tmpl = filepath.Join(b.o.work, "template")
	p := filepath.Join(b.tmpl, "m1")
	if out, err := exec.Command(filepath.Join(b.o.pgbin, "initdb"), "-D", p, "--data-checksums", "-U", "postgres",
		"-A", "trust", "--encoding", "UTF8", "--locale=C", "--no-instructions").CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w: %s", err, out)
	}
	if err := appendConf(p, b.pg[0], filepath.Join(b.o.work, "pgkeep-sockets")); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(b.o.work, "pgkeep-sockets"), 0o700); err != nil {
		return err
	}
	if err := b.pgctl("-D", p, "-l", filepath.Join(b.tmpl, "m1.log"), "-w", "start"); err != nil {
		return err
	}
	defer func() { _ = b.pgctl("-D", p, "-m", "fast", "-w", "stop") }()
	for i, name := range []string{"m2", "m3"} {
		dir := filepath.Join(b.tmpl, name)
		if out, err := exec.Command(filepath.Join(b.o.pgbin, "pg_basebackup"), "-D", dir, "-R", "-X", "stream", "-c", "fast",
			"-h", "127.0.0.1", "-p", fmt.Sprint(b.pg[0]), "-U", "postgres").CombinedOutput(); err != nil {
			return fmt.Errorf("pg_basebackup: %w: %s", err, out)
		}
		if err := appendConf(dir, b.pg[i+1], filepath.Join(b.o.work, "pgkeep-sockets")); err != nil {
			return err
		}
	}
	return nil
}

// appendConf sets the server's port and the bench's settings.
func appendConf(data string, port int, sockets string) error {
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = fmt.Fprintf(f, "\n# bench\nlisten_addresses = '127.0.0.1'\nport = %d\nunix_socket_directories = '%s'\nwal_keep_size = '256MB'\n", port, sockets)
	return err
}

// setupPatroni writes Patroni's configuration: etcd v3, the given timings,
// pg_rewind on; Patroni runs initdb on the first member and pg_basebackup
// on the others itself.
func (b *bench) setupPatroni(ms []*member, n int) error {
	for _, m := range ms {
		hba := strings.Join([]string{"local all all trust", "host all all 127.0.0.1/32 trust", "host replication all 127.0.0.1/32 trust"}, "\n    - ")
		conf := fmt.Sprintf(`scope: patroni-t%d
namespace: /service/
name: %s
log:
  level: INFO
restapi:
  listen: 127.0.0.1:%d
  connect_address: 127.0.0.1:%d
etcd3:
  host: %s
bootstrap:
  dcs:
    ttl: %d
    loop_wait: %d
    retry_timeout: %d
    maximum_lag_on_failover: 1048576
    postgresql:
      use_pg_rewind: true
      parameters:
        wal_keep_size: 256MB
  initdb:
  - encoding: UTF8
  - locale: C
  - data-checksums
postgresql:
  listen: 127.0.0.1:%d
  connect_address: 127.0.0.1:%d
  data_dir: %s
  bin_dir: %s
  pgpass: %s
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
  parameters:
    unix_socket_directories: %s
  pg_hba:
    - %s
`, n, m.name, m.apiPort, m.apiPort, b.etcd, b.o.pttl, b.o.ploop, b.o.pretry,
			m.pgPort, m.pgPort, m.data, b.o.pgbin, filepath.Join(m.dir, "pgpass"), m.dir, hba)
		if err := os.WriteFile(m.conf, []byte(conf), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// teardown stops the agents and every server, and removes the trial's
// directories.
func (b *bench) teardown(ms []*member) {
	for _, m := range ms {
		m.stopAgent(syscall.SIGTERM)
	}
	for _, m := range ms {
		b.stopPostgres(m)
	}
	if len(ms) > 0 && os.Getenv("KEEP") == "" {
		_ = os.RemoveAll(filepath.Dir(ms[0].dir))
	}
}
