package main

import (
	"errors"
	"strings"

	"github.com/pgkeep/pgkeep/configs"
	"github.com/pgkeep/pgkeep/walarchive"
)

// Exit codes: the contract of DESIGN.md.
const (
	exitOK       = 0
	exitNotFound = 1 // "not found" where the command defines it
	exitUsage    = 2 // usage or configuration error
	exitFailure  = 3 // every other failure
)

// usageError marks errors in how pgkeep was called.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// silentNotFound is archive-get's "not in the archive": exit 1, no message,
// because PostgreSQL asks for files past the end of the archive routinely.
type silentNotFound struct{ err error }

func (s silentNotFound) Error() string { return s.err.Error() }
func (s silentNotFound) Unwrap() error { return s.err }

func exitCode(err error) int {
	var cfgErr *configs.Error
	var use usageError
	var nf silentNotFound
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &nf):
		return exitNotFound
	case errors.As(err, &cfgErr), errors.As(err, &use), isCobraUsage(err):
		return exitUsage
	}
	return exitFailure
}

func isSilent(err error) bool {
	var nf silentNotFound
	return errors.As(err, &nf) && errors.Is(err, walarchive.ErrNotFound)
}

// oneLine keeps a message on one line for people and log scrapers.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// isCobraUsage recognises cobra's own usage errors, which have no type.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "unknown flag: ", "unknown shorthand flag: ", "invalid argument ", "flag needs an argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
