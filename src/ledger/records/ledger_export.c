/* ledger_export.c: an account's journal, read in pages for creditctl
 * export: copied into structs creditctl provides, in the order found; the
 * caller drives the paging and the printing. */
#include "ledger_due.h"
#include <string.h>

static enum cd_err journal_row_copy(const struct dbstmt *s, struct ledger_journal_row *r)
{
	r->seq = store_i64(s, 0);
	ledger_ids_format(r->id, sizeof(r->id), "txn_", r->seq);
	r->amount_micros = store_i64(s, 1);
	r->balance_after_micros = store_i64(s, 2);
	r->has_source = !store_null(s, 4);
	r->has_reference = !store_null(s, 5);
	r->has_description = !store_null(s, 6);
	r->created_at = store_i64(s, 7);
	if (store_copy(s, 3, r->cause, sizeof(r->cause), "") != 0 || store_copy(s, 4, r->source, sizeof(r->source), "") != 0 ||
	    store_copy(s, 5, r->reference, sizeof(r->reference), "") != 0 ||
	    store_copy(s, 6, r->description, sizeof(r->description), "") != 0)
		return CD_E_INTERNAL;
	return CD_OK;
}

static enum cd_err export_tx(struct store *db, const char *id, int64_t after_seq, struct ledger_journal_row *rows,
			     int cap, int *n)
{
	static const char sql[] = "SELECT id, amount_micros, balance_after_micros, cause, source, reference, "
				  "description, created_at FROM journal WHERE account_id = ? AND id > ? "
				  "ORDER BY id LIMIT ?";
	struct acct a;
	int e;
	*n = 0;	/* a retried transaction starts the page again */
	enum cd_err rc = ledger_rows_acct_read(db, id, &a);
	if (rc != CD_OK)
		return rc;
	struct dbstmt *s = store_exec(db, sql, &e, "iii", a.id, after_seq, (int64_t)cap);
	if (s == NULL)
		return store_err(db, e, "export");
	while (*n < cap && store_fetch(s) == 1) {
		rc = journal_row_copy(s, &rows[*n]);
		if (rc != CD_OK)
			return rc;
		(*n)++;
	}
	return CD_OK;
}

enum cd_err ledger_export_next(struct store *db, const char *id, int64_t after_seq, struct ledger_journal_row *rows,
			       int cap, int *n)
{
	struct store_tx t;
	*n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, export_tx(db, id, after_seq, rows, cap, n));
	if (t.rc != CD_OK)
		*n = 0;
	return t.rc;
}
