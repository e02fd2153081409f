package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A database node with --repo-type server archives and restores WAL
// through pgkeep server's repository API with a bearer token; no token or
// a wrong one is refused and stores nothing.
func TestServerRepositoryAPI(t *testing.T) {
	c := streamingCluster(t, posixRepo(t), nil)
	tokenFile := filepath.Join(c.dir, "api-token")
	writeFile(t, tokenFile, "s3cret-token-for-e2e\n")
	s := startServer(t, c, "api", "server:\n  stream: false\n  token-file: "+tokenFile+"\n")

	node := func(name, extra string) string {
		path := filepath.Join(c.dir, name)
		writeFile(t, path, fmt.Sprintf("cluster: e2e\nrepo:\n  type: server\n  server: %s\n%s", s.url, extra))
		return path
	}
	good := node("node.yaml", "  server-token-file: "+tokenFile+"\n")
	wrongFile := filepath.Join(c.dir, "wrong-token")
	writeFile(t, wrongFile, "not-the-token\n")
	wrong := node("wrong.yaml", "  server-token-file: "+wrongFile+"\n")
	none := node("none.yaml", "")

	segs := make([]string, 3)
	for i := range segs {
		c.pg.Exec(t, fmt.Sprintf("CREATE TABLE api_%d AS SELECT generate_series(1, 1000) AS id", i))
		segs[i] = c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal())")
	}

	mustPgkeep(t, nil, "--config", good, "archive-push", c.walPath(segs[0]))
	if _, err := os.Stat(objectPath(c, segs[0])); err != nil {
		t.Fatalf("push through the API stored nothing: %v", err)
	}
	dest := filepath.Join(c.dir, "got")
	mustPgkeep(t, nil, "--config", good, "archive-get", segs[0], dest)
	want, _ := os.ReadFile(c.walPath(segs[0]))
	if got, err := os.ReadFile(dest); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("archive-get through the API: %d bytes, %v; want pg_wal's %d", len(got), err, len(want))
	}
	if r := pgkeep(t, nil, "--config", good, "archive-get", segs[2], dest+"2"); r.code != 1 {
		t.Fatalf("archive-get of an unarchived segment through the API: %s, want exit 1", r)
	}

	for name, cfg := range map[string]string{"wrong token": wrong, "no token": none} {
		r := pgkeep(t, nil, "--config", cfg, "archive-push", c.walPath(segs[1]))
		if r.code < 3 || !strings.Contains(r.stderr, "token") {
			t.Errorf("%s: archive-push %s, want a refusal (exit 3+)", name, r)
		}
		if _, err := os.Stat(objectPath(c, segs[1])); err == nil {
			t.Fatalf("%s: the refused push stored %s", name, segs[1])
		}
		// A refused archive-get is an error, never "not in the archive".
		if r := pgkeep(t, nil, "--config", cfg, "archive-get", segs[0], dest+"3"); r.code < 3 {
			t.Errorf("%s: archive-get %s, want exit 3+ (not 1: recovery would end early)", name, r)
		}
	}
	s.stop(t)
}
