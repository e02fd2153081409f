#!/usr/bin/env bash
# Benchmark: the commit rate of PostgreSQL with `pgkeep server` as its
# synchronous standby, in synchronous mode (an acknowledged commit is in the
# server's fsynced spool) and in strict mode (it is in the repository: one
# .partial upload per flushed batch), against no synchronous standby.
#
#   bash test/bench/server_strict.sh > report.md      (from the repository root)
#
# Needs bin/pgkeep (`make build`) and PostgreSQL 15. Runs as root (PostgreSQL
# and pgkeep then run as the OS user `postgres`) or as an ordinary user.
#
# What it does: initdb -k a throwaway PostgreSQL 15 on a free 127.0.0.1 port,
# pgbench -i -s SCALE (20), then ROUNDS (2) rounds of the modes none, sync and
# strict (and strict with BIN_OLD too, when set: to compare two builds), each
# from a fresh copy of that data directory with synchronous_standby_names =
# 'pgkeep' (none: empty) and, but for none, `pgkeep server` streaming into a
# fresh posix repository (spool and repository on the same disk as the data)
# until pg_stat_replication shows it as the sync standby; then `pgbench -n -c 8
# -j 2 -T DURATION` (30). Prints each run's TPS and the daemon's CPU, and the
# median per mode.
#
# Environment: ROUNDS (2), DURATION (30), SCALE (20), BIN (bin/pgkeep),
# BIN_OLD (unset), PGBIN (/usr/lib/postgresql/15/bin), TMPDIR (/tmp).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-30}
SCALE=${SCALE:-20}
BIN=${BIN:-bin/pgkeep}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

. test/bench/lib.sh # say, die, free_port, initdb_loopback, pgbr_conf, require_tools

[ -x "$BIN" ] || die "$BIN not found: run 'make build' first"
[ -x "$PGBIN/initdb" ] || die "PostgreSQL 15 not found in $PGBIN: run scripts/install-deps.sh"
ROOT=0
[ "$(id -u)" = 0 ] && ROOT=1
as_pg() { if ((ROOT)); then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pgkeep-strict.XXXXXX")
chmod 0755 "$work"
((ROOT)) && chown postgres: "$work"
cleanup() {
	for d in "$work"/run/data "$work"/tmpl; do as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true; done
	[ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

declare -A bins=([new]=$BIN)
[ -n "${BIN_OLD:-}" ] && bins[old]=$BIN_OLD
for k in "${!bins[@]}"; do
	as_pg cp "${bins[$k]}" "$work/pgkeep-$k"
	as_pg chmod 0755 "$work/pgkeep-$k"
done

port=$(free_port)
api=$(free_port)
psql_c() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atqc "$1" postgres; }

say "initdb -k, pgbench -i -s $SCALE (work dir $work)"
initdb_loopback "$work/tmpl" "$port" "$work"
cat >>"$work/tmpl/postgresql.conf" <<CONF
shared_buffers = 512MB
max_wal_size = 4GB
CONF
echo "host replication postgres 127.0.0.1/32 trust" >>"$work/tmpl/pg_hba.conf"
as_pg "$PGBIN/pg_ctl" -D "$work/tmpl" -l "$work/tmpl.log" -w start >/dev/null
as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$SCALE" -q postgres >/dev/null 2>&1 || die "pgbench -i failed"
as_pg "$PGBIN/pg_ctl" -D "$work/tmpl" -m fast -w stop >/dev/null

# run MODE BINKEY: one pgbench run; prints "MODE TPS DAEMON_CPU_S".
run() {
	local mode=$1 key=$2 d=$work/run
	as_pg rm -rf "$d"
	as_pg mkdir -p "$d"
	as_pg cp -a "$work/tmpl" "$d/data"
	if [ "$mode" != none ]; then
		echo "synchronous_standby_names = 'pgkeep'" | as_pg tee -a "$d/data/postgresql.conf" >/dev/null
	fi
	as_pg "$PGBIN/pg_ctl" -D "$d/data" -l "$d/pg.log" -w start >/dev/null
	local cpu=0
	server_pid=
	if [ "$mode" != none ]; then
		local strict=false
		[ "$mode" = strict ] && strict=true
		as_pg tee "$d/pk.yaml" >/dev/null <<YAML
cluster: bench
repo:
  type: posix
  path: $d/repo
pg:
  host: 127.0.0.1
  port: $port
  user: postgres
  data: $d/data
  bin: $PGBIN
server:
  name: bench
  listen: 127.0.0.1:$api
  spool-path: $d/spool
  synchronous: true
  synchronous-strict: $strict
  partial-interval: 1s
YAML
		as_pg "$work/pgkeep-$key" --config "$d/pk.yaml" create >/dev/null 2>&1 || die "pgkeep create failed"
		if ((ROOT)); then
			setpriv --reuid=postgres --regid=postgres --init-groups -- "$work/pgkeep-$key" --config "$d/pk.yaml" server >"$d/server.log" 2>&1 &
		else
			"$work/pgkeep-$key" --config "$d/pk.yaml" server >"$d/server.log" 2>&1 &
		fi
		server_pid=$!
		local s=
		for _ in $(seq 150); do
			s=$(psql_c "SELECT sync_state FROM pg_stat_replication WHERE application_name = 'pgkeep'" 2>/dev/null || true)
			[ "$s" = sync ] && break
			sleep 0.2
		done
		[ "$s" = sync ] || { tail -n 20 "$d/server.log" >&2; die "pgkeep is not the synchronous standby"; }
	fi
	local tps
	tps=$(as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c 8 -j 2 -T "$DURATION" postgres 2>/dev/null |
		awk '/^tps/ { print $3 }')
	if [ -n "$server_pid" ]; then
		cpu=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$server_pid/stat")
		kill "$server_pid"
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
	as_pg "$PGBIN/pg_ctl" -D "$d/data" -m fast -w stop >/dev/null
	echo "$mode $tps $cpu"
}

modes=(none:new sync:new strict:new)
[ -n "${BIN_OLD:-}" ] && modes+=(strict:old)
out=$work/results
: >"$out"
for ((r = 1; r <= ROUNDS; r++)); do
	for m in "${modes[@]}"; do
		say "round $r: ${m%%:*} (${m##*:})"
		line=$(run "${m%%:*}" "${m##*:}")
		echo "$r ${m##*:} $line" >>"$out"
		say "  $line"
	done
done

echo "## pgkeep server as synchronous standby: commit rate"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) CPUs, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), Linux $(uname -r)"
echo "- pgkeep $("$BIN" version 2>/dev/null | head -n 1)${BIN_OLD:+; old: $("$BIN_OLD" version 2>/dev/null | head -n 1)}"
echo "- command: \`ROUNDS=$ROUNDS DURATION=$DURATION SCALE=$SCALE${BIN_OLD:+ BIN_OLD=...} bash test/bench/server_strict.sh\`"
echo "- pgbench -n -c 8 -j 2 -T $DURATION on pgbench -i -s $SCALE, synchronous_commit on; server: partial-interval 1s, spool and repository on the data's disk"
echo
echo "| round | build | mode | TPS | daemon CPU (s) |"
echo "|---|---|---|---|---|"
awk '{ printf "| %s | %s | %s | %.0f | %s |\n", $1, $2, $3, $4, $5 }' "$out"
echo
echo "| mode (build) | TPS, median (min–max) | daemon CPU, median (s) |"
echo "|---|---|---|"
awk '{ k = $3 " (" $2 ")"; tps[k] = tps[k] " " $4; cpu[k] = cpu[k] " " $5 }
	END { for (k in tps) print k "|" tps[k] "|" cpu[k] }' "$out" | sort | while IFS='|' read -r k t c; do
	python3 - "$k" "$t" "$c" <<'PY'
import statistics, sys
k, t, c = sys.argv[1], [float(x) for x in sys.argv[2].split()], [float(x) for x in sys.argv[3].split()]
print(f"| {k} | {statistics.median(t):.0f} ({min(t):.0f}–{max(t):.0f}) | {statistics.median(c):.1f} |")
PY
done
