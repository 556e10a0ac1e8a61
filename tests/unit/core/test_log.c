/* test_log.c: an assertion that fails is logged with what the thread was
 * serving (log.h's log_context_push), then the process aborts
 * (docs/operations.md, "When an assertion fails"). Run in a child process:
 * its log file and how it ended are read here. */
#include "log.h"
#include "tap.h"
#include <assert.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void fails_serving(const char *path, int pop)
{
	if (log_open(path, LOG_LVL_INFO) != 0)
		_exit(3);
	unsigned outer = log_context_push("POST /v1/guard/settle X-Request-Id rq-%d", 42);
	unsigned batch = log_context_push("guard batch of 2");
	log_context_push("settle hold_7_9");
	if (pop)
		log_context_pop(batch);
	(void)outer;
	int reserved = -1;
	assert(reserved >= 0);
	_exit(0);
}

/* The log of a child that failed an assertion; its status in *status. */
static char *run(int pop, int *status)
{
	static char text[4096];
	char path[] = "/tmp/creditd-test-log-XXXXXX";
	int fd = mkstemp(path);
	if (fd < 0)
		return NULL;
	pid_t pid = fork();
	if (pid == 0) {
		fails_serving(path, pop);
	}
	waitpid(pid, status, 0);
	ssize_t n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(path);
	text[n > 0 ? n : 0] = '\0';
	text[strcspn(text, "\n")] = '\0';	/* one line: the TAP line stays one */
	return text;
}

int main(void)
{
	int status = 0;
	char *text = run(0, &status);
	ok(text != NULL && WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "the process aborts");
	ok(text != NULL && strstr(text, "error: assertion failed: ") != NULL && strstr(text, "reserved >= 0") != NULL,
	   "the failed condition is logged: %s", text != NULL ? text : "");
	ok(text != NULL && strstr(text, "fails_serving") != NULL && strstr(text, "test_log.c:") != NULL,
	   "with its place");
	ok(text != NULL &&
		   strstr(text, "serving: POST /v1/guard/settle X-Request-Id rq-42; guard batch of 2; settle hold_7_9; "
				"aborting") != NULL,
	   "and what the thread was serving: the request, its batch and the batch's operations");
	text = run(1, &status);
	ok(text != NULL && strstr(text, "serving: POST /v1/guard/settle X-Request-Id rq-42; aborting") != NULL,
	   "a part popped is gone: %s", text != NULL ? text : "");
	return done_testing();
}
