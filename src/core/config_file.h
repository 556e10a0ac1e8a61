/* config_file.h: what config.c takes from config_file.c. */
#ifndef CREDITD_CONFIG_FILE_H
#define CREDITD_CONFIG_FILE_H
#include <stddef.h>

struct cfg;
struct config_key;

/* The whole of path, at most cap bytes, NUL-ended (the caller frees);
 * *mode its st_mode. NULL with the reason in err, *missing when there is
 * no such file. */
char *config_file_read(const char *path, size_t cap, unsigned *mode, char *err, size_t errcap, int *missing);
/* 0 when the config at path, of st_mode, may hold what it holds (k: the
 * first secret it sets, NULL none); sets c->config_open_to_others. -1
 * with the reason in err. */
int config_file_private(struct cfg *c, const char *path, const struct config_key *k, unsigned st_mode, char *err,
			size_t errcap);
#endif
