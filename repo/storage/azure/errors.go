package azure

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/pgkeep/pgkeep/repo/storage"
)

// opError is the error of one operation on one key. It unwraps to a storage
// sentinel (when the failure maps to one) and to the provider's error, but its
// message is built from redacted text only.
type opError struct {
	op, key string
	kind    error // storage sentinel or nil
	cause   error
	detail  string // redacted description of cause
}

func (e *opError) Error() string {
	if e.kind != nil {
		return fmt.Sprintf("azure %s %s: %v: %s", e.op, e.key, e.kind, e.detail)
	}
	return fmt.Sprintf("azure %s %s: %s", e.op, e.key, e.detail)
}

func (e *opError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.cause}
	}
	return []error{e.kind, e.cause}
}

// sasSignature matches the signature parameter of a SAS in a URL.
var sasSignature = regexp.MustCompile(`(?i)(sig=)[^&\s"']+`)

// redact removes SAS signatures and the given secrets from s.
func redact(s string, secrets ...string) string {
	s = sasSignature.ReplaceAllString(s, "${1}REDACTED")
	for _, secret := range secrets {
		if secret != "" {
			s = strings.ReplaceAll(s, secret, "REDACTED")
		}
	}
	return s
}

// translateError turns err from the Azure SDK into an *opError whose kind is
// the matching storage sentinel. Only op "put" maps conflicts to ErrExists.
func translateError(op, key string, err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	var oe *opError
	if errors.As(err, &oe) {
		return err
	}
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return &opError{op: op, key: key, kind: storage.ErrPermission, cause: err,
			detail: "cannot get a token: " + redact(err.Error(), secrets...)}
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		// Our own errors (validation, reads) already carry a sentinel if any.
		for _, s := range []error{storage.ErrInvalidKey, storage.ErrPermission, storage.ErrNotFound, storage.ErrExists} {
			if errors.Is(err, s) {
				return fmt.Errorf("azure %s %s: %w", op, key, err)
			}
		}
		return &opError{op: op, key: key, cause: err, detail: redact(err.Error(), secrets...)}
	}
	e := &opError{op: op, key: key, cause: err,
		detail: fmt.Sprintf("HTTP %d %s", re.StatusCode, re.ErrorCode)}
	var se *stepError
	if errors.As(err, &se) {
		e.detail = se.step + ": " + e.detail
	}
	switch {
	case re.StatusCode == http.StatusNotFound || bloberror.HasCode(err,
		bloberror.BlobNotFound, bloberror.ContainerNotFound, bloberror.ResourceNotFound):
		e.kind = storage.ErrNotFound
	case re.StatusCode == http.StatusUnauthorized || re.StatusCode == http.StatusForbidden:
		e.kind = storage.ErrPermission
		e.detail += " (check the account key, SAS token and its permissions/expiry, or the identity's role)"
	case op == "put" && (re.StatusCode == http.StatusPreconditionFailed ||
		bloberror.HasCode(err, bloberror.BlobAlreadyExists, bloberror.ConditionNotMet)):
		e.kind = storage.ErrExists
	}
	return e
}
