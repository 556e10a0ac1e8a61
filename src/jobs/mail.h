/* mail.h: alerts by email (docs/operations.md, "Alerts by email"): one thread of
 * creditd (or creditctl sweep, where no creditd stays up) that reads the
 * outbox for events of the types [email] events names on accounts with an
 * email, and mails each (mail_build.c makes the message, mail_smtp.c sends
 * it), at least once, with exponential backoff, one process at a time per
 * mail (a lease). Uses its own database connection, so mailing never
 * holds up a request. */
#ifndef CREDITD_MAIL_H
#define CREDITD_MAIL_H
#include <stdatomic.h>
#include <stdint.h>
#include "config.h"

/* The mailer's database connection, for one thread; NULL when out of
 * memory (logged). Freed by mail_sender_free (NULL: nothing). */
struct mail_sender;
struct mail_sender *mail_sender_new(const struct cfg *c);
void mail_sender_free(struct mail_sender *m);
/* What rounds did, added up by the caller. */
struct mail_counts {
	int64_t sent;		/* mails the SMTP server took */
	int64_t failed;		/* attempts that failed, each retried after its backoff */
};
/* One round: reads the outbox past the cursor into mails, claims up to
 * LIMIT_MAIL_BATCH mails due (leased to this process), sends them one
 * after the other (none once *stopping) and records what happened.
 * Returns the events read and mails claimed (0: nothing to do), or -1
 * when the database failed (mail_sender_error says why). */
int mail_round(struct mail_sender *m, atomic_int *stopping, struct mail_counts *counts);
const char *mail_sender_error(const struct mail_sender *m);
/* Runs rounds until *stopping: creditd's mail thread. It waits a second
 * after a round that found nothing to do, 5 after one that failed. */
void mail_run(const struct cfg *c, atomic_int *stopping);
#endif
