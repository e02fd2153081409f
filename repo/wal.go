package repo

import "strings"

// WALPrefix is the key prefix under which a cluster's WAL lives.
func WALPrefix(cluster string) string { return cluster + "/wal/" }

// WALKey is the object key of a WAL file: segments, .partial and .backup
// files under a directory named by the first 16 hex digits of their name
// (timeline and log), .history files directly under wal/.
func WALKey(cluster, name string) string {
	if len(name) >= 24 && !strings.HasSuffix(name, ".history") {
		return WALPrefix(cluster) + name[:16] + "/" + name
	}
	return WALPrefix(cluster) + name
}

// WALNameOfKey is the inverse of WALKey: the file name at the end of key.
func WALNameOfKey(key string) string { return key[strings.LastIndex(key, "/")+1:] }
