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
# Each doc read once (awk), its lines joined and its spaces squeezed; a
# quote is then looked up in it (one process for every quote, not five).
unknown=$(cd "$src" && grep -rnoIE 'docs/[A-Za-z0-9_.-]+\.md, "[^"]+"' . | sed 's|^\./|src/|' | awk -v top="$top" '
function flat(doc,    f, line, t) {
	if (doc in text)
		return text[doc]
	f = top "/" doc
	t = ""
	while ((getline line < f) > 0)
		t = t line " "
	close(f)
	gsub(/[ \t]+/, " ", t)
	text[doc] = t
	return t
}
{
	i = index($0, ":docs/")
	where = substr($0, 1, i - 1)
	rest = substr($0, i + 1)
	j = index(rest, ", \"")
	doc = substr(rest, 1, j - 1)
	section = substr(rest, j + 3)
	sub(/"$/, "", section)
	f = top "/" doc
	if ((getline probe < f) < 0)
		next		# a doc that does not exist: the check above names it
	close(f)
	if (index(flat(doc), section) == 0)
		printf "%s: %s has no \"%s\"\n", where, doc, section
}')
check "every section src/ quotes is in its doc" "$unknown"
echo "1..$n"
exit $fail
