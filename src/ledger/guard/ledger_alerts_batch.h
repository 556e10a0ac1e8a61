/* ledger_alerts_batch.h: the threshold alerts of a guard batch's
 * accounts (docs/api.md, "Threshold alerts"; sql/059) in the batch's
 * shape: its read CALL loads (ledger_alerts_load.h), for the accounts
 * that have alerts (acct.alert_count > 0: others cost nothing), their
 * alerts, the alert states of the members the batch names, the plan
 * period's plan grants and the plan's member cap; money_alert_changes decides on those rows
 * as the batch left them; its write CALL writes the states that moved
 * and the alert.threshold events, first among the batch's events. No
 * statement runs between the read and the write for them. Internal to
 * the ledger's files. */
#ifndef CREDITD_LEDGER_ALERTS_BATCH_H
#define CREDITD_LEDGER_ALERTS_BATCH_H
#include "ledger_batch.h"


/* Account acct (a batch index) of b as the batch left it, its member rows
 * and grants included: the states that move and the events to tell,
 * pending for the batch's write. Nothing when it has no alerts or the
 * batch did not change it. No I/O. */
enum cd_err ledger_alerts_batch_notice(struct batch *b, int acct);
/* The write CALL's lists alerts_set, alert_members_set and
 * alert_members_del (each written whole, empty when nothing is pending). */
void ledger_alerts_batch_lists(const struct batch *b, struct jw *j);
/* The pending alert.threshold events, as rows of the write's events list
 * (its array open); -1 when an event's data cannot be written. */
int ledger_alerts_batch_events(const struct batch *b, struct jw *j);
/* After a write: the plan grants loaded take the remaining the write gave
 * those of b's grants it wrote, and nothing is pending. */
void ledger_alerts_batch_written(struct batch *b);
#endif
