package restore

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/pgkeep/pgkeep/repo"
)

// Markers around the settings pgkeep writes to postgresql.auto.conf; a
// later restore replaces the block between them.
const (
	blockBegin = "# pgkeep recovery settings begin"
	blockEnd   = "# pgkeep recovery settings end"
)

// recoveryKeys are the settings a restore decides. Lines setting them
// elsewhere in postgresql.auto.conf (from the backed-up server) are
// commented out, so that the backup's own recovery settings never mix
// with the restore's.
var recoveryKeys = map[string]bool{
	"restore_command": true, "recovery_target": true, "recovery_target_time": true,
	"recovery_target_xid": true, "recovery_target_name": true, "recovery_target_lsn": true,
	"recovery_target_inclusive": true, "recovery_target_action": true, "recovery_target_timeline": true,
}

// setting is one line of the block.
type setting struct{ key, value string }

// RecoverySettings are the settings a restore writes for target t, as
// key = value lines for postgresql.auto.conf (values quoted). A standby
// gets no recovery target.
func RecoverySettings(t Target, restoreCommand string, standby bool) []string {
	s := []setting{{"restore_command", quoteConf(restoreCommand)}}
	if !standby {
		switch t.Kind {
		case TargetTime:
			s = append(s, setting{"recovery_target_time", quoteConf(PGTime(t.Time))})
		case TargetLSN:
			s = append(s, setting{"recovery_target_lsn", quoteConf(t.LSN.String())})
		case TargetXID:
			s = append(s, setting{"recovery_target_xid", quoteConf(strconv.FormatUint(t.XID, 10))})
		case TargetName:
			s = append(s, setting{"recovery_target_name", quoteConf(t.Name)})
		case TargetImmediate:
			s = append(s, setting{"recovery_target", "'immediate'"})
		}
		if t.Kind != TargetNone {
			s = append(s, setting{"recovery_target_action", quoteConf(t.Action)})
		}
		if t.Exclusive {
			s = append(s, setting{"recovery_target_inclusive", "false"})
		}
	}
	tl := t.Timeline
	if tl == "" {
		tl = "latest"
	}
	s = append(s, setting{"recovery_target_timeline", quoteConf(tl)})
	out := make([]string, len(s))
	for i, kv := range s {
		out[i] = kv.key + " = " + kv.value
	}
	return out
}

// editAutoConf returns postgresql.auto.conf content old with an earlier
// pgkeep block dropped, other recovery settings commented out, and a new
// block of lines appended.
func editAutoConf(old []byte, lines []string, header string) []byte {
	var b bytes.Buffer
	in := false
	sc := bufio.NewScanner(bytes.NewReader(old))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		switch trimmed := strings.TrimSpace(line); {
		case trimmed == blockBegin:
			in = true
		case trimmed == blockEnd:
			in = false
		case in:
		case recoveryKeys[confKey(trimmed)]:
			b.WriteString("# removed by pgkeep restore: " + line + "\n")
		default:
			b.WriteString(line + "\n")
		}
	}
	b.WriteString(blockBegin + "\n# " + header + "\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	b.WriteString(blockEnd + "\n")
	return b.Bytes()
}

// confKey returns the setting name of a postgresql.conf line, lower-case,
// or "" for comments and blank lines.
func confKey(line string) string {
	if line == "" || line[0] == '#' {
		return ""
	}
	end := strings.IndexAny(line, " \t=")
	if end < 0 {
		end = len(line)
	}
	return strings.ToLower(line[:end])
}

// quoteConf quotes s as a postgresql.conf string.
func quoteConf(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// autoConf is where the recovery settings go.
const autoConf = "postgresql.auto.conf"

// signalFiles returns the signal file a restore writes and the one it removes.
func signalFiles(standby bool) (write, remove string) {
	if standby {
		return "standby.signal", "recovery.signal"
	}
	return "recovery.signal", "standby.signal"
}

// writeRecovery writes postgresql.auto.conf (the backup's, edited: see
// editAutoConf) and the signal file, and removes the other signal file.
func (w *writer) writeRecovery(ctx context.Context, m *repo.Manifest, lines []string, standby bool) (signal string, err error) {
	conf := findFile(m, autoConf)
	var base []byte
	if conf != nil {
		if base, err = w.fetch(ctx, *conf); err != nil {
			return "", err
		}
	}
	edited := editAutoConf(base, lines, "written by pgkeep restore of backup "+m.Label)
	if err := w.writeGenerated(autoConf, edited, conf, 0o600); err != nil {
		return "", fmt.Errorf("recovery settings: %w", err)
	}
	signal, other := signalFiles(standby)
	if err := removeIfExists(w.l.path(other)); err != nil {
		return "", fmt.Errorf("recovery settings: %w", err)
	}
	if err := w.writeGenerated(signal, []byte{}, nil, 0o600); err != nil {
		return "", fmt.Errorf("recovery settings: %w", err)
	}
	return signal, nil
}

// RestoreCommand renders restore_command: the program and its arguments,
// shell-quoted where needed and with % doubled (PostgreSQL expands %f, %p
// and %%), followed by archive-get %f "%p".
func RestoreCommand(program string, args ...string) string {
	return commandLine(program, args) + ` archive-get %f "%p"`
}

// ArchiveCommand renders archive_command the same way, followed by
// archive-push "%p".
func ArchiveCommand(program string, args ...string) string {
	return commandLine(program, args) + ` archive-push "%p"`
}

// commandLine quotes a program and its arguments for a PostgreSQL command
// setting: shell-quoted where needed, % doubled.
func commandLine(program string, args []string) string {
	parts := []string{shellQuote(program)}
	for _, a := range args {
		parts = append(parts, shellQuote(a))
	}
	return strings.ReplaceAll(strings.Join(parts, " "), "%", "%%")
}

// shellQuote quotes s for /bin/sh when it holds anything but safe characters.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("/._-+=:,@", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
