package dcs

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// watchRetry is the pause before a broken watch is started again.
const watchRetry = 200 * time.Millisecond

// Watch reports changes to the cluster's keys after revision rev (the
// Revision of the snapshot the caller holds): it sends the etcd revision of
// the newest change. Rewrites of member keys and of the status key are not
// reported: every member rewrites its key, and the leader the status key,
// every loop (reporting them would wake every agent, round after round: a
// busy loop); the decisions need the leader, config, failover, sync and
// initialize keys at once, and members joining and leaving. Sends
// coalesce: a slow reader gets the newest revision, not a backlog, and
// should re-read the whole [Cluster]. The watch survives
// etcd leader changes and compaction (a compacted history is reported as a
// change), and ends, closing the channel, when ctx ends.
func (d *DCS) Watch(ctx context.Context, rev int64) <-chan int64 {
	out := make(chan int64, 1)
	go d.watch(ctx, rev, out)
	return out
}

func (d *DCS) watch(ctx context.Context, rev int64, out chan int64) {
	defer close(out)
	// Without a leader, etcd would keep the watch open and silent; with
	// WithRequireLeader it is cancelled and started again elsewhere.
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	for ctx.Err() == nil {
		ch := d.cli.Watch(wctx, d.keys.Prefix(), clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range ch {
			switch err := resp.Err(); {
			case resp.CompactRevision != 0:
				// Changes are lost: report one, and go on from what exists.
				rev = resp.CompactRevision - 1
				send(out, resp.CompactRevision)
			case err != nil:
				if !errors.Is(err, rpctypes.ErrNoLeader) && ctx.Err() == nil {
					d.log.Warn("etcd watch broke; watching again", "prefix", d.keys.Prefix(), "err", err)
				}
			case len(resp.Events) > 0:
				rev = resp.Header.Revision
				if slices.ContainsFunc(resp.Events, d.decisive) {
					send(out, rev)
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(watchRetry):
		}
	}
}

// decisive reports whether an event is one the agents act on at once: not
// the status key's rewrites, nor a member key's, but a member joining or
// leaving (the primary creates or drops its replication slot).
func (d *DCS) decisive(ev *clientv3.Event) bool {
	key := string(ev.Kv.Key)
	if strings.HasPrefix(key, d.keys.Members()) {
		return ev.IsCreate() || ev.Type == clientv3.EventTypeDelete
	}
	return key != d.keys.Status()
}

// send puts rev in out, replacing a revision nobody read yet. Only the
// watch goroutine sends, so the channel has room after the drain.
func send(out chan int64, rev int64) {
	select {
	case <-out:
	default:
	}
	out <- rev
}
