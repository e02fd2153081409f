package ha

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

// task is an operation the REST API hands to the HA loop.
type task struct {
	run  func(context.Context) error
	done chan error
}

// do runs f in the HA loop, between two turns, and returns its error.
func (a *Agent) do(ctx context.Context, f func(context.Context) error) error {
	t := task{run: f, done: make(chan error, 1)}
	select {
	case a.tasks <- t:
	case <-ctx.Done():
		return fmt.Errorf("the HA loop is busy: %w", ctx.Err())
	}
	select {
	case err := <-t.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for the HA loop: %w", ctx.Err())
	}
}

// postRestart: POST /restart, restart this member's PostgreSQL (fast
// shutdown), in the HA loop, so that no decision sees it stopped half-way:
// a primary restarts as primary and keeps the leader key.
func (a *Agent) postRestart(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), ctlTimeout+10*time.Second)
	defer cancel()
	start := time.Now()
	err := a.do(ctx, func(ctx context.Context) error {
		a.log.Info("restarting PostgreSQL, as asked over the REST API")
		return a.pg.Restart(ctx)
	})
	if err != nil {
		fail(w, http.StatusServiceUnavailable, "restart failed: "+err.Error())
		return
	}
	a.poke()
	writeJSON(w, http.StatusOK, map[string]any{"message": "restarted", "took_ms": time.Since(start).Milliseconds()})
}

// patchConfig: PATCH /config merges the body (a JSON object, RFC 7386: null
// removes a key) into the config key; PUT /config replaces it. Both write
// with compare-and-swap on the key's revision, retried when another writer
// came first, and answer the new configuration. {"pause": true} is
// maintenance mode.
func (a *Agent) patchConfig(w http.ResponseWriter, r *http.Request) {
	var patch map[string]any
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&patch); err != nil || patch == nil {
		fail(w, http.StatusBadRequest, "the body must be a JSON object")
		return
	}
	for range 5 {
		c, err := a.dcs.Cluster(r.Context())
		if err != nil {
			fail(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		data, rev := map[string]any{}, int64(0)
		if c.Config != nil {
			data, rev = c.Config.Data, c.Config.ModRevision
		}
		if r.Method == http.MethodPut {
			data = map[string]any{}
		}
		data = MergePatch(data, patch)
		_, err = a.dcs.SetConfig(r.Context(), data, rev)
		if errors.Is(err, dcs.ErrConflict) {
			continue
		}
		if err != nil {
			fail(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		a.log.Info("the cluster's configuration was changed over the REST API", "from", r.RemoteAddr)
		a.poke()
		writeJSON(w, http.StatusOK, data)
		return
	}
	fail(w, http.StatusConflict, "the config key kept changing under this call: try again")
}

// MergePatch applies a JSON merge patch (RFC 7386) to dst and returns it:
// objects merge key by key, null removes a key, anything else replaces.
func MergePatch(dst, patch map[string]any) map[string]any {
	if dst == nil {
		dst = map[string]any{}
	}
	for k, v := range patch {
		switch pv := v.(type) {
		case nil:
			delete(dst, k)
		case map[string]any:
			sub, _ := dst[k].(map[string]any)
			dst[k] = MergePatch(sub, pv)
		default:
			dst[k] = v
		}
	}
	return dst
}
