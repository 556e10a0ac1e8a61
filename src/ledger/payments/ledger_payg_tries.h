/* ledger_payg_tries.h: the tries of a pay-as-you-go collection
 * (docs/pay-as-you-go.md, "When the card is refused"; migration 031): one
 * PaymentIntent a try, kept so that whichever pays is credited once and the
 * others are cancelled. Below the collection (ledger_payg.h), which makes and
 * settles them. Internal to the ledger's files. */
#ifndef CREDITD_LEDGER_PAYG_TRIES_H
#define CREDITD_LEDGER_PAYG_TRIES_H
#include "ledger_due.h"

/* A try as payg_tries keeps it. */
struct payg_try {
	int found;		/* 0: pi is none of the collection's tries */
	int64_t try_no;
	int64_t cents;		/* what the try asked for */
	char state[16];		/* open|paid|cancel|canceled|not_canceled */
};
/* The try of collection id whose PaymentIntent is pi, locked. */
enum cd_err ledger_payg_tries_lock(struct store *db, int64_t id, const char *pi, struct payg_try *t);
/* Records pi as try try_no of collection id (cents asked) in state (open,
 * paid or cancel); a try recorded already keeps its number and amount,
 * and its state moves only open → cancel and anything → paid. */
enum cd_err ledger_payg_tries_put(struct store *db, int64_t id, int64_t try_no, int64_t cents, const char *pi,
			 const char *state);
/* The tries of collection id (of account, named in the log) still open,
 * pi's excepted, marked to be cancelled at Stripe now; *n: how many. */
enum cd_err ledger_payg_tries_cancel_others(struct store *db, const char *account, int64_t id, const char *pi, int *n);
#endif
