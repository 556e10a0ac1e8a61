/* spool.c: a request body kept in a nameless file (see spool.h). The file
 * is never linked into a directory (O_TMPFILE | O_EXCL), or unlinked the
 * moment it is made where the filesystem cannot do that: a crash leaves
 * no file behind, and no other process can open it by a name. The mapping
 * is one byte longer than the body, a NUL, so that a route reading text
 * stops there as it would in a buffer of memory. */
#include "spool.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool {
	int fd;
	size_t len;			/* the body's bytes written */
	int failed;			/* a write failed: no more */
	unsigned char *map;		/* len + 1 bytes once mapped, else NULL */
};

/* A nameless file in dir: O_TMPFILE first; where the filesystem has none
 * (EOPNOTSUPP, or EISDIR/EINVAL from a kernel that does not know the
 * flag), mkstemp and unlink at once. -1 with errno set. */
static int nameless_file(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	char path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/creditd-body-XXXXXX", dir) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd >= 0 && unlink(path) != 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

struct spool *spool_open(const char *dir, char *err, size_t errcap)
{
	const char *tmp = getenv("TMPDIR");
	if (dir == NULL || dir[0] == '\0')
		dir = tmp != NULL && tmp[0] == '/' ? tmp : "/tmp";
	struct spool *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		if (err != NULL)
			snprintf(err, errcap, "out of memory");
		return NULL;
	}
	s->fd = nameless_file(dir);
	if (s->fd < 0) {
		int e = errno;
		if (err != NULL)
			snprintf(err, errcap, "cannot make a file in %s: %s", dir, strerror(e));
		free(s);
		errno = e;
		return NULL;
	}
	return s;
}

int spool_write(struct spool *s, const void *bytes, size_t n)
{
	const unsigned char *p = bytes;
	if (s->failed || s->map != NULL) {
		errno = EBADF;
		return -1;
	}
	while (n > 0) {
		ssize_t w = write(s->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w == 0)
				errno = ENOSPC;
			s->failed = 1;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		s->len += (size_t)w;
	}
	return 0;
}

const unsigned char *spool_map(struct spool *s)
{
	static const unsigned char nul = 0;
	if (s->map != NULL)
		return s->map;
	if (s->failed || s->len == 0) {
		errno = s->failed ? EBADF : EINVAL;
		return NULL;
	}
	/* The NUL after the body is written, not left to the page's zero
	 * fill: a body of a whole number of pages has no page after it. */
	if (pwrite(s->fd, &nul, 1, (off_t)s->len) != 1) {
		s->failed = 1;
		if (errno == 0)
			errno = ENOSPC;
		return NULL;
	}
	void *m = mmap(NULL, s->len + 1, PROT_READ, MAP_SHARED, s->fd, 0);
	if (m == MAP_FAILED) {
		s->failed = 1;
		return NULL;
	}
	s->map = m;
	return s->map;
}

size_t spool_len(const struct spool *s)
{
	return s->len;
}

ssize_t spool_read_at(const struct spool *s, void *buf, size_t n, size_t at)
{
	if (at >= s->len)
		return 0;
	if (n > s->len - at)
		n = s->len - at;
	for (;;) {
		ssize_t r = pread(s->fd, buf, n, (off_t)at);
		if (r >= 0 || errno != EINTR)
			return r;
	}
}

void spool_free(struct spool *s)
{
	if (s == NULL)
		return;
	if (s->map != NULL)
		munmap(s->map, s->len + 1);
	close(s->fd);
	free(s);
}
