package ha

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Handler is the member's REST API. The checks answer 200 or 503, as
// HAProxy's "option httpchk" expects, to GET, HEAD and OPTIONS (HAProxy's
// default method):
//
//	/primary, /master, /read-write, /  this member leads: holds the leader key
//	                                   (before its fencing deadline) and runs as primary
//	/replica[?lag=N]   runs as a standby, not tagged noloadbalance, at most N
//	                   bytes (or 16MB, 1GB...) behind the leader's last position
//	/read-only         runs, as primary or standby
//	/health            PostgreSQL runs
//	/leader            holds the leader key
//	/patroni           always 200: the member's status JSON
//
// and, for operators and pgkeep ctl (see routes):
//
//	GET /cluster, /history, /config     the cluster, its timelines, its config
//	POST /switchover, /failover, /restart; PATCH, PUT /config
//	                   calls that change something: see mutating for who may
//
// Every answer carries the status JSON, from the loop's last turn.
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, p := range []string{"/primary", "/master", "/read-write", "/{$}"} {
		mux.HandleFunc(p, a.check(a.isPrimary))
	}
	mux.HandleFunc("/replica", a.check(a.isReplica))
	mux.HandleFunc("/read-only", a.check(func(v view, _ *http.Request) bool { return v.pg.Running }))
	mux.HandleFunc("/health", a.check(func(v view, _ *http.Request) bool { return v.pg.Running }))
	mux.HandleFunc("/leader", a.check(a.isLeader))
	mux.HandleFunc("/patroni", a.check(func(view, *http.Request) bool { return true }))
	mux.HandleFunc("POST /reinitialize", a.mutating(a.handleReinitialize))
	a.routes(mux)
	return mux
}

// check serves one check.
func (a *Agent) check(ok func(view, *http.Request) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			w.Header().Set("Allow", "GET, HEAD, OPTIONS")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		v := a.lastView()
		if r.URL.Path == "/patroni" {
			v = a.livePG(r.Context(), v)
		}
		code := http.StatusServiceUnavailable
		if ok(v, r) {
			code = http.StatusOK
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		if r.Method != http.MethodHead {
			_ = json.NewEncoder(w).Encode(a.statusOf(v))
		}
	}
}

// livePG refreshes the PostgreSQL state of the last turn's view
// from the server: a member asked in an election, a request check or a
// hand-over answers whether it runs and where its WAL is now, not as it
// was at its last turn, up to loop_wait ago.
func (a *Agent) livePG(ctx context.Context, v view) view {
	v.pg = a.pg.State(ctx)
	return v
}

// isLeader: the member holds the leader key and is within its deadline.
func (a *Agent) isLeader(v view, _ *http.Request) bool {
	return v.cluster.LeaderName() == a.o.Name && (v.settings.Pause || time.Now().Before(a.fenceAt()))
}

// isPrimary: the member leads and runs as primary.
func (a *Agent) isPrimary(v view, r *http.Request) bool {
	return a.isLeader(v, r) && v.pg.Primary()
}

// isReplica: the member runs as a standby, takes read traffic, and is
// within ?lag of the leader's last known position.
func (a *Agent) isReplica(v view, r *http.Request) bool {
	if !v.pg.Running || !v.pg.InRecovery || a.o.Tags.NoLoadBalance() {
		return false
	}
	if q := r.URL.Query().Get("lag"); q != "" {
		max, err := parseBytes(q)
		if err != nil {
			return false
		}
		if ref := v.cluster.Status.Optime; ref > uint64(v.pg.LSN) && ref-uint64(v.pg.LSN) > max {
			return false
		}
	}
	return true
}

// parseBytes reads a size: bytes, or with PostgreSQL's units (kB, MB, GB,
// TB, 1024-based).
func parseBytes(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	mult := uint64(1)
	for _, u := range []struct {
		suffix string
		mult   uint64
	}{{"TB", 1 << 40}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"kB", 1 << 10}, {"B", 1}} {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return n * mult, nil
}
