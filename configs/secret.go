package configs

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
)

// Secret is a credential: a passphrase, key, token or connection string. Every way of printing
// or encoding it (fmt with any verb, JSON, YAML, text, slog) gives "***", whether it is set or
// not; only Reveal returns the value.
type Secret string

// redacted is what a Secret prints as.
const redacted = "***"

// Reveal returns the secret value, for handing it to the code that uses it; never log it.
func (s Secret) Reveal() string { return string(s) }

// String returns "***".
func (Secret) String() string { return redacted }

// GoString returns "***", so that %#v does not print the value.
func (Secret) GoString() string { return redacted }

// Format prints "***" for every verb (quoted for %q), so that no verb prints the value.
func (Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalJSON encodes the secret as the JSON string "***".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(redacted)), nil }

// MarshalYAML encodes the secret as the YAML string "***".
func (Secret) MarshalYAML() (any, error) { return redacted, nil }

// MarshalText encodes the secret as "***", for encoders that use encoding.TextMarshaler.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// LogValue makes slog print "***".
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// resolveSecrets sets every secret the environment left empty from the file its *-file setting
// names, trimmed of trailing line ends. A named file that cannot be read, or is empty, is an
// error naming the *-file key.
func resolveSecrets(c *Config) error {
	for _, l := range settings.leaves {
		if l.kind != kindSecret || l.field(c).String() != "" {
			continue
		}
		file := settings.byKey[l.key+fileSuffix]
		path := file.field(c).String()
		if path == "" {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return keyError("", 0, file.key, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return keyError("", 0, file.key, fmt.Errorf("%s is empty", path))
		}
		l.field(c).SetString(v)
	}
	return nil
}
