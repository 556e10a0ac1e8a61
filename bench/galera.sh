#!/usr/bin/env bash
# bench/galera.sh: creditd scaled out on Galera (`./dev bench --galera`).
#
# Starts ./dev's Galera stack in a temp dir (three nodes on loopback, two
# creditd behind one nginx upstream), funds 10,000 accounts plus one hot
# account, then measures authorize + settle pairs through the upstream with
# wrk (bench/pairs.lua), for each client count, with the two creditd
# configured three ways (restarted between them):
#   3 nodes   nodes = all three: each account's writes on its own node
#   1 node    nodes = node 1 only: every write on one node (the others
#             replicate it), today's single-server shape
#   unrouted  creditd 1 on node 1, creditd 2 on node 2: one account's
#             writes through two nodes, what routing exists to avoid
# rows: spread (random accounts) and hot (one account) for each. Prints a
# table and writes bench/results/galera.json. On a 2-core machine three
# nodes share the same two cores as one: the point is the shape (the hot
# account does not collapse with routing), not a speed-up.
#
# usage: bench/galera.sh [--duration S] [--clients "16 64"] [--keep]
# Environment: BENCH_DURATION (10), BENCH_WARMUP (2), BENCH_CLIENTS ("1 16 64"),
# BENCH_ACCOUNTS (10000), KEEP_TMP=1.
set -euo pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../dev
source "$BENCH/../dev" # defines functions only; sets ROOT and PY, cd's to ROOT

DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
CLIENTS=${BENCH_CLIENTS:-1 16 64}
ACCOUNTS=${BENCH_ACCOUNTS:-10000}
OUT="$BENCH/results/galera.json"
MODEL=gpt-4o
PREFIX=acct-
HOT_ACCOUNT=hot

while [ $# -gt 0 ]; do
	case $1 in
	--duration) DURATION=$2; shift 2 ;;
	--clients) CLIENTS=$2; shift 2 ;;
	--keep) export KEEP_TMP=1; shift ;;
	*) sed -n '/^# usage:/,/^# BENCH_ACCOUNTS/p' "$BENCH/galera.sh" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
	esac
done

galera_private_stack
# shellcheck disable=SC1091 # written by galera_stack_start
. "$DIR/stack.env"
NODE1_CNF=$(sed -n 's/^GALERA_NODE1_CNF=//p' "$DIR/galera.env")
NODE1=127.0.0.1:$(sed -n "s/^GALERA_NODE1_PORT=//p" "$DIR/galera.env")
NODE2=127.0.0.1:$(sed -n "s/^GALERA_NODE2_PORT=//p" "$DIR/galera.env")
export BENCH_GUARD_KEY=$CREDITD_GUARD_KEY

say "bench: funding $ACCOUNTS accounts and the hot account"
timeout 120 mariadb --defaults-file="$NODE1_CNF" creditd -N -e "SET @accounts = $ACCOUNTS, @prefix = '$PREFIX',
	@bonus_micros = 10000000; SOURCE $BENCH/fund.sql;" >"$DIR/fund.out" || die "bench: funding failed"
curl -sf -o /dev/null -X POST "$CREDITD_URL/v1/accounts" -H "Authorization: Bearer $CREDITD_ADMIN_KEY" \
	-H 'Content-Type: application/json' -d "{\"id\":\"$HOT_ACCOUNT\",\"kind\":\"user\"}" || die "bench: hot account"
curl -sf -o /dev/null -X POST "$CREDITD_URL/v1/accounts/$HOT_ACCOUNT/grants" -H "Authorization: Bearer $CREDITD_ADMIN_KEY" \
	-H 'Content-Type: application/json' -d '{"amount_micros":1000000000000,"source":"promo"}' || die "bench: hot grant"

# config NAME NODES: a copy of the stack's creditd config with other nodes
# (it holds secrets: 0600, as creditd wants it).
config() {
	(umask 077 && sed "s/^nodes = .*/nodes = $2/" "$CREDITD_CONFIG" >"$DIR/creditd-$1.conf")
}
config three "$(sed -n 's/^GALERA_NODES=//p' "$DIR/galera.env")"
config one "$NODE1"
config node2 "$NODE2"

# instances CONF_G1 CONF_G2: the two creditd again, with these configs.
instances() {
	local name pid
	for name in creditd-g1 creditd-g2; do
		pid=$(pid_of "$name")
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	done
	creditd_start creditd-g1 "$DIR/creditd-g1.sock" / "$1" "$DIR/creditd-g1.log"
	creditd_start creditd-g2 "$DIR/creditd-g2.sock" / "$2" "$DIR/creditd-g2.log"
	wait_for 10 curl -sf -o /dev/null "$CREDITD_G1_URL/healthz" || die "bench: creditd 1 did not come back"
	wait_for 10 curl -sf -o /dev/null "$CREDITD_G2_URL/healthz" || die "bench: creditd 2 did not come back"
}

RESULTS="$DIR/results.jsonl"
: >"$RESULTS"
# point SHAPE ROW CLIENTS: a warm-up, then one measured wrk run; its
# BENCH_JSON line (pairs.lua) with the shape, row and client count.
point() {
	local shape=$1 row=$2 c=$3 out="$DIR/$1-$2-c$3.out"
	local args=("$row" "$ACCOUNTS" "$PREFIX" "$HOT_ACCOUNT" "$MODEL" 1000 500 200)
	say "bench: $shape $row c=$c"
	timeout -k 5 $((WARMUP + 20)) wrk -t "$c" -c "$c" -d "${WARMUP}s" --timeout 5s -s "$BENCH/pairs.lua" \
		"$CREDITD_URL" -- "${args[@]}" "w-$shape-$row-$c" >/dev/null 2>&1 || true
	timeout -k 5 $((DURATION + 20)) wrk -t "$c" -c "$c" -d "${DURATION}s" --timeout 5s -s "$BENCH/pairs.lua" \
		"$CREDITD_URL" -- "${args[@]}" "m-$shape-$row-$c" >"$out" 2>&1 || say "bench: wrk failed ($out)"
	sed -n 's/^BENCH_JSON //p' "$out" | "$PY" -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    r.update(shape=sys.argv[1], row=sys.argv[2], clients=int(sys.argv[3]))
    print(json.dumps(r))' "$shape" "$row" "$c" >>"$RESULTS"
}

for shape in three one unrouted; do
	case $shape in
	three) instances "$DIR/creditd-three.conf" "$DIR/creditd-three.conf" ;;
	one) instances "$DIR/creditd-one.conf" "$DIR/creditd-one.conf" ;;
	unrouted) instances "$DIR/creditd-one.conf" "$DIR/creditd-node2.conf" ;;
	esac
	for c in $CLIENTS; do
		point "$shape" spread "$c"
		point "$shape" hot "$c"
	done
	# The ledger after each shape: every invariant must hold.
	say "bench: $shape: creditctl verify"
	CREDITD_CONFIG="$DIR/creditd-three.conf" timeout 300 "$ROOT/creditctl" verify >"$DIR/verify-$shape.out" 2>&1 ||
		die "bench: $shape: creditctl verify found violations ($DIR/verify-$shape.out)"
done

mkdir -p "$(dirname "$OUT")"
cp "$RESULTS" "${OUT%.json}.jsonl"
"$PY" - "$RESULTS" "$OUT" "$DURATION" <<'PYEOF'
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1])]
dur = float(sys.argv[3])
for r in rows:
    r["pairs_per_s"] = round(r["pairs"] / (r["duration_us"] / 1e6), 1) if r["duration_us"] else 0
    r["failed"] = r["authorize_failed"] + r["settle_failed"] + r["errors"]
clients = sorted({r["clients"] for r in rows})


def cell(r):
    if r is None:
        return "-"
    return "%.0f" % r["pairs_per_s"] + (" (%d failed)" % r["failed"] if r["failed"] else "")


print("pairs/s (authorize + settle) through one nginx upstream of two creditd, %g s per point" % dur)
print("%-9s %-7s" % ("shape", "row") + "".join("%20s" % ("c=%d" % c) for c in clients)
      + "   p99 ms at c=%d" % clients[-1])
for shape in ("three", "one", "unrouted"):
    for row in ("spread", "hot"):
        pts = {r["clients"]: r for r in rows if r["shape"] == shape and r["row"] == row}
        last = pts.get(clients[-1])
        print("%-9s %-7s" % (shape, row) + "".join("%20s" % cell(pts.get(c)) for c in clients)
              + "   %s" % ("%.1f" % (last["p99_us"] / 1000) if last else "-"))
json.dump({"duration_s": dur, "rows": rows}, open(sys.argv[2], "w"), indent=1)
print("written: %s" % sys.argv[2])
PYEOF
