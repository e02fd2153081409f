#!/usr/bin/env bash
# A throwaway local PostgreSQL 15 server archiving its WAL with pgkeep into a
# posix repository: create, check, a pgbench load, a WAL round trip through
# archive-get, a full backup, a point-in-time restore into a second server
# that is checked row by row, verify, and `pgkeep info` at the end. Everything lives in one temporary
# directory that is removed on exit. Runs as root (PostgreSQL then runs as the
# postgres OS user) or as an ordinary user.
set -euo pipefail
BIN=$(realpath "${1:-bin/pgkeep}")
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

work=$(mktemp -d /tmp/pgkeep-demo.XXXXXX)
chmod 0755 "$work"
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ "$(id -u)" = 0 ] && chown postgres: "$work"
cleanup() {
	as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	as_pg "$PGBIN/pg_ctl" -D "$work/restored" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
cp "$BIN" "$work/pgkeep"
chmod 0755 "$work/pgkeep"

# Free loopback ports.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo "$1"; }
port=$(free_port 54329)
port2=$(free_port 54330)
psql_at() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$1" -U postgres -XAtc "$2" postgres; }

cat > "$work/pgkeep.yaml" <<YAML
cluster: demo
repo:
  type: posix
  path: $work/repo
  compress-type: zstd
pg:
  host: 127.0.0.1
  port: $port
  user: postgres
archive:
  timeout: 60s
YAML
[ "$(id -u)" = 0 ] && chown postgres: "$work/pgkeep.yaml"
pgkeep() { as_pg "$work/pgkeep" --config "$work/pgkeep.yaml" "$@"; }

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "initdb (data checksums) and start PostgreSQL 15 on 127.0.0.1:$port"
as_pg "$PGBIN/initdb" -D "$work/data" -k -U postgres -A trust --no-instructions >/dev/null
cat >> "$work/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$work'
archive_mode = on
archive_command = '$work/pgkeep --config $work/pgkeep.yaml archive-push %p'
wal_keep_size = 1GB
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

step "pgkeep create: register the cluster in the repository"
pgkeep create

step "pgkeep check: switch WAL and wait until it is archived"
pgkeep check

step "pgbench -i -s 10: load data, generating WAL"
as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s 10 -q postgres 2>&1 | tail -1
seg=$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc "SELECT pg_walfile_name(pg_switch_wal())" postgres)
pgkeep check >/dev/null
as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -Atc \
	"SELECT 'pg_stat_archiver: archived ' || archived_count || ', failed ' || failed_count || ', last ' || last_archived_wal FROM pg_stat_archiver" postgres

step "pgkeep archive-get $seg: byte-identical to pg_wal's copy"
pgkeep archive-get "$seg" "$work/restored-$seg"
cmp "$work/restored-$seg" "$work/data/pg_wal/$seg" && echo "identical"
set +e; pgkeep archive-get 0000000100000000000000FF "$work/nope"; rc=$?; set -e
echo "a segment that is not archived: exit $rc (the normal end of the archive for restore_command)"

step "pgkeep backup --type full: BASE_BACKUP over the replication protocol"
pgkeep backup --type full

step "100 rows, a point in time T, 100 more rows"
psql_at "$port" "CREATE TABLE marks (id int PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())" >/dev/null
psql_at "$port" "INSERT INTO marks (id) SELECT generate_series(1, 100)" >/dev/null
target=$(psql_at "$port" "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'")
sleep 0.2
psql_at "$port" "INSERT INTO marks (id) SELECT generate_series(101, 200)" >/dev/null
pgkeep check >/dev/null
echo "T = $target"

step "pgkeep restore --target-time '$target' into a new data directory, start it on port $port2"
pgkeep restore --pgdata "$work/restored" --target-time "$target"
as_pg "$PGBIN/pg_ctl" -D "$work/restored" -l "$work/restored.log" -w \
	-o "-p $port2 -c archive_mode=off -c unix_socket_directories=$work" start >/dev/null
for _ in $(seq 1 600); do
	[ "$(psql_at "$port2" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
	sleep 0.1
done
rows=$(psql_at "$port2" "SELECT count(*) || ' rows, ids ' || min(id) || '-' || max(id) FROM marks")
echo "restored server: $rows (the source has 200; 100 were committed before T)"
[ "$rows" = "100 rows, ids 1-100" ] || { echo "demo: point-in-time restore returned the wrong rows" >&2; exit 1; }

step "pgkeep verify: every object re-read and checked"
pgkeep verify

step "pgkeep info"
pgkeep info
echo
echo "demo finished; removing $work"
