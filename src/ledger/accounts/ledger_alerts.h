/* ledger_alerts.h: threshold alerts noticed (docs/api.md, "Threshold
 * alerts"; sql/051). An operation that changes an account's money calls
 * here on the row it locked, after the change and before its write
 * commits: when the account has alerts (acct.alert_count, read with the
 * row: none costs nothing more), they are read, decided by
 * money_alert_changes on the figures as the change left them, the
 * states that moved written by the one writer (cd_write's alert lists,
 * sql/059; under the account's lock), and the data of each
 * alert.threshold to tell handed back for the caller to write in the
 * same transaction (ledger_events_alerts). Every operation outside the guard's batches
 * comes here through ledger_events_acct_save (a hold expired and
 * captured: ledger_due.c), or through ledger_events_acct_add when it
 * writes its change and its notices in one write (a top-up's credit:
 * its alerts loaded with its rows, ledger_alerts_load). The guard's batch (ledger_holds.c) does not:
 * its read loads the same rows and its write writes the states
 * (ledger_alerts_batch.h, sql/059), decided by the same money_alert.h.
 * The accounts with alerts are never kept in memory between batches
 * (ledger_rowcache.c): their batches read them, and their alerts, under
 * their locks. PUT and GET …/alerts: ledger_alerts_put.c.
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ALERTS_H
#define CREDITD_LEDGER_ALERTS_H
#include "ledger_members.h"
#include "money_alert.h"

/* An alert's row. */
struct alert_row {
	int64_t id;
	enum money_alert_kind kind;
	int64_t threshold, fired_key;
	char member[LEDGER_ID_MAX + 1];
	int has_member;
};
struct alert_set {
	int n;
	struct alert_row r[LIMIT_ALERTS];
};
/* The account's alerts, in their order; lock: their rows locked (the
 * newest version, not the transaction's snapshot: what a decision reads),
 * else read (a GET). */
enum cd_err ledger_alerts_read(struct store *db, int64_t account_id, int lock, struct alert_set *set);
/* What is granted and left of a's plan period (0 and 0: no plan), as its
 * grant rows stand (locked) but for those among g[0..ng) (the guard's batch's, in
 * memory, not written yet), as g holds them. */
enum cd_err ledger_alerts_plan(struct store *db, const struct acct *a, const struct spend_grant *g, int ng,
			       int64_t *granted, int64_t *left);
/* An alert.threshold's data for alert r (of member, NULL: none) fired on
 * figure f: {kind, pct|micros, member, value_micros, limit_micros};
 * limit_micros null for balance_below. New (the caller's); NULL when
 * memory runs out. */
json_t *ledger_alerts_event_data(const struct alert_row *r, const char *member, const struct money_alert_figure *f);
/* a's figures as the alerts read them. */
void ledger_alerts_figures(const struct acct *a, int64_t granted, int64_t left, struct money_alert_account *f);

/* Account a (locked, a->alert_count > 0) as its operation (outside the
 * guard's batches) left it: its alerts decided, the states that moved
 * written, into fired (a JSON array) the data of each alert.threshold to
 * write. */
enum cd_err ledger_alerts_notice(struct store *db, struct acct *a, json_t *fired);
/* ledger_alerts_notice in two steps, for an operation that writes its
 * change and the states in one write (a top-up's credit,
 * ledger_topups.c): the account's alerts and its plan period's figures
 * loaded (locked) with its rows, before anything is written (nothing
 * read when it has none), and, once the change is decided in memory,
 * the alerts decided on a as it left it (money_alert_changes: no I/O),
 * the states that moved added to lw (a write its caller runs), the data
 * of each alert.threshold appended to fired. A credit moves no plan
 * grant, so the figures loaded before it are those after it. */
struct store_write;
struct alert_load {
	struct alert_set set;
	int64_t granted, left;		/* the plan period's (ledger_alerts_plan) */
};
enum cd_err ledger_alerts_load(struct store *db, const struct acct *a, struct alert_load *l);
enum cd_err ledger_alerts_notice_add(struct store *db, struct store_write *lw, const struct acct *a,
				     struct alert_load *l, json_t *fired);
/* The member_cap_pct alerts of account a (locked, a->alert_count > 0) for
 * member row m alone (its plan's member cap plan_cap, -1: none), after a
 * change of its spend outside the guard's batches (a hold expired and
 * captured: ledger_due.c): as ledger_alerts_notice. */
enum cd_err ledger_alerts_member(struct store *db, struct acct *a, const struct member_row *m, int64_t plan_cap,
				 json_t *fired);
/* Member m of account a (locked, a->alert_count > 0) had its cap
 * changed or was removed: its member_cap_pct alerts are armed again (the
 * next change decides them against the new cap; a removed member leaves
 * no state behind). */
enum cd_err ledger_alerts_member_rearm(struct store *db, const struct acct *a, const char *member);
#endif
