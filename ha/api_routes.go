package ha

import "net/http"

// routes adds the operators' routes to the checks.
func (a *Agent) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /cluster", a.getCluster)
	mux.HandleFunc("GET /history", a.getHistory)
	mux.HandleFunc("GET /config", a.getConfig)
	mux.HandleFunc("PATCH /config", a.mutating(a.patchConfig))
	mux.HandleFunc("PUT /config", a.mutating(a.patchConfig))
	mux.HandleFunc("POST /switchover", a.mutating(a.postSwitchover))
	mux.HandleFunc("POST /failover", a.mutating(a.postFailover))
	mux.HandleFunc("POST /restart", a.mutating(a.postRestart))
}
