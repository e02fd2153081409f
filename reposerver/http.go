package reposerver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// httpServer is the server's listener.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
	tls bool
}

// Handler returns the server's HTTP routes: GET /status, GET /metrics and
// the repository API under /v1/.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Status())
	})
	metrics := promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		s.observeLag(time.Now())
		metrics.ServeHTTP(w, r)
	})
	if s.o.API != nil {
		mux.Handle("/v1/", s.o.API)
	}
	return mux
}

// listen opens the configured address.
func (s *Server) listen() (*httpServer, error) {
	ln, err := net.Listen("tcp", s.o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", s.o.Listen, err)
	}
	h := &httpServer{
		srv: &http.Server{
			Handler:           s.Handler(),
			ReadHeaderTimeout: 10 * time.Second,
			IdleTimeout:       2 * time.Minute,
			TLSConfig:         s.o.TLS,
		},
		ln:  ln,
		tls: s.o.TLS != nil,
	}
	scheme := "http"
	if h.tls {
		scheme = "https"
	}
	s.log.Info("serving", "url", scheme+"://"+ln.Addr().String(), "api", s.o.API != nil)
	return h, nil
}

// serve serves until shutdown; it returns nil after a shutdown.
func (h *httpServer) serve() error {
	var err error
	if h.tls {
		err = h.srv.ServeTLS(h.ln, "", "")
	} else {
		err = h.srv.Serve(h.ln)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// shutdown stops accepting requests and waits a little for running ones.
func (h *httpServer) shutdown() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = h.srv.Shutdown(ctx)
}
