// Package harness starts real parts for tests: PostgreSQL 15 servers run from
// the installed binaries, and an in-process etcd.
//
// Everything a helper starts is stopped, and everything it creates is removed,
// by t.Cleanup. Helpers fail the test (t.Fatal) on error, so call them from the
// test's own goroutine. Waiting is done by polling with [Wait], never by
// sleeping.
//
// PostgreSQL refuses to run as root. When the test runs as root (as it does in
// CI), every PostgreSQL program is run as the OS user "postgres" (see
// [PGCommand]), and every directory such a program touches must be reachable
// by that user: create them with [Dir] (not t.TempDir, whose parents are
// private to root) and hand files over with [Chown].
//
// Environment:
//
//	PGKEEP_TEST_PGBIN  directory of the PostgreSQL programs
//	                   (default /usr/lib/postgresql/15/bin)
//	CI                 when set and not "false", a missing dependency fails
//	                   the test instead of skipping it (see [Require])
package harness
