/* ctl_sweep.c: creditctl sweep (see ctl_sweep.h). It owns the run's
 * order, its time and its lock (one run at a time on a database); every
 * pass and round is src/jobs/'s, the code the daemon's threads loop on.
 * The gateway's background runs due are polled too (docs/gateway.md,
 * "Background responses": on a shared host no creditd may be alive to
 * poll them); what that did is logged, not in the line.
 * Its line, for a cron job's log:
 *   TIME sweep: accounts=N collections=N topups_expired=N
 *     charges_sent=N charges_failed=N charges_held=N charges_looked_up=N
 *     tries_cancelled=N events_delivered=N events_failed=N mails_sent=N
 *     mails_failed=N seconds=S done|unfinished|failed
 * (charges=off without a Stripe key, events=off without [notify] url,
 * mails=off without [email] smtp_url), or,
 * when another run holds the lock:
 *   TIME sweep: another creditctl sweep is running on this database; nothing done */
#include "ctl_sweep.h"
#include "errors.h"
#include "ledger.h"
#include "limits.h"
#include "log.h"
#include "email_config.h"
#include "bgpoll.h"
#include "gwbackground.h"
#include "mail.h"
#include "notify.h"
#include "notify_config.h"
#include "recharge.h"
#include "stripe.h"
#include "stripe_config.h"
#include "sweep.h"
#include "timefmt.h"
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

/* What a run did. */
struct run {
	double started, deadline;	/* monotonic seconds */
	struct sweep_counts ledger;
	struct recharge_counts charges;
	struct notify_counts events;
	struct mail_counts mails;
	int failed;			/* a pass or round could not run, or the database failed on a charge */
	int unreachable;		/* the database cannot be reached: nothing more to try */
	int unfinished;			/* the time ran out with work left */
};

static double now_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 1 while another pass or round may start; 0 (the run unfinished) once
 * its time is over. Asked only when there is more to do. */
static int time_left(struct run *r)
{
	if (now_seconds() < r->deadline)
		return 1;
	r->unfinished = 1;
	return 0;
}

/* A failure, on stderr once: what failed and the database's words. */
static void failed(struct run *r, const char *what, const char *why)
{
	r->failed = 1;
	fprintf(stderr, "creditctl: sweep: %s failed%s%s\n", what, why[0] ? ": " : "", why);
}

static void ledger_passes(struct store *db, struct run *r)
{
	int more = 1;
	enum cd_err rc = CD_OK;
	while (more && rc == CD_OK && time_left(r))
		rc = sweep_pass(db, &r->ledger, &more);
	if (rc != CD_OK)
		failed(r, "the ledger's pass", store_errmsg(db)[0] ? store_errmsg(db) : errors_strerror(rc));
	r->unreachable = rc == CD_E_UNAVAILABLE;
}

static void charge_rounds(const struct cfg *cfg, struct run *r)
{
	atomic_int stopping = 0;
	struct recharge_sender *s = recharge_sender_new(cfg);
	int n = 1;
	if (s == NULL) {
		r->failed = 1;	/* said where it failed */
		return;
	}
	while (n > 0 && time_left(r))
		n = recharge_round(s, &stopping, &r->charges);
	if (n < 0)
		failed(r, "the charges", recharge_sender_error(s));
	/* Each said on stderr where it failed; the run failed too (exit 1),
	 * as it does when a claim fails: the database needs a look. */
	if (r->charges.db_failed > 0)
		r->failed = 1;
	recharge_sender_free(s);
}

static void event_rounds(const struct cfg *cfg, struct run *r)
{
	atomic_int stopping = 0;
	struct notify_pusher *p = notify_pusher_new(cfg);
	int n = 1;
	if (p == NULL) {
		r->failed = 1;	/* said where it failed */
		return;
	}
	while (n > 0 && time_left(r))
		n = notify_round(p, &stopping, &r->events);
	if (n < 0)
		failed(r, "the event push", notify_pusher_error(p));
	notify_pusher_free(p);
}

static void mail_rounds(const struct cfg *cfg, struct run *r)
{
	atomic_int stopping = 0;
	struct mail_sender *m = mail_sender_new(cfg);
	int n = 1;
	if (m == NULL) {
		r->failed = 1;	/* said where it failed */
		return;
	}
	while (n > 0 && time_left(r))
		n = mail_round(m, &stopping, &r->mails);
	if (n < 0)
		failed(r, "the mails", mail_sender_error(m));
	mail_sender_free(m);
}

static void background_rounds(const struct cfg *cfg, struct store *db, struct run *r)
{
	static const struct bgpoll_hooks hooks = {gwbackground_poll, gwbackground_next_at};
	atomic_int stopping = 0;
	int n = LIMIT_GATEWAY_BACKGROUND_BATCH;
	gwbackground_init(cfg);
	/* A run's settle prices its dimensions beyond tokens: never from an
	 * empty price cache (creditctl has no reload thread). */
	if (ledger_prices_reload(db) != CD_OK) {
		failed(r, "the background runs' poll (the prices not loaded)", store_errmsg(db));
		return;
	}
	while (n == LIMIT_GATEWAY_BACKGROUND_BATCH && time_left(r))
		n = bgpoll_round(db, &hooks, &stopping);
	if (n < 0)
		failed(r, "the background runs' poll", store_errmsg(db));
}

static void print_line(const struct cfg *cfg, const struct run *r)
{
	char when[TIMEFMT_LEN], charges[160] = "charges=off", events[96] = "events=off", mails[96] = "mails=off";
	timefmt_rfc3339(timefmt_now(), when);
	if (stripe_config_of(cfg)->secret_key[0] != '\0')
		snprintf(charges, sizeof(charges), "charges_sent=%lld charges_failed=%lld charges_held=%lld "
			 "charges_looked_up=%lld tries_cancelled=%lld", (long long)r->charges.sent,
			 (long long)r->charges.failed, (long long)r->charges.held, (long long)r->charges.fetched,
			 (long long)r->charges.cancelled);
	if (notify_config_of(cfg)->url[0] != '\0')
		snprintf(events, sizeof(events), "events_delivered=%lld events_failed=%lld",
			 (long long)r->events.delivered, (long long)r->events.failed);
	if (email_config_on(cfg))
		snprintf(mails, sizeof(mails), "mails_sent=%lld mails_failed=%lld", (long long)r->mails.sent,
			 (long long)r->mails.failed);
	printf("%s sweep: accounts=%lld collections=%lld topups_expired=%lld %s %s %s seconds=%.1f %s\n", when,
	       (long long)r->ledger.accounts, (long long)r->ledger.collections, (long long)r->ledger.topups_expired,
	       charges, events, mails, now_seconds() - r->started, r->failed ? "failed" : r->unfinished ? "unfinished" : "done");
	fflush(stdout);
}

/* 1 when this run may go on: it holds the lock, or the server has none to
 * take (Galera: warned) or cannot be reached (the passes say so); 0 when
 * another run holds it (said on stdout, which cron's line drops: a run
 * left to the one before is no failure). */
static int alone(struct store *db)
{
	enum cd_err rc = store_sweep_lock(db);
	if (rc == CD_E_CONFLICT) {
		char when[TIMEFMT_LEN];
		timefmt_rfc3339(timefmt_now(), when);
		printf("%s sweep: another creditctl sweep is running on this database; nothing done\n", when);
		fflush(stdout);
		return 0;
	}
	if (rc != CD_OK && rc != CD_E_UNAVAILABLE)
		fprintf(stderr, "creditctl: sweep: warning: no lock on the run (%s): two runs may overlap\n",
			store_errmsg(db));
	return 1;
}

int ctl_sweep(struct store *db, const struct cfg *cfg, int argc, char **argv)
{
	struct run r = {0};
	(void)argv;
	if (argc != 2) {
		fprintf(stderr, "creditctl: sweep takes no argument: %s\nusage: creditctl sweep\n", argv[2]);
		return 2;
	}
	/* What each pass did is in the line; stderr keeps what needs a look
	 * (cron mails it). */
	log_open("stderr", LOG_LVL_WARN);
	if (!alone(db))
		return 0;
	if (stripe_global_init() != 0) {
		fprintf(stderr, "creditctl: sweep: the HTTP client cannot start\n");
		return 1;
	}
	r.started = now_seconds();
	r.deadline = r.started + LIMIT_SWEEP_RUN_SECONDS;
	ledger_passes(db, &r);
	/* Charges before events: a charge's outcome is an event to push. A
	 * database the passes could not reach, the rounds would not either. */
	if (stripe_config_of(cfg)->secret_key[0] != '\0' && !r.unreachable)
		charge_rounds(cfg, &r);
	if (notify_config_of(cfg)->url[0] != '\0' && !r.unreachable)
		event_rounds(cfg, &r);
	if (email_config_on(cfg) && !r.unreachable)
		mail_rounds(cfg, &r);
	if (!r.unreachable)
		background_rounds(cfg, db, &r);
	print_line(cfg, &r);
	stripe_global_cleanup();
	return r.failed ? 1 : 0;
}
