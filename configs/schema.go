// Package configs is pgkeep's configuration: the typed schema, loading it from defaults, a YAML
// file, PGKEEP_* environment variables and command-line flags (in that order, later wins), and
// validation whose errors are one line naming the setting.
//
// Every setting has one key, the path of yaml names ("repo.azure.account"), from which its
// environment variable (PGKEEP_REPO_AZURE_ACCOUNT) and flag (--repo-azure-account) are derived.
// Secrets are never read from the file or from flags: only from PGKEEP_* environment variables or
// from the file named by their *-file setting.
package configs

import (
	"strings"
	"time"
)

// Config is the whole configuration of one pgkeep process.
type Config struct {
	Cluster  string  `yaml:"cluster" usage:"cluster name (Patroni scope, pgBackRest stanza)"`
	LogLevel string  `yaml:"log-level" usage:"log level: debug|info|warn|error"`
	Output   string  `yaml:"output" usage:"output format: text|json"`
	Repo     Repo    `yaml:"repo"`
	PG       PG      `yaml:"pg"`
	Etcd     Etcd    `yaml:"etcd"`
	Archive  Archive `yaml:"archive"`
	Backup   Backup  `yaml:"backup"`
}

// Repo selects and configures the repository that holds backups and WAL.
type Repo struct {
	Type           string `yaml:"type" usage:"repository type: posix|azure|server"`
	Path           string `yaml:"path" usage:"posix: the repository's root directory"`
	CompressType   string `yaml:"compress-type" usage:"compression: zstd|s2|gzip|none"`
	CompressLevel  int    `yaml:"compress-level" usage:"compression level (0: the type's default; zstd 1-19, gzip 1-9, s2 1-3)"`
	CipherPassFile string `yaml:"cipher-pass-file" usage:"file holding the passphrase that encrypts a new repository"`
	// CipherPass is the encryption passphrase: from PGKEEP_REPO_CIPHER_PASS, else CipherPassFile.
	CipherPass Secret `yaml:"cipher-pass"`
	Server     string `yaml:"server" usage:"server: URL of a pgkeep server repository API"`
	Azure      Azure  `yaml:"azure"`
}

// Azure configures an Azure Blob Storage repository. Without a key, SAS or connection string,
// Azure's default credential chain is used.
type Azure struct {
	Account   string `yaml:"account" usage:"azure: storage account name"`
	Container string `yaml:"container" usage:"azure: blob container name"`
	Endpoint  string `yaml:"endpoint" usage:"azure: custom endpoint URL (e.g. Azurite)"`
	KeyFile   string `yaml:"key-file" usage:"azure: file holding the shared key"`
	// Key is the shared key: from PGKEEP_REPO_AZURE_KEY, else KeyFile.
	Key     Secret `yaml:"key"`
	SASFile string `yaml:"sas-file" usage:"azure: file holding a SAS token"`
	// SAS is a shared access signature: from PGKEEP_REPO_AZURE_SAS, else SASFile.
	SAS                  Secret `yaml:"sas"`
	ConnectionStringFile string `yaml:"connection-string-file" usage:"azure: file holding a connection string"`
	// ConnectionString is from PGKEEP_REPO_AZURE_CONNECTION_STRING, else ConnectionStringFile.
	ConnectionString Secret `yaml:"connection-string"`
}

// PG says where the PostgreSQL server of this node is and how to reach it.
type PG struct {
	Data     string `yaml:"data" usage:"PostgreSQL data directory (PGDATA)"`
	Host     string `yaml:"host" usage:"PostgreSQL host or socket directory (empty: libpq's default)"`
	Port     int    `yaml:"port" usage:"PostgreSQL port"`
	User     string `yaml:"user" usage:"PostgreSQL user"`
	Database string `yaml:"database" usage:"PostgreSQL database to connect to"`
	Bin      string `yaml:"bin" usage:"directory of the PostgreSQL programs (initdb, pg_ctl, pg_rewind)"`
}

// Etcd says where the DCS is, for leader discovery and the failover agents.
type Etcd struct {
	Endpoints []string `yaml:"endpoints" usage:"etcd endpoints, comma-separated URLs"`
	// Namespace is the key prefix, "/service" by default, without a trailing slash.
	Namespace string `yaml:"namespace" usage:"etcd key namespace (Patroni's namespace)"`
}

// Archive configures WAL archiving.
type Archive struct {
	// Timeout is how long check and backup wait for a WAL segment to arrive in the repository.
	Timeout time.Duration `yaml:"timeout" usage:"how long check and backup wait for WAL to arrive"`
}

// Backup configures base backups.
type Backup struct {
	// Standby takes backups from a healthy streaming replica instead of the leader.
	Standby bool `yaml:"standby" usage:"take the backup from a healthy streaming replica instead of the leader"`
	// ConfigFiles are files outside PGDATA (e.g. Debian's /etc/postgresql/15/main/*.conf) stored with each backup.
	ConfigFiles []string `yaml:"config-files" usage:"files outside PGDATA to store with each backup (absolute paths on the database host)"`
	// Workers is the number of parallel hash/compress/upload workers; 0 means one per core.
	Workers int `yaml:"workers" usage:"parallel workers for backup and restore (0: one per core)"`
}

// Values of Repo.Type.
const (
	RepoPosix  = "posix"
	RepoAzure  = "azure"
	RepoServer = "server"
)

// Values of Repo.CompressType.
const (
	CompressZstd = "zstd"
	CompressS2   = "s2"
	CompressGzip = "gzip"
	CompressNone = "none"
)

// levelRange is the valid compression levels of one compression type and the level used when
// none is set.
type levelRange struct{ min, max, def int }

// compressLevels holds every compression type but none, which takes no level.
var compressLevels = map[string]levelRange{
	CompressZstd: {1, 19, 3},
	CompressGzip: {1, 9, 6},
	CompressS2:   {1, 3, 1},
}

// Defaults returns the configuration used where neither file, environment nor flags say otherwise.
func Defaults() *Config {
	return &Config{
		LogLevel: "info",
		Output:   "text",
		Repo:     Repo{Type: RepoPosix, CompressType: CompressZstd},
		PG: PG{
			Port:     5432,
			User:     "postgres",
			Database: "postgres",
			Bin:      "/usr/lib/postgresql/15/bin",
		},
		Etcd:    Etcd{Namespace: "/service"},
		Archive: Archive{Timeout: 60 * time.Second},
	}
}

// complete fills in what depends on other settings: the compression type's default level, and
// the etcd namespace without a trailing slash (Patroni writes "/service/").
func (c *Config) complete() {
	if r, ok := compressLevels[c.Repo.CompressType]; ok && c.Repo.CompressLevel == 0 {
		c.Repo.CompressLevel = r.def
	}
	if ns := strings.TrimRight(c.Etcd.Namespace, "/"); ns != "" {
		c.Etcd.Namespace = ns
	}
}
