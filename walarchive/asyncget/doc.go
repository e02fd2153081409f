// Package asyncget is archive-get's asynchronous mode (archive.async), like
// pgBackRest's archive-get with archive-async: restore_command hands out
// WAL segments that a detached prefetcher has already fetched, verified and
// fsynced into a local spool, and the prefetcher keeps the next segments of
// the timeline coming while PostgreSQL replays. A restore or a replica that
// catches up from the archive then waits for the repository once, not once
// per segment.
//
// Each recovering data directory has its own spool, named after the
// system identifier in its pg_control and its path:
//
//	<spool-path>/archive-get/<cluster>/<system id>-<path hash>/
//	  <segment>             prefetched: complete, verified, fsynced
//	  <segment>.<pid>.tmp   being fetched by process pid
//	  want                  the segment archive-get was asked for last
//	  prefetch.lock         flock of the one running prefetcher; its pid
//	  prefetch.log          the prefetcher's log
//
// The spool only ever speeds up what the synchronous archive-get does. A
// segment that is not in the spool is fetched by archive-get itself,
// exactly as without async, so an absent segment (the end of the archive),
// a damaged object or an unreachable repository is reported by archive-get
// as it always is: the prefetcher caches no answer but a verified segment.
// It never prefetches a streamed .partial in a segment's stead (a partial
// grows; archive-get reads it afresh), and never from a repository cluster
// whose system identifier is not the data directory's.
package asyncget
