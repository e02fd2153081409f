package remote

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// apiError is an answer of the server other than the expected one. It
// unwraps to the storage sentinel the server named, if any.
type apiError struct {
	msg      string
	sentinel error // nil: no sentinel applies
}

func (e *apiError) Error() string { return e.msg }
func (e *apiError) Unwrap() error { return e.sentinel }

// codeSentinel is the storage sentinel of an error code sent by the server.
func codeSentinel(code string) error {
	switch code {
	case codeNotFound:
		return storage.ErrNotFound
	case codeExists:
		return storage.ErrExists
	case codeInvalidKey:
		return storage.ErrInvalidKey
	case codePermission, codeUnauthenticated, codeRefused:
		return storage.ErrPermission
	}
	return nil
}

// codeError is the error for a code and message sent by the server.
func codeError(code, msg string) error {
	switch code {
	case codeUnauthenticated:
		msg = "the repository server wants a token or a client certificate and got none it accepts (repo.server-token-file, repo.server-cert-file): " + msg
	case codeRefused:
		msg = "the repository server refused the token or certificate: " + msg
	}
	return &apiError{msg: msg, sentinel: codeSentinel(code)}
}

// statusError turns an unexpected response into an error. Only a response
// that carries the API's error code maps to a sentinel other than
// ErrPermission: a 404 from a proxy or a wrong URL must never read as "no
// such object".
func (c *Client) statusError(resp *http.Response) error {
	status := fmt.Sprintf("HTTP %d", resp.StatusCode)
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if code := resp.Header.Get(hdrError); code != "" {
		var body errorBody
		msg := strings.TrimSpace(string(snippet))
		if json.Unmarshal(snippet, &body) == nil && body.Message != "" {
			msg = body.Message
		}
		return codeError(code, fmt.Sprintf("%s (%s)", msg, status))
	}
	text := strings.TrimSpace(oneLine(string(snippet)))
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return &apiError{
			msg:      fmt.Sprintf("%s refused the request (%s, not from the repository API itself): %s", c.base, status, text),
			sentinel: storage.ErrPermission,
		}
	}
	return &apiError{msg: fmt.Sprintf("unexpected answer %s from %s (is it a pgkeep repository API?): %s", status, c.base, text)}
}

// transportError describes a request that got no response: the server is
// unreachable, the TLS handshake failed, the context ended. A server that
// refused the client certificate during the handshake is ErrPermission.
func (c *Client) transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if certRefused(err) {
		return &apiError{
			msg:      fmt.Sprintf("the repository server %s refused the client certificate: %v", c.base, err),
			sentinel: storage.ErrPermission,
		}
	}
	return fmt.Errorf("repository server %s: %w", c.base, err)
}

// certRefused reports whether err is a TLS alert from the server saying
// that it did not accept our certificate (or that it wanted one).
func certRefused(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "remote error" || op.Err == nil {
		return false
	}
	alert := op.Err.Error()
	return strings.Contains(alert, "certificate") || strings.Contains(alert, "access denied")
}
