package remote

import (
	"crypto/tls"
	"fmt"

	"github.com/pgkeep/pgkeep/internal/tlsfiles"
)

// ServerTLSConfig is the TLS configuration of the repository API: TLS 1.2 or
// newer with the certificate and key in certFile and keyFile (PEM). With a
// clientCAFile, clients may present a certificate, which must chain to one
// of its CAs (a certificate from another CA fails the handshake); clients
// without one can still authenticate with the token. Pair it with
// HandlerOptions.ClientCerts.
func ServerTLSConfig(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	cfg, err := tlsfiles.Server(certFile, keyFile, clientCAFile)
	if err != nil {
		return nil, fmt.Errorf("repository API TLS: %w", err)
	}
	return cfg, nil
}

// clientTLSConfig trusts the CAs in caFile (the system's when empty) and
// presents the client certificate in certFile and keyFile when given.
func clientTLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	return tlsfiles.Client(caFile, certFile, keyFile)
}
