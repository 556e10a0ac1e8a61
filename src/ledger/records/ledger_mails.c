/* ledger_mails.c: the rows of alerts by email (see ledger.h, "Alerts by
 * email"; sql/050): the mailer's cursor over the outbox, its mail rows,
 * their leases and backoff, and their count for /metrics. */
#include "ledger_int.h"
#include "ledger_rows.h"
#include "metrics.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- The cursor ---- */

static const char SQL_CURSOR[] = "SELECT last_event_id FROM mail_cursor WHERE id = 1 FOR UPDATE";
static const char SQL_CURSOR_START[] = "INSERT IGNORE INTO mail_cursor (id, last_event_id) "
				       "SELECT 1, IFNULL(MAX(id), 0) FROM events";
static const char SQL_SCAN_END[] = "SELECT COUNT(*), IFNULL(MAX(id), ?) FROM (SELECT id FROM events WHERE id > ? "
				   "ORDER BY id LIMIT ?) s";
/* The events of the range to mail: an account with an email, a type
 * listed, young enough to be retried. */
static const char SQL_ENQUEUE[] = "INSERT IGNORE INTO event_mails (event_id, account_id, next_at, created_at) "
	"SELECT e.id, e.account_id, ?, e.created_at FROM events e JOIN accounts a ON a.id = e.account_id "
	"WHERE e.id > ? AND e.id <= ? AND a.email IS NOT NULL AND FIND_IN_SET(e.type, ?) > 0 AND e.created_at + ? > ?";
static const char SQL_CURSOR_MOVE[] = "UPDATE mail_cursor SET last_event_id = ? WHERE id = 1";

static enum cd_err enqueue_tx(struct store *db, const char *types, int64_t retry, int *scanned, int *added)
{
	int e;
	*scanned = *added = 0;
	struct dbstmt *s = store_exec(db, SQL_CURSOR, &e, "");
	if (s == NULL)
		return store_err(db, e, "mail cursor");
	if (store_fetch(s) != 1)	/* none yet: it starts at the newest event */
		return store_do(db, SQL_CURSOR_START, "mail cursor start", "");
	int64_t from = store_i64(s, 0);
	s = store_exec(db, SQL_SCAN_END, &e, "iii", from, from, (int64_t)LIMIT_MAIL_SCAN_EVENTS);
	if (s == NULL)
		return store_err(db, e, "mail scan");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	int64_t count = store_i64(s, 0), to = store_i64(s, 1);
	if (count == 0)
		return CD_OK;
	s = store_exec(db, SQL_ENQUEUE, &e, "iiisii", db->now, from, to, types, retry, db->now);
	if (s == NULL)
		return store_err(db, e, "mail enqueue");
	*added = (int)store_affected(s);
	*scanned = (int)count;
	return store_do(db, SQL_CURSOR_MOVE, "mail cursor move", "i", to);
}

enum cd_err ledger_mails_enqueue(struct store *db, const char *types, int64_t retry_seconds, int *scanned, int *added)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, enqueue_tx(db, types, retry_seconds, scanned, added));
	if (t.rc != CD_OK)
		*scanned = *added = 0;
	return t.rc;
}

/* ---- Claims ---- */

static const char SQL_MAIL_DUE[] = "SELECT m.event_id, m.attempts, m.created_at, e.id IS NULL, e.type, e.data, "
	"a.ext_id, a.email, a.balance_micros FROM event_mails m LEFT JOIN events e ON e.id = m.event_id "
	"LEFT JOIN accounts a ON a.id = m.account_id WHERE m.state = 'pending' AND m.next_at <= ? "
	"ORDER BY m.event_id LIMIT ?";
static const char SQL_MAIL_LEASE[] = "UPDATE event_mails SET next_at = ? WHERE event_id = ? AND state = 'pending' "
	"AND next_at <= ?";
static const char SQL_MAIL_DROP[] = "UPDATE event_mails SET state = 'dropped', last_error = ? WHERE event_id = ? "
	"AND state = 'pending'";

static void mails_free(struct ledger_mail *m, int n)
{
	for (int i = 0; i < n; i++) {
		free(m[i].data);
		m[i].data = NULL;
	}
}

/* Reads the row into *m; 1 when it is to send, 0 when to drop (why set),
 * -1 when out of memory. */
static int mail_of_row(const struct dbstmt *s, struct ledger_mail *m, const char **why)
{
	memset(m, 0, sizeof(*m));
	m->event_id = store_i64(s, 0);
	m->attempts = store_i64(s, 1);
	m->created_at = store_i64(s, 2);
	*why = store_i64(s, 3) ? "the event was purged" : store_null(s, 7) ? "the account has no email any more" : NULL;
	if (*why != NULL)
		return 0;
	m->balance_micros = store_i64(s, 8);
	if (store_copy(s, 4, m->type, sizeof(m->type), "") != 0 ||
	    store_copy(s, 6, m->account, sizeof(m->account), "") != 0 ||
	    store_copy(s, 7, m->email, sizeof(m->email), "") != 0)
		return -1;
	m->data = strdup(store_str(s, 5));
	return m->data != NULL ? 1 : -1;
}

static enum cd_err claim_tx(struct store *db, struct ledger_mail *out, int max, int64_t lease, int *claimed)
{
	struct ledger_mail due[LIMIT_MAIL_BATCH];
	const char *why[LIMIT_MAIL_BATCH];
	int send[LIMIT_MAIL_BATCH];
	int n = 0, e, got;
	mails_free(out, *claimed);
	*claimed = 0;
	struct dbstmt *s = store_exec(db, SQL_MAIL_DUE, &e, "ii", db->now, (int64_t)max);
	if (s == NULL)
		return store_err(db, e, "mails due");
	while (n < max && n < LIMIT_MAIL_BATCH && (got = store_fetch(s)) == 1) {
		send[n] = mail_of_row(s, &due[n], &why[n]);
		if (send[n] < 0) {
			mails_free(due, n + 1);
			return CD_E_INTERNAL;
		}
		n++;
	}
	enum cd_err rc = CD_OK;
	for (int i = 0; i < n; i++) {
		struct dbstmt *l = NULL;
		if (rc == CD_OK && !send[i])
			rc = store_do(db, SQL_MAIL_DROP, "mail drop", "si", why[i], due[i].event_id);
		else if (rc == CD_OK && (l = store_exec(db, SQL_MAIL_LEASE, &e, "iii", db->now + lease,
						      due[i].event_id, db->now)) == NULL)
			rc = store_err(db, e, "mail lease");
		if (rc == CD_OK && l != NULL && store_affected(l) == 1) {
			out[(*claimed)++] = due[i];
			continue;
		}
		mails_free(&due[i], 1);	/* dropped, or another process took it */
	}
	return rc;
}

enum cd_err ledger_mails_claim(struct store *db, struct ledger_mail *out, int max, int64_t lease_seconds, int *n)
{
	struct store_tx t;
	int claimed = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, claim_tx(db, out, max, lease_seconds, &claimed));
	if (t.rc != CD_OK) {
		mails_free(out, claimed);
		claimed = 0;
	}
	*n = claimed;
	return t.rc;
}

static const char SQL_MAIL_SENT[] = "UPDATE event_mails SET state = 'sent', delivered_at = ?, attempts = attempts + 1, "
	"last_error = NULL WHERE event_id = ?";
static const char SQL_MAIL_FAILED[] = "UPDATE event_mails SET state = IF(created_at + ? <= ?, 'failed', 'pending'), "
	"attempts = attempts + 1, next_at = ? + LEAST(POW(2, LEAST(attempts, 20)), ?), last_error = ? "
	"WHERE event_id = ? AND state = 'pending'";

static enum cd_err sent_tx(struct store *db, int64_t id, int ok, const char *error, int64_t retry_seconds)
{
	if (ok)
		return store_do(db, SQL_MAIL_SENT, "mail sent", "ii", db->now, id);
	return store_do(db, SQL_MAIL_FAILED, "mail failed", "iiiisi", retry_seconds, db->now, db->now,
			(int64_t)LIMIT_MAIL_BACKOFF_MAX_SECONDS, error != NULL ? error : "", id);
}

enum cd_err ledger_mail_sent(struct store *db, int64_t event_id, int ok, const char *error, int64_t retry_seconds)
{
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, sent_tx(db, event_id, ok, error, retry_seconds));
	return t.rc;
}

/* ---- /metrics ---- */

static enum cd_err count_tx(struct store *db, int64_t *n)
{
	static const char sql[] = "SELECT COUNT(*) FROM (SELECT 1 FROM event_mails WHERE state = 'pending' LIMIT ?) p";
	int e;
	struct dbstmt *s = store_exec(db, sql, &e, "i", (int64_t)LIMIT_OUTBOX_COUNT_ROWS);
	if (s == NULL)
		return store_err(db, e, "mail count");
	if (store_fetch(s) != 1)
		return CD_E_INTERNAL;
	*n = store_i64(s, 0);
	return CD_OK;
}

enum cd_err ledger_mails_count(struct store *db)
{
	struct store_tx t;
	int64_t n = 0;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, count_tx(db, &n));
	if (t.rc == CD_OK)
		metrics_mail_pending((long long)n);
	return t.rc;
}
