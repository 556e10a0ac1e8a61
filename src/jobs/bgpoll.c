/* bgpoll.c: the poll of the gateway's background runs (bgpoll.h;
 * docs/gateway.md, "Background responses"): the due runs read from the
 * ledger, every running run's hold renewed first (one statement a
 * round), each due run claimed (one poller looks at it) and looked at
 * through the gateway's hook, its next look set by the back-off.
 *
 * Never: keeps a run in memory between rounds (the database's list is
 * the only one: a restart loses nothing); settles or charges (the
 * gateway's hook does, through the ledger's settle). */
#include "bgpoll.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "store.h"
#include "timefmt.h"
#include <errno.h>
#include <pthread.h>
#include <time.h>

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static int woken;

void bgpoll_wake(void)
{
	pthread_mutex_lock(&wake_lock);
	woken = 1;
	pthread_cond_broadcast(&wake_cond);
	pthread_mutex_unlock(&wake_lock);
}

void bgpoll_stop(void)
{
	bgpoll_wake();
}

/* Waits a second, or until woken. */
static void wait_round(atomic_int *stopping)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&wake_lock);
	while (!woken && !atomic_load(stopping) && pthread_cond_timedwait(&wake_cond, &wake_lock, &until) != ETIMEDOUT)
		;
	woken = 0;
	pthread_mutex_unlock(&wake_lock);
}

/* One run looked at, once claimed (another poller sharing the database
 * may have taken it first: then it is its): ended, or its next look set. */
static void look(struct store *db, const struct ledger_gw_run *run, const struct bgpoll_hooks *h)
{
	char status[sizeof(run->status)];
	int claimed = 0;
	int64_t until = timefmt_now() + LIMIT_GATEWAY_BACKGROUND_LEASE_SECONDS;
	enum cd_err rc = ledger_gw_run_claim(db, run->response_id, run->next_poll_at, until, &claimed);
	if (rc != CD_OK || !claimed)
		return;
	int r = h->poll(db, run, status, sizeof(status));
	if (r == 1)
		return;
	/* Set where the claim still stands: a webhook that came during the
	 * poll moved the look to now, and keeps it. */
	rc = ledger_gw_run_next(db, run->response_id, until, r == 0 ? status : run->status, run->polls + 1,
				h->next_at(run->polls + 1, timefmt_now()));
	if (rc != CD_OK)
		log_warn("gateway: background %s: its next poll not set (%s)", run->response_id, errors_strerror(rc));
}

int bgpoll_round(struct store *db, const struct bgpoll_hooks *h, atomic_int *stopping)
{
	static struct ledger_gw_run runs[LIMIT_GATEWAY_BACKGROUND_BATCH];	/* one caller a process */
	size_t n = 0;
	/* Every running run's hold first, in one statement: a round's polls
	 * run one after another, and a hold must not expire behind them. */
	enum cd_err rc = ledger_gw_run_renew_all(db, LIMIT_GATEWAY_BACKGROUND_HOLD_SECONDS);
	if (rc != CD_OK)
		log_warn("gateway: the background runs' holds not renewed (%s): tried again next round",
			 errors_strerror(rc));
	/* No run claimed before the prices are loaded (right after a start):
	 * a look then learns nothing, and its next look would be a back-off
	 * away, a webhook's "look now" lost with it. The runs stay due. */
	if (!ledger_prices_ready()) {
		store_end_request(db);
		return 0;
	}
	rc = ledger_gw_run_due(db, runs, LIMIT_GATEWAY_BACKGROUND_BATCH, &n);
	for (size_t i = 0; rc == CD_OK && i < n && !atomic_load(stopping); i++)
		look(db, &runs[i], h);
	store_end_request(db);
	return rc == CD_OK ? (int)n : -1;
}

void bgpoll_run(const struct cfg *c, atomic_int *stopping, const struct bgpoll_hooks *h)
{
	struct store *db = store_new(c);
	if (db == NULL)
		return;
	/* A webhook sent while no creditd ran is lost (OpenAI tries again
	 * for a while only): every running run is looked at once at start. */
	if (ledger_gw_run_wake_all(db) != CD_OK)
		log_warn("gateway: the background runs were not all looked at on start: each at its next poll");
	while (!atomic_load(stopping)) {
		if (bgpoll_round(db, h, stopping) < LIMIT_GATEWAY_BACKGROUND_BATCH)
			wait_round(stopping);
	}
	store_free(db);
}
