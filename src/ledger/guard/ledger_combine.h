/* ledger_combine.h: flat combining, the queue behind group commit.
 *
 * A thread with work to do queues it and waits. When fewer than `width`
 * batches are running, the first waiting thread becomes a combiner: it
 * takes up to `max_batch` queued operations (its own among them when it
 * is near the front; others' when it is not), runs them all with its own
 * resources, marks each done and wakes its owner. With one thread the
 * batch is that thread's one operation, run at once by the thread itself:
 * no handoff, no wait. The caller drives it, so nothing here calls up:
 *	ledger_combine_enter(c, op);
 *	while ((n = ledger_combine_next(c, op, ops)) > 0) {
 *		run ops[0..n-1];
 *		ledger_combine_done(c, ops, n);
 *	}
 * Knows nothing of SQL: the ledger's guard (ledger_holds.c) is its one
 * user; unit-tested alone. */
#ifndef CREDITD_LEDGER_COMBINE_H
#define CREDITD_LEDGER_COMBINE_H
#include <pthread.h>
#include <stddef.h>

/* Batch sizes /metrics shows, by power-of-two bounds: 1, 2, 3-4, 5-8,
 * ..., 33-64 (a larger batch counts in the last). */
#define COMBINE_BUCKETS 7
/* The most operations a batch may take (max_batch is cut to it). */
#define COMBINE_MAX_BATCH 64

struct combine_op {
	struct combine_op *next;	/* the queue's, while queued */
	int done;			/* set by the combiner, under the lock */
	int waiting;			/* its owner sleeps on wake (not combining) */
	pthread_cond_t wake;		/* its owner waits on this */
};

struct combiner {
	pthread_mutex_t lock;
	struct combine_op *head, *tail;	/* queued, oldest first */
	int queued;
	int running;			/* combiners running a batch */
	int width;			/* most combiners at once */
	int max_batch;			/* most operations per batch */
	unsigned long long batches, ops;
	unsigned long long buckets[COMBINE_BUCKETS];
};

void ledger_combine_init(struct combiner *c, int width, int max_batch);
/* Queues op. */
void ledger_combine_enter(struct combiner *c, struct combine_op *op);
/* Waits until op is done (0: then the caller goes on with its answer) or
 * this thread is to combine: n > 0 operations taken off the queue into
 * ops (room for COMBINE_MAX_BATCH), which the caller runs without the
 * queue's lock and hands back to ledger_combine_done. */
int ledger_combine_next(struct combiner *c, struct combine_op *op, struct combine_op **ops);
/* Marks ops[0..n-1] done and wakes their owners, and one sleeping owner
 * to combine what queued meanwhile. */
void ledger_combine_done(struct combiner *c, struct combine_op **ops, int n);
/* A copy of the counters: batches run, operations run, and how many
 * batches fell in each size bucket (bucket i: sizes up to 2^i; the last
 * one takes every larger size). */
struct ledger_combine_stats {
	unsigned long long batches, ops;
	unsigned long long buckets[COMBINE_BUCKETS];
	int bucket_le[COMBINE_BUCKETS];	/* each bucket's upper bound */
};
void ledger_combine_stats(struct combiner *c, struct ledger_combine_stats *s);
#endif
