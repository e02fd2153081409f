package harness

import (
	"os/exec"
	"testing"
)

// RequireProgram returns the path of a program the test needs: path if it
// is executable there, else name found in PATH. When it is missing the
// test is skipped, or failed under CI (see [Require]) with hint.
func RequireProgram(t testing.TB, path, name, hint string) string {
	t.Helper()
	if p, err := exec.LookPath(path); err == nil {
		return p
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	Require(t, "the program "+name, hint)
	return ""
}

// RequireHAProxy returns the path of Debian's HAProxy (/usr/sbin/haproxy).
func RequireHAProxy(t testing.TB) string {
	t.Helper()
	return RequireProgram(t, "/usr/sbin/haproxy", "haproxy", "install haproxy (apt-get install haproxy, or scripts/install-deps.sh)")
}
