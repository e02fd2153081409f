package remote

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// authError is why a request was refused before it touched anything.
type authError struct {
	status int
	code   string
	msg    string
}

// authenticate accepts a request that carries a certificate verified by the
// TLS layer (with ClientCerts) or the right bearer token. Otherwise: 401
// without (or with malformed) credentials, 403 with a wrong token or when
// the handler has no authentication configured at all.
func (h *handler) authenticate(r *http.Request) *authError {
	if h.o.Token == "" && !h.o.ClientCerts {
		return &authError{http.StatusForbidden, codeRefused,
			"the repository API has no authentication configured (neither a token nor client certificates): it refuses every request"}
	}
	if h.o.ClientCerts && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return nil
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		return &authError{http.StatusUnauthorized, codeUnauthenticated,
			"no credentials: send a bearer token or a client certificate"}
	}
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return &authError{http.StatusUnauthorized, codeUnauthenticated,
			"malformed Authorization header: want \"Bearer <token>\""}
	}
	if h.o.Token == "" {
		return &authError{http.StatusForbidden, codeRefused,
			"token authentication is not enabled on this server: use a client certificate"}
	}
	// Comparing digests keeps the comparison constant-time even in length.
	sum := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare(sum[:], h.tokenSum[:]) != 1 {
		return &authError{http.StatusForbidden, codeRefused, "wrong token"}
	}
	return nil
}
