#!/usr/bin/env bash
# Benchmark: failover of a three-member PostgreSQL 15 cluster, `pgkeep ha`
# against Patroni 3.0.2, on this machine (issue 5, "Measure and report").
#
#   bash test/bench/ha_failover.sh > report.md     (from the repository root)
#   TRIALS=3 bash test/bench/ha_failover.sh        (fewer trials)
#
# Needs: go, PostgreSQL 15, Debian's etcd-server and patroni (with
# python3-etcd, for its etcd3: backend) -- scripts/install-deps.sh --bench.
# Runs as root (everything but the build then runs as the OS user postgres:
# pg_ctl and Patroni refuse root) or as an ordinary user.
#
# What it does (test/bench/hafailover, a Go helper, does the work):
#  - one etcd (Debian's /usr/bin/etcd, 3.4) on free 127.0.0.1 ports for the
#    whole run; every trial uses its own cluster scope in it;
#  - per agent (AGENTS, "pgkeep,patroni") TRIALS (10) trials, each on a fresh
#    three-member cluster on loopback:
#      pgkeep:  copies of one template (initdb -k, and two pg_basebackup -R
#               standbys: pgkeep ha does not create replicas yet), three
#               `pgkeep ha` agents with the defaults (ttl 3s, loop-wait 1s,
#               retry-timeout 2s);
#      patroni: Patroni bootstraps (initdb -k, pg_basebackup), use_pg_rewind,
#               ttl PATRONI_TTL (10), loop_wait PATRONI_LOOP_WAIT (2),
#               retry_timeout PATRONI_RETRY_TIMEOUT (3): its minimum timings
#               (defaults: 30, 10, 10);
#    then: wait for a primary streaming to two replicas; the agents' CPU over
#    IDLE (5s) with nothing else of ours running, and their RSS; a writer
#    that inserts a numbered row on every member not in recovery every 10 ms
#    and records each acknowledged one; after WARM (2s), kill -9 of the
#    primary's agent and then of its postmaster and every child; the time
#    from then to the first write acknowledged by another member; after 1 s,
#    the old primary's acknowledged writes missing on the new primary
#    (asynchronous replication: some may be); then the killed member's agent
#    is started again and the time until it streams from the new primary on
#    its timeline (pg_rewind where needed) is the rejoin time.
#  - with STRESS (e.g. 60s; default none), then per agent a fresh cluster
#    under `pgbench -c CLIENTS (8) -j 2` on its primary for that long, and
#    /primary of every member polled every 200 ms: any change of primary is a
#    false failover (nothing failed);
#  - Markdown on stdout: summary (median, range) and a per-trial table.
#    Progress on stderr.
#
# Environment: TRIALS (10), AGENTS (pgkeep,patroni), IDLE (5s), WARM (2s),
# STRESS (0: no pgbench run), CLIENTS (8),
# PATRONI_TTL (10), PATRONI_LOOP_WAIT (2), PATRONI_RETRY_TIMEOUT (3),
# WORK (a fresh directory under /tmp, removed at the end; KEEP=1 keeps the
# trials' directories).
set -euo pipefail
cd "$(dirname "$0")/../.."

TRIALS=${TRIALS:-10}
AGENTS=${AGENTS:-pgkeep,patroni}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

for need in "$PGBIN/initdb" /usr/bin/etcd /usr/bin/patroni; do
	if [ ! -x "$need" ]; then
		echo "ha_failover: $need is missing; run scripts/install-deps.sh --bench" >&2
		exit 2
	fi
done

bin=$(mktemp -d /tmp/pgkeep-bench-bin-XXXXXX)
work=${WORK:-$(mktemp -d /tmp/pgkeep-bench-ha-XXXXXX)}
mkdir -p "$work"
trap 'rm -rf "$bin"; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
chmod 755 "$bin"
go build -o "$bin/pgkeep" ./cmd/pgkeep
go build -o "$bin/hafailover" ./test/bench/hafailover

run=()
if [ "$(id -u)" = 0 ]; then
	chown postgres: "$work"
	run=(runuser -u postgres --)
fi

echo "## Failover agent vs Patroni (issue 5)"
echo
echo "Date: $(date -u '+%Y-%m-%d %H:%M UTC'). Machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo) RAM; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), etcd $(/usr/bin/etcd --version | awk '/etcd Version/ {print $3}'), $(/usr/bin/patroni --version), pgkeep $(git rev-parse --short HEAD)."
echo
echo "Command: \`TRIALS=$TRIALS AGENTS=$AGENTS STRESS=${STRESS:-0} bash test/bench/ha_failover.sh\`"
echo
"${run[@]}" "$bin/hafailover" -agents "$AGENTS" -trials "$TRIALS" -pgkeep "$bin/pgkeep" -pgbin "$PGBIN" \
	-work "$work/run" -idle "${IDLE:-5s}" -warm "${WARM:-2s}" -stress "${STRESS:-0}" -clients "${CLIENTS:-8}" \
	-patroni-ttl "${PATRONI_TTL:-10}" -patroni-loop-wait "${PATRONI_LOOP_WAIT:-2}" -patroni-retry-timeout "${PATRONI_RETRY_TIMEOUT:-3}"
echo
echo "Load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
