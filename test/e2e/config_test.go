package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pgkeep/pgkeep/test/harness"
)

// Configuration errors: exit 2, one line naming the problem, nothing created.
func TestConfigErrors(t *testing.T) {
	dir := harness.Dir(t)
	repoDir := filepath.Join(dir, "repo")
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, content)
		return p
	}
	unreadable := filepath.Join(dir, "root-only.pass")
	if err := os.WriteFile(unreadable, []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want []string
	}{
		{"unknown key", []string{"--config", file("unknown.yaml", "cluster: c\nrepo:\n  path: "+repoDir+"\n  pathh: /x\n"), "info"},
			[]string{`unknown key "repo.pathh"`, "line 4"}},
		{"wrong type", []string{"--config", file("type.yaml", "cluster: c\nrepo:\n  path: "+repoDir+"\n  compress-level: fast\n"), "info"},
			[]string{"repo.compress-level", "integer"}},
		{"missing repository path", []string{"--config", file("nopath.yaml", "cluster: c\n"), "info"},
			[]string{"repo.path", "required"}},
		{"missing pass file", []string{"--cluster", "c", "--repo-path", repoDir, "--repo-cipher-pass-file", filepath.Join(dir, "nope.pass"), "create"},
			[]string{"repo.cipher-pass-file", "no such file"}},
		{"missing config file", []string{"--config", filepath.Join(dir, "absent.yaml"), "info"},
			[]string{"absent.yaml", "no such file"}},
		{"bad flag value", []string{"--cluster", "c", "--repo-path", repoDir, "--pg-port", "x", "info"},
			[]string{"pg-port"}},
		{"unknown flag", []string{"--repo-pth", repoDir, "info"}, []string{"--repo-pth"}},
		{"archive-get without a destination", []string{"--cluster", "c", "--repo-path", repoDir, "archive-get", "000000010000000000000001"},
			[]string{"accepts 2 arg"}},
	}
	if os.Geteuid() == 0 { // pgkeep runs as the postgres user, who cannot read root's 0600 file
		cases = append(cases, struct {
			name string
			args []string
			want []string
		}{"unreadable pass file", []string{"--cluster", "c", "--repo-path", repoDir, "--repo-cipher-pass-file", unreadable, "create"},
			[]string{"repo.cipher-pass-file", "permission denied"}})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := pgkeep(t, nil, tc.args...)
			if r.code != 2 {
				t.Fatalf("want exit 2, got %s", r)
			}
			if strings.Count(r.stderr, "\n") != 1 {
				t.Fatalf("want one line on stderr, got %q", r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Fatalf("stderr %q does not name %q", r.stderr, w)
				}
			}
			if _, err := os.Stat(repoDir); !os.IsNotExist(err) {
				t.Fatalf("a failed command created the repository directory")
			}
		})
	}
}
