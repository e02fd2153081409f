#!/usr/bin/env bash
# Benchmark: `pgkeep archive-push` vs `pgbackrest archive-push`, one process per
# WAL segment, sequentially, exactly as PostgreSQL's archive_command runs them.
#
#   bash test/bench/archive_push.sh > report.md     (from the repository root)
#
# Needs: bin/pgkeep (`make build`), PostgreSQL 15 and pgBackRest
# (`scripts/install-deps.sh --bench`), GNU time (/usr/bin/time; installed with
# apt-get when missing and running as root). Runs as root (PostgreSQL and both
# tools then run as the OS user `postgres`) or as an ordinary user.
#
# What it does:
#  1. initdb -k a throwaway PostgreSQL 15 on a free 127.0.0.1 port whose
#     archive_command only copies (cp %p DIR/%f), runs pgbench -i -s 50 and then
#     CHECKPOINT + short pgbench -T runs (synchronous_commit=off, only to make
#     WAL faster) until 64 full 16 MiB segments, all written under
#     load and none ended by a WAL switch, are archived; keeps those 64
#     consecutive segments: the input of both tools.
#  2. pgBackRest: stanza-create on a posix repository (zst level 3,
#     archive-async=n, process-max=1, log-level-console=warn, file log at the
#     default level info in the temp dir); pgkeep: `create` on its own posix
#     repository (zstd level 3, the default). Both "empty archive" states are
#     saved as templates; then the server is stopped (so that no checkpoint or
#     autovacuum I/O lands in the measurements) and everything is synced.
#  3. ROUNDS rounds (default 5). A round runs each of these passes for both
#     tools back to back (so that both see the same background load), the tool
#     that goes first alternating from round to round; every pass pushes into a
#     fresh copy of the empty template repository:
#       main     64 pushes, timed as a whole (wall, and CPU of the children)
#       rss      64 pushes, each under /usr/bin/time -f '%M %R' (peak RSS,
#                minor page faults; not timed)
#       latency  one push (after one untimed push that creates the directories)
#       start    `TOOL version` x 64: bare process start
#       tmpfs    64 pushes, repository on /dev/shm (no real fsync cost)
#       none     64 pushes, no compression, repository on /dev/shm
#       async    64 pushes in async mode (pgBackRest archive-async=y, pgkeep
#                archive.async; both 2 parallel uploads, spools on disk),
#                from a pg_wal directory with a .ready file per segment
#                (a backlog: both tools push ahead of archive_command) and
#                .ready renamed to .done after each push, as the archiver
#                does; timed until the last push returned and until all 64
#                are in the repository. ASYNC=0 leaves it out.
#     The input files are never dropped from the page cache: both tools read the
#     same warm files. `sync` runs (untimed) before every pass. Also measured:
#     the machine's other CPU load during each main pass (busy CPUs from
#     /proc/stat minus the pass's own CPU: noise from anything else running) and
#     the cost of one minor page fault (dd with a 64 MiB buffer).
#  4. Prints Markdown to stdout: machine, per-round numbers, the median and
#     range (min-max) table with the pgkeep/pgBackRest ratios, whether the goal
#     (>= 2x throughput, stored size within 10%) is met, and the time breakdown
#     per push: process start, compression (tmpfs zstd - tmpfs none), storage
#     and fsync (disk zstd - tmpfs zstd), the rest (tmpfs none - start), with
#     the page faults and CPU split next to it. Progress goes to stderr.
#  5. Checks once that archive-get of each tool returns the pushed bytes.
#
# Environment: ROUNDS (5), ASYNC (1: the async pass), PROFILE (1: add a perf CPU profile of one pass per
# tool; needs root, perf and go), BIN (bin/pgkeep; not PGKEEP_*: pgkeep rejects unknown PGKEEP_ variables), PGBIN
# (/usr/lib/postgresql/15/bin), PGBACKREST (pgbackrest), SCALE (pgbench -i
# scale, 50), TMPDIR (where the work directory goes, /tmp).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-5}
NSEG=64
SEGSIZE=$((16 * 1024 * 1024))
SCALE=${SCALE:-50}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BIN=${BIN:-bin/pgkeep}
PGBACKREST=${PGBACKREST:-pgbackrest}
CLUSTER=bench

. test/bench/lib.sh # say, die, free_port, initdb_loopback, pgbr_conf, require_tools

# ---------------------------------------------------------------- prerequisites
require_tools
if [ ! -x /usr/bin/time ]; then
	[ "$(id -u)" = 0 ] || die "/usr/bin/time missing: apt-get install time"
	say "installing GNU time (/usr/bin/time)"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends time >/dev/null
fi

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

work=$(mktemp -d "${TMPDIR:-/tmp}/pgkeep-bench.XXXXXX")
shm=$(mktemp -d /dev/shm/pgkeep-bench.XXXXXX)
chmod 0755 "$work" "$shm"
[ "$(id -u)" = 0 ] && chown postgres: "$work" "$shm"
cleanup() {
	as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$work" "$shm"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)

# Everything that runs as postgres lives in $work and is owned by postgres.
as_pg mkdir -p "$work/collect" "$work/segs" "$work/pgbr-log" "$work/pgbr-lock" "$work/pgbr-spool"
as_pg cp "$BIN" "$work/pgkeep"
as_pg chmod 0755 "$work/pgkeep"
PGKEEP=$work/pgkeep

psql_c() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atqc "$1" postgres; }

# ------------------------------------------------------ 1. WAL segments to push
say "initdb -k and start PostgreSQL 15 on 127.0.0.1:$port (work dir $work)"
initdb_loopback "$work/data" "$port" "$work"
cat >>"$work/data/postgresql.conf" <<CONF
archive_mode = on
archive_command = 'test ! -f $work/collect/%f && cp %p $work/collect/%f'
wal_keep_size = 4GB
max_wal_size = 4GB
synchronous_commit = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

[ "$(psql_c "SHOW wal_segment_size")" = 16MB ] || die "wal_segment_size is not 16MB"

# Segment number <-> file name (timeline 1, 16 MiB segments: 256 per log id).
segno_of() { echo $((16#${1:8:8} * 256 + 16#${1:16:8})); }
name_of() { printf '%08X%08X%08X' 1 $(($1 / 256)) $(($1 % 256)); }
current_segno() { segno_of "$(psql_c "SELECT pg_walfile_name(pg_current_wal_insert_lsn())")"; }

# The first segment kept is the one after the segment that is current now:
# everything kept is written by pgbench, none holds initdb's or a WAL switch's tail.
first=$(($(current_segno) + 1))
last=$((first + NSEG - 1))
say "pgbench -i -s $SCALE (segments $(name_of $first)..$(name_of $last) wanted)"
as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$SCALE" -q postgres >"$work/pgbench-init.log" 2>&1 ||
	{ cat "$work/pgbench-init.log" >&2; die "pgbench -i failed"; }
# Until the last wanted segment is complete (the insert position is past it).
# A CHECKPOINT first: the updates then write full-page images, as real WAL does.
while [ "$(current_segno)" -le "$last" ]; do
	say "CHECKPOINT; pgbench -T 10 (WAL at $(name_of "$(current_segno)"))"
	psql_c CHECKPOINT >/dev/null
	as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -c 8 -j 2 -T 10 postgres >"$work/pgbench-run.log" 2>&1 ||
		{ cat "$work/pgbench-run.log" >&2; die "pgbench failed"; }
done
psql_c "SELECT pg_switch_wal()" >/dev/null
lastname=$(name_of $last)
for _ in $(seq 600); do
	done_wal=$(psql_c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
	[[ "$done_wal" > "$lastname" || "$done_wal" = "$lastname" ]] && break
	sleep 0.5
done
[[ "$done_wal" > "$lastname" || "$done_wal" = "$lastname" ]] || die "segments not archived after 5 minutes (last: $done_wal)"
for ((s = first; s <= last; s++)); do
	n=$(name_of $s)
	[ "$(stat -c %s "$work/collect/$n")" = "$SEGSIZE" ] || die "$n is missing or not 16 MiB"
	as_pg mv "$work/collect/$n" "$work/segs/$n"
done
rm -rf "$work/collect"
ls "$work"/segs/* >"$work/segs.list"
[ "$(wc -l <"$work/segs.list")" = "$NSEG" ] || die "expected $NSEG segments"
head -n 1 "$work/segs.list" >"$work/warm1.list"
sed -n 2p "$work/segs.list" >"$work/lat.list"
say "kept $NSEG segments $(name_of $first)..$lastname ($(cat "$work"/segs/* | wc -c) bytes)"

# -------------------------------------------------- 2. pgBackRest: stanza-create
pgbr_conf "$work/pgbr-repo" archive-async=n process-max=1
say "pgbackrest stanza-create"
as_pg "${PGBR[@]}" stanza-create
as_pg cp -a "$work/pgbr-repo" "$work/pgbr-template"

# --------------------------------------------------------- 3. pgkeep: create
cat >"$work/pgkeep.yaml" <<YAML
cluster: $CLUSTER
repo:
  type: posix
  path: $work/pgkeep-repo
  compress-type: zstd
  compress-level: 3
YAML
chmod 0644 "$work/pgkeep.yaml"
PK=("$PGKEEP" --config "$work/pgkeep.yaml")
say "pgkeep create"
as_pg "${PK[@]}" --pg-host 127.0.0.1 --pg-port "$port" create >&2
as_pg cp -a "$work/pgkeep-repo" "$work/pgkeep-template"

# Async mode, for the async pass: the same settings plus each tool's spool and
# a background process with 2 parallel uploads (this machine's cores).
# pgBackRest's async mode reads the ready list from pg_wal in pg1-path: a data
# directory of its own, with the server's pg_control (see reset_async).
sed -e 's/^archive-async=n$/archive-async=y/' -e 's/^process-max=1$/process-max=2/' \
	-e "s#^pg1-path=.*#pg1-path=$work/async-data#" "$work/pgbackrest.conf" >"$work/pgbackrest-async.conf"
grep -qx archive-async=y "$work/pgbackrest-async.conf" || die "pgbackrest-async.conf: archive-async=y not set"
chmod 0644 "$work/pgbackrest-async.conf"
PGBR_ASYNC=("$PGBACKREST" "--config=$work/pgbackrest-async.conf" "--stanza=$CLUSTER")
cp "$work/pgkeep.yaml" "$work/pgkeep-async.yaml"
cat >>"$work/pgkeep-async.yaml" <<YAML
archive:
  async: true
  spool-path: $work/pgkeep-spool
  process-max: 2
YAML
sed "s#^$work/segs/#$work/async-data/pg_wal/#" "$work/segs.list" >"$work/pgwal.list"

# From here on no server: no checkpoint, autovacuum or archiver I/O while timing.
as_pg "$PGBIN/pg_ctl" -D "$work/data" -m fast -w stop >/dev/null
sync

# ------------------------------------------------------------------ helpers
# runloop.sh LIST|N CMD...: runs "CMD FILE" for every file in LIST (or CMD, N
# times), sequentially; prints "wall_s children_user_s children_sys_s".
# With RSSOUT set, wraps each process in /usr/bin/time -f '%M %R' -a -o $RSSOUT
# (peak RSS in KiB, minor page faults).
cat >"$work/runloop.sh" <<'EOF'
#!/usr/bin/env bash
set -euo pipefail
export LC_ALL=C
what=$1; shift
if [[ "$what" =~ ^[0-9]+$ ]]; then
	args=(); for ((i = 0; i < what; i++)); do args+=(""); done
	bare=true
else
	mapfile -t args <"$what"
	bare=false
fi
run() { if $bare; then "$@"; else "$@" "$arg"; fi; }
secs() { awk -v t="$1" 'BEGIN { split(t, a, "m"); sub("s", "", a[2]); printf "%.6f", a[1] * 60 + a[2] }'; }
# `times` must run in this shell: a subshell's children are not ours.
tf0=$(mktemp) tf1=$(mktemp)
trap 'rm -f "$tf0" "$tf1"' EXIT
cpu() { local l; l=$(tail -n 1 "$1"); set -- $l; echo "$(secs "$1") $(secs "$2")"; }
if [ -n "${RSSOUT:-}" ]; then
	for arg in "${args[@]}"; do
		if $bare; then /usr/bin/time -f '%M %R' -a -o "$RSSOUT" "$@" >/dev/null
		else /usr/bin/time -f '%M %R' -a -o "$RSSOUT" "$@" "$arg" >/dev/null; fi
	done
	exit 0
fi
times >"$tf0"
t0=$EPOCHREALTIME
if [ -n "${READY:-}" ]; then
	# As PostgreSQL's archiver: .ready becomes .done once the command succeeded.
	for arg in "${args[@]}"; do
		run "$@" >/dev/null
		mv "${arg%/*}/archive_status/${arg##*/}.ready" "${arg%/*}/archive_status/${arg##*/}.done"
	done
else
	for arg in "${args[@]}"; do run "$@" >/dev/null; done
fi
t1=$EPOCHREALTIME
times >"$tf1"
read -r u0 s0 <<<"$(cpu "$tf0")"
read -r u1 s1 <<<"$(cpu "$tf1")"
awk -v a="$t0" -v b="$t1" -v u0="$u0" -v u1="$u1" -v s0="$s0" -v s1="$s1" \
	'BEGIN { printf "%.6f %.6f %.6f\n", b - a, u1 - u0, s1 - s0 }'
EOF
chmod 0755 "$work/runloop.sh"
loop() { as_pg "$work/runloop.sh" "$@"; }
loop_rss() { as_pg env RSSOUT="$1" "$work/runloop.sh" "${@:2}"; }
loop_ready() { as_pg env READY=1 "$work/runloop.sh" "$@"; }

# fresh TOOL DIR: an empty archive at DIR (a copy of the tool's template).
fresh() {
	rm -rf "$2"
	as_pg cp -a "$work/$1-template" "$2"
	sync
}
# stored DIR: count and total size of the archived segment files under DIR,
# by their final names only (pgkeep: <name>; pgBackRest: <name>-<sha1>[.zst];
# pgBackRest writes <name>-<sha1>.zst.pgbackrest.tmp first, pgkeep .tmp-*).
stored() {
	find "$1" -type f -regextype posix-extended -regex '.*/[0-9A-F]{24}(-[0-9a-f]{40}(\.zst)?)?' -printf '%s\n' |
		awk '{ n++; b += $1 } END { printf "%d %d\n", n, b }'
}
check_stored() { # TOOL DIR N -> bytes
	local n b
	read -r n b < <(stored "$2")
	[ "$n" = "$3" ] || die "$1: $n segment files in $2 after pushing $3"
	echo "$b"
}

# Commands, one per tool; the WAL file path is appended.
cmd_pgkeep() { # REPO [COMPRESS]
	echo "${PK[@]}" --repo-path "$1" ${2:+--repo-compress-type "$2" --repo-compress-level 0} archive-push
}
cmd_pgbr() { # REPO [COMPRESS]
	echo "${PGBR[@]}" --repo1-path="$1" ${2:+--compress-type="$2"} archive-push
}

# Async mode: the command, and what the pass needs around it.
cmd_async_pgkeep() { echo "$PGKEEP" --config "$work/pgkeep-async.yaml" --repo-path "$1" archive-push; }
cmd_async_pgbr() { echo "${PGBR_ASYNC[@]}" --repo1-path="$1" archive-push; }
# reset_async: a data directory (the stopped server's PG_VERSION and
# pg_control) whose pg_wal holds the segments (hard links) with a .ready file
# each in archive_status, as a backlog PostgreSQL has to archive, and empty
# spools.
reset_async() {
	rm -rf "$work/async-data" "$work/pgkeep-spool" "$work/pgbr-spool"
	as_pg bash -c 'd=$1/async-data
		mkdir -p -m 0700 "$d/global" "$d/pg_wal/archive_status"
		mkdir -p "$1/pgkeep-spool" "$1/pgbr-spool"
		cp "$1/data/PG_VERSION" "$d/" && cp "$1/data/global/pg_control" "$d/global/"
		while read -r f; do ln "$f" "$d/pg_wal/"; : >"$d/pg_wal/archive_status/${f##*/}.ready"; done <"$1/segs.list"' _ "$work"
	sync
}
# durable DIR: how many segments are published under DIR.
durable() { stored "$1" | cut -d' ' -f1; }
wait_durable() { # TOOL DIR
	local i
	for ((i = 0; i < 12000; i++)); do
		[ "$(durable "$2")" -ge "$NSEG" ] && return
		sleep 0.01
	done
	die "$1 async: $(durable "$2") of $NSEG segments in the repository after 2 minutes"
}
# stop_async TOOL: ends the tool's background process (pgkeep's uploader
# would wait 30 s for more WAL) and waits until it is gone.
stop_async() {
	local pat i
	if [ "$1" = pgkeep ]; then pat="$work/pgkeep .*--async-worker"; else pat="archive-push:async"; fi
	pkill -f -- "$pat" || true
	for ((i = 0; i < 1000; i++)); do
		pgrep -f -- "$pat" >/dev/null || return 0
		sleep 0.01
	done
	die "$1 async: the background process did not exit"
}

# busy: "busy idle" jiffies of all CPUs, from /proc/stat.
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }

# Results: one line per (round, tool, metric) in $work/results.
res() { echo "$1 $2 $3 $4" >>"$work/results"; }

# One pass of one tool in round R. Every measurement is an assignment
# (out=$(...)) so that a failing push stops the script.
bench_pass() { # PASS ROUND TOOL(pgkeep|pgbr)
	local p=$1 r=$2 t=$3 disk=$work/$3-repo tmp=$shm/$3-repo out wall u s b rss flt busy0 busy1
	local -a c
	case $p in
	main) # 64 pushes into a fresh archive on disk.
		fresh "$t" "$disk"
		read -ra c <<<"$(cmd_$t "$disk")"
		busy0=$(busy)
		out=$(loop "$work/segs.list" "${c[@]}")
		busy1=$(busy)
		read -r wall u s <<<"$out"
		b=$(check_stored "$t" "$disk" "$NSEG")
		res "$r" "$t" wall "$wall"
		res "$r" "$t" cpu "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')"
		res "$r" "$t" user "$u"
		res "$r" "$t" sys "$s"
		res "$r" "$t" stored "$b"
		# CPUs busy on the whole machine during the pass, minus this pass's own
		# use: the load of anything else running meanwhile (noise).
		res "$r" "$t" others "$(awk -v a="$busy0" -v b="$busy1" -v n="$(nproc)" -v c="$u $s" -v w="$wall" 'BEGIN {
			split(a, x, " "); split(b, y, " "); split(c, z, " ")
			db = y[1] - x[1]; di = y[2] - x[2]; printf "%.2f", n * db / (db + di) - (z[1] + z[2]) / w }')"
		;;
	rss) # the same 64 pushes, each under /usr/bin/time.
		fresh "$t" "$disk"
		read -ra c <<<"$(cmd_$t "$disk")"
		rm -f "$work/rss.$t"
		loop_rss "$work/rss.$t" "$work/segs.list" "${c[@]}"
		b=$(check_stored "$t" "$disk" "$NSEG")
		read -r rss flt <<<"$(awk '/^[0-9]+ [0-9]+$/ { n++; f += $2; if ($1 > m) m = $1 } END { printf "%d %.0f\n", m, f / n }' "$work/rss.$t")"
		res "$r" "$t" rss "$rss"
		res "$r" "$t" faults "$flt"
		;;
	latency) # one push into an archive whose directories exist already.
		fresh "$t" "$disk"
		read -ra c <<<"$(cmd_$t "$disk")"
		loop "$work/warm1.list" "${c[@]}" >/dev/null
		sync
		out=$(loop "$work/lat.list" "${c[@]}")
		b=$(check_stored "$t" "$disk" 2)
		res "$r" "$t" latency "${out%% *}"
		;;
	start) # `TOOL version` x 64.
		if [ "$t" = pgkeep ]; then c=("$PGKEEP" version); else c=("$PGBACKREST" version); fi
		sync
		out=$(loop "$NSEG" "${c[@]}")
		res "$r" "$t" start "${out%% *}"
		;;
	async) # the 64 pushes in async mode, from a backlog of .ready files: each
		# push returns as soon as its tool acknowledges it; timed until the last
		# one returned (ack) and until all 64 are in the repository (durable).
		# The background processes are not children: CPU is the machine's busy
		# time during the pass.
		fresh "$t" "$disk"
		reset_async
		read -ra c <<<"$(cmd_async_$t "$disk")"
		busy0=$(busy)
		local t0=$EPOCHREALTIME
		out=$(loop_ready "$work/pgwal.list" "${c[@]}")
		wait_durable "$t" "$disk"
		local t1=$EPOCHREALTIME
		busy1=$(busy)
		stop_async "$t"
		b=$(check_stored "$t" "$disk" "$NSEG")
		res "$r" "$t" async_ack "${out%% *}"
		res "$r" "$t" async_durable "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')"
		res "$r" "$t" async_cpu "$(awk -v a="$busy0" -v b="$busy1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
			split(a, x, " "); split(b, y, " "); printf "%.3f", (y[1] - x[1]) / hz }')"
		res "$r" "$t" async_stored "$b"
		rm -rf "$work/async-data"
		;;
	tmpfs | none) # zstd level 3 (tmpfs) or no compression (none), repository on /dev/shm.
		fresh "$t" "$tmp"
		if [ "$p" = none ]; then read -ra c <<<"$(cmd_$t "$tmp" none)"; else read -ra c <<<"$(cmd_$t "$tmp")"; fi
		out=$(loop "$work/segs.list" "${c[@]}")
		b=$(check_stored "$t" "$tmp" "$NSEG")
		res "$r" "$t" "$p" "${out%% *}"
		res "$r" "$t" "${p}_stored" "$b"
		;;
	esac
	rm -rf "$tmp" "$disk"
}

# -------------------------------------------------------------- 4. the rounds
# Warm up: binaries, libraries and the input files in the page cache.
cat "$work"/segs/* >/dev/null
for t in pgkeep pgbr; do
	fresh "$t" "$work/$t-repo"
	read -ra c <<<"$(cmd_$t "$work/$t-repo")"
	loop "$work/warm1.list" "${c[@]}" >/dev/null
	rm -rf "$work/$t-repo"
done
: >"$work/results"
# What one minor page fault (first touch of a fresh anonymous 4 KiB page) costs
# on this machine: dd's 64 MiB buffer, system time / faults, median of 5.
for _ in 1 2 3 4 5; do
	/usr/bin/time -f '%S %R' dd if=/dev/zero of=/dev/null bs=64M count=1 status=none 2>&1 |
		awk 'NF == 2 && $2 > 0 { printf "%.3f\n", $1 * 1e6 / $2 }'
done | sort -g | sed -n 3p >"$work/fault_us"
for ((r = 1; r <= ROUNDS; r++)); do
	if ((r % 2)); then order="pgkeep pgbr"; else order="pgbr pgkeep"; fi
	passes="main rss latency start tmpfs none"
	[ "${ASYNC:-1}" = 1 ] && passes="$passes async"
	for p in $passes; do
		for t in $order; do
			say "round $r/$ROUNDS: $p $t"
			bench_pass "$p" "$r" "$t"
		done
	done
done

# Optional (PROFILE=1, needs perf and go): one more main pass per tool under
# `perf record -g`, pgkeep built without -s -w so that perf sees its symbols;
# every sample is put in the first matching category of its call stack.
profile_tool() { # TOOL -> lines "category<TAB>ms per push"
	local t=$1 bin
	local -a c
	fresh "$t" "$work/$t-repo"
	read -ra c <<<"$(cmd_$t "$work/$t-repo")"
	if [ "$t" = pgkeep ]; then c[0]=$work/pgkeep-prof; bin=pgkeep-prof; else bin=pgbackrest; fi
	perf record -q -F 999 -g -o "$work/perf.$t" -- \
		runuser -u postgres -- "$work/runloop.sh" "$work/segs.list" "${c[@]}" >/dev/null
	rm -rf "$work/$t-repo"
	perf script -i "$work/perf.$t" -F comm,ip,sym,dso 2>/dev/null | awk -v want="${bin:0:15}" -v n="$NSEG" '
	function flush() {
		if (comm == want && depth > 0) {
			c = "other"
			if (st ~ /exc_page_fault/) c = "page faults (first touch of memory)"
			else if (st ~ /zstd|ZSTD/) c = "zstd compression"
			else if (st ~ /sha256|[Ss][Hh][Aa]1|libcrypto/) c = "checksum (SHA-256 / SHA-1)"
			else if (st ~ /do_fsync|sys_fsync|fdatasync/) c = "fsync"
			else if (st ~ /ksys_read/) c = "read(2): copy from the page cache"
			else if (st ~ /ksys_write|sys_link|do_linkat|sys_unlink|do_sys_open|sys_mkdir|rename/) c = "write, link, open"
			else if (st ~ /_dl_|execve|exec_binprm|load_elf|do_exit|exit_mmap|mmput|runtime\.schedinit|runtime\.doInit|rt0_go|__libc_start|_start /) c = "exec, dynamic linking, init, exit"
			else if (st ~ /runtime\.gc|gcBgMark|mallocgc|memclr|scanobject|bgsweep|bgscavenge/) c = "Go allocation and GC"
			else if (st ~ /memmove|memcpy/) c = "memory copies"
			cnt[c]++
		}
		depth = 0; st = ""
	}
	/^[^ \t]/ { flush(); comm = $1; next }
	/^[ \t]*$/ { flush(); next }
	{ depth++; st = st " " $0 }
	END { flush(); for (c in cnt) printf "%s\t%.1f\n", c, cnt[c] / 999 * 1000 / n }'
}
profile_md=""
if [ "${PROFILE:-0}" = 1 ]; then
	command -v perf >/dev/null && command -v go >/dev/null || die "PROFILE=1 needs perf and go"
	[ "$(id -u)" = 0 ] || die "PROFILE=1 needs root (perf, runuser)"
	say "profile: building pgkeep with symbols, perf record of one main pass per tool"
	CGO_ENABLED=0 go build -trimpath -o "$work/pgkeep-prof" ./cmd/pgkeep
	chmod 0755 "$work/pgkeep-prof"
	profile_tool pgkeep >"$work/prof.pgkeep"
	profile_tool pgbr >"$work/prof.pgbr"
	profile_md=$(
		echo
		echo "### CPU profile (perf, one main pass each; ms of CPU per push by category)"
		echo
		echo "| category | pgkeep | pgBackRest |"
		echo "|---|---|---|"
		cut -f1 "$work/prof.pgkeep" "$work/prof.pgbr" | sort -u | while IFS= read -r cat; do
			a=$(awk -F'\t' -v c="$cat" '$1 == c { print $2 }' "$work/prof.pgkeep")
			b=$(awk -F'\t' -v c="$cat" '$1 == c { print $2 }' "$work/prof.pgbr")
			printf '%s\t| %s | %s | %s |\n' "${a:-0}" "$cat" "${a:-0}" "${b:-0}"
		done | sort -t$'\t' -k1,1 -gr | cut -f2-
		awk -F'\t' '{ a += $2 } END { printf "| **total CPU sampled** | **%.1f** |", a }' "$work/prof.pgkeep"
		awk -F'\t' '{ a += $2 } END { printf " **%.1f** |\n", a }' "$work/prof.pgbr"
		echo
		echo "A sample counts in the first category its call stack matches, in this order: page faults,"
		echo "zstd, checksum, fsync, read, write/link/open, exec/init/exit, Go allocation/GC, memory copies."
	)
fi

# Round trip, once: what each tool stored restores byte for byte.
verify_n=$(sed -n 2p "$work/segs.list")
for t in pgkeep pgbr; do
	fresh "$t" "$work/$t-repo"
	read -ra c <<<"$(cmd_$t "$work/$t-repo")"
	as_pg "${c[@]}" "$verify_n" >/dev/null
done
as_pg "${PK[@]}" --repo-path "$work/pgkeep-repo" archive-get "$(basename "$verify_n")" "$work/got.pgkeep" >/dev/null
as_pg "${PGBR[@]}" --repo1-path="$work/pgbr-repo" archive-get "$(basename "$verify_n")" "$work/got.pgbr" >/dev/null
cmp -s "$verify_n" "$work/got.pgkeep" || die "pgkeep archive-get returned different bytes"
cmp -s "$verify_n" "$work/got.pgbr" || die "pgbackrest archive-get returned different bytes"

# ----------------------------------------------------------------- 5. report
say "done; writing the report"
R=$work/results
vals() { awk -v t="$1" -v m="$2" '$2 == t && $3 == m { print $4 }' "$R"; }
# stat VALUES...: "median min max" (median of an even count: mean of the middle two)
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.9g %.9g %.9g\n", m, v[1], v[NR] }'
}
# derived TOOL METRIC FORMULA(awk, x = the value): per-round values transformed.
derived() { vals "$1" "$2" | awk -v n="$NSEG" -v seg="$SEGSIZE" "{ x = \$1; printf \"%.9g\\n\", $3 }"; }
med() { derived "$1" "$2" "$3" | stats | cut -d' ' -f1; }
fmt() { # FORMAT TOOL METRIC FORMULA -> "median (min-max)"
	local m lo hi
	read -r m lo hi < <(derived "$2" "$3" "$4" | stats)
	printf "$1 ($1–$1)" "$m" "$lo" "$hi"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
# Paired per-round ratios pgkeep/pgbr of a metric: "median (min-max)".
paired() { # METRIC FORMULA
	paste <(derived pgkeep "$1" "$2") <(derived pgbr "$1" "$2") | awk '{ printf "%.9g\n", $1 / $2 }' | stats |
		awk '{ printf "%.2f (%.2f–%.2f)", $1, $2, $3 }'
}

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
tmpfs_line=$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')
tmpopts=$(findmnt -no OPTIONS --target "$work" 2>/dev/null || echo "?")
pgk_ver=$("$PGKEEP" version 2>/dev/null | head -n 1)
pgbr_ver=$("$PGBACKREST" version)
first_name=$(name_of $first)

per_seg_kb='x / n / 1000'          # stored bytes per segment -> kB
seg_s='n / x'                      # wall -> segments/s
mib_s='n * seg / 1048576 / x'      # wall -> MiB/s
ms_per='x / n * 1000'              # wall of 64 -> ms per push
ms='x * 1000'                      # s -> ms
mb='x / 1e6'                       # bytes -> MB
rss_mib='x / 1024'                 # KiB -> MiB

pk_tput=$(med pgkeep wall "$seg_s"); br_tput=$(med pgbr wall "$seg_s")
pk_st=$(med pgkeep stored x); br_st=$(med pgbr stored x)
tput_ratio=$(ratio "$pk_tput" "$br_tput")
st_ratio=$(ratio "$pk_st" "$br_st")
tput_ok=$(awk -v r="$tput_ratio" 'BEGIN { print (r >= 2.0) ? "yes" : "no" }')
st_ok=$(awk -v r="$st_ratio" 'BEGIN { print (r <= 1.10) ? "yes" : "no" }')
goal=$([ "$tput_ok$st_ok" = yesyes ] && echo "**met**" || echo "**NOT met**")

cat <<MD
## archive-push benchmark: pgkeep vs pgBackRest

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) CPUs ($cpu_model), $mem RAM, $(uname -sr)
- work directory (input segments, repositories on disk): $tmpfs_line ($tmpopts); tmpfs passes on /dev/shm
- $pgk_ver; $pgbr_ver; PostgreSQL $("$PGBIN/postgres" -V | awk '{ print $3 }')
- command: \`ROUNDS=$ROUNDS${PROFILE:+ PROFILE=$PROFILE} bash test/bench/archive_push.sh\`
- input: $NSEG consecutive 16 MiB segments $first_name..$lastname written by pgbench (-i -s $SCALE, then CHECKPOINT + pgbench -c 8 -T 10 runs), warm in the page cache
- each tool: one process per segment, sequentially (as archive_command), into an empty archive per pass;
  zstd level 3 both (pgBackRest compress-type=zst, archive-async=n, process-max=1, file log at level info);
  the server is stopped during the measurements

### Results ($ROUNDS rounds: median (min–max))

| metric | pgkeep | pgBackRest | pgkeep / pgBackRest |
|---|---|---|---|
| wall time, $NSEG pushes (s) | $(fmt %.2f pgkeep wall x) | $(fmt %.2f pgbr wall x) | $(paired wall x) |
| throughput (segments/s) | $(fmt %.1f pgkeep wall "$seg_s") | $(fmt %.1f pgbr wall "$seg_s") | **$tput_ratio** (paired: $(paired wall "$seg_s")) |
| throughput (MiB/s of WAL) | $(fmt %.0f pgkeep wall "$mib_s") | $(fmt %.0f pgbr wall "$mib_s") | $(paired wall "$mib_s") |
| mean time per push (ms) | $(fmt %.1f pgkeep wall "$ms_per") | $(fmt %.1f pgbr wall "$ms_per") | $(paired wall "$ms_per") |
| single-push latency (ms) | $(fmt %.1f pgkeep latency "$ms") | $(fmt %.1f pgbr latency "$ms") | $(paired latency "$ms") |
| CPU (user+sys), $NSEG pushes (s) | $(fmt %.2f pgkeep cpu x) | $(fmt %.2f pgbr cpu x) | $(paired cpu x) |
| CPU user per push (ms) | $(fmt %.1f pgkeep user "$ms_per") | $(fmt %.1f pgbr user "$ms_per") | $(paired user x) |
| CPU sys per push (ms) | $(fmt %.1f pgkeep sys "$ms_per") | $(fmt %.1f pgbr sys "$ms_per") | $(paired sys x) |
| minor page faults per push | $(fmt %.0f pgkeep faults x) | $(fmt %.0f pgbr faults x) | $(paired faults x) |
| stored, $NSEG segments (MB) | $(fmt %.2f pgkeep stored "$mb") | $(fmt %.2f pgbr stored "$mb") | **$st_ratio** |
| stored per segment (kB) | $(fmt %.0f pgkeep stored "$per_seg_kb") | $(fmt %.0f pgbr stored "$per_seg_kb") | |
| peak RSS of one push (MiB) | $(fmt %.1f pgkeep rss "$rss_mib") | $(fmt %.1f pgbr rss "$rss_mib") | $(paired rss x) |
| other load during the pass (CPUs) | $(fmt %.2f pgkeep others x) | $(fmt %.2f pgbr others x) | |

Wall time is the loop of $NSEG pushes (one process each, \`EPOCHREALTIME\` around the loop);
CPU is the loop's children (bash \`times\`); peak RSS and page faults come from a separate pass
with every push under \`/usr/bin/time -f '%M %R'\` (max RSS over the $NSEG processes, mean faults);
latency is one push into an archive whose directories exist; "other load" is the machine's busy
CPUs during the pass minus the pass's own CPU (anything else running, i.e. noise).

Goal (pgkeep >= 2x pgBackRest's throughput, stored size within 10%): $goal —
throughput ratio $tput_ratio (>= 2.00: $tput_ok), stored size ratio $st_ratio (<= 1.10: $st_ok).

### Where the time goes (ms per push, medians)

| component | how | pgkeep | pgBackRest |
|---|---|---|---|
MD
for t in pgkeep pgbr; do
	declare "${t}_start=$(med $t start "$ms_per")" "${t}_total=$(med $t wall "$ms_per")"
	declare "${t}_tmpfs=$(med $t tmpfs "$ms_per")" "${t}_none=$(med $t none "$ms_per")"
done
row() { printf '| %s | %s | %.1f | %.1f |\n' "$1" "$2" "$3" "$4"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
row "total" "zstd-3, repository on disk ($NSEG pushes / $NSEG)" "$pgkeep_total" "$pgbr_total"
row "(a) process start" "\`version\` x $NSEG" "$pgkeep_start" "$pgbr_start"
row "(b) compression" "tmpfs zstd - tmpfs none" "$(sub "$pgkeep_tmpfs" "$pgkeep_none")" "$(sub "$pgbr_tmpfs" "$pgbr_none")"
row "(c) storage + fsync" "disk zstd - tmpfs zstd" "$(sub "$pgkeep_total" "$pgkeep_tmpfs")" "$(sub "$pgbr_total" "$pgbr_tmpfs")"
row "rest" "tmpfs none - start (config, repo open, read, checks, hash, write)" "$(sub "$pgkeep_none" "$pgkeep_start")" "$(sub "$pgbr_none" "$pgbr_start")"
fault_us=$(cat "$work/fault_us")
row "memo: page faults" "faults per push x $fault_us µs (one minor fault here)" \
	"$(awk -v f="$(med pgkeep faults x)" -v c="$fault_us" 'BEGIN { print f * c / 1000 }')" \
	"$(awk -v f="$(med pgbr faults x)" -v c="$fault_us" 'BEGIN { print f * c / 1000 }')"
row "memo: CPU sys" "system CPU per push, main pass" "$(med pgkeep sys "$ms_per")" "$(med pgbr sys "$ms_per")"
row "memo: CPU user" "user CPU per push, main pass" "$(med pgkeep user "$ms_per")" "$(med pgbr user "$ms_per")"
async_md=""
if [ -n "$(vals pgkeep async_durable)" ]; then
	async_md=$(
		cat <<AMD
### Async mode ($ROUNDS rounds: median (min–max))

Both tools in async mode (pgBackRest \`archive-async=y\`, pgkeep \`archive.async: true\`), 2 parallel uploads
each, spools on the work directory's disk, the same $NSEG segments as a backlog of \`.ready\` files. The two
acknowledge differently: pgBackRest returns once its background process has the segment in the repository,
pgkeep once the segment is fsynced in its local spool; both background processes push ahead of archive_command.
"durable" is the time until all $NSEG segments are in the repository, the figure to compare.

| metric | pgkeep | pgBackRest | pgkeep / pgBackRest |
|---|---|---|---|
| all $NSEG acknowledged (s) | $(fmt %.2f pgkeep async_ack x) | $(fmt %.2f pgbr async_ack x) | $(paired async_ack x) |
| all $NSEG durable in the repository (s) | $(fmt %.2f pgkeep async_durable x) | $(fmt %.2f pgbr async_durable x) | $(paired async_durable x) |
| throughput to durable (segments/s) | $(fmt %.1f pgkeep async_durable "$seg_s") | $(fmt %.1f pgbr async_durable "$seg_s") | **$(ratio "$(med pgkeep async_durable "$seg_s")" "$(med pgbr async_durable "$seg_s")")** (paired: $(paired async_durable "$seg_s")) |
| machine CPU during the pass (CPU-s) | $(fmt %.2f pgkeep async_cpu x) | $(fmt %.2f pgbr async_cpu x) | $(paired async_cpu x) |
| stored, $NSEG segments (MB) | $(fmt %.2f pgkeep async_stored "$mb") | $(fmt %.2f pgbr async_stored "$mb") | $(ratio "$(med pgkeep async_stored x)" "$(med pgbr async_stored x)") |

Async throughput over the same tool's synchronous pass (medians): pgkeep $(ratio "$(med pgkeep async_durable "$seg_s")" "$pk_tput")x,
pgBackRest $(ratio "$(med pgbr async_durable "$seg_s")" "$br_tput")x. pgkeep async over pgBackRest synchronous:
$(ratio "$(med pgkeep async_durable "$seg_s")" "$br_tput")x.
AMD
	)
fi
cat <<MD

(b) is the difference of two whole-process passes, not a profile: a pass without compression
also writes 16 MiB instead of ~1.2 MB per segment and changes how the tool buffers, so (b)
can come out negative; then compression is not what dominates.

Raw passes (ms per push, median (min–max)): repository on tmpfs, zstd: pgkeep $(fmt %.1f pgkeep tmpfs "$ms_per"),
pgBackRest $(fmt %.1f pgbr tmpfs "$ms_per"); tmpfs, no compression: pgkeep $(fmt %.1f pgkeep none "$ms_per"),
pgBackRest $(fmt %.1f pgbr none "$ms_per"); \`version\`: pgkeep $(fmt %.2f pgkeep start "$ms_per"), pgBackRest $(fmt %.2f pgbr start "$ms_per").
Stored with no compression ($NSEG segments): pgkeep $(fmt %.1f pgkeep none_stored "$mb") MB, pgBackRest $(fmt %.1f pgbr none_stored "$mb") MB.

$async_md
### Per round

| round | first | pgkeep wall (s) | pgBackRest wall (s) | pgkeep stored (B) | pgBackRest stored (B) | pgkeep RSS (KiB) | pgBackRest RSS (KiB) | pgkeep latency (ms) | pgBackRest latency (ms) | other load pgkeep / pgBackRest (CPUs) |
|---|---|---|---|---|---|---|---|---|---|---|
MD
for ((r = 1; r <= ROUNDS; r++)); do
	v() { awk -v r="$r" -v t="$1" -v m="$2" '$1 == r && $2 == t && $3 == m { print $4 }' "$R"; }
	printf '| %d | %s | %.3f | %.3f | %s | %s | %s | %s | %.1f | %.1f | %s / %s |\n' "$r" \
		"$( ((r % 2)) && echo pgkeep || echo pgBackRest)" \
		"$(v pgkeep wall)" "$(v pgbr wall)" "$(v pgkeep stored)" "$(v pgbr stored)" \
		"$(v pgkeep rss)" "$(v pgbr rss)" \
		"$(awk -v x="$(v pgkeep latency)" 'BEGIN { print x * 1000 }')" \
		"$(awk -v x="$(v pgbr latency)" 'BEGIN { print x * 1000 }')" \
		"$(v pgkeep others)" "$(v pgbr others)"
done
[ -n "$profile_md" ] && echo "$profile_md"
cat <<MD

<details><summary>Raw measurements (round, tool, metric, value; seconds, bytes, KiB)</summary>

\`\`\`
$(cat "$R")
page fault cost (µs): $(cat "$work/fault_us")
\`\`\`
</details>
MD
