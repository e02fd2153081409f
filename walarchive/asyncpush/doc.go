// Package asyncpush is archive-push's asynchronous mode (archive.async),
// like pgBackRest's archive-async: the archive_command returns as soon as
// the WAL file is durable in a local spool, and a detached uploader process
// moves spooled files into the repository in parallel.
//
// The spool of one cluster is a directory on the database host:
//
//	<wal name>             accepted WAL waiting for upload (fsynced, then renamed)
//	<wal name>.<pid>.tmp   being copied by process pid; ignored, and removed
//	                       once pid is gone
//	done/<wal name>        uploaded: size and SHA-256 of the content, so that
//	                       PostgreSQL's retry of the same file costs a hash;
//	                       for a file the look-ahead archived from pg_wal also
//	                       the file's identity, so that its push costs a stat
//	ahead/<wal name>       the look-ahead is archiving this file from pg_wal:
//	                       its push waits for done/<wal name>
//	error/<wal name>       why the uploader could not archive the file
//	error/uploader         why the uploader cannot open the repository
//	cluster.json           the cluster's registration, cached for validation
//	uploader.lock          flock of the one running uploader; holds its pid
//	uploader.log           the uploader's log
//
// A file leaves the spool only once the repository holds it durably. Like
// pgBackRest's async process, the uploader also archives WAL that
// PostgreSQL has marked ready but not yet handed to archive-push, straight
// from pg_wal (the look-ahead): such a push then finds its file archived
// and copies nothing. The
// foreground (Foreground.Push) validates each file exactly as the
// synchronous push does (walarchive.OpenWAL), refuses it while the spool
// holds archive.queue-max-mb or more, and reports the uploader's errors, so
// that PostgreSQL keeps the WAL in pg_wal and retries rather than losing it.
package asyncpush
