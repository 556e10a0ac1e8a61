/* stripe_responder.h: the tiny HTTP/1.1 responder test_stripe.c runs in a
 * thread on 127.0.0.1: it answers each request with the canned answer set
 * last (serve), keeps the last request's bytes (last_body, last_has) and
 * counts connections and requests (stat_of). Static functions for the one
 * test program that includes it; never reaches beyond loopback. */
#ifndef CREDITD_TESTS_STRIPE_RESPONDER_H
#define CREDITD_TESTS_STRIPE_RESPONDER_H
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>


struct canned {
	int status;
	const char *body;
	size_t big_bytes;	/* > 0: a JSON body of this size instead of body */
	int no_length;		/* no Content-Length: the body ends at close */
	int hang_up;		/* read the request, close without answering */
	int delay_ms;
	const char *location;
};

#define REQ_MAX (128 * 1024)

static struct {
	int fd;
	int port;
	pthread_t thread;
	pthread_mutex_t mu;
	struct canned next;
	char last[REQ_MAX];
	int accepts;
	int requests;
} srv = { .fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

static void serve(const struct canned *c)
{
	pthread_mutex_lock(&srv.mu);
	srv.next = *c;
	pthread_mutex_unlock(&srv.mu);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void respond(int fd, const struct canned *c)
{
	char head[512], loc[300] = "";
	char *big = NULL;
	const char *body = c->body != NULL ? c->body : "";
	size_t blen;

	if (c->big_bytes > 0) {
		big = malloc(c->big_bytes + 1);
		memset(big, 'a', c->big_bytes);
		memcpy(big, "{\"id\":\"cus_big\",\"pad\":\"", 23);
		memcpy(big + c->big_bytes - 2, "\"}", 2);
		big[c->big_bytes] = '\0';
		body = big;
	}
	blen = strlen(body);
	if (c->location != NULL)
		snprintf(loc, sizeof(loc), "Location: %s\r\n", c->location);
	if (c->no_length)
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
			 "Connection: close\r\n\r\n", c->status, loc);
	else
		snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Type: application/json\r\n%s"
			 "Content-Length: %zu\r\n\r\n", c->status, loc, blen);
	if (send_all(fd, head, strlen(head)) == 0)
		send_all(fd, body, blen);
	free(big);
}

/* Reads one request (headers + Content-Length body) into buf. Returns its
 * length, or 0 when the peer closed. */
static size_t read_request(int fd, char *buf, size_t cap)
{
	size_t len = 0, want = 0;
	char *end = NULL;

	for (;;) {
		ssize_t r = recv(fd, buf + len, cap - 1 - len, 0);

		if (r <= 0)
			return 0;
		len += (size_t)r;
		buf[len] = '\0';
		if (end == NULL) {
			end = strstr(buf, "\r\n\r\n");
			if (end != NULL) {
				char *cl = strcasestr(buf, "\r\nContent-Length:");

				want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
			}
		}
		if (end != NULL && len >= want)
			return len;
		if (len + 1 >= cap)
			return len;
	}
}

static void *conn_main(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char *buf = malloc(REQ_MAX);
	struct canned c;

	for (;;) {
		size_t n = read_request(fd, buf, REQ_MAX);

		if (n == 0)
			break;
		pthread_mutex_lock(&srv.mu);
		memcpy(srv.last, buf, n + 1);
		srv.requests++;
		c = srv.next;
		pthread_mutex_unlock(&srv.mu);
		if (c.delay_ms > 0)
			usleep((useconds_t)c.delay_ms * 1000);
		if (c.hang_up)
			break;
		respond(fd, &c);
		if (c.no_length)
			break;
	}
	close(fd);
	free(buf);
	return NULL;
}

static void *accept_main(void *arg)
{
	(void)arg;
	for (;;) {
		pthread_t t;
		int fd = accept(srv.fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			break;
		}
		pthread_mutex_lock(&srv.mu);
		srv.accepts++;
		pthread_mutex_unlock(&srv.mu);
		if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) != 0)
			close(fd);
		else
			pthread_detach(t);
	}
	return NULL;
}

/* Binds 127.0.0.1:0 and returns the socket; *port gets the port. */
static int bind_loopback(int *port)
{
	struct sockaddr_in a;
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

static int server_start(void)
{
	srv.fd = bind_loopback(&srv.port);
	if (srv.fd < 0 || listen(srv.fd, 16) != 0)
		return -1;
	return pthread_create(&srv.thread, NULL, accept_main, NULL) == 0 ? 0 : -1;
}

static void server_stop(void)
{
	shutdown(srv.fd, SHUT_RDWR);
	pthread_join(srv.thread, NULL);
	close(srv.fd);
}

static int stat_of(int *field)
{
	int v;

	pthread_mutex_lock(&srv.mu);
	v = *field;
	pthread_mutex_unlock(&srv.mu);
	return v;
}

/* The body of the last request, or "" . */
static const char *last_body(char *dst, size_t cap)
{
	const char *b;

	pthread_mutex_lock(&srv.mu);
	b = strstr(srv.last, "\r\n\r\n");
	snprintf(dst, cap, "%s", b != NULL ? b + 4 : "");
	pthread_mutex_unlock(&srv.mu);
	return dst;
}

static int last_has(const char *needle)
{
	int found;

	pthread_mutex_lock(&srv.mu);
	found = strstr(srv.last, needle) != NULL;
	pthread_mutex_unlock(&srv.mu);
	return found;
}

#endif
