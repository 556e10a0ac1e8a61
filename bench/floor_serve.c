/* floor_serve.c: see floor_serve.h. */
#include "floor_serve.h"
#include <errno.h>
#include <fcgiapp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LISTEN_BACKLOG 1024
#define STACK_BYTES (256 * 1024)

int floor_listen_fd = -1;

int floor_serve(const char *name, const char *path, long threads, void *(*worker)(void *), void *(*arg)(long i))
{
	sigset_t stop;
	int sig = 0;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	unlink(path);
	floor_listen_fd = FCGX_OpenSocket(path, LISTEN_BACKLOG);
	if (floor_listen_fd < 0) {
		fprintf(stderr, "%s: cannot listen on %s: %s\n", name, path, strerror(errno));
		return 1;
	}
	chmod(path, 0666);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, STACK_BYTES);
	for (long i = 0; i < threads; i++) {
		pthread_t t;
		if (pthread_create(&t, &attr, worker, arg(i)) != 0) {
			fprintf(stderr, "%s: cannot start thread %ld\n", name, i);
			return 1;
		}
	}
	pthread_attr_destroy(&attr);
	while (sig != SIGTERM && sig != SIGINT) {
		if (sigwait(&stop, &sig) != 0)
			break;
	}
	unlink(path);
	_exit(0);
}
