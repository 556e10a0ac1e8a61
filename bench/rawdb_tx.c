/* rawdb_tx.c: rawdb's transactions (see rawdb.c) in the statements,
 * call and scripts versions. */
#include "rawdb.h"

/* ---- The two transactions ---- */
int64_t month_key_of(int64_t now)
{
	time_t t = (time_t)now;
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL)
		return 0;
	return (int64_t)(tm.tm_year + 1900) * 100 + tm.tm_mon + 1;
}

/* Reads the locked account row of ST_ACCT_LOCK or ST_ACCT_LOCK_ID and
 * rolls the month over as creditd's acct_touch does. Expiry sweeps are not
 * run: the bench's holds (ttl 600 s) do not come due during a run. */
static int acct_load(struct conn *c, enum stmt_id id, struct acct *a, int64_t now)
{
	struct stmt *s = &c->s[id];
	int got = fetch(s);
	if (got != 1)
		return got == 0 ? E_NOT_FOUND : E_CLIENT;
	a->id = col_i64(s, 0, 0);
	snprintf(a->status, sizeof(a->status), "%s", col_str(s, 3) != NULL ? col_str(s, 3) : "");
	a->balance = col_i64(s, 4, 0);
	a->reserved = col_i64(s, 5, 0);
	a->overdraft = col_i64(s, 6, 0);
	a->monthly_limit = col_i64(s, 7, -1);
	a->month_key = col_i64(s, 10, 0);
	a->month_spent = col_i64(s, 11, 0);
	a->sweep_due_at = col_i64(s, 12, -1);
	if (a->month_key != month_key_of(now)) {
		a->month_key = month_key_of(now);
		a->month_spent = 0;
	}
	return 0;
}

static int acct_store(struct conn *c, const struct acct *a)
{
	const int64_t *due = a->sweep_due_at >= 0 ? &a->sweep_due_at : NULL;
	return exec(c, ST_ACCT_STORE, "iiiiIi", a->balance, a->reserved, a->month_key, a->month_spent, due, a->id);
}

/* authorize = SELECT account FOR UPDATE, INSERT hold, UPDATE account (COMMIT by the caller). */
int authorize_tx(struct conn *c, struct pair *p, int64_t now)
{
	struct acct a;
	int e = exec(c, ST_ACCT_LOCK, "s", p->account);
	if (e == 0)
		e = acct_load(c, ST_ACCT_LOCK, &a, now);
	if (e != 0)
		return e;
	if (strcmp(a.status, "active") != 0 || opt.hold_micros > a.balance - a.reserved + a.overdraft ||
	    (a.monthly_limit >= 0 && a.month_spent + a.reserved + opt.hold_micros > a.monthly_limit))
		return E_REFUSED;
	int64_t expires_at = now + opt.ttl_s;
	p->account_id = a.id;
	e = exec(c, ST_HOLD_ADD, "isssssiiii", a.id, p->request_id, (const char *)NULL, opt.model,
		 (const char *)NULL, (const char *)NULL, opt.hold_micros, (int64_t)0, expires_at, now);
	if (e != 0)
		return e;
	p->hold_id = (int64_t)mysql_stmt_insert_id(c->s[ST_HOLD_ADD].st);
	a.reserved += opt.hold_micros;
	if (a.sweep_due_at < 0 || expires_at < a.sweep_due_at)
		a.sweep_due_at = expires_at;
	return acct_store(c, &a);
}

/* Burns `amount` from the spendable grants in creditd's order. */
static int spend(struct conn *c, const struct acct *a, int64_t amount)
{
	int64_t ids[GRANTS_PER_SPEND], left[GRANTS_PER_SPEND];
	int n = 0;
	if (a->balance > 0) {
		int e = exec(c, ST_GRANTS_SPENDABLE, "i", a->id);
		if (e != 0)
			return e;
		while (n < GRANTS_PER_SPEND && fetch(&c->s[ST_GRANTS_SPENDABLE]) == 1) {
			ids[n] = col_i64(&c->s[ST_GRANTS_SPENDABLE], 0, 0);
			left[n] = col_i64(&c->s[ST_GRANTS_SPENDABLE], 1, 0);
			n++;
		}
	}
	for (int i = 0; i < n && amount > 0; i++) {
		int64_t take = left[i] < amount ? left[i] : amount;
		int e = exec(c, ST_GRANT_SET, "ii", left[i] - take, ids[i]);
		if (e != 0)
			return e;
		amount -= take;
	}
	return amount > 0 ? E_DEBT : 0;
}

/* settle = SELECT account FOR UPDATE (by id), SELECT hold FOR UPDATE, SELECT
 * spendable grants FOR UPDATE, UPDATE grant, INSERT journal, INSERT
 * usage_records, UPDATE account, UPDATE hold (COMMIT by the caller). */
int settle_tx(struct conn *c, const struct pair *p, int64_t now)
{
	struct acct a;
	char ref[64], response[512], request_id[TEXT_MAX];
	unsigned char hash[32];
	int e, hc = 0;
	struct stmt *h;
	e = exec(c, ST_ACCT_LOCK_ID, "i", p->account_id);
	if (e == 0)
		e = acct_load(c, ST_ACCT_LOCK_ID, &a, now);
	if (e == 0)
		e = exec(c, ST_HOLD_LOCK, "ii", p->hold_id, p->account_id);
	h = &c->s[ST_HOLD_LOCK];
	if (e == 0 && fetch(h) != 1)
		e = E_NOT_FOUND;
	if (e != 0)
		return e;
	const char *state = col_str(h, hc + 1);
	if (state == NULL || strcmp(state, "pending") != 0)
		return E_STATE;
	int64_t amount = col_i64(h, hc + 2, 0), cost = opt.cost_micros;
	snprintf(request_id, sizeof(request_id), "%s", col_str(h, hc + 12) != NULL ? col_str(h, hc + 12) : "");
	a.reserved -= amount;
	int64_t released = amount > cost ? amount - cost : 0;
	a.month_spent += cost;
	snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, a.id, p->hold_id);
	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(p->hold_id >> (8 * (i % 8)));
	if (cost > 0) {
		e = spend(c, &a, cost);
		if (e == 0)
			e = exec(c, ST_JOURNAL_ADD, "iiissIIssi", a.id, -cost, a.balance - cost, "usage",
				 (const char *)NULL, (const int64_t *)NULL, &p->hold_id, ref, (const char *)NULL, now);
		if (e != 0)
			return e;
		a.balance -= cost;
	}
	e = exec(c, ST_USAGE_ADD, "iIssssiiiiissbi", a.id, &p->hold_id, (const char *)NULL, (const char *)NULL,
		 opt.model, (const char *)NULL, opt.input_tokens, (int64_t)0, opt.output_tokens, cost, (int64_t)0,
		 request_id, (const char *)NULL, (const char *)NULL, (size_t)0, now);
	if (e == 0)
		e = acct_store(c, &a);
	if (e != 0)
		return e;
	snprintf(response, sizeof(response),
		 "{\"hold_id\":\"%s\",\"charged_micros\":%" PRId64 ",\"released_micros\":%" PRId64
		 ",\"balance_micros\":%" PRId64 ",\"available_micros\":%" PRId64 ",\"late\":false}",
		 ref, cost, released, a.balance, a.balance - a.reserved + a.overdraft);
	return exec(c, ST_HOLD_SETTLED, "ibsii", cost, (const char *)hash, sizeof(hash), response, now, p->hold_id);
}

/* ---- The call version: the database floor ---- */

/* A floor procedure's status: 0, or one of our own errors (it has rolled
 * back). */
static int floor_status(int64_t status)
{
	return status >= 0 && status <= E_DEBT ? (int)status : E_CLIENT;
}

/* authorize = CALL bench_floor_authorize: locks, checks, writes and commits. */
int authorize_call(struct conn *c, struct pair *p, int64_t now)
{
	int64_t row[3] = {0, 0, 0};
	int e = call_run(c, ST_FLOOR_AUTHORIZE, row, 3, "sssiii", p->account, p->request_id, opt.model,
			 opt.hold_micros, (int64_t)opt.ttl_s, now);
	if (e == 0)
		e = floor_status(row[0]);
	if (e == 0 && row[1] <= 0)
		e = E_CLIENT;
	p->hold_id = row[1];
	p->account_id = row[2];
	return e;
}

/* settle = CALL bench_floor_settle, with the settle hash the statements
 * version stores. */
int settle_call(struct conn *c, const struct pair *p, int64_t now)
{
	int64_t row[2] = {0, 0};
	unsigned char hash[32];
	for (size_t i = 0; i < sizeof(hash); i++)
		hash[i] = (unsigned char)(p->hold_id >> (8 * (i % 8)));
	int e = call_run(c, ST_FLOOR_SETTLE, row, 2, "iiiiibi", p->account_id, p->hold_id, opt.cost_micros,
			 opt.input_tokens, opt.output_tokens, (const char *)hash, sizeof(hash), now);
	return e == 0 ? floor_status(row[0]) : e;
}

/* ---- The scripts version: creditd's batches ---- */

/* creditd's src/ledger/guard/ledger_batch.c HOLD_COLS, bare and for "h." */
#define SCRIPT_HOLD_COLS "id, account_id, state, amount_micros, byok, model, action, member, conversation_id, " \
	"expires_at, charged_micros, settle_hash, settle_response, request_id"
#define SCRIPT_HOLD_COLS_H "h.id, h.account_id, h.state, h.amount_micros, h.byok, h.model, h.action, h.member, " \
	"h.conversation_id, h.expires_at, h.charged_micros, h.settle_hash, h.settle_response, h.request_id"

void sb(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->cap == 0 && (b->p = malloc(b->cap = 64 * 1024)) == NULL)
		b->cap = 0;
	if (b->p == NULL || b->failed)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0 || b->len + (size_t)n >= b->cap) {
		b->failed = b->len + (size_t)n >= SCRIPT_MAX || n < 0;
		char *q = b->failed ? NULL : realloc(b->p, b->cap * 2);
		if (q == NULL) {
			b->failed = 1;
			return;
		}
		b->p = q;
		b->cap *= 2;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* What the reads of a batch found: its accounts, holds and grants. */
struct sacct { struct acct a; char ext[TEXT_MAX]; int changed; };
struct sbatch {
	struct sacct acct[BATCH_MAX];
	int nacct;
	struct sgrant grant[BATCH_MAX * 4];
	int ngrant;
	struct pair *p;
	int n;
	int64_t hold_amount[BATCH_MAX];
	char hold_state[BATCH_MAX][16];
	int64_t now;
	int settling;			/* set 1 is the settled holds */
};

static struct sacct *sacct_by_id(struct sbatch *b, int64_t id)
{
	for (int i = 0; i < b->nacct; i++)
		if (b->acct[i].a.id == id)
			return &b->acct[i];
	return NULL;
}

static struct sacct *sacct_by_ext(struct sbatch *b, const char *ext)
{
	for (int i = 0; i < b->nacct; i++)
		if (strcmp(b->acct[i].ext, ext) == 0)
			return &b->acct[i];
	return NULL;
}

/* Runs a script in one round trip, handing each result set to rows. */
static int script_run(struct conn *c, struct sbuf *s, void (*rows)(struct sbatch *, int, MYSQL_RES *),
		      struct sbatch *b)
{
	int set = 0, st;
	if (s->failed)
		return E_CLIENT;
	c->round_trips++;
	st = mysql_real_query(c->db, s->p, (unsigned long)s->len);
	s->len = 0;
	if (st != 0)
		return (int)mysql_errno(c->db);
	do {
		MYSQL_RES *res = mysql_store_result(c->db);
		if (res != NULL) {
			rows(b, set++, res);
			mysql_free_result(res);
		} else if (mysql_field_count(c->db) != 0) {
			return (int)mysql_errno(c->db);
		}
		st = mysql_next_result(c->db);
	} while (st == 0);
	return st > 0 ? (int)mysql_errno(c->db) : 0;
}

static int64_t row_i64(MYSQL_ROW r, int col, int64_t if_null)
{
	return r[col] != NULL ? (int64_t)strtoll(r[col], NULL, 10) : if_null;
}

/* The account rows (set 0), then holds or grants. */
static void read_rows(struct sbatch *b, int set, MYSQL_RES *res)
{
	MYSQL_ROW r;
	while ((r = mysql_fetch_row(res)) != NULL) {
		if (set == 0 && b->nacct < BATCH_MAX) {
			struct sacct *s = &b->acct[b->nacct++];
			memset(s, 0, sizeof(*s));
			s->a.id = row_i64(r, 0, 0);
			snprintf(s->ext, sizeof(s->ext), "%s", r[1] != NULL ? r[1] : "");
			snprintf(s->a.status, sizeof(s->a.status), "%s", r[3] != NULL ? r[3] : "");
			s->a.balance = row_i64(r, 4, 0);
			s->a.reserved = row_i64(r, 5, 0);
			s->a.overdraft = row_i64(r, 6, 0);
			s->a.monthly_limit = row_i64(r, 7, -1);
			s->a.month_key = row_i64(r, 10, 0);
			s->a.month_spent = row_i64(r, 11, 0);
			s->a.sweep_due_at = row_i64(r, 12, -1);
			if (s->a.month_key != month_key_of(b->now)) {
				s->a.month_key = month_key_of(b->now);
				s->a.month_spent = 0;
			}
		} else if (set == 1 && b->settling) {		/* settle: the holds */
			for (int i = 0; i < b->n; i++) {
				if (b->p[i].hold_id == row_i64(r, 0, 0)) {
					snprintf(b->hold_state[i], sizeof(b->hold_state[i]), "%s", r[2] != NULL ? r[2] : "");
					b->hold_amount[i] = row_i64(r, 3, 0);
				}
			}
		} else if (set == 2 && b->ngrant < BATCH_MAX * 4) {	/* settle: the grants */
			struct sgrant *g = &b->grant[b->ngrant++];
			memset(g, 0, sizeof(*g));
			g->id = row_i64(r, 0, 0);
			g->account = row_i64(r, 1, 0);
			g->remaining = row_i64(r, 2, 0);
			g->debt = row_i64(r, 3, 0) != 0;
		}
	}
}

/* INSERT ... RETURNING: each new hold's id, by request_id. */
static void hold_ids(struct sbatch *b, int set, MYSQL_RES *res)
{
	MYSQL_ROW r;
	(void)set;
	while ((r = mysql_fetch_row(res)) != NULL)
		for (int i = 0; i < b->n; i++)
			if (r[2] != NULL && strcmp(b->p[i].request_id, r[2]) == 0) {
				b->p[i].hold_id = row_i64(r, 0, 0);
				b->p[i].account_id = row_i64(r, 1, 0);
			}
}

/* The accounts' UPDATE, CASE on the id, as creditd's write_accounts. */
static void accounts_update(struct sbuf *s, struct sbatch *b)
{
	static const char *const cols[] = {"balance_micros", "reserved_micros", "month_key", "month_spent_micros",
					   "sweep_due_at"};
	sb(s, "UPDATE accounts SET ");
	for (int c = 0; c < 5; c++) {
		sb(s, "%s%s = CASE id", c ? ", " : "", cols[c]);
		for (int i = 0; i < b->nacct; i++) {
			const struct acct *a = &b->acct[i].a;
			const int64_t v[] = {a->balance, a->reserved, a->month_key, a->month_spent, a->sweep_due_at};
			if (!b->acct[i].changed)
				continue;
			if (c == 4 && v[c] < 0)
				sb(s, " WHEN %" PRId64 " THEN NULL", a->id);
			else
				sb(s, " WHEN %" PRId64 " THEN %" PRId64, a->id, v[c]);
		}
		sb(s, " END");
	}
	sb(s, " WHERE id IN (");
	for (int i = 0, n = 0; i < b->nacct; i++)
		if (b->acct[i].changed)
			sb(s, "%s%" PRId64, n++ ? ", " : "", b->acct[i].a.id);
	sb(s, ");\nCOMMIT;\n");
}

/* n authorizes in one transaction: creditd's read script (accounts by
 * external id, replays by request_id), then its write script. */
int authorize_script(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct sbuf ts;
	static __thread struct sbatch tb;
	struct sbatch *b = &tb;
	memset(b, 0, offsetof(struct sbatch, grant));
	b->p = p;
	b->n = n;
	b->now = now;
	sb(&ts, "SELECT " ACCT_COLS " FROM accounts WHERE ext_id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s'%s'", i ? ", " : "", p[i].account);
	sb(&ts, ") ORDER BY id FOR UPDATE;\nSELECT " SCRIPT_HOLD_COLS " FROM holds WHERE ");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s(account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND request_id = '%s')",
		   i ? " OR " : "", p[i].account, p[i].request_id);
	sb(&ts, ";\n");
	int e = script_run(c, &ts, read_rows, b);
	if (e != 0)
		return e;
	int64_t expires_at = now + opt.ttl_s;
	sb(&ts, "INSERT INTO holds (account_id, request_id, member, model, action, conversation_id, amount_micros, "
	   "byok, expires_at, created_at) VALUES ");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_ext(b, p[i].account);
		if (sa == NULL)
			return E_NOT_FOUND;
		struct acct *a = &sa->a;
		if (strcmp(a->status, "active") != 0 || opt.hold_micros > a->balance - a->reserved + a->overdraft ||
		    (a->monthly_limit >= 0 && a->month_spent + a->reserved + opt.hold_micros > a->monthly_limit))
			return E_REFUSED;
		a->reserved += opt.hold_micros;
		if (a->sweep_due_at < 0 || expires_at < a->sweep_due_at)
			a->sweep_due_at = expires_at;
		sa->changed = 1;
		sb(&ts, "%s(%" PRId64 ", '%s', NULL, '%s', NULL, NULL, %" PRId64 ", 0, %" PRId64 ", %" PRId64 ")",
		   i ? ", " : "", a->id, p[i].request_id, opt.model, opt.hold_micros, expires_at, now);
	}
	sb(&ts, " RETURNING id, account_id, request_id;\n");
	accounts_update(&ts, b);
	e = script_run(c, &ts, hold_ids, b);
	for (int i = 0; e == 0 && i < n; i++)
		if (p[i].hold_id <= 0)
			e = E_CLIENT;
	return e;
}

/* n settles in one transaction: creditd's read script (accounts by id,
 * holds with their members, grants in spending order), then its writes. */
int settle_script(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct sbuf ts;
	static __thread struct sbatch tb;
	struct sbatch *b = &tb;
	char ref[64];
	memset(b, 0, sizeof(*b));
	b->p = p;
	b->n = n;
	b->now = now;
	b->settling = 1;
	sb(&ts, "SELECT " ACCT_COLS " FROM accounts WHERE id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].account_id);
	sb(&ts, ") ORDER BY id FOR UPDATE;\nSELECT " SCRIPT_HOLD_COLS_H ", m.account_id, m.member, m.monthly_cap_micros, "
	   "m.month_key, m.month_spent_micros, m.reserved_micros FROM holds h LEFT JOIN members m ON m.account_id = "
	   "h.account_id AND m.member = h.member WHERE ");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s(h.id = %" PRId64 " AND h.account_id = %" PRId64 ")", i ? " OR " : "", p[i].hold_id,
		   p[i].account_id);
	sb(&ts, " ORDER BY h.id FOR UPDATE;\nSELECT id, account_id, remaining_micros, source = 'debt' FROM grants "
	   "WHERE account_id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].account_id);
	sb(&ts, ") AND (remaining_micros > 0 OR source = 'debt') ORDER BY account_id, source = 'debt', priority, "
	   "expires_at IS NULL, expires_at, id;\n");
	int e = script_run(c, &ts, read_rows, b);
	if (e != 0)
		return e;
	int64_t cost = opt.cost_micros;
	struct sbuf journal = {0};
	sb(&ts, "INSERT INTO usage_records (account_id, hold_id, usage_key, member, model, action, input_tokens, "
	   "cached_input_tokens, output_tokens, cost_micros, byok, request_id, conversation_id, request_hash, "
	   "created_at) VALUES ");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_id(b, p[i].account_id);
		if (sa == NULL || strcmp(b->hold_state[i], "pending") != 0) {
			free(journal.p);
			return sa == NULL ? E_NOT_FOUND : E_STATE;
		}
		struct acct *a = &sa->a;
		a->reserved -= b->hold_amount[i];
		a->month_spent += cost;
		sa->changed = 1;
		int64_t left = cost;
		for (int g = 0; g < b->ngrant && left > 0; g++) {
			struct sgrant *gr = &b->grant[g];
			if (gr->account != a->id || gr->debt || gr->remaining <= 0)
				continue;
			int64_t take = gr->remaining < left ? gr->remaining : left;
			gr->remaining -= take;
			gr->changed = 1;
			left -= take;
		}
		if (left > 0) {
			free(journal.p);
			return E_DEBT;
		}
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, a->id, p[i].hold_id);
		sb(&journal, "%s(%" PRId64 ", %" PRId64 ", %" PRId64 ", 'usage', NULL, NULL, %" PRId64 ", '%s', "
		   "'settle:%s', NULL, %" PRId64 ")", i ? ", " : "", a->id, -cost, a->balance - cost, p[i].hold_id, ref,
		   ref, now);
		a->balance -= cost;
		sb(&ts, "%s(%" PRId64 ", %" PRId64 ", NULL, NULL, '%s', NULL, %" PRId64 ", 0, %" PRId64 ", %" PRId64
		   ", 0, '%s', NULL, NULL, %" PRId64 ")", i ? ", " : "", a->id, p[i].hold_id, opt.model,
		   opt.input_tokens, opt.output_tokens, cost, p[i].request_id, now);
	}
	/* The settled holds, their answers stored: one UPDATE, CASE on the id. */
	sb(&ts, ";\nUPDATE holds SET finished_at = %" PRId64 ", state = CASE id", now);
	for (int i = 0; i < n; i++)
		sb(&ts, " WHEN %" PRId64 " THEN 'settled'", p[i].hold_id);
	sb(&ts, " ELSE state END, charged_micros = CASE id");
	for (int i = 0; i < n; i++)
		sb(&ts, " WHEN %" PRId64 " THEN %" PRId64, p[i].hold_id, cost);
	sb(&ts, " ELSE charged_micros END, settle_hash = CASE id");
	for (int i = 0; i < n; i++) {
		sb(&ts, " WHEN %" PRId64 " THEN X'", p[i].hold_id);
		for (int k = 0; k < 32; k++)
			sb(&ts, "%02x", (unsigned int)(p[i].hold_id >> (8 * (k % 8))) & 0xff);
		sb(&ts, "'");
	}
	sb(&ts, " ELSE settle_hash END, settle_response = CASE id");
	for (int i = 0; i < n; i++) {
		struct sacct *sa = sacct_by_id(b, p[i].account_id);
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, sa->a.id, p[i].hold_id);
		sb(&ts, " WHEN %" PRId64 " THEN '{\\\"hold_id\\\":\\\"%s\\\",\\\"account\\\":\\\"%s\\\","
		   "\\\"charged_micros\\\":%" PRId64 ",\\\"released_micros\\\":%" PRId64 ",\\\"balance_micros\\\":%"
		   PRId64 ",\\\"available_micros\\\":%" PRId64 ",\\\"late\\\":false}'", p[i].hold_id, ref, sa->ext, cost,
		   b->hold_amount[i] > cost ? b->hold_amount[i] - cost : 0, sa->a.balance,
		   sa->a.balance - sa->a.reserved + sa->a.overdraft);
	}
	sb(&ts, " ELSE settle_response END WHERE id IN (");
	for (int i = 0; i < n; i++)
		sb(&ts, "%s%" PRId64, i ? ", " : "", p[i].hold_id);
	sb(&ts, ");\nUPDATE grants SET remaining_micros = CASE id");
	for (int g = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(&ts, " WHEN %" PRId64 " THEN %" PRId64, b->grant[g].id, b->grant[g].remaining);
	sb(&ts, " END WHERE id IN (");
	for (int g = 0, k = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(&ts, "%s%" PRId64, k++ ? ", " : "", b->grant[g].id);
	sb(&ts, ");\nINSERT INTO journal (account_id, amount_micros, balance_after_micros, cause, source, grant_id, "
	   "hold_id, reference, idempotency_key, description, created_at) VALUES %s;\n", journal.p != NULL ? journal.p : "");
	free(journal.p);
	accounts_update(&ts, b);
	return script_run(c, &ts, read_rows, b);
}

