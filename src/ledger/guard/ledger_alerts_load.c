/* ledger_alerts_load.c: a guard batch's alert rows, read from its read
 * CALL's sets (sql/059) into the batch (see ledger_alerts_load.h): the
 * part of the batch's alerts that reads the database's answer. */
#include "ledger_alerts_load.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>



static enum cd_err load_alerts(struct batch *b, struct batch_alerts *ba)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "alerts", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 1));
		int kind = money_alert_kind_parse(store_row_str(&r, 3));
		if (acct < 0)
			continue;
		if (kind < 0 || ba->nalerts == BATCH_ALERT_ROWS)
			return CD_E_INTERNAL;
		struct batch_alert_row *l = &ba->alerts[ba->nalerts++];
		memset(l, 0, sizeof(*l));
		l->acct = acct;
		l->r.id = store_row_i64(&r, 2);
		l->r.kind = (enum money_alert_kind)kind;
		l->r.threshold = store_row_i64(&r, 4);
		l->r.has_member = !store_row_null(&r, 5);
		ledger_rows_copy_text(l->r.member, sizeof(l->r.member), store_row_str(&r, 5));
		l->r.fired_key = store_row_i64(&r, 6);
	}
	return CD_OK;
}

static int alert_by_id(const struct batch_alerts *ba, int64_t id)
{
	for (int i = 0; i < ba->nalerts; i++)
		if (ba->alerts[i].r.id == id)
			return i;
	return -1;
}

static enum cd_err load_states(struct batch *b, struct batch_alerts *ba)
{
	struct db_row r;
	BATCH_EACH_ROW(b, "alert_members", r) {
		int alert = alert_by_id(ba, store_row_i64(&r, 1));
		if (alert < 0)
			continue;
		if (ba->nstates == BATCH_ALERT_STATES)
			return CD_E_INTERNAL;
		struct batch_alert_state *s = &ba->states[ba->nstates++];
		s->alert = alert;
		ledger_rows_copy_text(s->member, sizeof(s->member), store_row_str(&r, 2));
		s->key = store_row_i64(&r, 3);
	}
	BATCH_EACH_ROW(b, "alert_plan_grants", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 1));
		if (acct < 0)
			continue;
		if (ba->ngrants == LIMIT_ALERT_PLAN_GRANTS) {
			log_error("account %" PRId64 ": more than %d plan grants in its period", b->accts[acct].a.id,
				  LIMIT_ALERT_PLAN_GRANTS);
			return CD_E_INTERNAL;
		}
		ba->grants[ba->ngrants++] = (struct batch_alert_grant){acct, store_row_i64(&r, 2), store_row_i64(&r, 3),
								   store_row_i64(&r, 4)};
	}
	BATCH_EACH_ROW(b, "alert_plan_caps", r) {
		int acct = ledger_batch_acct_by_id(b, store_row_i64(&r, 1));
		if (acct >= 0)
			ba->plan_cap[acct] = store_row_null(&r, 2) ? -1 : store_row_i64(&r, 2);
	}
	return CD_OK;
}

enum cd_err ledger_alerts_load_batch(struct batch *b)
{
	int any = 0;
	for (int i = 0; i < b->naccts; i++)
		any |= b->accts[i].a.alert_count > 0;
	if (!any)
		return CD_OK;	/* no account with alerts: nothing read, nothing to load */
	if (store_sets_find(&b->sets, "alerts") == NULL) {
		log_error("cd_batch_read answered no alerts for an account that has some: run creditctl migrate (059)");
		return CD_E_INTERNAL;
	}
	static const char r[] = "cd_batch_read";
	if (store_sets_width_ok(&b->sets, r, "alerts", 7) != 0 || store_sets_width_ok(&b->sets, r, "alert_members", 4) != 0 ||
	    store_sets_width_ok(&b->sets, r, "alert_plan_grants", 5) != 0 ||
	    store_sets_width_ok(&b->sets, r, "alert_plan_caps", 3) != 0)
		return CD_E_INTERNAL;
	if (b->alerts == NULL && (b->alerts = calloc(1, sizeof(*b->alerts))) == NULL)
		return CD_E_INTERNAL;
	struct batch_alerts *ba = b->alerts;
	assert(ba->nalerts == 0);
	assert(ba->npending == 0);
	for (int i = 0; i < b->naccts; i++) {
		ba->read[i] = b->accts[i].a.alert_count > 0;
		ba->plan_cap[i] = -1;
	}
	enum cd_err rc = load_alerts(b, ba);
	rc = rc == CD_OK ? load_states(b, ba) : rc;
	if (rc != CD_OK)
		log_error("batch read: the alert rows do not fit");
	return rc;
}

