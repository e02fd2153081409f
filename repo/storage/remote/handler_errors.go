package remote

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// errBadRequest marks a request the handler cannot carry out as sent: a
// malformed parameter, or a put body that ended early or did not match its
// size or checksum.
var errBadRequest = errors.New("bad request")

// errorStatus maps an error to the HTTP status and code sent to the client.
func errorStatus(err error) (int, string) {
	switch {
	case errors.Is(err, storage.ErrInvalidKey):
		return http.StatusBadRequest, codeInvalidKey
	case errors.Is(err, errBadRequest):
		return http.StatusBadRequest, codeBadRequest
	case errors.Is(err, storage.ErrNotFound):
		return http.StatusNotFound, codeNotFound
	case errors.Is(err, storage.ErrExists):
		return http.StatusPreconditionFailed, codeExists
	case errors.Is(err, storage.ErrPermission):
		return http.StatusForbidden, codePermission
	}
	return http.StatusInternalServerError, codeInternal
}

// fail answers a request whose operation failed and logs what the client
// cannot fix.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, op, key string, err error) {
	status, code := errorStatus(err)
	switch {
	case r.Context().Err() != nil:
		h.log.Debug("repository API: client went away", "op", op, "key", key, "err", err)
	case status >= 500:
		h.log.Error("repository API: storage failed", "op", op, "key", key, "err", err)
	case status == http.StatusForbidden:
		h.log.Warn("repository API: operation refused", "op", op, "key", key, "remote", r.RemoteAddr, "err", err)
	default:
		h.log.Debug("repository API: request failed", "op", op, "key", key, "status", status, "err", err)
	}
	writeError(w, status, code, err.Error())
}

// writeError sends an error response: the code in the Pgkeep-Error header
// and a JSON body with code and message.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set(hdrError, code)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: code, Message: msg})
}

// oneLine makes msg safe for a header or trailer value.
func oneLine(msg string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, msg)
}

// clientGone reports whether err only says that the request's context ended.
func clientGone(r *http.Request, err error) bool {
	return r.Context().Err() != nil && errors.Is(err, context.Canceled)
}
