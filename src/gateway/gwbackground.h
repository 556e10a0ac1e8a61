/* gwbackground.h: the Responses API's background runs (docs/gateway.md,
 * "Background responses"): a run made with "background": true is held as
 * a whole call, forwarded, answered at once ("queued"), and its hold is
 * settled when the run ends, exactly once, from whichever learns it
 * first: OpenAI's signed webhook (which moves the run's poll to now),
 * creditd's own poll of GET /responses/{id} (jobs/bgpoll.c drives it),
 * or the client's own GET or cancel through creditd. Every path reads
 * the same response object and settles through the ledger's settle with
 * one request hash per hold: a second settle of the same hold answers as
 * the first, never charges again. */
#ifndef CREDITD_GWBACKGROUND_H
#define CREDITD_GWBACKGROUND_H
#include <stddef.h>
#include <stdint.h>

struct cfg;
struct store;
struct gw_job;
struct ledger_gw_run;

/* The [gateway] keys of cfg (which outlives every call). */
void gwbackground_init(const struct cfg *cfg);

/* A background call's whole 2xx answer (body, len) from its try try_of,
 * on db: 1 when it is a run still running, now recorded (its id kept for
 * the account, its poll scheduled, its hold renewed): answer the client
 * as it is, settle nothing; 0 when it is not a running run (it ended at
 * once, or is no response): settle it as any whole answer; -1 when it is
 * a running run creditd could not record (logged): the caller keeps the
 * hold unresolved (the provider works on, and bills). */
int gwbackground_started(struct store *db, const struct gw_job *job, int try_of, const char *body, size_t len);

/* An object route's 2xx answer for job's object (a GET or a cancel through
 * creditd): when it is a response of a running run of job's account that
 * says the run ended, the run is settled with its usage. */
void gwbackground_seen(struct store *db, const struct gw_job *job, const char *body, size_t len);

/* One poll of a running run, on db (the poll's thread): given up when it
 * ran past LIMIT_GATEWAY_BACKGROUND_DAYS (its hold kept unresolved), else
 * GET /responses/{id} at its provider. 1 ended (settled, or given up), 0
 * still running (its status into status, cap bytes), -1 not learnt (the
 * provider or the database failed: logged, polled again later). */
int gwbackground_poll(struct store *db, const struct ledger_gw_run *run, char *status, size_t cap);

/* Before a DELETE of account's response id is forwarded, on db: a run of
 * it still running (on record) is polled now (gwbackground_poll), and
 * settled when it ended; deleted while it runs, its usage could never be
 * read again. 1 it may be deleted (no running run, or it ended now), 0
 * it still runs (the caller refuses: cancel it first), -1 not learnt (the
 * database or the provider failed: logged). */
int gwbackground_deletable(struct store *db, const char *account, const char *id);

/* When a run polled polls times is looked at next: now plus the first
 * wait doubled each poll, at most the longest ([gateway]
 * background_poll_seconds, background_poll_max_seconds). */
int64_t gwbackground_next_at(int64_t polls, int64_t now);

/* OpenAI's webhook (POST /v1/webhooks/openai) as received, on db: its
 * signature checked (gwwebhook.h), then a response.completed, .failed,
 * .cancelled or .incomplete event of a running run moves its poll to now
 * (*wake set: the poll's thread is to be woken). 200 taken (other events,
 * and ids creditd did not make, are taken and ignored), 400 with why (a
 * static sentence) when refused, 404 when no secret is configured, 503
 * when the database failed (the provider sends it again). */
int gwbackground_hook(struct store *db, const char *id, const char *timestamp, const char *signature, const char *body,
		      size_t len, int *wake, const char **why);

#endif
