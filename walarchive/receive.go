package walarchive

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pgkeep/pgkeep/pg"
	"github.com/pgkeep/pgkeep/repo"
)

// ReceiverOptions configure a Receiver.
type ReceiverOptions struct {
	Repo    *repo.Repo
	Cluster *repo.ClusterInfo
	// Conn is the server to stream from (the leader).
	Conn pg.ConnOptions
	// Slot is the physical replication slot, created if absent; default "pgkeep".
	Slot string
	// SpoolDir is the local spool; it must not be shared with another receiver.
	SpoolDir string
	// PartialInterval is how often the unfinished segment is uploaded as
	// <segment>.partial; default 10 s.
	PartialInterval time.Duration
	// StatusInterval is how often standby status updates are sent; default 1 s.
	StatusInterval time.Duration
	// ApplicationName names the stream in pg_stat_replication and in
	// synchronous_standby_names; default "pgkeep".
	ApplicationName string
	// Synchronous fsyncs every batch of received WAL at once and reports it
	// flushed right away, so that the receiver can serve as a synchronous
	// standby. Otherwise the spool is fsynced once per StatusInterval.
	Synchronous bool
	// Strict (with Synchronous) reports WAL flushed only once it is in the
	// repository, as a segment or a .partial, not when it is in the spool:
	// an acknowledged commit then survives the loss of the database nodes
	// and of this server's disk. Every batch waits for an upload.
	Strict bool
	Log    *slog.Logger
}

// ReceiverStatus is where a Receiver stands.
type ReceiverStatus struct {
	Running  bool   `json:"running"`
	Timeline uint32 `json:"timeline"`
	// Segment is the segment being received ("" before streaming starts).
	Segment string `json:"segment"`
	// Start is where the current run began streaming.
	Start pg.LSN `json:"start"`
	// Received: WAL written to the spool, not yet necessarily fsynced.
	Received   pg.LSN    `json:"received"`
	ReceivedAt time.Time `json:"received-at"`
	// Flushed: WAL durable in the spool; what the server is told is flushed.
	Flushed   pg.LSN    `json:"flushed"`
	FlushedAt time.Time `json:"flushed-at"`
	// Archived: WAL durable in the repository, as a segment or a .partial,
	// on timeline ArchivedTimeline.
	Archived         pg.LSN    `json:"archived"`
	ArchivedTimeline uint32    `json:"archived-timeline"`
	ArchivedAt       time.Time `json:"archived-at"`
	// ServerEnd is the end of WAL on the server, as it last said.
	ServerEnd pg.LSN `json:"server-end"`
	// UploadError is the last failed upload; "" once uploads succeed again.
	UploadError string `json:"upload-error,omitempty"`
}

// Receiver streams a cluster's WAL over the physical replication protocol
// into a local spool and from there into the repository.
type Receiver struct {
	o       ReceiverOptions
	log     *slog.Logger
	running atomic.Bool

	mu sync.Mutex
	st ReceiverStatus
}

// NewReceiver checks o and fills in its defaults.
func NewReceiver(o ReceiverOptions) (*Receiver, error) {
	switch {
	case o.Repo == nil || o.Cluster == nil:
		return nil, errors.New("receiver: repository and cluster are required")
	case !pg.ValidSegmentSize(o.Cluster.WALSegmentSize):
		return nil, fmt.Errorf("receiver: cluster %q has an invalid WAL segment size %d", o.Cluster.Name, o.Cluster.WALSegmentSize)
	case o.SpoolDir == "":
		return nil, errors.New("receiver: a spool directory is required")
	case o.PartialInterval < 0 || o.StatusInterval < 0:
		return nil, errors.New("receiver: intervals must not be negative")
	case o.Strict && !o.Synchronous:
		return nil, errors.New("receiver: strict needs synchronous")
	}
	if o.Slot == "" {
		o.Slot = "pgkeep"
	}
	if !pg.ValidSlotName(o.Slot) {
		return nil, fmt.Errorf("receiver: invalid slot name %q: want %s", o.Slot, pg.SlotNameRule)
	}
	if o.PartialInterval == 0 {
		o.PartialInterval = 10 * time.Second
	}
	if o.StatusInterval == 0 {
		o.StatusInterval = time.Second
	}
	if o.ApplicationName == "" {
		o.ApplicationName = "pgkeep"
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("cluster", o.Cluster.Name, "slot", o.Slot)
	return &Receiver{o: o, log: log}, nil
}

// Status returns a snapshot of where the receiver stands.
func (r *Receiver) Status() ReceiverStatus {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.st
	st.Running = r.running.Load()
	return st
}

// Options returns the receiver's options, defaults filled in.
func (r *Receiver) Options() ReceiverOptions { return r.o }

// update changes the status under the lock.
func (r *Receiver) update(fn func(st *ReceiverStatus)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fn(&r.st)
}

// setArchived records that the repository holds WAL up to lsn on timeline
// tli. A later timeline supersedes an earlier one.
func (r *Receiver) setArchived(tli uint32, lsn pg.LSN) {
	r.update(func(st *ReceiverStatus) {
		switch {
		case tli > st.ArchivedTimeline:
			st.Archived, st.ArchivedTimeline = lsn, tli
		case tli == st.ArchivedTimeline:
			st.Archived = max(st.Archived, lsn)
		}
		st.ArchivedAt = time.Now()
		st.UploadError = ""
	})
}

// segSize is the cluster's WAL segment size.
func (r *Receiver) segSize() int64 { return r.o.Cluster.WALSegmentSize }

// segStart rounds lsn down to the start of its segment.
func (r *Receiver) segStart(lsn pg.LSN) pg.LSN { return lsn - lsn%pg.LSN(r.segSize()) }
