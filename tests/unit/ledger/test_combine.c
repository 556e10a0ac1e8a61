/* test_combine.c: flat combining (ledger_combine.c) with a stand-in for
 * the guard's batch: every operation is run exactly once, by a batch of
 * at most max_batch, with at most `width` batches at once; one thread
 * alone runs its own operation at once; operations queued while a batch
 * runs are coalesced into the next one. */
#include "ledger_combine.h"
#include "tap.h"
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

struct op {
	struct combine_op link;
	int owner;			/* thread that submitted it */
	atomic_int runs;		/* times a batch ran it */
	int runner;			/* thread whose batch ran it */
	int batch_size;
};

static atomic_int running, most_running, most_batch, bad_size;
static _Thread_local int me;

static void run(void *self, struct combine_op **ops, int n)
{
	int now = atomic_fetch_add(&running, 1) + 1;
	int seen = atomic_load(&most_running);
	while (now > seen && !atomic_compare_exchange_weak(&most_running, &seen, now))
		;
	seen = atomic_load(&most_batch);
	while (n > seen && !atomic_compare_exchange_weak(&most_batch, &seen, n))
		;
	if (*(int *)self != me)
		atomic_fetch_add(&bad_size, 1);	/* self is the combining thread's */
	struct timespec ts = {0, 200000};	/* a batch takes a while: others queue */
	nanosleep(&ts, NULL);
	for (int i = 0; i < n; i++) {
		struct op *op = (struct op *)ops[i];
		atomic_fetch_add(&op->runs, 1);
		op->runner = me;
		op->batch_size = n;
	}
	atomic_fetch_sub(&running, 1);
}

#define THREADS 16
#define PER_THREAD 200
static struct combiner q;
static struct op ops[THREADS][PER_THREAD];

/* What the guard does: queue, then run batches until its own is done. */
static void submit(struct combiner *c, struct combine_op *op, void *self)
{
	struct combine_op *batch[COMBINE_MAX_BATCH];
	int n;
	ledger_combine_enter(c, op);
	while ((n = ledger_combine_next(c, op, batch)) > 0) {
		run(self, batch, n);
		ledger_combine_done(c, batch, n);
	}
}

static void *worker(void *arg)
{
	me = (int)(long)arg;
	int self = me;
	for (int i = 0; i < PER_THREAD; i++) {
		ops[me][i].owner = me;
		submit(&q, &ops[me][i].link, &self);
		/* Done when submit returns: the batch that ran it has finished. */
		if (atomic_load(&ops[me][i].runs) != 1)
			atomic_fetch_add(&bad_size, 1000);
	}
	return NULL;
}

static void test_alone(void)
{
	struct op op = {0};
	int self = me = 99;
	ledger_combine_init(&q, 2, 8);
	submit(&q, &op.link, &self);
	is_int(atomic_load(&op.runs), 1, "one thread: its operation ran once");
	is_int(op.runner, 99, "run by the thread itself");
	is_int(op.batch_size, 1, "in a batch of one");
}

static void test_many(int width, int max_batch)
{
	pthread_t t[THREADS];
	struct ledger_combine_stats st;
	atomic_store(&most_running, 0);
	atomic_store(&most_batch, 0);
	atomic_store(&bad_size, 0);
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++)
			atomic_store(&ops[i][j].runs, 0);
	ledger_combine_init(&q, width, max_batch);
	for (long i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	int once = 1, others = 0;
	for (int i = 0; i < THREADS; i++)
		for (int j = 0; j < PER_THREAD; j++) {
			once &= atomic_load(&ops[i][j].runs) == 1;
			others += ops[i][j].runner != i;
		}
	ok(once, "width %d, batch %d: every operation ran exactly once", width, max_batch);
	is_int(atomic_load(&bad_size), 0, "each was done when its submit returned, run on the combiner's own resources");
	ok(atomic_load(&most_running) <= width, "at most %d batches at once (saw %d)", width, atomic_load(&most_running));
	ok(atomic_load(&most_batch) <= max_batch, "at most %d per batch (saw %d)", max_batch, atomic_load(&most_batch));
	ok(atomic_load(&most_batch) > 1, "operations queued meanwhile were coalesced (largest batch %d)",
	   atomic_load(&most_batch));
	ok(others > 0, "threads ran each other's operations (%d)", others);
	ledger_combine_stats(&q, &st);
	is_int(st.ops, THREADS * PER_THREAD, "the counters saw every operation");
	unsigned long long sum = 0;
	for (int i = 0; i < COMBINE_BUCKETS; i++)
		sum += st.buckets[i];
	is_int(sum, st.batches, "every batch is in one bucket");
	is_int(st.bucket_le[0], 1, "the first bucket is batches of one");
}

int main(void)
{
	test_alone();
	test_many(1, 8);
	test_many(2, 32);
	test_many(4, 3);
	return done_testing();
}
