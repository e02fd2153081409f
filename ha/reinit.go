package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// ErrReinitRefused: the agent refuses a request (the reason is in the message);
// nothing was changed.
var ErrReinitRefused = errors.New("refused")

// checkSystem refuses to run on a data directory that holds another system
// than the one the cluster was initialized with.
func (a *Agent) checkSystem(ctx context.Context) error {
	d, err := a.pg.inspect()
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	if d.empty {
		return nil
	}
	c, err := a.dcs.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("ha: %w", err)
	}
	if c.Initialize != "" && c.Initialize != d.sysid {
		return fmt.Errorf("ha: the data directory %s holds system %s, but cluster %s was initialized with system %s: "+
			"refusing to run it (empty the directory to make this member a new replica, or use another cluster name)",
			a.o.PGData, d.sysid, a.o.Cluster, c.Initialize)
	}
	return nil
}

// Reinitialize throws this member's data directory away and creates it
// again as a replica of the leader (from the newest backup, or
// pg_basebackup), then starts it. It waits for the loop's turn to end and
// runs instead of the next. It is refused (an error wrapping ErrReinitRefused)
// for the leader, when no leader runs, and for a member running as
// primary (its WAL may hold writes no other member has: see force).
func (a *Agent) Reinitialize(ctx context.Context) error { return a.reinitialize(ctx, false) }

// reinitialize is Reinitialize; force also discards a member running as
// primary without the leader key.
func (a *Agent) reinitialize(ctx context.Context, force bool) error {
	a.life.Lock()
	defer a.life.Unlock()
	c, err := a.dcs.Cluster(ctx)
	if err != nil {
		return fmt.Errorf("reinitialize: %w", err)
	}
	leader := c.LeaderName()
	m, ok := c.LeaderMember()
	switch {
	case leader == a.o.Name:
		return fmt.Errorf("reinitialize: %w: this member leads the cluster; switch over to another member first", ErrReinitRefused)
	case leader == "" || !ok || !m.Data.IsRunning():
		return fmt.Errorf("reinitialize: %w: no running leader to create a replica from", ErrReinitRefused)
	case !force && a.pg.State(ctx).Primary():
		return fmt.Errorf("reinitialize: %w: this member runs as primary, its WAL may hold writes no other member has; force discards them", ErrReinitRefused)
	}
	start := time.Now()
	a.log.Info("reinitializing: re-creating this member as a replica", "leader", leader, "force", force)
	if err := a.recreate(ctx, c, leader); err != nil {
		return fmt.Errorf("reinitialize: %w", err)
	}
	if err := a.pg.Start(ctx, true); err != nil {
		return fmt.Errorf("reinitialize: %w", err)
	}
	a.resetStall()
	ci, err := a.conninfo(m.Data, "application_name="+a.o.Name)
	if err == nil {
		_, err = a.pg.Follow(ctx, ci, slotName(a.o.Name))
	}
	if err != nil {
		return fmt.Errorf("reinitialize: %w", err)
	}
	a.log.Info("reinitialized", "leader", leader, "took", time.Since(start).Round(time.Millisecond))
	a.poke()
	return nil
}

// reinitRequest is the optional body of POST /reinitialize.
type reinitRequest struct {
	Force bool `json:"force"`
}

// handleReinitialize serves POST /reinitialize: 200 with a JSON status once
// the member runs again as a replica, 503 with {"error": ...} when
// refused, 500 when it failed, 400 for a body that is not the request.
func (a *Agent) handleReinitialize(w http.ResponseWriter, r *http.Request) {
	var req reinitRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		reinitJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	start := time.Now()
	// The request's context is not the reinitialization's: a client that
	// goes away must not leave half a data directory behind.
	err := a.reinitialize(context.WithoutCancel(r.Context()), req.Force)
	switch {
	case errors.Is(err, ErrReinitRefused):
		reinitJSON(w, http.StatusServiceUnavailable, map[string]string{"error": err.Error()})
	case err != nil:
		reinitJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	default:
		reinitJSON(w, http.StatusOK, map[string]any{"status": "reinitialized", "member": a.o.Name,
			"seconds": time.Since(start).Seconds()})
	}
}

// reinitJSON answers with code and v as JSON.
func reinitJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
