#!/usr/bin/env bash
# fleet.sh — a real database fleet on loopback for tests and the demo.
#
#   fleet.sh start DIR [--ports fixed]   init (first time) and start everything
#   fleet.sh stop DIR                    fast shutdown of every server (safe twice)
#   fleet.sh status DIR                  one line per server
#   fleet.sh destroy DIR                 stop, then delete DIR and its data
#   fleet.sh kill-pg-primary DIR         SIGKILL the PostgreSQL primary (postmaster + children)
#   fleet.sh restart-pg-primary DIR      start it again, wait until it accepts connections
#   fleet.sh kill NODE DIR / restart NODE DIR
#                                        NODE: pg-primary pg-replica my-primary my-replica
#   fleet.sh add-pg-replica NAME PORT DIR  one more PostgreSQL streaming replica
#                                        (pg_basebackup, no slot) on PORT; safe twice
#   fleet.sh drop-pg-replica NAME DIR    stop it and delete its data
#   fleet.sh add-pg-pair NAME PPORT RPORT[,RPORT2] DIR  a private PostgreSQL primary
#                                        (a copy of the fleet's primary: same roles) on PPORT and
#                                        its streaming replica (no slot) on RPORT (and a second
#                                        one, node pg-replica2, on RPORT2), for tests that may
#                                        kill a primary (failover)
#   fleet.sh add-my-pair NAME PPORT RPORT[,RPORT2] DIR  the same for MariaDB (fresh
#                                        servers, same users and database shop, GTID replicas;
#                                        node my-replica2 on RPORT2)
#   fleet.sh pair-kill NAME NODE DIR / pair-start NAME NODE DIR
#                                        NODE: pg-primary pg-replica pg-replica2 my-primary
#                                        my-replica my-replica2 (SIGKILL / start again, keeping
#                                        the data)
#   fleet.sh drop-pair NAME DIR          stop a pair (both kinds) and delete its data
#
# What runs (all on 127.0.0.1):
#   PostgreSQL 15 primary + streaming replica (pg_basebackup -R, slot), run as
#   the postgres user; ssl=on with a test CA; roles:
#     app/app (scram, owns database app), admin/admin, monitor/monitor (superuser),
#     md5user/md5pass (md5-stored, hba md5), pwuser/pwpass (hba password), repl/repl.
#   MariaDB primary + GTID replica (MASTER_USE_GTID=slave_pos, read_only=1,
#   max_allowed_packet 64M: packets over 16 MB go through split):
#     app/app with ALL on shop.* (no READ_ONLY ADMIN), monitor/monitor (ALL *.*),
#     repl/repl; root over the unix socket.
#   DIR/tls/: ca.crt, server.{crt,key} (the servers'), proxy.{crt,key} (for
#     switchyard's client_tls_*; 127.0.0.1/localhost), client.{crt,key} (CN=app).
#
# DIR/fleet.env (shell-sourceable) tells ports, sockets, paths. Ports are free
# loopback ports picked at first start, or with --ports fixed PG 15432/15433,
# MariaDB 13306/13307. Data persists across stop/start; delete DIR after stop
# to throw it away. When the postgres user cannot reach DIR (e.g. under /root)
# or the socket paths would be too long, the data lives in
# /var/tmp/switchyard-fleet-<hash> with symlinks DIR/pg and DIR/my.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
MARIADBD=${MARIADBD:-/usr/sbin/mariadbd}
START_TIMEOUT=${FLEET_START_TIMEOUT:-60}

die() { echo "fleet: $*" >&2; exit 1; }
say() { echo "fleet: $*" >&2; }

usage() {
	sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

[ $# -ge 2 ] || usage
CMD=$1
shift
NODE=
case "$CMD" in
kill | restart | drop-pg-replica)
	NODE=$1
	shift
	[ $# -ge 1 ] || usage
	;;
add-pg-replica)
	NODE=$1
	EXTRA_PORT=${2:-}
	shift 2 || usage
	[ $# -ge 1 ] || usage
	;;
add-pg-pair | add-my-pair)
	PAIR=$1
	PAIR_PPORT=${2:-}
	PAIR_RPORT=${3:-}
	shift 3 || usage
	[ $# -ge 1 ] || usage
	;;
pair-kill | pair-start)
	PAIR=$1
	NODE=${2:-}
	shift 2 || usage
	[ $# -ge 1 ] || usage
	;;
drop-pair)
	PAIR=$1
	shift
	[ $# -ge 1 ] || usage
	;;
kill-pg-primary) CMD=kill NODE=pg-primary ;;
restart-pg-primary) CMD=restart NODE=pg-primary ;;
kill-pg-replica) CMD=kill NODE=pg-replica ;;
restart-pg-replica) CMD=restart NODE=pg-replica ;;
kill-my-primary) CMD=kill NODE=my-primary ;;
restart-my-primary) CMD=restart NODE=my-primary ;;
kill-my-replica) CMD=kill NODE=my-replica ;;
restart-my-replica) CMD=restart NODE=my-replica ;;
esac
DIR=$1
shift
PORTS=free
while [ $# -gt 0 ]; do
	case "$1" in
	--ports)
		PORTS=${2:-}
		shift 2 || usage
		;;
	--ports=*)
		PORTS=${1#--ports=}
		shift
		;;
	*) usage ;;
	esac
done
[ "$PORTS" = free ] || [ "$PORTS" = fixed ] || die "--ports takes 'fixed'"
[ "$(id -u)" -eq 0 ] || die "must run as root (PostgreSQL runs as the postgres user through runuser)"
DIR=$(realpath -m "$DIR")
ENV_FILE=$DIR/fleet.env

# ---------------------------------------------------------------- helpers
as_pg() { (cd / && runuser -u postgres -- "$@"); }

port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# A free loopback port below the ephemeral range, not in $taken.
taken=" "
pick_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
		case "$taken" in *" $p "*) continue ;; esac
		if ! port_listening "$p"; then
			taken="$taken$p "
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# Where data and sockets live: DIR itself when postgres can reach it and the
# socket paths fit in sun_path (108 bytes), else /var/tmp/switchyard-fleet-HASH.
choose_run_dir() {
	local cand=$DIR
	if ! as_pg test -x "$DIR" || [ ${#DIR} -gt 70 ]; then
		cand=/var/tmp/switchyard-fleet-$(printf '%s' "$DIR" | md5sum | cut -c1-12)
	fi
	echo "$cand"
}

write_env() {
	local tmp=$ENV_FILE.tmp
	{
		echo "# written by tests/integration/fleet.sh — source it"
		for k in FLEET_DIR FLEET_RUN PG_BIN PG_HOST PG_PRIMARY_PORT PG_REPLICA_PORT PG_SOCKET_DIR \
			MY_HOST MY_PRIMARY_PORT MY_REPLICA_PORT MY_PRIMARY_SOCKET MY_REPLICA_SOCKET \
			TLS_CA TLS_CERT TLS_KEY TLS_SERVER_CERT TLS_SERVER_KEY TLS_CLIENT_CERT TLS_CLIENT_KEY; do
			printf '%s=%q\n' "$k" "${!k}"
		done
		printf 'export %s\n' "FLEET_DIR FLEET_RUN PG_BIN PG_HOST PG_PRIMARY_PORT PG_REPLICA_PORT PG_SOCKET_DIR MY_HOST MY_PRIMARY_PORT MY_REPLICA_PORT MY_PRIMARY_SOCKET MY_REPLICA_SOCKET TLS_CA TLS_CERT TLS_KEY TLS_SERVER_CERT TLS_SERVER_KEY TLS_CLIENT_CERT TLS_CLIENT_KEY"
	} >"$tmp"
	mv -f "$tmp" "$ENV_FILE"
}

set_paths() {
	PG_HOST=127.0.0.1
	MY_HOST=127.0.0.1
	FLEET_DIR=$DIR
	PG_SOCKET_DIR=$FLEET_RUN/pg/run
	MY_PRIMARY_SOCKET=$FLEET_RUN/my/primary.sock
	MY_REPLICA_SOCKET=$FLEET_RUN/my/replica.sock
	TLS_CA=$DIR/tls/ca.crt
	TLS_CERT=$DIR/tls/proxy.crt
	TLS_KEY=$DIR/tls/proxy.key
	TLS_SERVER_CERT=$DIR/tls/server.crt
	TLS_SERVER_KEY=$DIR/tls/server.key
	TLS_CLIENT_CERT=$DIR/tls/client.crt
	TLS_CLIENT_KEY=$DIR/tls/client.key
	PGDATA_PRIMARY=$FLEET_RUN/pg/primary
	PGDATA_REPLICA=$FLEET_RUN/pg/replica
	MYDATA_PRIMARY=$FLEET_RUN/my/primary
	MYDATA_REPLICA=$FLEET_RUN/my/replica
}

load_env() {
	[ -f "$ENV_FILE" ] || return 1
	# shellcheck disable=SC1090
	. "$ENV_FILE"
	set_paths
}

# ---------------------------------------------------------------- TLS
tls_leaf() { # NAME CN SAN
	local d=$DIR/tls n=$1
	openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$d/$n.key" -out "$d/$n.csr" -subj "/CN=$2" 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n%s\n' \
		"${3:+subjectAltName=$3}" >"$d/$n.ext"
	openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 3650 -sha256 -extfile "$d/$n.ext" -out "$d/$n.crt" 2>/dev/null
	rm -f "$d/$n.csr" "$d/$n.ext"
}

tls_init() {
	local d=$DIR/tls
	[ -s "$d/client.key" ] && return 0
	mkdir -p "$d"
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
		-keyout "$d/ca.key" -out "$d/ca.crt" -days 3650 -sha256 -subj "/CN=Switchyard Test CA" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
	tls_leaf server localhost "IP:127.0.0.1,DNS:localhost"
	tls_leaf proxy localhost "IP:127.0.0.1,DNS:localhost"
	tls_leaf client app ""
	chmod 755 "$d"
	chmod 644 "$d"/*.crt "$d/server.key" "$d/proxy.key"
	chmod 600 "$d/client.key" "$d/ca.key" # libpq refuses a client key readable by others
}

# ---------------------------------------------------------------- PostgreSQL
pg_running() { # DATADIR
	[ -f "$1/postmaster.pid" ] || return 1
	local pid
	pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ -r "/proc/$pid/cmdline" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q postgres
}

pg_start() { # DATADIR LOG
	pg_running "$1" && return 0
	local out
	out=$(as_pg "$PG_BIN/pg_ctl" -D "$1" -l "$2" -w -t "$START_TIMEOUT" -s start 2>&1) ||
		{ echo "$out" >&2; tail -n 30 "$2" >&2; die "PostgreSQL in $1 did not start (log $2)"; }
}

pg_stop() { # DATADIR
	pg_running "$1" || return 0
	as_pg "$PG_BIN/pg_ctl" -D "$1" -m fast -w -t 60 -s stop >/dev/null 2>&1 ||
		as_pg "$PG_BIN/pg_ctl" -D "$1" -m immediate -w -t 30 -s stop >/dev/null 2>&1 || true
}

psql_sock() { # PORT SQL... — as the postgres superuser over the unix socket
	local port=$1
	shift
	as_pg "$PG_BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$PG_SOCKET_DIR" -p "$port" -U postgres -d postgres "$@"
}

pg_init() {
	local pg=$FLEET_RUN/pg
	if [ -f "$pg/.initialized" ]; then return 0; fi
	pg_stop "$PGDATA_REPLICA" 2>/dev/null || true
	pg_stop "$PGDATA_PRIMARY" 2>/dev/null || true
	rm -rf "$PGDATA_PRIMARY" "$PGDATA_REPLICA" "$pg/run" "$pg/tls"
	mkdir -p "$pg/run" "$pg/tls"
	cp "$DIR/tls/server.crt" "$DIR/tls/server.key" "$DIR/tls/ca.crt" "$pg/tls/"
	chown -R postgres:postgres "$pg"
	chmod 700 "$pg/tls"
	chmod 600 "$pg/tls/server.key"
	chmod 755 "$pg" "$pg/run"

	as_pg "$PG_BIN/initdb" -D "$PGDATA_PRIMARY" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
		-E UTF8 --locale=C --no-sync --no-instructions >"$pg/initdb.log" 2>&1 ||
		{ cat "$pg/initdb.log" >&2; die "initdb failed"; }
	cat >>"$PGDATA_PRIMARY/postgresql.conf" <<EOF

# ---- switchyard test fleet ----
listen_addresses = '127.0.0.1'
port = $PG_PRIMARY_PORT
unix_socket_directories = '$pg/run'
password_encryption = 'scram-sha-256'
ssl = on
ssl_cert_file = '$pg/tls/server.crt'
ssl_key_file = '$pg/tls/server.key'
ssl_ca_file = '$pg/tls/ca.crt'
max_connections = 300
shared_buffers = 64MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = 256MB
hot_standby = on
hot_standby_feedback = on
wal_receiver_status_interval = 1s
fsync = off
synchronous_commit = off
full_page_writes = off
log_line_prefix = '%m [%p] %q%u@%d/%a '
log_connections = on
log_disconnections = on
EOF
	cat >"$PGDATA_PRIMARY/pg_hba.conf" <<'EOF'
# switchyard test fleet
local   all          all                      trust
local   replication  all                      trust
host    all          md5user   127.0.0.1/32   md5
host    all          pwuser    127.0.0.1/32   password
host    replication  all       127.0.0.1/32   scram-sha-256
host    all          all       127.0.0.1/32   scram-sha-256
EOF
	chown postgres:postgres "$PGDATA_PRIMARY/postgresql.conf" "$PGDATA_PRIMARY/pg_hba.conf"
	pg_start "$PGDATA_PRIMARY" "$pg/primary.log"
	psql_sock "$PG_PRIMARY_PORT" >/dev/null <<'EOF'
CREATE ROLE app LOGIN PASSWORD 'app';
CREATE DATABASE app OWNER app;
CREATE ROLE admin LOGIN PASSWORD 'admin';
CREATE ROLE monitor SUPERUSER LOGIN PASSWORD 'monitor';
CREATE ROLE repl REPLICATION LOGIN PASSWORD 'repl';
CREATE ROLE pwuser LOGIN PASSWORD 'pwpass';
SET password_encryption = 'md5';
CREATE ROLE md5user LOGIN PASSWORD 'md5pass';
EOF
	as_pg env PGPASSWORD=repl "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U repl \
		-D "$PGDATA_REPLICA" -R -X stream -C -S sy_replica -c fast --no-sync >"$pg/basebackup.log" 2>&1 ||
		{ cat "$pg/basebackup.log" >&2; die "pg_basebackup failed"; }
	printf '\n# replica\nport = %s\n' "$PG_REPLICA_PORT" >>"$PGDATA_REPLICA/postgresql.conf"
	grep -q "primary_conninfo" "$PGDATA_REPLICA/postgresql.auto.conf" || die "pg_basebackup -R wrote no primary_conninfo"
	pg_start "$PGDATA_REPLICA" "$pg/replica.log"
	touch "$pg/.initialized"
}

pg_wait_replication() {
	local i n
	for i in $(seq 1 $((START_TIMEOUT * 5))); do
		n=$(psql_sock "$PG_PRIMARY_PORT" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || echo 0)
		[ "$n" -ge 1 ] 2>/dev/null && return 0
		sleep 0.2
	done
	die "PostgreSQL replica is not streaming (see $FLEET_RUN/pg/replica.log)"
}

# ---------------------------------------------------------------- MariaDB
my_pidfile() { echo "$FLEET_RUN/my/$1.pid"; }

my_running() { # primary|replica
	local pf pid
	pf=$(my_pidfile "$1")
	[ -f "$pf" ] || return 1
	pid=$(cat "$pf" 2>/dev/null) || return 1
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && [ -r "/proc/$pid/cmdline" ] &&
		tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q mariadbd
}

# Start mariadbd on data folder BASE (socket BASE.sock, pid BASE.pid, log
# BASE.err) with server id ID on PORT, plus ARGS; 0 once it answers a ping.
mariadbd_launch() { # BASE PORT ID [ARGS...]
	local base=$1 port=$2 id=$3 i
	shift 3
	rm -f "$base.sock" "$base.pid"
	mkdir -p "$base-tmp"
	setsid "$MARIADBD" --no-defaults --user=root --datadir="$base" --tmpdir="$base-tmp" --port="$port" --bind-address=127.0.0.1 \
		--socket="$base.sock" --pid-file="$base.pid" --log-error="$base.err" \
		--server-id="$id" --log-bin=mysql-bin --log-slave-updates --binlog-format=ROW --gtid-strict-mode=1 \
		--skip-name-resolve --report-host=127.0.0.1 --report-port="$port" \
		--innodb-flush-log-at-trx-commit=2 --sync-binlog=0 --slave-net-timeout=10 --skip-symbolic-links \
		"$@" </dev/null >>"$base.out" 2>&1 &
	for i in $(seq 1 $((START_TIMEOUT * 5))); do
		if mariadb-admin --no-defaults -S "$base.sock" -uroot ping >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	return 1
}

my_sql() { # primary|replica SQL... (root over the socket)
	local sock=$FLEET_RUN/my/$1.sock
	shift
	mariadb --no-defaults -S "$sock" -uroot -N -B "$@"
}

my_start() { # primary|replica
	local n=$1 port id extra=()
	my_running "$n" && return 0
	if [ "$n" = primary ]; then port=$MY_PRIMARY_PORT id=1; else port=$MY_REPLICA_PORT id=2 extra=(--read-only=1); fi
	local my=$FLEET_RUN/my
	mariadbd_launch "$my/$n" "$port" "$id" --max-connections=500 --innodb-buffer-pool-size=64M \
		--max-allowed-packet=64M \
		--innodb-log-file-size=32M \
		--ssl-ca="$DIR/tls/ca.crt" --ssl-cert="$DIR/tls/server.crt" --ssl-key="$DIR/tls/server.key" \
		"${extra[@]}" && return 0
	tail -n 30 "$my/$n.err" >&2 || true
	die "MariaDB $n did not start (log $my/$n.err)"
}

my_stop() { # primary|replica
	my_running "$1" || return 0
	my_stop_pidfile "$(my_pidfile "$1")"
}

# SIGTERM the mariadbd of PIDFILE, wait (then SIGKILL).
my_stop_pidfile() { # PIDFILE
	local pid i
	pid=$(cat "$1" 2>/dev/null) || return 0
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for i in $(seq 1 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# The database and users of a MariaDB primary (the monitor's ALL includes
# what failover needs: SUPER / READ_ONLY ADMIN, REPLICATION SLAVE ADMIN).
my_users_sql() {
	cat <<'EOF'
CREATE DATABASE IF NOT EXISTS shop;
CREATE USER 'app'@'%' IDENTIFIED BY 'app';
GRANT ALL PRIVILEGES ON shop.* TO 'app'@'%';
CREATE USER 'monitor'@'%' IDENTIFIED BY 'monitor';
GRANT ALL PRIVILEGES ON *.* TO 'monitor'@'%' WITH GRANT OPTION;
CREATE USER 'repl'@'%' IDENTIFIED BY 'repl';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'repl'@'%';
EOF
}

my_init() {
	local my=$FLEET_RUN/my
	if [ -f "$my/.initialized" ]; then return 0; fi
	my_stop replica 2>/dev/null || true
	my_stop primary 2>/dev/null || true
	rm -rf "$MYDATA_PRIMARY" "$MYDATA_REPLICA" "$MYDATA_PRIMARY-tmp" "$MYDATA_REPLICA-tmp"
	mkdir -p "$my"
	local n pids=() rc=0
	for n in primary replica; do
		# Each server has its own tmpdir: bootstraps running at the same time
		# in one tmpdir collide on temporary table file names.
		mkdir -p "$my/$n-tmp"
		mariadb-install-db --no-defaults --user=root --datadir="$my/$n" --auth-root-authentication-method=socket \
			--skip-test-db --tmpdir="$my/$n-tmp" >"$my/install-$n.log" 2>&1 &
		pids+=($!)
	done
	for n in "${pids[@]}"; do wait "$n" || rc=1; done
	if [ "$rc" -ne 0 ]; then
		for n in primary replica; do
			grep -iE 'error|abort|fail' "$my/install-$n.log" | head -n 10 | sed "s|^|$n: |" >&2 || true
		done
		die "mariadb-install-db failed (logs $my/install-*.log)"
	fi
	my_start primary &
	pids=($!)
	my_start replica || rc=1
	wait "${pids[0]}" || rc=1
	[ "$rc" -eq 0 ] || die "MariaDB did not start"
	my_users_sql | my_sql primary
	# GRANT ALL on *.* would include READ_ONLY ADMIN (10.11), which lets a user
	# write on a read_only replica: make sure app does not have it.
	if my_sql primary -e "SHOW PRIVILEGES" | grep -qi '^read_only admin'; then
		my_sql primary -e "REVOKE READ_ONLY ADMIN ON *.* FROM 'app'@'%'" 2>/dev/null || true
	fi
	if my_sql primary -e "SHOW GRANTS FOR 'app'@'%'" | grep -qi 'READ_ONLY ADMIN\|ALL PRIVILEGES ON \*\.\*'; then
		die "MariaDB user app must not have READ_ONLY ADMIN"
	fi
	my_sql replica <<EOF
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MY_PRIMARY_PORT, MASTER_USER='repl',
  MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
EOF
	touch "$my/.initialized"
}

my_wait_replication() {
	local pos got i st
	pos=$(my_sql primary -e "SELECT @@gtid_binlog_pos")
	got=$(my_sql replica -e "SELECT MASTER_GTID_WAIT('$pos', $START_TIMEOUT)")
	if [ "$got" != 0 ]; then
		mariadb --no-defaults -S "$MY_REPLICA_SOCKET" -uroot -e "SHOW SLAVE STATUS\G" >&2 || true
		die "MariaDB replica did not reach $pos"
	fi
	for i in $(seq 1 50); do
		st=$(mariadb --no-defaults -S "$MY_REPLICA_SOCKET" -uroot -e "SHOW SLAVE STATUS\G")
		if grep -q 'Slave_IO_Running: Yes' <<<"$st" && grep -q 'Slave_SQL_Running: Yes' <<<"$st"; then return 0; fi
		sleep 0.2
	done
	echo "$st" >&2
	die "MariaDB replica threads are not running"
}

# ---------------------------------------------------------------- commands
cmd_start() {
	mkdir -p "$DIR"
	if load_env; then
		if [ "$PORTS" = fixed ] && [ "$PG_PRIMARY_PORT" != 15432 ]; then
			say "$DIR was set up with ports from fleet.env; keeping them (remove $DIR to change)"
		fi
		if [ ! -f "$FLEET_RUN/pg/.initialized" ] || [ ! -f "$FLEET_RUN/my/.initialized" ]; then
			say "re-initializing the parts of the fleet that are missing in $FLEET_RUN"
		fi
	else
		FLEET_RUN=$(choose_run_dir)
		if [ "$PORTS" = fixed ]; then
			PG_PRIMARY_PORT=15432 PG_REPLICA_PORT=15433 MY_PRIMARY_PORT=13306 MY_REPLICA_PORT=13307
			for p in $PG_PRIMARY_PORT $PG_REPLICA_PORT $MY_PRIMARY_PORT $MY_REPLICA_PORT; do
				port_listening "$p" && die "port $p is already in use (another fleet running?)"
			done
		else
			PG_PRIMARY_PORT=$(pick_port)
			taken="$taken$PG_PRIMARY_PORT "
			PG_REPLICA_PORT=$(pick_port)
			taken="$taken$PG_REPLICA_PORT "
			MY_PRIMARY_PORT=$(pick_port)
			taken="$taken$MY_PRIMARY_PORT "
			MY_REPLICA_PORT=$(pick_port)
		fi
		set_paths
		write_env
	fi
	mkdir -p "$FLEET_RUN"
	if [ "$FLEET_RUN" != "$DIR" ]; then
		chmod 755 "$FLEET_RUN"
		mkdir -p "$FLEET_RUN/pg" "$FLEET_RUN/my"
		ln -sfn "$FLEET_RUN/pg" "$DIR/pg"
		ln -sfn "$FLEET_RUN/my" "$DIR/my"
	fi
	tls_init

	# PostgreSQL and MariaDB come up in parallel.
	local t0=$SECONDS pgpid mypid rc=0
	(
		pg_init
		pg_start "$PGDATA_PRIMARY" "$FLEET_RUN/pg/primary.log"
		pg_start "$PGDATA_REPLICA" "$FLEET_RUN/pg/replica.log"
		pg_wait_replication
	) &
	pgpid=$!
	(
		my_init
		my_start primary &
		local p=$! r=0
		my_start replica || r=1
		wait "$p" || r=1
		[ "$r" -eq 0 ] || exit 1
		my_wait_replication
	) &
	mypid=$!
	wait "$pgpid" || rc=1
	wait "$mypid" || rc=1
	[ "$rc" -eq 0 ] || die "start failed (logs under $FLEET_RUN/pg and $FLEET_RUN/my)"
	say "up in $((SECONDS - t0))s: pg primary $PG_PRIMARY_PORT replica $PG_REPLICA_PORT, mariadb primary $MY_PRIMARY_PORT replica $MY_REPLICA_PORT ($ENV_FILE)"
}

cmd_stop() {
	load_env || { say "nothing to stop in $DIR"; return 0; }
	pg_stop "$PGDATA_PRIMARY" &
	pg_stop "$PGDATA_REPLICA" &
	local extra
	for extra in "$FLEET_RUN"/pg/extra_*/ "$FLEET_RUN"/pg/pair_*/; do
		[ -d "$extra" ] && pg_stop "${extra%/}" &
	done
	for extra in "$FLEET_RUN"/my/pair_*.pid; do
		[ -f "$extra" ] && my_stop_pidfile "$extra" &
	done
	my_stop replica &
	my_stop primary &
	wait
	say "stopped"
}

cmd_destroy() {
	load_env || { rm -rf "$DIR"; return 0; }
	cmd_stop
	[ "$FLEET_RUN" != "$DIR" ] && rm -rf "$FLEET_RUN"
	rm -rf "$DIR"
}

cmd_status() {
	load_env || die "no fleet in $DIR"
	local s
	pg_running "$PGDATA_PRIMARY" && s=up || s=down
	echo "pg-primary 127.0.0.1:$PG_PRIMARY_PORT $s"
	pg_running "$PGDATA_REPLICA" && s=up || s=down
	echo "pg-replica 127.0.0.1:$PG_REPLICA_PORT $s"
	my_running primary && s=up || s=down
	echo "my-primary 127.0.0.1:$MY_PRIMARY_PORT $s"
	my_running replica && s=up || s=down
	echo "my-replica 127.0.0.1:$MY_REPLICA_PORT $s"
}

# SIGKILL a PostgreSQL postmaster and its children; wait until they are gone.
pg_kill_dir() { # DATADIR
	local pid kids=() i p alive
	pid=$(head -n 1 "$1/postmaster.pid")
	mapfile -t kids < <(ps -o pid= --ppid "$pid" | tr -d ' ')
	kill -KILL "$pid" "${kids[@]}" 2>/dev/null || true
	for i in $(seq 1 100); do
		alive=0
		for p in "$pid" "${kids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		[ "$alive" = 0 ] && break
		sleep 0.1
	done
}

kill_pid_wait() { # PID
	local i
	kill -KILL "$1" 2>/dev/null || true
	for i in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}

node_kill() {
	load_env || die "no fleet in $DIR"
	case "$NODE" in
	pg-primary | pg-replica)
		local data=$PGDATA_PRIMARY
		[ "$NODE" = pg-replica ] && data=$PGDATA_REPLICA
		pg_running "$data" || { say "$NODE is not running"; return 0; }
		pg_kill_dir "$data"
		;;
	my-primary | my-replica)
		local n=${NODE#my-}
		my_running "$n" || { say "$NODE is not running"; return 0; }
		kill_pid_wait "$(cat "$(my_pidfile "$n")")"
		;;
	*) die "unknown node $NODE" ;;
	esac
	say "killed $NODE"
}

node_restart() {
	load_env || die "no fleet in $DIR"
	case "$NODE" in
	pg-primary) pg_start "$PGDATA_PRIMARY" "$FLEET_RUN/pg/primary.log" ;;
	pg-replica) pg_start "$PGDATA_REPLICA" "$FLEET_RUN/pg/replica.log" ;;
	my-primary) my_start primary ;;
	my-replica) my_start replica ;;
	*) die "unknown node $NODE" ;;
	esac
	say "$NODE is up"
}

extra_pg_replica_add() {
	load_env || die "no fleet in $DIR"
	[[ "$NODE" =~ ^[a-z0-9_]+$ ]] || die "replica names are [a-z0-9_]+"
	[[ "$EXTRA_PORT" =~ ^[0-9]+$ ]] || die "bad port '$EXTRA_PORT'"
	local data=$FLEET_RUN/pg/extra_$NODE log=$FLEET_RUN/pg/extra_$NODE.log
	if [ ! -f "$data/.initialized" ]; then
		pg_stop "$data" 2>/dev/null || true
		rm -rf "$data"
		as_pg env PGPASSWORD=repl "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U repl \
			-D "$data" -R -X stream -c fast --no-sync >"$log.basebackup" 2>&1 ||
			{ cat "$log.basebackup" >&2; die "pg_basebackup for $NODE failed"; }
		printf '\n# extra replica %s\nport = %s\n' "$NODE" "$EXTRA_PORT" >>"$data/postgresql.conf"
		as_pg touch "$data/.initialized"
	fi
	pg_start "$data" "$log"
	say "pg replica $NODE is up on 127.0.0.1:$EXTRA_PORT"
}

extra_pg_replica_drop() {
	load_env || die "no fleet in $DIR"
	[[ "$NODE" =~ ^[a-z0-9_]+$ ]] || die "replica names are [a-z0-9_]+"
	local data=$FLEET_RUN/pg/extra_$NODE
	pg_stop "$data"
	rm -rf "$data" "$FLEET_RUN/pg/extra_$NODE.log" "$FLEET_RUN/pg/extra_$NODE.log.basebackup"
	say "pg replica $NODE dropped"
}

# ---------------------------------------------------------------- private pairs
# Data: $FLEET_RUN/pg/pair_NAME_{primary,replica}, $FLEET_RUN/my/pair_NAME_{primary,replica}.
pair_check() {
	load_env || die "no fleet in $DIR"
	[[ "$PAIR" =~ ^[a-z0-9_]+$ ]] || die "pair names are [a-z0-9_]+"
}

pair_pg_add() {
	pair_check
	local r2port=""
	if [[ "$PAIR_RPORT" == *,* ]]; then
		r2port=${PAIR_RPORT#*,}
		PAIR_RPORT=${PAIR_RPORT%%,*}
	fi
	[[ "$PAIR_PPORT" =~ ^[0-9]+$ && "$PAIR_RPORT" =~ ^[0-9]+$ && "$r2port" =~ ^[0-9]*$ ]] || die "bad ports"
	local p=$FLEET_RUN/pg/pair_${PAIR}_primary r=$FLEET_RUN/pg/pair_${PAIR}_replica r2=$FLEET_RUN/pg/pair_${PAIR}_replica2
	pg_stop "$r2" 2>/dev/null || true
	pg_stop "$r" 2>/dev/null || true
	pg_stop "$p" 2>/dev/null || true
	rm -rf "$p" "$r" "$r2"
	# A copy of the fleet's primary (roles, database app), standalone.
	as_pg env PGPASSWORD=repl "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PG_PRIMARY_PORT" -U repl \
		-D "$p" -X stream -c fast --no-sync >"$p.log.basebackup" 2>&1 ||
		{ cat "$p.log.basebackup" >&2; die "pg_basebackup for pair $PAIR failed"; }
	printf '\n# pair %s primary\nport = %s\n' "$PAIR" "$PAIR_PPORT" >>"$p/postgresql.conf"
	pg_start "$p" "$p.log"
	local want=1 d port
	[ -n "$r2port" ] && want=2
	for d in "$r" "$r2"; do
		port=$PAIR_RPORT
		[ "$d" = "$r2" ] && port=$r2port
		[ -n "$port" ] || continue
		as_pg env PGPASSWORD=repl "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PAIR_PPORT" -U repl \
			-D "$d" -R -X stream -c fast --no-sync >"$d.log.basebackup" 2>&1 ||
			{ cat "$d.log.basebackup" >&2; die "pg_basebackup for a replica of pair $PAIR failed"; }
		printf '\n# pair %s replica\nport = %s\n' "$PAIR" "$port" >>"$d/postgresql.conf"
		pg_start "$d" "$d.log"
	done
	local i n=0
	for i in $(seq 1 $((START_TIMEOUT * 5))); do
		n=$(psql_sock "$PAIR_PPORT" -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || echo 0)
		[ "$n" -ge "$want" ] 2>/dev/null && break
		sleep 0.2
	done
	[ "$n" -ge "$want" ] 2>/dev/null || die "pair $PAIR: the replicas are not streaming (see $r.log)"
	say "pg pair $PAIR: primary 127.0.0.1:$PAIR_PPORT, replicas 127.0.0.1:$PAIR_RPORT${r2port:+ 127.0.0.1:$r2port}"
}

pair_my_sql() { # primary|replica SQL...
	local sock=$FLEET_RUN/my/pair_${PAIR}_$1.sock
	shift
	mariadb --no-defaults -S "$sock" -uroot -N -B "$@"
}

pair_my_start() { # primary|replica|replica2
	local n=$1 port=${PAIR_PPORT:-} id=11 extra=()
	local base=$FLEET_RUN/my/pair_${PAIR}_$1
	if [ -f "$base.port" ]; then port=$(cat "$base.port"); fi
	[ "$n" = replica ] && id=12 extra=(--read-only=1)
	[ "$n" = replica2 ] && id=13 extra=(--read-only=1)
	if [ -f "$base.pid" ] && kill -0 "$(cat "$base.pid")" 2>/dev/null; then return 0; fi
	mariadbd_launch "$base" "$port" "$id" --max-connections=200 --innodb-buffer-pool-size=32M \
		--innodb-log-file-size=16M "${extra[@]}" && return 0
	tail -n 30 "$base.err" >&2 || true
	die "MariaDB pair $PAIR $n did not start (log $base.err)"
}

pair_my_add() {
	pair_check
	local r2port="" nodes="primary replica" n
	if [[ "$PAIR_RPORT" == *,* ]]; then
		r2port=${PAIR_RPORT#*,}
		PAIR_RPORT=${PAIR_RPORT%%,*}
		nodes="primary replica replica2"
	fi
	[[ "$PAIR_PPORT" =~ ^[0-9]+$ && "$PAIR_RPORT" =~ ^[0-9]+$ && "$r2port" =~ ^[0-9]*$ ]] || die "bad ports"
	local my=$FLEET_RUN/my base=$FLEET_RUN/my/pair_${PAIR}_primary
	for n in $nodes; do
		[ -f "$my/pair_${PAIR}_$n.pid" ] && my_stop_pidfile "$my/pair_${PAIR}_$n.pid"
		rm -rf "$my/pair_${PAIR}_$n" "$my/pair_${PAIR}_$n-tmp"
	done
	# One bootstrap, copied before any server starts (a fresh data folder
	# holds nothing that differs between servers; server ids are options).
	mkdir -p "$base-tmp"
	mariadb-install-db --no-defaults --user=root --datadir="$base" --auth-root-authentication-method=socket \
		--skip-test-db --tmpdir="$base-tmp" >"$base.install.log" 2>&1 ||
		die "mariadb-install-db for pair $PAIR failed (log $base.install.log)"
	for n in $nodes; do
		[ "$n" = primary ] || cp -a "$base" "$my/pair_${PAIR}_$n"
	done
	echo "$PAIR_PPORT" >"$my/pair_${PAIR}_primary.port"
	echo "$PAIR_RPORT" >"$my/pair_${PAIR}_replica.port"
	[ -n "$r2port" ] && echo "$r2port" >"$my/pair_${PAIR}_replica2.port"
	for n in $nodes; do pair_my_start "$n"; done
	my_users_sql | pair_my_sql primary
	# GRANT ALL on *.* would include READ_ONLY ADMIN (10.11): app must not have it.
	if pair_my_sql primary -e "SHOW PRIVILEGES" | grep -qi '^read_only admin'; then
		pair_my_sql primary -e "REVOKE READ_ONLY ADMIN ON *.* FROM 'app'@'%'" 2>/dev/null || true
	fi
	local pos got
	pos=$(pair_my_sql primary -e "SELECT @@gtid_binlog_pos")
	for n in $nodes; do
		[ "$n" = primary ] && continue
		pair_my_sql "$n" <<EOF2
CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$PAIR_PPORT, MASTER_USER='repl',
  MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
START SLAVE;
EOF2
		got=$(pair_my_sql "$n" -e "SELECT MASTER_GTID_WAIT('$pos', $START_TIMEOUT)")
		[ "$got" = 0 ] || die "MariaDB pair $PAIR: $n did not reach $pos"
	done
	say "mariadb pair $PAIR: primary 127.0.0.1:$PAIR_PPORT, replicas 127.0.0.1:$PAIR_RPORT${r2port:+ 127.0.0.1:$r2port}"
}

pair_node() {
	pair_check
	local which=${NODE#*-}
	[ "$which" = primary ] || [ "$which" = replica ] || [ "$which" = replica2 ] || die "unknown node $NODE"
	case "$NODE" in
	pg-*)
		local data=$FLEET_RUN/pg/pair_${PAIR}_$which
		if [ "$CMD" = pair-start ]; then
			pg_start "$data" "$data.log"
			say "pair $PAIR $NODE is up"
			return 0
		fi
		pg_running "$data" || { say "pair $PAIR $NODE is not running"; return 0; }
		pg_kill_dir "$data"
		;;
	my-*)
		local base=$FLEET_RUN/my/pair_${PAIR}_$which pid
		if [ "$CMD" = pair-start ]; then
			pair_my_start "$which"
			say "pair $PAIR $NODE is up"
			return 0
		fi
		pid=$(cat "$base.pid" 2>/dev/null) || { say "pair $PAIR $NODE is not running"; return 0; }
		kill_pid_wait "$pid"
		;;
	*) die "unknown node $NODE" ;;
	esac
	say "killed pair $PAIR $NODE"
}

pair_drop() {
	pair_check
	local n
	for n in primary replica replica2; do
		pg_stop "$FLEET_RUN/pg/pair_${PAIR}_$n" 2>/dev/null || true
		[ -f "$FLEET_RUN/my/pair_${PAIR}_$n.pid" ] && my_stop_pidfile "$FLEET_RUN/my/pair_${PAIR}_$n.pid"
		rm -rf "$FLEET_RUN/pg/pair_${PAIR}_$n" "$FLEET_RUN/pg/pair_${PAIR}_$n".log*
		rm -rf "$FLEET_RUN/my/pair_${PAIR}_$n" "$FLEET_RUN/my/pair_${PAIR}_$n"[.-]*
	done
	say "pair $PAIR dropped"
}

case "$CMD" in
start) cmd_start ;;
add-pg-pair) pair_pg_add ;;
add-my-pair) pair_my_add ;;
pair-kill | pair-start) pair_node ;;
drop-pair) pair_drop ;;
add-pg-replica) extra_pg_replica_add ;;
drop-pg-replica) extra_pg_replica_drop ;;
stop) cmd_stop ;;
destroy) cmd_destroy ;;
status) cmd_status ;;
kill) node_kill ;;
restart) node_restart ;;
*) usage ;;
esac
