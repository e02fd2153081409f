package repo

import (
	"fmt"
	"strings"
)

// WALPrefix is the key prefix under which the WAL of generation c lives:
// <cluster>/wal/ for the first generation, <cluster>/wal-<N>/ for the N-th
// (see ClusterInfo).
func (c *ClusterInfo) WALPrefix() string {
	if c.Gen() <= 1 {
		return c.Name + "/wal/"
	}
	return fmt.Sprintf("%s/wal-%d/", c.Name, c.Gen())
}

// WALKey is the object key of a WAL file of generation c: segments,
// .partial and .backup files under a directory named by the first 16 hex
// digits of their name (timeline and log), .history files directly under
// the WAL prefix.
func (c *ClusterInfo) WALKey(name string) string {
	if len(name) >= 24 && !strings.HasSuffix(name, ".history") {
		return c.WALPrefix() + name[:16] + "/" + name
	}
	return c.WALPrefix() + name
}

// WALNameOfKey is the inverse of WALKey: the file name at the end of key.
func WALNameOfKey(key string) string { return key[strings.LastIndex(key, "/")+1:] }
