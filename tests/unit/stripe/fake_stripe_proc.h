/* fake_stripe_proc.h: tests/fake_stripe.py started by test_stripe.c itself,
 * on a free loopback port, so that the client is checked against the fake's
 * validation in every `make check` (python3 is a build dependency: see
 * debian/control). fake_start() runs it and waits for the port file it
 * writes; fake_stop() ends it by its pid and removes its temp dir. Static
 * functions for the one test program that includes it; the fake never
 * listens beyond 127.0.0.1, and dies with the test (PR_SET_PDEATHSIG) if
 * the test dies first. */
#ifndef CREDITD_TESTS_FAKE_STRIPE_PROC_H
#define CREDITD_TESTS_FAKE_STRIPE_PROC_H
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How long the fake may take to say its port: python3's start on a busy
 * two-core machine is well under a second; ten is a hang, not a slow start. */
#define FAKE_START_MS 10000

static struct {
	pid_t pid;
	char dir[128];
	char port_file[160];
	char base[64];		/* http://127.0.0.1:PORT once started */
} fake;

static void fake_child(const char *script)
{
	/* The test's stdout is its TAP stream: the fake writes nowhere near it. */
	if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
		_exit(126);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Nothing written into the source tree (it may be read-only: distcheck). */
	setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
	execlp("python3", "python3", script, "--host", "127.0.0.1", "--port", "0", "--port-file", fake.port_file,
	       (char *)NULL);
	fprintf(stderr, "fake_stripe_proc: cannot run python3 %s: %s\n", script, strerror(errno));
	_exit(127);
}

/* The port the fake wrote (it writes the file whole, by rename), 0 while it
 * has not, -1 when it exited. */
static int fake_poll_port(void)
{
	FILE *f = fopen(fake.port_file, "r");
	int port = 0, status;

	if (f != NULL) {
		if (fscanf(f, "%d", &port) != 1 || port <= 0 || port > 65535)
			port = 0;
		fclose(f);
	}
	if (port == 0 && waitpid(fake.pid, &status, WNOHANG) == fake.pid) {
		fake.pid = 0;
		return -1;
	}
	return port;
}

/* Ends the fake (SIGTERM: it closes its socket and exits) and removes its
 * temp dir; harmless when it never started. */
static void fake_stop(void)
{
	int status;

	if (fake.pid > 0) {
		kill(fake.pid, SIGTERM);
		waitpid(fake.pid, &status, 0);
		fake.pid = 0;
	}
	if (fake.dir[0] != '\0') {
		unlink(fake.port_file);
		rmdir(fake.dir);
		fake.dir[0] = '\0';
	}
}

/* Starts top_srcdir/tests/fake_stripe.py; 0 and fake.base set, or -1 with
 * why in msg (and nothing left running). */
static int fake_start(const char *top_srcdir, char *msg, size_t msg_len)
{
	const char *tmp = getenv("TMPDIR");
	char script[512];
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	int port = 0, waited_ms;

	snprintf(script, sizeof(script), "%s/tests/fake_stripe.py", top_srcdir);
	snprintf(fake.dir, sizeof(fake.dir), "%s/creditd-fake-stripe-XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
	if (mkdtemp(fake.dir) == NULL) {
		snprintf(msg, msg_len, "mkdtemp %s: %s", fake.dir, strerror(errno));
		fake.dir[0] = '\0';
		return -1;
	}
	snprintf(fake.port_file, sizeof(fake.port_file), "%s/port", fake.dir);
	fflush(stdout);
	fake.pid = fork();
	if (fake.pid < 0) {
		snprintf(msg, msg_len, "fork: %s", strerror(errno));
		fake_stop();
		return -1;
	}
	if (fake.pid == 0)
		fake_child(script);
	for (waited_ms = 0; waited_ms < FAKE_START_MS && (port = fake_poll_port()) == 0; waited_ms += 20)
		nanosleep(&nap, NULL);
	if (port <= 0) {
		snprintf(msg, msg_len, "%s %s", script, port < 0 ? "exited before it said its port" : "said no port in 10 s");
		fake_stop();
		return -1;
	}
	snprintf(fake.base, sizeof(fake.base), "http://127.0.0.1:%d", port);
	return 0;
}
#endif
