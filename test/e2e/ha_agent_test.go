package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/harness"
)

// agent is one `pgkeep ha` process of a test beside its PostgreSQL: the
// part every multi-process cluster setup (bridgedCluster, haCluster, the
// lifecycle members) shares.
type agent struct {
	name   string
	pg     *harness.Postgres
	dir    string // the member's own directory
	port   int    // of the REST API, on 127.0.0.1
	api    string // http://127.0.0.1:PORT
	config string // the configuration file; its writer is the setup
	proc
}

// newAgent reserves a directory and a loopback API port for member name;
// the caller writes its configuration to config and sets pg.
func newAgent(t *testing.T, name string) agent {
	t.Helper()
	dir := harness.Dir(t)
	port := harness.FreePort(t)
	return agent{name: name, dir: dir, port: port, api: fmt.Sprintf("http://127.0.0.1:%d", port),
		config: filepath.Join(dir, "pgkeep.yaml"), proc: proc{log: filepath.Join(dir, "ha.log")}}
}

// start runs the agent as the PostgreSQL OS user (pg_ctl refuses root),
// env added to its environment, its output appended to its log; the end of
// ctx kills it.
func (a *agent) start(t *testing.T, ctx context.Context, env []string) {
	t.Helper()
	a.proc.start(t, ctx, env, "--config", a.config, "ha")
}

// stop ends the agent with SIGTERM (it stops a primary and gives up the
// leader key), or SIGKILL after timeout, which fails the test.
func (a *agent) stop(t *testing.T, timeout time.Duration) {
	if !a.terminate(timeout) {
		t.Errorf("agent %s did not stop on SIGTERM\n%s", a.name, a.logTail())
	}
}

// check returns the status code of a REST check asked the way HAProxy asks
// (OPTIONS), 0 when the agent does not answer.
func (a *agent) check(path string) int {
	req, _ := http.NewRequest(http.MethodOptions, a.api+path, nil)
	resp, err := (&http.Client{Timeout: time.Second}).Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitCheck waits until a check answers code; the agent exiting fails the
// test at once.
func (a *agent) waitCheck(t *testing.T, timeout time.Duration, path string, code int) {
	t.Helper()
	harness.Wait(t, timeout, fmt.Sprintf("%s %s to answer %d", a.name, path, code), func() (bool, error) {
		if !a.running() {
			t.Fatalf("agent %s exited: %v\n%s", a.name, a.err, a.logTail())
		}
		got := a.check(path)
		return got == code, fmt.Errorf("%s answers %d", path, got)
	})
}

// logged reports whether the agent logged a message.
func (a *agent) logged(msg string) bool {
	b, _ := os.ReadFile(a.log)
	return strings.Contains(string(b), `"msg":"`+msg+`"`)
}

// logTail is the end of the agent's log.
func (a *agent) logTail() string { return tailFile(a.log, 30) }
