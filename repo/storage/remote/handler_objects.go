package remote

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// get streams an object, or the part of it the offset and length query
// parameters select, and ends the body with the Pgkeep-Sent trailer (or
// Pgkeep-Error when the backend failed mid-stream).
func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	offset, length, err := rangeQuery(r.URL.Query())
	if err == nil {
		err = storage.ValidateKey(key)
	}
	if err != nil {
		h.fail(w, r, "get", key, err)
		return
	}
	started := false
	var sent int64
	err = h.s.Get(r.Context(), key, offset, length, func(rd io.Reader) error {
		started = true
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Trailer", trlSent+", "+hdrError)
		w.WriteHeader(http.StatusOK)
		var err error
		sent, err = io.Copy(w, rd)
		return err
	})
	switch {
	case !started && err != nil:
		h.fail(w, r, "get", key, err)
	case err != nil:
		w.Header().Set(hdrError, oneLine(err.Error()))
		if !clientGone(r, err) {
			h.log.Error("repository API: read failed mid-stream", "key", key, "sent", sent, "err", err)
		}
	default:
		w.Header().Set(trlSent, strconv.FormatInt(sent, 10))
	}
}

// rangeQuery parses the offset and length query parameters (default 0).
func rangeQuery(q url.Values) (offset, length int64, err error) {
	parse := func(name string) (int64, error) {
		v := q.Get(name)
		if v == "" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("%w: %s=%q is not a non-negative integer", errBadRequest, name, v)
		}
		return n, nil
	}
	if offset, err = parse("offset"); err != nil {
		return 0, 0, err
	}
	length, err = parse("length")
	return offset, length, err
}

// stat answers with the object's key, size and modification time.
func (h *handler) stat(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	info, err := h.s.Stat(r.Context(), key)
	if err != nil {
		h.fail(w, r, "stat", key, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(statBody{Key: info.Key, Size: info.Size, ModTime: formatTime(info.ModTime)})
}

// remove deletes an object when the policy allows deleting.
func (h *handler) remove(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	if !h.o.AllowDelete {
		h.fail(w, r, "remove", key, fmt.Errorf("%w: deleting %s is not allowed by the repository server (allow-delete is off)",
			storage.ErrPermission, key))
		return
	}
	if err := h.s.Remove(r.Context(), key); err != nil {
		h.fail(w, r, "remove", key, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// formatTime is the wire form of a modification time.
func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
