package configs

import (
	"fmt"
	"strconv"
	"strings"
)

// Error is a configuration problem. Its message is one line: where the problem was found, then
// the key and what is wrong, e.g.
//
//	config /etc/pgkeep.yaml line 9: repo.compress-level: want an integer, got "fast"
//	environment PGKEEP_PG_PORT: pg.port: want an integer, got "x"
//	repo.path: required for repo.type posix
type Error struct {
	// Source is where the setting came from: "config FILE", "environment NAME" or "flag --NAME";
	// empty for a problem of the loaded configuration as a whole.
	Source string
	// Line is the line in the config file, or 0.
	Line int
	// Key is the setting ("repo.path"), or empty where the problem names no known setting.
	Key string
	// Msg is the message after the source; it names Key when Key is set.
	Msg string
	// Err is the underlying error (e.g. from opening a file), or nil.
	Err error
}

// Error returns the one-line message.
func (e *Error) Error() string {
	if e.Source == "" {
		return e.Msg
	}
	var b strings.Builder
	b.WriteString(e.Source)
	if e.Line > 0 {
		b.WriteString(" line ")
		b.WriteString(strconv.Itoa(e.Line))
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying error, so errors.Is(err, fs.ErrNotExist) works.
func (e *Error) Unwrap() error { return e.Err }

// keyError reports err about the setting key, found at source and line (both may be zero).
func keyError(source string, line int, key string, err error) *Error {
	return &Error{Source: source, Line: line, Key: key, Msg: key + ": " + oneLine(err.Error()), Err: err}
}

// invalid reports a problem of the setting key in the loaded configuration.
func invalid(key, format string, args ...any) *Error {
	return &Error{Key: key, Msg: key + ": " + fmt.Sprintf(format, args...)}
}

// oneLine joins the lines of a message with "; ", keeping every error to one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, "; ")
}
