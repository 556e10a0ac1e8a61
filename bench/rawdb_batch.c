/* rawdb_batch.c: rawdb's transactions (see rawdb.c) in the batch
 * version. */
#include "rawdb.h"

/* ---- The batch version: creditd's two CALLs ----
 * Each transaction is CALL cd_batch_read(1, page, its lists), then CALL
 * cd_batch_write(now, 1, its lists), which commits: the lists are the
 * ones src/ledger/guard/ledger_load.c (read_doc) and src/ledger/guard/ledger_batch.c (write_doc)
 * write for the same operations, bound one parameter each as creditd
 * binds them (src/store/store_sets.c store_sets_bind_list: an empty list is SQL
 * NULL), with the guard's decisions (src/ledger/guard/ledger_holds_run.c) made here on the
 * rows the first CALL returned. */

#define SET_COLS_MAX 40			/* the widest set (cd_batch_read's accounts) has 37 columns */
#define CELL_BYTES 160			/* values read: ids, numbers, states, external ids (128 bytes) */
#define BATCH_GRANTS (BATCH_MAX * 4)	/* the bench's accounts have 1 or 2 grants each */
#define LISTS_MAX 12			/* cd_batch_write has 12 lists, cd_batch_read 9 */
#define SPEND_GRANTS_PAGE (GRANTS_PER_SPEND + 1)	/* creditd's p_page: one more says there are more */
_Static_assert(2 + LISTS_MAX <= PARAMS_MAX, "a CALL's numbers and lists fit the binds");

/* cd_batch_read's accounts set: its name column, then src/ledger/ledger_rows.c
 * acct_from_row_at's columns in their order. */
enum {
	BA_ID = 1, BA_EXT, BA_KIND, BA_STATUS, BA_BALANCE, BA_RESERVED, BA_OVERDRAFT, BA_MONTHLY_LIMIT,
	BA_LOW_BALANCE, BA_PLAN, BA_MONTH_KEY, BA_MONTH_SPENT, BA_SWEEP_DUE, BA_CREATED, BA_STRIPE,
	BA_DAILY_LIMIT, BA_DAY_KEY, BA_DAY_SPENT, BA_PLAN_PERIOD, BA_LOW_NOTED, BA_DEPLETED_NOTED,
	BA_LIMIT_MONTH_NOTED, BA_LIMIT_DAY_NOTED, BA_RECHARGE_THRESHOLD, BA_RECHARGE_CENTS, BA_RECHARGE_CARD,
	BA_RECHARGE_PENDING, BA_RECHARGE_FAILURES, BA_RECHARGE_DAY_KEY, BA_RECHARGE_DAY_COUNT, BA_RPM, BA_TPM,
	BA_RATE_MINUTE, BA_RATE_REQUESTS, BA_RATE_TOKENS, BA_STATUS_REASON, BA_NCOLS
};
_Static_assert(BA_NCOLS <= SET_COLS_MAX, "the accounts set fits a row");

/* The columns cd_batch_write's "accounts" rows carry, in their order
 * (src/ledger/guard/ledger_batch.c write_accounts). */
static const int acct_write_cols[] = {
	BA_ID, BA_BALANCE, BA_RESERVED, BA_MONTH_KEY, BA_MONTH_SPENT, BA_SWEEP_DUE, BA_DAY_KEY, BA_DAY_SPENT,
	BA_LOW_NOTED, BA_DEPLETED_NOTED, BA_LIMIT_MONTH_NOTED, BA_LIMIT_DAY_NOTED, BA_RECHARGE_PENDING,
	BA_RECHARGE_DAY_KEY, BA_RECHARGE_DAY_COUNT, BA_RATE_MINUTE, BA_RATE_REQUESTS, BA_RATE_TOKENS
};

/* One row of a result set, as text; a value longer than CELL_BYTES - 1
 * is cut, and reading it as a string is an error. */
struct brow {
	char cell[SET_COLS_MAX][CELL_BYTES];
	unsigned long len[SET_COLS_MAX];
	my_bool isnull[SET_COLS_MAX], cut[SET_COLS_MAX];
	unsigned int ncols;
	int bad;			/* a string read was cut or missing */
};

static const char *brow_str(struct brow *r, unsigned int col)
{
	if (col >= r->ncols || r->len[col] >= CELL_BYTES) {
		r->bad = 1;
		return "";
	}
	if (r->isnull[col])
		return NULL;
	r->cell[col][r->len[col]] = '\0';
	return r->cell[col];
}

static int64_t brow_i64(struct brow *r, unsigned int col, int64_t if_null)
{
	const char *v = brow_str(r, col);
	return v != NULL ? (int64_t)strtoll(v, NULL, 10) : if_null;
}

/* Copies a string value ("" for NULL) into dst of cap bytes; one that
 * does not fit is an error (r->bad). */
static void brow_copy(struct brow *r, unsigned int col, char *dst, size_t cap)
{
	const char *v = brow_str(r, col);
	size_t n = v != NULL ? strlen(v) : 0;
	if (n >= cap) {
		r->bad = 1;
		n = 0;
	}
	memcpy(dst, v != NULL ? v : "", n);
	dst[n] = '\0';
}

/* An account as read: its numeric columns (NULL as -1 where creditd
 * reads it so, otherwise 0) and the strings the guard looks at. */
struct bacct {
	int64_t v[BA_NCOLS];
	char ext[TEXT_MAX], status[16];
	int changed;
};

struct bhold {
	int64_t id, account, amount, rate_minute, rate_tokens;
	char state[16], model[TEXT_MAX], request_id[TEXT_MAX];
};

/* What one transaction's CALLs read, and what it decided. */
struct bbatch {
	struct bacct acct[BATCH_MAX];
	int nacct;
	struct bhold hold[BATCH_MAX];
	int nhold;
	struct sgrant grant[BATCH_GRANTS];
	int ngrant;
	int64_t new_hold[BATCH_MAX];	/* new_holds: each new hold's id, by its place */
	int64_t now;
	int over;			/* a set had more rows than the arrays hold */
};

static int acct_col_nullable(int col)
{
	return col == BA_MONTHLY_LIMIT || col == BA_LOW_BALANCE || col == BA_SWEEP_DUE || col == BA_DAILY_LIMIT ||
	       col == BA_RECHARGE_THRESHOLD || col == BA_RECHARGE_CENTS || col == BA_RPM || col == BA_TPM;
}

static void batch_account_row(struct bbatch *b, struct brow *r)
{
	if (b->nacct == BATCH_MAX) {
		b->over = 1;
		return;
	}
	struct bacct *a = &b->acct[b->nacct++];
	memset(a, 0, sizeof(*a));
	for (int col = BA_ID; col < BA_NCOLS; col++) {
		if (col == BA_EXT || col == BA_KIND || col == BA_STATUS || col == BA_PLAN || col == BA_STRIPE ||
		    col == BA_STATUS_REASON)
			continue;
		a->v[col] = r->isnull[col] && col < (int)r->ncols ? (acct_col_nullable(col) ? -1 : 0)
								    : brow_i64(r, (unsigned int)col, 0);
	}
	brow_copy(r, BA_EXT, a->ext, sizeof(a->ext));
	brow_copy(r, BA_STATUS, a->status, sizeof(a->status));
}

/* One row of a set, by the set's name (its first column): the accounts,
 * the holds (id, account, state, amount, ... model 6, ... request_id 14,
 * ... rate_minute 20, rate_tokens 21), the grants (id, account,
 * remaining, is debt) and new_holds (place, id). Other sets are read and
 * dropped. */
static int batch_row(struct bbatch *b, const char *set, struct brow *r)
{
	if (strcmp(set, "accounts") == 0) {
		batch_account_row(b, r);
	} else if (strcmp(set, "holds") == 0 && b->nhold < BATCH_MAX) {
		struct bhold *h = &b->hold[b->nhold++];
		h->id = brow_i64(r, 1, 0);
		h->account = brow_i64(r, 2, 0);
		h->amount = brow_i64(r, 4, 0);
		h->rate_minute = brow_i64(r, 20, -1);
		h->rate_tokens = brow_i64(r, 21, 0);
		brow_copy(r, 3, h->state, sizeof(h->state));
		brow_copy(r, 6, h->model, sizeof(h->model));
		brow_copy(r, 14, h->request_id, sizeof(h->request_id));
	} else if (strcmp(set, "grants") == 0 && b->ngrant < BATCH_GRANTS) {
		struct sgrant *g = &b->grant[b->ngrant++];
		memset(g, 0, sizeof(*g));
		g->id = brow_i64(r, 1, 0);
		g->account = brow_i64(r, 2, 0);
		g->remaining = brow_i64(r, 3, 0);
		g->debt = brow_i64(r, 4, 0) != 0;
	} else if (strcmp(set, "new_holds") == 0) {
		int64_t at = brow_i64(r, 1, -1);
		if (at >= 0 && at < BATCH_MAX)
			b->new_hold[at] = brow_i64(r, 2, 0);
	} else if (strcmp(set, "holds") == 0 || strcmp(set, "grants") == 0) {
		b->over = 1;
	}
	return r->bad ? E_CLIENT : 0;
}

/* Reads the result set the CALL is at, row by row into batch_row. The
 * set is consumed whatever happens, so the connection stays in step. */
static int batch_set(struct conn *c, MYSQL_STMT *st, struct bbatch *b)
{
	static __thread struct brow r;
	MYSQL_BIND bind[SET_COLS_MAX];
	char name[32] = "";
	int e = 0, rc;
	MYSQL_RES *meta = mysql_stmt_result_metadata(st);
	r.ncols = 0;
	if (meta != NULL) {
		r.ncols = mysql_num_fields(meta);
		snprintf(name, sizeof(name), "%s", mysql_fetch_fields(meta)[0].name);
		mysql_free_result(meta);
	}
	if (r.ncols == 0 || r.ncols > SET_COLS_MAX)
		e = E_CLIENT;
	memset(bind, 0, sizeof(bind));
	for (unsigned int i = 0; e == 0 && i < r.ncols; i++) {
		bind[i].buffer_type = MYSQL_TYPE_STRING;
		bind[i].buffer = r.cell[i];
		bind[i].buffer_length = CELL_BYTES - 1;
		bind[i].length = &r.len[i];
		bind[i].is_null = &r.isnull[i];
		bind[i].error = &r.cut[i];
	}
	if (e == 0 && mysql_stmt_bind_result(st, bind) != 0)
		e = stmt_errno(c, st);
	if (mysql_stmt_store_result(st) != 0) {
		e = stmt_errno(c, st);
	} else {
		while (e == 0 && (rc = mysql_stmt_fetch(st)) != MYSQL_NO_DATA) {
			if (rc == 1) {
				e = stmt_errno(c, st);
				break;
			}
			r.bad = 0;
			e = batch_row(b, name, &r);	/* MYSQL_DATA_TRUNCATED: brow_str tells */
		}
	}
	mysql_stmt_free_result(st);
	return e;
}

/* A CALL's lists, in its parameters' order: each a JSON array of rows
 * in one text (an offset, not a pointer: the text grows), bound as a
 * parameter of its own. */
struct blists {
	struct sbuf text;
	size_t off[LISTS_MAX], len[LISTS_MAX];
	int n;
};

static void lists_reset(struct blists *l)
{
	l->text.len = 0;
	l->text.failed = 0;
	l->n = 0;
}

/* Opens the next list; its rows follow, comma-separated, then
 * list_close. More than LISTS_MAX lists is an error (the text fails). */
static void list_open(struct blists *l)
{
	if (l->n == LISTS_MAX) {
		l->text.failed = 1;
		return;
	}
	l->off[l->n] = l->text.len;
	sb(&l->text, "[");
}

static void list_close(struct blists *l)
{
	if (l->n == LISTS_MAX)
		return;
	sb(&l->text, "]");
	l->len[l->n] = l->text.len - l->off[l->n];
	l->n++;
}

/* The next n lists, empty. */
static void lists_empty(struct blists *l, int n)
{
	for (int i = 0; i < n; i++) {
		list_open(l);
		list_close(l);
	}
}

/* Runs one of the two CALLs in one round trip, its two numbers (lock and
 * page, or now and commit) then its lists bound as creditd binds them:
 * an empty list ("[]") is SQL NULL, any other a string. Reads every
 * result set up to the CALL's own status. 0 or the MariaDB error number
 * (a deadlock in the procedure ends the CALL with it). */
static int batch_call(struct conn *c, enum stmt_id id, int64_t first, int64_t second, const struct blists *l,
		      struct bbatch *b)
{
	MYSQL_STMT *st = c->s[id].st;
	MYSQL_BIND bind[2 + LISTS_MAX];
	unsigned long len[LISTS_MAX];
	my_bool null[LISTS_MAX];
	long long ints[2] = {first, second};
	int e = 0, rc;
	if (l->text.failed || l->text.p == NULL || mysql_stmt_param_count(st) != 2 + (unsigned long)l->n)
		return E_CLIENT;
	memset(bind, 0, sizeof(bind));
	for (int i = 0; i < 2; i++) {
		bind[i].buffer_type = MYSQL_TYPE_LONGLONG;
		bind[i].buffer = &ints[i];
	}
	for (int i = 0; i < l->n; i++) {
		MYSQL_BIND *p = &bind[2 + i];
		null[i] = l->len[i] == 2;	/* "[]" */
		len[i] = null[i] ? 0 : (unsigned long)l->len[i];
		p->buffer_type = MYSQL_TYPE_STRING;
		p->buffer = null[i] ? NULL : l->text.p + l->off[i];
		p->buffer_length = len[i];
		p->length = &len[i];
		p->is_null = &null[i];
	}
	if (mysql_stmt_bind_param(st, bind) != 0)
		return stmt_errno(c, st);
	c->round_trips++;
	if (mysql_stmt_execute(st) != 0)
		return stmt_errno(c, st);
	do {
		if (mysql_stmt_field_count(st) > 0) {
			int set_e = batch_set(c, st, b);
			e = e != 0 ? e : set_e;
		}
		rc = mysql_stmt_next_result(st);
	} while (rc == 0);
	if (rc > 0 && e == 0)
		e = stmt_errno(c, st);
	return e != 0 ? e : b->over ? E_CLIENT : 0;
}

/* A JSON string (null for NULL). The bench's texts are plain, but a
 * settle's stored answer is itself JSON, so quotes are escaped. */
static void jstr(struct sbuf *s, const char *v)
{
	if (v == NULL) {
		sb(s, "null");
		return;
	}
	sb(s, "\"");
	for (const char *q = v; *q != '\0'; q++) {
		if (*q == '"' || *q == '\\')
			sb(s, "\\%c", *q);
		else if ((unsigned char)*q < 0x20)
			sb(s, "\\u%04x", (unsigned int)(unsigned char)*q);
		else
			sb(s, "%c", *q);
	}
	sb(s, "\"");
}

/* An integer, or null when has is 0. */
static void jopt(struct sbuf *s, int has, int64_t v)
{
	if (has)
		sb(s, "%" PRId64, v);
	else
		sb(s, "null");
}

static struct bacct *bacct_by_ext(struct bbatch *b, const char *ext)
{
	for (int i = 0; i < b->nacct; i++)
		if (strcmp(b->acct[i].ext, ext) == 0)
			return &b->acct[i];
	return NULL;
}

static struct bacct *bacct_by_id(struct bbatch *b, int64_t id)
{
	for (int i = 0; i < b->nacct; i++)
		if (b->acct[i].v[BA_ID] == id)
			return &b->acct[i];
	return NULL;
}

static struct bhold *bhold_by_id(struct bbatch *b, int64_t id, int64_t account)
{
	for (int i = 0; i < b->nhold; i++)
		if (b->hold[i].id == id && b->hold[i].account == account)
			return &b->hold[i];
	return NULL;
}

/* After the read: each account opened as creditd's acct_touch does (the
 * month and the day rolled over). Plan renewals and expiry sweeps are
 * not run: the bench's accounts have no plan, and its holds (ttl 600 s)
 * do not come due during a run. */
static void batch_touch(struct bbatch *b)
{
	int64_t month = month_key_of(b->now), day = b->now / 86400;
	for (int i = 0; i < b->nacct; i++) {
		int64_t *v = b->acct[i].v;
		if (v[BA_MONTH_KEY] != month) {
			v[BA_MONTH_KEY] = month;
			v[BA_MONTH_SPENT] = 0;
			b->acct[i].changed = 1;
		}
		if (v[BA_DAY_KEY] != day) {
			v[BA_DAY_KEY] = day;
			v[BA_DAY_SPENT] = 0;
			b->acct[i].changed = 1;
		}
	}
}

/* The write CALL's accounts list: the changed accounts, in the order
 * read. */
static void accounts_list(struct blists *l, const struct bbatch *b)
{
	struct sbuf *s = &l->text;
	list_open(l);
	for (int i = 0, k = 0; i < b->nacct; i++) {
		if (!b->acct[i].changed)
			continue;
		sb(s, "%s[", k++ ? "," : "");
		for (size_t col = 0; col < sizeof(acct_write_cols) / sizeof(acct_write_cols[0]); col++) {
			int64_t v = b->acct[i].v[acct_write_cols[col]];
			sb(s, "%s", col ? "," : "");
			jopt(s, acct_write_cols[col] != BA_SWEEP_DUE || v >= 0, v);	/* sweep_due_at -1: none */
		}
		sb(s, "]");
	}
	list_close(l);
}

static void batch_begin(struct bbatch *b, int64_t now)
{
	b->nacct = b->nhold = b->ngrant = b->over = 0;
	memset(b->new_hold, 0, sizeof(b->new_hold));
	b->now = now;
}

/* creditd's guard check (src/ledger/accounts/ledger_members.c charge_check) and rate
 * windows (src/ledger/guard/ledger_holds.c rates_take) for a hold of amount and tokens. */
static int authorize_check(struct bacct *ba, int64_t amount, int64_t tokens, int64_t now)
{
	int64_t *v = ba->v, minute = now / 60;
	int64_t available = v[BA_BALANCE] - v[BA_RESERVED] + v[BA_OVERDRAFT];
	if (strcmp(ba->status, "active") != 0 || amount > available ||
	    (v[BA_MONTHLY_LIMIT] >= 0 && v[BA_MONTH_SPENT] + v[BA_RESERVED] + amount > v[BA_MONTHLY_LIMIT]) ||
	    (v[BA_DAILY_LIMIT] >= 0 && v[BA_DAY_SPENT] + v[BA_RESERVED] + amount > v[BA_DAILY_LIMIT]))
		return E_REFUSED;
	if (v[BA_RATE_MINUTE] != minute) {
		v[BA_RATE_MINUTE] = minute;
		v[BA_RATE_REQUESTS] = 0;
		v[BA_RATE_TOKENS] = 0;
	}
	if ((v[BA_RPM] >= 0 && v[BA_RATE_REQUESTS] + 1 > v[BA_RPM]) ||
	    (v[BA_TPM] >= 0 && v[BA_RATE_TOKENS] + tokens > v[BA_TPM]))
		return E_REFUSED;
	v[BA_RATE_REQUESTS]++;
	v[BA_RATE_TOKENS] += tokens;
	return 0;
}

/* n authorizes in one transaction: the read CALL (the accounts by
 * external id, locked), then the write CALL (the new holds, the accounts)
 * that commits; the new holds' ids come back in new_holds. */
int authorize_batch(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct blists l;
	static __thread struct bbatch tb;
	struct bbatch *b = &tb;
	struct sbuf *text = &l.text;
	int64_t expires_at = now + opt.ttl_s;
	int64_t tokens = opt.input_tokens + (opt.max_output_tokens > 0 ? opt.max_output_tokens : 0);
	batch_begin(b, now);
	lists_reset(&l);
	lists_empty(&l, 1);	/* ids */
	list_open(&l);		/* ext: one account locks by its external id */
	for (int i = 0, k = 0; i < n; i++) {
		int seen = 0;
		for (int j = 0; j < i; j++)
			seen |= strcmp(p[j].account, p[i].account) == 0;
		if (seen)
			continue;
		sb(text, "%s", k++ ? "," : "");
		jstr(text, p[i].account);
	}
	list_close(&l);
	lists_empty(&l, 7);	/* holds, reqs, members, usages, spend_ids, spend_ext, keys */
	int e = batch_call(c, ST_BATCH_READ, 1, SPEND_GRANTS_PAGE, &l, b);
	if (e != 0)
		return e;
	batch_touch(b);
	lists_reset(&l);
	list_open(&l);		/* holds_new */
	for (int i = 0; i < n; i++) {
		struct bacct *ba = bacct_by_ext(b, p[i].account);
		if (ba == NULL)
			return E_NOT_FOUND;
		e = authorize_check(ba, opt.hold_micros, tokens, now);
		if (e != 0)
			return e;
		int64_t *v = ba->v;
		p[i].account_id = v[BA_ID];
		v[BA_RESERVED] += opt.hold_micros;
		if (v[BA_SWEEP_DUE] < 0 || expires_at < v[BA_SWEEP_DUE])
			v[BA_SWEEP_DUE] = expires_at;
		ba->changed = 1;
		/* write_new_holds' columns: account, request_id, member, model,
		 * action, conversation, amount, max_output, the four pins, the
		 * rate window's minute and tokens, byok, expires_at. */
		sb(text, "%s[%" PRId64 ",", i ? "," : "", v[BA_ID]);
		jstr(text, p[i].request_id);
		sb(text, ",null,");
		jstr(text, opt.model);
		sb(text, ",null,null,%" PRId64 ",", opt.hold_micros);
		jopt(text, opt.max_output_tokens >= 0, opt.max_output_tokens);
		for (int k = 0; k < 4; k++) {
			sb(text, ",");
			jopt(text, c->priced, c->pin[k]);
		}
		sb(text, ",%" PRId64 ",%" PRId64 ",0,%" PRId64 "]", v[BA_RATE_MINUTE], tokens, expires_at);
	}
	list_close(&l);
	lists_empty(&l, 7);	/* usages_new, usages, holds_set, grants_set, debts, journal, members */
	accounts_list(&l, b);
	lists_empty(&l, 3);	/* events, recharges, keys */
	e = batch_call(c, ST_BATCH_WRITE, now, 1, &l, b);
	for (int i = 0; e == 0 && i < n; i++) {
		p[i].hold_id = b->new_hold[i];
		if (p[i].hold_id <= 0)
			e = E_CLIENT;
	}
	return e;
}

/* What one settle decided, for its rows in the write document. */
struct settled {
	struct bacct *acct;
	struct bhold *hold;
	int64_t balance, available, released;	/* after it, for its journal row and stored answer */
};

/* One settle, decided as creditd's settle_decide on the rows read: the
 * hold's reserve let go, the rate window corrected, the cost burnt from
 * the grants in spending order. 0 or one of our own errors. */
static int settle_decide_batch(struct bbatch *b, const struct pair *p, struct settled *out)
{
	struct bacct *ba = bacct_by_id(b, p->account_id);
	struct bhold *h = bhold_by_id(b, p->hold_id, p->account_id);
	int64_t cost = opt.cost_micros, left = cost;
	if (ba == NULL || h == NULL)
		return E_NOT_FOUND;
	if (strcmp(h->state, "pending") != 0)
		return E_STATE;
	int64_t *v = ba->v;
	if (h->rate_minute >= 0 && h->rate_minute == v[BA_RATE_MINUTE]) {
		v[BA_RATE_TOKENS] += opt.input_tokens + opt.output_tokens - h->rate_tokens;
		if (v[BA_RATE_TOKENS] < 0)
			v[BA_RATE_TOKENS] = 0;
	}
	v[BA_RESERVED] -= h->amount;
	v[BA_MONTH_SPENT] += cost;
	v[BA_DAY_SPENT] += cost;
	ba->changed = 1;
	for (int g = 0; g < b->ngrant && left > 0; g++) {
		struct sgrant *gr = &b->grant[g];
		if (gr->account != v[BA_ID] || gr->debt || gr->remaining <= 0)
			continue;
		int64_t take = gr->remaining < left ? gr->remaining : left;
		gr->remaining -= take;
		gr->changed = 1;
		left -= take;
	}
	if (left > 0)
		return E_DEBT;
	v[BA_BALANCE] -= cost;
	snprintf(h->state, sizeof(h->state), "settled");
	out->acct = ba;
	out->hold = h;
	out->balance = v[BA_BALANCE];
	out->available = v[BA_BALANCE] - v[BA_RESERVED] + v[BA_OVERDRAFT];
	out->released = h->amount > cost ? h->amount - cost : 0;
	return 0;
}

/* The read CALL's lists for n settles: their accounts by id (ascending,
 * once each), the same as spenders, and their holds ascending by id. */
static void settle_read_lists(struct blists *l, const struct pair *p, int n)
{
	struct sbuf *text = &l->text;
	int64_t ids[BATCH_MAX], holds[BATCH_MAX][2];
	int nids = 0;
	for (int i = 0; i < n; i++) {
		int seen = 0;
		for (int j = 0; j < nids; j++)
			seen |= ids[j] == p[i].account_id;
		if (!seen)
			ids[nids++] = p[i].account_id;
		holds[i][0] = p[i].hold_id;
		holds[i][1] = p[i].account_id;
	}
	for (int i = 1; i < nids; i++)		/* a few: insertion sorts */
		for (int j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
			int64_t t = ids[j];
			ids[j] = ids[j - 1];
			ids[j - 1] = t;
		}
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && holds[j - 1][0] > holds[j][0]; j--) {
			int64_t t0 = holds[j][0], t1 = holds[j][1];
			holds[j][0] = holds[j - 1][0];
			holds[j][1] = holds[j - 1][1];
			holds[j - 1][0] = t0;
			holds[j - 1][1] = t1;
		}
	lists_reset(l);
	list_open(l);		/* ids */
	for (int i = 0; i < nids; i++)
		sb(text, "%s%" PRId64, i ? "," : "", ids[i]);
	list_close(l);
	lists_empty(l, 1);	/* ext */
	list_open(l);		/* holds */
	for (int i = 0; i < n; i++)
		sb(text, "%s[%" PRId64 ",%" PRId64 "]", i ? "," : "", holds[i][0], holds[i][1]);
	list_close(l);
	lists_empty(l, 3);	/* reqs, members, usages */
	list_open(l);		/* spend_ids: settles may charge */
	for (int i = 0; i < nids; i++)
		sb(text, "%s%" PRId64, i ? "," : "", ids[i]);
	list_close(l);
	lists_empty(l, 2);	/* spend_ext, keys */
}

/* The settles' lists of the write CALL, usages to journal: each one's
 * usage, the holds settled with their stored answers, the grants burnt,
 * no debts, the journal. */
static void settle_lists(struct blists *l, const struct bbatch *b, const struct pair *p, const struct settled *s,
			 int n)
{
	struct sbuf *text = &l->text;
	char ref[64], answer[512];
	int64_t cost = opt.cost_micros;
	list_open(l);		/* usages */
	for (int i = 0; i < n; i++) {
		sb(text, "%s[%" PRId64 ",%" PRId64 ",null,null,", i ? "," : "", p[i].account_id, p[i].hold_id);
		jstr(text, s[i].hold->model[0] ? s[i].hold->model : NULL);
		sb(text, ",null,%" PRId64 ",0,%" PRId64 ",%" PRId64 ",0,", opt.input_tokens, opt.output_tokens, cost);
		jstr(text, s[i].hold->request_id);
		sb(text, ",null,null]");
	}
	list_close(l);
	list_open(l);		/* holds_set */
	for (int h = 0, k = 0; h < b->nhold; h++) {	/* in the order read, as write_changed_holds */
		int i = 0;
		while (i < n && s[i].hold != &b->hold[h])
			i++;
		if (i == n)
			continue;
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, p[i].account_id, p[i].hold_id);
		snprintf(answer, sizeof(answer), "{\"hold_id\":\"%s\",\"account\":\"%s\",\"charged_micros\":%" PRId64
			 ",\"released_micros\":%" PRId64 ",\"balance_micros\":%" PRId64 ",\"available_micros\":%" PRId64
			 ",\"late\":false}", ref, s[i].acct->ext, cost, s[i].released, s[i].balance, s[i].available);
		sb(text, "%s[%" PRId64 ",\"settled\",%" PRId64 ",\"", k++ ? "," : "", p[i].hold_id, cost);
		for (int byte = 0; byte < 32; byte++)	/* the settle hash the other versions store */
			sb(text, "%02x", (unsigned int)(p[i].hold_id >> (8 * (byte % 8))) & 0xff);
		sb(text, "\",");
		jstr(text, answer);
		sb(text, "]");
	}
	list_close(l);
	list_open(l);		/* grants_set */
	for (int g = 0, k = 0; g < b->ngrant; g++)
		if (b->grant[g].changed)
			sb(text, "%s[%" PRId64 ",%" PRId64 "]", k++ ? "," : "", b->grant[g].id, b->grant[g].remaining);
	list_close(l);
	lists_empty(l, 1);	/* debts */
	list_open(l);		/* journal */
	for (int i = 0, k = 0; cost > 0 && i < n; i++) {
		snprintf(ref, sizeof(ref), "hold_%" PRId64 "_%" PRId64, p[i].account_id, p[i].hold_id);
		sb(text, "%s[%" PRId64 ",%" PRId64 ",%" PRId64 ",\"usage\",null,%" PRId64 ",\"%s\",\"settle:%s\"]",
		   k++ ? "," : "", p[i].account_id, -cost, s[i].balance, p[i].hold_id, ref, ref);
	}
	list_close(l);
}

/* n settles in one transaction: the read CALL (accounts by id, holds
 * with their members, grants in spending order, all locked), then the
 * write CALL that commits. */
int settle_batch(struct conn *c, struct pair *p, int n, int64_t now)
{
	static __thread struct blists l;
	static __thread struct bbatch tb;
	struct bbatch *b = &tb;
	struct settled s[BATCH_MAX];
	batch_begin(b, now);
	settle_read_lists(&l, p, n);
	int e = batch_call(c, ST_BATCH_READ, 1, SPEND_GRANTS_PAGE, &l, b);
	if (e != 0)
		return e;
	batch_touch(b);
	for (int i = 0; i < n; i++) {
		e = settle_decide_batch(b, &p[i], &s[i]);
		if (e != 0)
			return e;
	}
	lists_reset(&l);
	lists_empty(&l, 2);	/* holds_new, usages_new */
	settle_lists(&l, b, p, s, n);
	lists_empty(&l, 1);	/* members */
	accounts_list(&l, b);
	lists_empty(&l, 3);	/* events, recharges, keys */
	return batch_call(c, ST_BATCH_WRITE, now, 1, &l, b);
}

