/* gwtable_cover.c: holds the gateway's tables to the SDKs' types (run by
 * tests/integration/test_81b_gateway_tables.py, not by make check: it
 * needs the pinned SDKs from npm). Reads lines "ROUTE<TAB>PATH" (the
 * output of devtools/gwtables/sdk_paths.mjs, flattened) on standard input,
 * ROUTE being a table's name; resolves each path in its table. A path
 * "json:NAME=KINDS[ required]" (the SDKs' kinds of a top-level member,
 * merged over the routes a table serves) must be the json: field of the
 * table's row NAME, as written. Prints each path no row classifies, each
 * kind that differs and each row no path reached, and exits 1 when there
 * is any. */
#include <stdio.h>
#include <string.h>

#include "gwtable.h"

int main(int argc, char **argv)
{
	char line[4096], err[256];
	int bad = 0;
	if (gwtable_init(err, sizeof(err)) != 0) {
		fprintf(stderr, "tables: %s\n", err);
		return 2;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		char *tab = strchr(line, '\t');
		if (tab == NULL)
			continue;
		*tab = '\0';
		const struct gwtable *t = gwtable_named(line);
		if (t == NULL) {
			printf("no table %s\n", line);
			bad = 1;
		} else if (strncmp(tab + 1, "json:", 5) == 0) {
			char *name = tab + 6, *eq = strchr(name, '=');
			const char *row = NULL;
			if (eq != NULL) {
				*eq = '\0';
				row = gwtable_member_json(t, name);
			}
			if (eq == NULL || row == NULL || strcmp(row, eq + 1) != 0) {
				printf("kinds %s %s: the SDKs say %s, the table %s\n", line, name, eq != NULL ? eq + 1 : "?",
				       row != NULL ? row : "nothing");
				bad = 1;
			}
		} else if (gwtable_resolve(t, tab + 1, err, sizeof(err)) != 0) {
			printf("unclassified %s %s (%s)\n", line, tab + 1, err);
			bad = 1;
		}
	}
	for (int i = 1; i < argc; i++) {
		const struct gwtable *t = gwtable_named(argv[i]);
		const char *node;
		size_t n = t != NULL ? gwtable_unused(t, &node) : 0;
		if (n > 0) {
			printf("unused %s: %zu rows no SDK member reaches, the first %s\n", argv[i], n, node);
			bad = 1;
		}
	}
	return bad;
}
