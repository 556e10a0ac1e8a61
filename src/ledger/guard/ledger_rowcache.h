/* ledger_rowcache.h: the guard's rows kept in memory, so that a batch
 * whose rows creditd wrote last costs one round trip (docs/architecture.md,
 * "The guard's round trips").
 *
 * After a guard batch commits, each of its accounts is kept as the write
 * left it (the account row, its grants when it spent and has few, its
 * holds still pending) with the row_version the write returned (sql/037:
 * every update of an account row raises it, and every money change of its
 * holds and grants updates the row). A later batch whose accounts, holds
 * and grants are all kept, and which needs no replay rows read (stored
 * answers under Idempotency-Keys, request_ids, usage keys) nor any member
 * row, is filled from
 * here instead of cd_batch_read. Its write names each account's version
 * and is refused whole when one moved (another process, creditctl, an
 * operator), and the batch then runs again reading its rows: what is
 * kept can make a batch cheaper, never decide on rows that changed.
 *
 * A kept account is claimed by the batch that filled from it until that
 * batch stores or forgets it: a second batch on the same account meanwhile
 * waits for it (LIMIT_ROWCACHE_CLAIM_WAIT_MS), then decides on the rows it
 * stored, instead of deciding on rows about to change or reading them
 * ahead of its write. One process-wide table per database node, under one mutex;
 * Galera nodes keep nothing (their row locks do not hold across nodes).
 * Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_ROWCACHE_H
#define CREDITD_LEDGER_ROWCACHE_H
#include "ledger_batch.h"

/* Fills b for w from the rows kept and claims them: 1 when every row w
 * needs is kept (b->kept is then set), else 0 and b untouched. An
 * authorize on an account kept as refusing (402s, 429s) asks the load to
 * read the authorizes' request_ids beside them (w->read_hold_reqs). */
int ledger_rowcache_fill(struct batch *b, struct batch_want *w);
/* After an attempt of b that ended with rc: when its write committed
 * (CD_OK), keeps its accounts as written (their versions read back by
 * the write); else forgets them (a kept write refused, b->kept_off, is
 * counted). Its claims released either way. */
void ledger_rowcache_end(struct batch *b, enum cd_err rc);
/* Whether the node of b's attempt keeps rows (not a Galera node:
 * b->galera and b->node, copied as the attempt began). */
int ledger_rowcache_on(const struct batch *b);

/* ledger.h's ledger_kept_stats is defined here: what the table did since
 * start, for /metrics and the bench. */

#endif
