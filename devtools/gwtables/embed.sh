#!/bin/sh
# embed.sh: the gateway's tables (src/gateway/tables/*.tsv) as C strings,
# gwtable_texts[] (gwtable.c reads them at start). Usage: embed.sh FILE...
set -eu
echo '/* Made by devtools/gwtables/embed.sh from src/gateway/tables/: do not edit. */'
echo '#include <stddef.h>'
echo 'struct gwtable_text { const char *name; const char *text; };'
echo 'extern const struct gwtable_text gwtable_texts[];'
echo 'extern const size_t gwtable_ntexts;'
echo 'const struct gwtable_text gwtable_texts[] = {'
for f in "$@"; do
	name=$(basename "$f" .tsv)
	printf '\t{"%s",\n' "$name"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/	/\\t/g' -e 's/^/\t "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '};'
echo "const size_t gwtable_ntexts = $#;"
