// Package restore writes a backup set back into a data directory and
// configures PostgreSQL to recover from the archive: target parsing and
// backup choice against the recovery window (Choose, a pure function),
// data directory checks, a parallel and verified (optionally delta) write
// with global/pg_control last, tablespace links, configuration files from
// outside PGDATA, and the recovery settings in postgresql.auto.conf.
//
// The order of a restore is what makes it safe to interrupt:
//
//  1. plan: choose the backup and refuse an unreachable target;
//  2. check: refuse a non-empty data directory (unless delta or force) and
//     a running postmaster, before writing a byte;
//  3. write every file but global/pg_control, verifying every checksum, and
//     fsync it; in delta mode an existing pg_control is removed first;
//  4. write the recovery settings and the signal file;
//  5. write global/pg_control, so that PostgreSQL cannot start on a data
//     directory whose restore did not finish.
package restore
