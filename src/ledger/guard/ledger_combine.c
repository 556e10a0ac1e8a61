/* ledger_combine.c: flat combining (see ledger_combine.h).
 *
 * One mutex guards the queue and the counters; each waiting operation
 * has its own condition variable, so a finished batch wakes exactly its
 * owners, and one more thread (the oldest waiter) to combine what queued
 * meanwhile. No thread spins. */
#include "ledger_combine.h"
#include <assert.h>

void ledger_combine_init(struct combiner *c, int width, int max_batch)
{
	pthread_mutex_init(&c->lock, NULL);
	c->head = c->tail = NULL;
	c->queued = 0;
	c->running = 0;
	c->width = width > 0 ? width : 1;
	c->max_batch = max_batch < 1 ? 1 : max_batch > COMBINE_MAX_BATCH ? COMBINE_MAX_BATCH : max_batch;
	c->batches = c->ops = 0;
	for (int i = 0; i < COMBINE_BUCKETS; i++)
		c->buckets[i] = 0;
	assert(c->width >= 1);
	assert(c->max_batch >= 1);
	assert(c->max_batch <= COMBINE_MAX_BATCH);
}

static int bucket_of(int n)
{
	int b = 0;
	while (b < COMBINE_BUCKETS - 1 && (1 << b) < n)
		b++;
	return b;
}

/* Takes up to max_batch operations off the front of the queue. */
static int take(struct combiner *c, struct combine_op **ops)
{
	int n = 0;
	while (c->head != NULL && n < c->max_batch) {
		struct combine_op *op = c->head;
		c->head = op->next;
		op->next = NULL;
		ops[n++] = op;
	}
	if (c->head == NULL)
		c->tail = NULL;
	c->queued -= n;
	return n;
}

void ledger_combine_enter(struct combiner *c, struct combine_op *op)
{
	op->next = NULL;
	op->done = 0;
	op->waiting = 0;
	pthread_cond_init(&op->wake, NULL);
	pthread_mutex_lock(&c->lock);
	if (c->tail != NULL)
		c->tail->next = op;
	else
		c->head = op;
	c->tail = op;
	c->queued++;
	assert(c->queued > 0);
	assert(c->head != NULL);
	pthread_mutex_unlock(&c->lock);
}

int ledger_combine_next(struct combiner *c, struct combine_op *op, struct combine_op **ops)
{
	int n = 0;
	pthread_mutex_lock(&c->lock);
	while (!op->done) {
		if (c->running < c->width && c->head != NULL) {
			n = take(c, ops);
			assert(n > 0);
			assert(n <= c->max_batch);
			c->running++;
			c->batches++;
			c->ops += (unsigned long long)n;
			c->buckets[bucket_of(n)]++;
			break;
		}
		op->waiting = 1;
		pthread_cond_wait(&op->wake, &c->lock);
		op->waiting = 0;
	}
	pthread_mutex_unlock(&c->lock);
	if (n == 0)
		pthread_cond_destroy(&op->wake);	/* done: its owner leaves */
	return n;
}

void ledger_combine_done(struct combiner *c, struct combine_op **ops, int n)
{
	pthread_mutex_lock(&c->lock);
	assert(c->running > 0);
	c->running--;
	for (int i = 0; i < n; i++) {
		assert(!ops[i]->done);
		ops[i]->done = 1;
		if (ops[i]->waiting)
			pthread_cond_signal(&ops[i]->wake);
	}
	/* What queued meanwhile needs a combiner: the oldest owner that
	 * sleeps (one that is combining cannot take it). */
	for (struct combine_op *q = c->head; q != NULL; q = q->next) {
		if (q->waiting) {
			pthread_cond_signal(&q->wake);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void ledger_combine_stats(struct combiner *c, struct ledger_combine_stats *s)
{
	pthread_mutex_lock(&c->lock);
	s->batches = c->batches;
	s->ops = c->ops;
	assert(s->ops >= s->batches);	/* a batch is one operation at least */
	assert(c->queued >= 0);
	for (int i = 0; i < COMBINE_BUCKETS; i++) {
		s->buckets[i] = c->buckets[i];
		s->bucket_le[i] = 1 << i;
	}
	pthread_mutex_unlock(&c->lock);
}
