#!/bin/sh
# test_layering.sh: dependencies point one way (STYLE.md). <mysql.h> only in
# the ledger, <curl/curl.h> only in the Stripe client, no banned calls, no
# circle of #include "x.h" between modules, and assertions left on.
src="${top_srcdir:-.}/src"
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
check "mysql.h only in ledger files" "$(grep -l '#include <mysql.h>' "$src"/*.c "$src"/*.h | grep -v '/ledger' | tr '\n' ' ')"
check "SQL calls only in ledger files" "$(grep -lE 'mysql_(query|stmt_|real_query)' "$src"/*.c | grep -v '/ledger' | tr '\n' ' ')"
check "curl only in stripe.c and provider.c" "$(grep -l '#include <curl/curl.h>' "$src"/*.c "$src"/*.h | grep -vE '/(stripe|provider).c' | tr '\n' ' ')"
check "fcgiapp.h only in worker and main" "$(grep -l '#include <fcgiapp.h>' "$src"/*.c | grep -vE '/(worker|main).c' | tr '\n' ' ')"
check "no banned functions" "$(grep -nE '\b(sprintf|strcpy|strcat|strncpy|strtok|atoi|gmtime|localtime)[[:space:]]*\(' "$src"/*.c "$src"/*.h | grep -vE 'snprintf|vsnprintf|_r[[:space:]]*\(' | head -3 | tr '\n' ' ')"
# Every migration is installed (a new sql/NNN_*.sql missing from
# dist_sql_DATA would be applied by the tests but never by an install).
missing_sql=""
for f in "${top_srcdir:-.}"/sql/*.sql; do
	grep -q "sql/$(basename "$f")" "${top_srcdir:-.}/Makefile.am" || missing_sql="$missing_sql $(basename "$f")"
done
check "every sql/*.sql is in dist_sql_DATA" "$missing_sql"
# No connection allows several statements in one text, and no SQL text is
# made from data: statements are constant, values go in as parameters (or
# as one JSON parameter of a procedure). Migrations (creditctl's, from
# sql/*.sql) are the one place text is sent, one statement at a time.
check "no multi-statement connections" "$(grep -n 'CLIENT_MULTI_STATEMENTS' "$src"/*.c | head -3 | tr '\n' ' ')"
check "no escaped SQL text" "$(grep -nE 'mysql_(real_)?escape_string' "$src"/*.c | head -3 | tr '\n' ' ')"
check "text queries only where the text is constant (migrations, session set-up, savepoints)" "$(grep -lE 'mysql_(real_)?query' "$src"/*.c | grep -vE '/ledger(_admin|_tx|_writer)?\.c' | tr '\n' ' ')"
# Every distinct statement may end up prepared on one connection: their
# number stays well under the cache (src/limits.h LIMIT_DB_STATEMENTS).
stmts=$(cat "$src"/ledger*.c | grep -cE '(static )?const char [A-Za-z_0-9]+\[\] =[[:space:]]*$|(static )?const char [A-Za-z_0-9]+\[\] = "(SELECT|INSERT|UPDATE|DELETE|CALL|REPLACE|SET|START|COMMIT)')
cap=$(sed -n 's/^#define LIMIT_DB_STATEMENTS \([0-9]*\).*/\1/p' "$src/limits.h")
[ "$((stmts * 2))" -le "$cap" ] && too_many="" || too_many="$stmts statements, cache $cap"
check "the prepared statement cache holds twice the ledger's statements" "$too_many"
check "no float in money code" "$(grep -nE '\b(float|double)\b' "$src"/pricing.c "$src"/ledger*.c | head -3 | tr '\n' ' ')"
# Assertions guard the money (ledger_decide.c, ledger_batch.c, the
# combiner): every build the tests use keeps them on. NDEBUG is defined by
# no build file, nor in the flags this tree was configured with (the
# Makefile make check runs from); test_decide.c also refuses to compile
# with it.
top="${top_srcdir:-.}"
ndebug=$(grep -n 'NDEBUG' "$top/configure.ac" "$top/Makefile.am" "$top/dev" "$top/debian/rules" "$top/.ci/run" 2>/dev/null | head -3 | tr '\n' ' ')
if [ -f Makefile ]; then
	ndebug="$ndebug$(grep -nE '^[A-Z_]*(CFLAGS|CPPFLAGS|DEFS)[[:space:]]*=.*NDEBUG' Makefile | head -3 | tr '\n' ' ')"
fi
check "assertions on: NDEBUG is not in the build flags" "$ndebug"

# Include cycles. A module is a file's stem (router.c and router.h are
# "router"), or the part of the stem before its first '_' when that part is
# a module of its own: api_*.c (which implement api.h) are "api", and
# ledger_int.h (the connection the ledger's files share) is "ledger". The
# ledger's other files are modules of their own, so its layers (rows,
# members, the account-open step, the operations) are checked too. Every #include "x.h" of a header in
# src/ is an edge between modules; a depth-first walk reports each edge
# that leads back onto the current path as "a -> b -> a".
include_cycles() {
	stems=$(cd "$src" && ls ./*.c ./*.h | sed 's|^\./||; s/\.[ch]$//' | sort -u | tr '\n' ' ')
	grep -H '^#include "[^"]*\.h"' "$src"/*.c "$src"/*.h | awk -v stems="$stems" '
	function module(stem,   prefix) {
		prefix = stem
		sub(/_.*/, "", prefix)
		if (prefix == "ledger" && stem != "ledger_int")
			return stem
		return (prefix != stem && (prefix in known)) ? prefix : stem
	}
	function visit(v,   next_mods, count, i, w, k, path) {
		state[v] = 1
		depth++
		stack[depth] = v
		at[v] = depth
		count = split(succ[v], next_mods, " ")
		for (i = 1; i <= count; i++) {
			w = next_mods[i]
			if (state[w] == 1) {
				path = w
				for (k = at[w] + 1; k <= depth; k++)
					path = path " -> " stack[k]
				print path " -> " w
			} else if (state[w] == 0) {
				visit(w)
			}
		}
		depth--
		state[v] = 2
	}
	BEGIN {
		nstems = split(stems, stem_list, " ")
		for (i = 1; i <= nstems; i++)
			known[stem_list[i]] = 1
	}
	{
		file = $0
		sub(/:.*/, "", file)
		sub(/.*\//, "", file)
		sub(/\.[ch]$/, "", file)
		header = $0
		sub(/^[^"]*"/, "", header)
		sub(/\.h".*/, "", header)
		if (!(header in known))
			next
		from = module(file)
		to = module(header)
		if (from != to && !((from, to) in edge)) {
			edge[from, to] = 1
			succ[from] = succ[from] " " to
		}
	}
	END {
		for (i = 1; i <= nstems; i++)
			if (state[module(stem_list[i])] == 0)
				visit(module(stem_list[i]))
	}'
}
check "no include cycle between modules" "$(include_cycles | head -3 | tr '\n' ';')"
echo "1..$n"
exit $fail
