/* ledger_alerts_batch.c: a guard batch's threshold alerts, loaded with
 * its read, decided by money_alert_changes, written with its write (see
 * ledger_alerts_batch.h). */
#include "ledger_alerts_batch.h"
#include "ledger_alerts.h"
#include "ledger_events.h"
#include "jsonw.h"
#include "log.h"
#include <assert.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void pending_clear(struct batch_alerts *ba)
{
	for (int i = 0; i < ba->npending; i++)
		json_decref(ba->pending[i].data);
	ba->npending = 0;
}

/* The plan period's figures of account acct: its plan grants as loaded,
 * those among the batch's grants as the batch holds them. */
static enum cd_err plan_figures(const struct batch *b, int acct, int64_t *granted, int64_t *left)
{
	int64_t amounts[LIMIT_ALERT_PLAN_GRANTS], remaining[LIMIT_ALERT_PLAN_GRANTS];
	const struct batch_alerts *ba = b->alerts;
	int n = 0;
	*granted = *left = 0;
	if (b->accts[acct].a.plan_period <= 0)
		return CD_OK;
	for (int i = 0; i < ba->ngrants; i++) {
		if (ba->grants[i].acct != acct)
			continue;
		amounts[n] = ba->grants[i].amount;
		remaining[n] = ba->grants[i].remaining;
		for (int k = 0; k < b->ngrants; k++)
			if (b->grants[k].acct == acct && !b->grants[k].is_new && b->grants[k].g.id == ba->grants[i].id)
				remaining[n] = b->grants[k].g.remaining;
		n++;
	}
	return money_alert_plan(amounts, remaining, n, granted, left) == 0 ? CD_OK : CD_E_INTERNAL;
}

/* Account acct's alerts (at: their indexes in ba->alerts) and the members
 * of its the batch changed (found rows: at_member, b->members indexes),
 * with their states, as money_alert_changes takes them. */
static void decision_input(const struct batch *b, int acct, struct money_alert_rule *rules, int *at,
			   struct money_alert_member *members, int *at_member, struct money_alert_input *in)
{
	struct batch_alerts *ba = b->alerts;
	int n = 0, nm = 0;
	for (int i = 0; i < ba->nalerts; i++) {
		const struct alert_row *r = &ba->alerts[i].r;
		if (ba->alerts[i].acct != acct || n == LIMIT_ALERTS)
			continue;
		rules[n] = (struct money_alert_rule){r->kind, r->threshold, r->fired_key, r->has_member ? r->member : NULL};
		at[n++] = i;
	}
	for (int k = 0; k < b->nmembers; k++) {
		const struct member_row *m = &b->members[k].m;
		if (b->members[k].acct != acct || !m->found)
			continue;
		members[nm] = (struct money_alert_member){m->member, m->month_spent, m->cap, m->month_key};
		at_member[nm++] = k;
	}
	memset(ba->keys, 0, sizeof(ba->keys[0]) * (size_t)(n * nm));
	for (int s = 0; s < ba->nstates; s++)
		for (int j = 0; j < n; j++)
			for (int k = 0; at[j] == ba->states[s].alert && k < nm; k++)
				if (strcmp(members[k].name, ba->states[s].member) == 0)
					ba->keys[k * n + j] = ba->states[s].key;
	*in = (struct money_alert_input){.alerts = rules, .nalerts = n, .members = members, .nmembers = nm,
					 .member_keys = ba->keys, .plan_cap = ba->plan_cap[acct]};
}

/* The changes decided, pending for the write, each fired one with its
 * event's data. */
static enum cd_err keep_changes(struct batch *b, int acct, const int *at, const int *at_member, int n)
{
	struct batch_alerts *ba = b->alerts;
	for (int c = 0; c < n; c++) {
		const struct money_alert_change *ch = &ba->changes[c];
		struct alert_row *r = &ba->alerts[at[ch->alert]].r;
		int member = ch->member >= 0 ? at_member[ch->member] : -1;
		json_t *data = NULL;
		if (ch->step == ALERT_STEP_FIRE &&
		    (data = ledger_alerts_event_data(r, member >= 0 ? b->members[member].m.member : NULL, &ch->figure)) == NULL)
			return CD_E_INTERNAL;
		if (ba->npending == BATCH_ALERT_CHANGES) {
			json_decref(data);
			return CD_E_INTERNAL;
		}
		ba->pending[ba->npending++] = (struct batch_alert_pending){acct, at[ch->alert], member, ch->step, ch->key, data};
		if (member < 0)
			r->fired_key = ch->key;
	}
	return CD_OK;
}

enum cd_err ledger_alerts_batch_notice(struct batch *b, int acct)
{
	struct money_alert_rule rules[LIMIT_ALERTS];
	struct money_alert_member members[2 * BATCH_MAX];
	struct money_alert_input in;
	int at[LIMIT_ALERTS], at_member[2 * BATCH_MAX];
	struct batch_acct *ba = &b->accts[acct];
	if (ba->a.alert_count == 0 || !ba->changed)
		return CD_OK;
	/* An account with alerts is never kept (ledger_rowcache.c): its batch
	 * read it, and its alert rows, under its lock. */
	assert(!b->kept);
	assert(b->alerts != NULL);
	assert(b->alerts->read[acct]);
	enum cd_err rc = ledger_rows_acct_check_locked_in(b->tx_serial, &ba->a, "an alert's decision");
	if (rc != CD_OK)
		return rc;
	decision_input(b, acct, rules, at, members, at_member, &in);
	int plan = 0;
	for (int i = 0; i < in.nalerts; i++)
		plan |= rules[i].kind == ALERT_PLAN_CREDITS_USED_PCT;
	int64_t granted = 0, left = 0;
	rc = plan ? plan_figures(b, acct, &granted, &left) : CD_OK;
	if (rc != CD_OK)
		return rc;
	ledger_alerts_figures(&ba->a, granted, left, &in.figures);
	const int cap = (int)(sizeof(b->alerts->changes) / sizeof(b->alerts->changes[0]));
	int n = money_alert_changes(&in, b->alerts->changes, cap);
	return n >= 0 ? keep_changes(b, acct, at, at_member, n) : CD_E_INTERNAL;
}

void ledger_alerts_batch_lists(const struct batch *b, struct jw *j)
{
	const struct batch_alerts *ba = b->alerts;
	const int n = ba != NULL ? ba->npending : 0;
	struct jw *w = j;
	jsonw_array(j, "alerts_set");
	for (int i = 0; i < n; i++) {
		const struct batch_alert_pending *p = &ba->pending[i];
		if (p->member >= 0)
			continue;
		jsonw_open(w, '[');
		ALERTS_SET_TABLE(COL_WRITE, ba->alerts[p->alert].r.id, p->key)
		jsonw_close(w, ']');
	}
	jsonw_close(j, ']');
	jsonw_array(j, "alert_members_set");
	for (int i = 0; i < n; i++) {
		const struct batch_alert_pending *p = &ba->pending[i];
		if (p->member < 0 || p->step != ALERT_STEP_FIRE)
			continue;
		jsonw_open(w, '[');
		ALERT_MEMBERS_SET_TABLE(COL_WRITE, ba->alerts[p->alert].r.id, b->members[p->member].m.member, p->key)
		jsonw_close(w, ']');
	}
	jsonw_close(j, ']');
	jsonw_array(j, "alert_members_del");
	for (int i = 0; i < n; i++) {
		const struct batch_alert_pending *p = &ba->pending[i];
		if (p->member < 0 || p->step != ALERT_STEP_REARM)
			continue;
		jsonw_open(w, '[');
		ALERT_MEMBERS_DEL_TABLE(COL_WRITE, ba->alerts[p->alert].r.id, b->members[p->member].m.member)
		jsonw_close(w, ']');
	}
	jsonw_close(j, ']');
}

int ledger_alerts_batch_events(const struct batch *b, struct jw *j)
{
	const struct batch_alerts *ba = b->alerts;
	int rc = 0;
	struct jw *w = j;
	for (int i = 0; ba != NULL && i < ba->npending; i++) {
		const struct batch_alert_pending *p = &ba->pending[i];
		if (p->data == NULL)
			continue;
		const struct acct *a = &b->accts[p->acct].a;
		char *text = json_dumps(p->data, JSON_COMPACT | JSON_SORT_KEYS);
		if (text == NULL) {
			rc = -1;
			continue;
		}
		jsonw_open(w, '[');
		EVENTS_TABLE(COL_WRITE, &a->id, a->ext_id, EVENT_ALERT_THRESHOLD, text)
		jsonw_close(w, ']');
		free(text);
	}
	return rc;
}

void ledger_alerts_batch_written(struct batch *b)
{
	struct batch_alerts *ba = b->alerts;
	if (ba == NULL)
		return;
	for (int k = 0; k < b->ngrants; k++) {
		if (!b->grants[k].g.changed || b->grants[k].is_new)
			continue;
		for (int i = 0; i < ba->ngrants; i++)
			if (ba->grants[i].id == b->grants[k].g.id)
				ba->grants[i].remaining = b->grants[k].g.remaining;
	}
	pending_clear(ba);
}
