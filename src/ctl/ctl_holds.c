/* ctl_holds.c: creditctl hold resolve (ctl_holds.h); its --from-usage
 * form is ctl_resolve_usage.c's. The ledger decides
 * and writes (ledger_hold_resolve, one transaction under the account's
 * lock); this file reads the command line and prints what was done. */
#include "ctl_holds.h"
#include "ctl_common.h"
#include "ledger.h"
#include "ledger_unresolved.h"
#include "ctl_resolve_usage.h"
#include <stdio.h>
#include <string.h>

/* What is wrong (NULL: said already), naming the argument (NULL: none),
 * then the usage; 2. */
static int usage_line(const char *what, const char *arg)
{
	if (what != NULL)
		fprintf(stderr, "creditctl: hold resolve: %s%s%s\n", what, arg != NULL ? ": " : "", arg != NULL ? arg : "");
	fprintf(stderr, "usage: creditctl hold resolve HOLD_ID charge [--micros N] | release\n"
			"       creditctl hold resolve --from-usage FILE... [--format openai|anthropic|csv] [--dry-run] "
			"[--json]\n");
	return 2;
}

static int resolve(struct store *db, const char *hold_id, int charge, int64_t micros)
{
	struct ledger_resolved r;
	enum cd_err rc = ledger_unresolved_resolve(db, hold_id, charge, micros, &r);
	if (rc == CD_E_NOT_FOUND) {
		fprintf(stderr, "creditctl: hold resolve: no hold '%s'\n", hold_id);
		return 1;
	}
	if (rc == CD_E_CONFLICT && !r.unresolved) {
		fprintf(stderr, "creditctl: hold resolve: the hold %s is not unresolved (it is %s): nothing done\n",
			hold_id, r.status);
		return 1;
	}
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, "hold resolve");
	json_t *v = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I}", "hold_id", hold_id, "status", r.status, "resolved",
			      charge ? "charge" : "release", "held_micros", (json_int_t)r.held_micros, "charged_micros",
			      (json_int_t)r.charged_micros, "released_micros", (json_int_t)(r.held_micros - r.charged_micros),
			      "balance_micros", (json_int_t)r.balance_micros);
	if (v == NULL) {
		fprintf(stderr, "creditctl: hold resolve: done, but its answer could not be made (out of memory)\n");
		return 1;
	}
	return ctl_common_print_json(v);
}

int ctl_holds(struct store *db, int argc, char **argv)
{
	static const char *const known[] = {"--micros", NULL};
	int64_t micros = -1;
	if (argc >= 4 && strcmp(argv[2], "resolve") == 0 && strcmp(argv[3], "--from-usage") == 0)
		return ctl_resolve_usage(db, argc, argv);
	if (argc < 3 || strcmp(argv[2], "resolve") != 0)
		return usage_line(argc < 3 ? "hold needs resolve" : "unknown hold command", argc < 3 ? NULL : argv[2]);
	if (argc < 5)
		return usage_line(argc < 4 ? "no HOLD_ID given" : "charge or release?", NULL);
	int charge = strcmp(argv[4], "charge") == 0;
	if (!charge && strcmp(argv[4], "release") != 0)
		return usage_line("the action is charge or release, not", argv[4]);
	if (!charge && argc > 5)
		return usage_line("release takes nothing more; unexpected argument", argv[5]);
	if (!ctl_common_opts_known(argc, argv, 5, known))
		return usage_line(NULL, NULL);
	const char *given = ctl_common_opt(argc, argv, 5, "--micros");
	if (given != NULL && (ctl_common_parse_i64(given, &micros) != 0 || micros < 0)) {
		fprintf(stderr, "creditctl: hold resolve: --micros '%s' is not a whole number of micros, 0 or more\n", given);
		return 2;
	}
	return resolve(db, argv[3], charge, micros);
}
