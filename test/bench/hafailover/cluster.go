package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// bench holds what all trials share.
type bench struct {
	o     options
	etcd  string // 127.0.0.1:PORT
	ports *ports
	tmpl  string // pgkeep's template data directories (m1, m2, m3), made once
	pg    []int  // the members' PostgreSQL ports, the same in every trial
	api   []int  // the members' REST API ports
}

// member is one member of the trial's cluster.
type member struct {
	name            string
	pgPort, apiPort int
	dir, data, conf string
	agent           *exec.Cmd
	done            chan struct{}
	agentName       string
}

// startAgent starts the member's agent, its output in dir/agent.log.
func (m *member) startAgent(kind, pgbin, pgkeep string) error {
	logf, err := os.OpenFile(filepath.Join(m.dir, "agent.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	if kind == "patroni" {
		m.agent = exec.Command("/usr/bin/patroni", m.conf)
	} else {
		m.agent = exec.Command(pgkeep, "--config", m.conf, "ha")
	}
	m.agent.Env = append(os.Environ(), "HOME="+m.dir)
	m.agent.Stdout, m.agent.Stderr = logf, logf
	if err := m.agent.Start(); err != nil {
		return fmt.Errorf("start %s agent: %w", m.name, err)
	}
	done := make(chan struct{})
	m.done = done
	go func(c *exec.Cmd) { _ = c.Wait(); close(done) }(m.agent)
	return nil
}

func (m *member) agentRunning() bool {
	if m.done == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// stopAgent sends sig and waits (SIGKILL after 30 s).
func (m *member) stopAgent(sig syscall.Signal) {
	if !m.agentRunning() {
		return
	}
	_ = m.agent.Process.Signal(sig)
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		_ = m.agent.Process.Kill()
		<-m.done
	}
}

// check asks the member's REST API with OPTIONS, as HAProxy does: the
// status code, 0 when it does not answer.
func (m *member) check(path string) int {
	req, _ := http.NewRequest(http.MethodOptions, fmt.Sprintf("http://127.0.0.1:%d%s", m.apiPort, path), nil)
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// timeline is the member's timeline from GET /patroni (both agents).
func (m *member) timeline() int {
	resp, err := (&http.Client{Timeout: time.Second}).Get(fmt.Sprintf("http://127.0.0.1:%d/patroni", m.apiPort))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var s struct {
		Timeline int `json:"timeline"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&s)
	return s.Timeline
}

// connect opens a connection to the member's PostgreSQL.
func (m *member) connect(ctx context.Context) (*pgx.Conn, error) {
	return pgx.Connect(ctx, "host=127.0.0.1 port="+strconv.Itoa(m.pgPort)+" user=postgres dbname=postgres sslmode=disable connect_timeout=2")
}

// query runs a one-value query on the member.
func (m *member) query(ctx context.Context, sql string, args ...any) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	c, err := m.connect(ctx)
	if err != nil {
		return "", err
	}
	defer c.Close(context.Background())
	var v string
	err = c.QueryRow(ctx, sql, args...).Scan(&v)
	return v, err
}

// pgctl runs pg_ctl.
func (b *bench) pgctl(args ...string) error {
	out, err := exec.Command(filepath.Join(b.o.pgbin, "pg_ctl"), args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl %v: %w: %s", args, err, out)
	}
	return nil
}

// stopPostgres stops whatever server runs in m.data, at once.
func (b *bench) stopPostgres(m *member) {
	if pid, err := postmasterPID(m.data); err == nil && alive(pid) {
		_ = b.pgctl("-D", m.data, "-m", "immediate", "-w", "stop")
	}
}

// healthy waits until one member answers /primary, the others /replica,
// and the primary streams to both; it returns the primary.
func (b *bench) healthy(ctx context.Context, ms []*member, timeout time.Duration) (*member, error) {
	var primary *member
	err := waitFor(timeout, "a primary with two streaming replicas", func() error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		primary = nil
		replicas := 0
		for _, m := range ms {
			switch {
			case m.check("/primary") == 200:
				primary = m
			case m.check("/replica") == 200:
				replicas++
			}
		}
		if primary == nil || replicas != len(ms)-1 {
			return fmt.Errorf("primary %v, %d replicas", primary != nil, replicas)
		}
		n, err := primary.query(ctx, "SELECT count(*)::text FROM pg_stat_replication WHERE state = 'streaming'")
		if err != nil || n != strconv.Itoa(len(ms)-1) {
			return fmt.Errorf("%s streams to %s (%v)", primary.name, n, err)
		}
		return nil
	})
	return primary, err
}
