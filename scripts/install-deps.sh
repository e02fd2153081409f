#!/usr/bin/env bash
# Installs what pgkeep's build, tests and demo need on a fresh Debian machine,
# skipping whatever is already there: PostgreSQL 15 (server, client, contrib
# tools), etcd, HAProxy and Patroni, Node.js for Azurite, Azurite itself (npm,
# into ./.tools, ignored by git) and the Go modules. Idempotent; quiet when
# nothing is missing.
#
# Usage: scripts/install-deps.sh [--bench]   (--bench adds pgbackrest for benchmarks)
set -euo pipefail
cd "$(dirname "$0")/.."

PGBIN=/usr/lib/postgresql/15/bin
want_bench=false
[ "${1:-}" = "--bench" ] && want_bench=true

sudo_cmd() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "install-deps: need root (or sudo) to run: $*" >&2; exit 1; fi
}

apt_updated=false
apt_install() {
	if ! $apt_updated; then
		echo "install-deps: apt-get update" >&2
		sudo_cmd apt-get update -qq
		apt_updated=true
	fi
	echo "install-deps: apt-get install $*" >&2
	sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# PostgreSQL 15. Debian's package would create and start a "main" cluster on
# port 5432: tests start their own servers, so turn that off first.
if [ ! -x "$PGBIN/initdb" ] || [ ! -x "$PGBIN/pgbench" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
	if [ ! -f /etc/postgresql-common/createcluster.conf ]; then
		apt_install postgresql-common
	fi
	sudo_cmd sed -i 's/^#\?\s*create_main_cluster.*/create_main_cluster = false/' /etc/postgresql-common/createcluster.conf
	apt_install postgresql-15 postgresql-client-15
fi

# etcd, for the demo and the multi-process failover tests; HAProxy, whose
# example configs/haproxy.cfg is tested; Patroni's patronictl, to check that
# it reads the keys pgkeep ha writes (and Patroni itself for
# test/bench/ha_failover.sh).
# libzstd's static library and gcc: the libzstd build (make build-libzstd)
# and its codec tests in make test.
missing=()
dpkg -s libzstd-dev >/dev/null 2>&1 || missing+=(libzstd-dev)
command -v gcc >/dev/null || missing+=(gcc libc6-dev)
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
[ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v patronictl >/dev/null || missing+=(patroni)
if [ ${#missing[@]} -gt 0 ]; then
	apt_install "${missing[@]}"
fi

if $want_bench && ! command -v pgbackrest >/dev/null; then
	apt_install pgbackrest
fi

# Azurite, the Azure Storage emulator, for the Azure backend tests.
if [ ! -x .tools/node_modules/.bin/azurite-blob ]; then
	if ! command -v npm >/dev/null; then
		apt_install nodejs npm
	fi
	mkdir -p .tools
	echo "install-deps: npm install azurite@3 into .tools" >&2
	npm install --prefix .tools --no-audit --no-fund --loglevel=error azurite@3 >/dev/null
fi

go mod download
