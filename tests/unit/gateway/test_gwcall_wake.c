/* test_gwcall_wake.c: a gateway call wakes the loop (gwcall_start's
 * wake) only from curl's callbacks, which run on the loop; never from
 * gwcall_end, which runs on an ending thread. The loop's list of slots
 * with bytes to send is its own, unlocked: a wake from an ending thread
 * (a whole answer's flush, a stream's cost line) raced it and left a slot
 * marked listed while off the list, so every later call on that slot sent
 * nothing until it ended (bench/README.md, "Known issues"). The ledger's
 * side (gwcall_ledger.c) is stubbed: no database here. */
#include "config.h"
#include "errors.h"
#include "gwbuffer.h"
#include "gwcall.h"
#include "gwcall_int.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "spool.h"
#include "tap.h"
#include "unit/core/config_modules.h"
#include "unit/gateway/gwroutes.h"
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- gwcall_ledger.c, stubbed (so the archive's is not linked) ---- */

int gwcall_ledger_init(const struct cfg *cfg)
{
	(void)cfg;
	return 0;
}
struct store *gwcall_ledger_borrow(void)
{
	return NULL;
}
void gwcall_ledger_giveback(struct store *lg)
{
	(void)lg;
}
void gwcall_ledger_id_list(const struct gw_job *job, const char *id, const char *provider)
{
	(void)job;
	(void)id;
	(void)provider;
}
void gwcall_ledger_keep_response(const struct gw_job *job, const char *provider, const struct gw_usage *u)
{
	(void)job;
	(void)provider;
	(void)u;
}
void gwcall_ledger_forget(const struct gw_job *job, int status, const char *body, size_t len)
{
	(void)job;
	(void)status;
	(void)body;
	(void)len;
}
int gwcall_tool_named(const struct gw_job *job, const struct gw_usage *u, struct price *named)
{
	(void)job;
	(void)u;
	(void)named;
	return 0;
}
static int settles;
enum cd_err gwcall_ledger_charge(const struct gw_job *job, int try_of, const char *provider, const struct gw_usage *u,
				 int64_t extra_raw, const char *reason, int64_t *charged, int64_t *balance)
{
	(void)job;
	(void)try_of;
	(void)provider;
	(void)u;
	(void)extra_raw;
	(void)reason;
	settles++;
	*charged = 1234;
	*balance = 5678;
	return CD_OK;
}
void gwcall_ledger_unresolve(const struct gw_job *job, int try_of)
{
	(void)job;
	(void)try_of;
}
int gwcall_release(struct store *lg, const char *hold_id)
{
	(void)lg;
	(void)hold_id;
	return 0;
}
int gwcall_renew(const char *account, const char *hold_id, int64_t ttl)
{
	(void)account;
	(void)hold_id;
	(void)ttl;
	return 0;
}
int gwcall_response_in_flight(const char *account, const char *id, char *provider, size_t cap)
{
	(void)account;
	(void)id;
	(void)provider;
	(void)cap;
	return 0;
}

/* ---- The edge: what the call writes, kept ---- */

static char written[16384];
static size_t nwritten;
static int sends, ended;

static int e_write(void *req, const char *bytes, size_t n)
{
	(void)req;
	if (n > sizeof(written) - nwritten)
		return -1;
	memcpy(written + nwritten, bytes, n);
	nwritten += n;
	return 0;
}
static int e_send(void *req, int64_t deadline_ms)
{
	(void)req;
	(void)deadline_ms;
	sends++;
	return 0;
}
static int e_fd(void *req)
{
	(void)req;
	return -1;
}
static int e_end(void *req)
{
	(void)req;
	ended++;
	return 0;
}
static void e_finish(void *req, const char *route, int status, const char *account)
{
	(void)req;
	(void)route;
	(void)status;
	(void)account;
}
static const struct gw_edge edge = {NULL, e_write, e_send, e_fd, e_end, e_finish};

/* The loop's wake, counted. */
static int wakes;
static void wake(void *arg)
{
	(void)arg;
	wakes++;
}

static struct cfg cfg;

/* A chat call of body, held and admitted at place 0, started as the loop
 * starts it. */
static struct gwcall *started_from(const char *body, int stream_cost, struct spool *on_disk,
				   const struct provider_call **pc)
{
	struct gw_job *job = calloc(1, sizeof(*job));
	char err[256];
	const char *param = NULL;
	job->route = R_CHAT;
	job->route_name = "gw_openai_chat";
	job->body_memory = on_disk == NULL ? strdup(body) : NULL;
	job->body = on_disk == NULL ? job->body_memory : (const char *)spool_map(on_disk);
	job->body_spool = on_disk;
	job->body_len = strlen(body);
	job->cap = -1;
	job->stream_cost = stream_cost;
	job->place = 0;
	snprintf(job->hold_id, sizeof(job->hold_id), "hold_0123");
	snprintf(job->account, sizeof(job->account), "acct-1");
	ok(gwshape_read(job->route, job->body, job->body_len, &job->ask, err, sizeof(err), &param) == 0, "read: %s", err);
	const struct gwconfig_provider *p[1];
	job->nproviders = (int)gwconfig_candidates(gwconfig_of(&cfg), job->route->kind, job->ask.model, p, 1);
	job->providers[0] = p[0];
	ok(job->nproviders == 1, "a provider serves it");
	ok(gwbuffer_reserve(0, 1, 1024 * 1024) == GWBUFFER_OK, "its room reserved");
	struct gwcall *c = gwcall_new(job, &edge);
	*pc = gwcall_start(c, wake, NULL);
	ok(*pc != NULL, "started");
	nwritten = 0;
	wakes = sends = ended = settles = 0;
	return c;
}

static struct gwcall *started(const char *body, int stream_cost, const struct provider_call **pc)
{
	return started_from(body, stream_cost, NULL, pc);
}

/* A body kept on disk (gwjob.h) is sent from its file, unchanged, and its
 * file goes with the call; one in memory is sent from memory. */
static void body_sent_from_where_it_is(void)
{
	static const char body[] = "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
	const struct provider_call *pc;
	struct gwcall *c = started(body, 0, &pc);
	ok(pc->body != NULL && pc->body_file == NULL && pc->body_len == strlen(body) &&
	   memcmp(pc->body, body, pc->body_len) == 0, "a body in memory is sent from memory");
	gwcall_end(c, PROVIDER_OK, "");
	gwcall_finish(c);
	gwbuffer_end(0);

	int fd = dup(0);	/* the lowest free descriptor: the spool's */
	close(fd);
	struct spool *s = spool_open(NULL, NULL, 0);
	ok(s != NULL && spool_write(s, body, strlen(body)) == 0 && spool_map(s) != NULL, "a body kept on disk");
	c = started_from(body, 0, s, &pc);
	ok(pc->body == NULL && pc->body_file == s && pc->body_len == strlen(body), "is sent from its file");
	char back[sizeof(body)] = "";
	ok(spool_read_at(pc->body_file, back, sizeof(back), 0) == (ssize_t)strlen(body) && strcmp(back, body) == 0,
	   "which holds the client's bytes unchanged");
	gwcall_end(c, PROVIDER_OK, "");
	gwcall_finish(c);
	gwbuffer_end(0);
	int again = dup(0);
	ok(again == fd, "the call's end closed the file (descriptor %d free again: %d)", fd, again);
	close(again);
}

static void whole_answer_ends_without_a_wake(void)
{
	const struct provider_call *pc;
	struct gwcall *c = started("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
				   "\"max_tokens\":16}", 0, &pc);
	struct provider_header h[] = {{"content-type", "application/json"}};
	static const char answer[] = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o\","
				     "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"hello\"},"
				     "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":2,"
				     "\"total_tokens\":10}}";
	ok(pc->on_head(pc->arg, 200, h, 1) == 0 && pc->on_data(pc->arg, answer, strlen(answer)) == 0, "answer read");
	ok(wakes == 0, "a whole answer wakes nothing while it is read (%d)", wakes);
	gwcall_end(c, PROVIDER_OK, "");
	ok(settles == 1, "settled once (%d)", settles);
	ok(wakes == 0, "its end, on an ending thread, wakes no slot of the loop (%d wakes)", wakes);
	ok(sends == 0, "nor sends: the loop sends it when the call comes back (%d)", sends);
	ok(nwritten > strlen(answer) && memmem(written, nwritten, answer, strlen(answer)) != NULL &&
	   memmem(written, nwritten, "Creditd-Charged-Micros: 1234", 28) != NULL, "the answer and its charge written");
	ok(ended == 1, "its end written");
	gwcall_finish(c);
	gwbuffer_end(0);
}

static void stream_cost_line_without_a_wake(void)
{
	const struct provider_call *pc;
	struct gwcall *c = started("{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
				   "\"max_tokens\":16,\"stream\":true}", 1, &pc);
	struct provider_header h[] = {{"content-type", "text/event-stream"}};
	static const char events[] = "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"model\":"
				     "\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}]}\n\n"
				     "data: {\"id\":\"chatcmpl-2\",\"object\":\"chat.completion.chunk\",\"model\":"
				     "\"gpt-4o\",\"choices\":[],\"usage\":{\"prompt_tokens\":8,\"completion_tokens\":1,"
				     "\"total_tokens\":9}}\n\ndata: [DONE]\n\n";
	ok(pc->on_head(pc->arg, 200, h, 1) == 0, "head read");
	ok(wakes == 1, "a stream's head wakes the loop, from curl's callback (%d)", wakes);
	wakes = 0;
	ok(pc->on_data(pc->arg, events, strlen(events)) == 0, "events read");
	ok(wakes == 0, "no second wake before the loop sent (%d)", wakes);
	ok(gwcall_send(c) == 0, "the loop sends");
	gwcall_end(c, PROVIDER_OK, "");
	ok(settles == 1, "settled once (%d)", settles);
	ok(wakes == 0, "its cost line, on an ending thread, wakes no slot of the loop (%d wakes)", wakes);
	ok(memmem(written, nwritten, ": creditd {", 11) != NULL, "the cost line written");
	gwcall_finish(c);
	gwbuffer_end(0);
}

int main(void)
{
	char err[256];
	ok(config_load_string("[gateway]\nopenai_api_key = sk-test\n", test_modules, &cfg, err, sizeof(err)) == 0,
	   "config: %s", err);
	ok(gwbuffer_init(4, 64 * 1024 * 1024, 64 * 1024 * 1024) == 0, "rooms");
	ok(gwcall_init(&cfg) == 0, "gwcall_init");
	whole_answer_ends_without_a_wake();
	stream_cost_line_without_a_wake();
	body_sent_from_where_it_is();
	config_free(&cfg);
	return done_testing();
}
