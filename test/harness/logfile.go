package harness

import (
	"io"
	"os"
	"strings"
)

// LogTail returns the last n lines of the server log, or a note saying why
// it cannot.
func (p *Postgres) LogTail(n int) string {
	return tailLines(readFrom(p.LogFile, 0), n)
}

// fileSize returns the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readFrom returns the content of path from offset on, or a note saying why
// it cannot.
func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "(cannot read log: " + err.Error() + ")\n"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "(cannot seek log: " + err.Error() + ")\n"
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "(cannot read log: " + err.Error() + ")\n"
	}
	return string(b)
}

// tailLines returns the last n lines of s.
func tailLines(s string, n int) string {
	lines := strings.SplitAfter(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "") + "\n"
}
