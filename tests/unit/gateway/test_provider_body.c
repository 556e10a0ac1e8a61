/* test_provider_body.c: the gateway's HTTP client (provider.h) sends a
 * body kept on disk (provider_call's body_file) from its file, unchanged:
 * a stand-in provider on a loopback port reads the request and answers
 * the SHA-256 of the body it got, compared with the bytes written to the
 * spool; the same for a body in memory. The client runs as the gateway's
 * loop runs it, over epoll. */
#include "keys.h"
#include "provider.h"
#include "spool.h"
#include "tap.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define TAG (1ULL << 32)

static int listener;

/* One request: its head, then Content-Length bytes of body, hashed;
 * answered with the hash in hex. */
/* A connection's request head read into head (at most cap - 1 bytes):
 * its end, or NULL. */
static char *read_head(int c, char *head, size_t cap, size_t *n)
{
	char *end = NULL;
	*n = 0;
	head[0] = '\0';
	while (end == NULL && *n < cap - 1) {
		ssize_t r = read(c, head + *n, cap - 1 - *n);
		if (r <= 0)
			break;
		*n += (size_t)r;
		head[*n] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	return end;
}

static void *stand_in(void *arg)
{
	(void)arg;
	char head[8192];
	size_t n = 0;
	char *end = NULL;
	int c = -1;
	/* The loopback port is the kernel's pick: a connection that another
	 * program running beside the suite meant for a port of the same
	 * number closed meanwhile is not this test's request. Closed unread. */
	for (int tries = 0; tries < 16 && end == NULL; tries++) {
		c = accept(listener, NULL, NULL);
		if (c < 0)
			break;
		end = read_head(c, head, sizeof(head), &n);
		if (end == NULL || strncmp(head, "POST /v1/audio/transcriptions ", 30) != 0) {
			end = NULL;
			close(c);
			c = -1;
		}
	}
	const char *cl = end != NULL ? strcasestr(head, "\r\nContent-Length:") : NULL;
	size_t want = cl != NULL ? (size_t)strtoull(cl + 17, NULL, 10) : 0;
	unsigned char *body = malloc(want + 1);
	size_t have = end != NULL ? n - (size_t)(end + 4 - head) : 0;
	if (have > 0)
		memcpy(body, end + 4, have);
	while (have < want) {
		ssize_t r = read(c, body + have, want - have);
		if (r <= 0)
			break;
		have += (size_t)r;
	}
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1], answer[256];
	keys_sha256(body, have, hash);
	for (int i = 0; i < KEYS_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	int len = snprintf(answer, sizeof(answer), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
			   (int)strlen(hex), hex);
	if (c >= 0 && write(c, answer, (size_t)len) != len)
		perror("write");
	free(body);
	if (c >= 0)
		close(c);
	return NULL;
}

static char got[256];
static size_t got_len;

static int on_head(void *arg, int status, const struct provider_header *h, int n)
{
	(void)arg;
	(void)h;
	(void)n;
	return status == 200 ? 0 : 1;
}

static int on_data(void *arg, const char *bytes, size_t n)
{
	(void)arg;
	if (got_len + n < sizeof(got)) {
		memcpy(got + got_len, bytes, n);
		got_len += n;
		got[got_len] = '\0';
	}
	return 0;
}

/* Runs call to its end as the gateway's loop does: its result. */
static enum provider_result run(struct provider_multi *m, int epfd, const struct provider_call *call)
{
	char err[256];
	void *owner = NULL;
	enum provider_result r = PROVIDER_FAILED;
	pthread_t t;
	got_len = 0;
	got[0] = '\0';
	pthread_create(&t, NULL, stand_in, NULL);
	if (provider_start(m, call, &got, err, sizeof(err)) == NULL) {
		printf("# not started: %s\n", err);
		pthread_join(t, NULL);
		return r;
	}
	for (int rounds = 0; rounds < 3000 && provider_next_done(m, &owner, &r, err, sizeof(err)) != 0; rounds++) {
		struct epoll_event ev[16];
		long wait = provider_timer_ms(m);
		int k = epoll_wait(epfd, ev, 16, wait < 0 || wait > 10 ? 10 : (int)wait);
		for (int i = 0; i < k; i++)
			provider_socket(m, (int)(ev[i].data.u64 & 0xffffffffu), ev[i].events);
		provider_timers(m);
	}
	pthread_join(t, NULL);
	return r;
}

static void expect_hash(const unsigned char *body, size_t len, const char *what)
{
	unsigned char hash[KEYS_HASH_LEN];
	char hex[2 * KEYS_HASH_LEN + 1];
	keys_sha256(body, len, hash);
	for (int i = 0; i < KEYS_HASH_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", hash[i]);
	is_str(got, hex, "%s: the provider got the bytes sent (SHA-256 of %zu bytes)", what, len);
}

int main(void)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	char url[128];
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM, 0);
	ok(listener >= 0 && bind(listener, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(listener, 4) == 0 &&
	   getsockname(listener, (struct sockaddr *)&a, &alen) == 0, "a stand-in provider on a loopback port");
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/audio/transcriptions", ntohs(a.sin_port));

	size_t len = 5 * 1024 * 1024 + 17;
	unsigned char *body = malloc(len);
	uint32_t seed = 42;
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		body[i] = (unsigned char)(seed >> 16);
	}
	struct spool *s = spool_open(NULL, NULL, 0);
	ok(s != NULL && spool_write(s, body, len) == 0 && spool_map(s) != NULL, "a 5 MiB body kept on disk");

	int epfd = epoll_create1(EPOLL_CLOEXEC);
	struct provider_multi *m = provider_multi_new(epfd, TAG);
	ok(m != NULL, "the client's multi handle");
	static const char *const headers[] = {"Content-Type: multipart/form-data; boundary=x", NULL};
	struct provider_call call = {
		.url = url,
		.headers = headers,
		.body_len = len,
		.body_file = s,
		.connect_timeout_ms = 2000,
		.first_byte_timeout_ms = 10000,
		.idle_timeout_ms = 10000,
		.on_head = on_head,
		.on_data = on_data,
	};
	is_int(run(m, epfd, &call), PROVIDER_OK, "sent from its file, the whole answer read");
	expect_hash(body, len, "from the file");

	call.body_file = NULL;
	call.body = (const char *)body;
	is_int(run(m, epfd, &call), PROVIDER_OK, "sent from memory");
	expect_hash(body, len, "from memory");

	provider_multi_free(m);
	close(epfd);
	close(listener);
	spool_free(s);
	free(body);
	return done_testing();
}
