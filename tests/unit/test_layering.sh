#!/bin/sh
# test_layering.sh: dependencies point one way (STYLE.md). <mysql.h> only in
# the ledger, <curl/curl.h> only in the Stripe client, no banned calls.
src="${top_srcdir:-.}/src"
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
check "mysql.h only in ledger files" "$(grep -l '#include <mysql.h>' "$src"/*.c "$src"/*.h | grep -v '/ledger' | tr '\n' ' ')"
check "SQL calls only in ledger files" "$(grep -lE 'mysql_(query|stmt_|real_query)' "$src"/*.c | grep -v '/ledger' | tr '\n' ' ')"
check "curl only in stripe.c" "$(grep -l '#include <curl/curl.h>' "$src"/*.c "$src"/*.h | grep -v '/stripe.c' | tr '\n' ' ')"
check "fcgiapp.h only in worker and main" "$(grep -l '#include <fcgiapp.h>' "$src"/*.c | grep -vE '/(worker|main).c' | tr '\n' ' ')"
check "no banned functions" "$(grep -nE '\b(sprintf|strcpy|strcat|strncpy|strtok|atoi|gmtime|localtime)[[:space:]]*\(' "$src"/*.c "$src"/*.h | grep -vE 'snprintf|vsnprintf|_r[[:space:]]*\(' | head -3 | tr '\n' ' ')"
check "no float in money code" "$(grep -nE '\b(float|double)\b' "$src"/pricing.c "$src"/ledger*.c | head -3 | tr '\n' ' ')"
echo "1..$n"
exit $fail
