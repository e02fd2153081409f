#!/usr/bin/env bash
# Benchmark: `pgkeep server` streaming WAL into the repository under pgbench,
# against `archive_command = pgbackrest archive-push` (async) and against no
# archiving at all (issue 4, "Measure and report").
#
#   bash test/bench/server_stream.sh > report.md     (from the repository root)
#
# Needs: bin/pgkeep (`make build`), PostgreSQL 15 and pgBackRest
# (`scripts/install-deps.sh --bench`), GNU time (/usr/bin/time), jq, curl
# (installed with apt-get when missing and running as root) and python3 (a
# 20-line subreaper, see below). Runs as root (PostgreSQL, pgkeep and
# pgBackRest then run as the OS user `postgres`) or as an ordinary user.
# Optional: perf and go for PROFILE=1.
#
# What it does:
#  1. initdb -k a throwaway PostgreSQL 15 on a free 127.0.0.1 port
#     (shared_buffers SHARED_BUFFERS: 1GB, which holds the whole data set, or a
#     quarter of the RAM if that is less; max_wal_size MAX_WAL_SIZE (4GB);
#     track_wal_io_timing on (the WAL fsync time of each run); everything
#     else default: synchronous_commit on, wal_level replica,
#     checkpoint_timeout 5min), pgbench -i -s SCALE (50), CREATE EXTENSION
#     pg_prewarm, VACUUM ANALYZE; stopped; its data directory is the template.
#  2. ROUNDS rounds (1) of the modes none, pgkeep, pgbackrest (in this order in
#     odd rounds, reversed in even rounds). Every run starts from a fresh copy
#     of the template with the same settings; only these differ:
#       none:       archive_mode off, nothing receives WAL;
#       pgkeep:     archive_mode off; a fresh posix repository, `pgkeep create`,
#                   then `pgkeep server` (no etcd: it streams from pg.host over
#                   a physical slot; spool on the same disk, partial-interval
#                   PARTIAL_INTERVAL (1s), no schedules) until /status says the
#                   stream runs;
#       pgbackrest: archive_mode on, archive_command = 'pgbackrest
#                   --config=WORK/pgbackrest.conf --stanza=bench archive-push %p'
#                   with archive-async=y, spool-path, process-max=2,
#                   compress-type=zst, compress-level=3, a fresh posix
#                   repository (stanza-create and check first), file log at
#                   the default level (info).
#       pgkeep-async: only with MODES including it: archive_mode on,
#                   archive_command = 'pgkeep archive-push --async %p' with
#                   a spool in the work directory, process-max 2, into a
#                   fresh posix repository (`pgkeep create` first): the
#                   counterpart of the pgbackrest mode. Its lag is measured
#                   like pgBackRest's, from pg_stat_archiver, which counts a
#                   segment once it is fsynced in the spool (pgBackRest: once
#                   it is in the repository); its drain waits until the
#                   spool is empty too.
#       receivewal: only with MODES including it (a reference, not a goal):
#                   archive_mode off; PostgreSQL's own pg_receivewal streams
#                   over a physical slot into a directory beside pgkeep's
#                   spool (no compression, fsync at each segment's end, no
#                   upload): what any streaming receiver costs the server.
#     PostgreSQL runs under a child subreaper (python3 prctl): pgBackRest's
#     async archive-push detaches itself (setsid, double fork), and this way
#     it is reparented to the subreaper, which waits for it and logs its CPU
#     and maxrss (otherwise its CPU is counted nowhere).
#     Each run: start the server, pg_prewarm the pgbench tables and indexes,
#     set the mode up, wait for a quiet machine (less than QUIET_MAX (0.3)
#     CPUs busy over 1 s; at most QUIET_WAIT (900) s in all), CHECKPOINT,
#     measure the machine's load for IDLE_S (5) seconds while nothing of ours
#     works, then `pgbench -n -c 8 -j 2 -T DURATION` (120; over TCP; no vacuum:
#     the template is vacuumed), and meanwhile once a second over one extra
#     connection pg_current_wal_flush_lsn() and pg_stat_archiver, and (pgkeep)
#     GET /status. After pgbench: SELECT pg_switch_wal() and the time until the
#     archive holds the switched segment (pgkeep: /status archived >= its end
#     and >= the flush position; pgBackRest: pg_stat_archiver.last_archived_wal
#     reaches it); then (pgkeep) every segment from the first streamed one up
#     to the switched one must be in the repository as a full segment, is
#     fetched with `pgkeep archive-get` and compared with pg_wal's copy (byte
#     for byte, where pg_wal still holds it), and `pgkeep verify` must pass.
#  3. Measured per run: TPS (pgbench, without initial connection time); WAL
#     written (flush position delta); archive lag sampled each second during
#     pgbench: bytes = server flush position - archived position (pgkeep: the
#     /status `archived` LSN; pgBackRest: the end of last_archived_wal), seconds
#     = /status `lag-seconds` (pgkeep) or, for both, the script's own: the age
#     of the oldest flush sample the archive had not caught up with (1 s
#     resolution); the archiving CPU: pgkeep's daemon (utime+stime from
#     /proc/PID/stat), pgBackRest's archiver with its archive-push children
#     plus the detached async processes; over the pgbench run and until the
#     drain ends; peak RSS: the daemon's VmHWM, pgBackRest's largest async
#     process; the walsender's CPU; checkpoints during the run; and the noise:
#     busy CPUs of the whole machine from /proc/stat during the run (split into
#     processes, irq+softirq and steal), the CPU of our own processes
#     (postmaster and its children, pgbench, the daemon, the detached
#     pgBackRest processes), the difference in process time (= everything else
#     on the machine), and the busy CPUs during the idle measurement.
#  4. Prints Markdown to stdout: settings, a table per mode (median and range
#     over the rounds), the goals (median lag < 1 s, max lag < one segment,
#     RSS < 150 MB, TPS cost < 5% against none), a per-run table and the raw
#     measurements. Progress goes to stderr.
#
# SPLIT=1 runs the database host and the repository host as two halves of
# this machine, the deployment DESIGN.md intends (pgkeep server on its own
# VM): PostgreSQL (and with it pgBackRest's archive_command) and pgbench are
# pinned to DB_CPUS (0), pgkeep server and the sampler to REPO_CPUS (1)
# (taskset), and pgkeep's spool and both repositories are on tmpfs
# (/dev/shm), so that the repository host's writes do not share the
# database's disk. What stays shared is memory bandwidth, the caches and the
# hypervisor. pgBackRest still compresses on the database host, as it does
# with a remote repository.
#
# Environment: DURATION (120), ROUNDS (1), MODES ("none pgkeep pgbackrest"; also
# pgkeep-async, receivewal),
# SCALE (50), CLIENTS (8), JOBS (2), PARTIAL_INTERVAL (1s), SHARED_BUFFERS,
# MAX_WAL_SIZE (4GB), IDLE_S (5), QUIET_MAX (0.3), QUIET_WAIT (900),
# BIN (bin/pgkeep; not PGKEEP_*: pgkeep rejects unknown PGKEEP_ variables), PGBIN (/usr/lib/postgresql/15/bin), PGBACKREST
# (pgbackrest), TMPDIR (work directory parent, /tmp: on the disk, not tmpfs),
# LOG_LEVEL (info: the daemon's log level; debug logs every upload with its
# duration), SPLIT (0), DB_CPUS (0), REPO_CPUS (1), KEEP (1: keep the work directory), PROFILE (1: after the rounds, one more
# pgkeep run, not in the tables, with `perf record -g` on the daemon, built
# with symbols from the current tree, or PROFILE_BIN if set; needs root, perf
# and go).
set -euo pipefail
export LC_ALL=C TZ=UTC
cd "$(dirname "$0")/../.."

DURATION=${DURATION:-120}
ROUNDS=${ROUNDS:-1}
MODES=${MODES:-none pgkeep pgbackrest}
# every mode the script knows, in the order of the report's columns
ALL_MODES="none pgkeep pgbackrest pgkeep-async receivewal"
SCALE=${SCALE:-50}
CLIENTS=${CLIENTS:-8}
JOBS=${JOBS:-2}
PARTIAL_INTERVAL=${PARTIAL_INTERVAL:-1s}
MAX_WAL_SIZE=${MAX_WAL_SIZE:-4GB}
IDLE_S=${IDLE_S:-5}
PROFILE=${PROFILE:-0}
SPLIT=${SPLIT:-0}
DB_CPUS=${DB_CPUS:-0}
REPO_CPUS=${REPO_CPUS:-1}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BIN=${BIN:-bin/pgkeep}
PGBACKREST=${PGBACKREST:-pgbackrest}
CLUSTER=bench
SEGSIZE=$((16 * 1024 * 1024))
HZ=$(getconf CLK_TCK)
NCPU=$(nproc)
mem_kb=$(awk '/^MemTotal/ { print $2 }' /proc/meminfo)
if [ -z "${SHARED_BUFFERS:-}" ]; then
	if ((mem_kb / 4 >= 1048576)); then SHARED_BUFFERS=1GB; else SHARED_BUFFERS=$((mem_kb / 4 / 1024))MB; fi
fi

. test/bench/lib.sh # say, die, free_port, initdb_loopback, pgbr_conf, require_tools

# ---------------------------------------------------------------- prerequisites
[ -x "$BIN" ] || die "$BIN not found: run 'make build' first"
BIN=$(realpath "$BIN")
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pgbench" ] || die "PostgreSQL 15 not found in $PGBIN: run scripts/install-deps.sh --bench"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds)"
for m in $MODES; do
	case " $ALL_MODES " in *" $m "*) ;; *) die "unknown mode $m in MODES" ;; esac
done
case " $MODES " in *" pgbackrest "*)
	PGBACKREST=$(command -v "$PGBACKREST") || die "pgbackrest not found: run scripts/install-deps.sh --bench"
	;;
esac
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v curl >/dev/null || missing+=(curl)
if ((${#missing[@]})); then
	[ "$(id -u)" = 0 ] || die "missing: ${missing[*]} (apt-get install ${missing[*]})"
	say "installing ${missing[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if [ "$PROFILE" = 1 ]; then
	[ "$(id -u)" = 0 ] && command -v perf >/dev/null && command -v go >/dev/null || die "PROFILE=1 needs root, perf and go"
fi

ROOT=0
if [ "$(id -u)" = 0 ]; then ROOT=1; fi
# SPLIT=1: the database host and the repository host as two halves of this
# machine (see the header).
DB_PIN=() REPO_PIN=()
if [ "$SPLIT" = 1 ]; then
	command -v taskset >/dev/null || die "SPLIT=1 needs taskset (util-linux)"
	[ -d /dev/shm ] || die "SPLIT=1 needs /dev/shm (tmpfs) for the repository host's storage"
	DB_PIN=(taskset -c "$DB_CPUS") REPO_PIN=(taskset -c "$REPO_CPUS")
fi
as_pg() { if ((ROOT)); then runuser -u postgres -- "$@"; else "$@"; fi; }
# AS_PG_EXEC: a prefix that runs a command as postgres by exec, without a
# parent process in between (so that `CMD &` leaves the command's PID in $!).
AS_PG_EXEC=()
((ROOT)) && AS_PG_EXEC=(setpriv --reuid=postgres --regid=postgres --init-groups --)

work=$(mktemp -d "${TMPDIR:-/tmp}/pgkeep-bench.XXXXXX")
chmod 0755 "$work"
((ROOT)) && chown postgres: "$work"
# remote: where the repositories and pgkeep's spool live: the work directory,
# or with SPLIT=1 a tmpfs directory (the repository host's own storage).
remote=$work
if [ "$SPLIT" = 1 ]; then
	remote=$(mktemp -d /dev/shm/pgkeep-bench-remote.XXXXXX)
	chmod 0755 "$remote"
	((ROOT)) && chown postgres: "$remote"
fi
DAEMON_PID="" SAMPLER_PID="" PERF_PID="" PG_UP=0
cleanup() {
	if [ -n "$SAMPLER_PID" ]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
	if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID" 2>/dev/null || true; fi
	if [ -n "$DAEMON_PID" ]; then kill "$DAEMON_PID" 2>/dev/null && sleep 1; fi
	if ((PG_UP)); then as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true; fi
	if [ "$remote" != "$work" ]; then rm -rf "$remote"; fi
	if [ "${KEEP:-0}" = 1 ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)
http_port=$(free_port)
[ "$http_port" != "$port" ] || http_port=$(free_port)
LISTEN=127.0.0.1:$http_port

as_pg mkdir -p "$work/out"
as_pg cp "$BIN" "$work/pgkeep"
as_pg chmod 0755 "$work/pgkeep"
PGKEEP=$work/pgkeep

psql_c() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atqc "$1" postgres; }

# PostgreSQL runs under a child subreaper (reaper.py): pgBackRest's async
# archive-push detaches itself (setsid, double fork), so its CPU would never be
# counted in the postmaster's children; orphaned, it is reparented to the
# reaper instead, which waits for it and logs its resource usage:
#   start PID                                  (the command it started)
#   EPOCH PID WAITSTATUS UTIME STIME MAXRSS_KB  (every process it reaped)
command -v python3 >/dev/null || die "python3 is needed (the subreaper that accounts for detached processes)"
PYTHON=$(python3 -c 'import sys; print(sys.executable)') # the interpreter itself, not a wrapper script (pyenv)
cat >"$work/reaper.py" <<'PY'
import ctypes, os, sys, time
if ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
    sys.exit("prctl(PR_SET_CHILD_SUBREAPER) failed")
log = open(sys.argv[1], "a", buffering=1)
child = os.fork()
if child == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
log.write("start %d\n" % child)
while True:
    try:
        pid, status, ru = os.wait4(-1, 0)
    except ChildProcessError:
        break
    log.write("%.6f %d %d %.6f %.6f %d\n" % (time.time(), pid, status, ru.ru_utime, ru.ru_stime, ru.ru_maxrss))
PY
AS_PG=()
((ROOT)) && AS_PG=(runuser -u postgres --)
REAPER_PID="" REAP_LOG="" PM_PID=""
pg_start() { # SERVER_LOG REAP_LOG
	local i c="" st=""
	REAP_LOG=$2
	PG_UP=1
	"$PYTHON" "$work/reaper.py" "$REAP_LOG" "${AS_PG[@]}" "${DB_PIN[@]}" "$PGBIN/pg_ctl" -D "$work/data" -l "$1" -w -t 300 start >/dev/null &
	REAPER_PID=$!
	for ((i = 0; i < 3200; i++)); do
		[ -n "$c" ] || c=$(awk '$1 == "start" { print $2 }' "$REAP_LOG" 2>/dev/null || true)
		if [ -n "$c" ]; then st=$(awk -v c="$c" '$1 != "start" && $2 == c { print $3 }' "$REAP_LOG"); fi
		[ -n "$st" ] && break
		kill -0 "$REAPER_PID" 2>/dev/null || die "the reaper died before pg_ctl start ended"
		sleep 0.1
	done
	[ "$st" = 0 ] || die "pg_ctl start failed (wait status ${st:-none}; see $1)"
	PM_PID=$(head -n 1 "$work/data/postmaster.pid")
}
pg_stop() {
	local i
	as_pg "$PGBIN/pg_ctl" -D "$work/data" -m fast -w -t 300 stop >/dev/null
	PG_UP=0
	for ((i = 0; i < 600; i++)); do
		kill -0 "$REAPER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$REAPER_PID" 2>/dev/null; then
		echo "after pg_ctl stop: processes left under the reaper 60 s later: $(cat /proc/"$REAPER_PID"/task/*/children)" >>"$work/odd"
		kill "$REAPER_PID" 2>/dev/null || true
	fi
	wait "$REAPER_PID" 2>/dev/null || true
	REAPER_PID=""
}
# orphan_cpu FROM TO: CPU seconds of the detached processes the reaper reaped
# in (FROM, TO] (their waited-for children included).
orphan_cpu() {
	awk -v a="$1" -v b="$2" -v pm="$PM_PID" '$1 == "start" { c = $2; next }
		$2 != c && $2 != pm && $1 > a && $1 <= b { s += $4 + $5 } END { printf "%.2f\n", s }' "$REAP_LOG"
}
lsn2int() { # X/Y -> integer
	local h=${1%/*} l=${1#*/}
	echo $(((16#$h << 32) + 16#$l))
}
# Segment number <-> file name (16 MiB segments: 256 per log id).
segno_of() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
name_of() { printf '%08X%08X%08X' "$1" $(($2 / 256)) $(($2 % 256)); } # TLI SEGNO

# ------------------------------------------------------------- 1. the template
say "initdb -k, PostgreSQL 15 on 127.0.0.1:$port, shared_buffers=$SHARED_BUFFERS, max_wal_size=$MAX_WAL_SIZE (work dir $work)"
initdb_loopback "$work/data" "$port" "$work"
cat >>"$work/data/postgresql.conf" <<CONF
shared_buffers = $SHARED_BUFFERS
max_wal_size = $MAX_WAL_SIZE
log_checkpoints = on
track_wal_io_timing = on
# the mode of the run: archive_mode and archive_command (none, pgkeep, pgbackrest)
include_if_exists = 'bench_mode.conf'
CONF
pg_start "$work/out/init.log" "$work/out/reaped.init"
[ "$(psql_c "SHOW wal_segment_size")" = 16MB ] || die "wal_segment_size is not 16MB"
say "pgbench -i -s $SCALE"
t=$EPOCHREALTIME
as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$SCALE" -q postgres >"$work/out/pgbench-init.log" 2>&1 ||
	{
		cat "$work/out/pgbench-init.log" >&2
		die "pgbench -i failed"
	}
psql_c "CREATE EXTENSION pg_prewarm" >/dev/null
psql_c "VACUUM ANALYZE" >/dev/null
db_mb=$(psql_c "SELECT pg_database_size('postgres') / 1000000")
psql_c CHECKPOINT >/dev/null
pg_stop
as_pg mv "$work/data" "$work/template"
say "template ready: database $db_mb MB, loaded in $(awk -v a="$t" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s"

# -------------------------------------------------------------- 2. tool setup
pgbr_conf "$remote/pgbr-repo" archive-async=y process-max=2

cat >"$work/pgkeep.yaml" <<YAML
cluster: $CLUSTER
log-level: ${LOG_LEVEL:-info}
repo:
  type: posix
  path: $remote/pgkeep-repo
pg:
  host: 127.0.0.1
  port: $port
  user: postgres
  data: $work/data
  bin: $PGBIN
server:
  name: bench
  listen: $LISTEN
  spool-path: $remote/pgkeep-spool
  partial-interval: $PARTIAL_INTERVAL
YAML
chmod 0644 "$work/pgkeep.yaml"
PK=("$PGKEEP" --config "$work/pgkeep.yaml")
# The pgkeep-async mode: the same repository, archive_command in async mode.
cp "$work/pgkeep.yaml" "$work/pgkeep-async.yaml"
cat >>"$work/pgkeep-async.yaml" <<YAML
archive:
  async: true
  spool-path: $work/pgkeep-aspool
  process-max: 2
YAML
chmod 0644 "$work/pgkeep-async.yaml"
ASPOOL=$work/pgkeep-aspool/archive-push/$CLUSTER
# async_mode: the run archives through a detached async process (the
# archiver's CPU and the reaper's log count).
async_mode() { [ "$1" = pgbackrest ] || [ "$1" = pgkeep-async ]; }

# ------------------------------------------------------------------ helpers
R=$work/results
: >"$R"
res() { echo "$1 $2 $3 $4" >>"$R"; } # ROUND MODE METRIC VALUE

# busy: "busy idle task irq steal" jiffies of all CPUs from /proc/stat: busy =
# task (user+nice+system) + irq (irq+softirq) + steal; idle = idle+iowait.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6, $2 + $3 + $4, $7 + $8, $9 }' /proc/stat; }
busy_cpus() { # BUSY0 BUSY1 [FIELD: 1 busy (default), 3 task, 4 irq, 5 steal] -> CPUs over the interval
	awk -v a="$1" -v b="$2" -v f="${3:-1}" -v n="$NCPU" 'BEGIN { split(a, x, " "); split(b, y, " ")
		t = (y[1] - x[1]) + (y[2] - x[2]); printf "%.3f", (t > 0) ? n * (y[f] - x[f]) / t : 0 }'
}
# disk: "writes sectors_written ms_writing ms_doing_io flushes" of the work
# directory's block device, from /proc/diskstats (zeros if it is not found).
DISK=$(basename "$(df --output=source "$work" | tail -n 1)")
disk() { awk -v d="$DISK" '$3 == d { print $8, $10, $11, $13, ($19 == "" ? 0 : $19); f = 1 } END { if (!f) print "0 0 0 0 0" }' /proc/diskstats; }
# ticks PID...: utime+stime+cutime+cstime of the given processes (clock ticks).
ticks() {
	local p
	for p in "$@"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
		awk '{ sub(/^[0-9]+ \(.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}
pm_children() { cat /proc/"$PM_PID"/task/*/children 2>/dev/null || true; }
# pm_child NAME: the PID of the server process whose title starts with "postgres: NAME".
pm_child() {
	local p
	for p in $(pm_children); do
		if tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q "^postgres: $1"; then
			echo "$p"
			return
		fi
	done
}
# CPU ticks of the server: postmaster and children, reaped children included.
pg_ticks() { ticks "$PM_PID" $(pm_children); }
# detached_ticks: CPU ticks so far of the live processes under the reaper other
# than the postmaster's tree (detached pgBackRest processes and their children).
detached_ticks() {
	local -a q
	local p kids out=()
	[ -n "$REAPER_PID" ] || {
		echo 0
		return
	}
	# A children file has no newline at its end: read it whole (read(1) would
	# report EOF and, with `|| q=()`, drop what it read).
	read -r -a q <<<"$(cat "/proc/$REAPER_PID/task/$REAPER_PID/children" 2>/dev/null)"
	while ((${#q[@]})); do
		p=${q[0]}
		q=("${q[@]:1}")
		[ "$p" = "$PM_PID" ] && continue
		out+=("$p")
		kids=$(cat "/proc/$p/task/$p/children" 2>/dev/null || true)
		# shellcheck disable=SC2206 # pids: split on blanks
		q+=($kids)
	done
	# With cutime/cstime: a child reaped by a live process counts in it; a live
	# child counts itself.
	for p in "${out[@]}"; do cat "/proc/$p/stat" 2>/dev/null || true; done |
		awk '{ sub(/^[0-9]+ \(.*\) /, ""); s += $12 + $13 + $14 + $15 } END { print s + 0 }'
}

# The sampler, once a second until $work/stop exists: one line per sample
#   S epoch flush archived_pgbr archived flushed server_end lag_bytes lag_seconds
# flush: pg_current_wal_flush_lsn(); archived_pgbr: the end of
# pg_stat_archiver.last_archived_wal (-1: none); the last five from /status
# (pgkeep only; "-" where absent); LSNs as integers.
# The psql connection stays open (a coprocess); /status is read before the
# flush position, so that lag bytes are never underestimated.
sampler() { # MODE OUT
	local mode=$1 out=$2 t st line next now a f e lb ls
	coproc PQ { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atq -F ' ' postgres 2>/dev/null; }
	next=${EPOCHREALTIME/./}
	while [ ! -e "$work/stop" ]; do
		t=$EPOCHREALTIME
		st="- - - - -"
		if [ "$mode" = pgkeep ]; then
			read -r a f e lb ls < <(curl -sf --max-time 2 "http://$LISTEN/status" |
				jq -r '.stream // {} | [.archived // "-", .flushed // "-", .["server-end"] // "-", .["lag-bytes"] // "-", .["lag-seconds"] // "-"] | map(tostring) | join(" ")' 2>/dev/null) || true
			[[ "${a:-}" == */* ]] && a=$(lsn2int "$a") || a=-
			[[ "${f:-}" == */* ]] && f=$(lsn2int "$f") || f=-
			[[ "${e:-}" == */* ]] && e=$(lsn2int "$e") || e=-
			st="$a $f $e ${lb:--} ${ls:--}"
		fi
		echo "SELECT pg_current_wal_flush_lsn() - '0/0', coalesce((SELECT (('x' || substr(last_archived_wal, 9, 8))::bit(32)::bigint * 256
			+ ('x' || substr(last_archived_wal, 17, 8))::bit(32)::bigint + 1) * $SEGSIZE FROM pg_stat_archiver), -1);" >&"${PQ[1]}"
		line=""
		read -r -t 5 line <&"${PQ[0]}" || line="- -"
		echo "S $t $line $st" >>"$out"
		next=$((next + 1000000))
		now=${EPOCHREALTIME/./}
		if ((next > now)); then
			sleep "$(printf '%d.%06d' $(((next - now) / 1000000)) $(((next - now) % 1000000)))"
		else
			next=$now
		fi
	done
	echo '\q' >&"${PQ[1]}" 2>/dev/null || true
	wait 2>/dev/null || true
}

wait_status() { # JQ-CONDITION TIMEOUT_S -> 0 when /status satisfies it
	local i
	for ((i = 0; i < $2 * 5; i++)); do
		curl -sf --max-time 2 "http://$LISTEN/status" | jq -e "$1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}
status_lsn() { # FIELD -> integer LSN of .stream.FIELD, or -1
	local v
	v=$(curl -sf --max-time 2 "http://$LISTEN/status" | jq -r ".stream[\"$1\"] // empty" 2>/dev/null) || v=""
	if [ -n "$v" ]; then lsn2int "$v"; else echo -1; fi
}

start_daemon() {
	"${REPO_PIN[@]}" "${AS_PG_EXEC[@]}" "${PK[@]}" server >"$work/out/server.$1.log" 2>&1 &
	DAEMON_PID=$!
	if ! wait_status '.role == "active" and .stream.running == true and (.stream.segment // "") != ""' 60; then
		tail -n 30 "$work/out/server.$1.log" >&2
		die "pgkeep server did not start streaming within 60 s"
	fi
}
stop_daemon() {
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	local i
	for ((i = 0; i < 300; i++)); do
		kill -0 "$DAEMON_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$DAEMON_PID" 2>/dev/null; then
		say "  pgkeep server still running 30 s after SIGTERM: killing it"
		echo "$1 stop: still running 30 s after SIGTERM" >>"$work/odd"
		kill -KILL "$DAEMON_PID" 2>/dev/null || true
	fi
	wait "$DAEMON_PID" 2>/dev/null && rc=0 || rc=$?
	((rc == 0)) || echo "$1 stop: pgkeep server exited with status $rc after SIGTERM" >>"$work/odd"
	DAEMON_PID=""
}

# quiet_wait: until the machine's busy CPUs over 1 s are below QUIET_MAX (0.3),
# polling every 5 s, at most QUIET_WAIT seconds in all (900); records the waits.
QUIET_LEFT=${QUIET_WAIT:-900}
quiet_wait() { # ID
	local a b l waited=0
	while :; do
		a=$(busy)
		sleep 1
		b=$(busy)
		l=$(busy_cpus "$a" "$b")
		awk -v l="$l" -v m="${QUIET_MAX:-0.3}" 'BEGIN { exit !(l < m) }' && break
		if ((QUIET_LEFT <= 0)); then
			say "  machine busy ($l CPUs), no wait left: measuring anyway"
			break
		fi
		((waited == 0)) && say "  machine busy ($l CPUs): waiting for it to calm down"
		sleep 4
		waited=$((waited + 5)) QUIET_LEFT=$((QUIET_LEFT - 5))
	done
	((waited == 0)) || say "  waited $waited s for a quiet machine"
	echo "$waited"
}

# pgkeep_check ID FIRST_SEGNO LAST_SEGNO: every segment in the repository as a
# full segment, archive-get of each equal to pg_wal's copy (where pg_wal still
# has it), pgkeep verify. Prints "expected present compared identical verify_rc".
pgkeep_check() {
	local id=$1 first=$2 last=$3 s n present=0 compared=0 same=0 dir rc
	for ((s = first; s <= last; s++)); do
		n=$(name_of 1 "$s")
		dir=$remote/pgkeep-repo/$CLUSTER/wal/${n:0:16}
		[ -f "$dir/$n" ] || {
			echo "$id: segment $n missing from the repository" >>"$work/odd"
			continue
		}
		present=$((present + 1))
		if [ -f "$work/data/pg_wal/$n" ]; then
			compared=$((compared + 1))
			rm -f "$work/got"
			if as_pg "${PK[@]}" archive-get "$n" "$work/got" >/dev/null 2>>"$work/out/archive-get.$id.err" &&
				cmp -s "$work/got" "$work/data/pg_wal/$n"; then
				same=$((same + 1))
			else
				echo "$id: segment $n: archive-get differs from pg_wal or failed" >>"$work/odd"
			fi
		fi
	done
	rm -f "$work/got"
	as_pg "${PK[@]}" verify >"$work/out/verify.$id.out" 2>&1 && rc=0 || rc=$?
	((rc == 0)) || echo "$id: pgkeep verify exited with $rc (see below)" >>"$work/odd"
	echo "$((last - first + 1)) $present $compared $same $rc"
}

# check_repo ROUND MODE ID FIRST_SEGNO LAST_SEGNO: pgkeep_check, recorded.
check_repo() {
	local r=$1 m=$2 segs present compared same vrc
	read -r segs present compared same vrc < <(pgkeep_check "$3" "$4" "$5")
	res "$r" "$m" segs "$segs"
	res "$r" "$m" present "$present"
	res "$r" "$m" compared "$compared"
	res "$r" "$m" identical "$same"
	res "$r" "$m" verify_rc "$vrc"
	res "$r" "$m" first_seg "$(name_of 1 "$4")"
	res "$r" "$m" last_seg "$(name_of 1 "$5")"
}

# ---------------------------------------------------------------- 3. one run
run() { # ROUND MODE [profile]
	local r=$1 mode=$2 prof=${3:-} id=$1.$2 arch="" b0 b1 i0 i1 o0 o1 d0 d1 d2 w0 w1 a0 a1 a2 x0 x1 x2 t0 t1 tb0 tb1 tdr
	local flush0 flush1 ck0 ck1 wsnd="" sw_flush sw_seg t_sw drain first last rss vmhwm vmhwm_end got
	local k0 k1 wsync wsync_ms wfpi
	[ -n "$prof" ] && id=profile.$mode
	say "round $r: $mode${prof:+ (profile run)}"
	rm -rf "$work/data" "$remote/pgkeep-repo" "$remote/pgkeep-spool" "$work/pgkeep-aspool" "$remote/pgbr-repo" "$work/pgbr-spool" "$work/pgbr-log" "$work/pgbr-lock" "$work/stop" "$remote/receivewal"
	as_pg cp -a "$work/template" "$work/data"
	case $mode in
	pgbackrest)
		as_pg tee "$work/data/bench_mode.conf" >/dev/null <<CONF
archive_mode = on
archive_command = '$PGBACKREST --config=$work/pgbackrest.conf --stanza=$CLUSTER archive-push %p'
CONF
		;;
	pgkeep-async)
		as_pg tee "$work/data/bench_mode.conf" >/dev/null <<CONF
archive_mode = on
archive_command = '$PGKEEP --config $work/pgkeep-async.yaml archive-push --async %p'
CONF
		;;
	*) echo "archive_mode = off" | as_pg tee "$work/data/bench_mode.conf" >/dev/null ;;
	esac
	sync
	pg_start "$work/out/pg.$id.log" "$work/out/reaped.$id"
	psql_c "SELECT sum(pg_prewarm(c.oid)) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relname LIKE 'pgbench_%' AND c.relkind IN ('r', 'i')" >/dev/null
	case $mode in
	pgkeep)
		as_pg "${PK[@]}" create >"$work/out/create.$id.log" 2>&1 || {
			cat "$work/out/create.$id.log" >&2
			die "pgkeep create failed"
		}
		start_daemon "$id"
		first=$(segno_of "$(curl -sf "http://$LISTEN/status" | jq -r .stream.segment)")
		;;
	pgkeep-async)
		as_pg "${PK[@]}" create >"$work/out/create.$id.log" 2>&1 || {
			cat "$work/out/create.$id.log" >&2
			die "pgkeep create failed"
		}
		first=$(segno_of "$(psql_c "SELECT pg_walfile_name(pg_current_wal_lsn())")")
		;;
	pgbackrest)
		as_pg mkdir -p "$work/pgbr-log" "$work/pgbr-lock" "$work/pgbr-spool"
		as_pg "${PGBR[@]}" stanza-create >&2
		as_pg "${PGBR[@]}" check >&2
		;;
	receivewal)
		as_pg mkdir -p "$remote/receivewal"
		as_pg "$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$port" -U postgres --create-slot --slot receivewal >&2
		"${REPO_PIN[@]}" "${AS_PG_EXEC[@]}" "$PGBIN/pg_receivewal" -h 127.0.0.1 -p "$port" -U postgres --slot receivewal \
			-D "$remote/receivewal" -n >"$work/out/receivewal.$id.log" 2>&1 &
		DAEMON_PID=$!
		for ((i = 0; i < 100; i++)); do
			[ "$(psql_c "SELECT count(*) FROM pg_stat_replication WHERE application_name = 'pg_receivewal' AND state = 'streaming'")" = 1 ] && break
			sleep 0.1
		done
		((i < 100)) || die "pg_receivewal did not start streaming within 10 s (see $work/out/receivewal.$id.log)"
		;;
	esac
	if [ -n "$prof" ]; then
		perf record -q -F 499 -g -p "$DAEMON_PID" -o "$work/perf.data" 2>"$work/out/perf.err" &
		PERF_PID=$!
	fi
	res "$r" "$mode" quiet_wait "$(quiet_wait)"
	psql_c CHECKPOINT >/dev/null
	sync
	# The machine's load while nothing of ours works (noise before the run).
	i0=$(busy)
	sleep "$IDLE_S"
	i1=$(busy)
	ck0=$(psql_c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
	psql_c "SELECT pg_stat_reset_shared('wal')" >/dev/null
	async_mode "$mode" && arch=$(pm_child archiver)
	[ "$mode" = pgkeep ] || [ "$mode" = receivewal ] && wsnd=$(pm_child walsender)
	flush0=$(psql_c "SELECT pg_current_wal_flush_lsn() - '0/0'")
	{
		if [ "$SPLIT" = 1 ]; then taskset -pc "$REPO_CPUS" $BASHPID >/dev/null; fi
		sampler "$mode" "$work/out/samples.$id"
	} &
	SAMPLER_PID=$!
	sleep 2 # samples before the run: the history the lag in seconds needs
	# Start of the measured interval.
	b0=$(busy) o0=$(pg_ticks) k0=$(disk) tb0=$EPOCHREALTIME
	if [ -n "$wsnd" ]; then d0=$(ticks "$DAEMON_PID") w0=$(ticks "$wsnd"); fi
	if async_mode "$mode"; then a0=$(ticks "$arch") x0=$(detached_ticks); fi
	t0=$EPOCHREALTIME
	as_pg /usr/bin/time -f '%e %U %S' -o "$work/out/pgbench.$id.time" \
		"${DB_PIN[@]}" "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$CLIENTS" -j "$JOBS" -T "$DURATION" postgres \
		>"$work/out/pgbench.$id.log" 2>&1 || {
		tail -n 20 "$work/out/pgbench.$id.log" >&2
		die "pgbench failed ($id)"
	}
	t1=$EPOCHREALTIME
	sleep 0.3 # the backends exit and are reaped: their CPU moves to the postmaster
	b1=$(busy) o1=$(pg_ticks) k1=$(disk) tb1=$EPOCHREALTIME
	if [ -n "$wsnd" ]; then
		d1=$(ticks "$DAEMON_PID") w1=$(ticks "$wsnd")
		vmhwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")
		rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$DAEMON_PID/status")
	fi
	if async_mode "$mode"; then a1=$(ticks "$arch") x1=$(detached_ticks); fi
	flush1=$(psql_c "SELECT pg_current_wal_flush_lsn() - '0/0'")
	ck1=$(psql_c "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter")
	read -r wsync wsync_ms wfpi < <(psql_c "SELECT wal_sync, wal_sync_time, wal_fpi FROM pg_stat_wal" | tr '|' ' ')
	touch "$work/stop"
	wait "$SAMPLER_PID" || true
	SAMPLER_PID=""
	rm -f "$work/stop"

	# The end: switch, then wait until the archive holds everything flushed.
	# The switched segment is the last one that must be archived whole; the
	# archive must reach its end (and the flush position, if WAL came after).
	t_sw=$EPOCHREALTIME
	sw_seg=$(psql_c "SELECT pg_walfile_name(pg_switch_wal())")
	last=$(segno_of "$sw_seg")
	sw_flush=$(psql_c "SELECT pg_current_wal_flush_lsn() - '0/0'")
	((sw_flush >= (last + 1) * SEGSIZE)) || sw_flush=$(((last + 1) * SEGSIZE))
	drain=nan
	case $mode in
	pgkeep)
		for ((i = 0; i < 3000; i++)); do
			(($(status_lsn archived) >= sw_flush)) && {
				drain=$(awk -v a="$t_sw" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
				break
			}
			sleep 0.1
		done
		[ "$drain" != nan ] || echo "$id: /status archived did not reach the flush position $sw_flush within 300 s of pg_switch_wal()" >>"$work/odd"
		tdr=$EPOCHREALTIME
		vmhwm_end=$(awk '/^VmHWM/ { print $2 }' "/proc/$DAEMON_PID/status")
		d2=$(ticks "$DAEMON_PID")
		;;
	pgbackrest | pgkeep-async)
		for ((i = 0; i < 3000; i++)); do
			got=$(psql_c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
			# pgkeep: and nothing left in the spool, i.e. all of it in the repository.
			[[ "$got" > "$sw_seg" || "$got" = "$sw_seg" ]] &&
				{ [ "$mode" = pgbackrest ] || ! ls "$ASPOOL" 2>/dev/null | grep -qE '^[0-9A-F]{24}$'; } && {
				drain=$(awk -v a="$t_sw" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
				break
			}
			sleep 0.1
		done
		[ "$drain" != nan ] || echo "$id: pg_stat_archiver did not reach $sw_seg within 300 s of pg_switch_wal()" >>"$work/odd"
		tdr=$EPOCHREALTIME a2=$(ticks "$arch") x2=$(detached_ticks)
		res "$r" "$mode" archfail "$(psql_c "SELECT failed_count FROM pg_stat_archiver")"
		;;
	esac
	if [ -n "$prof" ]; then
		kill -INT "$PERF_PID" 2>/dev/null || true
		wait "$PERF_PID" 2>/dev/null || true
	fi

	# Results.
	local wall tps lat u s
	read -r wall u s <"$work/out/pgbench.$id.time"
	tps=$(awk '/^tps = .*without initial connection/ { print $3 }' "$work/out/pgbench.$id.log")
	lat=$(awk '/^latency average/ { print $4 }' "$work/out/pgbench.$id.log")
	local iv
	iv=$(awk -v a="$tb0" -v b="$tb1" 'BEGIN { printf "%.3f", b - a }')
	res "$r" "$mode" tps "$tps"
	res "$r" "$mode" latency_ms "$lat"
	res "$r" "$mode" t0 "$t0"
	res "$r" "$mode" t1 "$t1"
	res "$r" "$mode" wal_bytes $((flush1 - flush0))
	res "$r" "$mode" checkpoints $((ck1 - ck0))
	res "$r" "$mode" wal_syncs "$wsync"
	res "$r" "$mode" wal_fpi "$wfpi"
	res "$r" "$mode" wal_sync_ms_avg "$(awk -v n="$wsync" -v t="$wsync_ms" 'BEGIN { printf "%.3f", (n > 0) ? t / n : 0 }')"
	awk -v a="$k0" -v b="$k1" -v w="$iv" -v r="$r" -v m="$mode" 'BEGIN { split(a, x, " "); split(b, y, " ")
		printf "%s %s disk_write_mb %.1f\n", r, m, (y[2] - x[2]) * 512 / 1e6
		printf "%s %s disk_writes_s %.0f\n", r, m, (y[1] - x[1]) / w
		printf "%s %s disk_write_ms_avg %.3f\n", r, m, (y[1] > x[1]) ? (y[3] - x[3]) / (y[1] - x[1]) : 0
		printf "%s %s disk_util %.1f\n", r, m, (y[4] - x[4]) / w / 10
		printf "%s %s disk_flushes_s %.0f\n", r, m, (y[5] - x[5]) / w }' >>"$R"
	res "$r" "$mode" idle_before "$(busy_cpus "$i0" "$i1")"
	res "$r" "$mode" busy "$(busy_cpus "$b0" "$b1")"
	res "$r" "$mode" busy_task "$(busy_cpus "$b0" "$b1" 3)"
	res "$r" "$mode" busy_irq "$(busy_cpus "$b0" "$b1" 4)"
	res "$r" "$mode" steal "$(busy_cpus "$b0" "$b1" 5)"
	res "$r" "$mode" interval "$iv"
	res "$r" "$mode" pg_cpu "$(awk -v a="$o0" -v b="$o1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
	res "$r" "$mode" pgbench_cpu "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
	local tool=0 async=0
	cs() { awk -v a="$1" -v b="$2" -v hz="$HZ" -v c="${3:-0}" 'BEGIN { printf "%.2f", (b - a) / hz + c }'; }
	case $mode in
	pgkeep)
		tool=$(awk -v a="$d0" -v b="$d1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')
		res "$r" "$mode" daemon_cpu "$tool"
		res "$r" "$mode" daemon_cpu_drain "$(cs "$d0" "$d2")"
		res "$r" "$mode" daemon_cpu_total "$(cs 0 "$d2")"
		res "$r" "$mode" walsender_cpu "$(awk -v a="$w0" -v b="$w1" -v hz="$HZ" 'BEGIN { printf "%.2f", (b - a) / hz }')"
		res "$r" "$mode" vmhwm_kb "$vmhwm"
		res "$r" "$mode" peak_rss_kb "$vmhwm"
		res "$r" "$mode" vmrss_kb "$rss"
		res "$r" "$mode" vmhwm_end_kb "$vmhwm_end"
		res "$r" "$mode" drain_s "$drain"
		check_repo "$r" "$mode" "$id" "$first" "$last"
		stop_daemon "$id"
		;;
	receivewal)
		res "$r" "$mode" daemon_cpu "$(cs "$d0" "$d1")"
		res "$r" "$mode" walsender_cpu "$(cs "$w0" "$w1")"
		res "$r" "$mode" peak_rss_kb "$vmhwm"
		tool=$(cs "$d0" "$d1")
		kill -TERM "$DAEMON_PID" 2>/dev/null || true
		wait "$DAEMON_PID" 2>/dev/null || true
		DAEMON_PID=""
		;;
	pgbackrest | pgkeep-async)
		# Detached processes: reaped in the interval, plus the growth of the live ones.
		async=$(cs "$x0" "$x1" "$(orphan_cpu "$tb0" "$tb1")")
		res "$r" "$mode" async_cpu "$async"
		res "$r" "$mode" archiver_cpu "$(cs "$a0" "$a1")"
		tool=$(awk -v a="$async" -v b="$(cs "$a0" "$a1")" 'BEGIN { printf "%.2f", a + b }')
		res "$r" "$mode" daemon_cpu "$tool"
		res "$r" "$mode" async_cpu_drain "$(cs "$x0" "$x2" "$(orphan_cpu "$tb0" "$tdr")")"
		res "$r" "$mode" archiver_cpu_drain "$(cs "$a0" "$a2")"
		res "$r" "$mode" daemon_cpu_drain "$(awk -v a="$(vals_of "$r" "$mode" async_cpu_drain)" -v b="$(vals_of "$r" "$mode" archiver_cpu_drain)" 'BEGIN { printf "%.2f", a + b }')"
		res "$r" "$mode" drain_s "$drain"
		if [ "$mode" = pgkeep-async ]; then
			check_repo "$r" "$mode" "$id" "$first" "$last"
			# The uploader waits 30 s for more WAL: end it, as pg_stop ends pgBackRest's.
			pkill -f -- "$work/pgkeep .*--async-worker" || true
		fi
		;;
	esac
	# Other load: busy CPUs minus ours (server, pgbench, daemon or async
	# pgBackRest processes; the archiver's children are in pg_cpu already).
	local extra=0
	[ -n "$wsnd" ] && extra=$tool
	async_mode "$mode" && extra=$async
	res "$r" "$mode" own_cpus "$(awk -v p="$(vals_of "$r" "$mode" pg_cpu)" -v q="$u" -v s="$s" -v e="$extra" -v w="$iv" 'BEGIN { printf "%.3f", (p + q + s + e) / w }')"
	res "$r" "$mode" others "$(awk -v b="$(vals_of "$r" "$mode" busy_task)" -v o="$(vals_of "$r" "$mode" own_cpus)" 'BEGIN { printf "%.3f", b - o }')"
	# Lag statistics over the samples taken while pgbench ran.
	lag_stats "$r" "$mode" "$work/out/samples.$id" "$t0" "$t1"
	pg_stop
	# What the reaper saw besides pg_ctl and the postmaster: detached processes.
	res "$r" "$mode" detached "$(awk -v pm="$PM_PID" '$1 == "start" { c = $2; next } $2 != c && $2 != pm { n++ } END { print n + 0 }' "$REAP_LOG")"
	res "$r" "$mode" detached_maxrss_kb "$(awk -v pm="$PM_PID" '$1 == "start" { c = $2; next } $2 != c && $2 != pm && $6 > m { m = $6 } END { print m + 0 }' "$REAP_LOG")"
	async_mode "$mode" && res "$r" "$mode" peak_rss_kb "$(vals_of "$r" "$mode" detached_maxrss_kb)"
	say "  $mode: $tps tps, $(((flush1 - flush0) / 1000000)) MB of WAL, drain ${drain} s"
}
vals_of() { awk -v r="$1" -v m="$2" -v k="$3" '$1 == r && $2 == m && $3 == k { print $4 }' "$R" | tail -n 1; }

# lag_stats ROUND MODE SAMPLES T0 T1: per sample during [T0, T1]:
#   bytes   = flush - archived (pgkeep: /status archived; pgBackRest: the end of
#             last_archived_wal), at least 0;
#   status  = /status lag-seconds (pgkeep);
#   own     = how long ago the server's flush position passed the archived
#             position: the time of that crossing interpolated linearly
#             between the two flush samples around it (samples before T0
#             too); 0 when the archive holds everything flushed.
# Records median, p95 and max of each, and how many samples were unusable.
lag_stats() {
	local r=$1 m=$2 f=$3 a=$4 b=$5
	[ "$m" = none ] || [ "$m" = receivewal ] && return 0
	awk -v a="$a" -v b="$b" -v m="$m" -v r="$r" '
	$1 != "S" { next }
	{
		t = $2; fl = $3; arch = -1
		if (m == "pgkeep" && $5 != "-") arch = $5
		if ((m == "pgbackrest" || m == "pgkeep-async") && $4 != "-") arch = ($4 < 0) ? 0 : $4
		n++; T[n] = t; F[n] = fl
		if (t < a || t > b) next
		tot++
		if (arch < 0 || fl == "-") { bad++; next }
		lb = fl - arch; if (lb < 0) lb = 0
		own = 0
		if (fl + 0 > arch + 0) {
			for (j = 1; j <= n; j++) if (F[j] != "-" && F[j] + 0 > arch + 0) break
			for (i = j - 1; i >= 1 && F[i] == "-"; i--) ;
			c = (i < 1) ? T[j] : T[i] + (arch - F[i]) / (F[j] - F[i]) * (T[j] - T[i])
			own = t - c
		}
		k++; B[k] = lb; O[k] = own
		if (m == "pgkeep" && $9 != "-") { ks++; S[ks] = $9 }
	}
	function sortn(x, c,   i, j, v) { for (i = 2; i <= c; i++) { v = x[i]; for (j = i - 1; j >= 1 && x[j] > v; j--) x[j + 1] = x[j]; x[j + 1] = v } }
	function med(x, c) { return (c % 2) ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2 }
	function pct(x, c, p,   i) { i = int(p * c + 0.999999); if (i < 1) i = 1; if (i > c) i = c; return x[i] }
	function out(name, x, c) {
		if (c == 0) { printf "%s %s %s_med nan\n%s %s %s_p95 nan\n%s %s %s_max nan\n", r, m, name, r, m, name, r, m, name; return }
		sortn(x, c)
		printf "%s %s %s_med %.10g\n%s %s %s_p95 %.10g\n%s %s %s_max %.10g\n", r, m, name, med(x, c), r, m, name, pct(x, c, 0.95), r, m, name, x[c]
	}
	END {
		out("lag_bytes", B, k); out("lag_own_s", O, k)
		if (m == "pgkeep") out("lag_status_s", S, ks)
		printf "%s %s samples %d\n%s %s bad_samples %d\n", r, m, tot, r, m, bad + 0
	}' "$f" >>"$R"
}

# ------------------------------------------------------------ 4. the rounds
sync
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order=$MODES; else order=$(echo "$MODES" | tr ' ' '\n' | tac | tr '\n' ' '); fi
	for m in $order; do run "$r" "$m"; done
done

# Optional profile: one more pgkeep run under perf, with a binary with symbols.
profile_md=""
if [ "$PROFILE" = 1 ]; then
	if [ -n "${PROFILE_BIN:-}" ]; then
		cp "$PROFILE_BIN" "$work/pgkeep-prof"
	else
		say "profile: building pgkeep with symbols (go build without -s -w)"
		CGO_ENABLED=0 go build -trimpath -o "$work/pgkeep-prof" ./cmd/pgkeep
	fi
	chmod 0755 "$work/pgkeep-prof"
	PK[0]=$work/pgkeep-prof
	run 0 pgkeep profile
	PK[0]=$PGKEEP
	profile_md=$(
		echo
		echo "### CPU profile of the daemon (PROFILE=1: one more pgkeep run, perf record -F 499 -g -p PID, not in the tables)"
		echo
		perf report -i "$work/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' |
			sed -E 's/( +-)+ *$//' | awk '{ printf "%s%s %s", (NR > 1) ? ", " : "By binary: ", $1, $2 } END { print "" }'
		echo
		echo "Self time by function, top 25 (percent of the daemon's samples):"
		echo
		echo '```'
		perf report -i "$work/perf.data" --no-children --sort symbol --stdio 2>/dev/null |
			grep -E '^ +[0-9.]+%' | sed -E 's/( +-)+ *$//' | head -n 25
		echo '```'
		echo
		echo "Inclusive time (children included), top 30:"
		echo
		echo '```'
		perf report -i "$work/perf.data" --children --sort symbol --stdio -g none 2>/dev/null |
			grep -E '^ +[0-9.]+%' | sed -E 's/( +-)+ *$//' | head -n 30
		echo '```'
	)
fi

# ----------------------------------------------------------------- 5. report
say "done; writing the report"
vals() { awk -v m="$1" -v k="$2" '$1 > 0 && $2 == m && $3 == k && $4 != "nan" { print $4 }' "$R"; }
stats() { # VALUES on stdin -> "median min max"
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.9g %.9g %.9g\n", m, v[1], v[NR] }'
}
# fmt FORMAT MODE METRIC [FORMULA of x]: "median" or "median (min–max)" over rounds.
fmt() {
	local m lo hi f=${4:-x}
	read -r m lo hi < <(vals "$2" "$3" | awk "{ x = \$1; printf \"%.9g\\n\", $f }" | stats)
	[ "$m" = nan ] && {
		echo "–"
		return
	}
	if ((ROUNDS == 1)); then printf "$1" "$m"; else printf "$1 ($1–$1)" "$m" "$lo" "$hi"; fi
}
med() { vals "$1" "$2" | awk "{ x = \$1; printf \"%.9g\\n\", ${3:-x} }" | stats | cut -d' ' -f1; }
has() { case " $MODES " in *" $1 "*) return 0 ;; esac; return 1; }
# Paired TPS change against none, per round, in percent.
tps_rel() { # MODE
	has none || {
		echo "–"
		return
	}
	local m lo hi
	read -r m lo hi < <(for ((r = 1; r <= ROUNDS; r++)); do
		awk -v r="$r" -v m="$1" '$1 == r && $3 == "tps" { v[$2] = $4 } END { if (v["none"] > 0 && v[m] > 0) printf "%.6f\n", (v[m] / v["none"] - 1) * 100 }' "$R"
	done | stats)
	if ((ROUNDS == 1)); then printf '%+.1f%%' "$m"; else printf '%+.1f%% (%+.1f – %+.1f)' "$m" "$lo" "$hi"; fi
}
col() { # FORMAT METRIC [FORMULA] -> "| none | pgkeep | pgbackrest |" cells for the modes run
	local out="" m
	for m in $ALL_MODES; do has "$m" && out+=" $(fmt "$1" "$m" "$2" "${3:-x}") |"; done
	echo "$out"
}
colpair() { # METRIC1 METRIC2 -> "a / b" cells
	local out="" m
	for m in $ALL_MODES; do has "$m" && out+=" $(fmt %.4g "$m" "$1") / $(fmt %.4g "$m" "$2") |"; done
	echo "$out"
}
header() {
	local h="| |" s="|---|" m
	for m in $ALL_MODES; do has "$m" && h+=" $m |" && s+="---|"; done
	printf '%s\n%s\n' "$h" "$s"
}
MiB='x / 1048576'
MB='x / 1e6'

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
disk_line=$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')
pgk_ver=$("$PGKEEP" version 2>/dev/null | head -n 1)
pgbr_ver=$("$PGBACKREST" version 2>/dev/null || echo "pgBackRest: not used")
cmd="DURATION=$DURATION ROUNDS=$ROUNDS"
[ "$MODES" != "none pgkeep pgbackrest" ] && cmd+=" MODES=\"$MODES\""
[ "$PARTIAL_INTERVAL" != 1s ] && cmd+=" PARTIAL_INTERVAL=$PARTIAL_INTERVAL"
[ "$PROFILE" = 1 ] && cmd+=" PROFILE=1"
[ "$SPLIT" = 1 ] && cmd+=" SPLIT=1 DB_CPUS=$DB_CPUS REPO_CPUS=$REPO_CPUS"
cmd+=" bash test/bench/server_stream.sh"
async_line=""
if has pgkeep-async; then
	async_line="- pgkeep-async: archive_mode on, \`archive_command = 'pgkeep archive-push --async %p'\`, spool in the work directory,"
	async_line+=" process-max 2, the same posix repository as pgkeep's (zstd level 3); its lag counts a segment from pg_stat_archiver"
	async_line+=" like pgBackRest's, i.e. once it is fsynced in the spool (or already archived by the uploader's look-ahead), and its"
	async_line+=" drain also waits for the spool to empty"
fi
rw_line=""
if has receivewal; then
	rw_line="- receivewal (a reference): archive_mode off; \`pg_receivewal --slot receivewal -D DIR -n\` ($("$PGBIN/pg_receivewal" -V | awk '{ print $3 }')),"
	rw_line+=" DIR beside pgkeep's spool: no compression, fsync at each segment's end, no repository; no lag is measured for it"
fi

cat <<MD
### Settings

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $NCPU CPUs ($cpu_model), $mem RAM, $(uname -sr); work directory (data directory, spools, repositories) on $disk_line
- $pgk_ver; $pgbr_ver; PostgreSQL $("$PGBIN/postgres" -V | awk '{ print $3 }')
- command: \`$cmd\` (as $(id -un), from the repository root)
$(if [ "$SPLIT" = 1 ]; then echo "- **split** (SPLIT=1): database host = CPU(s) $DB_CPUS (PostgreSQL with its archive_command children, pgbench), repository host = CPU(s) $REPO_CPUS (pgkeep server, the sampler); pgkeep's spool and both repositories on tmpfs ($remote), PostgreSQL's data directory on the disk"; fi)
- server: initdb -k, pgbench -i -s $SCALE ($db_mb MB), shared_buffers=$SHARED_BUFFERS (pg_prewarm'ed), max_wal_size=$MAX_WAL_SIZE,
  track_wal_io_timing=on, other settings default (synchronous_commit on, wal_level replica, checkpoint_timeout 5min); every run from a fresh copy
  of the same data directory, CHECKPOINT before the run
- load: \`pgbench -n -c $CLIENTS -j $JOBS -T $DURATION\` over TCP on 127.0.0.1; $ROUNDS round(s), modes in the order
  $MODES (reversed in even rounds)
- pgkeep: \`pgkeep server\` without etcd (streams from pg.host through the slot \`pgkeep\`), posix repository (zstd level 3,
  default), spool $(if [ "$SPLIT" = 1 ]; then echo "on tmpfs beside the repository"; else echo "on the same disk"; fi), partial-interval $PARTIAL_INTERVAL, no schedules, listen $LISTEN for /status
- pgBackRest: archive_mode on, \`archive_command = 'pgbackrest --config=WORK/pgbackrest.conf --stanza=$CLUSTER archive-push %p'\`,
  archive-async=y, spool-path, process-max=2, compress-type=zst, compress-level=3, posix repository, file log level info
$async_line
$rw_line
- lag: sampled once a second while pgbench runs, over one extra connection (pg_current_wal_flush_lsn(), pg_stat_archiver)
  and GET /status; bytes = flush position − archived position (pgkeep: /status \`archived\`, WAL durable in the repository
  as a segment or .partial; pgBackRest: the end of pg_stat_archiver.last_archived_wal, i.e. whole segments only);
  seconds: /status \`lag-seconds\`, and the script's own: how long ago the server's flush position passed the archived
  position (the crossing time interpolated between the two flush samples around it)

### Results ($( ((ROUNDS == 1)) && echo "one round" || echo "$ROUNDS rounds: median (min–max)"))

$(header)
| TPS |$(col %.0f tps)
| TPS relative to none |$(for m in $ALL_MODES; do has "$m" || continue; if [ "$m" = none ]; then echo -n " – |"; else echo -n " $(tps_rel "$m") |"; fi; done)
| latency average (ms) |$(col %.2f latency_ms)
| WAL written (MB) |$(col %.0f wal_bytes "$MB")
| WAL rate (MB/s) |$(col %.1f wal_bytes "x / $DURATION / 1e6")
| archive lag, median (MiB) |$(col %.2f lag_bytes_med "$MiB")
| archive lag, p95 (MiB) |$(col %.2f lag_bytes_p95 "$MiB")
| archive lag, max (MiB) |$(col %.2f lag_bytes_max "$MiB")
| archive lag, median (s, /status) |$(col %.2f lag_status_s_med)
| archive lag, p95 (s, /status) |$(col %.2f lag_status_s_p95)
| archive lag, max (s, /status) |$(col %.2f lag_status_s_max)
| archive lag, median (s, script) |$(col %.2f lag_own_s_med)
| archive lag, p95 (s, script) |$(col %.2f lag_own_s_p95)
| archive lag, max (s, script) |$(col %.2f lag_own_s_max)
| lag samples while pgbench ran |$(col %.0f samples)
| ... of them unusable (no answer) |$(col %.0f bad_samples)
| archiving CPU during pgbench (s) |$(col %.2f daemon_cpu)
| archiving CPU during pgbench (% of one core) |$(col %.1f daemon_cpu "x / $DURATION * 100")
| archiving CPU, pgbench + drain (s) |$(col %.2f daemon_cpu_drain)
| walsender CPU during pgbench (s) |$(col %.2f walsender_cpu)
| archiving peak RSS (MB) |$(col %.1f peak_rss_kb "x * 1024 / 1e6")
| archive complete after pg_switch_wal() (s) |$(col %.2f drain_s)
| checkpoints during the run |$(col %.0f checkpoints)
| WAL fsyncs (pg_stat_wal) |$(col %.0f wal_syncs)
| **WAL fsync, average (ms)** |$(col %.3f wal_sync_ms_avg)
| disk $DISK: MB written (all processes) |$(col %.0f disk_write_mb)
| disk $DISK: writes/s, flushes/s |$(colpair disk_writes_s disk_flushes_s)
| disk $DISK: average write time (ms), busy % |$(colpair disk_write_ms_avg disk_util)
| machine: busy CPUs during the run |$(col %.2f busy)
| ... in processes (user+nice+system) |$(col %.2f busy_task)
| ... in irq+softirq (loopback TCP, disk) |$(col %.2f busy_irq)
| ... stolen by the hypervisor |$(col %.2f steal)
| our processes (CPUs) |$(col %.2f own_cpus)
| **other processes during the run (CPUs)** |$(col %.2f others)
| other load just before ($IDLE_S s idle) |$(col %.2f idle_before)
| waited for a quiet machine before (s) |$(col %.0f quiet_wait)

- "archiving CPU": pgkeep = the \`pgkeep server\` process (utime+stime from /proc/PID/stat); pgBackRest = the archiver with
  its archive-push children plus the detached async archive-push processes and their local workers (PostgreSQL runs under
  a child subreaper that waits for them and logs their rusage). "during pgbench" is the pgbench run; "pgbench + drain"
  goes on until the archive holds the switched segment. The walsender (pgkeep, receivewal) is PostgreSQL's side of the stream;
  for receivewal, "archiving CPU" and RSS are pg_receivewal's.
  "% of one core" = CPU s / $DURATION s.
- "archiving peak RSS": pgkeep = VmHWM of the daemon (/proc/PID/status) at the end of pgbench; pgBackRest = the largest
  maxrss of one detached async archive-push process (with its local workers; the short archive-push processes that
  archive_command starts are not included).
- "our processes": the postmaster and its children (reaped backends included), pgbench, the daemon / the detached
  pgBackRest processes; "other processes" = CPUs busy in processes (user+nice+system of /proc/stat) − ours: other
  people's work, plus the sampler (one curl and jq per second; its psql connection's backend is ours) and kernel
  threads (writeback, journal). irq+softirq time (mostly our own loopback TCP and disk I/O) is shown apart, as is steal.
- With synchronous_commit on, TPS follows the WAL fsync time (pg_stat_wal with track_wal_io_timing, reset before each
  run): other people's I/O on the same disk slows it down without showing up as CPU. The disk rows count every process
  on the machine.
MD

# Goals (medians over rounds).
if has pgkeep; then
	g_med=$(med pgkeep lag_status_s_med)
	g_own=$(med pgkeep lag_own_s_med)
	g_max=$(med pgkeep lag_bytes_max)
	g_rss=$(med pgkeep vmhwm_kb 'x * 1024')
	rel="" # without the none mode there is no TPS cost (and `has none` failing must not end the script)
	if has none; then
		rel=$(for ((r = 1; r <= ROUNDS; r++)); do
			awk -v r="$r" '$1 == r && $3 == "tps" { v[$2] = $4 } END { if (v["none"] > 0 && v["pgkeep"] > 0) printf "%.6f\n", (1 - v["pgkeep"] / v["none"]) * 100 }' "$R"
		done | stats | cut -d' ' -f1)
	fi
	ok() { awk -v v="$1" -v l="$2" 'BEGIN { if (v == "nan" || v == "") print "not measured"; else print (v + 0 < l + 0) ? "**met**" : "**NOT met**" }'; }
	cat <<MD

### Goals (pgkeep; medians over the rounds)

| goal | measured | |
|---|---|---|
| median archive lag < 1 s | $(awk -v v="$g_med" 'BEGIN { printf "%.3f s (/status lag-seconds)", v }') | $(ok "$g_med" 1) |
| median archive lag < 1 s | $(awk -v v="$g_own" 'BEGIN { printf "%.3f s (script: since the flush position passed the archived one)", v }') | $(ok "$g_own" 1) |
| max archive lag < one segment (16 MiB) | $(awk -v v="$g_max" 'BEGIN { printf "%.2f MiB", v / 1048576 }') | $(ok "$g_max" "$SEGSIZE") |
| peak RSS < 150 MB | $(awk -v v="$g_rss" 'BEGIN { printf "%.1f MB", v / 1e6 }') | $(ok "$g_rss" 150000000) |
| TPS cost < 5% against no archiving | $(awk -v v="${rel:-nan}" 'BEGIN { if (v == "nan") print "–"; else printf "%.1f%%", v }') | $(ok "${rel:-nan}" 5) |
MD
	echo
	echo "End of each pgkeep run: pg_switch_wal(), then /status archived >= the flush position after it:"
	echo
	for ((r = 1; r <= ROUNDS; r++)); do
		printf -- '- round %d: segments %s..%s: %s expected, %s in the repository as full segments, %s compared with pg_wal (archive-get): %s identical; pgkeep verify exit status %s; drain %s s; daemon CPU over its whole life %s s, VmHWM at the end %s kB\n' "$r" \
			"$(vals_of "$r" pgkeep first_seg)" "$(vals_of "$r" pgkeep last_seg)" "$(vals_of "$r" pgkeep segs)" \
			"$(vals_of "$r" pgkeep present)" "$(vals_of "$r" pgkeep compared)" "$(vals_of "$r" pgkeep identical)" \
			"$(vals_of "$r" pgkeep verify_rc)" "$(vals_of "$r" pgkeep drain_s)" "$(vals_of "$r" pgkeep daemon_cpu_total)" "$(vals_of "$r" pgkeep vmhwm_end_kb)"
	done
fi
if has pgbackrest; then
	echo
	for ((r = 1; r <= ROUNDS; r++)); do
		printf -- '- pgBackRest round %d: archiver failures %s; async processes %s s + archiver with archive-push children %s s of CPU\n' "$r" \
			"$(vals_of "$r" pgbackrest archfail)" "$(vals_of "$r" pgbackrest async_cpu)" "$(vals_of "$r" pgbackrest archiver_cpu)"
	done
fi
if has pgkeep-async; then
	echo
	for ((r = 1; r <= ROUNDS; r++)); do
		printf -- '- pgkeep-async round %d: archiver failures %s; uploader %s s + archiver with archive-push children %s s of CPU; segments %s..%s: %s expected, %s in the repository, %s compared with pg_wal: %s identical; pgkeep verify exit status %s\n' "$r" \
			"$(vals_of "$r" pgkeep-async archfail)" "$(vals_of "$r" pgkeep-async async_cpu)" "$(vals_of "$r" pgkeep-async archiver_cpu)" \
			"$(vals_of "$r" pgkeep-async first_seg)" "$(vals_of "$r" pgkeep-async last_seg)" "$(vals_of "$r" pgkeep-async segs)" \
			"$(vals_of "$r" pgkeep-async present)" "$(vals_of "$r" pgkeep-async compared)" "$(vals_of "$r" pgkeep-async identical)" \
			"$(vals_of "$r" pgkeep-async verify_rc)"
	done
fi

echo
echo "### Per run"
echo
echo "| round | mode | start (UTC) | TPS | WAL MB | lag med / max (MiB) | lag med / max (s, /status) | archiving CPU (s) | archiving RSS (MB) | busy / ours / other processes (CPUs) | idle before (CPUs) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for ((r = 1; r <= ROUNDS; r++)); do
	for m in $MODES; do
		v() { vals_of "$r" "$m" "$1"; }
		printf '| %s | %s | %s | %.0f | %.0f | %s | %s | %s | %s | %s / %s / %s | %s |\n' "$r" "$m" \
			"$(date -u -d "@$(v t0)" +%H:%M:%S)" "$(v tps)" "$(awk -v x="$(v wal_bytes)" 'BEGIN { print x / 1e6 }')" \
			"$(awk -v a="$(v lag_bytes_med)" -v b="$(v lag_bytes_max)" 'BEGIN { if (a == "") print "–"; else printf "%.2f / %.2f", a / 1048576, b / 1048576 }')" \
			"$(awk -v a="$(v lag_status_s_med)" -v b="$(v lag_status_s_max)" 'BEGIN { if (a == "" || a == "nan") print "–"; else printf "%.2f / %.2f", a, b }')" \
			"$(v daemon_cpu | sed 's/^$/–/')" "$(awk -v a="$(v peak_rss_kb)" 'BEGIN { if (a == "") print "–"; else printf "%.1f", a * 1024 / 1e6 }')" \
			"$(v busy)" "$(v own_cpus)" "$(v others)" "$(v idle_before)"
	done
done
[ -n "$profile_md" ] && echo "$profile_md"
if [ -s "$work/odd" ]; then
	echo
	echo "### Anomalies"
	echo
	sed 's/^/- /' "$work/odd"
	for f in "$work"/out/verify.*.out; do
		[ -s "$f" ] || continue
		grep -q . "$f" || continue
		echo
		echo "\`pgkeep verify\` (${f##*/verify.}):"
		echo '```'
		tail -n 20 "$f"
		echo '```'
	done
fi
cat <<MD

<details><summary>Raw measurements (round, mode, metric, value; bytes, seconds, kB, CPUs)</summary>

\`\`\`
$(cat "$R")
\`\`\`
</details>
MD
