# shellcheck shell=bash
# devtools/galera.sh: the Galera stack's functions, sourced by ./dev
# after devtools/stack.sh: three MariaDB Galera nodes on loopback and two
# creditd behind one nginx (galera_stack_start).

# ---- Galera stack ----
# Three MariaDB Galera nodes on loopback, two creditd on them, one nginx in
# front of both. Node N: config GDIR/nodeN.cnf, datadir GDIR/nodeN, socket,
# pid file and error log GDIR/nodeN.sock, .pid, .err; pid "galeraN" in
# DIR/pids. GDIR is DIR/galera, or a directory of its own under /tmp (see
# galera_dir). DIR/galera.env tells the tests all of it (galera_env_write).

pid_of() { awk -v name="$1" '$1 == name { p = $2 } END { print p }' "$DIR/pids"; }

# alive PID: running, not a zombie (a node a test killed stays one while
# whoever started it has not reaped it).
alive() { [ -r "/proc/$1/stat" ] && [ "$(sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f1)" != Z ]; }

# galera_home: GDIR of the stack in DIR.
galera_home() {
	GDIR="$DIR/galera"
	if [ -f "$DIR/galera_dir" ]; then GDIR=$(cat "$DIR/galera_dir"); fi
}

# The nodes run as mysql (the rsync state transfer fails as root), so their
# files are mysql's and every directory above them must let mysql through.
# A checkout in a private directory (0700, as /root is) does not: the nodes
# then live in a directory of their own under /tmp (0755), recorded in
# DIR/galera_dir and removed with the stack, as socket_dir does for Apache.
galera_dir() {
	GDIR="$DIR/galera"
	if ! runuser -u mysql -- test -x "$DIR" 2>/dev/null; then
		GDIR=$(mktemp -d /tmp/creditd-galera.XXXXXX)
		chmod 755 "$GDIR"
		echo "$GDIR" >"$DIR/galera_dir"
		say "dev: $DIR is not reachable by mysql (a private directory): the Galera nodes are in $GDIR"
	fi
	mkdir -p "$GDIR"
}

# galera_node_conf N PORT GCOMM IST SST CLUSTER_ADDRESS: node N's config.
# Three nodes on one machine: every address is 127.0.0.1 and every port
# the node's own; none is left to Galera's default (the same port for all,
# on the first interface).
galera_node_conf() {
	local n=$1
	cat >"$GDIR/node$n.cnf" <<EOC
# Written by ./dev: Galera node $n of the stack in $DIR.
[mysqld]
datadir=$GDIR/node$n
socket=$GDIR/node$n.sock
tmpdir=$GDIR/tmp$n
pid-file=$GDIR/node$n.pid
log-error=$GDIR/node$n.err
port=$2
bind-address=127.0.0.1
user=mysql
skip-name-resolve
max_connections=600
innodb_buffer_pool_size=128M
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
# Four appliers, not MariaDB's one: with one, a row written through two
# nodes stalls for the lock wait (docs/scale-out.md; creditd warns of a
# node that runs one).
wsrep_slave_threads=4
# wsrep logs every write as binary log events, so without this only SUPER
# could create the schema's procedures (creditctl migrate runs as the
# schema's owner, creditd_owner, which has no SUPER).
log_bin_trust_function_creators=1
# GALERA_GENERAL_LOG=1 (tracing a race): every statement in the node's
# general log (its datadir), every brute-force abort in its error log.
${GALERA_GENERAL_LOG:+general_log=1}
${GALERA_GENERAL_LOG:+wsrep_log_conflicts=ON}
wsrep_on=ON
wsrep_provider=/usr/lib/galera/libgalera_smm.so
wsrep_cluster_name=creditd
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1
wsrep_node_incoming_address=127.0.0.1:$2
wsrep_cluster_address=$6
# A node that dies is suspected after evs.suspect_timeout, and until then
# commits on every node wait for it: 2 s here (5 s by default), below
# creditd's database read timeout (5 s), so a write stalled by the
# membership change finishes instead of timing out.
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$3;ist.recv_addr=127.0.0.1:$4;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT4S;evs.install_timeout=PT4S"
wsrep_sst_receive_address=127.0.0.1:$5
wsrep_sst_method=rsync
[client]
socket=$GDIR/node$n.sock
user=root
EOC
}

galera_port() { sed -n 's/^port=//p' "$GDIR/node$1.cnf"; }

# galera_cmd N: the command that starts node N again, into a running
# cluster (./dev galera-node-exec, which becomes its mariadbd), for
# galera.env and galera-restart-node.
galera_cmd() { echo "$ROOT/dev galera-node-exec $DIR $1"; }

# galera_node_run N [ARGS...]: starts node N as galeraN for the first time
# (mariadbd ARGS); GALERA_PID is its pid.
galera_node_run() {
	local n=$1
	shift
	start_bg "galera$n" "$DIR/galera$n.out" mariadbd --defaults-file="$GDIR/node$n.cnf" "$@"
	GALERA_PID=$!
}

galera_sql() { mariadb --defaults-file="$GDIR/node$1.cnf" -N -B -e "$2"; }

galera_status() { galera_sql "$1" "SHOW STATUS LIKE '$2'" 2>/dev/null | cut -f2; }

# galera_counts M N: node M (running) has node N among the cluster's members.
galera_counts() { galera_status "$1" wsrep_incoming_addresses | tr ',' '\n' | grep -qx "127.0.0.1:$(galera_port "$2")"; }

# galera_synced N SIZE: node N is Synced and ready (in the primary
# component), in a cluster of at least SIZE nodes.
galera_synced() {
	galera_sql "$1" "SHOW STATUS WHERE Variable_name IN
		('wsrep_ready', 'wsrep_local_state_comment', 'wsrep_cluster_size')" 2>/dev/null |
		awk -v size="$2" '{ v[$1] = $2 } END { exit !(v["wsrep_ready"] == "ON" &&
			v["wsrep_local_state_comment"] == "Synced" && v["wsrep_cluster_size"] >= size) }'
}

# galera_wait N SIZE PID: until galera_synced N SIZE (a joiner first copies
# the data, which may take a while: 180 s at most), giving up at once if
# the node's mariadbd has died.
galera_wait() {
	for _ in $(seq 1 1800); do
		galera_synced "$1" "$2" && return 0
		alive "$3" || die "Galera node $1 died ($GDIR/node$1.err)"
		sleep 0.1
	done
	die "Galera node $1 is not Synced in a cluster of $2 after 180 s ($GDIR/node$1.err)"
}

# galera_env_write: DIR/galera.env, KEY=VALUE lines as in stack.env (values
# unquoted: read it as tests/integration/lib.py's load_env does, not with
# the shell's `.`; a CMD's words are separated by single spaces).
galera_env_write() {
	local n nodes=""
	for n in 1 2 3; do nodes="$nodes${nodes:+,}127.0.0.1:$(galera_port "$n")"; done
	{
		echo "GALERA_DIR=$GDIR"
		echo "GALERA_NODES=$nodes"
		for n in 1 2 3; do
			echo "GALERA_NODE${n}_NAME=galera$n"
			echo "GALERA_NODE${n}_PORT=$(galera_port "$n")"
			echo "GALERA_NODE${n}_CNF=$GDIR/node$n.cnf"
			echo "GALERA_NODE${n}_SOCKET=$GDIR/node$n.sock"
			echo "GALERA_NODE${n}_LOG=$GDIR/node$n.err"
			echo "GALERA_NODE${n}_PID=$(pid_of "galera$n")"
			echo "GALERA_NODE${n}_CMD=$(galera_cmd "$n")"
		done
	} >"$DIR/galera.env.tmp"
	mv "$DIR/galera.env.tmp" "$DIR/galera.env"
}

# galera_start (uses DIR DB_PASSWORD DB_OWNER_PASSWORD): three nodes Synced,
# database creditd and its two users (for 127.0.0.1 and localhost) on it.
galera_start() {
	[ "$(id -u)" = 0 ] || die "the Galera nodes start as root and run as mysql: run as root"
	[ -f /usr/lib/galera/libgalera_smm.so ] || die "no Galera provider: install galera-4"
	command -v rsync >/dev/null || die "no rsync (the nodes' state transfer): install rsync"
	galera_dir
	local ports cluster n i
	# Per node: MariaDB, group communication, IST and SST ports.
	read -r -a ports <<<"$(free_ports 12)"
	cluster="gcomm://127.0.0.1:${ports[1]},127.0.0.1:${ports[5]},127.0.0.1:${ports[9]}"
	for n in 1 2 3; do
		i=$(((n - 1) * 4))
		# Temp tables in the node's own dir, as stack.sh's mariadb_start.
		mkdir -p "$GDIR/node$n" "$GDIR/tmp$n"
		galera_node_conf "$n" "${ports[i]}" "${ports[i + 1]}" "${ports[i + 2]}" "${ports[i + 3]}" "$cluster"
	done
	chown -R mysql:mysql "$GDIR"
	TMPDIR=$GDIR/tmp1 mariadb-install-db --no-defaults --datadir="$GDIR/node1" --user=mysql \
		--auth-root-authentication-method=socket --skip-test-db >"$DIR/galera-install-db.log" 2>&1 ||
		die "mariadb-install-db failed ($DIR/galera-install-db.log)"
	# Node 1 makes the cluster; 2 and 3 join it one after the other, each
	# copying the data from a member (rsync SST) before it is Synced. The
	# datadirs of 2 and 3 stay empty until then: the SST replaces them.
	galera_node_run 1 --wsrep-new-cluster
	galera_wait 1 1 "$GALERA_PID"
	for n in 2 3; do
		galera_node_run "$n"
		galera_wait "$n" "$n" "$GALERA_PID"
	done
	galera_sql 1 "CREATE DATABASE IF NOT EXISTS creditd;
		$(db_users_sql 127.0.0.1) $(db_users_sql localhost)"
	galera_env_write
}

# galera_nginx_direct: NGINX_EXTRA for a server per creditd instance, on
# NGINX_G1_PORT and NGINX_G2_PORT, straight to that instance (a test sends
# one request to each): its own upstream, and the shipped FastCGI
# directives with their fastcgi_pass pointed at it.
galera_nginx_direct() {
	local c port
	NGINX_EXTRA=""
	for c in g1 g2; do
		port=$NGINX_G1_PORT
		[ $c = g1 ] || port=$NGINX_G2_PORT
		sed "s/^fastcgi_pass creditd;/fastcgi_pass creditd_$c;/" "$ROOT/nginx/creditd-fastcgi.conf" >"$DIR/creditd-fastcgi-$c.conf"
		grep -q "^fastcgi_pass creditd_$c;" "$DIR/creditd-fastcgi-$c.conf" ||
			die "no 'fastcgi_pass creditd;' line in nginx/creditd-fastcgi.conf to point at creditd-$c"
		NGINX_EXTRA="$NGINX_EXTRA    upstream creditd_$c {
        server unix:$DIR/creditd-$c.sock;
        keepalive 4;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            include $DIR/creditd-fastcgi-$c.conf;
            error_page 502 504 = @creditd_unavailable;
        }
        include $ROOT/nginx/creditd-errors.conf;
    }
"
	done
}

# galera_stack_start (uses DIR NGINX_PORT NGINX_G1_PORT NGINX_G2_PORT): the
# Galera cluster, creditd-g1 and creditd-g2 on it (both on
# DIR/creditd-galera.conf, each its own socket and log), nginx in front of
# both (round robin on NGINX_PORT, one each on NGINX_G1_PORT and
# NGINX_G2_PORT), the fake Stripe, keys, DIR/stack.env. It exports
# nothing: a run may hold a private_stack too.
galera_stack_start() {
	mkdir -p "$DIR"
	: >"$DIR/pids"
	stack_secrets
	mkdir -p "$DIR/www"
	galera_start
	local conf="$DIR/creditd-galera.conf" nodes port
	nodes=$(sed -n 's/^GALERA_NODES=//p' "$DIR/galera.env")
	# Both creditd connect to node 1 first (host, port); nodes lists them all.
	write_config "$conf" "$DIR/creditd-galera.log" "host = 127.0.0.1
port = $(galera_port 1)
nodes = $nodes"
	CREDITD_CONFIG=$conf stack_schema
	creditd_start creditd-g1 "$DIR/creditd-g1.sock" / "$conf" "$DIR/creditd-g1.log"
	creditd_start creditd-g2 "$DIR/creditd-g2.sock" / "$conf" "$DIR/creditd-g2.log"
	# Local: the next run of ./dev check --repeat starts a private stack
	# whose nginx must not include this stack's servers.
	local NGINX_EXTRA
	galera_nginx_direct
	nginx_start "$DIR/creditd-g1.sock" "$DIR/creditd-g2.sock"
	for port in "$NGINX_G1_PORT" "$NGINX_G2_PORT"; do
		wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/healthz" ||
			stack_die "creditd does not answer 200 on /healthz through nginx port $port ($DIR/creditd-g*.log)"
	done
	CREDITD_CONFIG=$conf stack_keys
	cat >"$DIR/stack.env" <<EOC
CREDITD_URL=http://127.0.0.1:$NGINX_PORT
CREDITD_ADMIN_KEY=$ADMIN_KEY
CREDITD_GUARD_KEY=$GUARD_KEY
CREDITD_READ_KEY=$READ_KEY
CREDITD_APP_KEY=$APP_KEY
CREDITD_WEBHOOK_SECRET=${WEBHOOK_SECRETS%%,*}
CREDITD_CONFIG=$conf
CREDITD_STRIPE_API_BASE=$STRIPE_BASE
CREDITD_PROVIDER_URL=$PROVIDER_BASE
CREDITD_STACK_DIR=$DIR
CREDITCTL=$ROOT/creditctl
CREDITD_GALERA=1
CREDITD_GALERA_ENV=$DIR/galera.env
CREDITD_G1_URL=http://127.0.0.1:$NGINX_G1_PORT
CREDITD_G2_URL=http://127.0.0.1:$NGINX_G2_PORT
CREDITD_G1_SOCKET=$DIR/creditd-g1.sock
CREDITD_G1_PID=$(pid_of creditd-g1)
CREDITD_G1_LOG=$DIR/creditd-g1.log
CREDITD_G2_SOCKET=$DIR/creditd-g2.sock
CREDITD_G2_PID=$(pid_of creditd-g2)
CREDITD_G2_LOG=$DIR/creditd-g2.log
EOC
}
