// Package azurite starts the Azurite blob storage emulator for tests.
//
// Azurite is installed by `make test` (npm install azurite@3 into
// <module root>/.tools); PGKEEP_TEST_AZURITE overrides the path of azurite-blob.
// Without it tests skip, except under CI where they fail.
package azurite

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Well-known development account of the emulator (Azurite README, "Default
// Storage Account"). It is public and only ever valid against an emulator.
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// startTimeout bounds the wait for the emulator to accept connections;
// stopGrace the wait for it to exit on SIGTERM.
const (
	startTimeout = 30 * time.Second
	stopGrace    = 5 * time.Second
)

// installHint tells how to install the emulator.
const installHint = "azurite not installed: run `make test` (npm install azurite@3 into .tools)"

// Azurite is a running emulator, stopped when the test ends.
type Azurite struct {
	// Endpoint is the blob service URL, http://127.0.0.1:PORT/devstoreaccount1.
	Endpoint string
	// Account and Key are the emulator's development account.
	Account, Key string
	// ConnectionString addresses the blob service with the shared key.
	ConnectionString string
}

// Start runs azurite-blob on a free loopback port with its data in a
// temporary directory, waits until it accepts connections and stops it (with
// its process group) at cleanup.
func Start(t testing.TB) *Azurite {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if ci := os.Getenv("CI"); ci != "" && ci != "false" {
			t.Fatalf("%s (%v)", installHint, err)
		}
		t.Skipf("%s (%v)", installHint, err)
	}
	dir := t.TempDir()
	port := 0
	for attempt := 1; ; attempt++ {
		if port, err = freePort(); err != nil {
			t.Fatalf("azurite: %v", err)
		}
		retry, err := start(t, bin, dir, port)
		if err == nil {
			break
		}
		if !retry || attempt == 3 { // on retry another process may have taken the port
			t.Fatalf("azurite: %v", err)
		}
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d/%s", port, Account)
	return &Azurite{
		Endpoint: endpoint,
		Account:  Account,
		Key:      Key,
		ConnectionString: fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;",
			Account, Key, endpoint),
	}
}

// binary returns the path of azurite-blob.
func binary() (string, error) {
	bin := os.Getenv("PGKEEP_TEST_AZURITE")
	if bin == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", err
		}
		bin = filepath.Join(root, ".tools", "node_modules", ".bin", "azurite-blob")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", err
	}
	return bin, nil
}

// moduleRoot walks up from the working directory to the directory of go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// start runs the emulator on port and waits until it answers HTTP there. On
// success it registers the cleanup that stops it. retry reports an early
// exit, as when another process took the port.
func start(t testing.TB, bin, dir string, port int) (retry bool, err error) {
	cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
		"--location", dir, "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry")
	cmd.Env = withoutEnv(os.Environ(), "AZURITE_ACCOUNTS") // keep the default account
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return false, fmt.Errorf("start %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() { stopGroup(cmd, exited) }

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(startTimeout)
	for !answers(addr) {
		select {
		case <-exited:
			return true, fmt.Errorf("exited before serving on %s: %v; output:\n%s", addr, waitErr, out)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return false, fmt.Errorf("not serving on %s after %s; output:\n%s", addr, startTimeout, out)
		}
	}
	t.Cleanup(stop)
	return false, nil
}

// answers reports whether Azurite serves HTTP on addr: it accepts the
// connection and names itself in the Server header (so a stranger that took
// the port does not pass).
func answers(addr string) bool {
	client := &http.Client{Timeout: time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return strings.HasPrefix(resp.Header.Get("Server"), "Azurite")
}

// stopGroup ends the emulator's process group: SIGTERM, then SIGKILL when it
// has not exited within stopGrace.
func stopGroup(cmd *exec.Cmd, exited <-chan struct{}) {
	signalGroup(cmd, false)
	select {
	case <-exited:
		return
	case <-time.After(stopGrace):
	}
	signalGroup(cmd, true)
	<-exited
}

// withoutEnv returns env without the variable name.
func withoutEnv(env []string, name string) []string {
	kept := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			kept = append(kept, kv)
		}
	}
	return kept
}

// syncBuffer collects the emulator's output from its two pipes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
