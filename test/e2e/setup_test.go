package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pgkeep/pgkeep/test/azurite"
	"github.com/pgkeep/pgkeep/test/harness"
)

// repoSetup is one repository configuration: YAML for the repo: section
// plus the environment that carries its secrets.
type repoSetup struct {
	name string
	yaml string
	env  []string
	path string // posix: the repository directory
}

func posixRepo(t *testing.T) repoSetup {
	dir := filepath.Join(harness.Dir(t), "repo")
	return repoSetup{name: "posix", yaml: fmt.Sprintf("repo:\n  type: posix\n  path: %s\n", dir), path: dir}
}

var containerSeq int

func azureRepo(t *testing.T, az *azurite.Azurite) repoSetup {
	containerSeq++
	container := fmt.Sprintf("pgkeep-e2e-%d-%d", os.Getpid(), containerSeq)
	return repoSetup{
		name: "azure",
		yaml: fmt.Sprintf("repo:\n  type: azure\n  azure:\n    account: %s\n    container: %s\n    endpoint: %s\n",
			az.Account, container, az.Endpoint),
		env: []string{"PGKEEP_REPO_AZURE_KEY=" + az.Key},
	}
}

// cluster is a PostgreSQL server archiving into a repository with pgkeep.
type cluster struct {
	pg     *harness.Postgres
	dir    string
	config string // path of pgkeep.yaml
	env    []string
	repo   repoSetup
}

// run runs pgkeep with this cluster's config.
func (c *cluster) run(t *testing.T, args ...string) result {
	t.Helper()
	return pgkeep(t, c.env, append([]string{"--config", c.config}, args...)...)
}

func (c *cluster) must(t *testing.T, args ...string) result {
	t.Helper()
	return mustPgkeep(t, c.env, append([]string{"--config", c.config}, args...)...)
}

// startArchiving starts a server whose archive_command is pgkeep
// archive-push into repo, and registers the cluster with pgkeep create.
// WAL is kept in pg_wal (wal_keep_size) so tests can compare.
func startArchiving(t *testing.T, repo repoSetup, initdbArgs ...string) *cluster {
	t.Helper()
	return startArchivingWith(t, pgkeepBin, repo, initdbArgs...)
}

// startArchivingWith is startArchiving with bin as the archive_command.
func startArchivingWith(t *testing.T, bin string, repo repoSetup, initdbArgs ...string) *cluster {
	t.Helper()
	c := &cluster{dir: harness.Dir(t), env: repo.env, repo: repo}
	c.config = filepath.Join(c.dir, "pgkeep.yaml")
	writeFile(t, c.config, "cluster: e2e\nlog-level: info\n"+repo.yaml)
	c.pg = harness.StartPostgres(t, harness.PGOptions{Conf: c.archivingConf(bin), Env: repo.env, InitdbArgs: initdbArgs})
	c.must(t, "create", "--pg-host", c.pg.Host, "--pg-port", fmt.Sprint(c.pg.Port))
	return c
}

// archivingConf is the configuration of a server archiving with bin into
// the cluster's repository.
func (c *cluster) archivingConf(bin string) map[string]string {
	return map[string]string{
		"archive_mode":    "on",
		"archive_command": fmt.Sprintf("'%s --config %s archive-push %%p'", bin, c.config),
		"wal_keep_size":   "'4GB'",
		"max_wal_size":    "'4GB'",
	}
}

// switchAndWait switches WAL and waits until the archiver reports the
// finished segment archived; it returns that segment's name.
func (c *cluster) switchAndWait(t *testing.T) string {
	t.Helper()
	seg := c.pg.QueryString(t, "SELECT pg_walfile_name(pg_switch_wal()) FROM pg_create_restore_point('e2e')")
	harness.Wait(t, 2*time.Minute, "archiver to report "+seg, func() (bool, error) {
		last, err := c.pg.TryQueryString(context.Background(), "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		return last >= seg, err
	})
	if failed := c.pg.QueryString(t, "SELECT failed_count FROM pg_stat_archiver"); failed != "0" {
		t.Fatalf("archive_command failed %s times; server log:\n%s", failed, c.pg.LogTail(30))
	}
	return seg
}

// walPath is the path of a file in the server's pg_wal.
func (c *cluster) walPath(name string) string { return filepath.Join(c.pg.DataDir, "pg_wal", name) }

// segmentsUpTo lists the segment names of timeline 1 from the first to last.
func segmentsUpTo(t *testing.T, last string) []string {
	t.Helper()
	if !strings.HasPrefix(last, "00000001") {
		t.Fatalf("unexpected timeline in %s", last)
	}
	var names []string
	for i := uint64(1); ; i++ {
		name := fmt.Sprintf("00000001%08X%08X", i/256, i%256)
		names = append(names, name)
		if name == last {
			return names
		}
		if i > 100000 {
			t.Fatalf("never reached %s", last)
		}
	}
}

// infoReport is what the tests read of `pgkeep info --output json`.
type infoReport struct {
	Clusters []struct {
		Name     string `json:"name"`
		SystemID string `json:"system-id"`
		WAL      struct {
			Timelines []struct {
				Timeline uint32 `json:"timeline"`
				Ranges   []struct {
					First string `json:"first"`
					Last  string `json:"last"`
				} `json:"ranges"`
			} `json:"timelines"`
		} `json:"wal"`
		Backups []struct {
			Label    string `json:"label"`
			Type     string `json:"type"`
			Parent   string `json:"parent"`
			Timeline uint32 `json:"timeline"`
		} `json:"backups"`
		RecoveryWindows []struct {
			Timeline uint32 `json:"timeline"`
			EndLSN   string `json:"end-lsn"`
		} `json:"recovery-windows"`
	} `json:"clusters"`
}

// decodeInfo decodes the output of `pgkeep info --output json`.
func decodeInfo(t *testing.T, out string) infoReport {
	t.Helper()
	var rep infoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("info --output json: %v\n%s", err, out)
	}
	return rep
}

// info runs `pgkeep info --output json` with this cluster's config.
func (c *cluster) info(t *testing.T) infoReport {
	t.Helper()
	return decodeInfo(t, c.must(t, "info", "--output", "json").stdout)
}
