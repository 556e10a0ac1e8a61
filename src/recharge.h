/* recharge.h: the auto-recharge sender (DESIGN §9): one thread that takes
 * the recharges queued by the ledger and creates each PaymentIntent at
 * Stripe (off-session, confirmed, the saved card), with the recharge's id
 * as Stripe's Idempotency-Key, so a retry never charges twice. The credit
 * comes with the payment_intent.succeeded webhook. */
#ifndef CREDITD_RECHARGE_H
#define CREDITD_RECHARGE_H
#include <stdatomic.h>
#include "config.h"

/* Runs until *stopping. */
void recharge_run(const struct cfg *c, atomic_int *stopping);
#endif
