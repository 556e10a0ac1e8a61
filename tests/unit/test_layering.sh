#!/bin/sh
# test_layering.sh: the source tree is its layers (docs/architecture.md).
# Every file of src/ sits in the folder of its layer (src/limits.h alone
# at the top, every layer's, with the gateway's part limits_gateway.h); a file includes headers of its own folder
# or of a layer below, and calls (read from the objects' symbols: a call,
# not only an include) only functions of its own folder or below, with no
# circle between two files; every exported name carries a prefix of its
# folder; <mysql.h> and MariaDB's calls in the store only, <curl/curl.h> in the
# Stripe client, the gateway's provider and the mail's SMTP client only, <fcgiapp.h> in http's
# worker and main only; no banned calls; assertions left on.
#
# The layers, from the top: http and ctl (the daemon's requests, the
# command line), then gateway and jobs (the gateway's calls, the
# background pushes and charges), then stripe (Stripe's API and its
# webhooks' news) and answer (the writes' answers rendered, for http, ctl
# and the gateway), then ledger (the operations), then store (MariaDB),
# then money (pure), then core.
#
# A file's layer is its top folder under src/. The ledger alone has
# subfolders, one per purpose of its operations (docs/architecture.md,
# "The ledger's folders"): guard, payments, accounts and records, each of
# the ledger's layer; src/ledger/ itself holds the contract the layers
# above include (their only way in) and the core every operation shares.
src="${top_srcdir:-.}/src"
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
# rank FOLDER: the layer's height in r (two folders of one height never
# meet); -1 for no layer. A variable, not an echo: it is asked thousands
# of times, and a command substitution is a process each.
rank() {
	case $1 in
	core) r=0 ;; money) r=1 ;; store) r=2 ;; ledger) r=3 ;; stripe | answer) r=4 ;; jobs | gateway) r=5 ;; http | ctl) r=6 ;; *) r=-1 ;;
	esac
}
# The same heights for awk (its programs below take them as rank[]).
ranks_awk='BEGIN { split("core 0 money 1 store 2 ledger 3 stripe 4 answer 4 jobs 5 gateway 5 http 6 ctl 6", kv, " ")
	for (i = 1; i < 20; i += 2) rank[kv[i]] = kv[i + 1] }
function rank_of(d) { return (d in rank) ? rank[d] : -1 }'
ledger_subs="guard payments accounts records"
# in_folder REL: a file of src/ (REL from src/) sits in a layer's folder,
# or in one of the ledger's subfolders, and no deeper.
in_folder() {
	dir=${1%/*}
	case $dir in
	ledger/*) case " $ledger_subs " in *" ${dir#ledger/} "*) return 0 ;; esac; return 1 ;;
	*/*) return 1 ;;
	esac
	rank "$dir"
	[ "$r" -ge 0 ]
}
# prefixes FILE: what the exported names of a source file (its stem,
# "ledger_holds") may start with: its own stem, or its module's prefix
# where a module is one header over several files by design:
#   api.h over http/api_*.c (the route handlers: api_);
#   gwshape.h over gateway/gwshape*.c (the providers' wire formats, the
#   shared part);
#   gwkind.h over gateway/gwkind*.c (the provider kinds, one file each,
#   each exporting its struct gwkind, and the list of them);
#   gwcall.h over gateway/gwcall*.c (one call, and its ledger's side);
#   webhook.h over stripe/webhook*.c (signatures, parsing);
#   pricing.h over money/pricing.c and pricing_dims.c (its dimensions);
#   gwtable.h over gateway/gwtable*.c (the tables, their walk, and the
#   tables' text the build makes, gwtable_data.c);
#   store.h and store_db.h over store/store*.c (the handle, statements,
#   result rows, transactions, migrations);
#   config.h over core/config*.c (the loader, its file, its nodes, TLS,
#   and the checks every table's module shares: config_);
#   answer.h over answer/answer_*.c (a write's answer rendered: answer_);
#   ledger.h (and ledger_gateway.h, ledger_reconcile.h) over ledger/**/ledger_*.c: the ledger's
#   operations as the layers above call them, ledger_ and declared there
#   (a helper the ledger's files share carries its file's stem).
# main: the programs' entry; __assert_fail: log.c's, glibc's assert()
# failure hook (the failure logged with what the thread serves,
# docs/operations.md).
prefixes() {
	case $1 in
	api_*) echo "$1_ api_" ;;
	gwshape*) echo "$1_ gwshape_" ;;
	gwkind*) echo "$1_ gwkind_" ;;
	gwcall*) echo "$1_ gwcall_" ;;
	gwtable*) echo "$1_ gwtable_" ;;
	pricing_dims) echo "pricing_" ;;
	webhook*) echo "$1_ webhook_" ;;
	store*) echo "$1_ store_" ;;
	config*) echo "$1_ config_" ;;
	answer*) echo "$1_ answer_" ;;
	main | creditctl) echo "$1_ main" ;;
	log) echo "log_ __assert_fail" ;;
	*) echo "$1_" ;;
	esac
}
ledger_api=" $(cat "$src"/ledger/ledger.h "$src"/ledger/ledger_gateway.h "$src"/ledger/ledger_reconcile.h | grep -o '\bledger_[a-z0-9_]*[[:space:]]*(' | tr -d '( \t' | sort -u | tr '\n' ' ') "
# gwtable_data.c is made by the build from src/gateway/tables/ (data, not code).
all_c=$(find "$src" -name '*.c' ! -name gwtable_data.c | sort)
all_ch=$(find "$src" -name '*.[ch]' ! -name gwtable_data.c | sort)
stray=""
for f in $all_ch; do
	rel=${f#"$src"/}
	case $rel in
	limits.h | limits_gateway.h) ;;
	*/*) in_folder "$rel" || stray="$stray $rel" ;;
	*) stray="$stray $rel" ;;
	esac
done
check "every source file is in its layer's folder" "$stray"
# shellcheck disable=SC2086
check "mysql.h only in src/store" "$(grep -l '#include <mysql.h>' $all_ch | grep -v '/src/store/' | tr '\n' ' ')"
# shellcheck disable=SC2086
check "MariaDB's calls only in src/store" "$(grep -lE '\bmysql_[a-z_]+[[:space:]]*\(' $all_c | grep -v '/src/store/' | tr '\n' ' ')"
# shellcheck disable=SC2086
check "curl only in the Stripe client, the gateway's provider and the mail's SMTP client" "$(grep -l '#include <curl/curl.h>' $all_ch | grep -vE '/src/(stripe/stripe|gateway/provider|jobs/mail_smtp)\.c$' | tr '\n' ' ')"
# shellcheck disable=SC2086
check "fcgiapp.h only in http's worker and main" "$(grep -l '#include <fcgiapp.h>' $all_c | grep -vE '/src/http/(worker|main)\.c$' | tr '\n' ' ')"
# shellcheck disable=SC2086
check "no banned functions" "$(grep -nE '\b(sprintf|strcpy|strcat|strncpy|strtok|atoi|gmtime|localtime)[[:space:]]*\(' $all_ch | grep -vE 'snprintf|vsnprintf|_r[[:space:]]*\(' | head -3 | tr '\n' ' ')"
# OpenSSL through EVP: no SHA256_Init/Update/Final (deprecated in 3.0),
# and no deprecation warning silenced to keep one.
# shellcheck disable=SC2086
check "OpenSSL digests through EVP, no deprecation silenced" "$(grep -nE 'SHA256_(Init|Update|Final)|Wdeprecated-declarations' $all_ch | head -3 | tr '\n' ' ')"
# Files stay readable whole, functions on a screen or two: a source or
# test file under 800 lines, a function body of src/ (kernel style: '{'
# and '}' at column 0) under 70.
# shellcheck disable=SC2086
check "every source file under 800 lines" "$(wc -l $all_ch | awk '$2 != "total" && $1 >= 800 { print $2 ": " $1 }' | head -3 | tr '\n' ' ')"
tests_dir="${top_srcdir:-.}/tests"
check "every bench tool under 800 lines" "$(find "${top_srcdir:-.}/bench" -name node_modules -prune -o -type f \( -name '*.c' -o -name '*.h' -o -name '*.sh' -o -name '*.py' -o -name '*.js' \) -print | xargs wc -l | awk '$2 != "total" && $1 >= 800 { print $2 ": " $1 }' | head -3 | tr '\n' ' ')"
check "every test file under 800 lines" "$(find "$tests_dir" -name node_modules -prune -o -type f \( -name '*.py' -o -name '*.c' -o -name '*.h' -o -name '*.js' -o -name '*.sh' \) -print | xargs wc -l | awk '$2 != "total" && $1 >= 800 { print $2 ": " $1 }' | head -3 | tr '\n' ' ')"
# shellcheck disable=SC2086
check "every function under 70 lines" "$(awk -v src="$src/" 'FNR == 1 { s = 0; f = FILENAME; if (index(f, src) == 1) f = substr(f, length(src) + 1) }
	/^\{/ { s = FNR } /^\}/ { if (s && FNR - s - 1 >= 70) print f ":" s ": " FNR - s - 1; s = 0 }' $all_ch | head -3 | tr '\n' ' ')"
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
# shellcheck disable=SC2086
check "no multi-statement connections" "$(grep -n 'CLIENT_MULTI_STATEMENTS' $all_c | head -3 | tr '\n' ' ')"
# shellcheck disable=SC2086
check "no escaped SQL text" "$(grep -nE 'mysql_(real_)?escape_string' $all_c | head -3 | tr '\n' ' ')"
# shellcheck disable=SC2086
check "text queries only where the text is constant (migrations, session set-up, savepoints)" "$(grep -lE 'mysql_(real_)?query' $all_c | grep -vE '/src/store/store(_migrate|_tx)?\.c$' | tr '\n' ' ')"
# Every distinct statement may end up prepared on one connection: their
# number stays well under the cache (src/limits.h LIMIT_DB_STATEMENTS).
stmts=$(find "$src/ledger" "$src/store" -name '*.c' -exec cat {} + | grep -cE '(static )?const char [A-Za-z_0-9]+\[\] =[[:space:]]*$|(static )?const char [A-Za-z_0-9]+\[\] = "(SELECT|INSERT|UPDATE|DELETE|CALL|REPLACE|SET|START|COMMIT)')
cap=$(sed -n 's/^#define LIMIT_DB_STATEMENTS \([0-9]*\).*/\1/p' "$src/limits.h")
[ "$((stmts * 2))" -le "$cap" ] && too_many="" || too_many="$stmts statements, cache $cap"
check "the prepared statement cache holds twice the ledger's statements" "$too_many"
# An attempt run again names its reason (docs/architecture.md, "One
# retry loop"): CD_E_RETRY is made by store_retry alone (store_tx.c, where
# the loop keeps it as its state between attempts; store.c's store_err
# names a statement's deadlock the same way); elsewhere it is only compared. One
# exception: decisions that hold no handle, whose attempt names them
# (ledger_holds.c batch_attempt): kept rows that disagree
# (ledger_batch_rows_disagree, moved) and rows the load did not bring
# (ledger_batch_load_more, load).
bare_retry=$(grep -nE 'CD_E_RETRY' $(find "$src" -name '*.c' ! -name store.c ! -name store_tx.c ! -name errors.c) |
	grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|\*|case )' | grep -v '/ledger_batch\.c:.*return CD_E_RETRY;$' |
	sed -E 's/[!=]=[[:space:]]*CD_E_RETRY//g' | grep 'CD_E_RETRY' | head -3 | tr '\n' ' ')
check "every transaction run again names its reason (store_retry)" "$bare_retry"
check "no float in money code" "$(find "$src/money" "$src/store" "$src/ledger" -name '*.c' -exec grep -nE '\b(float|double)\b' {} + | head -3 | tr '\n' ' ')"
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


# Includes go down: a header named by a file is its own layer's, or a
# lower layer's (limits.h is every layer's); a layer above the ledger
# includes only the ledger's contract, the headers of src/ledger/ itself,
# never one of its subfolders'. One pass over every file's includes, the
# headers found by name (no two headers of src/ share one) in one list.
# shellcheck disable=SC2086
includes=$( (find "$src" -name '*.h' | sed 's/^/header /'; grep -H '^#include "[^"]*\.h"' $all_ch) | awk -v src="$src/" "$ranks_awk"'
	function layer(p,   rel) { rel = substr(p, length(src) + 1); sub(/\/.*/, "", rel); return rel }
	$1 == "header" { h = $2; sub(/.*\//, "", h); if (!(h in path)) path[h] = $2; next }
	{
		f = $0; sub(/:#include.*/, "", f)
		if (f == src "limits.h" || f == src "limits_gateway.h") next
		h = $0; sub(/^[^:]*:#include "/, "", h); sub(/".*/, "", h)
		hp = (h == "limits.h" || h == "limits_gateway.h") ? src "core/" h : path[h]
		if (hp == "") next
		from = layer(f); to = layer(hp)
		if (to != from && rank_of(to) >= rank_of(from)) up = up " " substr(f, length(src) + 1) "->" h
		if (substr(hp, length(src) + 1) ~ /^ledger\/[^\/]*\// && from != "ledger")
			inner = inner " " substr(f, length(src) + 1) "->" substr(hp, length(src) + 1)
	}
	END { print up; print inner }')
up_includes=$(echo "$includes" | sed -n 1p)
inner_includes=$(echo "$includes" | sed -n 2p)
# money/ includes core's and its own headers and the C library's only.
# shellcheck disable=SC2046
check "money/ includes only core, money and the C library" "$(grep -H '#include <' $(find "$src/money" -name '*.[ch]') | grep -vE '<(assert|inttypes|limits|stdarg|stdbool|stddef|stdint|stdio|stdlib|string|jansson)\.h>' | head -3 | tr '\n' ' ')"
check "includes go down the layers" "$(echo "$up_includes" | cut -c1-300)"
check "the layers above the ledger include its contract only (src/ledger/*.h)" "$(echo "$inner_includes" | cut -c1-300)"

# Calls go down, and no two files call each other round a circle: every
# undefined symbol of an object, defined by another object of the tree,
# is an edge between their source files, each named by its layer (the
# top folder under src/: a file of src/ledger/guard/ is the ledger's).
# Objects are the build's (make check runs after make).
objs=$(find src -name '*.o' 2>/dev/null | sort)
if [ -z "$objs" ]; then
	check "the calls between files are read from the build's objects" "no object under src/: build first"
else
	# shellcheck disable=SC2086
	syms=$(nm -P -A $objs 2>/dev/null | awk '{ f = $1; sub(/:$/, "", f); print f, $2, $3 }')
	calls=$(echo "$syms" | awk '
		function folder(o) { split(o, p, "/"); return p[2] }
		function unit(o) { n = split(o, p, "/"); u = p[n]; sub(/\.o$/, "", u); sub(/^creditctl-/, "", u); return folder(o) "/" u }
		$3 ~ /^[TDBRC]$/ { def[$2] = unit($1) }
		$3 == "U" { use[++nu] = unit($1) " " $2 }
		END { for (i = 1; i <= nu; i++) { split(use[i], p, " "); if ((p[2] in def) && def[p[2]] != p[1]) print p[1], def[p[2]], p[2] } }' | sort -u)
	up_calls=$(echo "$calls" | awk "$ranks_awk"'
		$1 != "" { ff = $1; sub(/\/.*/, "", ff); tf = $2; sub(/\/.*/, "", tf)
			if (ff != tf && rank_of(tf) >= rank_of(ff)) print $1 "->" $2 "(" $3 ")" }' | head -5 | tr '\n' ' ')
	check "calls go down the layers" "$up_calls"
	circles=$(echo "$calls" | awk '$1 != "" { e[$1 " " $2] = 1; succ[$1] = succ[$1] " " $2 }
		function visit(v,   ns, k, i, w, path) {
			state[v] = 1; stack[++depth] = v; at[v] = depth
			k = split(succ[v], ns, " ")
			for (i = 1; i <= k; i++) {
				w = ns[i]
				if (state[w] == 1) { path = w; for (j = at[w] + 1; j <= depth; j++) path = path " -> " stack[j]; print path " -> " w }
				else if (state[w] == 0) visit(w)
			}
			depth--; state[v] = 2
		}
		END { for (v in succ) if (state[v] == 0) visit(v) }' | sort -u | head -3 | tr '\n' ';')
	check "no circle of calls between files" "$circles"
	# Each object's stem and what its names may start with (prefixes),
	# asked once a stem; then every defined name of every object, in one
	# pass.
	# shellcheck disable=SC2086
	stem_pre=$(for stem in $(printf '%s\n' $objs | sed 's|.*/||; s/\.o$//; s/^creditctl-//' | sort -u); do
		printf '%s %s\n' "$stem" "$(prefixes "$stem")"
	done)
	unprefixed=$( (echo "$stem_pre" | sed 's/^/stem /'; echo "$syms") | awk -v api="$ledger_api" '
		$1 == "stem" { s = $2; $1 = ""; $2 = ""; pre[s] = $0; next }
		$2 ~ /^__(odr_asan|asan_|ubsan_|sanitizer_)/ { next }	# added by the sanitizers (./dev sanitize)
		$3 ~ /^[TDBRC]$/ { f = $1; sub(/.*\//, "", f); sub(/\.o$/, "", f); sub(/^creditctl-/, "", f)
			n = split(pre[f], p, " "); ok = 0
			for (i = 1; i <= n; i++) if (index($2, p[i]) == 1 || $2 == p[i]) ok = 1
			if ($2 == f) ok = 1
			if (f ~ /^ledger_/ && index(api, " " $2 " ") > 0) ok = 1
			if (!ok) print f ": " $2 }' | sort -u | head -8 | tr '\n' ' ')
	check "every exported name carries its file's prefix, or its module's" "$unprefixed"
	# The ledger's decisions never reach the database: what
	# ledger_decide.c, ledger_combine.c and ledger_batch.c (the batch's rows
	# in memory) call of the tree's files that talk to the database
	# (those calling store_* or mysql_*) is one of these helpers,
	# which read or change rows in memory only.
	# ledger_price_*: the price cache, read under its lock.
	in_memory=" $(echo ledger_rows_acct_available ledger_rows_acct_spent ledger_rows_copy_text ledger_rows_hold_id_format \
		ledger_members_figures ledger_events_notice_balance \
		ledger_events_notice_refusal store_sets_init store_sets_free ledger_price_action \
		ledger_price_model) "
	db_names=$(echo "$syms" | awk '
		$1 ~ /^src\/store\// { db[$1] = 1 }
		$3 == "U" && (($2 ~ /^store_/ && $2 != "store_sets_init" && $2 != "store_sets_free") || $2 ~ /^mysql_/) { db[$1] = 1 }
		$3 == "T" { defs[++nd] = $1 " " $2 }
		END { for (i = 1; i <= nd; i++) { split(defs[i], d, " "); if (d[1] in db) print d[2] } }' | sort -u)
	reach=$(for u in ledger_decide ledger_combine ledger_batch; do
		nm -P "$(find src/ledger -name "$u.o" | head -1)" | awk '$2 == "U" { print $1 }' | while read -r name; do
			case "$in_memory" in *" $name "*) continue ;; esac
			if echo "$db_names" | grep -qx "$name" || echo "$name" | grep -q '^mysql_'; then echo "$u->$name"; fi
		done
	done | head -5 | tr '\n' ' ')
	check "the decisions call nothing that reaches the database" "$reach"
	# money/ is pure (docs/architecture.md): handed the time and the
	# prices, it reads no clock, no file, no database and logs nothing.
	# What its objects call is money's, core's data helpers (JSON, text,
	# calendar arithmetic: never timefmt_now) or the C library's pure
	# functions.
	money_calls=$(for o in $(find src/money -name '*.o' | sort); do
		nm -P "$o" | awk -v o="${o#src/}" '$2 == "U" { print o ": " $1 }'
	done)
	impure=$( (echo "$money_calls" | grep -vE ': (money_|pricing_|refusal_set(_amounts|_range)?$|jsonio_|jsonw_|dynbuf_|timefmt_|json_|mem(cpy|cmp|set|move|chr)$|v?snprintf$|str(chr|rchr|cmp|ncmp|len|str|tol|toll|toul|toull)$|__assert_fail$|__(u)?(div|mod)ti3$|__stack_chk_fail$|__(mem(cpy|move|set|chr)|v?snprintf|str(chr|len))_chk$|__(asan|ubsan)_[a-z0-9_]+$)'
		echo "$money_calls" | grep -E ': timefmt_(now|mono)') | grep . | head -5 | tr '\n' ' ')
	check "money/ calls nothing impure (no clock, I/O, database or log)" "$impure"
fi

# Include cycles. A module is a file's stem (router.c and router.h are
# "router"), or the part of the stem before its first '_' when that part is
# a module of its own: api_*.c (which implement api.h) are "api", and
# ledger_int.h (the connection the ledger's files share) is "ledger". The
# ledger's other files are modules of their own, so its layers (rows,
# members, the account-open step, the operations) are checked too. Every #include "x.h" of a header in
# src/ is an edge between modules; a depth-first walk reports each edge
# that leads back onto the current path as "a -> b -> a".
include_cycles() {
	# shellcheck disable=SC2086
	stems=$(printf '%s\n' $all_ch | sed 's|.*/||; s/\.[ch]$//' | sort -u | tr '\n' ' ')
	# shellcheck disable=SC2086
	grep -H '^#include "[^"]*\.h"' $all_ch | awk -v stems="$stems" '
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
