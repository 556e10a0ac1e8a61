/* test_spool.c: a body kept on disk (spool.h) is the bytes sent, to the
 * byte (their SHA-256 compared, through the mapping and through the
 * file), ends with a NUL even at a page's end, never has a name in its
 * directory, and is gone once freed or once its process is killed. */
#include "keys.h"
#include "spool.h"
#include "tap.h"
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Entries of dir other than . and .. */
static int entries(const char *dir)
{
	int n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
	closedir(d);
	return n;
}

/* Open descriptors of this process. */
static int open_fds(void)
{
	return entries("/proc/self/fd");
}

/* n bytes of a fixed pseudo-random sequence, every byte value in it. */
static void fill(unsigned char *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (unsigned char)(seed >> 16);
	}
}

/* Writes body in pieces of uneven sizes (as a web server's records
 * come), maps it and checks it; returns the spool (the caller frees). */
static struct spool *spooled(const char *dir, const unsigned char *body, size_t len)
{
	char err[256];
	struct spool *s = spool_open(dir, err, sizeof(err));
	ok(s != NULL, "a spool in %s: %s", dir, s != NULL ? "made" : err);
	if (s == NULL)
		return NULL;
	size_t at = 0, piece = 1;
	int failed = 0;
	while (at < len) {
		size_t n = piece < len - at ? piece : len - at;
		failed |= spool_write(s, body + at, n) != 0;
		at += n;
		piece = piece * 3 + 7;
		if (piece > 300000)
			piece = 5;
	}
	ok(!failed, "every write taken");
	is_int(spool_len(s), len, "its length is the body's");
	return s;
}

static void same_bytes(struct spool *s, const unsigned char *body, size_t len, const char *what)
{
	unsigned char sent[KEYS_HASH_LEN], mapped[KEYS_HASH_LEN], read_back[KEYS_HASH_LEN];
	const unsigned char *m = spool_map(s);
	ok(m != NULL, "%s: mapped", what);
	if (m == NULL)
		return;
	keys_sha256(body, len, sent);
	keys_sha256(m, len, mapped);
	ok(memcmp(sent, mapped, sizeof(sent)) == 0, "%s: the mapped bytes' SHA-256 is the sent bytes'", what);
	is_int(m[len], 0, "%s: a NUL after the last byte", what);
	ok(spool_map(s) == m, "%s: a second map is the same mapping", what);
	/* Read back through the file, as the forward sends it. */
	unsigned char *copy = malloc(len);
	size_t at = 0;
	ssize_t n = 1;
	while (copy != NULL && n > 0) {
		n = spool_read_at(s, copy + at, 100000, at);
		at += n > 0 ? (size_t)n : 0;
	}
	is_int(at, len, "%s: the file reads back whole", what);
	keys_sha256(copy, at, read_back);
	ok(memcmp(sent, read_back, sizeof(sent)) == 0, "%s: and its SHA-256 is the sent bytes'", what);
	is_int(spool_read_at(s, copy, 10, len), 0, "%s: nothing past the end", what);
	free(copy);
}

int main(void)
{
	char dir[] = "/tmp/test_spool_XXXXXX";
	ok(mkdtemp(dir) != NULL, "a directory for the spools");
	size_t big = 20 * 1024 * 1024 + 123;
	unsigned char *body = malloc(big);
	fill(body, big, 7);

	int fds = open_fds();
	struct spool *s = spooled(dir, body, big);
	is_int(entries(dir), 0, "the file has no name in its directory while it is written");
	same_bytes(s, body, big, "20 MiB");
	is_int(open_fds(), fds + 1, "one descriptor while it lives");
	spool_free(s);
	is_int(open_fds(), fds, "freed: its descriptor closed, the file gone with it");
	is_int(entries(dir), 0, "nothing left in the directory");

	/* A whole number of pages: the NUL is past the last page of the body. */
	long page = sysconf(_SC_PAGESIZE);
	s = spooled(dir, body, (size_t)page * 2);
	same_bytes(s, body, (size_t)page * 2, "two pages");
	spool_free(s);

	/* Bytes as they come: NULs inside are the body's. */
	s = spooled(dir, (const unsigned char *)"a\0b", 3);
	const unsigned char *m = spool_map(s);
	ok(m != NULL && memcmp(m, "a\0b", 4) == 0, "NUL bytes inside a body are kept");
	ok(spool_write(s, "x", 1) != 0 && errno == EBADF, "no write once mapped");
	spool_free(s);

	char err[256] = "";
	ok(spool_open("/nonexistent/creditd-spool", err, sizeof(err)) == NULL, "a directory that is not there: NULL");
	ok(strstr(err, "/nonexistent/creditd-spool") != NULL, "and the reason names it: %s", err);
	s = spool_open(dir, NULL, 0);
	ok(s != NULL && spool_map(s) == NULL, "an empty spool is not mapped");
	spool_free(s);
	spool_free(NULL);

	/* A process killed while it holds a body leaves nothing behind. */
	pid_t child = fork();
	if (child == 0) {
		struct spool *c = spool_open(dir, NULL, 0);
		if (c == NULL || spool_write(c, body, 1024 * 1024) != 0 || spool_map(c) == NULL)
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	int status = 0;
	waitpid(child, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "a process killed holding a spooled body");
	is_int(entries(dir), 0, "left no file behind");

	rmdir(dir);
	free(body);
	return done_testing();
}
