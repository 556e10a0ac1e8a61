/* spool.h: a request body too large to keep in memory, kept in a file that
 * has no name (docs/gateway.md, "Request bodies"): written as it arrives,
 * then mapped read-only for the route that reads it, and read back from
 * the file by the forward that sends it on.
 *
 * The file is made with O_TMPFILE (or, on a filesystem without it, made
 * and unlinked at once), so it never has a name another process could
 * open, and it is gone as soon as its descriptor closes: at spool_free,
 * or when the process ends, however it ends (killed included). Nothing
 * here is shared between threads: a spool is one request's. */
#ifndef CREDITD_SPOOL_H
#define CREDITD_SPOOL_H
#include <stddef.h>
#include <sys/types.h>

struct spool;

/* A new, empty spool in the directory dir ("" or NULL: $TMPDIR, else
 * /tmp). NULL when the file cannot be made (errno set; err, if not NULL,
 * a sentence naming the directory). The caller frees it (spool_free). */
struct spool *spool_open(const char *dir, char *err, size_t errcap);
/* Appends n bytes. 0, or -1 (errno: ENOSPC when the disk is full, EBADF
 * once mapped); after a failure the spool takes no more. */
int spool_write(struct spool *s, const void *bytes, size_t n);
/* Ends the writes and maps the file read-only: its bytes (spool_len of
 * them), with a NUL after the last (not counted, not sent), for as long
 * as the spool lives. NULL (errno set) when it cannot be mapped or holds
 * nothing; a second call returns the same mapping. */
const unsigned char *spool_map(struct spool *s);
/* The bytes written so far. */
size_t spool_len(const struct spool *s);
/* Copies at most n bytes of the body from offset at into buf, from the
 * file (not the mapping: pages read this way are the page cache's, not
 * the process's): the bytes copied, 0 at the end, -1 on an error (errno
 * set). Safe on any thread while nobody writes. */
ssize_t spool_read_at(const struct spool *s, void *buf, size_t n, size_t at);
/* Unmaps and closes: the file is gone. NULL is fine. */
void spool_free(struct spool *s);
#endif
