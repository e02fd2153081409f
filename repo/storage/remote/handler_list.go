package remote

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// list streams the objects under the prefix query parameter as JSON lines,
// ending with {"end":true}, or with an error line when the backend failed
// after the first object. Nothing is buffered beyond the response writer's
// buffer, so a huge listing costs the server no memory.
func (h *handler) list(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	if err := storage.ValidatePrefix(prefix); err != nil {
		h.fail(w, r, "list", prefix, err)
		return
	}
	var enc *json.Encoder
	start := func() {
		w.Header().Set("Content-Type", mimeJSONLines)
		w.WriteHeader(http.StatusOK)
		enc = json.NewEncoder(w)
	}
	err := h.s.List(r.Context(), prefix, func(info storage.ObjectInfo) error {
		if enc == nil {
			start()
		}
		return enc.Encode(listLine{Key: info.Key, Size: info.Size, ModTime: formatTime(info.ModTime)})
	})
	if enc == nil {
		if err != nil {
			h.fail(w, r, "list", prefix, err)
			return
		}
		start()
	}
	if err != nil {
		if !clientGone(r, err) {
			h.log.Error("repository API: listing failed mid-stream", "prefix", prefix, "err", err)
		}
		_, code := errorStatus(err)
		_ = enc.Encode(listLine{Error: code, Message: err.Error()})
		return
	}
	_ = enc.Encode(listLine{End: true})
}

// removeTemp removes the temporary files of interrupted writes under the
// prefix query parameter; it deletes, so it needs AllowDelete.
func (h *handler) removeTemp(w http.ResponseWriter, r *http.Request) {
	prefix := r.URL.Query().Get("prefix")
	if !h.o.AllowDelete {
		h.fail(w, r, "remove-temp", prefix, fmt.Errorf("%w: removing temporary files is not allowed by the repository server (allow-delete is off)",
			storage.ErrPermission))
		return
	}
	if err := storage.ValidatePrefix(prefix); err != nil {
		h.fail(w, r, "remove-temp", prefix, err)
		return
	}
	n, err := storage.RemoveTemp(r.Context(), h.s, prefix)
	if err != nil {
		h.fail(w, r, "remove-temp", prefix, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(removeTempBody{Removed: n})
}
