#!/bin/bash
# test_demo_append.sh: ./dev demo's CREDITD_DEMO_CONFIG_APPEND
# (docs/gateway.md, "The demo"): the file named, a relative path taken from the caller's
# directory, is appended after every key of the demo's creditd.conf; an
# unreadable one stops the demo before anything is touched.
top=$(cd "${top_srcdir:-.}" && pwd)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
# shellcheck source=../../dev
. "$top/dev"	# sourced: defines the functions only (and its shell options)
set +euo pipefail
mkdir -p "$d/caller"
printf '[provider groq]\nkind = openai\n' >"$d/caller/extra.conf"
CALLER_DIR=$d/caller
got=$(CREDITD_DEMO_CONFIG_APPEND=extra.conf demo_config_append)
check "a relative path is the caller's" "$([ "$got" = "$d/caller/extra.conf" ] || echo "$got")"
got=$(CREDITD_DEMO_CONFIG_APPEND=$d/caller/extra.conf demo_config_append)
check "an absolute path as it is" "$([ "$got" = "$d/caller/extra.conf" ] || echo "$got")"
got=$(unset CREDITD_DEMO_CONFIG_APPEND; demo_config_append)
check "unset: nothing" "$got"
msg=$( (CREDITD_DEMO_CONFIG_APPEND=missing.conf demo_config_append) 2>&1)
rc=$?
check "unreadable: stops" "$([ $rc != 0 ] || echo "exit $rc")"
check "unreadable: named" "$(echo "$msg" | grep -q "cannot read $d/caller/missing.conf" || echo "$msg")"
printf '[ledger]\nsignup_bonus_micros = 10000000' >"$d/creditd.conf"
printf '[ledger]\nsignup_bonus_micros = 5' >"$d/no-newline.conf"
stack_config_append "$d/no-newline.conf" "$d/creditd.conf"
stack_config_append "$d/caller/extra.conf" "$d/creditd.conf"
check "appended after every key, in order" "$(diff <(grep -v '^#' "$d/creditd.conf" | grep .) \
	<(printf '[ledger]\nsignup_bonus_micros = 10000000\n[ledger]\nsignup_bonus_micros = 5\n[provider groq]\nkind = openai\n'))"
check "each file named in a comment" "$(grep -c 'appended from' "$d/creditd.conf" | grep -v '^2$')"
echo "1..$n"
exit $fail
