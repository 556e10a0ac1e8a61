/* ledger_combine.h: flat combining, the queue behind group commit.
 *
 * A thread with work to do queues it and waits. When fewer than `width`
 * batches are running, the first waiting thread becomes a combiner: it
 * takes up to `max_batch` queued operations (its own among them when it
 * is near the front; others' when it is not), runs them all with its own
 * resources by one call of `run`, marks each done and wakes its owner.
 * With one thread the batch is that thread's one operation, run at once
 * by the thread itself: no handoff, no wait. Knows nothing of SQL: the
 * ledger's guard (ledger_holds.c) is its one user; unit-tested alone. */
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

/* Runs ops[0..n-1] (n >= 1) on `self`, the combining thread's resources,
 * and fills each one's answer; called without the queue's lock. */
typedef void (*combine_run_fn)(void *self, struct combine_op **ops, int n);

struct combiner {
	pthread_mutex_t lock;
	struct combine_op *head, *tail;	/* queued, oldest first */
	int queued;
	int running;			/* combiners running a batch */
	int width;			/* most combiners at once */
	int max_batch;			/* most operations per batch */
	combine_run_fn run;
	unsigned long long batches, ops;
	unsigned long long buckets[COMBINE_BUCKETS];
};

void combine_init(struct combiner *c, int width, int max_batch, combine_run_fn run);
/* Queues op, and returns when it is done: run by this thread as a
 * combiner (on `self`) or by another. */
void combine_submit(struct combiner *c, struct combine_op *op, void *self);
/* A copy of the counters: batches run, operations run, and how many
 * batches fell in each size bucket (bucket i: sizes up to 2^i; the last
 * one takes every larger size). */
struct combine_stats {
	unsigned long long batches, ops;
	unsigned long long buckets[COMBINE_BUCKETS];
	int bucket_le[COMBINE_BUCKETS];	/* each bucket's upper bound */
};
void combine_stats(struct combiner *c, struct combine_stats *s);
#endif
