package remote

import (
	"crypto/sha256"
	"log/slog"
	"net/http"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// HandlerOptions configure the repository API's authentication and policy.
// The zero value refuses every request.
type HandlerOptions struct {
	// Token is the bearer token clients send (secret); empty disables token
	// authentication.
	Token string
	// ClientCerts lets a TLS client certificate that the server's TLS
	// configuration verified authenticate a request (see ServerTLSConfig).
	ClientCerts bool
	// AllowDelete permits DELETE and remove-temp. Off by default: database
	// nodes never need to delete.
	AllowDelete bool
	// AllowOverwrite permits a put to replace an existing object. Off by
	// default: a put without If-None-Match is then carried out as
	// put-if-absent and refused with 403 when the object exists.
	AllowOverwrite bool
	// Logger receives refusals and failures; default slog.Default().
	Logger *slog.Logger
}

// handler serves a Storage as the repository API.
type handler struct {
	s        storage.Storage
	o        HandlerOptions
	log      *slog.Logger
	mux      *http.ServeMux
	tokenSum [sha256.Size]byte
}

// NewHandler returns the repository API serving s under /v1/ (mount it at
// the server's root, or strip a prefix in front of it). Every request is
// authenticated before anything else happens; see HandlerOptions.
func NewHandler(s storage.Storage, o HandlerOptions) http.Handler {
	h := &handler{s: s, o: o, log: o.Logger, tokenSum: sha256.Sum256([]byte(o.Token))}
	if h.log == nil {
		h.log = slog.Default()
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+objectsPath+"{key...}", h.get)
	mux.HandleFunc("PUT "+objectsPath+"{key...}", h.put)
	mux.HandleFunc("DELETE "+objectsPath+"{key...}", h.remove)
	mux.HandleFunc("GET "+statPath+"{key...}", h.stat)
	mux.HandleFunc("GET "+listPath, h.list)
	mux.HandleFunc("POST "+removeTempPath, h.removeTemp)
	h.mux = mux
	return h
}

// ServeHTTP authenticates the request, then routes it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := h.authenticate(r); err != nil {
		h.log.Warn("repository API request refused", "remote", r.RemoteAddr, "method", r.Method,
			"path", r.URL.Path, "status", err.status, "reason", err.msg)
		if err.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="pgkeep"`)
		}
		writeError(w, err.status, err.code, err.msg)
		return
	}
	h.mux.ServeHTTP(w, r)
}
