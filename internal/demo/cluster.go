package demo

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// member is one `pgkeep ha` agent and its PostgreSQL.
type member struct {
	name, cluster string
	port, apiPort int
	data, conf    string
	agent         *daemon
}

// newMember writes the configuration of a member; a target time makes it
// the first member of a new cluster bootstrapped from the demo's backup.
func (d *run) newMember(name, cluster string, port, apiPort int, target string) *member {
	m := &member{name: name, cluster: cluster, port: port, apiPort: apiPort,
		data: filepath.Join(d.work, name), conf: filepath.Join(d.work, name+".yaml")}
	yaml := d.baseYAML(cluster) + fmt.Sprintf(`pg:
  data: %s
  host: 127.0.0.1
  port: %d
  user: postgres
  bin: %s
  parameters:
    unix_socket_directories: %s
    shared_buffers: 32MB
    max_wal_size: 256MB
    # in the data directory: posix segments in /dev/shm outlive the kill -9 below
    dynamic_shared_memory_type: mmap
ha:
  name: %s
  listen: 127.0.0.1:%d
  replica-method: backup
`, m.data, port, d.o.PGBin, d.work, name, apiPort)
	if cluster == "demo" {
		// The repository server's slot on every member: after a failover its
		// receiver finds the WAL since the switch kept for it.
		yaml += "  permanent-slots: [pgkeep]\n"
	}
	if target != "" {
		yaml += fmt.Sprintf("  bootstrap:\n    method: backup\n    cluster: demo\n    set: latest\n    target-time: %q\n", target)
	}
	m.conf = filepath.Join(d.work, name+".yaml")
	_ = d.writeConfig(m.conf, yaml) // checked by the agent's start
	return m
}

// baseYAML is the configuration every process of the demo shares.
func (d *run) baseYAML(cluster string) string {
	return fmt.Sprintf(`cluster: %s
log-level: info
repo:
  type: posix
  path: %s
etcd:
  endpoints: [%s]
`, cluster, filepath.Join(d.work, "repo"), d.etcdURL)
}

func (d *run) writeConfig(path, yaml string) error {
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		return fmt.Errorf("demo: write %s: %w", path, err)
	}
	return d.as.chown(path)
}

// startEtcd starts a one-node etcd on loopback.
func (d *run) startEtcd(ctx context.Context) error {
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	d.etcdURL = fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	dir := filepath.Join(d.work, "etcd")
	if err := os.Mkdir(dir, 0o700); err != nil {
		return err
	}
	if err := d.as.chown(dir); err != nil {
		return err
	}
	d.step("etcd on %s", d.etcdURL)
	d.etcd, err = d.as.start(ctx, d.work, filepath.Join(d.work, "etcd.log"), d.o.Etcd,
		"--name", "demo", "--data-dir", dir,
		"--listen-client-urls", d.etcdURL, "--advertise-client-urls", d.etcdURL,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
		"--initial-cluster", "demo="+peer, "--log-level", "warn")
	if err != nil {
		return err
	}
	return waitFor(ctx, 30*time.Second, "etcd", func(ctx context.Context) (bool, error) {
		return httpStatus(ctx, d.etcdURL+"/health") == http.StatusOK, d.etcd.exited()
	})
}

// startAgent starts (or restarts) a member's agent.
func (d *run) startAgent(ctx context.Context, m *member) error {
	var err error
	m.agent, err = d.as.start(ctx, d.work, filepath.Join(d.work, m.name+".log"), d.bin, "--config", m.conf, "ha")
	return err
}

// startServer starts the repository server and waits until it streams.
func (d *run) startServer(ctx context.Context, port int) error {
	conf := filepath.Join(d.work, "server.yaml")
	yaml := d.baseYAML("demo") + fmt.Sprintf(`server:
  name: demo-server
  listen: 127.0.0.1:%d
  spool-path: %s
  partial-interval: 1s
  schedule: {full: "", diff: "", incr: "", verify: ""}
`, port, filepath.Join(d.work, "spool"))
	if err := d.writeConfig(conf, yaml); err != nil {
		return err
	}
	var err error
	if d.server, err = d.as.start(ctx, d.work, filepath.Join(d.work, "server.log"), d.bin, "--config", conf, "server"); err != nil {
		return err
	}
	return waitFor(ctx, time.Minute, "the repository server to stream", func(ctx context.Context) (bool, error) {
		return metric(ctx, fmt.Sprintf("http://127.0.0.1:%d/metrics", port), "pgkeep_server_active") == 1, d.server.exited()
	})
}

// waitRole waits until a member's REST API says it is primary or replica.
func (d *run) waitRole(ctx context.Context, m *member, role string, timeout time.Duration) error {
	url := fmt.Sprintf("http://127.0.0.1:%d/%s", m.apiPort, role)
	return waitFor(ctx, timeout, m.name+" to be "+role, func(ctx context.Context) (bool, error) {
		return httpStatus(ctx, url) == http.StatusOK, m.agent.exited()
	})
}
