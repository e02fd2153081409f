package ha

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"net"
	"net/http"
	"strings"
)

// mutating guards a call that changes something (POST, PATCH, PUT,
// DELETE):
//
//   - with Options.Token set, the call must carry "Authorization: Bearer
//     <token>": none (or malformed) is 401, a wrong one 403;
//   - with a client CA in Options.TLS, a verified client certificate is
//     enough;
//   - with neither, only calls from a loopback address are accepted (an
//     operator on the member's host); from elsewhere 403. Patroni accepts
//     them from anywhere by default: pgkeep does not.
//
// The health checks and the status routes (GET) are open: HAProxy and
// monitoring read them without credentials.
func (a *Agent) mutating(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if code, msg := a.authorize(r); code != 0 {
			a.log.Warn("refused a REST call", "method", r.Method, "path", r.URL.Path, "from", r.RemoteAddr, "why", msg)
			if code == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="pgkeep ha"`)
			}
			writeJSON(w, code, map[string]string{"error": msg})
			return
		}
		h(w, r)
	}
}

// authorize returns 0 when the call may go on, else the status and why.
func (a *Agent) authorize(r *http.Request) (int, string) {
	certs := a.o.TLS != nil && a.o.TLS.ClientCAs != nil
	if certs && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
		return 0, ""
	}
	if a.o.Token == "" {
		if certs {
			return http.StatusUnauthorized, "this call needs a client certificate"
		}
		if fromLoopback(r) {
			return 0, ""
		}
		return http.StatusForbidden, "no ha.token is configured: calls that change something are accepted from loopback only"
	}
	header := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(header, " ")
	token = strings.TrimSpace(token)
	switch {
	case header == "":
		return http.StatusUnauthorized, "this call needs the bearer token (ha.token)"
	case !ok || !strings.EqualFold(scheme, "Bearer") || token == "":
		return http.StatusUnauthorized, `malformed Authorization header: want "Bearer <token>"`
	}
	// Comparing digests keeps the comparison constant-time even in length.
	got, want := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(a.o.Token))
	if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
		return http.StatusForbidden, "wrong token"
	}
	return 0, ""
}

// fromLoopback reports whether the call comes from a loopback address.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// writeJSON answers v as JSON with code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// fail answers {"error": msg} with code.
func fail(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}
