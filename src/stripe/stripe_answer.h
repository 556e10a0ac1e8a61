/* stripe_answer.h: what stripe.c takes from stripe_answer.c: a result
 * begun, failed with a sentence, and Stripe's answer read into it. */
#ifndef CREDITD_STRIPE_ANSWER_H
#define CREDITD_STRIPE_ANSWER_H
#include <stddef.h>
#include "stripe.h"

/* out emptied (amount_received -1: none). */
void stripe_answer_init(struct stripe_result *out);
/* st, with out's message the sentence fmt makes. */
__attribute__((format(printf, 3, 4)))
enum stripe_status stripe_answer_fail(struct stripe_result *out, enum stripe_status st, const char *fmt, ...);
/* 1 when id looks like a Stripe object id ("cus_...", "cs_test_..."). */
int stripe_answer_id_ok(const char *id);
/* Stripe's answer (body, len bytes; HTTP code) into out: a 2xx's id
 * (want_url: its checkout url too, https only), else its error. */
enum stripe_status stripe_answer_read(const char *body, size_t len, long code, int want_url,
				      struct stripe_result *out);
#endif
