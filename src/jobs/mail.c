/* mail.c: alerts by email (see mail.h). The events and their mail rows
 * come from the ledger (ledger_mails_*: which are due, leases, backoff),
 * the message from mail_build.c, the SMTP session from mail_smtp.c. */
#include "mail.h"
#include "email_config.h"
#include "ledger.h"
#include "log.h"
#include "mail_build.h"
#include "mail_smtp.h"
#include "metrics.h"
#include "timefmt.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A claim is leased for its mails' longest time and a margin: another
 * creditd sends none of them before this has passed. */
#define MAIL_LEASE_MARGIN_SECONDS 5

struct mail_sender {
	const struct cfg *cfg;
	struct store *db;
	int64_t lease_seconds;
};

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

struct mail_sender *mail_sender_new(const struct cfg *c)
{
	struct mail_sender *m = calloc(1, sizeof(*m));
	if (m != NULL) {
		m->cfg = c;
		m->db = store_new(c);
		m->lease_seconds = LIMIT_MAIL_BATCH * (LIMIT_MAIL_TIMEOUT_SECONDS + 1) + MAIL_LEASE_MARGIN_SECONDS;
	}
	if (m == NULL || m->db == NULL) {
		log_error("alerts by email not started: out of memory");
		mail_sender_free(m);
		return NULL;
	}
	return m;
}

void mail_sender_free(struct mail_sender *m)
{
	if (m == NULL)
		return;
	store_free(m->db);
	free(m);
}

const char *mail_sender_error(const struct mail_sender *m)
{
	return store_errmsg(m->db);
}

/* Makes and sends one mail: 1 when the server took it. */
static int send_one(const struct mail_sender *m, const struct ledger_mail *d, char *error, size_t errcap)
{
	const struct email_config *c = email_config_of(m->cfg);
	struct mail_head h = {c->from, d->email, c->locale, c->topup_url, m->cfg->currency, timefmt_now()};
	struct mail_event e = {d->event_id, d->created_at, d->type, d->account, d->data, d->balance_micros};
	char *message = mail_build(&h, &e);
	if (message == NULL) {
		snprintf(error, errcap, "the message could not be made (out of memory)");
		return 0;
	}
	int ok = mail_smtp_send(c, d->email, message, error, errcap) == 0;
	free(message);
	return ok;
}

int mail_round(struct mail_sender *m, atomic_int *stopping, struct mail_counts *counts)
{
	const struct email_config *c = email_config_of(m->cfg);
	struct ledger_mail due[LIMIT_MAIL_BATCH];
	int scanned = 0, added = 0, n = 0;
	if (ledger_mails_enqueue(m->db, c->types, c->retry_hours * 3600, &scanned, &added) != CD_OK ||
	    ledger_mails_claim(m->db, due, LIMIT_MAIL_BATCH, m->lease_seconds, &n) != CD_OK)
		return -1;
	for (int i = 0; i < n; i++) {
		char error[256] = "";
		int ok = !atomic_load(stopping) && send_one(m, &due[i], error, sizeof(error));
		if (ok)
			metrics_mail_sent();
		else if (error[0] != '\0')
			metrics_mail_failure();
		if (!ok && error[0] != '\0')
			log_warn("event %lld not mailed (attempt %lld): %s", (long long)due[i].event_id,
				 (long long)due[i].attempts + 1, error);
		if (ok || error[0] != '\0')
			ledger_mail_sent(m->db, due[i].event_id, ok, error, c->retry_hours * 3600);
		counts->sent += ok;
		counts->failed += !ok && error[0] != '\0';
		free(due[i].data);
	}
	return scanned + n;
}

void mail_run(const struct cfg *c, atomic_int *stopping)
{
	struct mail_sender *m = mail_sender_new(c);
	struct mail_counts counts = {0, 0};
	if (m == NULL)
		return;
	log_info("mailing alerts through the SMTP server");	/* its URL is not logged */
	while (!atomic_load(stopping)) {
		int n = mail_round(m, stopping, &counts);
		if (n < 0)
			log_warn("alerts by email: %s", mail_sender_error(m));
		if (n <= 0)
			sleep_ms(n == 0 ? 1000 : 5000);
	}
	mail_sender_free(m);
}
