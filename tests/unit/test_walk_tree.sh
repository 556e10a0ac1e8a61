#!/bin/sh
# test_walk_tree.sh: the tree's own walks (docs/architecture.md,
# "Counting a request's walk"), following the request, held at or under
# the figures the guard's reshaping has reached so far: a change that
# makes the request's trip longer fails here and says by how much. The
# bounds come down as the walk does (the targets: an authorize at most
# 12 rooms and 20 returns, a gateway call 16 rooms and 30 returns).
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
# release's hold is read for it): the walk no longer passes through the
# hold's lookup, and the store's loop, walked once at its first entry, is
# now met inside the batch's run (more stays there; fewer in all). A
# settle's hold lookup and the batch's run each begin their loop on their
# account's node (store_tx_init_on), the caller's routing put back by the
# loop: walked here at the loop's first entry, the hold lookup's.
hold "authorize" 21 52
hold "settle" 21 52
hold "release" 20 51
hold "usage" 20 51
hold "gateway call, whole" 56 241
hold "gateway call, streamed" 56 225
echo "1..$n"
exit $fail
