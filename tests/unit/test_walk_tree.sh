#!/bin/sh
# test_walk_tree.sh: the tree's own walks (docs/architecture.md,
# "Counting a request's walk"), following the request, held at or under
# the figures the guard's reshaping has reached so far: a change that
# makes the request's trip longer fails here and says by how much. The
# bounds come down as the walk does (the targets: an authorize at most
# 12 rooms and 20 returns, a gateway call's worker 16 rooms and 30
# returns).
top="${top_srcdir:-.}"
walk="$top/devtools/walk.py"
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
report=$(python3 "$walk" --root "$top" --report 2>&1)
# hold NAME ROOMS RETURNS: the report's row NAME, following the request.
hold() {
	got=$(printf '%s\n' "$report" | awk -v name="$1" '
		index($0, name " ") == 1 { s = substr($0, length(name) + 1); split(s, f, " ");
			print f[4], f[6]; exit }')
	rooms=${got% *}
	returns=${got#* }
	if [ -z "$got" ]; then
		check "$1: at most $2 rooms and $3 returns" "no row '$1' in the report"
	elif [ "$rooms" -gt "$2" ] || [ "$returns" -gt "$3" ]; then
		check "$1: at most $2 rooms and $3 returns" "$rooms rooms, $returns returns"
	else
		check "$1: at most $2 rooms and $3 returns ($rooms, $returns)" ""
	fi
}
# An authorize's and a usage's route is their account's (a settle's or
# release's hold is read for it, by the load's ledger_load_hold_route):
# the store's loop, walked once at its first entry, is met inside the
# batch's run. An attempt's transaction is one file (store_tx.c: the
# loop, its reasons, its clock, its end, the one writer's CALL); the
# guard's entry, queue and batch run one file (ledger_holds.c); a batch
# reads its node's Galera once with its clock, and names what fell due to
# the loop as its attempt ends; a gateway call's job carries the
# gateway's configuration, which the worker's context found once. The
# attempt's clock is worked out from one reading of the time; a batch's
# write checks once that its transaction is the one it read in; the row
# cache takes the batch alone (its node and its connection's freshness
# copied with the clock); a member's new row is made and read back by one
# statement; an authorize's default ttl is the batch's (copied with its
# clock), read where the hold is made, not from the worker's context. A
# decision reads nothing: what it needs beyond the load ends the attempt
# (retry reason load); a module's configuration block is a header's
# accessor; a guard route's call and its key's reach are one call. What
# a decision needs is ledger_decide.c's (ledger_decide_needs), unit-tested
# there: two returns more than in the batch's file. The read marks the
# first account it locked itself (store_read_call); the accounts a read
# found due are the batch's list, which the loop reads as the attempt
# ends (store_tx's due_list), not named one call each; a guard route
# answers after its operation returns. A capped workspace's new member
# row is made by the read CALL (sql/086), not by a statement of the
# load's; a guard batch's loop record is made as a value and begun by its
# first store_tx_next (STORE_TX_ON); the error table's rows are read
# through errors.h's inline accessors. An authorize and a usage meet
# their targets. A gateway call's admission (its hold figured, a place,
# the hold or a free call's count) is one call of api_gwhold.c's, whose
# three holds (a call's, a free call's count, a batch's) authorize
# through one function there: the worker's walk meets its target.
hold "authorize" 11 20
hold "settle" 13 26
hold "release" 12 25
hold "usage" 11 20
hold "gateway call, admission" 16 29
hold "gateway call, whole" 47 206
hold "gateway call, streamed" 47 190
echo "1..$n"
exit $fail
