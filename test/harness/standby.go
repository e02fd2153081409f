package harness

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// StartStandby clones primary with pg_basebackup -R (streaming, fast
// checkpoint) and starts the copy with conf as a streaming standby; it
// returns once the standby streams.
func StartStandby(t testing.TB, primary *Postgres, conf map[string]string) *Postgres {
	t.Helper()
	dir := filepath.Join(Dir(t), "data")
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	out, err := PGCommand(ctx, PGBin("pg_basebackup"), "-D", dir, "-R", "-X", "stream",
		"-c", "fast", "--no-sync", "-h", primary.Host, "-p", strconv.Itoa(primary.Port), "-U", "postgres").CombinedOutput()
	if err != nil {
		t.Fatalf("pg_basebackup: %v\n%s", err, out)
	}
	standby := StartPostgres(t, PGOptions{NoInitdb: true, DataDir: dir, Conf: conf, Env: primary.Env})
	Wait(t, 30*time.Second, "the standby to stream", func() (bool, error) {
		v, err := standby.TryQueryString(t.Context(), "SELECT status FROM pg_stat_wal_receiver")
		return v == "streaming", err
	})
	return standby
}
