#!/usr/bin/env bash
# make demo: runs `pgkeep demo` (internal/demo): a throwaway three-member
# cluster on loopback with etcd, three pgkeep ha agents and pgkeep server; a
# backup, a kill -9 failover, a rejoin and a point-in-time restore into a new
# cluster bootstrapped from the backup; a summary; everything removed at the
# end. Runs as root (PostgreSQL then runs as the postgres OS user) or as an
# ordinary user.
set -euo pipefail
BIN=$(realpath "${1:-bin/pgkeep}")
shift || true
exec "$BIN" demo "$@"
