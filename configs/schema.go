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
	// Retention is what expire keeps, from the command line or after each scheduled backup.
	Retention Retention `yaml:"retention"`
	Server    Server    `yaml:"server"`
	HA        HA        `yaml:"ha"`
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
	// ServerTokenFile holds the bearer token sent to the repository API.
	ServerTokenFile string `yaml:"server-token-file" usage:"server: file holding the bearer token for the repository API"`
	// ServerToken is from PGKEEP_REPO_SERVER_TOKEN, else ServerTokenFile.
	ServerToken    Secret `yaml:"server-token"`
	ServerCAFile   string `yaml:"server-ca-file" usage:"server: CA certificate (PEM) that signed the repository API's certificate"`
	ServerCertFile string `yaml:"server-cert-file" usage:"server: client certificate (PEM) for the repository API"`
	ServerKeyFile  string `yaml:"server-key-file" usage:"server: private key (PEM) of the client certificate"`
	Azure          Azure  `yaml:"azure"`
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
	// Parameters are the user's postgresql.conf settings that pgkeep ha writes (the
	// replication settings it manages itself are refused here).
	Parameters map[string]string `yaml:"parameters" usage:"ha: postgresql.conf settings of the member (name=value)"`
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
	// Async makes archive-push return once the file is in the local spool, where a
	// background process uploads spooled files in parallel batches; and it makes
	// archive-get hand out segments that a background process prefetched.
	Async bool `yaml:"async" usage:"archive-push returns once the WAL file is in the local spool and a background process uploads it; archive-get prefetches the next segments"`
	// SpoolPath is the async spool directory (on the database host, outside PGDATA).
	SpoolPath string `yaml:"spool-path" usage:"async archive-push and archive-get: the local spool directory"`
	// GetQueueMaxMB is how much WAL async archive-get fetches ahead of recovery.
	GetQueueMaxMB int `yaml:"get-queue-max-mb" usage:"async archive-get: MB of WAL segments to prefetch ahead of recovery (0: no prefetch)"`
	// QueueMaxMB is how much WAL the async spool may hold before archive-push fails.
	QueueMaxMB int `yaml:"queue-max-mb" usage:"async archive-push: fail the push when the spool holds this many MB (0: no limit)"`
	// ProcessMax is the number of parallel uploads of the async uploader, and of
	// parallel downloads of the async archive-get.
	ProcessMax int `yaml:"process-max" usage:"async archive-push and archive-get: parallel uploads and downloads"`
}

// Retention says which backups expire keeps. Zero means no rule of that kind.
type Retention struct {
	Full int `yaml:"full" usage:"keep the newest N full backups (and their diff/incr backups)"`
	Diff int `yaml:"diff" usage:"keep the newest N diff backups (and their incr backups)"`
	Days int `yaml:"days" usage:"keep every backup needed to restore to any time in the last D days"`
}

// Server configures the repository daemon, pgkeep server.
type Server struct {
	// Name identifies this server among the cluster's servers (default: the host name).
	Name string `yaml:"name" usage:"server: this server's name among the cluster's servers (default: host name)"`
	// Listen is the repository API's address; empty turns the API off.
	Listen       string `yaml:"listen" usage:"server: address of the repository API, /status and /metrics (empty: off)"`
	TLSCertFile  string `yaml:"tls-cert-file" usage:"server: TLS certificate (PEM) of the API; without it the API speaks plain HTTP"`
	TLSKeyFile   string `yaml:"tls-key-file" usage:"server: TLS private key (PEM) of the API"`
	ClientCAFile string `yaml:"client-ca-file" usage:"server: CA (PEM) whose client certificates the API accepts"`
	TokenFile    string `yaml:"token-file" usage:"server: file holding the bearer token the API accepts"`
	// Token is from PGKEEP_SERVER_TOKEN, else TokenFile.
	Token Secret `yaml:"token"`
	// SpoolPath is the streaming receiver's spool.
	SpoolPath string `yaml:"spool-path" usage:"server: the WAL receiver's local spool directory"`
	// Stream turns the streaming receiver on.
	Stream          bool   `yaml:"stream" usage:"server: stream WAL from the leader over a replication connection"`
	Slot            string `yaml:"slot" usage:"server: physical replication slot of the receiver"`
	ApplicationName string `yaml:"application-name" usage:"server: application_name of the receiver (for synchronous_standby_names)"`
	Synchronous     bool   `yaml:"synchronous" usage:"server: fsync each batch of WAL and report it flushed at once (synchronous standby)"`
	// SynchronousStrict reports WAL flushed only once in the repository.
	SynchronousStrict bool          `yaml:"synchronous-strict" usage:"server: with synchronous, report WAL flushed only once it is in the repository"`
	PartialInterval   time.Duration `yaml:"partial-interval" usage:"server: how often the unfinished segment is uploaded as .partial"`
	// LeaseTTL is the etcd lease that makes one server of a cluster active.
	LeaseTTL time.Duration `yaml:"lease-ttl" usage:"server: etcd lease TTL of the active server; a standby takes over within it"`
	Schedule Schedule      `yaml:"schedule"`
}

// HA configures the failover agent of one member, pgkeep ha.
type HA struct {
	// Name is the member's name in etcd (default: the host name); unique in the cluster.
	Name string `yaml:"name" usage:"ha: this member's name (default: host name)"`
	// TTL is the leader lease: a primary that cannot renew it within TTL stops accepting
	// writes, and a replica takes over once it expired.
	TTL          time.Duration `yaml:"ttl" usage:"ha: leader lease TTL"`
	LoopWait     time.Duration `yaml:"loop-wait" usage:"ha: time between two runs of the HA loop"`
	RetryTimeout time.Duration `yaml:"retry-timeout" usage:"ha: how long etcd and PostgreSQL calls are retried"`
	// MaximumLagOnFailoverMB excludes replicas further behind than this from elections.
	MaximumLagOnFailoverMB int  `yaml:"maximum-lag-on-failover-mb" usage:"ha: a replica further behind (MB) never becomes primary"`
	SynchronousMode        bool `yaml:"synchronous-mode" usage:"ha: one replica is synchronous; only it may take over"`
	SynchronousModeStrict  bool `yaml:"synchronous-mode-strict" usage:"ha: with no synchronous replica, writes wait rather than run unprotected"`
	NoFailover             bool `yaml:"nofailover" usage:"ha: this member never becomes primary"`
	FailoverPriority       int  `yaml:"failover-priority" usage:"ha: among equally advanced replicas, the higher wins"`
	// Listen is the member's REST API (health checks for HAProxy, ctl).
	Listen string `yaml:"listen" usage:"ha: address of the member's REST API"`
	// ConnectAddress is the host:port others reach the REST API at (default: listen).
	ConnectAddress string `yaml:"connect-address" usage:"ha: host:port of the REST API as others reach it (default: listen)"`
	// PGConnectAddress is the host:port others reach PostgreSQL at (default: pg.host:pg.port).
	PGConnectAddress string `yaml:"pg-connect-address" usage:"ha: host:port of PostgreSQL as others reach it (default: pg.host:pg.port)"`
	TLSCertFile      string `yaml:"tls-cert-file" usage:"ha: TLS certificate (PEM) of the REST API"`
	TLSKeyFile       string `yaml:"tls-key-file" usage:"ha: TLS private key (PEM) of the REST API"`
	ClientCAFile     string `yaml:"client-ca-file" usage:"ha: CA (PEM) whose client certificates may make mutating REST calls"`
	CAFile           string `yaml:"ca-file" usage:"ha: CA (PEM) of the members' REST API certificates, for the agents and ctl (default: the system's)"`
	TokenFile        string `yaml:"token-file" usage:"ha: file holding the bearer token that mutating REST calls and ctl need (without it: loopback only)"`
	// Token is from PGKEEP_HA_TOKEN, else TokenFile.
	Token Secret `yaml:"token"`
	// ReplicaMethod is how a new replica gets its data: backup (the newest backup in the
	// repository, then streaming) or basebackup (pg_basebackup from the leader).
	ReplicaMethod string `yaml:"replica-method" usage:"ha: how replicas are created: backup|basebackup"`
	// StallTimeout: a replica behind the leader that neither streams nor replays
	// anything for this long (its WAL is gone from the leader and the archive) is
	// re-cloned like a failed rewind.
	StallTimeout time.Duration `yaml:"stall-timeout" usage:"ha: a replica stuck behind the leader this long is re-cloned"`
	// PermanentSlots are physical slots kept on every member (the repository server's).
	PermanentSlots []string  `yaml:"permanent-slots" usage:"ha: physical replication slots kept on every member"`
	Bootstrap      Bootstrap `yaml:"bootstrap"`
}

// Bootstrap says how the first member creates a new cluster.
type Bootstrap struct {
	// Method is initdb, or backup: restore a backup set of another cluster (repository
	// and source cluster as configured in repo: and bootstrap.cluster).
	Method     string `yaml:"method" usage:"ha: how a new cluster starts: initdb|backup"`
	Cluster    string `yaml:"cluster" usage:"ha: backup bootstrap: the cluster whose backup is restored (default: cluster)"`
	Set        string `yaml:"set" usage:"ha: backup bootstrap: the backup label, or latest"`
	TargetTime string `yaml:"target-time" usage:"ha: backup bootstrap: recover to this time (empty: the end of the archive)"`
}

// Schedule holds cron expressions (minute hour day-of-month month day-of-week); empty: never.
type Schedule struct {
	Full   string `yaml:"full" usage:"server: cron schedule of full backups"`
	Diff   string `yaml:"diff" usage:"server: cron schedule of diff backups"`
	Incr   string `yaml:"incr" usage:"server: cron schedule of incr backups"`
	Verify string `yaml:"verify" usage:"server: cron schedule of verify"`
}

// Backup configures base backups.
type Backup struct {
	// Standby takes backups from a healthy streaming replica instead of the leader.
	Standby bool `yaml:"standby" usage:"take the backup from a healthy streaming replica instead of the leader"`
	// ConfigFiles are files outside PGDATA (e.g. Debian's /etc/postgresql/15/main/*.conf) stored with each backup.
	ConfigFiles []string `yaml:"config-files" usage:"files outside PGDATA to store with each backup (absolute paths on the database host)"`
	// Workers is the number of parallel hash/compress/upload workers of a
	// backup, and of download/write workers of a restore; 0 means one per
	// core for backup and three per core for restore.
	Workers int `yaml:"workers" usage:"parallel workers for backup and restore (0: one per core for backup, three for restore)"`
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
		Archive: Archive{Timeout: 60 * time.Second, ProcessMax: 2, GetQueueMaxMB: 128},
		HA: HA{
			TTL:                    3 * time.Second,
			LoopWait:               time.Second,
			RetryTimeout:           2 * time.Second,
			MaximumLagOnFailoverMB: 1,
			Listen:                 "127.0.0.1:8008",
			ReplicaMethod:          "backup",
			StallTimeout:           time.Minute,
			Bootstrap:              Bootstrap{Method: "initdb", Set: "latest"},
		},
		Server: Server{
			Listen:          "127.0.0.1:8432",
			SpoolPath:       "/var/lib/pgkeep/spool",
			Stream:          true,
			Slot:            "pgkeep",
			ApplicationName: "pgkeep",
			PartialInterval: 10 * time.Second,
			LeaseTTL:        15 * time.Second,
		},
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
