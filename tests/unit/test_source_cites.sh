#!/bin/sh
# test_source_cites.sh: the source stands alone. Its comments give their
# reasons in the tree's own docs (docs/decisions.md, docs/architecture.md
# and the guide of each part), never in a document the tree does not
# hold: no file of src/ names DESIGN, every docs/NAME.md a file of src/
# names exists, and a section a comment quotes on one line,
# (docs/NAME.md, "Section"), is words of that doc (its line breaks read
# as spaces).
top=$(cd "${top_srcdir:-.}" && pwd) || exit 1
src="$top/src"
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1:"; echo "$2" | sed 's/^/#   /'; fail=1; fi
}
# The tree read at all: a wrong top_srcdir must not pass for a clean one.
files=$(find "$src" -type f \( -name '*.c' -o -name '*.h' \) 2>/dev/null | wc -l)
check "src/ read ($files .c and .h files)" "$([ "$files" -gt 100 ] || echo "no src/ under $top")"
# file:line of every mention, the path from src/ on.
design=$(cd "$src" && grep -rnI "DESIGN" . | cut -d: -f1,2 | sed 's|^\./|src/|')
check "no file of src/ names DESIGN ($(printf '%s' "$design" | grep -c .) lines)" "$design"
missing=$(cd "$src" && grep -rnoIE 'docs/[A-Za-z0-9_.-]+\.md' . | sed 's|^\./|src/|' | while IFS=: read -r f l doc; do
	[ -f "$top/$doc" ] || echo "$f:$l: $doc"
done)
check "every docs/NAME.md src/ cites exists" "$missing"
# Each doc once, its lines joined and its spaces squeezed.
flat() { tr '\n' ' ' <"$top/$1" | tr -s ' \t' '  '; }
unknown=$(cd "$src" && grep -rnoIE 'docs/[A-Za-z0-9_.-]+\.md, "[^"]+"' . | sed 's|^\./|src/|' | while IFS= read -r hit; do
	where=${hit%%: *}
	where=${where%:docs/*}
	doc=$(printf '%s' "$hit" | sed -E 's/^[^:]*:[0-9]+:(docs\/[^,]+), ".*/\1/')
	section=$(printf '%s' "$hit" | sed -E 's/^[^"]*"(.*)"$/\1/')
	[ -f "$top/$doc" ] || continue
	flat "$doc" | grep -qF -- "$section" || echo "$where: $doc has no \"$section\""
done)
check "every section src/ quotes is in its doc" "$unknown"
echo "1..$n"
exit $fail
