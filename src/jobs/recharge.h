/* recharge.h: the off-session charge sender: one thread of creditd (or
 * creditctl sweep, where no creditd stays up) that takes the auto-recharges
 * (docs/api.md, "Auto-recharge") and pay-as-you-go collections
 * (docs/pay-as-you-go.md) queued by the ledger and creates each PaymentIntent
 * at Stripe (off-session, confirmed, the saved card), with an Idempotency-Key
 * of the charge's own (recharge_<id>; payg-<account>-<YYYY-MM>-<try>), so a
 * retry never charges twice. What Stripe answers is recorded at once (a
 * payment that succeeded is credited); a payment still processing is credited
 * by its payment_intent.succeeded webhook, or, when none has come 15 minutes
 * after, by what a GET of the PaymentIntent says
 * (docs/api.md, "without news"). Once a collection's try has paid, the same
 * thread cancels its other tries still open at Stripe
 * (docs/pay-as-you-go.md, "When the card is refused"). */
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
	int held;		/* 1 when not sent: the account's last word was to wait (a
				 * dispute open) or the charge had moved on */
	int db_failed;		/* 1 when not sent: the database failed before that word was
				 * said (logged; the charge is sent again later) */
};
/* Sends the claimed charge r and records Stripe's answer in the ledger. */
void recharge_send(const struct cfg *c, struct stripe_client *stripe, struct store *db,
		   const struct ledger_recharge *r, struct recharge_sent *out);
/* Fetches the PaymentIntent of the claimed charge r, sent and left
 * without news (r->payment_intent set), and records what it says in the
 * ledger: credited or failed as its webhook would, or fetched again
 * later. */
void recharge_fetch(const struct cfg *c, struct stripe_client *stripe, struct store *db,
		    const struct ledger_recharge *r);
/* Cancels at Stripe the claimed try x of a collection another try paid
 * (docs/pay-as-you-go.md, "When the card is refused"), with an
 * Idempotency-Key of its own, and records the result in the ledger:
 * cancelled, refused for good (logged: one that succeeded first is a second
 * payment to refund), or cancelled again later when Stripe is away. */
void recharge_cancel(const struct cfg *c, struct stripe_client *stripe, struct store *db,
		     const struct ledger_cancel *x);
/* How long a claimed charge is leased (its Stripe calls' longest time and
 * a margin): another process sends it only once this has passed. */
int64_t recharge_lease_seconds(const struct cfg *c);
/* The sender's own Stripe client and database connection, for one
 * thread; NULL when out of memory (logged). Freed by recharge_sender_free
 * (NULL is nothing to free). */
struct recharge_sender;
struct recharge_sender *recharge_sender_new(const struct cfg *c);
void recharge_sender_free(struct recharge_sender *r);
/* What rounds did, added up by the caller. */
struct recharge_counts {
	int64_t sent;		/* charges Stripe took (paid, or processing), recorded */
	int64_t failed;		/* declined, not answered or not recorded, or not sent because the
				 * database failed: see the log */
	int64_t held;		/* not sent for now (a dispute open on the account) */
	int64_t db_failed;	/* of failed: not sent, the database failed deciding whether to
				 * (creditctl sweep then exits 1) */
	int64_t fetched;	/* payments without news looked up at Stripe */
	int64_t cancelled;	/* needless collection tries cancelled (or tried) */
};
/* One round: claims up to LIMIT_RECHARGE_BATCH charges due and as many
 * tries to cancel (leased to this process), and sends, fetches or
 * cancels each (none once *stopping), adding to *counts. Returns how
 * many it claimed (0: nothing due), or -1 when a claim failed (the
 * database: recharge_sender_error says why). */
int recharge_round(struct recharge_sender *r, atomic_int *stopping, struct recharge_counts *counts);
/* What the last failure of r's database was ("" : none); lives as r. */
const char *recharge_sender_error(const struct recharge_sender *r);
/* Runs rounds until *stopping: creditd's auto-recharge thread. It waits
 * 250 ms after a round that found nothing due, a second after one that
 * failed. creditctl sweep runs the same rounds once through. */
void recharge_run(const struct cfg *c, atomic_int *stopping);
#endif
