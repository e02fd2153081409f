#!/usr/bin/env bash
# Benchmark: point-in-time recovery through restore_command, pgkeep against
# pgBackRest, synchronous and async (prefetching) archive-get.
#
#   bash test/bench/archive_get.sh > report.md     (from the repository root)
#
# Needs: bin/pgkeep (`make build`), PostgreSQL 15 and pgBackRest
# (`scripts/install-deps.sh --bench`). Runs as root (PostgreSQL and both tools
# then run as the OS user `postgres`) or as an ordinary user.
#
# What it does:
#  1. initdb -k a throwaway PostgreSQL 15 on a free 127.0.0.1 port whose
#     archive_command pushes every WAL file into both repositories (pgkeep
#     archive-push, then pgbackrest archive-push; posix, zstd level 3 both);
#     pgkeep backup --type full of the empty cluster; then pgbench -i -s SCALE
#     and CHECKPOINT + pgbench -T 10 runs until NSEG segments past the backup
#     are written; a WAL switch; the server waits until both archives hold
#     everything and stops.
#  2. pgkeep restore of that backup into a template data directory (no target:
#     recovery replays the whole archive, then promotes). archive_mode is off in
#     the copies.
#  3. ROUNDS rounds (default 3). A round runs each mode on a fresh copy of the
#     template, in an order that rotates from round to round:
#       local            the segments are in pg_wal already (restore_command
#                        '/bin/false'): replay alone, the floor
#       pgkeep           restore_command pgkeep archive-get (one process per file)
#       pgkeep-async     the same with archive.async (prefetch 128 MB ahead,
#                        process-max 2)
#       pgbackrest       restore_command pgbackrest archive-get (archive-async=n)
#       pgbackrest-async the same with archive-async=y (archive-get-queue-max
#                        128 MB, process-max 2)
#     Each run is timed from pg_ctl start to the end of recovery
#     (pg_is_in_recovery() false, polled every 20 ms); the server log's "redo
#     done ... elapsed" is the replay alone. Async spools are emptied and their
#     background processes stopped between runs, so that no run starts warm.
#  4. Prints Markdown to stdout: machine, per-run numbers, the median and range
#     of each mode, the cost per segment over local, and the pgBackRest/pgkeep
#     ratios. Progress goes to stderr.
#
# With REPO=azure, pgkeep's repository is an Azure container in Azurite (from
# .tools, as `make test` installs it; blob requests over HTTP on loopback) and
# the modes are local, pgkeep and pgkeep-async (pgBackRest speaks only HTTPS
# to Azure).
#
# Environment: ROUNDS (3), NSEG (64), SCALE (50), REPO (posix), BIN (bin/pgkeep; not
# PGKEEP_*: pgkeep rejects unknown PGKEEP_ variables), PGBIN
# (/usr/lib/postgresql/15/bin), PGBACKREST (pgbackrest), MODES (all five),
# TMPDIR (/tmp).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
NSEG=${NSEG:-64}
SCALE=${SCALE:-50}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BIN=${BIN:-bin/pgkeep}
PGBACKREST=${PGBACKREST:-pgbackrest}
REPO=${REPO:-posix}
case $REPO in
posix) MODES=${MODES:-local pgkeep pgkeep-async pgbackrest pgbackrest-async} ;;
azure) MODES=${MODES:-local pgkeep pgkeep-async} ;;
*) echo "REPO: posix or azure" >&2 && exit 1 ;;
esac
CLUSTER=bench

. test/bench/lib.sh # say, die, free_port, initdb_loopback, pgbr_conf, require_tools

require_tools

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pgkeep-bench.XXXXXX")
chmod 0755 "$work"
[ "$(id -u)" = 0 ] && chown postgres: "$work"
stop_workers() {
	pkill -KILL -f -- "--prefetch-worker" 2>/dev/null || true
	pkill -KILL -f -- "pgbackrest.*archive-get:async" 2>/dev/null || true
}
cleanup() {
	for d in "$work/data" "$work/run"; do
		as_pg "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
	done
	stop_workers
	[ -n "${azurite_pid:-}" ] && kill -- "-$azurite_pid" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
as_pg mkdir -p "$work/pgbr-log" "$work/pgbr-lock" "$work/pgbr-spool" "$work/pk-spool"
as_pg cp "$BIN" "$work/pgkeep"
as_pg chmod 0755 "$work/pgkeep"
PGKEEP=$work/pgkeep
psql_c() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atqc "$1" postgres; }
segno_of() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
name_of() { printf '%08X%08X%08X' 1 $(($1 / 256)) $(($1 % 256)); }
current_segno() { segno_of "$(psql_c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")"; }

# ------------------------------------------------------------ configurations
pgbr_conf "$work/pgbr-repo" archive-async=n process-max=2
repo_yaml="repo:
  type: posix
  path: $work/pgkeep-repo"
if [ "$REPO" = azure ]; then
	azurite=.tools/node_modules/.bin/azurite-blob
	[ -x "$azurite" ] || die "$azurite not found: run 'make test' once (it installs Azurite)"
	[[ " $MODES " != *" pgbackrest"* ]] || die "REPO=azure: pgBackRest speaks only HTTPS to Azure; leave it out of MODES"
	az_port=$(free_port)
	mkdir -p "$work/azurite"
	setsid "$azurite" --blobHost 127.0.0.1 --blobPort "$az_port" --location "$work/azurite" --skipApiVersionCheck --silent \
		>"$work/azurite.log" 2>&1 &
	azurite_pid=$!
	for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$az_port") 2>/dev/null && break; sleep 0.1; done
	echo "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==" | as_pg tee "$work/az.key" >/dev/null
	repo_yaml="repo:
  type: azure
  azure:
    account: devstoreaccount1
    container: bench
    endpoint: http://127.0.0.1:$az_port/devstoreaccount1
    key-file: $work/az.key"
fi
as_pg tee "$work/pgkeep.yaml" >/dev/null <<YAML
cluster: $CLUSTER
$repo_yaml
  compress-type: zstd
  compress-level: 3
YAML
as_pg tee "$work/pgkeep-async.yaml" >/dev/null <<YAML
cluster: $CLUSTER
$repo_yaml
archive:
  async: true
  spool-path: $work/pk-spool
  get-queue-max-mb: 128
  process-max: 2
YAML
PK=("$PGKEEP" --config "$work/pgkeep.yaml")

PGBR_PUSH=""
[ "$REPO" = posix ] && PGBR_PUSH=" && ${PGBR[*]} archive-push %p"

# ------------------------------------------------------------- 1. the WAL
say "initdb -k and start PostgreSQL 15 on 127.0.0.1:$port (work dir $work)"
initdb_loopback "$work/data" "$port" "$work"
as_pg tee -a "$work/data/postgresql.conf" >/dev/null <<CONF
archive_mode = on
archive_command = '${PK[*]} archive-push %p${PGBR_PUSH:-}'
wal_keep_size = 4GB
max_wal_size = 4GB
synchronous_commit = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
[ "$(psql_c "SHOW wal_segment_size")" = 16MB ] || die "wal_segment_size is not 16MB"
[ "$REPO" = posix ] && as_pg "${PGBR[@]}" stanza-create
as_pg "${PK[@]}" --pg-host 127.0.0.1 --pg-port "$port" create >&2
say "pgkeep backup --type full (of the empty cluster: recovery replays everything after it)"
as_pg "${PK[@]}" --pg-host 127.0.0.1 --pg-port "$port" backup --type full >&2
first=$(($(current_segno) + 1))
last=$((first + NSEG - 1))
say "pgbench -i -s $SCALE, then pgbench runs until segment $(name_of $last)"
as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$SCALE" -q postgres >"$work/pgbench.log" 2>&1 ||
	{ cat "$work/pgbench.log" >&2; die "pgbench -i failed"; }
while [ "$(current_segno)" -le "$last" ]; do
	psql_c CHECKPOINT >/dev/null
	as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c 8 -j 2 -T 10 postgres >"$work/pgbench.log" 2>&1 ||
		{ cat "$work/pgbench.log" >&2; die "pgbench failed"; }
done
end=$(psql_c "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 600); do
	done_wal=$(psql_c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
	[[ "$done_wal" > "$end" || "$done_wal" = "$end" ]] && break
	sleep 0.5
done
[[ "$done_wal" > "$end" || "$done_wal" = "$end" ]] || die "WAL not archived after 5 minutes (last: $done_wal)"
[ "$(psql_c "SELECT failed_count FROM pg_stat_archiver")" = 0 ] || die "archive_command failed; see $work/server.log"
rows=$(psql_c "SELECT sum(abalance) || ':' || count(*) FROM pgbench_accounts")
as_pg "$PGBIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null
say "archived up to $end"

# ------------------------------------------------------------- 2. the base
say "pgkeep restore into the template"
as_pg "${PK[@]}" restore --pgdata "$work/base" >&2
as_pg tee -a "$work/base/postgresql.auto.conf" >/dev/null <<CONF
archive_mode = off
recovery_target_timeline = 'current'
CONF
as_pg mkdir -p "$work/localwal"
for ((s = first - 2; s <= $(segno_of "$end"); s++)); do
	n=$(name_of $s)
	[ -f "$work/data/pg_wal/$n" ] && as_pg cp "$work/data/pg_wal/$n" "$work/localwal/$n"
done
sync

restore_cmd() { # MODE
	case $1 in
	local) echo "/bin/false" ;;
	pgkeep) echo "${PK[*]} archive-get %f \"%p\"" ;;
	pgkeep-async) echo "$PGKEEP --config $work/pgkeep-async.yaml archive-get %f \"%p\"" ;;
	pgbackrest) echo "${PGBR[*]} --pg1-path=$work/run archive-get %f \"%p\"" ;;
	pgbackrest-async) echo "${PGBR[*]} --pg1-path=$work/run --archive-async archive-get %f \"%p\"" ;;
	*) die "unknown mode $1" ;;
	esac
}

# run MODE ROUND: one recovery; appends "ROUND MODE wall redo segments rss_kb" to results.
run() {
	local mode=$1 round=$2 t0 t1 redo segs rss=0 pid hwm
	rm -rf "$work/run"
	as_pg cp -a "$work/base" "$work/run"
	[ "$mode" = local ] && as_pg cp "$work"/localwal/* "$work/run/pg_wal/"
	echo "restore_command = '$(restore_cmd "$mode")'" | as_pg tee -a "$work/run/postgresql.auto.conf" >/dev/null
	sync
	t0=$EPOCHREALTIME
	as_pg "$PGBIN/pg_ctl" -D "$work/run" -l "$work/run.log" -W start >/dev/null
	for _ in $(seq 30000); do
		[ "$(psql_c "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
		if [ "$mode" = pgkeep-async ] && pid=$(cat "$work"/pk-spool/archive-get/$CLUSTER/*/prefetch.lock 2>/dev/null); then
			hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
			[ -n "$hwm" ] && [ "$hwm" -gt "$rss" ] && rss=$hwm
		fi
		sleep 0.02
	done
	t1=$EPOCHREALTIME
	[ "$(psql_c "SELECT pg_is_in_recovery()")" = f ] || die "$mode: recovery did not end; see $work/run.log"
	[ "$(psql_c "SELECT sum(abalance) || ':' || count(*) FROM pgbench_accounts")" = "$rows" ] ||
		die "$mode: the recovered data differs from the source's"
	redo=$(sed -n 's/.*redo done at .* elapsed: \([0-9.]*\) s.*/\1/p' "$work/run.log" | tail -n 1)
	segs=$(grep -c 'restored log file "[0-9A-F]\{24\}"' "$work/run.log" || true)
	as_pg "$PGBIN/pg_ctl" -D "$work/run" -m immediate stop >/dev/null
	stop_workers
	rm -rf "$work"/pk-spool/archive-get "$work"/pgbr-spool/archive
	echo "$round $mode $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') ${redo:-0} $segs $rss" >>"$work/results"
	say "round $round $mode: $(tail -n 1 "$work/results" | cut -d' ' -f3-) (wall redo segments rss)"
	rm -f "$work/run.log"
}

# ---------------------------------------------------------------- 3. runs
read -r -a modes <<<"$MODES"
: >"$work/results"
for ((r = 1; r <= ROUNDS; r++)); do
	n=${#modes[@]}
	for ((i = 0; i < n; i++)); do
		run "${modes[$(((i + r - 1) % n))]}" "$r"
	done
done

# -------------------------------------------------------------- 4. report
stat() { sort -g | awk '{ a[NR] = $1 } END { m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%s %s %s\n", m, a[1], a[NR] }'; }
col() { awk -v m="$1" -v c="$2" '$2 == m { print $c }' "$work/results"; }
med() { col "$1" "$2" | stat | cut -d' ' -f1; }
cell() { col "$1" "$2" | stat | awk -v f="$3" '{ printf f " (" f "–" f ")", $1, $2, $3 }'; }

cat <<EOF
- **Date:** $(date -u '+%Y-%m-%d %H:%M UTC'). **Machine:** $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, Linux $(uname -r).
- **Software:** $("$PGKEEP" version | head -n 1), $("$PGBACKREST" version), PostgreSQL $("$PGBIN/postgres" --version | awk '{ print $3 }').
- **Command:** \`ROUNDS=$ROUNDS NSEG=$NSEG SCALE=$SCALE REPO=$REPO bash test/bench/archive_get.sh\`
- **WAL:** $(col "${modes[-1]}" 5 | head -n 1) segments restored per recovery (pgbench -i -s $SCALE and pgbench -c 8 -T 10 runs after a full backup of the empty cluster), repositories: $REPO (pgkeep; pgBackRest posix), zstd level 3, on the same disk.

| mode | recovery, s | replay ("redo done ... elapsed"), s | segments | cost per segment over local, ms | prefetcher peak RSS, MB |
|---|---|---|---|---|---|
EOF
loc=$(med local 3)
for m in "${modes[@]}"; do
	over=$(awk -v a="$(med "$m" 3)" -v b="${loc:-0}" -v n="$(med "$m" 5)" 'BEGIN { if (n > 0) printf "%.1f", (a - b) * 1000 / n; else print "-" }')
	rss=$(awk -v k="$(med "$m" 6)" 'BEGIN { if (k > 0) printf "%.1f", k / 1024; else print "-" }')
	echo "| $m | $(cell "$m" 3 %.2f) | $(cell "$m" 4 %.2f) | $(med "$m" 5) | $over | $rss |"
done
echo
for pair in "pgkeep pgbackrest" "pgkeep-async pgbackrest-async"; do
	read -r a b <<<"$pair"
	if [[ " ${modes[*]} " == *" $a "* && " ${modes[*]} " == *" $b "* ]]; then
		echo "- $b / $a recovery time: $(awk -v x="$(med "$b" 3)" -v y="$(med "$a" 3)" 'BEGIN { printf "%.2fx", x / y }') (medians)"
	fi
done
echo
echo "Per run (round mode wall_s redo_s segments prefetcher_rss_kb):"
echo
echo '```'
cat "$work/results"
echo '```'
