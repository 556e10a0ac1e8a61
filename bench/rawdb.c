/* rawdb.c: the bench's durability limit. N threads, each with its own
 * MariaDB connection (unix socket) and prepared statements, run creditd's
 * authorize and settle transactions back to back: the same statements in
 * the same order, with the same session settings, and nothing else (no
 * HTTP, no FastCGI, no JSON parsing, no key lookups). What this reaches is
 * what the database and the disk allow creditd at most.
 *
 * Four versions (--sql): three of creditd's SQL (batch is what it runs
 * now; statements and scripts are what it ran before), and the database
 * floor:
 *   batch       creditd's guard batches now (src/ledger/guard/ledger_load.c,
 *               src/ledger/guard/ledger_batch.c, sql/020_batch_calls.sql): CALL
 *               cd_batch_read(lock 1, page 65, then 9 lists naming the
 *               rows to lock and read), then CALL cd_batch_write(now,
 *               commit 1, then 12 lists of the rows to write), so the
 *               COMMIT happens inside it: 2 round trips per transaction.
 *               Each list is a JSON array bound as a string parameter of
 *               its own, or SQL NULL when empty, as creditd binds them;
 *               an authorize of one account locks it by its external id
 *               in one statement. The lists are the ones creditd writes
 *               for the same operations; the decisions in between (guard
 *               checks, rate window, grants burnt in spending order) are
 *               made here on the rows the read returned. Both CALLs are
 *               prepared once per connection. --batch N (default 1) as
 *               for scripts;
 *   statements  one round trip per statement, as creditd had them once:
 *               authorize 4 round trips (SELECT account FOR UPDATE, INSERT
 *               hold, UPDATE account, COMMIT), settle 9 (SELECT account FOR
 *               UPDATE, SELECT hold FOR UPDATE, SELECT grants FOR UPDATE,
 *               UPDATE grant, INSERT journal, INSERT usage, UPDATE account,
 *               UPDATE hold, COMMIT);
 *   scripts     creditd's group-commit batches as they were before the
 *               CALLs: one text of locking reads, then one text of
 *               multi-row writes ending in COMMIT, 2 round trips per
 *               transaction, on a connection of its own that allows
 *               several statements per text (creditd's no longer do).
 *               --batch N (default 1) puts N authorizes, then their N
 *               settles, in each transaction, as creditd's combiner does
 *               under load;
 *   call        the database floor: each transaction is one CALL of a
 *               procedure of the bench's own (bench/floor.sql:
 *               bench_floor_authorize, bench_floor_settle) that does the
 *               statements version's work inside MariaDB and commits, 1
 *               round trip per transaction. Not creditd's SQL: what the
 *               database can do when nothing else costs anything. The
 *               procedures must exist (bench/run.sh creates them).
 * The SQL of creditd's versions is copied from creditd (and src/store/store.c's
 * connection flags and session setup). When creditd's statements, its
 * procedures or their lists change, this file must change with them:
 * bench/run.sh compares the round trips per authorize and per settle
 * counted here with creditd's own counter (GET /metrics) and flags a
 * difference (a change inside a list it cannot see).
 *
 * It writes real ledger rows (holds, grant burns, journal, usage) that keep
 * the invariants `creditctl verify` checks; an account that would go into
 * debt is an error (the bench funds every account well beyond its load).
 *
 * usage: rawdb --socket PATH --user U --database D --threads N --warmup S
 *              --duration S --mode spread|hot [--accounts N] [--prefix P]
 *              [--hot-account ID] --hold-micros M --cost-micros M
 *              [--model NAME] [--input-tokens N] [--output-tokens N]
 *              [--tag TAG] [--ttl-seconds S] [--sql statements|scripts|call|batch] [--batch N]
 *              [--max-output-tokens N]
 * --max-output-tokens is the output the hold is for (the batch version
 * stores it with the hold and counts it in the rate window, as creditd).
 * The password is read from the environment (RAWDB_PASSWORD), never argv.
 * Prints one JSON object on stdout; exit status 0 when no error. */
#include "rawdb.h"

static const char *const sql_version_name[] = {"statements", "scripts", "call", "batch"};

struct options opt = {NULL, "creditd", NULL, "creditd", 1, 2, 10, 10000, 600, 0, 0, 1, "acct-", "hot", "gpt-4o", "raw",
	 -1, -1, 1000, 200, -1};


/* ---- Threads ---- */

static atomic_int phase;		/* 0 warm-up, 1 measuring, 2 stop */
static atomic_int ready;
static atomic_int failed;

struct worker {
	pthread_t thread;
	long index;
	uint32_t *samples;		/* latency of each measured transaction, µs */
	size_t nsamples;
	unsigned long long pairs, tx, errors, retries;
	unsigned long long rt_authorize, n_authorize, rt_settle, n_settle;
	uint64_t rng;
};

static int retryable(int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT || e == ER_CHECKREAD;
}

static double now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void backoff(int attempt)
{
	long max_us = 1000L << (attempt < 6 ? attempt : 6);
	struct timespec ts = {0, (long)(rand() % max_us) * 1000L};
	nanosleep(&ts, NULL);
}

/* Runs one transaction with creditd's retry rule (whole transaction, on
 * deadlock, lock wait timeout and snapshot conflicts); commits on success,
 * rolls back on failure. Counts its round trips and latency while
 * measuring. 0 or the last error. */
static int run_tx(struct worker *w, struct conn *c, int settle, struct pair *p, int n)
{
	double t0 = now_us();
	unsigned long long rt0 = c->round_trips;
	int e = 0;
	for (int attempt = 0; attempt < TX_RETRIES; attempt++) {
		if (attempt > 0) {
			backoff(attempt);
			w->retries += atomic_load(&phase) == 1;
		}
		int64_t now = (int64_t)time(NULL);
		c->stmt_error[0] = '\0';
		if (opt.sql == SQL_SCRIPTS)
			e = settle ? settle_script(c, p, n, now) : authorize_script(c, p, n, now);
		else if (opt.sql == SQL_CALL)
			e = settle ? settle_call(c, p, now) : authorize_call(c, p, now);
		else if (opt.sql == SQL_BATCH)
			e = settle ? settle_batch(c, p, n, now) : authorize_batch(c, p, n, now);
		else
			e = settle ? settle_tx(c, p, now) : authorize_tx(c, p, now);
		if (e == 0 && opt.sql == SQL_STATEMENTS) {	/* a script or a (write) CALL commits itself */
			c->round_trips++;
			e = mysql_commit(c->db) != 0 ? (int)mysql_errno(c->db) : 0;
			if (e != 0)
				snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_error(c->db));
		} else if (e != 0) {
			if (c->stmt_error[0] == '\0')	/* a script's error is the connection's */
				snprintf(c->stmt_error, sizeof(c->stmt_error), "%s", mysql_error(c->db));
			c->round_trips++;
			mysql_rollback(c->db);
		}
		if (!retryable(e))
			break;
	}
	if (atomic_load(&phase) == 1) {
		double us = now_us() - t0;
		if (w->nsamples < SAMPLES_MAX)
			w->samples[w->nsamples++] = us > 4e9 ? UINT32_MAX : (uint32_t)us;
		w->tx++;
		if (settle) {
			w->rt_settle += c->round_trips - rt0;
			w->n_settle += (unsigned long long)n;
		} else {
			w->rt_authorize += c->round_trips - rt0;
			w->n_authorize += (unsigned long long)n;
		}
		w->errors += e != 0;
	}
	return e;
}

static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct conn c;
	struct pair p[BATCH_MAX];
	int n = opt.sql == SQL_SCRIPTS || opt.sql == SQL_BATCH ? (int)opt.batch : 1;
	unsigned long long counter = 0, failures = 0;
	mysql_thread_init();
	if (conn_open(&c) != 0) {
		atomic_store(&failed, 1);
		atomic_fetch_add(&ready, 1);
		goto out;
	}
	atomic_fetch_add(&ready, 1);
	while (atomic_load(&phase) != 2 && failures < ERRORS_MAX) {
		memset(p, 0, sizeof(p));
		for (int i = 0; i < n; i++) {
			if (opt.hot)
				snprintf(p[i].account, sizeof(p[i].account), "%s", opt.hot_account);
			else
				snprintf(p[i].account, sizeof(p[i].account), "%s%05" PRIu64, opt.prefix,
					 next_random(&w->rng) % (uint64_t)opt.accounts);
			snprintf(p[i].request_id, sizeof(p[i].request_id), "%s-%ld-%llu", opt.tag, w->index, ++counter);
		}
		int e = run_tx(w, &c, 0, p, n);
		if (e == 0)
			e = run_tx(w, &c, 1, p, n);
		if (e != 0) {
			if (failures++ == 0)
				fprintf(stderr, "rawdb: thread %ld: transaction failed: error %d%s%s\n", w->index, e,
					e > 1000 ? ": " : "", e > 1000 ? c.stmt_error : "");
			continue;
		}
		w->pairs += atomic_load(&phase) == 1 ? (unsigned long long)n : 0;
	}
	if (failures >= ERRORS_MAX)
		atomic_store(&failed, 1);
out:
	conn_close(&c);
	mysql_thread_end();
	return NULL;
}

/* ---- Main ---- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < min || v > max)
		return -1;
	*out = (long)v;
	return 0;
}

static int parse_options(int argc, char **argv)
{
	long v;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *val = argv[i + 1];
		int bad = 0;
		if (strcmp(k, "--socket") == 0) opt.socket = val;
		else if (strcmp(k, "--user") == 0) opt.user = val;
		else if (strcmp(k, "--database") == 0) opt.database = val;
		else if (strcmp(k, "--prefix") == 0) opt.prefix = val;
		else if (strcmp(k, "--hot-account") == 0) opt.hot_account = val;
		else if (strcmp(k, "--model") == 0) opt.model = val;
		else if (strcmp(k, "--tag") == 0) opt.tag = val;
		else if (strcmp(k, "--sql") == 0) {
			bad = 1;
			for (int version = SQL_STATEMENTS; version <= SQL_BATCH; version++)
				if (strcmp(val, sql_version_name[version]) == 0) {
					opt.sql = (enum sql_version)version;
					bad = 0;
				}
		} else if (strcmp(k, "--batch") == 0) {
			bad = parse_long(val, 1, BATCH_MAX, &opt.batch);
		} else if (strcmp(k, "--mode") == 0) {
			opt.hot = strcmp(val, "hot") == 0;
			bad = !opt.hot && strcmp(val, "spread") != 0;
		} else if (strcmp(k, "--threads") == 0) bad = parse_long(val, 1, THREADS_MAX, &opt.threads);
		else if (strcmp(k, "--warmup") == 0) bad = parse_long(val, 0, 3600, &opt.warmup_s);
		else if (strcmp(k, "--duration") == 0) bad = parse_long(val, 1, 3600, &opt.duration_s);
		else if (strcmp(k, "--accounts") == 0) bad = parse_long(val, 1, 99999, &opt.accounts);
		else if (strcmp(k, "--ttl-seconds") == 0) bad = parse_long(val, 1, 86400, &opt.ttl_s);
		else if (strcmp(k, "--hold-micros") == 0) { bad = parse_long(val, 0, 1000000000000L, &v); opt.hold_micros = v; }
		else if (strcmp(k, "--cost-micros") == 0) { bad = parse_long(val, 0, 1000000000000L, &v); opt.cost_micros = v; }
		else if (strcmp(k, "--input-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.input_tokens = v; }
		else if (strcmp(k, "--output-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.output_tokens = v; }
		else if (strcmp(k, "--max-output-tokens") == 0) { bad = parse_long(val, 0, 1000000000L, &v); opt.max_output_tokens = v; }
		else bad = 1;
		if (bad) {
			fprintf(stderr, "rawdb: bad option %s %s\n", k, val);
			return -1;
		}
	}
	if (argc % 2 != 1 || opt.socket == NULL || opt.hold_micros < 0 || opt.cost_micros < 0 ||
	    opt.cost_micros > opt.hold_micros) {
		fprintf(stderr, "usage: rawdb --socket PATH --hold-micros M --cost-micros M (cost <= hold) "
				"[--threads N --warmup S --duration S --mode spread|hot ...]; see bench/rawdb.c\n");
		return -1;
	}
	opt.password = getenv("RAWDB_PASSWORD");
	return 0;
}

static void sleep_seconds(long s)
{
	struct timespec ts = {s, 0};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	if (parse_options(argc, argv) != 0)
		return 2;
	if (mysql_library_init(0, NULL, NULL) != 0)
		return 1;
	struct worker *w = calloc((size_t)opt.threads, sizeof(*w));
	if (w == NULL)
		return 1;
	srand((unsigned int)time(NULL));
	for (long i = 0; i < opt.threads; i++) {
		w[i].index = i;
		w[i].rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t)(i + 1) * 0x100000001b3ULL) ^ (uint64_t)time(NULL);
		w[i].samples = malloc(SAMPLES_MAX * sizeof(uint32_t));
		if (w[i].samples == NULL || pthread_create(&w[i].thread, NULL, worker_main, &w[i]) != 0) {
			fprintf(stderr, "rawdb: cannot start thread %ld\n", i);
			return 1;
		}
	}
	while (atomic_load(&ready) < opt.threads)
		usleep(1000);
	if (atomic_load(&failed)) {
		atomic_store(&phase, 2);
		for (long i = 0; i < opt.threads; i++)
			pthread_join(w[i].thread, NULL);
		return 1;
	}
	sleep_seconds(opt.warmup_s);
	double t0 = now_us();
	atomic_store(&phase, 1);
	sleep_seconds(opt.duration_s);
	atomic_store(&phase, 2);
	double t1 = now_us();
	struct worker sum;
	memset(&sum, 0, sizeof(sum));
	for (long i = 0; i < opt.threads; i++) {
		pthread_join(w[i].thread, NULL);
		sum.pairs += w[i].pairs;
		sum.tx += w[i].tx;
		sum.errors += w[i].errors;
		sum.retries += w[i].retries;
		sum.rt_authorize += w[i].rt_authorize;
		sum.n_authorize += w[i].n_authorize;
		sum.rt_settle += w[i].rt_settle;
		sum.n_settle += w[i].n_settle;
		sum.nsamples += w[i].nsamples;
	}
	uint32_t *all = malloc((sum.nsamples + 1) * sizeof(uint32_t));
	if (all == NULL)
		return 1;
	size_t k = 0;
	for (long i = 0; i < opt.threads; i++) {
		memcpy(all + k, w[i].samples, w[i].nsamples * sizeof(uint32_t));
		k += w[i].nsamples;
		free(w[i].samples);
	}
	qsort(all, k, sizeof(uint32_t), cmp_u32);
	uint32_t p50 = k > 0 ? all[(k - 1) * 50 / 100] : 0, p99 = k > 0 ? all[(k - 1) * 99 / 100] : 0;
	double seconds = (t1 - t0) / 1e6;
	printf("{\"threads\":%ld,\"batch\":%ld,\"sql\":\"%s\",\"mode\":\"%s\",\"duration_s\":%.3f,\"pairs\":%llu,\"pairs_per_s\":%.1f,"
	       "\"transactions\":%llu,\"p50_us\":%u,\"p99_us\":%u,\"errors\":%llu,\"retries\":%llu,"
	       "\"authorize_tx\":%llu,\"authorize_round_trips\":%llu,\"settle_tx\":%llu,\"settle_round_trips\":%llu}\n",
	       opt.threads, opt.sql == SQL_SCRIPTS || opt.sql == SQL_BATCH ? opt.batch : 1L, sql_version_name[opt.sql], opt.hot ? "hot" : "spread", seconds, sum.pairs, (double)sum.pairs / seconds, sum.tx, p50,
	       p99, sum.errors, sum.retries, sum.n_authorize, sum.rt_authorize, sum.n_settle, sum.rt_settle);
	free(all);
	free(w);
	mysql_library_end();
	return atomic_load(&failed) || sum.errors > 0 ? 1 : 0;
}
