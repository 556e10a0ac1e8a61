/* ledger_int.h: what the ledger's own files share and nobody else sees:
 * the store's statements and transactions (store_db.h), the one
 * idempotent write's loop, and the ids of rows. */
#ifndef CREDITD_LEDGER_INT_H
#define CREDITD_LEDGER_INT_H
#include "ledger.h"
#include "store_db.h"

/* One idempotent write (see ledger.h "Writes"), driven the same way:
 *	struct ledger_idem w;
 *	for (ledger_idem_init(db, &w, call, res); ledger_idem_next(db, &w);)
 *		ledger_idem_step(db, &w, op(db, in, w.done));
 *	return ledger_idem_end(db, &w, res);
 * next claims the Idempotency-Key (or finds its stored answer, and then
 * no operation runs) and empties *w.done (res->done); the operation fills
 * it (its kind set) and returns CD_OK, or returns a refusal's code after
 * refusal_set(&db->refusal, ...); step words a refusal, stores the answer
 * under the key in the same transaction (a success rendered by
 * call->render), and ends the attempt; end hands the answer over. */
struct ledger_idem {
	struct store_tx tx;
	const struct ledger_call *call;	/* NULL: no Idempotency-Key */
	struct ledger_done *done;	/* the operation's answer: res->done */
	json_t *out;			/* a replay's or a refusal's body */
	int status;			/* and its status */
	int replayed;
	int refused;			/* out is a refusal's error object */
	int answered;			/* out came from the key's store: no operation */
};
void ledger_idem_init(struct store *db, struct ledger_idem *w, const struct ledger_call *call,
		      struct ledger_result *res);
int ledger_idem_next(struct store *db, struct ledger_idem *w);
void ledger_idem_step(struct store *db, struct ledger_idem *w, enum cd_err rc);
enum cd_err ledger_idem_end(struct store *db, struct ledger_idem *w, struct ledger_result *res);
#endif
