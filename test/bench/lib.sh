# Helpers shared by the benchmark scripts of this directory; sourced from the
# repository root after `cd`. The caller defines as_pg (how to run a command
# as the OS user postgres) and PGBIN.

say() { printf '%s  %s\n' "$(date +%T)" "$*" >&2; }
die() {
	say "ERROR: $*"
	exit 1
}

# free_port prints a free loopback port: bind port 0 and read what the
# kernel chose (without python3: the first of 54320-54399 nobody answers on).
free_port() {
	if command -v python3 >/dev/null; then
		python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
		return
	fi
	local p
	for p in $(seq 54320 54399); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	die "no free port"
}

# initdb_loopback DIR PORT SOCKDIR: a data directory with data checksums,
# superuser postgres, trust, listening on 127.0.0.1:PORT only, its socket in
# SOCKDIR. The caller appends its own settings to DIR/postgresql.conf.
initdb_loopback() {
	as_pg "$PGBIN/initdb" -D "$1" -k -U postgres -A trust --no-instructions >/dev/null
	as_pg tee -a "$1/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $2
unix_socket_directories = '$3'
CONF
}

# pgbr_conf REPO [KEY=VALUE...]: writes $work/pgbackrest.conf for stanza
# $CLUSTER (the server in $work/data on 127.0.0.1:$port, its socket in $work):
# a posix repository at REPO, zst level 3, logs, locks and spool under $work,
# and the [global] settings given. Sets PGBR to the command prefix. The caller
# defines work, port, CLUSTER and PGBACKREST.
pgbr_conf() {
	local repo=$1
	shift
	{
		echo "[global]"
		printf '%s\n' repo1-type=posix "repo1-path=$repo" compress-type=zst compress-level=3 log-level-console=warn \
			"log-path=$work/pgbr-log" "lock-path=$work/pgbr-lock" "spool-path=$work/pgbr-spool" "$@"
		printf '\n[%s]\npg1-path=%s\npg1-port=%s\npg1-socket-path=%s\n' "$CLUSTER" "$work/data" "$port" "$work"
	} >"$work/pgbackrest.conf"
	chmod 0644 "$work/pgbackrest.conf"
	PGBR=("$PGBACKREST" "--config=$work/pgbackrest.conf" "--stanza=$CLUSTER")
}

# require_tools [PGPROGRAM...]: checks what the comparisons with pgBackRest
# need: $BIN (made absolute), PostgreSQL's initdb, pgbench and the programs
# named in $PGBIN, pgbackrest (PGBACKREST made absolute), and ROUNDS.
require_tools() {
	local p
	[ -x "$BIN" ] || die "$BIN not found: run 'make build' first"
	BIN=$(realpath "$BIN")
	for p in initdb pgbench "$@"; do
		[ -x "$PGBIN/$p" ] || die "PostgreSQL 15 not found in $PGBIN ($p): run scripts/install-deps.sh --bench"
	done
	PGBACKREST=$(command -v "$PGBACKREST") || die "pgbackrest not found: run scripts/install-deps.sh --bench"
	[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer"
}
