package ha

import (
	"context"
	"net/http"

	"github.com/pgkeep/pgkeep/ha/dcs"
)

// cluster reads the cluster from etcd, or, when etcd does not answer, the
// last turn's snapshot.
func (a *Agent) cluster(ctx context.Context) dcs.Cluster {
	c, err := a.dcs.Cluster(ctx)
	if err != nil {
		a.log.Warn("REST API: cannot read the cluster from etcd; answering from the last snapshot", "err", err)
		return a.lastView().cluster
	}
	return c
}

// getCluster: GET /cluster, the members with role, state, host, port,
// timeline and lag (Patroni's /cluster).
func (a *Agent) getCluster(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, NewClusterInfo(a.cluster(r.Context()), a.o.Cluster))
}

// getHistory: GET /history, the timeline switches as Patroni's history key
// holds them: [[timeline, lsn, reason, time, new leader], ...].
func (a *Agent) getHistory(w http.ResponseWriter, r *http.Request) {
	entries := []dcs.HistoryEntry{}
	if h := a.cluster(r.Context()).History; h != nil && h.Entries != nil {
		entries = h.Entries
	}
	writeJSON(w, http.StatusOK, entries)
}

// getConfig: GET /config, the dynamic configuration (the config key).
func (a *Agent) getConfig(w http.ResponseWriter, r *http.Request) {
	data := map[string]any{}
	if c := a.cluster(r.Context()).Config; c != nil {
		data = c.Data
	}
	writeJSON(w, http.StatusOK, data)
}
