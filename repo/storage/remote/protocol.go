package remote

import (
	"net/url"
	"strings"
)

// Routes of the repository API.
const (
	objectsPath    = "/v1/objects/"
	statPath       = "/v1/stat/"
	listPath       = "/v1/list"
	removeTempPath = "/v1/remove-temp"
)

// Headers and trailers of the repository API.
const (
	hdrError      = "Pgkeep-Error"          // error code of an error response; GET trailer: mid-stream failure
	hdrSize       = "Pgkeep-Size"           // PUT: declared body size, -1 when unknown
	trlSHA256     = "Pgkeep-Content-Sha256" // PUT trailer: hex SHA-256 of the body
	trlSent       = "Pgkeep-Sent"           // GET trailer: bytes sent
	mimeJSONLines = "application/x-ndjson"
)

// Error codes carried in the Pgkeep-Error header and the JSON error body.
const (
	codeNotFound        = "not-found"
	codeExists          = "exists"
	codePermission      = "permission"
	codeInvalidKey      = "invalid-key"
	codeBadRequest      = "bad-request"
	codeUnauthenticated = "unauthenticated"
	codeRefused         = "refused"
	codeInternal        = "internal"
)

// errorBody is the JSON body of an error response.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// listLine is one line of a listing: an object, the end marker, or an
// error that stopped the listing.
type listLine struct {
	Key     string `json:"key,omitempty"`
	Size    int64  `json:"size,omitempty"`
	ModTime string `json:"mtime,omitempty"` // RFC 3339 with nanoseconds
	End     bool   `json:"end,omitempty"`
	Error   string `json:"error,omitempty"`
	Message string `json:"message,omitempty"`
}

// statBody is the JSON body of a stat response.
type statBody struct {
	Key     string `json:"key"`
	Size    int64  `json:"size"`
	ModTime string `json:"mtime"`
}

// removeTempBody is the JSON body of a remove-temp response.
type removeTempBody struct {
	Removed int `json:"removed"`
}

// escapeKey path-escapes every element of key.
func escapeKey(key string) string {
	els := strings.Split(key, "/")
	for i, el := range els {
		els[i] = url.PathEscape(el)
	}
	return strings.Join(els, "/")
}
