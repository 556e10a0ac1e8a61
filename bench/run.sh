#!/usr/bin/env bash
# bench/run.sh: creditd against the limits of its own stack, side by side in
# one run (bench/README.md says how to read the result).
#
# Starts a private stack in a temp dir with ./dev's stack_start (the test
# configs, durable MariaDB), a floor responder behind a second nginx of the
# same shape, funds 10,000 accounts plus one hot account, creates the
# database floor's procedures (bench/floor.sql), then for each client count
# measures eight rows with wrk (and bench/rawdb for the raw DB rows and the
# database floor): a warm-up, then a measured run. Then, with creditd's stack
# stopped, the seed design's PHP-FPM port (../shared/peers/seed001-php from
# the repository root) runs its own throughput part on its own private stack
# for the yardstick row. Prints a table and writes
# bench/results/latest.json. Stops everything it started on exit.
#
# usage: bench/run.sh [--duration S] [--warmup S] [--clients "1 16 64"]
#                     [--accounts N] [--out FILE] [--keep]
#                     [--rawdb-sql auto|statements|scripts|batch] [--rawdb-also "VERSIONS"]
#                     [--peer-dir DIR]
# Environment: BENCH_DURATION, BENCH_WARMUP, BENCH_CLIENTS, BENCH_ACCOUNTS,
# BENCH_RAWDB_SQL, BENCH_RAWDB_ALSO, BENCH_RAWDB_BATCH (operations per raw DB
# transaction, default 1), BENCH_PEER_DIR (empty or missing: no peer row),
# KEEP_TMP=1 (same as --keep: keep the temp dir with every raw output).
# --rawdb-sql auto runs rawdb with the version of creditd's SQL the creditd
# binary carries (see bench/rawdb.c); the database floor row always runs
# rawdb --sql call. --rawdb-also adds a raw DB spread row per version named
# (statements, scripts or batch: row rawdb_VERSION) at each client count,
# to compare versions in one run.
# Usually run as `./dev bench`, which installs and builds first. Every step
# is bounded in time (wrk and rawdb stop by themselves; timeouts on top).
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../dev
source "$BENCH/../dev" # defines functions only; sets ROOT and PY, cd's to ROOT
# shellcheck source=floor.sh
source "$BENCH/floor.sh"

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
ACCOUNTS=${BENCH_ACCOUNTS:-10000}
OUT="$BENCH/results/latest.json"
KEEP=${KEEP_TMP:-0}
RAWDB_SQL=${BENCH_RAWDB_SQL:-auto}
RAWDB_ALSO=${BENCH_RAWDB_ALSO:-}
RAWDB_BATCH=${BENCH_RAWDB_BATCH:-1}
# The seed design ported to PHP-FPM + MariaDB: the yardstick row (see
# bench/README.md). Set but empty: no peer row.
PEER_DIR=${BENCH_PEER_DIR-$ROOT/../shared/peers/seed001-php}

# The load: one gpt-4o call of 1,000 input tokens, at most 500 output tokens
# held, 200 used.
MODEL=gpt-4o
INPUT_TOKENS=1000
MAX_OUTPUT_TOKENS=500
OUTPUT_TOKENS=200
PREFIX=acct-
HOT_ACCOUNT=hot
HOT_GRANT_MICROS=1000000000000 # 10^12, the largest grant creditd takes: over 10^8 pairs of this load

usage() {
	sed -n '/^# usage:/,/^# is bounded/p' "$BENCH/run.sh" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--accounts) ACCOUNTS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--rawdb-sql) RAWDB_SQL=$2; shift 2 ;;
	--rawdb-also) RAWDB_ALSO=$2; shift 2 ;;
	--peer-dir) PEER_DIR=$2; shift 2 ;;
	*) usage ;;
	esac
done
for v in "$DURATION" "$WARMUP" "$ACCOUNTS" $CLIENTS; do
	case $v in '' | *[!0-9]*) die "bench: not a whole number: '$v'" ;; esac
done
[ "$DURATION" -ge 1 ] && [ "$ACCOUNTS" -ge 1 ] && [ "$ACCOUNTS" -le 99999 ] || die "bench: out of range"
for c in $CLIENTS; do [ "$c" -ge 1 ] && [ "$c" -le 512 ] || die "bench: clients must be 1-512"; done
if [ "$RAWDB_SQL" = auto ]; then
	# creditd keeps its SQL as string literals: the binary says which version
	# it runs (newest first: two CALLs per batch with one parameter per list,
	# then scripts, then statements). A binary with the batch CALLs of one
	# JSON document each is older than rawdb's batch version: rebuild it.
	RAWDB_SQL=statements
	if grep -qaF "CALL cd_batch_read(?, ?, ?" "$ROOT/creditd"; then
		RAWDB_SQL=batch
	elif grep -qaF "CALL cd_batch_read(?)" "$ROOT/creditd"; then
		die "bench: creditd passes its batch CALLs one JSON document; rawdb speaks the newer lists (rebuild creditd)"
	elif grep -qa "RETURNING id, account_id, request_id" "$ROOT/creditd"; then
		RAWDB_SQL=scripts
	fi
fi
case $RAWDB_SQL in statements | scripts | batch) ;; *) die "bench: --rawdb-sql is auto, statements, scripts or batch" ;; esac
read -ra ALSO_LIST <<<"$RAWDB_ALSO"
for v in "${ALSO_LIST[@]}"; do
	case $v in statements | scripts | batch) ;; *) die "bench: --rawdb-also names statements, scripts or batch" ;; esac
done
read -ra CLIENT_LIST <<<"$CLIENTS"
POINTS=$((${#CLIENT_LIST[@]} * (8 + ${#ALSO_LIST[@]})))
ESTIMATE=$((POINTS * (WARMUP + DURATION + 1) + 30))
# The peer warms up at least 1 s (its wrk does not take 0 s); it runs its
# authorize-only script and its pairs at every client count, plus about 45 s
# to start its stack, fund its accounts and check its ledger.
PEER_WARMUP=$WARMUP
[ "$PEER_WARMUP" -ge 1 ] || PEER_WARMUP=1
PEER_ESTIMATE=0
if [ -n "$PEER_DIR" ] && [ -f "$PEER_DIR/run.sh" ]; then
	PEER_ESTIMATE=$((${#CLIENT_LIST[@]} * 2 * (PEER_WARMUP + DURATION + 1) + 45))
	ESTIMATE=$((ESTIMATE + PEER_ESTIMATE))
fi
if [ "$ESTIMATE" -gt 570 ]; then
	say "bench: warning: about $ESTIMATE s, over the 10-minute budget; lower --duration or --clients"
fi
for tool in wrk cc pkg-config curl nginx mariadb; do
	command -v "$tool" >/dev/null || die "bench: $tool is missing (./dev bench installs it)"
done

START_EPOCH=$(date +%s)
RUN_TAG=$(date +%H%M%S)$$

# ---- tools ----

build_tools() {
	local flags libs
	flags="-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 -Werror $(pkg-config --cflags fcgi libmariadb)"
	libs="$(pkg-config --libs fcgi libmariadb) -pthread"
	# shellcheck disable=SC2086
	cc $flags -o "$BENCH/floor_responder" "$BENCH/floor_responder.c" "$BENCH/floor_serve.c" $libs ||
		die "bench: cannot build floor_responder"
	floor_db_build "$flags"
	# shellcheck disable=SC2086
	cc $flags -o "$BENCH/rawdb" "$BENCH/rawdb.c" "$BENCH/rawdb_conn.c" "$BENCH/rawdb_tx.c" "$BENCH/rawdb_batch.c" $libs || die "bench: cannot build rawdb"
}

# ---- stack ----

pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$DIR/pids" | tail -n 1; }

floor_start() {
	start_bg floor_responder "$DIR/floor.out" "$BENCH/floor_responder" "$DIR/floor.sock" "$THREADS"
	wait_for 10 test -S "$DIR/floor.sock" || die "bench: floor responder did not start ($DIR/floor.out)"
	floor_nginx_start "$DIR/floor.sock" "$FLOOR_PORT" floor-nginx	# bench/floor.sh
	wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$FLOOR_PORT/" ||
		die "bench: floor nginx did not start ($DIR/floor-nginx-error.log)"
}

# api METHOD PATH KEY BODY: prints the response body; dies unless 2xx.
api() {
	local out="$DIR/api.out" code
	code=$(curl -sS --max-time 10 -o "$out" -w '%{http_code}' -X "$1" "$CREDITD_URL$2" -H "Authorization: Bearer $3" \
		-H 'Content-Type: application/json' -d "$4") || die "bench: $1 $2: curl failed"
	case $code in 2??) cat "$out" ;; *) die "bench: $1 $2 answered $code: $(head -c 300 "$out")" ;; esac
}

json_field() { "$PY" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

fund() {
	local bonus
	bonus=$(sed -n 's/^signup_bonus_micros *= *//p' "$DIR/creditd.conf")
	timeout 120 mariadb --defaults-file="$DIR/my.cnf" creditd -N -e "SET @accounts = $ACCOUNTS, @prefix = '$PREFIX',
		@bonus_micros = ${bonus:-10000000}; SOURCE $BENCH/fund.sql;" >"$DIR/fund.out" ||
		die "bench: funding failed"
	[ "$(tail -n 1 "$DIR/fund.out")" = "$ACCOUNTS" ] || die "bench: funded $(cat "$DIR/fund.out") accounts"
	api POST /v1/accounts "$CREDITD_ADMIN_KEY" "{\"id\":\"$HOT_ACCOUNT\",\"kind\":\"user\"}" >/dev/null
	api POST "/v1/accounts/$HOT_ACCOUNT/grants" "$CREDITD_ADMIN_KEY" \
		"{\"amount_micros\":$HOT_GRANT_MICROS,\"source\":\"promo\",\"description\":\"bench hot account\"}" >/dev/null
}

# The database floor's procedures (bench/floor.sql), made by the schema's
# owner as creditctl migrate makes creditd's: the runtime user rawdb
# connects as may EXECUTE but not CREATE ROUTINE. A failure fails only
# that row.
FLOOR_SQL=0
floor_procedures() {
	if MYSQL_PWD=$DB_OWNER_PASSWORD timeout 60 mariadb --defaults-file="$DIR/my.cnf" --user=creditd_owner creditd \
		<"$BENCH/floor.sql" >"$DIR/floor-sql.out" 2>&1; then
		FLOOR_SQL=1
	else
		say "bench: could not create the database floor's procedures ($DIR/floor-sql.out); rows D and 1D will fail"
	fi
}

# One authorize + settle through creditd: checks the guard works and gives
# rawdb the hold and the charge creditd computes for this load.
calibrate() {
	local auth hold settle
	auth=$(api POST /v1/guard/authorize "$CREDITD_GUARD_KEY" "{\"account\":\"${PREFIX}00000\",\"model\":\"$MODEL\",
		\"input_tokens\":$INPUT_TOKENS,\"max_output_tokens\":$MAX_OUTPUT_TOKENS,\"request_id\":\"calibrate-$RUN_TAG\"}")
	hold=$(json_field hold_id <<<"$auth")
	HOLD_MICROS=$(json_field amount_micros <<<"$auth")
	settle=$(api POST /v1/guard/settle "$CREDITD_GUARD_KEY" \
		"{\"hold_id\":\"$hold\",\"input_tokens\":$INPUT_TOKENS,\"output_tokens\":$OUTPUT_TOKENS}")
	COST_MICROS=$(json_field charged_micros <<<"$settle")
}

# ---- measuring ----

# snap POINT_DIR WHEN: counters of every process a row may load, and creditd's metrics.
snap() {
	local p=$1 when=$2 name pid
	for name in creditd floor_responder floor_db_responder mariadbd; do
		pid=$(pid_of "$name")
		cat "/proc/$pid/stat" >"$p/$name.stat.$when" 2>/dev/null || true
	done
	curl -sf --max-time 5 "$CREDITD_URL/metrics" >"$p/metrics.$when" || true
	date +%s.%N >"$p/time.$when"
}

# wrk_point ROW CLIENTS URL SCRIPT [SCRIPT ARGS...]
wrk_point() {
	local row=$1 c=$2 url=$3 script=$4 threads p
	shift 4
	p="$DIR/points/c$c-$row"
	mkdir -p "$p"
	threads=$c
	# Plain GETs: two wrk threads are enough and cost the cores less. The
	# pairs need one connection per thread (see pairs.lua).
	case $row in floor | healthz) [ "$c" -lt 2 ] || threads=2 ;; esac
	echo "$row $c $threads" >"$p/point"
	say "bench: c=$c $row: warm-up ${WARMUP}s, then ${DURATION}s"
	if [ "$WARMUP" -gt 0 ]; then
		timeout -k 5 $((WARMUP + 20)) wrk -t "$threads" -c "$c" -d "${WARMUP}s" --timeout 5s -s "$script" "$url" -- "$@" "w$RUN_TAG-c$c-$row" >"$p/warmup.out" 2>&1 ||
			say "bench: warm-up of c=$c $row failed ($p/warmup.out)"
	fi
	snap "$p" before
	timeout -k 5 $((DURATION + 20)) wrk -t "$threads" -c "$c" -d "${DURATION}s" --timeout 5s -s "$script" "$url" -- "$@" "m$RUN_TAG-c$c-$row" >"$p/wrk.out" 2>&1 ||
		say "bench: c=$c $row: wrk failed ($p/wrk.out)"
	snap "$p" after
}

# raw_point ROW CLIENTS MODE SQL: rawdb with --mode MODE --sql SQL.
raw_point() {
	local row=$1 c=$2 mode=$3 sql=$4 p
	p="$DIR/points/c$c-$row"
	mkdir -p "$p"
	echo "$row $c $c" >"$p/point"
	say "bench: c=$c $row: warm-up ${WARMUP}s, then ${DURATION}s"
	local args=(--socket "$DIR/mysql.sock" --user creditd --database creditd --threads "$c" --mode "$mode"
		--accounts "$ACCOUNTS" --prefix "$PREFIX" --hot-account "$HOT_ACCOUNT" --hold-micros "$HOLD_MICROS"
		--cost-micros "$COST_MICROS" --model "$MODEL" --input-tokens "$INPUT_TOKENS"
		--output-tokens "$OUTPUT_TOKENS" --max-output-tokens "$MAX_OUTPUT_TOKENS" --sql "$sql" --warmup 0)
	case $sql in scripts | batch) args+=(--batch "$RAWDB_BATCH") ;; esac
	if [ "$WARMUP" -gt 0 ]; then
		RAWDB_PASSWORD=$DB_PASSWORD timeout -k 5 $((WARMUP + 30)) "$BENCH/rawdb" "${args[@]}" --duration "$WARMUP" --tag "rw$RUN_TAG-$c-$row" \
			>"$p/warmup.out" 2>&1 || say "bench: warm-up of c=$c $row failed ($p/warmup.out)"
	fi
	snap "$p" before
	RAWDB_PASSWORD=$DB_PASSWORD timeout -k 5 $((DURATION + 30)) "$BENCH/rawdb" "${args[@]}" --duration "$DURATION" --tag "rm$RUN_TAG-$c-$row" \
		>"$p/rawdb.json" 2>"$p/rawdb.err" || say "bench: c=$c $row: rawdb reported errors ($p/rawdb.err)"
	snap "$p" after
}

# ---- the peer: the seed design ported to PHP-FPM ----
# Its run.sh starts its own MariaDB, php-fpm and nginx under PEER_RUN_DIR and
# stops them on exit; the bench only points it at free ports and a temp dir,
# bounds it in time and checks afterwards that nothing of it is left.

PEER_PID=""
PEER_STARTED=0

# peer_leftovers: "PID COMMAND" of every process whose command line, working
# directory or open files lie under the peer's runtime dir.
peer_leftovers() {
	[ -n "${PEER_RUN:-}" ] || return 0
	"$PY" - "$PEER_RUN" <<'PY'
import os, sys
run = sys.argv[1].rstrip("/")
skip = {os.getpid(), os.getppid()}
for pid in filter(str.isdigit, os.listdir("/proc")):
    if int(pid) in skip:
        continue
    try:
        cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
    hit = run in cmd
    if not hit:
        links = []
        try:
            links.append(os.readlink("/proc/%s/cwd" % pid))
            for fd in os.listdir("/proc/%s/fd" % pid):
                links.append(os.readlink("/proc/%s/fd/%s" % (pid, fd)))
        except OSError:
            pass
        hit = any(l == run or l.startswith(run + "/") for l in links)
    if hit:
        print(pid, cmd[:200])
PY
}

# peer_sweep: stops (by pid) whatever the peer left running, and records it.
peer_sweep() {
	local left pid
	left=$(peer_leftovers)
	[ -n "$left" ] || return 0
	printf '%s\n' "$left" >>"$PEER_WORK/leftovers.txt"
	say "bench: the peer left $(wc -l <<<"$left") processes running; stopping them:"
	say "$left"
	while read -r pid _; do kill -TERM "$pid" 2>/dev/null || true; done <<<"$left"
	for _ in $(seq 1 150); do
		[ -n "$(peer_leftovers)" ] || return 0
		sleep 0.2
	done
	left=$(peer_leftovers)
	[ -n "$left" ] || return 0
	while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$left"
}

# peer_stop: on exit (also interrupted): the peer's harness stops its stack
# on TERM; timeout -k kills it if it does not; then the sweep.
peer_stop() {
	[ "$PEER_STARTED" = 1 ] || return 0
	if [ -n "$PEER_PID" ] && kill -0 "$PEER_PID" 2>/dev/null; then
		say "bench: stopping the peer"
		kill -TERM "$PEER_PID" 2>/dev/null || true
		wait "$PEER_PID" 2>/dev/null || true
	fi
	PEER_PID=""
	peer_sweep || true
}

# peer_run: the peer's throughput part ("run.sh bench"), after creditd's
# rows with creditd's stack stopped. Never fails the bench: the report says
# skipped or failed. Writes $PEER_WORK/status ("ok", "skipped REASON",
# "failed REASON").
peer_run() {
	local status=0 budget http_port db_port fpm last
	PEER_WORK=$DIR/peer
	PEER_RUN=$PEER_WORK/run
	mkdir -p "$PEER_WORK"
	if [ -z "$PEER_DIR" ] || [ ! -f "$PEER_DIR/run.sh" ]; then
		echo "skipped: the seed design's PHP port is not there (${PEER_DIR:-no peer dir given})" >"$PEER_WORK/status"
		say "bench: peer row skipped: no seed design PHP port at ${PEER_DIR:-(BENCH_PEER_DIR is empty)}"
		return 0
	fi
	fpm=$(command -v php-fpm 2>/dev/null || find /usr/sbin -maxdepth 1 -name 'php-fpm*' 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$fpm" ] || ! php -m 2>/dev/null | grep -qi '^pdo_mysql$'; then
		echo "skipped: php-fpm or php-mysql is missing (./dev bench installs them)" >"$PEER_WORK/status"
		say "bench: peer row skipped: php-fpm or php-mysql is missing (./dev bench installs them)"
		return 0
	fi
	http_port=$(free_port)
	db_port=$(free_port)
	while [ "$db_port" = "$http_port" ]; do db_port=$(free_port); done
	budget=$((PEER_ESTIMATE * 2 + 180))
	say "bench: seed design in PHP-FPM: its own stack, pairs and authorizes at c=${CLIENT_LIST[*]}," \
		"warm-up ${PEER_WARMUP}s, then ${DURATION}s each (about $PEER_ESTIMATE s)"
	PEER_STARTED=1
	PEER_RUN_DIR=$PEER_RUN PEER_RESULTS_DIR=$PEER_WORK/results PEER_HTTP_PORT=$http_port PEER_DB_PORT=$db_port \
		PEER_WRK_CONNS="${CLIENT_LIST[*]}" PEER_WRK_DURATION=$DURATION PEER_WRK_WARMUP=$PEER_WARMUP \
		timeout -k 60 "$budget" bash "$PEER_DIR/run.sh" bench >"$PEER_WORK/peer.out" 2>&1 </dev/null &
	PEER_PID=$!
	wait "$PEER_PID" || status=$?
	PEER_PID=""
	peer_sweep
	if [ -n "$(peer_leftovers)" ]; then
		say "bench: WARNING: processes of the peer are still running: $(peer_leftovers | cut -d' ' -f1 | tr '\n' ' ')"
	elif [ -s "$PEER_WORK/leftovers.txt" ]; then
		say "bench: the peer's stack is stopped (the bench stopped what it had left)"
	else
		say "bench: the peer's stack is stopped; nothing of it left running"
	fi
	if [ "$status" = 0 ] && [ -s "$PEER_WORK/results/bench.json" ]; then
		echo ok >"$PEER_WORK/status"
	else
		[ "$status" = 124 ] && last="timed out after $budget s" ||
			last="exit $status: $(grep -v '^[[:space:]]*$' "$PEER_WORK/peer.out" | tail -n 1 | cut -c1-200)"
		echo "failed: $last" >"$PEER_WORK/status"
		say "bench: the peer failed ($last; log: $PEER_WORK/peer.out)"
	fi
}

# ---- main ----

build_tools
DIR=$(mktemp -d /tmp/creditd-bench.XXXXXX)
chmod 755 "$DIR"
# Distinct ports below the ephemeral range (free_ports), as the gateway bench's.
read -r NGINX_PORT APACHE_PORT FLOOR_PORT HTTPFLOOR_PORT <<<"$(free_ports 4)"
cleanup() {
	peer_stop
	stack_stop "$DIR"
	if [ "$KEEP" = 1 ]; then say "bench: kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "bench: $POINTS points$([ "$PEER_ESTIMATE" = 0 ] || echo " and the PHP-FPM peer"), about $ESTIMATE s; starting a private stack in $DIR"
stack_start
# shellcheck disable=SC1091
. "$DIR/stack.env"
export BENCH_GUARD_KEY=$CREDITD_GUARD_KEY
# creditd's worker threads (CREDITD_THREADS overrides the config): the
# floor responder gets as many.
THREADS=${CREDITD_THREADS:-$(sed -n 's/^threads *= *//p' "$DIR/creditd.conf")}
floor_start
say "bench: funding $ACCOUNTS accounts and the hot account"
fund
floor_procedures
calibrate
# Row 1D's responder (bench/floor.sh), after the floor procedures and the
# calibration: it holds and charges what rawdb does (without the
# procedures, no responder: row 1D fails as row D does).
[ "$FLOOR_SQL" = 0 ] || httpfloor_start "$HTTPFLOOR_PORT" "$THREADS" --model "$MODEL" \
	--hold-micros "$HOLD_MICROS" --cost-micros "$COST_MICROS" --input-tokens "$INPUT_TOKENS" \
	--output-tokens "$OUTPUT_TOKENS"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

PAIR_ARGS=("$ACCOUNTS" "$PREFIX" "$HOT_ACCOUNT" "$MODEL" "$INPUT_TOKENS" "$MAX_OUTPUT_TOKENS" "$OUTPUT_TOKENS")
for c in "${CLIENT_LIST[@]}"; do
	wrk_point floor "$c" "http://127.0.0.1:$FLOOR_PORT/" "$BENCH/get.lua"
	wrk_point healthz "$c" "$CREDITD_URL/healthz" "$BENCH/get.lua"
	wrk_point spread "$c" "$CREDITD_URL" "$BENCH/pairs.lua" spread "${PAIR_ARGS[@]}"
	wrk_point hot "$c" "$CREDITD_URL" "$BENCH/pairs.lua" hot "${PAIR_ARGS[@]}"
	raw_point rawdb "$c" spread "$RAWDB_SQL"
	raw_point rawdb_hot "$c" hot "$RAWDB_SQL"
	raw_point dbfloor "$c" spread call
	wrk_point httpfloor "$c" "http://127.0.0.1:$HTTPFLOOR_PORT" "$BENCH/pairs.lua" spread "${PAIR_ARGS[@]}"
	for v in "${ALSO_LIST[@]}"; do
		raw_point "rawdb_$v" "$c" spread "$v"
	done
done

say "bench: checking the ledger (creditctl verify)"
timeout -k 5 90 "$ROOT/creditctl" verify >"$DIR/verify.out" 2>&1 || true
# The last warnings and errors creditd logged, for the report.
grep -E ' (warn|error): ' "$DIR/creditd.log" | tail -n 20 >"$DIR/creditd-errors.txt" || true
cp "/proc/$(pid_of creditd)/status" "$DIR/creditd.status"
cp "/proc/$(pid_of floor_responder)/status" "$DIR/floor_responder.status"

# The yardstick: the seed design in PHP-FPM, on the machine creditd's stack
# leaves free, right after creditd's rows.
stack_stop "$DIR"
peer_run

cat >"$DIR/meta.json" <<EOF
{"started_epoch": $START_EPOCH, "finished_epoch": $(date +%s), "duration_s": $DURATION, "warmup_s": $WARMUP,
 "clients": [$(IFS=,; echo "${CLIENT_LIST[*]}")], "accounts": $ACCOUNTS, "hot_grant_micros": $HOT_GRANT_MICROS,
 "model": "$MODEL", "input_tokens": $INPUT_TOKENS, "max_output_tokens": $MAX_OUTPUT_TOKENS,
 "output_tokens": $OUTPUT_TOKENS, "hold_micros": $HOLD_MICROS, "cost_micros": $COST_MICROS,
 "creditd_threads": $THREADS, "rawdb_sql": "$RAWDB_SQL", "rawdb_batch": $RAWDB_BATCH, "cores": $(nproc), "load_before": "$LOAD_BEFORE",
 "clock_ticks": $(getconf CLK_TCK), "creditd_binary": "$ROOT/creditd", "peer_warmup_s": $PEER_WARMUP}
EOF
mkdir -p "$(dirname "$OUT")"
"$PY" "$BENCH/report.py" --dir "$DIR" --out "$OUT"
say "bench: took $(($(date +%s) - START_EPOCH)) s; results in $OUT"
