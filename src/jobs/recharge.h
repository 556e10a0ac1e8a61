/* recharge.h: the off-session charge sender: one thread that takes the
 * auto-recharges (DESIGN §9) and pay-as-you-go collections (§10) queued by
 * the ledger and creates each PaymentIntent at Stripe (off-session,
 * confirmed, the saved card), with an Idempotency-Key of the charge's own
 * (recharge_<id>; payg-<account>-<YYYY-MM>-<try>), so a retry never
 * charges twice. What Stripe answers is recorded at once (a payment that
 * succeeded is credited); a payment still processing is credited by its
 * payment_intent.succeeded webhook, or, when none has come 15 minutes
 * after, by what a GET of the PaymentIntent says (DESIGN §10). Once a
 * collection's try has paid, the same thread cancels its other tries
 * still open at Stripe (DESIGN §13). */
#ifndef CREDITD_RECHARGE_H
#define CREDITD_RECHARGE_H
#include <stdatomic.h>
#include "config.h"
#include "ledger.h"
#include "stripe.h"

/* What one charge came to: its outcome, Stripe's PaymentIntent (when
 * made) and message (when refused or failing). */
struct recharge_sent {
	enum ledger_recharge_outcome outcome;
	char payment_intent[LIMIT_STRIPE_ID_BYTES + 1];
	char message[512];
	int recorded;		/* 1 when the ledger recorded the outcome */
};
/* Sends the claimed charge r and records Stripe's answer in the ledger. */
void recharge_send(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		   const struct ledger_recharge *r, struct recharge_sent *out);
/* Fetches the PaymentIntent of the claimed charge r, sent and left
 * without news (r->payment_intent set), and records what it says in the
 * ledger: credited or failed as its webhook would, or fetched again
 * later. */
void recharge_fetch(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		    const struct ledger_recharge *r);
/* Cancels at Stripe the claimed try x of a collection another try paid
 * (DESIGN §13), with an Idempotency-Key of its own, and records the
 * result in the ledger: cancelled, refused for good (logged: one that
 * succeeded first is a second payment to refund), or cancelled again
 * later when Stripe is away. */
void recharge_cancel(const struct cfg *c, struct stripe_client *stripe, struct ledger *lg,
		     const struct ledger_cancel *x);
/* How long a claimed charge is leased (its Stripe calls' longest time and
 * a margin): another process sends it only once this has passed. */
int64_t recharge_lease_seconds(const struct cfg *c);
/* Runs until *stopping. */
void recharge_run(const struct cfg *c, atomic_int *stopping);
#endif
