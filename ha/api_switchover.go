package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
	"github.com/pgkeep/pgkeep/ha/decide"
)

// requestWait bounds how long POST /switchover and /failover wait for the
// new leader.
const requestWait = 60 * time.Second

// switchoverBody is the body of POST /switchover and /failover, as
// patronictl sends it.
type switchoverBody struct {
	Leader    string `json:"leader"`
	Candidate string `json:"candidate"`
	// Member is accepted for candidate (the failover key's name for it).
	Member      string `json:"member"`
	ScheduledAt string `json:"scheduled_at"`
}

// postSwitchover: POST /switchover {"leader": L, "candidate": C,
// "scheduled_at": T}: a planned hand-over from the leader to C (or to the
// best other member), without losing a commit.
func (a *Agent) postSwitchover(w http.ResponseWriter, r *http.Request) {
	a.request(w, r, true)
}

// postFailover: POST /failover {"candidate": C}: make C the leader, also
// when there is no healthy leader.
func (a *Agent) postFailover(w http.ResponseWriter, r *http.Request) {
	a.request(w, r, false)
}

// request checks a switchover or failover request with decide.CheckRequest
// (412 and nothing written when refused), writes the failover key (409
// when one is pending), and waits for the outcome: 200 with the new
// leader, 202 for a scheduled request, 503 when the leader did not carry
// it out.
func (a *Agent) request(w http.ResponseWriter, r *http.Request, switchover bool) {
	var b switchoverBody
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&b); err != nil && !errors.Is(err, io.EOF) {
		fail(w, http.StatusBadRequest, "the body must be a JSON object: "+err.Error())
		return
	}
	req := dcs.Failover{Member: b.Candidate}
	if req.Member == "" {
		req.Member = b.Member
	}
	kind := "failover"
	if switchover {
		kind, req.Leader = "switchover", b.Leader
	} else if req.Member == "" {
		fail(w, http.StatusBadRequest, "a failover needs a candidate")
		return
	}
	if b.ScheduledAt != "" {
		t, err := time.Parse(time.RFC3339, b.ScheduledAt)
		if err != nil {
			fail(w, http.StatusBadRequest, fmt.Sprintf("scheduled_at %q: not RFC 3339", b.ScheduledAt))
			return
		}
		req.ScheduledAt = &t
	}
	c, err := a.dcs.Cluster(r.Context())
	if err != nil {
		fail(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if switchover && req.Leader == "" {
		req.Leader = c.LeaderName()
	}
	old := c.LeaderName()
	e, refused := a.checkRequest(r.Context(), c, req)
	if refused != "" {
		a.log.Warn("refused a "+kind+" request", "leader", req.Leader, "candidate", req.Member, "why", refused)
		fail(w, http.StatusPreconditionFailed, kind+" refused: "+refused)
		return
	}
	if c.Failover != nil {
		fail(w, http.StatusConflict, fmt.Sprintf("a %s is pending already (from %q to %q)", kind, c.Failover.Leader, c.Failover.Member))
		return
	}
	if _, err := a.dcs.SetFailover(r.Context(), req, 0); err != nil {
		code := http.StatusServiceUnavailable
		if errors.Is(err, dcs.ErrConflict) {
			code = http.StatusConflict
		}
		fail(w, code, err.Error())
		return
	}
	a.log.Info(kind+" requested over the REST API", "leader", old, "candidate", req.Member, "winner", e.Winner)
	if req.ScheduledAt != nil && !req.Due(time.Now()) {
		writeJSON(w, http.StatusAccepted, map[string]any{"message": fmt.Sprintf("%s scheduled at %s", kind, dcs.FormatTime(*req.ScheduledAt))})
		return
	}
	a.awaitRequest(w, r, kind, old)
}

// checkRequest asks every member for its live state and checks req.
func (a *Agent) checkRequest(ctx context.Context, c dcs.Cluster, req dcs.Failover) (*decide.Election, string) {
	s := c.Settings(a.o.settings())
	if s.Pause && req.Member == "" {
		return nil, "the cluster is in maintenance mode (pause): name the candidate, or resume first"
	}
	states := append(a.askPeers(ctx, c), a.selfState(a.pg.State(ctx)))
	return decide.CheckRequest(c, s, req, states, time.Now())
}

// awaitRequest waits until the failover key is gone, and answers who leads.
func (a *Agent) awaitRequest(w http.ResponseWriter, r *http.Request, kind, old string) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), requestWait)
	defer cancel()
	for {
		c, err := a.dcs.Cluster(ctx)
		if err == nil && c.Failover == nil && c.Leader != nil {
			took := time.Since(start)
			if c.LeaderName() == old {
				why := "the leader refused it; see its log"
				if r := a.refusal(); old == a.o.Name && r != "" {
					why = r
				}
				fail(w, http.StatusServiceUnavailable, fmt.Sprintf("%s not carried out: %s", kind, why))
				return
			}
			a.log.Info(kind+" done", "from", old, "to", c.LeaderName(), "took", took.Round(time.Millisecond))
			writeJSON(w, http.StatusOK, map[string]any{
				"message": fmt.Sprintf("%s from %s to %s done", strings.ToUpper(kind[:1])+kind[1:], orNone(old), c.LeaderName()),
				"leader":  c.LeaderName(), "took_ms": took.Milliseconds()})
			return
		}
		select {
		case <-ctx.Done():
			fail(w, http.StatusServiceUnavailable, fmt.Sprintf("%s status unknown: no new leader after %s", kind, requestWait))
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// setRefusal records why the leader last refused a switchover or failover.
func (a *Agent) setRefusal(why string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastRefusal = why
}

// refusal is why the leader last refused a switchover or failover.
func (a *Agent) refusal() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.lastRefusal
}
