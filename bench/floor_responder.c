/* floor_responder.c: the floor of the bench, the least a threaded libfcgi
 * responder can do behind nginx. N threads loop on FCGX_Accept_r on one
 * unix socket, read each request's stdin to EOF and answer 200
 * {"status":"ok"}. It has creditd's shape (same library, same accept loop,
 * same socket type, same thread count) and none of its work, so creditd's
 * GET /healthz divided by this is what creditd's own code costs.
 *
 * It must never do more than that: anything added here raises the floor
 * and flatters creditd. Its start-up (the socket, the threads, the
 * signals: SIGTERM or SIGINT removes the socket and exits) is
 * floor_serve.c's, shared with floor_db_responder.
 *
 * usage: floor_responder SOCKET_PATH [THREADS] */
#include "floor_serve.h"
#include <errno.h>
#include <fcgiapp.h>
#include <stdio.h>
#include <stdlib.h>

#define THREADS_DEFAULT 32
#define THREADS_MAX 1024

static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"ok\"}\n";

static void *worker_main(void *arg)
{
	(void)arg;
	char sink[4096];
	FCGX_Request req;
	if (FCGX_InitRequest(&req, floor_listen_fd, 0) != 0)
		return NULL;
	while (FCGX_Accept_r(&req) >= 0) {
		while (FCGX_GetStr(sink, (int)sizeof(sink), req.in) > 0)
			;
		FCGX_PutStr(reply, (int)sizeof(reply) - 1, req.out);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, 1);
	return NULL;
}

static int parse_threads(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 1 || v > THREADS_MAX)
		return -1;
	*out = v;
	return 0;
}

static void *no_arg(long i)
{
	(void)i;
	return NULL;
}

int main(int argc, char **argv)
{
	long threads = THREADS_DEFAULT;
	if (argc < 2 || argc > 3 || (argc == 3 && parse_threads(argv[2], &threads) != 0)) {
		fprintf(stderr, "usage: floor_responder SOCKET_PATH [THREADS 1-%d]\n", THREADS_MAX);
		return 2;
	}
	if (FCGX_Init() != 0) {
		fprintf(stderr, "floor_responder: FCGX_Init failed\n");
		return 1;
	}
	return floor_serve("floor_responder", argv[1], threads, worker_main, no_arg);
}
