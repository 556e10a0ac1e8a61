/* ledger_alerts.h: threshold alerts noticed (DESIGN §14, "Threshold
 * alerts"; sql/051). An operation that changes an account's money calls
 * here on the row it locked, after the change and before its write
 * commits: when the account has alerts (acct.alert_count, read with the
 * row: none costs nothing more), they are read, each decided by
 * money_alert_decide on the figures as the change left them, the states
 * that moved written (alerts are not money: plain statements, under the
 * account's lock), and the data of each alert.threshold to tell handed
 * back for the caller to write in the same transaction
 * (ledger_events_add). Every operation outside the guard's batches
 * through ledger_events_acct_save; the guard's batch (ledger_holds.c)
 * for each account it changed, members included. The accounts with
 * alerts are never kept in memory between batches (ledger_rowcache.c):
 * their batches read them, and their alerts, under their locks.
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ALERTS_H
#define CREDITD_LEDGER_ALERTS_H
#include "ledger_batch.h"

/* Account a (locked, a->alert_count > 0) as its operation left it: into
 * fired (a JSON array) the data of each alert.threshold to write. */
enum cd_err ledger_alerts_notice(struct store *lg, struct acct *a, json_t *fired);
/* Account acct (a batch index) of b as the batch left it, its members in
 * the batch too: as ledger_alerts_notice. Nothing when it has no alerts. */
enum cd_err ledger_alerts_batch(struct store *lg, struct batch *b, int acct, json_t *fired);
#endif
