/* background.c: creditd's threads beside the workers (worker.h), each
 * on its own so none waits behind another: the sweeper (due holds and
 * grants, the outbox's and the mails' counts, the allocator trimmed), the
 * price reloads, the health watchdog, the event push, the alerts by
 * email, the auto-recharge sender, the poll of the gateway's background
 * runs and the batch jobs (gwbatch_job.h); started, stopped and woken
 * here. Apart from worker.c, which owns the FastCGI requests
 * (docs/architecture.md). */
#include "background.h"
#include "bgpoll.h"
#include "gwbackground.h"
#include "gwbatch_job.h"
#include "config.h"
#include "email_config.h"
#include "ledger.h"
#include "ledger_unresolved.h"
#include "limits.h"
#include "log.h"
#include "mail.h"
#include "notify.h"
#include "notify_config.h"
#include "recharge.h"
#include "store.h"
#include "stripe_config.h"
#include "sweep.h"
#include "timefmt.h"
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

static const struct cfg *bg_cfg;
static atomic_int stopping;
static pthread_mutex_t bg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t bg_cond = PTHREAD_COND_INITIALIZER;
static int bg_reload;
static atomic_int bg_alive;
static atomic_int prices_alive;
static atomic_int watchdog_alive;
static atomic_int notify_alive;
static atomic_int mail_alive;
static atomic_int recharge_alive;
static atomic_int bgpoll_alive;

/* Hands the allocator's free pages back to the system, at most once per
 * LIMIT_MALLOC_TRIM_SECONDS: glibc keeps what a burst of requests freed
 * (a heap's top, and free pages inside its arenas) as the process's own,
 * so RSS would stay at the highest it ever reached. */
static void memory_trim(void)
{
	static int64_t last_ms;
	int64_t now = timefmt_mono_ms();
	if (now - last_ms < LIMIT_MALLOC_TRIM_SECONDS * 1000)
		return;
	last_ms = now;
	malloc_trim(0);
}

static void *background_main(void *arg)
{
	struct store *db = store_new(bg_cfg);
	(void)arg;
	if (db != NULL)
		ledger_outbox_count(db);	/* /metrics has a figure from the start */
	if (db != NULL)
		ledger_unresolved_count(db);
	if (db != NULL && email_config_on(bg_cfg))
		ledger_mails_count(db);
	pthread_mutex_lock(&bg_lock);
	while (db != NULL && !atomic_load(&stopping)) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += (time_t)bg_cfg->sweep_interval_seconds;
		while (!bg_reload && !atomic_load(&stopping) &&
		       pthread_cond_timedwait(&bg_cond, &bg_lock, &until) != ETIMEDOUT)
			;
		bg_reload = 0;
		if (atomic_load(&stopping))
			break;
		pthread_mutex_unlock(&bg_lock);
		/* What is left when a pass took its fill waits for the next. */
		struct sweep_counts counts = {0, 0, 0};
		int more = 0;
		sweep_pass(db, &counts, &more);
		ledger_prices_ask();
		ledger_outbox_count(db);
		ledger_unresolved_count(db);
		if (email_config_on(bg_cfg))
			ledger_mails_count(db);
		memory_trim();
		pthread_mutex_lock(&bg_lock);
	}
	pthread_mutex_unlock(&bg_lock);
	store_free(db);
	atomic_store(&bg_alive, 0);
	return NULL;
}

/* The price reloads, a thread of their own (a request that misses waits
 * for one, never behind a sweep): the first load, then each one asked. */
static void *prices_main(void *arg)
{
	struct store *db = store_new(bg_cfg);
	(void)arg;
	ledger_prices_serve(db);
	store_free(db);
	atomic_store(&prices_alive, 0);
	return NULL;
}

/* The event push, when [notify] url is set: a thread of its own, so a
 * slow receiver holds up neither requests nor sweeps. */
static void *notify_main(void *arg)
{
	(void)arg;
	notify_run(bg_cfg, &stopping);
	atomic_store(&notify_alive, 0);
	return NULL;
}

/* Alerts by email, when [email] smtp_url is set: an SMTP server may take
 * seconds to answer, so a thread of its own too. */
static void *mail_main(void *arg)
{
	(void)arg;
	mail_run(bg_cfg, &stopping);
	atomic_store(&mail_alive, 0);
	return NULL;
}

/* The auto-recharge sender, when Stripe is configured: Stripe's answers
 * may take seconds, so it is a thread of its own too. */
static void *recharge_main(void *arg)
{
	(void)arg;
	recharge_run(bg_cfg, &stopping);
	atomic_store(&recharge_alive, 0);
	return NULL;
}

/* The poll of the gateway's background runs (docs/gateway.md,
 * "Background responses"): a provider may take seconds to answer a
 * poll, so a thread of its own; the gateway looks at each run. */
static void *bgpoll_main(void *arg)
{
	static const struct bgpoll_hooks hooks = {gwbackground_poll, gwbackground_next_at};
	(void)arg;
	bgpoll_run(bg_cfg, &stopping, &hooks);
	atomic_store(&bgpoll_alive, 0);
	return NULL;
}

/* The health watchdog: its own connection with short timeouts, probed
 * every LIMIT_HEALTH_INTERVAL_MS, so /healthz and the workers learn of a
 * stalled or lost database within two seconds without a round trip of
 * their own. A thread apart from the background one, whose sweeps may
 * themselves wait on the database. */
static void *watchdog_main(void *arg)
{
	struct store *db = store_new_probe(bg_cfg);
	(void)arg;
	while (db != NULL && !atomic_load(&stopping)) {
		store_health_probe(db);
		struct timespec ts = {0, LIMIT_HEALTH_INTERVAL_MS * 1000L * 1000L};
		nanosleep(&ts, NULL);
	}
	store_free(db);
	atomic_store(&watchdog_alive, 0);
	return NULL;
}

int background_start(const struct cfg *cfg)
{
	pthread_attr_t attr;
	pthread_t t;
	bg_cfg = cfg;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, LIMIT_THREAD_STACK_BYTES);
	atomic_store(&watchdog_alive, 1);
	if (pthread_create(&t, &attr, watchdog_main, NULL) != 0) {
		log_error("cannot start the health watchdog: %s", strerror(errno));
		return -1;
	}
	atomic_store(&prices_alive, 1);
	ledger_prices_start();
	if (pthread_create(&t, &attr, prices_main, NULL) != 0) {
		log_error("cannot start the price reloads: %s", strerror(errno));
		return -1;
	}
	atomic_store(&bg_alive, 1);
	if (pthread_create(&t, &attr, background_main, NULL) != 0) {
		log_error("cannot start the background thread: %s", strerror(errno));
		return -1;
	}
	if (notify_config_of(cfg)->url[0] != '\0') {
		atomic_store(&notify_alive, 1);
		if (pthread_create(&t, &attr, notify_main, NULL) != 0) {
			log_error("cannot start the event push: %s", strerror(errno));
			return -1;
		}
	}
	if (email_config_on(cfg)) {
		atomic_store(&mail_alive, 1);
		if (pthread_create(&t, &attr, mail_main, NULL) != 0) {
			log_error("cannot start the alerts by email: %s", strerror(errno));
			return -1;
		}
	}
	if (stripe_config_of(cfg)->secret_key[0] != '\0') {
		atomic_store(&recharge_alive, 1);
		if (pthread_create(&t, &attr, recharge_main, NULL) != 0) {
			log_error("cannot start the auto-recharge sender: %s", strerror(errno));
			return -1;
		}
	}
	gwbackground_init(cfg);
	atomic_store(&bgpoll_alive, 1);
	if (pthread_create(&t, &attr, bgpoll_main, NULL) != 0) {
		log_error("cannot start the poll of background runs: %s", strerror(errno));
		return -1;
	}
	pthread_attr_destroy(&attr);
	return gwbatch_job_start(cfg);
}

void background_stop(void)
{
	atomic_store(&stopping, 1);
	gwbatch_job_stop();
	pthread_mutex_lock(&bg_lock);
	pthread_cond_broadcast(&bg_cond);
	pthread_mutex_unlock(&bg_lock);
	bgpoll_stop();
}

int background_running(void)
{
	return atomic_load(&bg_alive) != 0 || atomic_load(&prices_alive) != 0 || atomic_load(&watchdog_alive) != 0 ||
	       atomic_load(&notify_alive) != 0 || atomic_load(&mail_alive) != 0 || atomic_load(&recharge_alive) != 0 ||
	       atomic_load(&bgpoll_alive) != 0 || gwbatch_job_running();
}

void background_reload(void)
{
	pthread_mutex_lock(&bg_lock);
	bg_reload = 1;
	pthread_cond_broadcast(&bg_cond);
	pthread_mutex_unlock(&bg_lock);
	ledger_prices_ask();
}
