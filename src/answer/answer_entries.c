/* answer_entries.c: the answers of the writes that append a journal row
 * alone: a debit (the row, and where it left its account) and a grant
 * given (the grant, with that row as its "transaction"). The row's shape
 * is the journal's as GET …/transactions shows it (ledger_rows.c's
 * ledger_rows_journal_entry_json, which the ledger's reads still make):
 * the two must stay alike. */
#include "answer.h"
#include "timefmt.h"
#include <assert.h>

json_t *answer_entries_entry(const struct ledger_entry_done *e)
{
	char id[32], created[TIMEFMT_LEN];
	assert(e->journal_id > 0);
	assert(e->cause[0] != '\0');
	ledger_ids_format(id, sizeof(id), "txn_", e->journal_id);
	timefmt_rfc3339(e->created_at, created);
	/* The row as the journal shows it (a write's has no reference), then
	 * where it left the account. */
	return json_pack("{s:s, s:I, s:I, s:s, s:o, s:o, s:o, s:s, s:s, s:I, s:I}", "id", id, "amount_micros",
			 (json_int_t)e->amount_micros, "balance_after_micros", (json_int_t)e->balance_micros, "cause",
			 e->cause, "source", answer_fields_text(e->source, e->has_source), "reference", json_null(),
			 "description", answer_fields_text(e->description, e->has_description), "created_at", created,
			 "account", e->account, "balance_micros", (json_int_t)e->balance_micros, "available_micros",
			 (json_int_t)e->available_micros);
}

json_t *answer_entries_grant(const struct ledger_grant_done *g)
{
	char id[32];
	const struct ledger_entry_done *e = &g->entry;
	assert(g->grant_id > 0);
	assert(e->has_source);	/* every grant has its source */
	ledger_ids_format(id, sizeof(id), "grant_", g->grant_id);
	json_t *entry = answer_entries_entry(e);
	if (entry == NULL)
		return NULL;
	/* A new grant has all its amount left. */
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:o}", "id", id, "account", e->account,
			 "source", e->source, "amount_micros", (json_int_t)e->amount_micros, "remaining_micros",
			 (json_int_t)e->amount_micros, "priority", (json_int_t)g->priority, "expires_at",
			 answer_fields_time(g->expires_at), "description",
			 answer_fields_text(e->description, e->has_description), "balance_micros",
			 (json_int_t)e->balance_micros, "available_micros", (json_int_t)e->available_micros, "transaction",
			 entry);
}
