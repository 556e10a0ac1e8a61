#!/bin/sh
# test_walk.sh: devtools/walk.py, the count of a request's walk
# (docs/architecture.md, "Counting a request's walk"), on a tree of four
# small C files whose trail is known by hand:
#   a_entry (a) -> helper (a's own static) -> b_one (b) -> helper (b's own
#   static) -> c_one (c), back to b, back to a; b_one again (entered
#   already: nothing); c_two (c) -> d_one (d), back to c, back to a.
#   The trail's stays: a b c b a c d c a: 9 stays, 4 rooms, 5 returns.
# What must not count: a call in a comment, a brace in a string or a
# character constant, a directive, a cast's parentheses; what must be
# listed as not followed: a member's pointer, a parameter's pointer, a
# `(*f)(`, a macro of the tree and a function of the tree handed on as a
# value (but not a struct tag of the same name).
top="${top_srcdir:-.}"
walk="$top/devtools/walk.py"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
# expect WHAT GOT WANTED
expect() {
	if [ "$2" = "$3" ]; then check "$1" ""; else check "$1" "got '$2', wanted '$3'"; fi
}
mkdir -p "$d/src/x" "$d/src/y"
cat >"$d/src/x/a.c" <<'C'
/* a.c: the entry. A brace in a comment { is not one. */
#include "b.h"
#define NOT_A_BODY(x) { b_two(x); }
struct ops { int (*fn)(int); };
static const struct ops table = { 0 };

static int helper(int x)
{
	return x + 1;
}

int a_entry(const struct ops *o, int (*cb)(int), int x)
{
	int y = helper(x);
	y += b_one(y);
	y += b_one(y);	/* entered already: nothing */
	y += c_two(y);
	if (y > 0)
		printf("} %c", '}');	/* libc, and braces in literals */
	/* b_two(y); in a comment is no call */
	// b_two(y); nor here
	y += o->fn(y);
	y += cb(y);
	y += (int)(long)(y);
	struct c_one *tag = 0;	/* a type named as a function is no value */
	(void)tag;
	qsort(0, 0, 0, b_two);	/* handed on, not called: listed */
	return y;
}
C
cat >"$d/src/x/b.c" <<'C'
/* b.c: a static of the same name as a.c's is b's own. */
static int helper(int x)
{
	return c_one(x);
}

int b_one(int x)
{
	const char *s = "b_two(x) {";
	(void)s;
	return helper(x) * 2;
}

int b_two(int x)
{
	return x;
}
C
cat >"$d/src/y/c.c" <<'C'
int c_one(int x) { return x; }

int c_two(int x)
{
	return d_one(x);
}
C
cat >"$d/src/y/d.c" <<'C'
#define TWICE(x) ((x) * 2)
#if 0
int never(void) {
#endif
static int (*hook)(int);
int d_one(int x)
{
	int (*f)(int) = hook;
	if (f != 0)
		x = (*f)(x);
	return TWICE(x) + f(x);
}
C
w() { python3 "$walk" --root "$d" "$@"; }
fig() { w --json "$@" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["rooms"], s["stays"], s["returns"])'; }

expect "the hand-counted walk: 4 rooms, 9 stays, 5 returns" "$(fig src/x/a.c:a_entry 2>&1)" "4 9 5"
trail=$(w --json src/x/a.c:a_entry | python3 -c 'import json,sys; print(" ".join("%s:%d" % (f.split("/")[-1], k) for f, k in json.load(sys.stdin)["trail"]))')
expect "the trail, file by file with its events" "$trail" "a.c:3 b.c:2 c.c:1 b.c:2 a.c:1 c.c:1 d.c:1 c.c:1 a.c:1"
fns=$(w --json --functions src/x/a.c:a_entry | python3 -c 'import json,sys; print(" ".join("%s:%s" % (f["file"].split("/")[-1], f["function"]) for f in json.load(sys.stdin)["functions"]))')
expect "each function entered once, first call first, statics in their own file" "$fns" \
	"a.c:a_entry a.c:helper b.c:b_one b.c:helper c.c:c_one c.c:c_two d.c:d_one"
unres=$(w --json src/x/a.c:a_entry | python3 -c 'import json,sys; print(" ".join(sorted("%s:%s" % (u["kind"], u["call"]) for u in json.load(sys.stdin)["unresolved"])))')
expect "the calls not followed are listed, and nothing else" "$unres" "macro:TWICE pointer:(*f)( pointer:->fn pointer:cb pointer:f value:b_two"
expect "--skip leaves a function unentered: 4 rooms, 7 stays, 3 returns" "$(fig --skip c_one src/x/a.c:a_entry 2>&1)" "4 7 3"
expect "entries in turn are one trail: 3 rooms, 4 stays, 1 return" "$(fig src/x/b.c:b_two src/y/c.c:c_two 2>&1)" "3 4 1"
w --max-rooms 4 --max-returns 5 src/x/a.c:a_entry >/dev/null 2>&1
check "at the bounds: exit 0" "$([ $? = 0 ] || echo "exit $?")"
w --max-rooms 3 src/x/a.c:a_entry >/dev/null 2>&1
check "rooms above --max-rooms: exit 1" "$([ $? = 1 ] || echo "not exit 1")"
w --max-returns 4 src/x/a.c:a_entry >/dev/null 2>&1
check "returns above --max-returns: exit 1" "$([ $? = 1 ] || echo "not exit 1")"
expect "the text names rooms, stays and returns" "$(w src/x/a.c:a_entry 2>&1 | grep -c '^rooms 4  stays 9  returns 5 ')" 1
w src/x/a.c:nothing >/dev/null 2>&1
check "an entry that is not defined: an error" "$([ $? != 0 ] || echo "exit 0")"
echo "1..$n"
exit $fail
