/* worker.h: the pool of FastCGI worker threads and the background thread.
 *
 * Each worker accepts with FCGX_Accept_r on the shared listening socket,
 * owns one ledger connection and one Stripe client, reads the request to
 * EOF (body capped), answers through the router and logs one line. The
 * background thread sweeps due holds and grants and reloads prices. */
#ifndef CREDITD_WORKER_H
#define CREDITD_WORKER_H

struct cfg;

/* Starts cfg->threads workers on listen_fd plus the background thread.
 * 0, or -1 (logged). */
int worker_start(const struct cfg *cfg, int listen_fd);
/* Stops accepting, waits (bounded by timeout_ms) for in-flight requests
 * to finish and the background thread to stop. Returns 0 when every
 * thread is gone, -1 when nothing is in flight but a thread lingers, or
 * the number of requests still running when it gave up. */
int worker_stop(int listen_fd, int timeout_ms);
/* Asks the background thread to reload prices now (SIGHUP). */
void worker_reload(void);
#endif
