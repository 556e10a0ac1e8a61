/* floor_responder.c: the floor of the bench, the least a threaded libfcgi
 * responder can do behind nginx. N threads loop on FCGX_Accept_r on one
 * unix socket, read each request's stdin to EOF and answer 200
 * {"status":"ok"}. It has creditd's shape (same library, same accept loop,
 * same socket type, same thread count) and none of its work, so creditd's
 * GET /healthz divided by this is what creditd's own code costs.
 *
 * It must never do more than that: anything added here raises the floor
 * and flatters creditd. Signals are blocked in every thread and taken by
 * main() with sigwait (libfcgi's own SIGTERM handling would leave it
 * running); SIGTERM or SIGINT removes the socket and exits.
 *
 * usage: floor_responder SOCKET_PATH [THREADS] */
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS_DEFAULT 32
#define THREADS_MAX 1024
#define LISTEN_BACKLOG 1024

static const char reply[] = "Status: 200 OK\r\nContent-Type: application/json\r\n\r\n{\"status\":\"ok\"}\n";

static void *worker_main(void *arg)
{
	int fd = *(const int *)arg;
	char sink[4096];
	FCGX_Request req;
	if (FCGX_InitRequest(&req, fd, 0) != 0)
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

int main(int argc, char **argv)
{
	static int listen_fd;
	long threads = THREADS_DEFAULT;
	sigset_t stop;
	int sig = 0;
	if (argc < 2 || argc > 3 || (argc == 3 && parse_threads(argv[2], &threads) != 0)) {
		fprintf(stderr, "usage: floor_responder SOCKET_PATH [THREADS 1-%d]\n", THREADS_MAX);
		return 2;
	}
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0) {
		fprintf(stderr, "floor_responder: FCGX_Init failed\n");
		return 1;
	}
	unlink(argv[1]);
	listen_fd = FCGX_OpenSocket(argv[1], LISTEN_BACKLOG);
	if (listen_fd < 0) {
		fprintf(stderr, "floor_responder: cannot listen on %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	chmod(argv[1], 0666);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (long i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, worker_main, &listen_fd) != 0) {
			fprintf(stderr, "floor_responder: cannot start thread %ld\n", i);
			return 1;
		}
	}
	pthread_attr_destroy(&attr);
	while (sig != SIGTERM && sig != SIGINT) {
		if (sigwait(&stop, &sig) != 0)
			break;
	}
	/* Threads may be inside a request: leave without joining them. */
	unlink(argv[1]);
	_exit(0);
}
