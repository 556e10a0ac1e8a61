/* gwkind.c: the list of provider kinds (gwkind.h) and the lookups by
 * route path, by path prefix and by name. A new API shape is one
 * gwkind_*.c file and one line here, as curl lists its TLS backends in
 * lib/vtls/vtls.c. Never: knows what a kind does. */
#include "gwkind.h"
#include <string.h>

static const struct gwkind *const kinds[] = {&gwkind_openai, &gwkind_anthropic};

const struct gwkind *gwkind_at(size_t i)
{
	return i < sizeof(kinds) / sizeof(kinds[0]) ? kinds[i] : NULL;
}

const struct gwkind *gwkind_named(const char *name)
{
	for (size_t i = 0; name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(kinds[i]->name, name) == 0)
			return kinds[i];
	return NULL;
}

const struct gwkind *gwkind_of_path(const char *path)
{
	for (size_t i = 0; path != NULL && path[0] == '/' && i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i]->name);
		if (strncmp(path + 1, kinds[i]->name, n) == 0 && (path[n + 1] == '\0' || path[n + 1] == '/'))
			return kinds[i];
	}
	return NULL;
}

const struct gwkind_route *gwkind_route(const char *path)
{
	const struct gwkind *k = gwkind_of_path(path);

	for (size_t i = 0; k != NULL && i < k->nroutes; i++)
		if (k->routes[i].upstream != NULL && !k->routes[i].object && strcmp(k->routes[i].path, path) == 0)
			return &k->routes[i];
	return NULL;
}

const struct gwkind_route *gwkind_route_named(const char *metrics_name)
{
	for (size_t i = 0; metrics_name != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (size_t j = 0; j < kinds[i]->nroutes; j++)
			if (strcmp(kinds[i]->routes[j].metrics_name, metrics_name) == 0)
				return &kinds[i]->routes[j];
	return NULL;
}

size_t gwkind_forwarded_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		for (const char *const *f = kinds[i]->forwarded; *f != NULL; f++)
			n++;
	return n;
}

const char *gwkind_forwarded_at(size_t i, const struct gwkind **k, size_t *j)
{
	for (size_t x = 0; x < sizeof(kinds) / sizeof(kinds[0]); x++)
		for (size_t y = 0; kinds[x]->forwarded[y] != NULL; y++)
			if (i-- == 0) {
				*k = kinds[x];
				*j = y;
				return kinds[x]->forwarded[y];
			}
	return NULL;
}
