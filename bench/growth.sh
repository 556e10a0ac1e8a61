#!/usr/bin/env bash
# bench/growth.sh: what a grown ledger costs against an empty one, in one
# run (`./dev bench --growth`; bench/README.md, "Growth", says how to read
# it). Not part of ./dev check: the big load alone takes tens of minutes.
#
# Starts a private stack in a temp dir (./dev's stack_start, durable
# MariaDB with a buffer pool of BENCH_GROWTH_POOL), then:
#   1. loads, with bench/growth.sql, a small ledger into a schema of its
#      own (creditd_small: 1,000 accounts, a month of calls; its heavy
#      account has a month of the heavy account's calls), served by a
#      second creditd behind the same nginx, and the big ledger into
#      creditd's (1M accounts, a year of calls: about 21M journal and usage
#      rows; the heavy account has 150,000 calls), timed;
#   2. once InnoDB has written the loads out, measures each ledger in turns,
#      three passes each (small, big, small, big, small, big), so that this
#      machine's drift falls on both: authorize+settle pairs at c=16 spread
#      over its accounts and on its heavy account, the heavy account's first
#      transactions page and a page at a cursor near its oldest row (~12,500
#      and ~150,000 rows deep), its usage report of the last 31 days by day
#      and by model; then `creditctl verify` on each, and their sizes;
#   3. restarts creditd with [retention] holds_days = 30 over the big
#      ledger's 60 days of settled holds and measures the spread pairs again
#      while the sweeper purges the older half: a guard call's p99 during a
#      large purge, against step 2's.
# Both creditd run with [retention] holds_days = 0 (never) in steps 1 and 2,
# so no purge runs under those measurements. Prints the table and the
# ratios (bench/growth_report.py: each ledger's best pass), writes
# bench/results/growth.json. Stops everything it started on exit.
#
# usage: bench/growth.sh [--accounts N] [--rounds N] [--heavy-per-round N]
#                        [--duration S] [--warmup S] [--out FILE] [--keep]
# Environment: BENCH_GROWTH_POOL (innodb_buffer_pool_size, default 6G),
# KEEP_TMP=1 (same as --keep).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../dev
source "$BENCH/../dev" # defines functions only; sets ROOT and PY, cd's to ROOT

ACCOUNTS=1000000
ROUNDS=48          # calls of an active account (one account in five) over the year
HEAVY_PER_ROUND=3125 # the heavy account's calls a round: 150,000 over the year
DURATION=15
WARMUP=3
CLIENTS=16
OUT="$BENCH/results/growth.json"
KEEP=${KEEP_TMP:-0}
POOL=${BENCH_GROWTH_POOL:-6G}
SMALL_ACCOUNTS=1000
MODEL=gpt-4o

usage() {
	sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--accounts) ACCOUNTS=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--heavy-per-round) HEAVY_PER_ROUND=$2; shift 2 ;;
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) usage ;;
	esac
done
for v in "$ACCOUNTS" "$ROUNDS" "$HEAVY_PER_ROUND" "$DURATION" "$WARMUP"; do
	case $v in '' | *[!0-9]*) usage ;; esac
done
[ "$ACCOUNTS" -le 9999999 ] || die "bench: at most 9,999,999 accounts (seven digits)"
# The small ledger's heavy account has the big one's month of calls: a
# month is 1/12 of the big ledger's 48 rounds, so 4 rounds over 30 days.
SMALL_ROUNDS=$(((ROUNDS + 11) / 12))

DIR=$(mktemp -d /tmp/creditd-growth.XXXXXX)
chmod 755 "$DIR"
NGINX_PORT=$(free_port)
APACHE_PORT=$(free_port)
while [ "$APACHE_PORT" = "$NGINX_PORT" ]; do APACHE_PORT=$(free_port); done
cleanup() {
	stack_stop "$DIR"
	if [ "$KEEP" = 1 ]; then say "bench: kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
START_EPOCH=$(date +%s)
RUN_TAG=$START_EPOCH
mkdir -p "$DIR/points"

db() { timeout -k 5 "${DB_TIMEOUT:-600}" mariadb --defaults-file="$DIR/my.cnf" "${SCHEMA:-creditd}" "$@"; }

# set_holds_days N: creditd's [retention] holds_days, and the sweep interval
# of a production config (5 s, where the test stack's is 1 s), then
# creditd (nginx's) restarted on them.
set_holds_days() {
	sed -i -e '/^\[retention\]/,$d' -e 's/^sweep_interval_seconds = .*/sweep_interval_seconds = 5/' "$DIR/creditd.conf"
	printf '[retention]\nholds_days = %s\n' "$1" >>"$DIR/creditd.conf"
	local pid
	pid=$(pid_of creditd)
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		sed -i "/^creditd $pid\$/d" "$DIR/pids"
	fi
	creditd_start creditd "$DIR/creditd.sock" /
	wait_for 10 curl -sf -o /dev/null "$CREDITD_URL/healthz" || die "bench: creditd did not come back"
}

# load PHASE PREFIX HEAVY ACCOUNTS ROUNDS SPAN_DAYS PROCEDURE: bench/growth.sql's
# load (growth_load into creditd, growth_load_small into creditd_small),
# timed into DIR/PHASE-load.json.
load() {
	local t0 out
	t0=$(date +%s.%N)
	out=$(DB_TIMEOUT=7200 db -N -e "CALL creditd_growth.$7($4, '$2', '$3', 5, $5, $HEAVY_PER_ROUND, $6, 60, 250000)") ||
		die "bench: the $1 load failed"
	"$PY" -c 'import json,sys; a,c,h=sys.argv[3].split(); print(json.dumps({"seconds": round(float(sys.argv[2]) - float(sys.argv[1]), 1), "accounts": int(a), "calls": int(c), "holds": int(h)}))' \
		"$t0" "$(date +%s.%N)" "$out" >"$DIR/$1-load.json"
	say "bench: $1 ledger loaded: $(cat "$DIR/$1-load.json")"
}

# point PHASE ROW SCRIPT URL [ARGS...]: a wrk warm-up, then a measured run
# into DIR/points/PHASE-ROW.out. Pairs need a connection per thread
# (pairs.lua); reads run 4 connections on 2 threads.
point() {
	local phase=$1 row=$2 script=$3 url=$4 t=$CLIENTS c=$CLIENTS
	shift 4
	case $script in *get.lua) t=2 c=4 ;; esac
	say "bench: $phase $row: warm-up ${WARMUP}s, then ${DURATION}s"
	[ "$WARMUP" = 0 ] || timeout -k 5 $((WARMUP + 30)) wrk -t "$t" -c "$c" -d "${WARMUP}s" --timeout 10s -s "$script" \
		"$url" -- "$@" "w$RUN_TAG-$phase-$row" >"$DIR/points/$phase-$row.warmup" 2>&1 || true
	timeout -k 5 $((DURATION + 30)) wrk -t "$t" -c "$c" -d "${DURATION}s" --timeout 10s -s "$script" \
		"$url" -- "$@" "m$RUN_TAG-$phase-$row" >"$DIR/points/$phase-$row.out" 2>&1 ||
		say "bench: $phase $row: wrk failed ($DIR/points/$phase-$row.out)"
}

# settle: waits (at most 15 min) until InnoDB has written out the pages a
# load dirtied, so a measurement is not taken against the load's flushing.
settle() {
	local dirty waited=0
	db -e "SET GLOBAL innodb_max_dirty_pages_pct = 0, GLOBAL innodb_io_capacity = 2000"
	while :; do
		dirty=$(db -N -e "SHOW GLOBAL STATUS LIKE 'Innodb_buffer_pool_pages_dirty'" | cut -f2)
		[ "$dirty" -gt 1000 ] && [ $waited -lt 900 ] || break
		sleep 5
		waited=$((waited + 5))
	done
	db -e "SET GLOBAL innodb_max_dirty_pages_pct = 90, GLOBAL innodb_io_capacity = 200"
	say "bench: the load's pages written out after ${waited}s ($dirty dirty pages left)"
}

# The two ledgers, each row measured in turns (small, big, small, big,
# small, big: rows PHASE-ROW, PHASE.2-ROW, PHASE.3-ROW), so that the drift
# of these machines (15-30 % from one minute to the next) falls on both;
# the report takes each ledger's best pass. The small ledger is in a schema
# of its own (creditd_small), served by its own creditd behind the same
# nginx (SMALL_URL): as small as a new deployment's, measured beside the
# big one.
measure_both() {
	settle
	local pass sfx
	for pass in 1 2 3; do
		sfx=""
		[ $pass = 1 ] || sfx=".$pass"
		SCHEMA=creditd_small URL=$SMALL_URL BENCH_GUARD_KEY=$SMALL_GUARD_KEY BENCH_READ_KEY=$SMALL_READ_KEY \
			measure_pass "small$sfx" s sheavy "$SMALL_ACCOUNTS"
		SCHEMA=creditd URL=$CREDITD_URL BENCH_GUARD_KEY=$CREDITD_GUARD_KEY BENCH_READ_KEY=$CREDITD_READ_KEY \
			measure_pass "big$sfx" g heavy "$ACCOUNTS"
	done
}

measure_pass() {
	local phase=$1 prefix=$2 heavy=$3 accounts=$4 deep
	local pairs=("$MODEL" 1000 500 200)
	point "$phase" pairs_spread "$BENCH/pairs.lua" "$URL" spread "$accounts" "$prefix" "$heavy" "${pairs[@]}" \
		"$RUN_TAG" 7
	point "$phase" pairs_heavy "$BENCH/pairs.lua" "$URL" hot "$accounts" "$prefix" "$heavy" "${pairs[@]}" \
		"$RUN_TAG" 7
	point "$phase" page_first "$BENCH/get.lua" "$URL/v1/accounts/$heavy/transactions?limit=50"
	# A cursor 100 rows after the heavy account's oldest: the deepest page
	# a client paging back through its history reads.
	deep=$(db -N -e "SELECT j.id FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = '$heavy'
		ORDER BY j.account_id, j.id LIMIT 1 OFFSET 100")
	db -N -e "SELECT COUNT(*) FROM journal j JOIN accounts a ON a.id = j.account_id WHERE a.ext_id = '$heavy'
		AND j.id >= $deep" >"$DIR/$phase-deep-rows"
	point "$phase" page_deep "$BENCH/get.lua" "$URL/v1/accounts/$heavy/transactions?limit=50&cursor=txn_$deep"
	point "$phase" report_day "$BENCH/get.lua" "$URL/v1/accounts/$heavy/usage?group_by=day"
	point "$phase" report_model "$BENCH/get.lua" "$URL/v1/accounts/$heavy/usage?group_by=model"
}

# measure_verify PHASE SCHEMA CONFIG: creditctl verify timed, and the
# schema's size.
measure_verify() {
	local phase=$1 SCHEMA=$2
	say "bench: $phase: creditctl verify"
	local t0
	t0=$(date +%s.%N)
	CREDITD_CONFIG=$3 timeout -k 5 3600 "$ROOT/creditctl" verify --progress >"$DIR/$phase-verify.out" 2>"$DIR/$phase-verify.err" || true
	"$PY" -c 'import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))' "$t0" "$(date +%s.%N)" \
		>"$DIR/$phase-verify.seconds"
	say "bench: $phase: verify took $(cat "$DIR/$phase-verify.seconds") s: $(tail -n 1 "$DIR/$phase-verify.out")"
	db -N -e "SELECT (SELECT COUNT(*) FROM accounts), (SELECT COUNT(*) FROM journal),
		(SELECT COUNT(*) FROM usage_records), (SELECT COUNT(*) FROM holds),
		(SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = '$SCHEMA')" \
		>"$DIR/$phase-size"
	du -sb "$DIR/db" | cut -f1 >"$DIR/$phase-du"
}


# small_stack: the small ledger's schema (its users' rights, migrations,
# prices, a guard and a read key) and its creditd on the same config but
# that schema, behind nginx on SMALL_PORT (NGINX_EXTRA, set before
# stack_start).
small_stack() {
	db -e "CREATE DATABASE creditd_small; GRANT ALL ON creditd_small.* TO 'creditd_owner'@'localhost';
		GRANT SELECT, INSERT, UPDATE, DELETE, EXECUTE ON creditd_small.* TO 'creditd'@'localhost'" ||
		die "bench: could not create the small ledger's schema"
	(umask 077 && sed -e 's/^name = creditd$/name = creditd_small/' -e "s|^log = .*|log = $DIR/creditd-small.log|" \
		"$DIR/creditd.conf" >"$DIR/small.conf")
	grep -q '^name = creditd_small$' "$DIR/small.conf" || die "bench: no 'name = creditd' line in creditd.conf"
	CREDITD_CONFIG=$DIR/small.conf "$ROOT/creditctl" migrate --sql-dir "$ROOT/sql" >/dev/null &&
		CREDITD_CONFIG=$DIR/small.conf "$ROOT/creditctl" price import "$ROOT/etc/prices.csv" >/dev/null ||
		die "bench: could not migrate the small ledger"
	SMALL_GUARD_KEY=$(CREDITD_CONFIG=$DIR/small.conf "$ROOT/creditctl" key create --scope guard --name small-guard 2>/dev/null | tail -n 1)
	SMALL_READ_KEY=$(CREDITD_CONFIG=$DIR/small.conf "$ROOT/creditctl" key create --scope read --name small-read 2>/dev/null | tail -n 1)
	creditd_start creditd-small "$DIR/small.sock" / "$DIR/small.conf" "$DIR/creditd-small.log"
	SMALL_URL=http://127.0.0.1:$SMALL_PORT
	wait_for 10 curl -sf -o /dev/null "$SMALL_URL/healthz" || die "bench: the small ledger's creditd did not answer"
}

SMALL_PORT=$(free_port)
while [ "$SMALL_PORT" = "$NGINX_PORT" ] || [ "$SMALL_PORT" = "$APACHE_PORT" ]; do SMALL_PORT=$(free_port); done
sed "s/^fastcgi_pass creditd;/fastcgi_pass creditd_small;/" "$ROOT/nginx/creditd-fastcgi.conf" >"$DIR/creditd-fastcgi-small.conf"
grep -q '^fastcgi_pass creditd_small;' "$DIR/creditd-fastcgi-small.conf" || die "bench: no 'fastcgi_pass creditd;' line"
NGINX_EXTRA="    upstream creditd_small {
        server unix:$DIR/small.sock;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:$SMALL_PORT;
        location / {
            include $DIR/creditd-fastcgi-small.conf;
            error_page 502 504 = @creditd_unavailable;
        }
        include $ROOT/nginx/creditd-errors.conf;
    }
"
say "bench: growth: a ledger of $ACCOUNTS accounts and $((ROUNDS * (ACCOUNTS / 5 + HEAVY_PER_ROUND))) calls against an empty one; private stack in $DIR"
export MARIADB_EXTRA_CNF="innodb_buffer_pool_size=$POOL
innodb_log_file_size=1G"
stack_start
# shellcheck disable=SC1091
. "$DIR/stack.env"
export BENCH_GUARD_KEY=$CREDITD_GUARD_KEY BENCH_READ_KEY=$CREDITD_READ_KEY
# Only nginx's creditd is measured: Apache's would sweep and purge beside
# it on its own settings.
kill -TERM "$(pid_of creditd-apache)" 2>/dev/null || true
set_holds_days 0
small_stack
db <"$BENCH/growth.sql" || die "bench: could not create the loader (bench/growth.sql)"
# The same loader for creditd_small's tables.
sed -e 's/creditd\.\([a-z_]\)/creditd_small.\1/g' -e 's/growth_load\b/growth_load_small/g' "$BENCH/growth.sql" | db ||
	die "bench: could not create the small ledger's loader"

SCHEMA=creditd_small load small s sheavy "$SMALL_ACCOUNTS" "$SMALL_ROUNDS" 30 growth_load_small
load big g heavy "$ACCOUNTS" "$ROUNDS" 365 growth_load
measure_both
measure_verify small creditd_small "$DIR/small.conf"
measure_verify big creditd "$DIR/creditd.conf"
# The hot statements' plans on the big ledger (bench/README.md shows them).
db -t -e "SET @heavy = 'heavy'; SOURCE $BENCH/explain.sql;" >"$DIR/explain.txt" 2>&1 ||
	say "bench: explain.sql failed ($DIR/explain.txt)"
cp "$DIR/explain.txt" "${OUT%.json}-explain.txt" 2>/dev/null || true

# A guard call's p99 while the sweeper purges the big ledger's settled
# holds older than 30 days (the newer half of its 60 days of them).
set_holds_days 30
purged_holds() {
	curl -sf "$CREDITD_URL/metrics" | sed -n 's/^creditd_purged_rows_total{table="holds"} //p'
}
# Measured once the sweeper is purging (its first sweep comes a sweep
# interval after the start).
purging() { [ "$(purged_holds)" -gt 0 ]; }
wait_for 30 purging || say "bench: no hold purged 30 s after creditd restarted with holds_days = 30"
purged_holds >"$DIR/purge-before"
point purge pairs_spread "$BENCH/pairs.lua" "$CREDITD_URL" spread "$ACCOUNTS" g heavy "$MODEL" 1000 500 200 "$RUN_TAG" 7
purged_holds >"$DIR/purge-after"
grep -E ' (warn|error): ' "$DIR/creditd.log" | tail -n 20 >"$DIR/creditd-errors.txt" || true

cat >"$DIR/meta.json" <<EOF
{"started_epoch": $START_EPOCH, "finished_epoch": $(date +%s), "duration_s": $DURATION, "warmup_s": $WARMUP,
 "clients": $CLIENTS, "accounts": $ACCOUNTS, "rounds": $ROUNDS, "heavy_per_round": $HEAVY_PER_ROUND,
 "small_accounts": $SMALL_ACCOUNTS, "small_rounds": $SMALL_ROUNDS, "buffer_pool": "$POOL", "cores": $(nproc),
 "memory_kib": $(awk '/MemTotal/ {print $2}' /proc/meminfo)}
EOF
mkdir -p "$(dirname "$OUT")"
"$PY" "$BENCH/growth_report.py" --dir "$DIR" --out "$OUT"
say "bench: growth took $(($(date +%s) - START_EPOCH)) s; results in $OUT"
