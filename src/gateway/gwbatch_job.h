/* gwbatch_job.h: the thread that carries every batch to its settle
 * (docs/gateway.md, "Batches"): it polls each running job of
 * gateway_jobs at its time, renews its hold while it runs, and once the
 * provider has ended it fetches its results and charges them line by
 * line. Its state is the table's, never its own: a restart picks up
 * every job where its row says it stands. */
#ifndef CREDITD_GWBATCH_JOB_H
#define CREDITD_GWBATCH_JOB_H
struct cfg;
/* Starts the thread for cfg. 0, or -1 (logged). */
int gwbatch_job_start(const struct cfg *cfg);
/* Asks it to stop: it ends after the job it is on (whose row says where
 * it stands, for the next start). */
void gwbatch_job_stop(void);
/* Wakes it now (a batch was cancelled: its job is due at once). */
void gwbatch_job_wake(void);
/* 1 while it runs. */
int gwbatch_job_running(void);
/* The shape of a batch's lines' route ("/openai/v1/chat/completions",
 * "/anthropic/v1/messages") and the provider's path of the batch
 * objectid's action into out (cap bytes): action "" the batch itself,
 * "cancel", "results" (Anthropic's). 0, or -1 when it does not fit. */
int gwbatch_job_path(const char *route, const char *id, const char *action, char *out, unsigned long cap);
#endif
