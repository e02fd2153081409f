package harness

import (
	"os"
	"testing"
	"time"
)

// pollInterval is how often [Wait] re-evaluates its condition.
const pollInterval = 20 * time.Millisecond

// inCI reports whether the tests run under CI, where nothing may be skipped.
func inCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false"
}

// Require reports that the test cannot run because what is missing. Under CI
// (env CI set and not "false") it fails the test, because a skipped test is an
// untested feature; elsewhere it skips. hint says how to install what.
func Require(t testing.TB, what, hint string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s is required but missing (CI=%s, so not skipping); install: %s", what, os.Getenv("CI"), hint)
	}
	t.Skipf("skipping: %s is missing; install: %s", what, hint)
}

// Wait polls cond every 20 ms until it returns true, and fails the test if
// that does not happen within timeout. An error from cond does not end the
// wait (the condition may simply not hold yet, e.g. connection refused); the
// last one is reported on timeout together with what, which should say what
// was awaited ("standby to replay 0/3000060").
func Wait(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				t.Fatalf("timed out after %s waiting for %s; last error: %v", timeout, what, lastErr)
			}
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(pollInterval)
	}
}
