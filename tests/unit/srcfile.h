/* srcfile.h: a whole file of the source tree read into memory, for the
 * unit tests that hold docs and migrations to the code. Header-only, as
 * tap.h. */
#ifndef CREDITD_SRCFILE_H
#define CREDITD_SRCFILE_H
#include <stdio.h>
#include <stdlib.h>

#ifndef TOP_SRCDIR
#error "TOP_SRCDIR must be set by Makefile.am"
#endif

/* The file at path (absolute, or relative to the top of the source tree),
 * NUL-terminated and malloc'd, its length in *len when len is not NULL;
 * NULL when it cannot be read. */
__attribute__((unused))
static char *src_slurp(const char *path, size_t *len)
{
	char full[4096];
	if (path[0] != '/') {
		snprintf(full, sizeof(full), "%s/%s", TOP_SRCDIR, path);
		path = full;
	}
	FILE *f = fopen(path, "rb");
	char *s = NULL;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0) {
		long n = ftell(f);
		s = n >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)n + 1) : NULL;
		if (s != NULL && fread(s, 1, (size_t)n, f) == (size_t)n) {
			s[n] = '\0';
			if (len != NULL)
				*len = (size_t)n;
		} else {
			free(s);
			s = NULL;
		}
	}
	fclose(f);
	return s;
}
#endif
