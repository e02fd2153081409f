package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/reposerver"
	"github.com/pgkeep/pgkeep/test/harness"
)

// serverProc is a running pgkeep server.
type serverProc struct {
	env    []string // the repository's secrets
	name   string
	url    string
	config string
	spool  string
	proc
}

// streamingCluster starts a server that archives nothing by itself
// (archive_mode off): only a pgkeep server streams its WAL.
func streamingCluster(t *testing.T, repo repoSetup, conf map[string]string) *cluster {
	t.Helper()
	c := &cluster{dir: harness.Dir(t), env: repo.env, repo: repo}
	c.config = filepath.Join(c.dir, "pgkeep.yaml")
	writeFile(t, c.config, "cluster: e2e\nlog-level: info\n"+repo.yaml)
	all := map[string]string{"wal_keep_size": "'1GB'", "max_wal_size": "'1GB'"}
	for k, v := range conf {
		all[k] = v
	}
	c.pg = harness.StartPostgres(t, harness.PGOptions{Conf: all, Env: repo.env})
	c.must(t, "create", "--pg-host", c.pg.Host, "--pg-port", fmt.Sprint(c.pg.Port))
	return c
}

// startServer starts pgkeep server for c with the extra YAML (a server:
// section and whatever else) appended to c's configuration, and waits
// until it answers /status.
func startServer(t *testing.T, c *cluster, name, extra string) *serverProc {
	t.Helper()
	dir := harness.Dir(t)
	base, err := os.ReadFile(c.config)
	if err != nil {
		t.Fatal(err)
	}
	port := harness.FreePort(t)
	s := &serverProc{
		env:    c.env,
		name:   name,
		url:    fmt.Sprintf("http://127.0.0.1:%d", port),
		config: filepath.Join(dir, "server.yaml"),
		proc:   proc{log: filepath.Join(dir, "server.log")},
		spool:  filepath.Join(dir, "spool"),
	}
	yaml := string(base) + extra
	if !strings.Contains(extra, "server:") {
		yaml += "server:\n"
	}
	yaml = strings.Replace(yaml, "server:\n", fmt.Sprintf("server:\n  name: %s\n  listen: 127.0.0.1:%d\n  spool-path: %s\n",
		name, port, s.spool), 1)
	writeFile(t, s.config, yaml)
	s.start(t)
	t.Cleanup(s.kill)
	harness.Wait(t, 30*time.Second, "pgkeep server "+name+" to answer /status", func() (bool, error) {
		select {
		case <-s.exited:
			return false, fmt.Errorf("server exited: %v\n%s", s.err, s.logTail())
		default:
		}
		resp, err := http.Get(s.url + "/status")
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	return s
}

// start runs the server process, its log appended to s.log.
func (s *serverProc) start(t *testing.T) {
	t.Helper()
	s.proc.start(t, t.Context(), s.env, "--config", s.config, "server")
}

// stop sends SIGTERM and checks that the server exits 0 within 30 s.
func (s *serverProc) stop(t *testing.T) {
	t.Helper()
	if !s.terminate(30 * time.Second) {
		t.Fatalf("server %s did not stop on SIGTERM\n%s", s.name, s.logTail())
	}
	if s.err != nil {
		t.Fatalf("server %s exited with %v after SIGTERM\n%s", s.name, s.err, s.logTail())
	}
}

// restart starts the process again with the same configuration.
func (s *serverProc) restart(t *testing.T) {
	t.Helper()
	s.start(t)
}

// status fetches /status.
func (s *serverProc) status(t *testing.T) (reposerver.Status, error) {
	t.Helper()
	var st reposerver.Status
	resp, err := http.Get(s.url + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	err = json.NewDecoder(resp.Body).Decode(&st)
	return st, err
}

// metrics fetches /metrics.
func (s *serverProc) metrics(t *testing.T) string {
	t.Helper()
	resp, err := http.Get(s.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// logTail is the end of the server's log.
func (s *serverProc) logTail() string { return tailFile(s.log, 40) }

// waitArchived waits until the server's stream has archived WAL up to the
// server's current flush position.
func (s *serverProc) waitArchived(t *testing.T, c *cluster, within time.Duration) {
	t.Helper()
	target, err := pg.ParseLSN(c.pg.QueryString(t, "SELECT pg_current_wal_flush_lsn()"))
	if err != nil {
		t.Fatal(err)
	}
	var last any
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		st, err := s.status(t)
		last = err
		if err == nil && st.Stream != nil {
			last = *st.Stream
			if st.Stream.Archived >= target {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the stream did not archive up to %s within %s; last status: %+v\nserver log:\n%s", target, within, last, s.logTail())
}

// waitReceiver waits until p lists pgkeep's WAL receiver in
// pg_stat_replication; what names the wait in the failure message.
func waitReceiver(t *testing.T, p *harness.Postgres, timeout time.Duration, what string) {
	t.Helper()
	harness.Wait(t, timeout, what, func() (bool, error) {
		v, err := p.TryQueryString(t.Context(), "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pgkeep'")
		return v == "1", err
	})
}
