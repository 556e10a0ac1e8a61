/* notify.c: the push of the outbox (see notify.h). The events come from
 * the ledger (which ones are due, their order, leases and backoff), the
 * POST from the HTTP client in stripe.c, the signature from webhook.c. */
#include "notify.h"
#include "notify_config.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "stripe.h"
#include "timefmt.h"
#include "webhook.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A claimed event is leased for its POST's longest time and a margin:
 * another creditd sends it only once this has passed. */
#define NOTIFY_LEASE_MARGIN_SECONDS 5

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Sends one event; 1 when the receiver took it (2xx). */
static int push_one(const struct notify_config *c, struct stripe_client *http, const struct ledger_push *p,
		    char *error, size_t errcap)
{
	char mac[65], header[128];
	int64_t t = timefmt_now();
	struct stripe_result out;
	webhook_sign(c->secret, t, p->body, strlen(p->body), mac);
	snprintf(header, sizeof(header), "Creditd-Signature: t=%lld,v1=%s", (long long)t, mac);
	enum stripe_status st = stripe_push(http, c->url, p->body, header, &out);
	if (st == STRIPE_OK && out.http_status >= 200 && out.http_status < 300)
		return 1;
	metrics_push_failure();
	if (st != STRIPE_OK)
		snprintf(error, errcap, "%.200s", out.message);
	else
		snprintf(error, errcap, "HTTP %d", out.http_status);
	return 0;
}

struct notify_pusher {
	const struct cfg *cfg;
	struct stripe_client *http;
	struct store *db;
	/* The lease covers every POST of a round, one after the other: no
	 * other process sends one of them meanwhile (order per account). */
	int64_t lease_seconds;
};

struct notify_pusher *notify_pusher_new(const struct cfg *c)
{
	const struct notify_config *n = notify_config_of(c);
	struct stripe_settings s = {n->url, "", (long)n->connect_timeout_ms, (long)n->timeout_ms};
	struct notify_pusher *p = calloc(1, sizeof(*p));
	if (p != NULL) {
		p->cfg = c;
		p->http = stripe_client_new(&s);
		p->db = store_new(c);
		p->lease_seconds = LIMIT_NOTIFY_BATCH * ((n->connect_timeout_ms + n->timeout_ms) / 1000 + 1) +
				   NOTIFY_LEASE_MARGIN_SECONDS;
	}
	if (p == NULL || p->http == NULL || p->db == NULL) {
		log_error("event push not started: out of memory");
		notify_pusher_free(p);
		return NULL;
	}
	return p;
}

void notify_pusher_free(struct notify_pusher *p)
{
	if (p == NULL)
		return;
	store_free(p->db);
	stripe_client_free(p->http);
	free(p);
}

int notify_round(struct notify_pusher *p, atomic_int *stopping, struct notify_counts *counts)
{
	struct ledger_push due[LIMIT_NOTIFY_BATCH];
	int n = 0;
	if (ledger_events_claim(p->db, due, LIMIT_NOTIFY_BATCH, p->lease_seconds, &n) != CD_OK)
		return -1;
	for (int i = 0; i < n; i++) {
		char error[256] = "";
		int ok = !atomic_load(stopping) && push_one(notify_config_of(p->cfg), p->http, &due[i], error,
							    sizeof(error));
		if (!ok && error[0] != '\0')
			log_warn("event %lld not delivered (attempt %lld): %s", (long long)due[i].id,
				 (long long)due[i].attempts + 1, error);
		if (ok || error[0] != '\0')
			ledger_event_pushed(p->db, due[i].id, ok, error, notify_config_of(p->cfg)->retry_hours * 3600);
		counts->delivered += ok;
		counts->failed += !ok && error[0] != '\0';
		free(due[i].body);
	}
	return n;
}

const char *notify_pusher_error(const struct notify_pusher *p)
{
	return store_errmsg(p->db);
}

void notify_run(const struct cfg *c, atomic_int *stopping)
{
	struct notify_pusher *p = notify_pusher_new(c);
	struct notify_counts counts = {0, 0};
	if (p == NULL)
		return;
	log_info("pushing events to the notify url");	/* the URL may hold a token: not logged */
	while (!atomic_load(stopping)) {
		int n = notify_round(p, stopping, &counts);
		if (n <= 0)
			sleep_ms(n == 0 ? 250 : 1000);
	}
	notify_pusher_free(p);
}
