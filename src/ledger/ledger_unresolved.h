/* ledger_unresolved.h: the holds of gateway calls whose provider may be
 * working on them and never answered (sql/058; docs/gateway.md, "When a
 * provider may already be working"): kept, resolved by the operator,
 * counted. The sweep's part is ledger_due.c's. */
#ifndef CREDITD_LEDGER_UNRESOLVED_H
#define CREDITD_LEDGER_UNRESOLVED_H
#include "ledger.h"
#include "ledger_reconcile.h"

/* Marks the hold of a call whose provider may be working and never
 * answered: kept pending (its reserve stays), unresolved since now,
 * input_micros (what its input bound costs at its pinned price: what the
 * provider received) kept as its charge, due days from now (the sweep
 * then charges that). CD_E_CONFLICT when it is pending no more (settled,
 * or expired first), CD_E_NOT_FOUND for an id that names no hold. */
enum cd_err ledger_unresolved_mark(struct store *db, const char *account, const char *hold_id, int64_t input_micros,
				  int64_t days);
/* The same for a batch's hold (docs/gateway.md, "Batches"), at what
 * its lines did not charge: in one transaction the hold locked, its
 * lines' usage records (usage_key starting key_prefix, on account)
 * summed under a locking read, and the hold kept at its amount less
 * that sum (money_rule_batch_unresolved). *charged and *micros say what
 * the lines charged and what the hold was kept at. The same errors. */
enum cd_err ledger_unresolved_mark_lines(struct store *db, const char *account, const char *hold_id,
					 const char *key_prefix, int64_t days, int64_t *charged, int64_t *micros);
/* The settle reason GET /v1/holds/{hold_id} shows for an unresolved
 * hold (no usage record has it). */
#define LEDGER_REASON_PROVIDER_TIMEOUT "provider_timeout"
/* What a resolution did. */
struct ledger_resolved {
	char status[16];		/* the hold's state after (before, when refused) */
	int unresolved;			/* it was unresolved (else refused) */
	int64_t held_micros, charged_micros, balance_micros;
};
/* Resolves an unresolved hold: charge charges micros (-1: its input
 * bound), at most what it held, and releases the rest; release charges
 * nothing. One transaction under its account's lock. CD_E_NOT_FOUND (no
 * such hold), CD_E_CONFLICT (not unresolved: out->status says what it
 * is). */
enum cd_err ledger_unresolved_resolve(struct store *db, const char *hold_id, int charge, int64_t micros,
				struct ledger_resolved *out);
/* The same with the journal's note (NULL: the operator's, as above):
 * creditctl hold resolve --from-usage notes the provider's usage. */
enum cd_err ledger_unresolved_resolve_noted(struct store *db, const char *hold_id, int charge, int64_t micros,
					    const char *note, struct ledger_resolved *out);
/* An unresolved hold as creditctl hold resolve --from-usage judges it
 * (docs/reconciliation.md, "Unresolved holds"). */
struct ledger_unresolved_hold {
	char hold_id[LIMIT_HOLD_ID_BYTES];	/* as the API gave it */
	char account[LEDGER_TEXT_BYTES(LIMIT_ACCOUNT_ID_BYTES)];
	char model[LEDGER_TEXT_BYTES(LIMIT_NAME_BYTES)];
	int64_t held_micros, created_at;
	int has_pin;				/* else the model's current prices */
	struct price pin;			/* its pinned token prices */
	int64_t pin_margin_bps;
};
/* The minutes of [from, to) (each a minute's start, with a model; the
 * token counts 0) in which a non-BYOK call of that model began that is
 * still running or whose unresolved hold was resolved already, up to
 * cap, into minutes (*n of them). */
enum cd_err ledger_unresolved_unsafe_minutes(struct store *db, int64_t from, int64_t to,
					     struct ledger_usage_minute *minutes, int cap, int *n);
/* The unresolved holds of models (BYOK left out: the provider bills the
 * caller's own key) made in [from, to), up to cap, by model and time;
 * *more = 1 when there were more (the caller refuses). */
enum cd_err ledger_unresolved_list(struct store *db, int64_t from, int64_t to, struct ledger_unresolved_hold *rows,
				   int cap, int *n, int *more);
/* Counts the unresolved holds into metrics (creditd_gateway_unresolved_holds). */
enum cd_err ledger_unresolved_count(struct store *db);

#endif
