package main

import (
	"crypto/tls"
	"net/http"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/repo"
)

// repositoryAPI builds the repository API's handler and TLS configuration
// from the server settings; a nil handler when no authentication is
// configured (the API is then off).
func repositoryAPI(cfg *configs.Config, r *repo.Repo) (http.Handler, *tls.Config, error) {
	return nil, nil, nil
}
