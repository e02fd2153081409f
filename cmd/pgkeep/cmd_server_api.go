package main

import (
	"crypto/tls"
	"log/slog"
	"net/http"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/repo"
	"github.com/pgkeep/pgkeep/repo/storage/remote"
)

// repositoryAPI builds the repository API's handler and the HTTPS
// configuration from the server settings. Without a token or a client CA
// the API is off (nil handler): never an open repository.
func repositoryAPI(cfg *configs.Config, r *repo.Repo) (http.Handler, *tls.Config, error) {
	s := cfg.Server
	var tlsConfig *tls.Config
	if s.TLSCertFile != "" {
		var err error
		if tlsConfig, err = remote.ServerTLSConfig(s.TLSCertFile, s.TLSKeyFile, s.ClientCAFile); err != nil {
			return nil, nil, usageError{err}
		}
	}
	token := s.Token.Reveal()
	if token == "" && s.ClientCAFile == "" {
		return nil, tlsConfig, nil
	}
	if tlsConfig == nil {
		slog.Warn("the repository API speaks plain HTTP: its token travels in the clear; set server.tls-cert-file and server.tls-key-file")
	}
	return remote.NewHandler(r.Storage(), remote.HandlerOptions{
		Token:       token,
		ClientCerts: s.ClientCAFile != "",
		Logger:      slog.Default(),
	}), tlsConfig, nil
}
