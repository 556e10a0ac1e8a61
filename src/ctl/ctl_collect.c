/* ctl_collect.c: creditctl collect (see ctl_collect.h). One line per
 * account: "ACCOUNT PERIOD CENTS RESULT", RESULT one of "charged PI",
 * "pending PI" (Stripe is still processing: the webhook credits it),
 * "declined: MESSAGE", "failed: MESSAGE" (no answer from Stripe: the
 * daemon's sender tries again with the same Idempotency-Key once the lease
 * has passed) or, with --dry-run, "would charge". */
#include "ctl_collect.h"
#include "ctl_common.h"
#include "ledger.h"
#include "recharge.h"
#include "stripe.h"
#include "stripe_config.h"
#include "timefmt.h"
#include <stdio.h>
#include <string.h>

static const char *outcome_word(enum ledger_recharge_outcome o)
{
	switch (o) {
	case RECHARGE_PAID:
		return "charged";
	case RECHARGE_SENT:
		return "pending";
	case RECHARGE_DECLINED:
		return "declined";
	default:
		return "failed";
	}
}

/* Sends each of due[0..n) and prints its line; the number that did not
 * go through (declined, failed, not recorded). */
static int send_page(const struct cfg *cfg, struct stripe_client *stripe, struct store *db,
		     const struct ledger_recharge *due, int n, int dry_run)
{
	int bad = 0;
	for (int i = 0; i < n; i++) {
		const struct ledger_recharge *r = &due[i];
		printf("%s %04lld-%02lld %lld ", r->account, (long long)(r->period / 100), (long long)(r->period % 100),
		       (long long)r->amount_cents);
		if (dry_run) {
			printf("would charge\n");
			continue;
		}
		struct recharge_sent sent;
		recharge_send(cfg, stripe, db, r, &sent);
		int ok = sent.recorded && (sent.outcome == RECHARGE_PAID || sent.outcome == RECHARGE_SENT);
		if (sent.outcome == RECHARGE_PAID || sent.outcome == RECHARGE_SENT)
			printf("%s %s\n", outcome_word(sent.outcome), sent.payment_intent);
		else
			printf("%s: %s\n", outcome_word(sent.outcome), sent.message);
		bad += !ok;
	}
	fflush(stdout);
	return bad;
}

int ctl_collect(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	static struct ledger_recharge due[LIMIT_PAYG_SCAN];
	/* Leased for a page sent one after the other. */
	struct ledger_collect c = {NULL, 0, 0, recharge_lease_seconds(cfg) * (LIMIT_PAYG_SCAN / LIMIT_RECHARGE_BATCH + 1),
				   0, 0};
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--dry-run") == 0) {
			c.dry_run = 1;
		} else if (strcmp(argv[i], "--account") == 0 && i + 1 < argc && c.account == NULL) {
			c.account = argv[++i];
		} else {
			fprintf(stderr, "creditctl: unknown option or missing value: %s\n"
				"usage: creditctl collect [--account ID] [--dry-run]\n", argv[i]);
			return 2;
		}
	}
	struct stripe_settings s = stripe_config_settings(cfg);
	struct stripe_client *stripe = c.dry_run ? NULL : stripe_client_new(&s);
	if (!c.dry_run && stripe == NULL)
		return ctl_common_fail(db, CD_E_INTERNAL, "collect");
	int bad = 0, total = 0, n = 0;
	enum cd_err rc = CD_OK;
	while (rc == CD_OK && !c.done) {
		rc = ledger_payg_collect(db, &c, due, LIMIT_PAYG_SCAN, &n);
		if (rc == CD_OK) {
			bad += send_page(cfg, stripe, db, due, n, c.dry_run);
			total += n;
		}
	}
	stripe_client_free(stripe);
	if (rc != CD_OK)
		return ctl_common_fail(db, rc, c.account != NULL ? c.account : "collect");
	if (total == 0)
		printf("nothing to collect\n");
	return bad > 0;
}
