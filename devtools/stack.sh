# shellcheck shell=bash
# devtools/stack.sh: the developer stack's functions, sourced by ./dev
# (and through it by bench/*.sh): MariaDB, the config, nginx, Apache,
# creditd, the Stripe and provider stand-ins, stop; stack_start puts them
# together.

# ---- the demo's environment file ----
# demo_env_file STACK_ENV OUT [LINE...]: OUT as `source` reads it and as a
# reader's parser does: the stack's KEY=value lines, then LINEs, then
# PYTHONPATH for clients/python (the quickstart's Python example), then
# one line that exports every key to the programs started from the shell
# that sourced it (it starts with "export CREDITD_DEMO_ENV=1", so a parser
# of KEY=value lines skips it or takes one harmless key).
demo_env_file() {
	local src=$1 out=$2
	shift 2
	{
		cat "$src"
		for line in "$@"; do echo "$line"; done
		echo "PYTHONPATH=$ROOT/clients/python/src"
	} >"$out.tmp"
	printf 'export CREDITD_DEMO_ENV=1 %s\n' "$(sed -n 's/^\([A-Za-z_][A-Za-z0-9_]*\)=.*/\1/p' "$out.tmp" | tr '\n' ' ' | sed 's/ $//')" >>"$out.tmp"
	mv "$out.tmp" "$out"
}

# ---- stack ----
# stack_start DIR NGINX_PORT APACHE_PORT: everything under DIR, pids in DIR/pids.

free_port() { "$PY" -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }

# free_ports N: N distinct ports free now on 127.0.0.1, taken below the
# kernel's ephemeral range, for the servers the stacks start. The
# ephemeral range (where free_port's ports come from) is where every
# outgoing connection takes its source port: one may take a port picked
# there before its server binds it (a stack that fails to start, at
# random), or after a test killed a Galera node it restarts on it.
free_ports() {
	"$PY" - "$1" <<'EOF'
import random, socket, sys
n = int(sys.argv[1])
low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
lo, hi = (10000, low) if low - 10000 >= 2000 else (high + 1, 65536)
held, ports = [], []
while len(ports) < n:
    p = random.randrange(lo, hi)
    if p in ports:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        s.close()
        continue
    held.append(s)
    ports.append(p)
print(" ".join(map(str, ports)))
EOF
}

# stack_die MESSAGE: a server of the stack in DIR did not start: the ends
# of the stack's logs (a private stack's directory is removed when this
# script exits, unless KEEP_TMP=1), then die.
stack_die() {
	local f
	for f in "$DIR"/*.log "$DIR"/*.out "$DIR"/*.err; do
		[ -s "$f" ] || continue
		say "---- the end of $f"
		tail -n 15 "$f" >&2 || true
	done
	die "$*"
}

wait_for() { # wait_for SECONDS CMD...
	local t=$1; shift
	for _ in $(seq 1 $((t * 20))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.05; done
	return 1
}

start_bg() { # start_bg NAME LOG CMD...: runs in its own session, records the pid
	local name=$1 log=$2; shift 2
	setsid "$@" </dev/null >>"$log" 2>&1 &
	echo "$name $!" >>"$DIR/pids"
	disown "$!"	# a test's kill -9 of it is no job of this shell's to report
}

# db_users_sql HOST: the SQL that makes creditd's two database users for
# HOST (docs/operations.md): the schema's owner, creditd_owner, with every right
# on it (creditctl migrate connects as it, so it is the DEFINER of the
# procedures and triggers), and the runtime user, creditd, with only what
# requests and creditctl's other commands need: it can neither change
# the schema nor drop the journal's append-only triggers.
db_users_sql() {
	cat <<EOF
CREATE USER IF NOT EXISTS 'creditd_owner'@'$1' IDENTIFIED BY '$DB_OWNER_PASSWORD';
GRANT ALL ON creditd.* TO 'creditd_owner'@'$1';
CREATE USER IF NOT EXISTS 'creditd'@'$1' IDENTIFIED BY '$DB_PASSWORD';
GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON creditd.* TO 'creditd'@'$1';
EOF
}

mariadb_start() {
	# Each server's temp tables in its own dir: bootstraps of stacks
	# started side by side in /tmp failed now and then on one another's
	# ("Unknown table 'mysql.tmp_user_sys'").
	mkdir -p "$DIR/db" "$DIR/db-tmp"
	cat >"$DIR/my.cnf" <<EOF
[mysqld]
datadir=$DIR/db
socket=$DIR/mysql.sock
tmpdir=$DIR/db-tmp
pid-file=$DIR/mysql.pid
log-error=$DIR/mysql.err
skip-networking
user=root
innodb_buffer_pool_size=256M
innodb_log_file_size=256M
max_connections=600
skip-name-resolve
${MARIADB_EXTRA_CNF:-}
[client]
socket=$DIR/mysql.sock
user=root
EOF
	if [ ! -d "$DIR/db/mysql" ]; then
		TMPDIR=$DIR/db-tmp mariadb-install-db --no-defaults --datadir="$DIR/db" --user=root \
			--auth-root-authentication-method=socket --skip-test-db >"$DIR/install-db.log" 2>&1 ||
			die "mariadb-install-db failed ($DIR/install-db.log)"
	fi
	start_bg mariadbd "$DIR/mysql.out" mariadbd --defaults-file="$DIR/my.cnf"
	wait_for 30 mariadb-admin --defaults-file="$DIR/my.cnf" ping || stack_die "mariadbd did not start ($DIR/mysql.err)"
	mariadb --defaults-file="$DIR/my.cnf" -e "CREATE DATABASE IF NOT EXISTS creditd; $(db_users_sql localhost)"
}

# write_config [FILE LOG DATABASE]: DIR/creditd.conf (log DIR/creditd.log,
# the stack's MariaDB socket), or FILE with that log and those [database]
# lines (the Galera stack's TCP nodes).
write_config() {
	local file=${1:-$DIR/creditd.conf} log=${2:-$DIR/creditd.log} db=${3:-socket = $DIR/mysql.sock}
	# It holds secrets: made unreadable by others before they are written
	# (creditd refuses a config readable by others).
	rm -f "$file"
	(umask 077 && : >"$file")
	cat >>"$file" <<EOF
# Written by ./dev for a private stack.
[server]
socket_mode = 0666
threads = 64
base_path = /
log = $log
sweep_interval_seconds = 1
[database]
$db
name = creditd
user = creditd
password = $DB_PASSWORD
migrate_user = creditd_owner
migrate_password = $DB_OWNER_PASSWORD
[ledger]
currency = EUR
signup_bonus_micros = 10000000
[stripe]
secret_key = $STRIPE_KEY
webhook_secrets = $WEBHOOK_SECRETS
api_base = $STRIPE_BASE
connect_timeout_ms = 2000
timeout_ms = 3000
success_url = http://127.0.0.1:$NGINX_PORT/billing/success
cancel_url = http://127.0.0.1:$NGINX_PORT/billing/cancel
allowed_redirect_origins = https://app.example.com
[referral]
referrer_micros = 5000000
referred_micros = 2000000
expires_days = 30
max_per_referrer_per_month = 3
[widget]
token_secret = $WIDGET_SECRET
origins = https://app.example.com, http://127.0.0.1:$NGINX_PORT
[gateway]
openai_base_url = $OPENAI_BASE
anthropic_base_url = $ANTHROPIC_BASE
openai_api_key = $OPENAI_KEY
anthropic_api_key = $ANTHROPIC_KEY
batch_poll_seconds = 1
EOF
	# The demo's alerts by email (./dev demo with CREDITD_SMTP_URL set):
	# creditd reads the URL from its environment; the sender is here.
	[ -z "${DEMO_SMTP_URL:-}" ] ||
		printf '[email]\nfrom = %s\n' "${CREDITD_SMTP_FROM:-creditd-demo@localhost}" >>"$file"
	# The demo keeps the default (docs/operations.md, "Failed authentication": 30 a minute).
	[ -z "${AUTH_FAILURES_PER_MINUTE:-}" ] ||
		printf '[security]\nauth_failures_per_minute = %s\n' "$AUTH_FAILURES_PER_MINUTE" >>"$file"
}

# nginx_start [SOCKET...]: nginx on NGINX_PORT in front of the creditd
# listening on these sockets (default DIR/creditd.sock), balanced round
# robin. The upstream keeps the name creditd: nginx/creditd-fastcgi.conf,
# included as shipped, passes to it. NGINX_EXTRA, if set, is more of the
# http {} block (the Galera stack's server per creditd).
nginx_start() {
	[ $# -gt 0 ] || set -- "$DIR/creditd.sock"
	local servers
	servers=$(printf '        server unix:%s;\n' "$@")
	mkdir -p "$DIR/nginx-tmp"
	cat >"$DIR/nginx.conf" <<EOF
user root;
worker_processes 2;
daemon off;
pid $DIR/nginx.pid;
error_log $DIR/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $DIR/nginx-tmp/body;
    fastcgi_temp_path $DIR/nginx-tmp/fastcgi;
    proxy_temp_path $DIR/nginx-tmp/proxy;
    uwsgi_temp_path $DIR/nginx-tmp/uwsgi;
    scgi_temp_path $DIR/nginx-tmp/scgi;
    upstream creditd {
$servers
        keepalive 8;
    }
    upstream creditd_gateway {
$servers
    }
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / {
            include $ROOT/nginx/creditd-fastcgi.conf;
            error_page 502 504 = @creditd_unavailable;
        }
        location /openai/ {
            include $ROOT/nginx/creditd-gateway.conf;
            location = /openai/v1/audio/transcriptions {
                include $ROOT/nginx/creditd-gateway-upload.conf;
            }
            location = /openai/v1/images/edits {
                include $ROOT/nginx/creditd-gateway-upload.conf;
            }
            location = /openai/v1/files {
                include $ROOT/nginx/creditd-gateway-batch.conf;
            }
        }
        location /anthropic/ {
            include $ROOT/nginx/creditd-gateway.conf;
            location = /anthropic/v1/messages/batches {
                include $ROOT/nginx/creditd-gateway-upload.conf;
            }
        }
        # The demo's and the browser tests' pages (static files).
        location /demo/ {
            alias $DIR/www/;
        }
        include $ROOT/nginx/creditd-errors.conf;
    }
${NGINX_EXTRA:-}
}
EOF
	start_bg nginx "$DIR/nginx.out" nginx -p "$DIR" -c "$DIR/nginx.conf"
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$NGINX_PORT/healthz" ||
		stack_die "nginx does not answer 200 on /healthz ($DIR/nginx-error.log, creditd's logs in $DIR)"
}

apache_start() {
	local mods=/usr/lib/apache2/modules
	mkdir -p "$DIR/apache-run"
	# The JSON error pages, where Apache's children (www-data) can read them.
	rm -rf "$SOCK_DIR/apache-errors"
	cp -r "$ROOT/apache/errors" "$SOCK_DIR/apache-errors"
	chmod -R a+rX "$SOCK_DIR/apache-errors"
	cat >"$DIR/apache.conf" <<EOF
ServerRoot "$DIR"
ServerName 127.0.0.1
Listen 127.0.0.1:$APACHE_PORT
PidFile "$DIR/apache.pid"
DefaultRuntimeDir "$DIR/apache-run"
Mutex file:$DIR/apache-run default
ErrorLog "$DIR/apache-error.log"
LogLevel warn
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule authz_host_module $mods/mod_authz_host.so
LoadModule proxy_module $mods/mod_proxy.so
LoadModule proxy_fcgi_module $mods/mod_proxy_fcgi.so
LoadModule alias_module $mods/mod_alias.so
LoadModule headers_module $mods/mod_headers.so
LoadModule lua_module $mods/mod_lua.so
User www-data
Group www-data
StartServers 1
ServerLimit 2
ThreadsPerChild 16
MaxRequestWorkers 32
MinSpareThreads 4
MaxSpareThreads 32
GracefulShutdownTimeout 2
Define CREDITD_SOCKET $SOCK_DIR/creditd-apache.sock
Define CREDITD_ERRORS_DIR $SOCK_DIR/apache-errors
Include $ROOT/apache/creditd-proxy-fcgi.conf
EOF
	start_bg apache2 "$DIR/apache.out" apache2 -f "$DIR/apache.conf" -DFOREGROUND
	# Up means answering 200 through it, not just listening: an Apache
	# that cannot reach creditd's socket answers 503 (its error log says why).
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$APACHE_PORT/credits/healthz" ||
		stack_die "Apache does not answer 200 on /credits/healthz ($DIR/apache-error.log)"
}

# creditd_start NAME SOCKET [BASE_PATH [CONFIG [LOG]]]: CONFIG defaults to
# DIR/creditd.conf; LOG, if given, replaces the config's server.log (two
# creditd on one config, as in the Galera stack, each log to their own file).
creditd_start() {
	local conf=${4:-$DIR/creditd.conf} log=${5:-}
	local -a env=("CREDITD_BASE_PATH=${3:-/}")
	[ -z "$log" ] || env+=("CREDITD_LOG=$log")
	start_bg "$1" "$DIR/$1.out" env "${env[@]}" "$ROOT/creditd" -c "$conf" --listen "unix:$2"
	wait_for 10 test -S "$2" || stack_die "creditd did not start (${log:-$DIR/creditd.log}, $DIR/$1.out)"
}

fake_stripe_start() {
	rm -f "$DIR/stripe.port"
	start_bg fake_stripe "$DIR/fake_stripe.log" "$PY" "$ROOT/tests/fake_stripe.py" --port 0 --port-file "$DIR/stripe.port"
	wait_for 10 test -s "$DIR/stripe.port" || stack_die "fake Stripe did not start ($DIR/fake_stripe.log)"
	STRIPE_BASE="http://127.0.0.1:$(cat "$DIR/stripe.port")"
}

# The LLM providers' stand-in (tests/fake_provider.md), unless
# CREDITD_OPENAI_BASE_URL / CREDITD_ANTHROPIC_BASE_URL point elsewhere.
fake_provider_start() {
	rm -f "$DIR/provider.port"
	start_bg fake_provider "$DIR/fake_provider.log" "$PY" "$ROOT/tests/fake_provider.py" --port 0 \
		--port-file "$DIR/provider.port"
	wait_for 10 test -s "$DIR/provider.port" || stack_die "the fake provider did not start ($DIR/fake_provider.log)"
	PROVIDER_BASE="http://127.0.0.1:$(cat "$DIR/provider.port")"
}

# Every server runs in a session of its own (setsid, or start_new_session
# in the tests), so its pid is also its process group: stopping the group
# also stops what it forked (Apache's children, the creditd mod_fcgid
# spawned), and a SIGCONT first wakes a server a chaos scenario froze.
# A Galera node (galera1..3) is shut down cleanly too, so that it leaves
# the cluster instead of being left for dead by the others.
stack_stop() { # stack_stop DIR
	local dir=$1 gdir=$1/galera
	[ -f "$dir/galera_dir" ] && gdir=$(cat "$dir/galera_dir")
	[ -f "$dir/pids" ] || return 0
	while read -r name pid; do
		kill -CONT -- "-$pid" 2>/dev/null || kill -CONT "$pid" 2>/dev/null || true
		case $name in
		mariadbd) mariadb-admin --defaults-file="$dir/my.cnf" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true ;;
		galera[0-9]*)
			mariadb-admin --defaults-file="$gdir/node${name#galera}.cnf" shutdown >/dev/null 2>&1 ||
				kill "$pid" 2>/dev/null || true
			;;
		*) kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true ;;
		esac
	done <"$dir/pids"
	for _ in $(seq 1 100); do
		local alive=0
		while read -r _ pid; do
			kill -0 -- "-$pid" 2>/dev/null && alive=1
			kill -0 "$pid" 2>/dev/null && alive=1
		done <"$dir/pids"
		[ $alive = 0 ] && break
		sleep 0.1
	done
	while read -r name pid; do
		if kill -0 "$pid" 2>/dev/null || kill -0 -- "-$pid" 2>/dev/null; then
			say "dev: $name ($pid) did not stop within 10 s: killed"
		fi
		kill -KILL -- "-$pid" 2>/dev/null || true
		kill -KILL "$pid" 2>/dev/null || true
	done <"$dir/pids"
	rm -f "$dir/pids"
	if [ -f "$dir/sock_dir" ]; then
		rm -rf "$(cat "$dir/sock_dir")"
		rm -f "$dir/sock_dir"
	fi
	if [ -f "$dir/galera_dir" ]; then
		rm -rf "$gdir"
		rm -f "$dir/galera_dir"
	fi
}

# Apache's children run as www-data and must reach creditd's socket: in a
# checkout in a private directory (mode 0700, as /root is) they cannot, so
# the socket then lives in a directory of its own under /tmp (0755),
# recorded in the stack dir and removed with the stack.
socket_dir() {
	SOCK_DIR="$DIR"
	if command -v runuser >/dev/null && [ "$(id -u)" = 0 ] && ! runuser -u www-data -- test -x "$DIR" 2>/dev/null; then
		SOCK_DIR=$(mktemp -d /tmp/creditd-sock.XXXXXX)
		chmod 755 "$SOCK_DIR"
		echo "$SOCK_DIR" >"$DIR/sock_dir"
		say "dev: $DIR is not reachable by www-data (a private directory): Apache's socket is in $SOCK_DIR"
	fi
}

# stack_secrets: DB_PASSWORD, DB_OWNER_PASSWORD, STRIPE_BASE and STRIPE_KEY (the fake Stripe
# started unless CREDITD_STRIPE_API_BASE is set), WEBHOOK_SECRETS, WIDGET_SECRET, the
# providers' OPENAI_BASE, ANTHROPIC_BASE, OPENAI_KEY, ANTHROPIC_KEY (the fake provider,
# PROVIDER_BASE, started unless both CREDITD_*_BASE_URL are set).
stack_secrets() {
	DB_PASSWORD=$("$PY" -c 'import secrets;print(secrets.token_hex(12))')
	DB_OWNER_PASSWORD=$("$PY" -c 'import secrets;print(secrets.token_hex(12))')
	STRIPE_BASE=${CREDITD_STRIPE_API_BASE:-}
	if [ -z "$STRIPE_BASE" ]; then
		fake_stripe_start
		STRIPE_KEY=${CREDITD_STRIPE_SECRET_KEY:-sk_test_creditd_local}
	else
		STRIPE_KEY=${CREDITD_STRIPE_SECRET_KEY:-sk_test_123}
	fi
	PROVIDER_BASE=
	if [ -z "${CREDITD_OPENAI_BASE_URL:-}" ] || [ -z "${CREDITD_ANTHROPIC_BASE_URL:-}" ]; then
		fake_provider_start
	fi
	OPENAI_BASE=${CREDITD_OPENAI_BASE_URL:-$PROVIDER_BASE/v1}
	ANTHROPIC_BASE=${CREDITD_ANTHROPIC_BASE_URL:-$PROVIDER_BASE}
	OPENAI_KEY=${CREDITD_OPENAI_API_KEY:-sk-fake-openai}
	ANTHROPIC_KEY=${CREDITD_ANTHROPIC_API_KEY:-sk-ant-fake}
	WEBHOOK_SECRETS=${CREDITD_STRIPE_WEBHOOK_SECRETS:-whsec_$("$PY" -c 'import secrets;print(secrets.token_hex(16))')}
	WIDGET_SECRET=${CREDITD_WIDGET_TOKEN_SECRET:-$("$PY" -c 'import secrets;print(secrets.token_hex(32))')}
}

# stack_schema: the schema and the prices, through creditctl on CREDITD_CONFIG.
stack_schema() {
	"$ROOT/creditctl" migrate --sql-dir "$ROOT/sql" >/dev/null
	"$ROOT/creditctl" price import "$ROOT/etc/prices.csv" >/dev/null
}

# stack_keys: ADMIN_KEY, GUARD_KEY, READ_KEY, APP_KEY (one per scope),
# made with creditctl (the key is the last line it prints).
stack_keys() {
	ADMIN_KEY=$("$ROOT/creditctl" key create --scope admin --name demo-admin 2>/dev/null | tail -n 1)
	GUARD_KEY=$("$ROOT/creditctl" key create --scope guard --name demo-guard 2>/dev/null | tail -n 1)
	READ_KEY=$("$ROOT/creditctl" key create --scope read --name demo-read 2>/dev/null | tail -n 1)
	APP_KEY=$("$ROOT/creditctl" key create --scope app --name demo-app 2>/dev/null | tail -n 1)
}

# stack_config_append SRC CONF: SRC's lines after every key CONF has (the
# demo's CREDITD_DEMO_CONFIG_APPEND, docs/gateway.md, "The demo"): a key or a section given
# again there wins, as the config reads the last value of a key.
stack_config_append() {
	printf '\n# appended from %s (CREDITD_DEMO_CONFIG_APPEND)\n' "$1" >>"$2"
	cat "$1" >>"$2"
	# A file without a last newline still ends its line.
	[ -z "$(tail -c 1 "$2")" ] || echo >>"$2"
}

stack_start() { # uses DIR NGINX_PORT APACHE_PORT
	mkdir -p "$DIR"
	: >"$DIR/pids"
	stack_secrets
	mkdir -p "$DIR/www"
	socket_dir
	mariadb_start
	write_config
	[ -z "${STACK_CONFIG_APPEND:-}" ] || stack_config_append "$STACK_CONFIG_APPEND" "$DIR/creditd.conf"
	export CREDITD_CONFIG="$DIR/creditd.conf"
	stack_schema
	creditd_start creditd "$DIR/creditd.sock" /
	creditd_start creditd-apache "$SOCK_DIR/creditd-apache.sock" /credits
	nginx_start
	apache_start
	stack_keys
	cat >"$DIR/stack.env" <<EOF
CREDITD_URL=http://127.0.0.1:$NGINX_PORT
CREDITD_APACHE_URL=http://127.0.0.1:$APACHE_PORT/credits
CREDITD_ADMIN_KEY=$ADMIN_KEY
CREDITD_GUARD_KEY=$GUARD_KEY
CREDITD_READ_KEY=$READ_KEY
CREDITD_APP_KEY=$APP_KEY
CREDITD_WEBHOOK_SECRET=${WEBHOOK_SECRETS%%,*}
CREDITD_CONFIG=$DIR/creditd.conf
CREDITD_STRIPE_API_BASE=$STRIPE_BASE
CREDITD_PROVIDER_URL=$PROVIDER_BASE
CREDITD_STACK_DIR=$DIR
CREDITCTL=$ROOT/creditctl
EOF
}
