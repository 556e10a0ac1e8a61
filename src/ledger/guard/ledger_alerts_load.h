/* ledger_alerts_load.h: a guard batch's alert rows read from its read
 * CALL's answer (sql/059) into b->alerts, for ledger_alerts_batch.h to
 * decide and write. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ALERTS_LOAD_H
#define CREDITD_LEDGER_ALERTS_LOAD_H
#include "ledger_batch.h"

/* The alert rows of the read CALL just made (b->sets), for the accounts
 * of b with alerts (none: nothing); CD_E_INTERNAL (logged) when one has
 * alerts and the procedures are older than sql/059, or the rows do not
 * fit. */
enum cd_err ledger_alerts_load_batch(struct batch *b);
#endif
