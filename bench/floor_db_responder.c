/* floor_db_responder.c: the floor of the guard's HTTP rows, the least a
 * threaded libfcgi responder behind nginx can do for an authorize and a
 * settle: floor_responder's accept loop, and in each request the
 * database floor's one CALL (row D's, bench/floor.sql through rawdb's own
 * code, rawdb_tx.c authorize_call and settle_call) on a connection of its
 * thread, retried whole on a deadlock as rawdb does. Row 1D runs
 * bench/pairs.lua against it, as rows 3 and 4 run it against creditd:
 * the same requests through the same nginx shape, with none of creditd's
 * work (no key, no price, no idempotency, no kept rows, no batching).
 * So row 1D divided by row D is what the stack's HTTP path costs the
 * guard at best on this machine, and row 3 divided by row 1D what
 * creditd's own code costs it.
 *
 * It reads from the body only what the CALLs need: "account" and
 * "request_id" for POST /v1/guard/authorize, "hold_id" (as it answered
 * it: ACCOUNT-ID_HOLD-ID) for POST /v1/guard/settle. It answers 200
 * {"hold_id":"..."} or {"status":"settled"}, 402 when the floor refuses,
 * 500 on another error.
 *
 * With --upstream URL it is also the floor of the gateway's whole answers
 * (bench/gateway.sh, path "httpfloor"): a POST to any path ending in
 * /chat/completions is held by the floor's authorize CALL (the account in
 * the Creditd-Account header), forwarded as it came to URL on a kept
 * connection of its thread (libcurl, as creditd), settled by the floor's
 * settle CALL at the fixed cost, and answered with the provider's status
 * and body: two durable commits around the provider, as creditd's whole
 * answer, and nothing else (no key, no price, no usage read, no headers
 * but the content type).
 *
 * Like floor_responder it must never do more: anything added raises the
 * floor and flatters creditd.
 *
 * usage: floor_db_responder SOCKET_PATH THREADS --socket DB_SOCKET
 *        --user U --database D --model M --hold-micros N --cost-micros N
 *        --input-tokens N --output-tokens N [--upstream URL
 *        --upstream-key KEY] (the password in RAWDB_PASSWORD, as rawdb) */
#include "floor_serve.h"
#include "rawdb.h"
#include <curl/curl.h>
#include <fcgiapp.h>

#define BODY_MAX 4096
#define ANSWER_MAX (64 * 1024)

struct options opt;
static const char *upstream, *upstream_key;

/* A thread's own: its database connection, its provider handle (kept
 * connections), its request ids' counter, the provider's answer. */
struct worker {
	struct conn c;
	CURL *curl;
	struct curl_slist *headers;
	unsigned long index;
	unsigned long long counter;
	char answer[ANSWER_MAX];
	size_t answer_len;
};

static int retryable(int e)
{
	return e == ER_LOCK_DEADLOCK || e == ER_LOCK_WAIT_TIMEOUT || e == ER_CHECKREAD;
}

/* The string value of "key" in a flat JSON body, copied to out: 0, or -1. */
static int field(const char *body, const char *key, char *out, size_t cap)
{
	char pat[64];
	snprintf(pat, sizeof(pat), "\"%s\":\"", key);
	const char *p = strstr(body, pat);
	if (p == NULL)
		return -1;
	p += strlen(pat);
	const char *q = strchr(p, '"');
	if (q == NULL || (size_t)(q - p) >= cap)
		return -1;
	memcpy(out, p, (size_t)(q - p));
	out[q - p] = '\0';
	return 0;
}

/* rawdb's wait before a retry (rawdb.c backoff). */
static void backoff(int attempt)
{
	long max_us = 1000L << (attempt < 6 ? attempt : 6);
	struct timespec ts = {0, (long)(rand() % max_us) * 1000L};
	nanosleep(&ts, NULL);
}

/* One transaction, retried whole as rawdb retries it: 0 or the last error. */
static int run(struct conn *c, int settle, struct pair *p)
{
	int e = 0;
	for (int attempt = 0; attempt < TX_RETRIES; attempt++) {
		if (attempt > 0)
			backoff(attempt);
		int64_t now = (int64_t)time(NULL);
		e = settle ? settle_call(c, p, now) : authorize_call(c, p, now);
		if (e != 0)
			mysql_rollback(c->db);
		if (!retryable(e))
			break;
	}
	return e;
}

static void answer(FCGX_Request *req, int status, const char *json)
{
	FCGX_FPrintF(req->out, "Status: %d\r\nContent-Type: application/json\r\n\r\n%s\n", status, json);
}

static size_t take(char *p, size_t size, size_t n, void *arg)
{
	struct worker *w = arg;
	size_t len = size * n;
	if (len > sizeof(w->answer) - w->answer_len)
		return 0;	/* larger than any answer of the bench's fake: the call fails */
	memcpy(w->answer + w->answer_len, p, len);
	w->answer_len += len;
	return len;
}

/* The gateway's whole answer: hold, forward, settle, answer. */
static void gateway(FCGX_Request *req, struct worker *w, const char *body, size_t n)
{
	struct pair p;
	long status = 0;
	memset(&p, 0, sizeof(p));
	const char *acct = FCGX_GetParam("HTTP_CREDITD_ACCOUNT", req->envp);
	if (acct == NULL || strlen(acct) >= sizeof(p.account)) {
		answer(req, 400, "{\"error\":\"Creditd-Account\"}");
		return;
	}
	snprintf(p.account, sizeof(p.account), "%s", acct);
	snprintf(p.request_id, sizeof(p.request_id), "gwf-%ld-%lu-%llu", (long)getpid(), w->index, ++w->counter);
	int e = run(&w->c, 0, &p);
	if (e != 0) {
		answer(req, e == E_REFUSED || e == E_DEBT ? 402 : 500, "{\"error\":\"hold\"}");
		return;
	}
	w->answer_len = 0;
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(w->curl, CURLOPT_POSTFIELDSIZE, (long)n);
	if (curl_easy_perform(w->curl) != CURLE_OK ||
	    curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status == 0) {
		answer(req, 502, "{\"error\":\"provider\"}");	/* the hold stays, as a crash would leave it */
		return;
	}
	if (run(&w->c, 1, &p) != 0) {
		answer(req, 500, "{\"error\":\"settle\"}");
		return;
	}
	FCGX_FPrintF(req->out, "Status: %ld\r\nContent-Type: application/json\r\n\r\n", status);
	FCGX_PutStr(w->answer, (int)w->answer_len, req->out);
}

static void serve(FCGX_Request *req, struct worker *w)
{
	struct conn *c = &w->c;
	char body[BODY_MAX], out[256];
	int n = FCGX_GetStr(body, (int)sizeof(body) - 1, req->in);
	body[n > 0 ? n : 0] = '\0';
	if (n == (int)sizeof(body) - 1 && FCGX_GetChar(req->in) != EOF) {
		answer(req, 413, "{\"error\":\"body\"}");	/* never read or forwarded cut */
		return;
	}
	const char *uri = FCGX_GetParam("DOCUMENT_URI", req->envp);
	size_t ulen = uri != NULL ? strlen(uri) : 0;
	if (upstream != NULL && ulen >= 17 && strcmp(uri + ulen - 17, "/chat/completions") == 0) {
		gateway(req, w, body, n > 0 ? (size_t)n : 0);
		return;
	}
	struct pair p;
	memset(&p, 0, sizeof(p));
	int settle = uri != NULL && strstr(uri, "/settle") != NULL;
	if (settle) {
		char hold[TEXT_MAX];
		if (field(body, "hold_id", hold, sizeof(hold)) != 0 ||
		    sscanf(hold, "%" SCNd64 "_%" SCNd64, &p.account_id, &p.hold_id) != 2) {
			answer(req, 400, "{\"error\":\"hold_id\"}");
			return;
		}
	} else if (field(body, "account", p.account, sizeof(p.account)) != 0 ||
		   field(body, "request_id", p.request_id, sizeof(p.request_id)) != 0) {
		answer(req, 400, "{\"error\":\"account, request_id\"}");
		return;
	}
	int e = run(c, settle, &p);
	if (e == E_REFUSED || e == E_DEBT) {
		answer(req, 402, "{\"error\":\"refused\"}");
	} else if (e != 0) {
		snprintf(out, sizeof(out), "{\"error\":%d}", e);
		answer(req, 500, out);
	} else if (settle) {
		answer(req, 200, "{\"status\":\"settled\"}");
	} else {
		snprintf(out, sizeof(out), "{\"hold_id\":\"%" PRId64 "_%" PRId64 "\"}", p.account_id, p.hold_id);
		answer(req, 200, out);
	}
}

static void *worker_main(void *arg)
{
	char sink[4096];
	struct worker *w = arg;
	FCGX_Request req;
	mysql_thread_init();
	/* A thread that cannot serve ends the process: fewer threads would
	 * lower the floor unseen (the bench's start waits for an answer). */
	if (conn_open(&w->c) != 0 || FCGX_InitRequest(&req, floor_listen_fd, 0) != 0) {
		fprintf(stderr, "floor_db_responder: cannot open a database connection\n");
		_exit(1);
	}
	if (upstream != NULL) {
		char auth[300];
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", upstream_key != NULL ? upstream_key : "");
		w->headers = curl_slist_append(curl_slist_append(NULL, "Content-Type: application/json"), auth);
		w->curl = curl_easy_init();
		if (w->curl == NULL || w->headers == NULL) {
			fprintf(stderr, "floor_db_responder: cannot make a provider handle\n");
			_exit(1);
		}
		curl_easy_setopt(w->curl, CURLOPT_URL, upstream);
		curl_easy_setopt(w->curl, CURLOPT_HTTPHEADER, w->headers);
		curl_easy_setopt(w->curl, CURLOPT_WRITEFUNCTION, take);
		curl_easy_setopt(w->curl, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->curl, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(w->curl, CURLOPT_TIMEOUT_MS, 15000L);
	}
	while (FCGX_Accept_r(&req) >= 0) {
		serve(&req, w);
		while (FCGX_GetStr(sink, (int)sizeof(sink), req.in) > 0)
			;
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	conn_close(&w->c);
	mysql_thread_end();
	return NULL;
}

static int parse_i64(const char *s, int64_t max, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, int64_t *threads)
{
	/* creditd's thread count, at most rawdb's THREADS_MAX (a connection
	 * each, under the bench stack's max_connections). */
	int bad = argc < 3 || parse_i64(argv[2], 1024, threads) != 0 || *threads < 1;
	if (!bad && *threads > THREADS_MAX) {
		fprintf(stderr, "floor_db_responder: %" PRId64 " threads asked, %d run\n", *threads, THREADS_MAX);
		*threads = THREADS_MAX;
	}
	opt.sql = SQL_CALL;
	opt.ttl_s = 600;
	opt.password = getenv("RAWDB_PASSWORD");
	for (int i = 3; !bad && i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (strcmp(k, "--socket") == 0) opt.socket = v;
		else if (strcmp(k, "--user") == 0) opt.user = v;
		else if (strcmp(k, "--database") == 0) opt.database = v;
		else if (strcmp(k, "--model") == 0) opt.model = v;
		else if (strcmp(k, "--hold-micros") == 0) bad = parse_i64(v, 1000000000000LL, &opt.hold_micros);
		else if (strcmp(k, "--cost-micros") == 0) bad = parse_i64(v, 1000000000000LL, &opt.cost_micros);
		else if (strcmp(k, "--input-tokens") == 0) bad = parse_i64(v, 1000000000LL, &opt.input_tokens);
		else if (strcmp(k, "--output-tokens") == 0) bad = parse_i64(v, 1000000000LL, &opt.output_tokens);
		else if (strcmp(k, "--upstream") == 0) upstream = v;
		else if (strcmp(k, "--upstream-key") == 0) upstream_key = v;
		else bad = 1;
	}
	return bad || (argc - 3) % 2 != 0 || opt.socket == NULL || opt.user == NULL || opt.database == NULL ||
	       opt.model == NULL || opt.cost_micros > opt.hold_micros ? -1 : 0;
}

/* Thread i's own, for the process's life. */
static void *worker_of(long i)
{
	struct worker *w = calloc(1, sizeof(*w));
	if (w == NULL) {
		fprintf(stderr, "floor_db_responder: no memory for thread %ld\n", i);
		_exit(1);
	}
	w->index = (unsigned long)i;
	return w;
}

int main(int argc, char **argv)
{
	int64_t threads = 0;
	if (parse_args(argc, argv, &threads) != 0) {
		fprintf(stderr, "usage: floor_db_responder SOCKET_PATH THREADS --socket DB_SOCKET --user U --database D "
				"--model M --hold-micros N --cost-micros N --input-tokens N --output-tokens N "
				"[--upstream URL --upstream-key KEY]\n");
		return 2;
	}
	if (mysql_library_init(0, NULL, NULL) != 0 || FCGX_Init() != 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "floor_db_responder: cannot start its libraries\n");
		return 1;
	}
	return floor_serve("floor_db_responder", argv[1], (long)threads, worker_main, worker_of);
}
