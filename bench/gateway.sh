#!/usr/bin/env bash
# bench/gateway.sh: the gateway's speed against calling the provider
# directly and against Portkey's open-source gateway, in one run
# (`./dev bench --gateway`; bench/README.md, "The gateway", says how to
# read it).
#
# One process tree: a private stack in a temp dir (./dev's stack_start:
# durable MariaDB, nginx, creditd with [gateway] max_streams = 1024), ONE
# local fake provider (bench/gwfake.c: whole answers at once; streams 64
# chunks 20 ms apart), and Portkey's gateway (npm @portkey-ai/gateway
# 1.15.2 from bench/portkey, started by bench/portkey/portkey.mjs with
# the fake as its custom host). bench/gwload.c drives the paths in
# turns, each call an OpenAI Chat Completions call (gpt-4o, max_tokens 64):
#   direct    to the fake
#   creditd   nginx -> creditd (a guard key, Creditd-Account: one funded
#             account per connection; the hold and the settle durable)
#   portkey   Portkey -> the fake (it holds nothing)
#   fallback  nginx -> creditd, whose first provider for the model
#             (gpt-4o-fb, the fake's gpt-4o renamed) refuses the
#             connection at once: every call falls back to the fake
#   httpfloor whole answers only: nginx -> bench/floor_db_responder, the
#             database floor's durable hold, the fake, its durable settle
#             (bench/floor.sh): what a gateway of creditd's design adds
#             here for the ledger's two durable writes alone
# Rows: time to first byte (streams: to the first SSE data byte) at 1 and
# 64 clients, whole answers and streams, the paths side by side;
# then streams held: 250, 500, 1,000 concurrent streams, direct and
# through creditd, with creditd's RSS sampled while they are held. Prints
# the table and each target PASS/FAIL (bench/gateway_report.py) and writes
# bench/results/gateway-latest.json. Stops everything it started on exit.
#
# usage: bench/gateway.sh [--duration S] [--warmup S] [--clients "1 64"]
#                         [--ramp "250 500 1000"] [--ramp-duration S]
#                         [--ramp-portkey] [--no-portkey] [--perf "ROW ..."]
#                         [--out FILE] [--keep]
# Environment: BENCH_GW_DURATION (8), BENCH_GW_WARMUP (2), BENCH_GW_CLIENTS
# ("1 64"), BENCH_GW_RAMP ("250 500 1000"), BENCH_GW_RAMP_DURATION (6),
# BENCH_GW_PERF (rows to profile), KEEP_TMP=1 (same as --keep).
# --perf names rows (e.g. "creditd-whole-c64 ramp-creditd-1000"): perf
# record -g runs on creditd during their measured window; the reports go
# to bench/results/gateway-perf-ROW.txt. Every step is bounded in time.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../dev
source "$BENCH/../dev" # defines functions only; sets ROOT and PY, cd's to ROOT
# shellcheck source=floor.sh
source "$BENCH/floor.sh"

DURATION=${BENCH_GW_DURATION:-8}
WARMUP=${BENCH_GW_WARMUP:-2}
CLIENTS=${BENCH_GW_CLIENTS:-1 64}
RAMP=${BENCH_GW_RAMP:-250 500 1000}
RAMP_DURATION=${BENCH_GW_RAMP_DURATION:-6}
PERF_ROWS=${BENCH_GW_PERF:-}
OUT="$BENCH/results/gateway-latest.json"
KEEP=${KEEP_TMP:-0}
USE_PORTKEY=1
RAMP_PORTKEY=0

# The load: the fake's stream (64 text chunks 20 ms apart), the call that
# asks for it, one account per connection.
CHUNKS=64
INTERVAL_MS=20
STALL_MS=100         # a gap between two events above 5x the interval: a stall
MAX_STREAMS=1024     # creditd's [gateway] max_streams for the bench stack
ACCOUNTS=1024
PREFIX=gw-
ACCOUNT_MICROS=100000000 # 100 EUR each: about 140,000 of these calls
CALL_TIMEOUT_MS=15000
MODEL=gpt-4o
PORTKEY_VERSION=1.15.2

usage() {
	sed -n '/^# usage:/,/^# to bench\/results/p' "$BENCH/gateway.sh" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--warmup) WARMUP=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--ramp) RAMP=$2; shift 2 ;;
	--ramp-duration) RAMP_DURATION=$2; shift 2 ;;
	--ramp-portkey) RAMP_PORTKEY=1; shift ;;
	--no-portkey) USE_PORTKEY=0; shift ;;
	--perf) PERF_ROWS=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	*) usage ;;
	esac
done
for v in "$DURATION" "$WARMUP" "$RAMP_DURATION" $CLIENTS $RAMP; do
	case $v in '' | *[!0-9]*) die "bench: not a whole number: '$v'" ;; esac
done
[ "$DURATION" -ge 1 ] && [ "$RAMP_DURATION" -ge 1 ] || die "bench: durations are at least 1 s"
for c in $CLIENTS; do [ "$c" -ge 1 ] && [ "$c" -le 512 ] || die "bench: clients must be 1-512"; done
for n in $RAMP; do [ "$n" -ge 1 ] && [ "$n" -le "$MAX_STREAMS" ] || die "bench: ramp steps must be 1-$MAX_STREAMS"; done
read -ra CLIENT_LIST <<<"$CLIENTS"
read -ra RAMP_LIST <<<"$RAMP"
for tool in cc curl nginx mariadb; do
	command -v "$tool" >/dev/null || die "bench: $tool is missing (./dev bench installs it)"
done
[ -z "$PERF_ROWS" ] || command -v perf >/dev/null || die "bench: --perf needs perf (linux-perf)"

# A stream row's calls started in the window are waited for (they last
# about CHUNKS x INTERVAL_MS); the 1-client stream rows run twice as long
# to have a dozen streams.
STREAM_S=$(((CHUNKS * INTERVAL_MS + 999) / 1000))
GRACE=$((STREAM_S + 3))
PATHS=3
[ "$USE_PORTKEY" = 0 ] || PATHS=4
ESTIMATE=$((45 + ${#CLIENT_LIST[@]} * PATHS * (2 * (WARMUP + DURATION + 1) + STREAM_S) + PATHS * (DURATION + 2)))
ESTIMATE=$((ESTIMATE + ${#CLIENT_LIST[@]} * (WARMUP + DURATION + 1)))	# the HTTP floor's whole rows
ESTIMATE=$((ESTIMATE + ${#RAMP_LIST[@]} * (2 + RAMP_PORTKEY) * (RAMP_DURATION + 2 * STREAM_S + 4)))
if [ "$ESTIMATE" -gt 570 ]; then
	say "bench: warning: about $ESTIMATE s, over the 10-minute budget; lower --duration or the ramp"
fi
START_EPOCH=$(date +%s)

# ---- tools ----

build_tools() {
	local flags="-O2 -g -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wshadow -Wformat=2 -Werror"
	# shellcheck disable=SC2086
	cc $flags -o "$BENCH/gwfake" "$BENCH/gwfake.c" || die "bench: cannot build gwfake"
	# shellcheck disable=SC2086
	cc $flags -o "$BENCH/gwload" "$BENCH/gwload.c" || die "bench: cannot build gwload"
	floor_db_build "$flags"
}

# portkey_install: bench/portkey/node_modules from its lock file (npm ci,
# bounded); PORTKEY_NOTE says why not when it fails (the Portkey rows are
# then skipped, never the run).
PORTKEY_NOTE=""
portkey_install() {
	local p="$BENCH/portkey"
	[ "$USE_PORTKEY" = 1 ] || { PORTKEY_NOTE="not run (--no-portkey)"; return 0; }
	if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
		USE_PORTKEY=0
		PORTKEY_NOTE="skipped: node or npm is missing"
		return 0
	fi
	if [ ! -f "$p/node_modules/@portkey-ai/gateway/build/start-server.js" ] ||
		[ "$p/package-lock.json" -nt "$p/node_modules/.package-lock.json" ]; then
		say "bench: installing Portkey's gateway $PORTKEY_VERSION (npm ci in bench/portkey)"
		if ! (cd "$p" && timeout -k 5 300 npm ci --no-audit --no-fund --loglevel=error >"/tmp/gwbench-npm.$$.log" 2>&1); then
			USE_PORTKEY=0
			PORTKEY_NOTE="skipped: npm ci failed in bench/portkey ($(tail -n 1 "/tmp/gwbench-npm.$$.log" | cut -c1-160))"
		fi
		rm -f "/tmp/gwbench-npm.$$.log"
	fi
}

# ---- the stack ----

pid_of() { awk -v n="$1" '$1 == n { print $2 }' "$DIR/pids" | tail -n 1; }

# The stack's creditd config, plus what the bench needs: calls in flight
# up to MAX_STREAMS (DESIGN §12's default is 512); the fallback path's two
# providers of gpt-4o-fb, the first on a port nothing listens on.
eval "stack_write_config() $(declare -f write_config | tail -n +2)"
write_config() {
	stack_write_config "$@"
	local file=${1:-$DIR/creditd.conf}
	sed -i "s/^\[gateway\]\$/[gateway]\nmax_streams = $MAX_STREAMS/" "$file"
	grep -q "^max_streams = $MAX_STREAMS\$" "$file" || die "bench: no [gateway] section in $file"
	printf '\n[provider refusing]\nbase_url = http://127.0.0.1:%s/v1\napi_key = sk-fake-openai\nmodels = %s-fb=%s\n' \
		"$DEAD_PORT" "$MODEL" "$MODEL" >>"$file"
	printf '\n[provider fake]\nbase_url = http://127.0.0.1:%s/v1\napi_key = sk-fake-openai\nmodels = %s-fb=%s\n' \
		"$FAKE_PORT" "$MODEL" "$MODEL" >>"$file"
}

# cpu_ticks: creditd's and mariadbd's CPU so far (utime + stime, clock
# ticks), for a row's CPU a call (load-independent where times are not).
cpu_ticks() {
	local p t out=""
	for p in "$CREDITD_PID" "$(pid_of mariadbd)"; do
		t=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0)
		out="$out ${t:-0}"
	done
	echo "$(getconf CLK_TCK)$out"
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

fund() {
	timeout 120 mariadb --defaults-file="$DIR/my.cnf" creditd -N -e "SET @accounts = $ACCOUNTS, @prefix = '$PREFIX',
		@bonus_micros = $ACCOUNT_MICROS; SOURCE $BENCH/fund.sql;" >"$DIR/fund.out" || die "bench: funding failed"
	[ "$(tail -n 1 "$DIR/fund.out")" = "$ACCOUNTS" ] || die "bench: funded $(cat "$DIR/fund.out") accounts"
}

# httpfloor: the gateway's floor (bench/floor.sh, floor_db_responder with
# --upstream): the database floor's authorize CALL, the fake, the floor's
# settle CALL, the fake's answer; two durable commits around the provider
# and nothing of creditd's work. Its hold and charge are fixed (the
# accounts hold 100 EUR each).
httpfloor() {
	MYSQL_PWD=$DB_OWNER_PASSWORD timeout 60 mariadb --defaults-file="$DIR/my.cnf" --user=creditd_owner creditd \
		<"$BENCH/floor.sql" >"$DIR/floor-sql.out" 2>&1 || die "bench: cannot create the floor's procedures ($DIR/floor-sql.out)"
	httpfloor_start "$HTTPFLOOR_PORT" "${CREDITD_THREADS:-$(sed -n 's/^threads *= *//p' "$DIR/creditd.conf")}" --model "$MODEL" \
		--hold-micros 5000 --cost-micros 1000 --input-tokens 13 --output-tokens 64 \
		--upstream "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" --upstream-key sk-fake-openai
}

portkey_start() {
	[ "$USE_PORTKEY" = 1 ] || return 0
	start_bg portkey "$DIR/portkey.log" node "$BENCH/portkey/portkey.mjs" --headless "--port=$PORTKEY_PORT"
	if ! wait_for 30 curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$PORTKEY_PORT/"; then
		USE_PORTKEY=0
		PORTKEY_NOTE="skipped: Portkey did not start in 30 s ($(tail -n 1 "$DIR/portkey.log" | cut -c1-160))"
		say "bench: $PORTKEY_NOTE"
	fi
}

# ---- the paths ----

url_of() {
	case $1 in
	direct) echo "http://127.0.0.1:$FAKE_PORT/v1/chat/completions" ;;
	creditd | fallback) echo "$CREDITD_URL/openai/v1/chat/completions" ;;
	httpfloor) echo "http://127.0.0.1:$HTTPFLOOR_PORT/openai/v1/chat/completions" ;;
	portkey) echo "http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions" ;;
	esac
}

# headers_of PATH: gwload's header arguments for PATH, one a line.
headers_of() {
	case $1 in
	direct) printf '%s\n' -H "Authorization: Bearer sk-fake-openai" ;;
	creditd | fallback | httpfloor) printf '%s\n' -H "Authorization: Bearer $CREDITD_GUARD_KEY" --conn-header "Creditd-Account: $PREFIX{n}" \
		--conn-mod "$ACCOUNTS" ;;
	portkey) printf '%s\n' -H "Authorization: Bearer sk-fake-openai" -H "x-portkey-provider: openai" \
		-H "x-portkey-custom-host: http://127.0.0.1:$FAKE_PORT/v1" ;;
	esac
}

# body_of PATH KIND: the request body's file.
body_of() {
	if [ "$1" = fallback ]; then echo "$DIR/$2-fb.json"; else echo "$DIR/$2.json"; fi
}

# check PATH KIND: one call by curl, bounded; "ok" or why not.
check() {
	local path=$1 kind=$2 out="$DIR/check-$1-$2" args=() code
	mapfile -t args < <(headers_of "$path" | sed -e '/^--conn-mod$/,+1d' -e 's/^--conn-header$/-H/' -e "s/{n}/00000/")
	code=$(curl -sS -N --max-time 15 -o "$out.body" -D "$out.head" -w '%{http_code}' "$(url_of "$path")" \
		-H 'Content-Type: application/json' "${args[@]}" --data-binary "@$(body_of "$path" "$kind")" 2>"$out.err") || true
	if [ "$code" != 200 ]; then
		echo "HTTP ${code:-none}: $(head -c 200 "$out.body" 2>/dev/null | tr '\n' ' ')$(head -c 200 "$out.err")"
	elif [ "$kind" = stream ] && ! grep -q '^data: \[DONE\]' "$out.body"; then
		echo "the stream did not end with data: [DONE]"
	elif [ "$kind" = stream ] && [ "$(grep -c '^data: ' "$out.body")" -lt $((CHUNKS + 4)) ]; then
		echo "$(grep -c '^data: ' "$out.body") events, fewer than $((CHUNKS + 4))"
	elif [ "$path" = creditd ] && [ "$kind" = whole ] && ! grep -qi '^Creditd-Charged-Micros: [1-9]' "$out.head"; then
		echo "no Creditd-Charged-Micros in the answer"
	elif [ "$path" = fallback ] && ! grep -qi '^Creditd-Provider: fake' "$out.head"; then
		echo "not answered by the second provider (Creditd-Provider)"
	else
		echo ok
	fi
}

# perf_start NAME WAIT_S SECONDS: perf record -g on creditd for the row's
# window (in the background; perf_finish waits for it).
PERF_PID=""
perf_start() {
	case " $PERF_ROWS " in *" $1 "*) ;; *) return 0 ;; esac
	mkdir -p "$DIR/perf"
	(sleep "$2" && timeout -k 5 $(($3 + 30)) perf record -q -g -p "$(pid_of creditd)" -o "$DIR/perf/$1.data" \
		-- sleep "$3" >"$DIR/perf/$1.out" 2>&1) &
	PERF_PID=$!
}

perf_finish() {
	[ -n "$PERF_PID" ] || return 0
	wait "$PERF_PID" || say "bench: perf record failed for $1 ($DIR/perf/$1.out)"
	PERF_PID=""
	local txt="$BENCH/results/gateway-perf-$1.txt"
	mkdir -p "$BENCH/results"
	{
		echo "# perf record -g -p creditd during $1 (the row's measured window): by symbol, self time"
		timeout 120 perf report -i "$DIR/perf/$1.data" --no-children --sort dso,sym --stdio -g none \
			--percent-limit 0.5 2>/dev/null | grep -v '^$'
		echo
		echo "# by shared object, then call chains (children) above 2 %"
		timeout 120 perf report -i "$DIR/perf/$1.data" --no-children --sort dso --stdio -g none 2>/dev/null |
			grep -v '^$' | grep -v '^#' | head -20
		timeout 120 perf report -i "$DIR/perf/$1.data" --children --stdio -g caller,0.5,callee,function \
			--percent-limit 2 2>/dev/null | grep -v '^$' | head -400
	} >"$txt" || true
	say "bench: perf of $1 in $txt"
}

# row NAME PATH KIND CLIENTS WARMUP DURATION [GWLOAD ARGS...]: one
# measured row into DIR/points/NAME.json.
row() {
	local name=$1 path=$2 kind=$3 c=$4 w=$5 d=$6 args=() grace=3 spread=0
	shift 6
	mapfile -t args < <(headers_of "$path")
	if [ "$kind" = stream ]; then
		args+=(--stream --min-events $((CHUNKS + 4)) --stall-ms "$STALL_MS")
		grace=$GRACE
		# Many streams start spread over one stream's length, as a
		# gateway's users' do, not all in the same millisecond.
		[ "$c" -lt 100 ] || spread=$((CHUNKS * INTERVAL_MS))
	fi
	mkdir -p "$DIR/points"
	say "bench: $name: $c clients, $kind, warm-up ${w}s, then ${d}s"
	echo "{\"name\": \"$name\", \"path\": \"$path\", \"kind\": \"$kind\", \"clients\": $c, \"warmup_s\": $w, \"duration_s\": $d}" \
		>"$DIR/points/$name.meta"
	[ "$path" != creditd ] || curl -sf --max-time 5 "$CREDITD_URL/metrics" >"$DIR/points/$name.metrics.before" || true
	[ "$path" != creditd ] || cpu_ticks >"$DIR/points/$name.cpu.before"
	perf_start "$name" "$w" "$d"
	timeout -k 5 $((w + d + grace + 30)) "$BENCH/gwload" --url "$(url_of "$path")" --body "$(body_of "$path" "$kind")" \
		--clients "$c" --warmup "$w" --duration "$d" --timeout-ms "$CALL_TIMEOUT_MS" --grace "$grace" \
		--spread-ms "$spread" "${args[@]}" "$@" >"$DIR/points/$name.json" 2>"$DIR/points/$name.err" ||
		say "bench: $name: the load generator failed ($DIR/points/$name.err)"
	[ "$path" != creditd ] || cpu_ticks >"$DIR/points/$name.cpu.after"
	[ "$path" != creditd ] || curl -sf --max-time 5 "$CREDITD_URL/metrics" >"$DIR/points/$name.metrics.after" || true
	perf_finish "$name"
}

# ---- main ----

build_tools
portkey_install
# 1,000 streams through nginx and creditd: two sockets each in nginx and in
# creditd, one in the load generator and one in the fake.
[ "$(ulimit -n)" -ge 8192 ] || ulimit -n 65536 2>/dev/null || say "bench: warning: ulimit -n is $(ulimit -n)"
DIR=$(mktemp -d /tmp/creditd-gwbench.XXXXXX)
chmod 755 "$DIR"
# shellcheck disable=SC2034 # NGINX_PORT and APACHE_PORT: for stack_start
read -r NGINX_PORT APACHE_PORT FAKE_PORT PORTKEY_PORT DEAD_PORT HTTPFLOOR_PORT <<<"$(free_ports 6)"
cleanup() {
	stack_stop "$DIR"
	if [ "$KEEP" = 1 ]; then say "bench: kept $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "bench: gateway bench, about $ESTIMATE s; a private stack in $DIR"
# creditd's provider is the bench's fake (stack_secrets starts no other).
export CREDITD_OPENAI_BASE_URL="http://127.0.0.1:$FAKE_PORT/v1" CREDITD_ANTHROPIC_BASE_URL="http://127.0.0.1:$FAKE_PORT"
export CREDITD_OPENAI_API_KEY=sk-fake-openai
stack_start
# shellcheck disable=SC1091
. "$DIR/stack.env"
# The Apache half of the stack takes no part: stopped, to leave its CPU.
for name in apache2 creditd-apache; do
	pid=$(pid_of "$name")
	[ -z "$pid" ] || kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
done
start_bg gwfake "$DIR/gwfake.log" "$BENCH/gwfake" --port "$FAKE_PORT" --port-file "$DIR/fake.port" \
	--chunks "$CHUNKS" --interval-ms "$INTERVAL_MS"
wait_for 10 test -s "$DIR/fake.port" || stack_die "bench: the fake provider did not start ($DIR/gwfake.log)"
portkey_start
say "bench: funding $ACCOUNTS accounts ($PREFIX*)"
fund
httpfloor
CREDITD_PID=$(pid_of creditd)

cat >"$DIR/whole.json" <<EOF
{"model":"$MODEL","messages":[{"role":"user","content":"Say hello in a few words."}],"max_tokens":$CHUNKS}
EOF
cat >"$DIR/stream.json" <<EOF
{"model":"$MODEL","messages":[{"role":"user","content":"Say hello in a few words."}],"max_tokens":$CHUNKS,"stream":true,"stream_options":{"include_usage":true}}
EOF
sed "s/\"$MODEL\"/\"$MODEL-fb\"/" "$DIR/whole.json" >"$DIR/whole-fb.json"
sed "s/\"$MODEL\"/\"$MODEL-fb\"/" "$DIR/stream.json" >"$DIR/stream-fb.json"
# The fallback path's model, priced as the one it is sent as.
timeout 60 "$ROOT/creditctl" price set "$MODEL-fb" input=2500000 output=10000000 max_output_tokens=16384 >/dev/null ||
	die "bench: cannot price $MODEL-fb"

# creditd idle: started, no gateway call yet (no gateway thread, no
# provider connection).
sleep 1
IDLE_RSS=$(rss_kib "$CREDITD_PID")
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)

PATH_LIST=(direct creditd fallback)
[ "$USE_PORTKEY" = 0 ] || PATH_LIST+=(portkey)
PATH_LIST+=(httpfloor)	# whole answers only: the floor of the 1.5x target
: >"$DIR/checks"
for path in "${PATH_LIST[@]}"; do
	for kind in whole stream; do
		[ "$path" != httpfloor ] || [ "$kind" = whole ] || continue
		result=$(check "$path" "$kind")
		echo "$path $kind $result" >>"$DIR/checks"
		[ "$result" = ok ] || say "bench: check: $path $kind: $result"
	done
done
# Portkey's streams, if they still fail (PLATFORM-NOTES: as installed they
# did; portkey.mjs carries the fix): its stream rows are skipped and the
# streams compared against the direct path only.
PORTKEY_STREAMS=$USE_PORTKEY
if [ "$USE_PORTKEY" = 1 ] && ! grep -q '^portkey stream ok$' "$DIR/checks"; then
	PORTKEY_STREAMS=0
	say "bench: Portkey's streams fail even with the fix: streams are compared with the direct path only"
fi
METRICS_BEFORE="$DIR/metrics.before"
curl -sf --max-time 5 "$CREDITD_URL/metrics" >"$METRICS_BEFORE" || true

# Time to first byte: the paths in turns, so that the machine's drift
# falls on all of them.
for c in "${CLIENT_LIST[@]}"; do
	for kind in whole stream; do
		d=$DURATION
		[ "$kind" = whole ] || [ "$c" -gt 1 ] || d=$((DURATION * 2))
		for path in "${PATH_LIST[@]}"; do
			[ "$path" != portkey ] || [ "$kind" = whole ] || [ "$PORTKEY_STREAMS" = 1 ] || continue
			[ "$path" != httpfloor ] || [ "$kind" = whole ] || continue
			row "$path-$kind-c$c" "$path" "$kind" "$c" "$WARMUP" "$d"
		done
	done
done

# Streams held: each step direct, then through creditd (its RSS sampled
# while they are held), then Portkey if asked.
RAMP_RSS_BEFORE=$(rss_kib "$CREDITD_PID")
for n in "${RAMP_LIST[@]}"; do
	row "ramp-direct-$n" direct stream "$n" "$STREAM_S" "$RAMP_DURATION"
	row "ramp-creditd-$n" creditd stream "$n" "$STREAM_S" "$RAMP_DURATION" --rss-pid "$CREDITD_PID"
	if [ "$RAMP_PORTKEY" = 1 ] && [ "$PORTKEY_STREAMS" = 1 ]; then
		row "ramp-portkey-$n" portkey stream "$n" "$STREAM_S" "$RAMP_DURATION" --rss-pid "$(pid_of portkey)"
	fi
done
sleep 2
RSS_AFTER=$(rss_kib "$CREDITD_PID")
# What the streams left behind in creditd once they ended: its threads,
# open files and idle connections to the provider.
THREADS_AFTER=$(awk '/^Threads:/ { print $2 }' "/proc/$CREDITD_PID/status" 2>/dev/null || echo 0)
FDS_AFTER=$(find "/proc/$CREDITD_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
PROVIDER_CONNS_AFTER=$(ss -tnp state established "( dport = :$FAKE_PORT )" 2>/dev/null | grep -c "pid=$CREDITD_PID," || true)
NOFILE_SOFT=$(awk '/^Max open files/ { print $4 }' "/proc/$CREDITD_PID/limits" 2>/dev/null || echo 0)

curl -sf --max-time 5 "$CREDITD_URL/metrics" >"$DIR/metrics.after" || true
say "bench: checking the ledger (creditctl verify)"
timeout -k 5 90 "$ROOT/creditctl" verify >"$DIR/verify.out" 2>&1 || true
grep -E ' (warn|error): ' "$DIR/creditd.log" >"$DIR/creditd-errors.txt" || true
cp "/proc/$CREDITD_PID/status" "$DIR/creditd.status" 2>/dev/null || true
grep -iE 'error|alert|crit' "$DIR/nginx-error.log" >"$DIR/nginx-errors.txt" 2>/dev/null || true

cat >"$DIR/meta.json" <<EOF
{"started_epoch": $START_EPOCH, "finished_epoch": $(date +%s), "duration_s": $DURATION, "warmup_s": $WARMUP,
 "clients": [$(IFS=,; echo "${CLIENT_LIST[*]}")], "ramp": [$(IFS=,; echo "${RAMP_LIST[*]}")],
 "ramp_duration_s": $RAMP_DURATION, "chunks": $CHUNKS, "interval_ms": $INTERVAL_MS, "stall_ms": $STALL_MS,
 "max_streams": $MAX_STREAMS, "accounts": $ACCOUNTS, "model": "$MODEL", "call_timeout_ms": $CALL_TIMEOUT_MS,
 "idle_rss_kib": $IDLE_RSS, "ramp_rss_before_kib": $RAMP_RSS_BEFORE, "rss_after_kib": $RSS_AFTER,
 "threads_after": $THREADS_AFTER, "fds_after": $FDS_AFTER, "provider_connections_after": $PROVIDER_CONNS_AFTER,
 "nofile_soft": "$NOFILE_SOFT",
 "portkey": $USE_PORTKEY, "portkey_streams": $PORTKEY_STREAMS, "portkey_version": "$PORTKEY_VERSION",
 "portkey_note": "$PORTKEY_NOTE", "cores": $(nproc), "load_before": "$LOAD_BEFORE",
 "load_after": "$(cut -d' ' -f1-3 /proc/loadavg)", "creditd_threads": $(sed -n 's/^threads *= *//p' "$DIR/creditd.conf"),
 "node": "$(node --version 2>/dev/null || echo none)", "nginx": "$(nginx -v 2>&1 | sed 's/.*nginx\///')",
 "creditd_commit": "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"}
EOF
mkdir -p "$(dirname "$OUT")"
"$PY" "$BENCH/gateway_report.py" --dir "$DIR" --out "$OUT"
say "bench: took $(($(date +%s) - START_EPOCH)) s; results in $OUT"
