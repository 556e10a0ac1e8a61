/* ledger_alerts_batch.h: the threshold alerts of a guard batch's
 * accounts (ledger_alerts.h), with the batch's member rows and the
 * grants it holds in memory. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ALERTS_BATCH_H
#define CREDITD_LEDGER_ALERTS_BATCH_H
#include "ledger_batch.h"

/* Account acct (a batch index) of b as the batch left it: into fired (a
 * JSON array) the data of each alert.threshold to write. Nothing when it
 * has no alerts or the batch did not change it. */
enum cd_err ledger_alerts_batch_notice(struct store *lg, struct batch *b, int acct, json_t *fired);
#endif
