#!/usr/bin/env bash
# Benchmark: full/incremental backup, restore and delta restore, pgkeep vs
# pgBackRest (and pg_basebackup as a reference), on one PostgreSQL 15 server.
#
#   bash test/bench/backup_restore.sh > report.md     (from the repository root)
#
# Needs: bin/pgkeep (`make build`), PostgreSQL 15 and pgBackRest
# (`scripts/install-deps.sh --bench`), GNU time (/usr/bin/time), jq; optional:
# perf and go (CPU profiles of one pgkeep backup and restore). Runs as root: PostgreSQL and
# both tools run as the OS user `postgres`.
#
# What it does:
#  1. initdb -k (data checksums) a throwaway PostgreSQL 15 on a free 127.0.0.1
#     port, archive_mode=on, archive_command pushing every WAL file into both
#     repositories: `pgkeep archive-push %p && pgbackrest archive-push %p`
#     (before each backup the order is set so that the tool being measured
#     pushes second: each backup's wait for its last WAL segment then includes
#     both pushes, the same handicap for both). autovacuum=off, so that nothing
#     changes the data between runs. pgkeep: `create` on a posix repository
#     (zstd level 3, the default; backup workers = cores, restore workers = 3 x cores). pgBackRest: stanza-create on
#     a posix repository, compress-type=zst, compress-level=3, process-max=2,
#     start-fast=y, archive-check default (y), file log level info.
#  2. Measures the disk once: dd 2000 MiB of zeros with conv=fdatasync (the
#     write limit the restore goal refers to) and with oflag=direct.
#  3. For each data set (DATASETS, default "A B"), in a fresh database `bench`:
#       A: pgbench -i -s SCALE (100: ~1.5 GB, compresses ~22x);
#       B: one table of B_MB MiB (1536) of generated rows, numbers and text
#          (short md5 pieces, words, numbers) that compresses ~3x with zstd -3
#          (the ratio of a sample is measured and reported);
#     then VACUUM FREEZE ANALYZE, CHECKPOINT and waits until the WAL is
#     archived. Then ROUNDS rounds (3); the order of the two tools alternates
#     from round to round; every timed run is preceded by an untimed `sync`,
#     every backup by a CHECKPOINT; the page cache is dropped only for the
#     cold delta restores (as root), and the data directory is read back into
#     it right after them, so that every backup reads it warm:
#       full backup: pgkeep backup --type full --output json; pgbackrest
#         backup --type=full; pg_basebackup -Ft -X none --compress=server-zstd:3
#         into a temp dir (reference); pg_basebackup -Ft -X none -D - > /dev/null
#         (uncompressed BASE_BACKUP stream alone: a lower bound for pgkeep);
#       restore of each tool's newest backup into an empty directory (not
#         started), then `sync` timed separately;
#       delta restore of that unchanged copy onto itself (pgkeep restore
#         --delta, pgbackrest restore --delta).
#     Once per data set, after the rounds: UPDATE of 1% of the rows of the big
#     table (random() < 0.01: spread over the whole table), CHECKPOINT, then an
#     incremental backup of each tool: wall time and bytes stored.
#     Once per data set (PROFILE=1, perf and go available): one more pgkeep
#     full backup and one more restore under `perf record -a -g`, with a
#     pgkeep built with symbols (not timed with the others).
#  4. Every timed run: wall (EPOCHREALTIME), user+sys CPU and peak RSS of the
#     largest single process of the tool's process tree (/usr/bin/time %U %S
#     %M), peak of the sum of the RSS of all pgkeep/pgbackrest processes of the
#     tree (sampled every 0.2 s: may miss short peaks), CPU used by the
#     PostgreSQL server meanwhile (postmaster and its children, including the
#     archive_command processes) and the machine's other load (busy CPUs from
#     /proc/stat minus the tool's and the server's CPU: noise). Before each
#     timed run the script waits (up to QUIET_WAIT s in all) until the machine
#     is idle: less than QUIET_MAX (0.3) CPUs busy over one second.
#     pgkeep's time is split with the server log (log_replication_commands,
#     log_disconnections): process start to "backup starting" (pgkeep log),
#     to BASE_BACKUP received, to the walsender's disconnection (end of
#     stream), to "backup complete" (WAL wait, manifest), to process exit.
#  5. Prints Markdown to stdout; progress to stderr.
#
# Environment: ROUNDS (3), DATASETS ("A B"), SCALE (100), B_MB (1536), PROFILE
# (1), DD_MB (2000), BIN (bin/pgkeep), PGBIN (/usr/lib/postgresql/15/bin),
# PGBACKREST (pgbackrest), TMPDIR (work directory parent, /tmp: must be on the
# disk being measured, not tmpfs), KEEP (1: keep the work directory), RENDER
# (DIR: only print the report from a kept work directory DIR), QUIET_MAX (0.3),
# QUIET_WAIT (900).
set -euo pipefail
export LC_ALL=C TZ=UTC
cd "$(dirname "$0")/../.."

ROUNDS=${ROUNDS:-3}
DATASETS=${DATASETS:-A B}
SCALE=${SCALE:-100}
B_MB=${B_MB:-1536}
PROFILE=${PROFILE:-1}
DD_MB=${DD_MB:-2000}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
BIN=${BIN:-bin/pgkeep}
PGBACKREST=${PGBACKREST:-pgbackrest}
CLUSTER=bench
CMDLINE="ROUNDS=$ROUNDS DATASETS=\"$DATASETS\" SCALE=$SCALE B_MB=$B_MB bash test/bench/backup_restore.sh"

. test/bench/lib.sh # say, die, free_port, initdb_loopback, pgbr_conf, require_tools

# ---------------------------------------------------------------- prerequisites
[ "$(id -u)" = 0 ] || die "run as root (PostgreSQL and the tools run as user postgres)"
require_tools pg_basebackup
for d in $DATASETS; do [[ "$d" =~ ^[AB]$ ]] || die "DATASETS: A and/or B"; done
need=()
[ -x /usr/bin/time ] || need+=(time)
command -v jq >/dev/null || need+=(jq)
command -v zstd >/dev/null || need+=(zstd)
if ((${#need[@]})); then
	say "installing ${need[*]}"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

as_pg() { runuser -u postgres -- "$@"; }

if [ -z "${RENDER:-}" ]; then # ========================== measurements

work=$(mktemp -d "${TMPDIR:-/tmp}/pgkeep-bench-br.XXXXXX")
chmod 0755 "$work"
chown postgres: "$work"
cleanup() {
	local rc=$?
	# Only what this script started: its own server and the profile's perf.
	as_pg "$PGBIN/pg_ctl" -D "$work/data" -m immediate stop >/dev/null 2>&1 || true
	if [ "${KEEP:-0}" = 1 ] || [ $rc != 0 ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port=$(free_port)

as_pg mkdir -p "$work/out" "$work/pgbr-log" "$work/pgbr-lock" "$work/pgbr-spool"
as_pg cp "$BIN" "$work/pgkeep"
as_pg chmod 0755 "$work/pgkeep"
PGKEEP=$work/pgkeep
R=$work/results # lines: dataset round tool metric value
: >"$R"
: >"$work/quiet_waits"
res() { echo "$1 $2 $3 $4 $5" >>"$R"; }

psql_c() { as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atqc "$1" "${2:-postgres}"; }

# ------------------------------------------------------------ 1. server, tools
say "initdb -k and start PostgreSQL 15 on 127.0.0.1:$port (work dir $work)"
initdb_loopback "$work/data" "$port" "$work"
pgbr_conf "$work/pgbr-repo" repo1-retention-full=9999999 process-max=2 start-fast=y archive-async=n log-level-file=info
cat >"$work/pgkeep.yaml" <<YAML
cluster: $CLUSTER
repo:
  type: posix
  path: $work/pgkeep-repo
pg:
  host: 127.0.0.1
  port: $port
YAML
chmod 0644 "$work/pgkeep.yaml"
PK=("$PGKEEP" --config "$work/pgkeep.yaml")
push_pk="$PGKEEP --config $work/pgkeep.yaml archive-push %p"
push_br="$PGBACKREST --config=$work/pgbackrest.conf --stanza=$CLUSTER archive-push %p"
cat >>"$work/data/postgresql.conf" <<CONF
shared_buffers = 256MB
max_wal_size = 8GB
checkpoint_timeout = 30min
autovacuum = off
archive_mode = on
archive_command = '$push_pk && $push_br'
log_line_prefix = '%m [%p] '
log_timezone = 'UTC'
log_replication_commands = on
log_disconnections = on
logging_collector = off
CONF
as_pg "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null
# Who pushes first: the tool NOT being measured (so the measured one waits for both).
push_order() { # first: pgkeep|pgbr
	local cmd
	if [ "$1" = pgkeep ]; then cmd="$push_pk && $push_br"; else cmd="$push_br && $push_pk"; fi
	psql_c "ALTER SYSTEM SET archive_command = '$cmd'" >/dev/null
	psql_c "SELECT pg_reload_conf()" >/dev/null
}
say "pgkeep create; pgbackrest stanza-create"
as_pg "${PK[@]}" create >&2
as_pg "${PGBR[@]}" stanza-create
as_pg "${PGBR[@]}" check

# Profile build (before the long part: other people may edit the tree meanwhile).
have_prof=0
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null && command -v go >/dev/null; then
	if CGO_ENABLED=0 go build -trimpath -o "$work/pgkeep-prof" ./cmd/pgkeep 2>"$work/prof-build.log"; then
		chmod 0755 "$work/pgkeep-prof"
		have_prof=1
	else
		say "profile build failed (see below); no perf profile"
		cat "$work/prof-build.log" >&2
	fi
fi

# ------------------------------------------------------------------ helpers
busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $5 + $6 }' /proc/stat; }
# CPU seconds of the server: postmaster and its children, with reaped children.
pg_cpu() {
	local pm p
	pm=$(head -n 1 "$work/data/postmaster.pid")
	for p in $pm $(cat /proc/"$pm"/task/*/children 2>/dev/null); do cat "/proc/$p/stat" 2>/dev/null || true; done |
		awk -v hz="$(getconf CLK_TCK)" '{ sub(/^[0-9]+ \([^)]*\) /, ""); s += $12 + $13 + $14 + $15 } END { printf "%.2f\n", s / hz }'
}
# tree_rss ROOT: KiB, sum of the RSS of the pgkeep*/pgbackrest processes under ROOT.
# Only builtins (read), no fork per process: cheap enough to sample at 5 Hz.
PAGE_KB=$(($(getconf PAGESIZE) / 1024))
tree_rss() {
	local -a q=("$1") st
	local s=0 p f comm kids
	while ((${#q[@]})); do
		p=${q[0]}
		q=("${q[@]:1}")
		for f in /proc/"$p"/task/*/children; do
			kids=""
			read -r kids 2>/dev/null <"$f" || true
			# shellcheck disable=SC2206 # pids: split on blanks
			q+=($kids)
		done
		read -r comm 2>/dev/null <"/proc/$p/comm" || continue
		case $comm in pgkeep* | pgbackrest*)
			read -r -a st 2>/dev/null <"/proc/$p/stat" || continue
			s=$((s + st[23] * PAGE_KB))
			;;
		esac
	done
	echo "$s"
}
rss_sampler() { # ROOT -> max KiB while ROOT lives
	local max=0 v
	while kill -0 "$1" 2>/dev/null; do
		v=$(tree_rss "$1")
		((v > max)) && max=$v
		sleep 0.2
	done
	echo "$max"
}

# quiet_wait: until the machine's busy CPUs over 1 s are below QUIET_MAX (0.3),
# polling every 5 s, at most QUIET_WAIT seconds in all (900); logs the waits.
QUIET_LEFT=${QUIET_WAIT:-900}
quiet_wait() {
	local a b l waited=0
	while :; do
		a=$(busy)
		sleep 1
		b=$(busy)
		l=$(awk -v a="$a" -v b="$b" -v n="$(nproc)" 'BEGIN { split(a, x, " "); split(b, y, " "); db = y[1] - x[1]; di = y[2] - x[2]; printf "%.2f", n * db / (db + di) }')
		awk -v l="$l" -v m="${QUIET_MAX:-0.3}" 'BEGIN { exit !(l < m) }' && break
		if ((QUIET_LEFT <= 0)); then say "  machine busy ($l CPUs), no wait left: measuring anyway"; break; fi
		((waited == 0)) && say "  machine busy ($l CPUs): waiting"
		sleep 4
		waited=$((waited + 5)) QUIET_LEFT=$((QUIET_LEFT - 5))
	done
	((waited == 0)) || { say "  waited $waited s for a quiet machine"; echo "$waited" >>"$work/quiet_waits"; }
	return 0
}

# timed DS ROUND TOOL KIND CMD...: runs CMD as postgres under /usr/bin/time,
# stdout in $work/out/ID.out, stderr in ID.err; records wall, cpu, user, sys,
# rss (largest process), rsssum (sampled sum), srvcpu, others.
timed() {
	local ds=$1 r=$2 t=$3 k=$4
	shift 4
	local id=$ds.$r.$t.$k b0 b1 c0 c1 t0 t1 pid spid u s m sum
	sync
	quiet_wait
	b0=$(busy) c0=$(pg_cpu)
	t0=$EPOCHREALTIME
	as_pg /usr/bin/time -f '%U %S %M' -o "$work/out/$id.time" "$@" >"$work/out/$id.out" 2>"$work/out/$id.err" &
	pid=$!
	rss_sampler "$pid" >"$work/out/$id.rsssum" &
	spid=$!
	if ! wait "$pid"; then
		t1=$EPOCHREALTIME
		wait "$spid" || true
		say "FAILED after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $*"
		tail -n 30 "$work/out/$id.err" >&2
		die "$t $k failed (data set $ds, round $r)"
	fi
	t1=$EPOCHREALTIME
	b1=$(busy) c1=$(pg_cpu)
	wait "$spid" || true
	read -r u s m < <(tail -n 1 "$work/out/$id.time")
	sum=$(cat "$work/out/$id.rsssum")
	[ -n "$sum" ] || sum=nan
	local wall
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
	res "$ds" "$r" "$t" "$k.wall" "$wall"
	res "$ds" "$r" "$t" "$k.t0" "$t0"
	res "$ds" "$r" "$t" "$k.t1" "$t1"
	res "$ds" "$r" "$t" "$k.cpu" "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')"
	res "$ds" "$r" "$t" "$k.user" "$u"
	res "$ds" "$r" "$t" "$k.sys" "$s"
	res "$ds" "$r" "$t" "$k.rss" "$m"
	res "$ds" "$r" "$t" "$k.rsssum" "$sum"
	res "$ds" "$r" "$t" "$k.srvcpu" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')"
	res "$ds" "$r" "$t" "$k.others" "$(awk -v a="$b0" -v b="$b1" -v n="$(nproc)" -v u="$u" -v s="$s" -v c0="$c0" -v c1="$c1" -v w="$wall" 'BEGIN {
		split(a, x, " "); split(b, y, " "); db = y[1] - x[1]; di = y[2] - x[2]
		printf "%.2f", n * db / (db + di) - (u + s + c1 - c0) / w }')"
	say "  $ds r$r $t $k: ${wall} s"
}

# Waits until every WAL segment written so far is archived (by both tools).
wait_archived() {
	local want got
	want=$(psql_c "SELECT pg_walfile_name(pg_switch_wal())")
	for _ in $(seq 1200); do
		got=$(psql_c "SELECT coalesce(last_archived_wal, '') FROM pg_stat_archiver")
		[[ "$got" > "$want" || "$got" = "$want" ]] && return 0
		sleep 0.5
	done
	die "WAL not archived after 10 minutes (want $want, last $got; failures: $(psql_c 'SELECT failed_count FROM pg_stat_archiver'))"
}
checkpoint() { psql_c CHECKPOINT >/dev/null; }

pgbr_last() { # -> "label size delta repo_size repo_delta" of the newest pgBackRest backup
	as_pg "${PGBR[@]}" info --output=json |
		jq -r '.[0].backup[-1] | "\(.label) \(.info.size) \(.info.delta) \(.info.repository.size) \(.info.repository.delta)"'
}

# Backups. backup_TOOL DS ROUND TYPE
backup_pgkeep() {
	local ds=$1 r=$2 ty=$3 j
	push_order pgbr
	checkpoint
	local off
	off=$(stat -c %s "$work/server.log")
	timed "$ds" "$r" pgkeep "$ty" "${PK[@]}" backup --type "$ty" --output json
	j=$work/out/$ds.$r.pgkeep.$ty.out
	res "$ds" "$r" pgkeep "$ty.stored" "$(jq -r '."stored-size"' "$j")"
	res "$ds" "$r" pgkeep "$ty.size" "$(jq -r '.size' "$j")"
	jq -r .label "$j" >"$work/pgkeep.label"
	# Time split: pgkeep log and server log (BASE_BACKUP, walsender exit).
	tail -c +$((off + 1)) "$work/server.log" >"$work/out/$ds.$r.pgkeep.$ty.srvlog"
	breakdown "$ds" "$r" "$ty"
}
backup_pgbr() {
	local ds=$1 r=$2 ty=$3 l sz dl rs rd
	push_order pgkeep
	checkpoint
	timed "$ds" "$r" pgbr "$ty" "${PGBR[@]}" backup --type="$ty"
	read -r l sz dl rs rd < <(pgbr_last)
	echo "$l" >"$work/pgbr.label"
	res "$ds" "$r" pgbr "$ty.stored" "$rd"
	res "$ds" "$r" pgbr "$ty.size" "$dl"
	res "$ds" "$r" pgbr "$ty.du" "$(du -sb "$work/pgbr-repo/backup/$CLUSTER/$l" | cut -f1)"
}
backup_pgbb() { # pg_basebackup reference, server-side zstd 3, tar, no WAL
	local ds=$1 r=$2
	rm -rf "$work/pgbb"
	as_pg mkdir "$work/pgbb"
	checkpoint
	timed "$ds" "$r" pgbb full "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$port" -U postgres -D "$work/pgbb" -Ft -X none -c fast --compress=server-zstd:3
	res "$ds" "$r" pgbb full.stored "$(du -sb "$work/pgbb" | cut -f1)"
	rm -rf "$work/pgbb"
}
backup_stream() { # the uncompressed BASE_BACKUP stream alone, to /dev/null
	local ds=$1 r=$2
	checkpoint
	timed "$ds" "$r" stream full sh -c "exec '$PGBIN/pg_basebackup' -h 127.0.0.1 -p $port -U postgres -D - -Ft -X none -c fast >/dev/null"
}

# epoch seconds of a time stamp (pgkeep: RFC 3339; server log: "YYYY-MM-DD HH:MM:SS.mmm UTC")
epoch() { date -u -d "$1" +%s.%N; }
breakdown() { # DS ROUND TYPE: phases of the pgkeep backup just run
	local ds=$1 r=$2 ty=$3 base=$work/out/$1.$2.pgkeep.$3 ts tc bb pid disc secs
	ts=$(sed -n 's/^time=\([^ ]*\) .*msg="backup starting".*/\1/p' "$base.err" | head -n 1)
	tc=$(sed -n 's/^time=\([^ ]*\) .*msg="backup complete".*/\1/p' "$base.err" | head -n 1)
	secs=$(sed -n 's/.*msg="backup complete".* seconds=\([0-9.]*\).*/\1/p' "$base.err" | head -n 1)
	read -r bb pid < <(awk '/received replication command: BASE_BACKUP/ { print $1 "T" $2, $4; exit }' "$base.srvlog" | tr -d '[]')
	[ -n "$ts" ] && [ -n "$tc" ] && [ -n "${pid:-}" ] || { say "  (no time split: log lines missing)"; return 0; }
	disc=$(awk -v p="[$pid]" '$4 == p && /disconnection:/ { print $1 "T" $2; exit }' "$base.srvlog")
	[ -n "$disc" ] || { say "  (no time split: walsender disconnection not logged)"; return 0; }
	res "$ds" "$r" pgkeep "$ty.t_log" "$secs"
	res "$ds" "$r" pgkeep "$ty.t_start" "$(epoch "$ts")"
	res "$ds" "$r" pgkeep "$ty.t_bb" "$(epoch "$bb")"
	res "$ds" "$r" pgkeep "$ty.t_disc" "$(epoch "$disc")"
	res "$ds" "$r" pgkeep "$ty.t_complete" "$(epoch "$tc")"
}

# Restores into $work/restore-TOOL. restore_TOOL DS ROUND KIND: restore (into
# an empty directory), delta (onto that copy, right after), deltawarm (the same
# again: the copy is now in the page cache for both tools), deltacold (the page
# cache dropped first; root only). pgkeep writes large files with O_DIRECT, so
# its copy is not in the page cache after its restore and its first delta
# reads from disk, where pgBackRest's reads its copy from the page cache.
cold_caches() { # KIND: drop the page cache before a deltacold run
	if [ "$1" = deltacold ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
}
restore_pgkeep() {
	local ds=$1 r=$2 k=$3 d=$work/restore-pgkeep
	local -a delta=()
	if [ "$k" = restore ]; then
		rm -rf "$d"
		as_pg mkdir -m 0700 "$d"
	else delta=(--delta); fi
	cold_caches "$k"
	timed "$ds" "$r" pgkeep "$k" "${PK[@]}" restore --pgdata "$d" --set "$(cat "$work/pgkeep.label")" "${delta[@]}"
	post_restore "$ds" "$r" pgkeep "$k" "$d"
}
restore_pgbr() {
	local ds=$1 r=$2 k=$3 d=$work/restore-pgbr
	local -a delta=()
	if [ "$k" = restore ]; then
		rm -rf "$d"
		as_pg mkdir -m 0700 "$d"
	else delta=(--delta); fi
	cold_caches "$k"
	timed "$ds" "$r" pgbr "$k" "${PGBR[@]}" restore --pg1-path="$d" --set="$(cat "$work/pgbr.label")" "${delta[@]}"
	post_restore "$ds" "$r" pgbr "$k" "$d"
}
post_restore() { # DS ROUND TOOL KIND DIR: time of a `sync` right after (data not yet on disk)
	local t0 t1
	t0=$EPOCHREALTIME
	sync
	t1=$EPOCHREALTIME
	res "$1" "$2" "$3" "$4.sync" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
	res "$1" "$2" "$3" "$4.bytes" "$(du -sb "$5" | cut -f1)"
	# The big table's first 1 GiB segment must come back byte for byte (no
	# writes since VACUUM FREEZE + CHECKPOINT).
	if [ -n "${BIGREL:-}" ]; then
		if cmp -s "$work/data/$BIGREL" "$5/$BIGREL"; then res "$1" "$2" "$3" "$4.same" 1; else
			res "$1" "$2" "$3" "$4.same" 0
			say "  WARNING: $3 $4: $BIGREL differs from the server's copy"
		fi
	fi
}

# ------------------------------------------------------------------ 2. disk
say "disk: dd ${DD_MB} MiB conv=fdatasync and oflag=direct"
sync
dd_rate() { # FLAG -> MB/s
	local t0 t1
	rm -f "$work/dd.tmp"
	sync
	t0=$EPOCHREALTIME
	dd if=/dev/zero of="$work/dd.tmp" bs=1M count="$DD_MB" "$1" status=none
	t1=$EPOCHREALTIME
	rm -f "$work/dd.tmp"
	awk -v a="$t0" -v b="$t1" -v n="$DD_MB" 'BEGIN { printf "%.0f", n * 1048576 / 1e6 / (b - a) }'
}
disk_fdatasync=$(dd_rate conv=fdatasync)
disk_direct=$(dd_rate oflag=direct)
sync
say "disk: $disk_fdatasync MB/s (fdatasync), $disk_direct MB/s (direct)"

# ------------------------------------------------------------------ 3. data sets
B_SQL_COLS="i, (random()*100000)::int, round((random()*10000)::numeric, 2),
	'2026-01-01'::timestamptz + random() * interval '300 days', substr(md5(i::text), 1, 12),
	(array['alpha','beta','gamma','delta','epsilon','zeta','eta','theta'])[1 + (random()*7)::int]
	|| ' customer ' || (random()*100000)::int || ' order ' || (random()*1000)::int
	|| ' shipped to warehouse ' || (random()*20)::int || ' via ' || (array['road','rail','air','sea'])[1 + (random()*3)::int]"
B_TABLE="CREATE TABLE %s (id bigint, k int, amount numeric(12,2), ts timestamptz, code text, note text)"

load_dataset() {
	local ds=$1
	psql_c "DROP DATABASE IF EXISTS bench" >/dev/null
	psql_c "CREATE DATABASE bench" >/dev/null
	local t0=$EPOCHREALTIME
	case $ds in
	A)
		say "data set A: pgbench -i -s $SCALE"
		as_pg "$PGBIN/pgbench" -h 127.0.0.1 -p "$port" -U postgres -i -s "$SCALE" -q bench >"$work/pgbench-init.log" 2>&1 ||
			{ cat "$work/pgbench-init.log" >&2; die "pgbench -i failed"; }
		BIGTAB=pgbench_accounts
		UPD="UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE random() < 0.01"
		;;
	B)
		# ~141 bytes per row on disk (measured): rows for B_MB MiB; two sessions in parallel.
		local rows=$((B_MB * 1048576 / 141)) half
		half=$((rows / 2))
		say "data set B: $rows generated rows (~$B_MB MiB), sample ratio first"
		psql_c "$(printf "$B_TABLE" sample); INSERT INTO sample SELECT $B_SQL_COLS FROM generate_series(1, 200000) i; CHECKPOINT" bench >/dev/null
		local f s c
		f=$work/data/$(psql_c "SELECT pg_relation_filepath('sample')" bench)
		s=$(stat -c %s "$f")
		c=$(zstd -3 -c "$f" | wc -c)
		B_SAMPLE_RATIO=$(awk -v s="$s" -v c="$c" 'BEGIN { printf "%.2f", s / c }')
		psql_c "DROP TABLE sample" bench >/dev/null
		psql_c "$(printf "$B_TABLE" big)" bench >/dev/null
		psql_c "INSERT INTO big SELECT $B_SQL_COLS FROM generate_series(1, $half) i" bench >/dev/null &
		local p1=$!
		psql_c "INSERT INTO big SELECT $B_SQL_COLS FROM generate_series($half + 1, $rows) i" bench >/dev/null &
		local p2=$!
		wait "$p1" && wait "$p2" || die "data set B generation failed"
		BIGTAB=big
		UPD="UPDATE big SET amount = amount + 1 WHERE random() < 0.01"
		;;
	esac
	local t1=$EPOCHREALTIME
	say "VACUUM FREEZE ANALYZE, CHECKPOINT, wait for the archive"
	psql_c "VACUUM (FREEZE, ANALYZE)" bench >/dev/null
	checkpoint
	wait_archived
	DBSIZE=$(psql_c "SELECT sum(pg_database_size(oid)) FROM pg_database")
	BIGSIZE=$(psql_c "SELECT pg_table_size('$BIGTAB')" bench)
	BIGROWS=$(psql_c "SELECT count(*) FROM $BIGTAB" bench)
	BIGREL=$(psql_c "SELECT pg_relation_filepath('$BIGTAB')" bench)
	LOADSECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", b - a }')
	res "$ds" 0 db dbsize "$DBSIZE"
	res "$ds" 0 db bigsize "$BIGSIZE"
	res "$ds" 0 db bigrows "$BIGROWS"
	res "$ds" 0 db loadsecs "$LOADSECS"
	[ "$ds" = B ] && res "$ds" 0 db sample_ratio "$B_SAMPLE_RATIO"
	say "data set $ds: databases $DBSIZE bytes, $BIGTAB $BIGSIZE bytes / $BIGROWS rows, loaded in $LOADSECS s"
}

profile_md=""
# profile DS WHAT(backup|restore): one more pgkeep run, the whole machine under
# `perf record -a -g`, with a pgkeep built with symbols; appends to profile_md.
profile() {
	local ds=$1 what=$2 d=$work/restore-prof t0 t1 wall
	local -a cmd
	say "profile: pgkeep $what (data set $ds) under perf record -a -g"
	if [ "$what" = backup ]; then
		push_order pgbr
		checkpoint
		cmd=(backup --type full)
	else
		rm -rf "$d"
		as_pg mkdir -m 0700 "$d"
		cmd=(restore --pgdata "$d" --set "$(cat "$work/pgkeep.label")")
	fi
	sync
	t0=$EPOCHREALTIME
	perf record -q -a -g -F 499 -o "$work/perf.data" -- \
		runuser -u postgres -- /usr/bin/time -f '%U %S %M' -o "$work/out/prof.time" \
		"$work/pgkeep-prof" --config "$work/pgkeep.yaml" "${cmd[@]}" >"$work/out/prof.out" 2>"$work/out/prof.err" ||
		{ say "profile run failed"; cat "$work/out/prof.err" >&2; return 0; }
	t1=$EPOCHREALTIME
	rm -rf "$d"
	wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
	perf report -i "$work/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null |
		awk '/^ *[0-9.]+%/ { print }' | head -n 8 >"$work/prof.comm"
	perf report -i "$work/perf.data" --no-children --comm pgkeep-prof --percentage relative --sort dso,sym --stdio -g none --percent-limit 0.5 2>/dev/null |
		awk '/^ *[0-9.]+%/ { print }' | head -n 12 >"$work/prof.pgkeep"
	perf report -i "$work/perf.data" --no-children --comm postgres --percentage relative --sort sym --stdio -g none --percent-limit 0.5 2>/dev/null |
		awk '/^ *[0-9.]+%/ { print }' | head -n 8 >"$work/prof.postgres"
	profile_md+=$(
		echo
		echo
		echo "#### pgkeep $what, data set $ds"
		echo
		echo "Wall $wall s under perf; pgkeep user+sys: $(awk '{ printf "%.2f s (user %.2f, sys %.2f), peak RSS %.0f MiB", $1 + $2, $1, $2, $3 / 1024 }' <(tail -n 1 "$work/out/prof.time"))."
		echo "Samples of the whole machine by command (percent of all samples; swapper = idle):"
		echo
		echo '```'
		cat "$work/prof.comm"
		echo '```'
		echo
		echo "pgkeep, top symbols by self time (percent of pgkeep's samples):"
		echo
		echo '```'
		cat "$work/prof.pgkeep"
		echo '```'
		if [ "$what" = backup ]; then
			echo
			echo "PostgreSQL server processes (mostly the walsender), top symbols (percent of their samples):"
			echo
			echo '```'
			cat "$work/prof.postgres"
			echo '```'
		fi
	)
	rm -f "$work/perf.data"
}

for ds in $DATASETS; do
	load_dataset "$ds"
	for ((r = 1; r <= ROUNDS; r++)); do
		if ((r % 2)); then order=(pgkeep pgbr); else order=(pgbr pgkeep); fi
		say "data set $ds round $r/$ROUNDS (${order[*]})"
		for t in "${order[@]}"; do "backup_$t" "$ds" "$r" full; done
		backup_pgbb "$ds" "$r"
		backup_stream "$ds" "$r"
		for t in "${order[@]}"; do "restore_$t" "$ds" "$r" restore; done
		for t in "${order[@]}"; do "restore_$t" "$ds" "$r" delta; done
		for t in "${order[@]}"; do "restore_$t" "$ds" "$r" deltawarm; done
		if [ "$(id -u)" = 0 ]; then
			for t in "${order[@]}"; do "restore_$t" "$ds" "$r" deltacold; done
			# That dropped the source data directory from the page cache
			# too: read it back, or the next round's first backup reads
			# it from disk and its second one from the cache.
			find "$work/data" -type f -exec cat {} + >/dev/null
		fi
		rm -rf "$work/restore-pgkeep" "$work/restore-pgbr"
		sync
	done
	if [ "$have_prof" = 1 ]; then
		quiet_wait
		profile "$ds" backup
		quiet_wait
		profile "$ds" restore
	fi
	say "data set $ds: UPDATE 1% of $BIGTAB, then incremental backups"
	upd=$(as_pg "$PGBIN/psql" -h 127.0.0.1 -p "$port" -U postgres -X -Atc "$UPD" bench | awk '/^UPDATE/ { print $2 }')
	res "$ds" 0 db updated "$upd"
	checkpoint
	wait_archived
	if [ "$ds" = A ]; then order=(pgkeep pgbr); else order=(pgbr pgkeep); fi
	for t in "${order[@]}"; do "backup_$t" "$ds" 0 incr; done
	BIGREL=""
done
# What the report needs, to render it again later (RENDER=DIR with KEEP=1).
{
	declare -p ROUNDS DATASETS SCALE B_MB DD_MB CMDLINE disk_fdatasync disk_direct profile_md
	echo "fs_line='$(df -PT "$work" | awk 'NR == 2 { print $2 " on " $1 }')'"
	echo "fs_opts='$(findmnt -no OPTIONS --target "$work" 2>/dev/null || echo "?")'"
	echo "pgk_ver='$("$PGKEEP" version 2>/dev/null | head -n 1)'"
	echo "run_date='$(date -u '+%Y-%m-%d %H:%M UTC')'"
	echo "quiet_total='$(awk '{ s += $1 } END { print s + 0 }' "$work/quiet_waits" 2>/dev/null || echo 0)'"
} >"$work/meta.sh"
# shellcheck source=/dev/null
. "$work/meta.sh"

else # ========================================= RENDER=DIR: report only
	R=$RENDER/results
	# shellcheck source=/dev/null
	. "$RENDER/meta.sh"
fi

# ----------------------------------------------------------------- 4. report
say "done; writing the report"
vals() { awk -v d="$1" -v t="$2" -v m="$3" '$1 == d && $2 != 0 && $3 == t && $4 == m { print $5 }' "$R"; }
one() { awk -v d="$1" -v t="$2" -v m="$3" '$1 == d && $3 == t && $4 == m { print $5; exit }' "$R"; }
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "nan nan nan"; exit }
		m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.9g %.9g %.9g\n", m, v[1], v[NR] }'
}
derived() { vals "$1" "$2" "$3" | awk -v db="$DB" "{ x = \$1; printf \"%.9g\\n\", $4 }"; }
med() { derived "$@" | stats | cut -d' ' -f1; }
fmt() { # FORMAT DS TOOL METRIC FORMULA -> "median (min–max)"; "–" when no values
	local m lo hi
	read -r m lo hi < <(derived "$2" "$3" "$4" "$5" | stats)
	[ "$m" = nan ] && { printf -- '–'; return; }
	if [ "$ROUNDS" = 1 ] || [ "$lo" = "$hi" ]; then printf "$1" "$m"; else printf "$1 ($1–$1)" "$m" "$lo" "$hi"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0 || a == "" || b == "") print "–"; else printf "%.2f", a / b }'; }
paired() { # DS METRIC FORMULA: per-round pgkeep/pgbr, median (min–max)
	paste <(derived "$1" pgkeep "$2" "$3") <(derived "$1" pgbr "$2" "$3") | awk '$2 != 0 { printf "%.9g\n", $1 / $2 }' | stats |
		awk '{ if ($1 == "nan") printf "–"; else printf "%.2f (%.2f–%.2f)", $1, $2, $3 }'
}
prange() { # DS METRIC FORMULA: per-round pgkeep/pgbr, "min–max" only
	paste <(derived "$1" pgkeep "$2" "$3") <(derived "$1" pgbr "$2" "$3") | awk '$2 != 0 { printf "%.9g\n", $1 / $2 }' | stats |
		awk '{ if ($1 == "nan") printf "–"; else printf "per round %.2f–%.2f", $2, $3 }'
}
same() { # DS TOOL KIND -> "n/N"
	vals "$1" "$2" "$3.same" | awk '{ n++; s += $1 } END { printf "%d/%d", s, n }'
}
f2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
yn() { awk -v c="$1" 'BEGIN { print (c) ? "**met**" : "**NOT met**" }'; }

cpu_model=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
pgbr_ver=$("$PGBACKREST" version)
s='x'
ms='x * 1000'
MB='x / 1e6'
mbps='db / 1e6 / x'
mib='x / 1024'

cat <<MD
## Backup and restore (issue 3)

- date: $run_date
- machine: $(nproc) CPUs ($cpu_model), $mem RAM, $(uname -sr); work directory (server, both repositories, restores) on $fs_line ($fs_opts)
- disk write rate (dd ${DD_MB} MiB of zeros, one file): **$disk_fdatasync MB/s with conv=fdatasync**, $disk_direct MB/s with oflag=direct (bs=1M)
- $pgk_ver; $pgbr_ver; PostgreSQL $("$PGBIN/postgres" -V | awk '{ print $3 }')
- command: \`$CMDLINE\` (as root, from the repository root)
- server: initdb -k (data checksums), shared_buffers=256MB, autovacuum=off, archive_mode=on, archive_command pushing into both
  repositories (the tool being measured pushes second, so each backup's wait for its last WAL includes both pushes)
- pgkeep: posix repository, zstd level 3 (default), backup workers = cores, restore workers = 3 x cores (the defaults); pgBackRest: posix repository, compress-type=zst,
  compress-level=3, process-max=2, start-fast=y, archive-check=y (default), file log level info; pg_basebackup: -Ft -X none -c fast
  --compress=server-zstd:3 into a directory (fsync'd, the default), and -Ft -X none -D - >/dev/null (no compression: the bare stream)
- each round: CHECKPOINT before every backup, untimed \`sync\` and a wait for an idle machine (< 0.3 CPUs busy over 1 s; waited
  $quiet_total s in all) before every timed run, tool order alternating per round; the page
  cache is dropped only before the cold delta restores, and the data directory read back right after them (backups read it warm); restores go into an empty directory (not started), the
  delta restore onto that unchanged copy; "sync after" is a \`sync\` timed right after the restore (data the tool left unflushed)
- MB/s = size of all databases (sum of pg_database_size) / wall time; stored = bytes this backup added to the repository (pgkeep:
  \`--output json\` stored-size; pgBackRest: \`info --output=json\` backup.info.repository.delta; pg_basebackup: du of its directory)
- peak RSS: "largest process" is /usr/bin/time %M (for pgBackRest the max over its main and local processes); "sum" is the peak of
  the sum over all pgkeep/pgbackrest processes of the command, sampled every 0.2 s; server CPU = CPU of the PostgreSQL server
  (walsender, checkpointer, archiver with its archive-push children) during the run; other load = busy CPUs of the machine minus
  both (noise from anything else running)
MD

for ds in $DATASETS; do
	DB=$(one "$ds" db dbsize)
	ndb=$DB
	if [ "$ds" = A ]; then desc="pgbench -i -s $SCALE"; else desc="table \`big\` of generated rows (numbers, timestamps, 12 hex chars of md5, words and numbers in text), zstd -3 ratio of a 200,000-row sample: $(one B db sample_ratio)"; fi
	pk_b=$(med "$ds" pgkeep full.wall x); br_b=$(med "$ds" pgbr full.wall x)
	pk_st=$(med "$ds" pgkeep full.stored x); br_st=$(med "$ds" pgbr full.stored x)
	pk_r=$(med "$ds" pgkeep restore.wall x); br_r=$(med "$ds" pgbr restore.wall x)
	pk_d=$(med "$ds" pgkeep delta.wall x); br_d=$(med "$ds" pgbr delta.wall x)
	pk_dw=$(med "$ds" pgkeep deltawarm.wall x); br_dw=$(med "$ds" pgbr deltawarm.wall x)
	pk_dc=$(med "$ds" pgkeep deltacold.wall x); br_dc=$(med "$ds" pgbr deltacold.wall x)
	rbytes=$(med "$ds" pgkeep restore.bytes x)
	disk_s=$(awk -v b="$rbytes" -v r="$disk_fdatasync" 'BEGIN { printf "%.2f", b / 1e6 / r }')
	cat <<MD

### Data set $ds: $desc

Databases: $(awk -v x="$ndb" 'BEGIN { printf "%.0f MB", x / 1e6 }') ($(one "$ds" db bigrows) rows, table $(awk -v x="$(one "$ds" db bigsize)" 'BEGIN { printf "%.0f MB", x / 1e6 }')), loaded in $(one "$ds" db loadsecs) s. $ROUNDS rounds, median (min–max).

| metric | pgkeep | pgBackRest | pg_basebackup zstd-3 | bare stream | pgkeep / pgBackRest: median (min–max) of per-round ratios; bold: ratio of the medians |
|---|---|---|---|---|---|
| full backup, wall (s) | $(fmt %.2f "$ds" pgkeep full.wall x) | $(fmt %.2f "$ds" pgbr full.wall x) | $(fmt %.2f "$ds" pgbb full.wall x) | $(fmt %.2f "$ds" stream full.wall x) | **$(ratio "$pk_b" "$br_b")** ($(prange "$ds" full.wall x)) |
| full backup, MB/s | $(fmt %.0f "$ds" pgkeep full.wall "$mbps") | $(fmt %.0f "$ds" pgbr full.wall "$mbps") | $(fmt %.0f "$ds" pgbb full.wall "$mbps") | $(fmt %.0f "$ds" stream full.wall "$mbps") | $(paired "$ds" full.wall "$mbps") |
| stored (MB) | $(fmt %.1f "$ds" pgkeep full.stored "$MB") | $(fmt %.1f "$ds" pgbr full.stored "$MB") | $(fmt %.1f "$ds" pgbb full.stored "$MB") | | **$(ratio "$pk_st" "$br_st")** |
| compression ratio (db size / stored) | $(fmt %.1f "$ds" pgkeep full.stored "db / x") | $(fmt %.1f "$ds" pgbr full.stored "db / x") | $(fmt %.1f "$ds" pgbb full.stored "db / x") | | |
| backup CPU user+sys (s) | $(fmt %.2f "$ds" pgkeep full.cpu x) | $(fmt %.2f "$ds" pgbr full.cpu x) | $(fmt %.2f "$ds" pgbb full.cpu x) | $(fmt %.2f "$ds" stream full.cpu x) | $(paired "$ds" full.cpu x) |
| server CPU during backup (s) | $(fmt %.2f "$ds" pgkeep full.srvcpu x) | $(fmt %.2f "$ds" pgbr full.srvcpu x) | $(fmt %.2f "$ds" pgbb full.srvcpu x) | $(fmt %.2f "$ds" stream full.srvcpu x) | |
| backup peak RSS, largest process (MiB) | $(fmt %.0f "$ds" pgkeep full.rss "$mib") | $(fmt %.0f "$ds" pgbr full.rss "$mib") | $(fmt %.0f "$ds" pgbb full.rss "$mib") | | $(paired "$ds" full.rss x) |
| backup peak RSS, sum of processes (MiB) | $(fmt %.0f "$ds" pgkeep full.rsssum "$mib") | $(fmt %.0f "$ds" pgbr full.rsssum "$mib") | | | $(paired "$ds" full.rsssum x) |
| restore, wall (s) | $(fmt %.2f "$ds" pgkeep restore.wall x) | $(fmt %.2f "$ds" pgbr restore.wall x) | | | **$(ratio "$pk_r" "$br_r")** ($(prange "$ds" restore.wall x)) |
| restore, MB/s | $(fmt %.0f "$ds" pgkeep restore.wall "$mbps") | $(fmt %.0f "$ds" pgbr restore.wall "$mbps") | | | $(paired "$ds" restore.wall "$mbps") |
| sync after restore (s) | $(fmt %.2f "$ds" pgkeep restore.sync x) | $(fmt %.2f "$ds" pgbr restore.sync x) | | | |
| restored bytes (MB) | $(fmt %.0f "$ds" pgkeep restore.bytes "$MB") | $(fmt %.0f "$ds" pgbr restore.bytes "$MB") | | | |
| restore CPU user+sys (s) | $(fmt %.2f "$ds" pgkeep restore.cpu x) | $(fmt %.2f "$ds" pgbr restore.cpu x) | | | $(paired "$ds" restore.cpu x) |
| restore peak RSS, largest / sum (MiB) | $(fmt %.0f "$ds" pgkeep restore.rss "$mib") / $(fmt %.0f "$ds" pgkeep restore.rsssum "$mib") | $(fmt %.0f "$ds" pgbr restore.rss "$mib") / $(fmt %.0f "$ds" pgbr restore.rsssum "$mib") | | | |
| delta restore of the unchanged copy, right after the restore, wall (s) | $(fmt %.2f "$ds" pgkeep delta.wall x) | $(fmt %.2f "$ds" pgbr delta.wall x) | | | **$(ratio "$pk_d" "$br_d")** ($(prange "$ds" delta.wall x)) |
| delta restore, again (copy in the page cache for both), wall (s) | $(fmt %.2f "$ds" pgkeep deltawarm.wall x) | $(fmt %.2f "$ds" pgbr deltawarm.wall x) | | | **$(ratio "$pk_dw" "$br_dw")** ($(prange "$ds" deltawarm.wall x)) |
| delta restore, page cache dropped first, wall (s) | $(fmt %.2f "$ds" pgkeep deltacold.wall x) | $(fmt %.2f "$ds" pgbr deltacold.wall x) | | | **$(ratio "$pk_dc" "$br_dc")** ($(prange "$ds" deltacold.wall x)) |
| delta restore CPU user+sys (s) | $(fmt %.2f "$ds" pgkeep delta.cpu x) | $(fmt %.2f "$ds" pgbr delta.cpu x) | | | $(paired "$ds" delta.cpu x) |
| delta restore peak RSS, largest / sum (MiB) | $(fmt %.0f "$ds" pgkeep delta.rss "$mib") / $(fmt %.0f "$ds" pgkeep delta.rsssum "$mib") | $(fmt %.0f "$ds" pgbr delta.rss "$mib") / $(fmt %.0f "$ds" pgbr delta.rsssum "$mib") | | | |
| big table's 1st segment identical after restore / delta | $(same "$ds" pgkeep restore) / $(same "$ds" pgkeep delta) | $(same "$ds" pgbr restore) / $(same "$ds" pgbr delta) | | | |
| other load during backups (CPUs) | $(fmt %.2f "$ds" pgkeep full.others x) | $(fmt %.2f "$ds" pgbr full.others x) | $(fmt %.2f "$ds" pgbb full.others x) | $(fmt %.2f "$ds" stream full.others x) | |

Incremental backup after \`$(if [ "$ds" = A ]; then echo "UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE random() < 0.01"; else echo "UPDATE big SET amount = amount + 1 WHERE random() < 0.01"; fi)\` (once; $(one "$ds" db updated) rows updated):

| | pgkeep | pgBackRest | pgkeep / pgBackRest |
|---|---|---|---|
| incr backup, wall (s) | $(one "$ds" pgkeep incr.wall) | $(one "$ds" pgbr incr.wall) | $(ratio "$(one "$ds" pgkeep incr.wall)" "$(one "$ds" pgbr incr.wall)") |
| stored by the incr backup (MB) | $(awk -v x="$(one "$ds" pgkeep incr.stored)" 'BEGIN { printf "%.1f", x / 1e6 }') | $(awk -v x="$(one "$ds" pgbr incr.stored)" 'BEGIN { printf "%.1f", x / 1e6 }') | $(ratio "$(one "$ds" pgkeep incr.stored)" "$(one "$ds" pgbr incr.stored)") |
| data in the incr backup, uncompressed (MB) | $(awk -v x="$(one "$ds" pgkeep incr.size)" 'BEGIN { printf "%.1f", x / 1e6 }') (size: whole cluster) | $(awk -v x="$(one "$ds" pgbr incr.size)" 'BEGIN { printf "%.1f", x / 1e6 }') (delta: files copied) | |
| CPU user+sys (s) | $(one "$ds" pgkeep incr.cpu) | $(one "$ds" pgbr incr.cpu) | |

MD
	# goals
	g1=$(awk -v a="$pk_b" -v b="$br_b" -v sa="$pk_st" -v sb="$br_st" 'BEGIN { print (b / a >= 1.5 && sa <= sb) }')
	g2a=$(awk -v a="$pk_r" -v b="$br_r" 'BEGIN { print (a <= b) }')
	g2b=$(awk -v a="$pk_r" -v l="$disk_s" 'BEGIN { print (a <= 1.2 * l) }')
	g3=$(awk -v a="$pk_d" -v b="$br_d" 'BEGIN { print (b / a >= 1.3) }')
	g3w=$(awk -v a="$pk_dw" -v b="$br_dw" 'BEGIN { print (b / a >= 1.3) }')
	g3c=$(awk -v a="$pk_dc" -v b="$br_dc" 'BEGIN { print (a > 0 && b / a >= 1.3) }')
	cat <<MD
$(awk -v x="$(vals "$ds" pgkeep full.others | stats | cut -d' ' -f1)" -v y="$(vals "$ds" pgbr full.others | stats | cut -d' ' -f1)" 'BEGIN { if (x > 0.2 || y > 0.2) printf "**Warning: other load of %.2f / %.2f CPUs during the backups: the machine was not quiet; numbers are unreliable.**\n\n", x, y }')Goals, data set $ds (medians):
- backup >= 1.5x faster than pgBackRest at equal or smaller size: $(yn "$g1") — pgBackRest/pgkeep speed $(ratio "$br_b" "$pk_b")x, stored size pgkeep/pgBackRest $(ratio "$pk_st" "$br_st").
- restore at least as fast as pgBackRest: $(yn "$g2a") — pgkeep $(f2 "$pk_r") s, pgBackRest $(f2 "$br_r") s (pgBackRest/pgkeep $(ratio "$br_r" "$pk_r")x).
- restore within 1.2x of the disk's write limit: $(yn "$g2b") — writing $(awk -v b="$rbytes" 'BEGIN { printf "%.0f", b / 1e6 }') MB at $disk_fdatasync MB/s (dd, fdatasync) takes $disk_s s; pgkeep takes $(f2 "$pk_r") s = $(ratio "$pk_r" "$disk_s")x that (pgBackRest $(ratio "$br_r" "$disk_s")x).
- delta restore of an unchanged copy >= 1.3x faster than pgBackRest's: right after the restore $(yn "$g3") — pgBackRest/pgkeep $(ratio "$br_d" "$pk_d")x ($(f2 "$pk_d") s vs $(f2 "$br_d") s); both copies in the page cache $(yn "$g3w") — $(ratio "$br_dw" "$pk_dw")x ($(f2 "$pk_dw") s vs $(f2 "$br_dw") s); page cache dropped $(yn "$g3c") — $(ratio "$br_dc" "$pk_dc")x ($(f2 "$pk_dc") s vs $(f2 "$br_dc") s).
MD
done

# pgkeep time split
cat <<MD

### Where pgkeep's full backup time goes (medians over the rounds, seconds)

| phase | how | $(for ds in $DATASETS; do printf 'data set %s | ' "$ds"; done)
|---|---|$(for ds in $DATASETS; do printf -- '---|'; done)
MD
split_row() { # LABEL HOW FORMULA(over a round's t_* values and wall)
	printf '| %s | %s | ' "$1" "$2"
	for ds in $DATASETS; do
		for ((r = 1; r <= ROUNDS; r++)); do
			awk -v d="$ds" -v r="$r" '$1 == d && $2 == r && $3 == "pgkeep" && $4 ~ /^full\./ { sub(/^full\./, "", $4); v[$4] = $5 }
				END { if (v["t_start"] == "") exit; '"$3"' }' "$R"
		done | stats | awk '{ if ($1 == "nan") printf "– | "; else printf "%.2f (%.2f–%.2f) | ", $1, $2, $3 }'
	done
	echo
}
split_row "whole command" "wall" 'printf "%.6f\n", v["wall"]'
split_row "start to 'backup starting'" "process start, config, repository, discovery, lock (pgkeep log)" 'printf "%.6f\n", v["t_start"] - v["t0"]'
split_row "'backup starting' to BASE_BACKUP" "checks on the server (pgkeep log, server log)" 'printf "%.6f\n", v["t_bb"] - v["t_start"]'
split_row "BASE_BACKUP to end of stream" "checkpoint (fast), stream, hash, compress, store (walsender disconnection)" 'printf "%.6f\n", v["t_disc"] - v["t_bb"]'
split_row "end of stream to 'backup complete'" "wait until the last WAL is in the repository, manifest" 'printf "%.6f\n", v["t_complete"] - v["t_disc"]'
split_row "'backup complete' to exit" "json output of the manifest, exit" 'printf "%.6f\n", v["t1"] - v["t_complete"]'
split_row "CPU user+sys of pgkeep" "/usr/bin/time" 'printf "%.6f\n", v["cpu"]'
split_row "CPU of the server" "postmaster and children" 'printf "%.6f\n", v["srvcpu"]'
split_row "CPU / wall of pgkeep" "cores busy on average (of $(nproc))" 'printf "%.6f\n", v["cpu"] / v["wall"]'
split_row "CPU floor of the wall time" "(pgkeep CPU + server CPU) / $(nproc) CPUs" 'printf "%.6f\n", (v["cpu"] + v["srvcpu"]) / '"$(nproc)"
printf '| bare BASE_BACKUP stream | pg_basebackup -Ft -X none -D - >/dev/null (lower bound) | '
for ds in $DATASETS; do fmt %.2f "$ds" stream full.wall x; printf ' | '; done
echo
printf '| pg_basebackup server-side zstd-3 | into a directory, fsync | '
for ds in $DATASETS; do fmt %.2f "$ds" pgbb full.wall x; printf ' | '; done
echo
if [ -n "$profile_md" ]; then
	echo
	echo "### CPU profiles (perf record -a -g -F 499, whole machine; pgkeep built with symbols from the same tree, \`go build -trimpath\`)"
	echo "$profile_md"
fi

cat <<MD

### Per run

| data set | round | tool | full backup (s) | stored (B) | restore (s) | sync after (s) | delta / again / cold (s) | backup CPU (s) | backup RSS max / sum (KiB) | other load (CPUs) |
|---|---|---|---|---|---|---|---|---|---|---|
MD
for ds in $DATASETS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		for t in pgkeep pgbr pgbb stream; do
			v() { awk -v d="$ds" -v r="$r" -v t="$t" -v m="$1" '$1 == d && $2 == r && $3 == t && $4 == m { print $5 }' "$R"; }
			printf '| %s | %s | %s | %s | %s | %s | %s | %s / %s / %s | %s | %s / %s | %s |\n' "$ds" "$r" "$t" \
				"$(v full.wall)" "$(v full.stored)" "$(v restore.wall)" "$(v restore.sync)" "$(v delta.wall)" "$(v deltawarm.wall)" "$(v deltacold.wall)" \
				"$(v full.cpu)" "$(v full.rss)" "$(v full.rsssum)" "$(v full.others)"
		done
	done
done
cat <<MD

<details><summary>Raw measurements (data set, round, tool, metric, value; seconds, bytes, KiB)</summary>

\`\`\`
$(cat "$R")
\`\`\`
</details>
MD
