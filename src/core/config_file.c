/* config_file.c: a file the configuration names read whole (the config
 * itself, a migration's password file), bounded, with its mode taken from
 * the open file; and the config file's mode judged against the secrets
 * it holds (docs/shared-hosting.md). Apart from config.c, which parses
 * what it reads. */
#include "config.h"
#include "config_file.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Reads a whole file of at most cap bytes; *mode is its type and
 * permissions (st_mode), taken from the open file (not the path, which may
 * change meanwhile). */
char *config_file_read(const char *path, size_t cap, unsigned *mode, char *err, size_t errcap, int *missing)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	struct stat st;
	*missing = 0;
	if (f == NULL) {
		*missing = errno == ENOENT;
		config_fail(err, errcap, "cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) != 0) {
		config_fail(err, errcap, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	*mode = (unsigned)st.st_mode;
	buf = malloc(cap + 1);
	if (buf == NULL)
		goto out;
	size_t n = fread(buf, 1, cap, f);
	if (ferror(f)) {	/* a directory (EISDIR), an I/O error: not its size */
		config_fail(err, errcap, "cannot read %s: %s", path, strerror(errno));
		free(buf);
		buf = NULL;
		goto out;
	}
	if (!feof(f)) {
		config_fail(err, errcap, "%s is larger than %zu bytes", path, cap);
		free(buf);
		buf = NULL;
		goto out;
	}
	buf[n] = '\0';
out:
	fclose(f);
	return buf;
}

/* Who may change and read the file. No config may be written by others:
 * whoever writes it picks the database, the Stripe endpoint and the log
 * creditd uses, and may add a key the environment's secrets then serve. One
 * that sets secret k (docs/configuration.md, "Secrets are never logged") is
 * not writable by its group either (on a shared host the group may be every
 * customer's), and not readable by others, unless the file itself says
 * [security] config_readable_by_others = true (shared hosting without suEXEC,
 * where Apache's user runs creditd and the site's user owns the file:
 * docs/shared-hosting.md), which c->config_open_to_others records. Read
 * access given to one user by an ACL shows in the group's bits (the ACL
 * mask), so it passes as 0640 does. k NULL: the file sets no secret. What may
 * be written counts, but for a character device: a write to /dev/null (a
 * config of the environment alone) changes nothing a read will see, where one
 * to a FIFO is the config read. */
int config_file_private(struct cfg *c, const char *path, const struct config_key *k, unsigned st_mode, char *err,
			size_t errcap)
{
	int allowed = strcmp(c->config_readable_by_others_text, "true") == 0;
	unsigned mode = st_mode & 07777, writes = S_ISCHR(st_mode) ? mode & ~0022u : mode;
	if ((writes & 0002) != 0)
		return config_fail(err, errcap, "config %s is writable by others (mode %04o): chmod o-w it", path,
				   mode);
	if (k == NULL)
		return 0;
	if ((writes & 0020) != 0)
		return config_fail(err, errcap, "config %s holds secrets (%s.%s) and is writable by its group "
				   "(mode %04o): chmod g-w it", path, k->section, k->key, mode);
	if ((mode & 0004) != 0 && !allowed)
		return config_fail(err, errcap, "config %s holds secrets (%s.%s) and is readable by others "
				   "(mode %04o): chmod o-r it (0600, or 0640 with the daemon's group); shared hosting "
				   "without suEXEC: see security.config_readable_by_others", path, k->section, k->key,
				   mode);
	c->config_open_to_others = (mode & 0004) != 0;
	return 0;
}
