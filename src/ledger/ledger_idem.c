/* ledger_idem.c: one idempotent write (see ledger_int.h "One
 * idempotent write"): the Idempotency-Key is claimed in the write's own
 * transaction, its stored answer replayed, or the answer stored with the
 * write; a refusal that is an answer about the ledger's state is stored
 * too, after undoing what the operation wrote. */
#include "ledger_int.h"
#include "log.h"
#include <assert.h>
#include <mysqld_error.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static const char SQL_IDEM_CLAIM[] = "INSERT INTO idempotency_keys (idem_key, request_hash, status, response, created_at, "
				     "tx_mark) VALUES (?, ?, 0, '', ?, ?)";
static const char SQL_IDEM_CLAIM_BEFORE_085[] = "INSERT INTO idempotency_keys (idem_key, request_hash, status, response, "
						"created_at) VALUES (?, ?, 0, '', ?)";
static const char SQL_IDEM_MARK[] = "SELECT tx_mark FROM idempotency_keys WHERE idem_key = ?";
static const char SQL_IDEM_GET[] = "SELECT request_hash, status, response FROM idempotency_keys WHERE idem_key = ?";
static const char SQL_IDEM_STORE[] = "UPDATE idempotency_keys SET status = ?, response = ? WHERE idem_key = ?";
/* Text statements: a savepoint is not a prepared statement's business. */
static const char SQL_SAVEPOINT[] = "SAVEPOINT creditd_write";
static const char SQL_ROLLBACK_TO[] = "ROLLBACK TO SAVEPOINT creditd_write";

static enum cd_err idem_replay(struct store *db, struct ledger_idem *r)
{
	int e;
	struct dbstmt *s = store_exec(db, SQL_IDEM_GET, &e, "s", r->call->idem_key);
	if (s == NULL)
		return store_err(db, e, "idempotency lookup");
	if (store_fetch(s) != 1)
		return store_retry(db, RETRY_RACE);	/* the first claimant rolled back */
	if (store_len(s, 0) != 32 || memcmp(store_str(s, 0), r->call->request_hash, 32) != 0)
		return refusal_set(&db->refusal, REFUSE_KEY_REUSED, NULL, NULL);
	json_error_t jerr;
	r->out = json_loadb(store_str(s, 2), store_len(s, 2), 0, &jerr);
	r->status = (int)store_i64(s, 1);
	r->replayed = 1;
	return r->out != NULL ? CD_OK : CD_E_INTERNAL;
}

/* Stores status and body under the claimed key, in the running
 * transaction: the text as the key's replay answers it. */
static enum cd_err idem_store(struct store *db, const struct ledger_idem *r, int status, const json_t *body)
{
	char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (text == NULL)
		return CD_E_INTERNAL;
	enum cd_err rc = store_do(db, SQL_IDEM_STORE, "idempotency store", "ibs", (int64_t)status, text, strlen(text),
			       r->call->idem_key);
	free(text);
	return rc;
}

/* Stores the operation's answer, rendered by the caller's renderer now:
 * in the transaction that decided it. */
static enum cd_err idem_store_done(struct store *db, const struct ledger_idem *r)
{
	json_t *body = NULL;
	int status = 0;
	assert(r->done->kind != LEDGER_DONE_NONE);	/* the operation answered */
	assert(r->call->render != NULL);
	enum cd_err rc = r->call->render(r->done, &status, &body);
	if (rc == CD_OK && body == NULL)
		rc = CD_E_INTERNAL;
	if (rc == CD_OK)
		rc = idem_store(db, r, status, body);
	else
		log_error("an answer could not be rendered to store (%s)", errors_strerror(rc));
	json_decref(body);
	return rc;
}

/* A refusal the operation decided: worded here, once. One that is an
 * answer about the ledger's state is stored under the key in this same
 * transaction, after undoing whatever the operation wrote (back to the
 * savepoint taken after the claim); the rest roll back whole. */
static enum cd_err write_refused(struct store *db, struct ledger_idem *r, enum cd_err rc, int claimed)
{
	if (db->refusal.why == REFUSE_NONE || refusal_err(db->refusal.why) != rc) {
		log_error("the ledger refused (%s) without saying why", errors_strerror(rc));
		return rc;
	}
	r->out = refusal_json(&db->refusal);
	if (r->out == NULL)
		return CD_E_INTERNAL;
	r->status = errors_status(rc);
	r->refused = 1;
	if (!claimed || !refusal_kept(db->refusal.why))
		return rc;
	rc = store_text(db, SQL_ROLLBACK_TO, "rollback to savepoint");
	if (rc == CD_OK)
		rc = idem_store(db, r, r->status, r->out);
	return rc;
}

void ledger_idem_init(struct store *db, struct ledger_idem *w, const struct ledger_call *call,
		      struct ledger_result *res)
{
	memset(w, 0, sizeof(*w));
	w->call = call != NULL && call->idem_key != NULL ? call : NULL;
	/* A key's answer is stored rendered: whoever gives a key gives the
	 * renderer (a caller's bug otherwise). */
	assert(w->call == NULL || w->call->render != NULL);
	w->done = &res->done;
	store_tx_init(db, &w->tx);
}

/* The key's row, written first, with the transaction's mark on Galera
 * (store_mark_row, sql/085): an abort Galera did not tell between the
 * claim and the first account's lock would otherwise let the operation
 * run on in a new transaction and commit without its claim, to be run
 * again under the same key (and the savepoint's rollback of a refusal
 * kept, after the claim, never takes the claim's mark back). NULL with
 * *e when not written. */
static struct dbstmt *claim_row(struct store *db, const struct ledger_call *call, int *e)
{
	static atomic_int unmarked;	/* idempotency_keys.tx_mark missing: said once */
	struct dbstmt *s;
	if (!atomic_load(&unmarked)) {
		s = store_exec(db, SQL_IDEM_CLAIM, e, "sbii", call->idem_key, (const char *)call->request_hash, (size_t)32,
			       db->now, store_mark_value(db));
		if (s != NULL)
			store_mark_row(db, SQL_IDEM_MARK, call->idem_key);
		if (s != NULL || *e != ER_BAD_FIELD_ERROR)
			return s;
		if (!atomic_exchange(&unmarked, 1))
			log_error("idempotency claim: idempotency_keys.tx_mark is missing: run creditctl migrate (085), "
				  "then restart; until then a Galera abort not told between a key's claim and its first "
				  "lock is not caught before the commit");
	}
	return store_exec(db, SQL_IDEM_CLAIM_BEFORE_085, e, "sbi", call->idem_key, (const char *)call->request_hash,
			  (size_t)32, db->now);
}

/* Starts an attempt: a fresh answer, and the key claimed (with a
 * savepoint after it), or the answer already stored under it. */
static enum cd_err write_claim(struct store *db, struct ledger_idem *w)
{
	const char *key = w->call != NULL ? w->call->idem_key : NULL;
	int e;
	json_decref(w->out);
	w->out = NULL;
	w->status = 0;
	memset(w->done, 0, sizeof(*w->done));
	w->replayed = 0;
	w->refused = 0;
	w->answered = 0;
	memset(&db->refusal, 0, sizeof(db->refusal));
	if (key == NULL)
		return CD_OK;
	struct dbstmt *s = claim_row(db, w->call, &e);
	if (s == NULL && e == ER_DUP_ENTRY) {
		enum cd_err rc = idem_replay(db, w);
		/* Answered from the store (or refused by the key): no operation. */
		w->answered = 1;
		return rc == CD_E_CONFLICT ? write_refused(db, w, rc, 0) : rc;
	}
	if (s == NULL)
		return store_err(db, e, "idempotency claim");
	/* A claim written unmarked (before 085): the transaction's own row
	 * marks it instead, before the savepoint, whose rollback of a kept
	 * refusal would take a later mark back. Nothing when it is marked. */
	enum cd_err rc = store_mark_all(db);
	return rc == CD_OK ? store_text(db, SQL_SAVEPOINT, "savepoint") : rc;
}

int ledger_idem_next(struct store *db, struct ledger_idem *w)
{
	while (store_tx_next(db, &w->tx)) {
		enum cd_err rc = write_claim(db, w);
		if (rc == CD_OK && !w->answered) {
			db->idem_key = w->call != NULL ? w->call->idem_key : NULL;
			db->journal_key = db->idem_key;
			return 1;
		}
		store_tx_end(db, &w->tx, rc);
	}
	return 0;
}

void ledger_idem_step(struct store *db, struct ledger_idem *w, enum cd_err rc)
{
	db->idem_key = NULL;
	db->journal_key = NULL;
	if (rc != CD_OK && rc != CD_E_RETRY && rc != CD_E_DUE && rc != CD_E_UNAVAILABLE && rc != CD_E_INTERNAL) {
		json_decref(w->out);
		w->out = NULL;
		w->done->kind = LEDGER_DONE_NONE;
		rc = write_refused(db, w, rc, w->call != NULL);
	} else if (rc == CD_OK && w->call != NULL) {
		rc = idem_store_done(db, w);
	}
	/* An operation that succeeded answered. */
	assert(rc != CD_OK || w->refused || w->done->kind != LEDGER_DONE_NONE);
	store_tx_end(db, &w->tx, rc);
}

enum cd_err ledger_idem_end(struct store *db, struct ledger_idem *w, struct ledger_result *res)
{
	assert(w->done == &res->done);
	res->body = NULL;
	res->status = 0;
	res->replayed = 0;
	memset(&res->refusal, 0, sizeof(res->refusal));
	if (w->tx.rc != CD_OK && !w->refused) {
		json_decref(w->out);
		res->done.kind = LEDGER_DONE_NONE;
		return w->tx.rc;
	}
	/* Answered: a success (res->done), a replay, or a refusal (stored or
	 * not: res->body). */
	if (w->out != NULL)
		res->done.kind = LEDGER_DONE_NONE;
	res->body = w->out;
	res->status = w->status;
	res->replayed = w->replayed;
	if (w->refused)
		res->refusal = db->refusal;
	return CD_OK;
}
