#!/bin/sh
# test_walk.sh: devtools/walk.py, the count of a request's walk
# (docs/architecture.md, "Counting a request's walk"), on small C files
# whose trails are known by hand. Every call followed (src/x, src/y):
#   a_entry (a) -> helper (a's own static) -> b_one (b) -> helper (b's own
#   static) -> c_one (c), back to b, back to a; b_one again (entered
#   already: nothing); c_two (c) -> d_one (d), back to c, back to a.
#   The trail's stays: a b c b a c d c a: 9 stays, 4 rooms, 5 returns.
# What must not count: a call in a comment, a brace in a string or a
# character constant, a directive, a cast's parentheses; what must be
# listed as not followed: a member's pointer, a parameter's pointer, a
# `(*f)(`, a macro of the tree and a function of the tree handed on as a
# value (but not a struct tag of the same name).
# --follow (src/z): p_entry's request `rq` followed:
#   p_entry(rq) (p) -> q_pass(r), the parameter passed (q) -> q_inner(v),
#   a member of it passed (q's own), back to p; q_pass(rq) again
#   (entered already: nothing); r_derived(b) (r), the derived local `s`
#   passed second -> q_st(x) (q), through r_derived's own derived `c`,
#   back to r, back to p; r_none(k, g_last.rq) and s_log("p_entry")
#   pass nothing followed: not entered; r_derived(a) (r), a member of `s` passed
#   first, a position not entered yet -> q_num(y) (q), back to r, to p.
#   The trail's stays: p q p r q r p r q r p: 11 stays, 3 rooms, 8
#   returns. Every call followed: p q r q p r q r q r p s p, 13 stays,
#   4 rooms (s.c's s_log entered too), 9 returns. Following, listed as
#   not followed: the pointer passed the request and the function handed
#   on with it, nothing else.
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
mkdir -p "$d/src/z"
cat >"$d/src/z/p.c" <<'C'
/* p.c: --follow's entry: what passes the request on is followed. */
struct req { struct st *st; int n; int (*done)(struct req *); };
static struct { struct req *rq; } g_last;

int p_entry(struct req *rq, int n)
{
	struct st *s = rq->st;	/* derived from rq: followed too */
	int k = n + 1;	/* n is not followed: nor is k */
	q_pass(rq);	/* the parameter passed: q_pass's r */
	q_pass(rq);	/* entered already: nothing */
	r_derived(k, s);	/* a derived local passed second: r_derived's b */
	r_none(k, g_last.rq);	/* nothing followed passed (a member named rq is not rq): not entered */
	s_log("p_entry");	/* a string: not entered */
	r_derived(s->n, k);	/* a member of it first: r_derived's a, a position new */
	rq->done(rq);	/* a pointer the request is passed to: listed */
	rq->done(k);	/* a pointer passed nothing followed: not listed */
	defer(rq, q_num);	/* a function handed on with the request: listed */
	atexit(s_log);	/* handed on without it: not listed */
	return k;
}
C
cat >"$d/src/z/q.c" <<'C'
static int q_inner(int v)
{
	return v;
}

int q_pass(struct req *r)
{
	return q_inner(r->n) + r_none(0, 0);
}

int q_st(struct st *x) { return x != 0; }

int q_num(int y) { return y; }
C
cat >"$d/src/z/r.c" <<'C'
int r_none(int a, int b) { return a + b; }

int r_derived(int a, struct st *b)
{
	struct st *c = b;	/* derived from b: followed when b is */
	return q_st(c) + q_num(a);
}
C
cat >"$d/src/z/s.c" <<'C'
void s_log(const char *what) { (void)what; }
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
expect "every call followed: 4 rooms, 13 stays, 9 returns" "$(fig src/z/p.c:p_entry 2>&1)" "4 13 9"
expect "--follow rq, hand-counted: 3 rooms, 11 stays, 8 returns" "$(fig --follow rq src/z/p.c:p_entry 2>&1)" "3 11 8"
expect "ENTRY@PARAM is --follow PARAM" "$(fig src/z/p.c:p_entry@rq 2>&1)" "3 11 8"
unres=$(w --json --follow rq src/z/p.c:p_entry | python3 -c 'import json,sys; print(" ".join(sorted("%s:%s:%d" % (u["kind"], u["call"], u["count"]) for u in json.load(sys.stdin)["unresolved"])))')
expect "--follow lists what passes the request on and is not followed, and nothing else" "$unres" "pointer:->done:1 value:q_num:1"
expect "--cut 5 counts the trail's first 5 events (p q q q p): 2 rooms, 3 stays, 1 return" \
	"$(fig --follow rq --cut 5 src/z/p.c:p_entry 2>&1)" "2 3 1"
trail=$(w --json --follow rq src/z/p.c:p_entry 2>&1 | python3 -c 'import json,sys; print(" ".join("%s:%d" % (f.split("/")[-1], k) for f, k in json.load(sys.stdin)["trail"]))')
expect "--follow's trail" "$trail" "p.c:1 q.c:3 p.c:1 r.c:1 q.c:1 r.c:1 p.c:1 r.c:1 q.c:1 r.c:1 p.c:1"
fns=$(w --json --functions --follow rq src/z/p.c:p_entry 2>&1 | python3 -c 'import json,sys; print(" ".join("%s(%s)" % (f["function"], ",".join(f["follows"])) for f in json.load(sys.stdin)["functions"]))')
expect "--follow enters what passes the parameter, a member of it or a derived local, once a position" "$fns" \
	"p_entry(rq) q_pass(r) q_inner(v) r_derived(b) q_st(x) r_derived(a) q_num(y)"
expect "--follow a name that is no parameter of the entry: an error naming it" \
	"$(w --follow nope src/z/p.c:p_entry 2>&1 >/dev/null | grep -c "p_entry has no parameter nope")" 1
w src/x/a.c:nothing >/dev/null 2>&1
check "an entry that is not defined: an error" "$([ $? != 0 ] || echo "exit 0")"
echo "1..$n"
exit $fail
