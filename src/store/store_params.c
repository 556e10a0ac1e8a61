/* store_params.c: a statement's parameters (store_db.h, struct
 * db_params): each bound by its type, in order, up to DB_PARAMS_MAX (one
 * more marks the set overflowed, refused when it runs), and the format
 * string of store_exec bound through the same builders. Apart from
 * store.c, which runs the statements; it calls nothing there. */
#include "store_db.h"
#include "store_params.h"
#include <stdarg.h>
#include <string.h>

void store_params_init(struct db_params *p)
{
	memset(p, 0, sizeof(*p));
}

static MYSQL_BIND *dbp_next(struct db_params *p)
{
	if (p->n == DB_PARAMS_MAX) {
		p->overflow = 1;
		return NULL;
	}
	MYSQL_BIND *b = &p->bind[p->n];
	memset(b, 0, sizeof(*b));
	p->nulls[p->n] = 0;
	b->is_null = &p->nulls[p->n];
	return b;
}

void store_param_i64_or_null(struct db_params *p, const int64_t *v)
{
	MYSQL_BIND *b = dbp_next(p);
	if (b == NULL)
		return;
	p->ints[p->n] = v != NULL ? *v : 0;
	p->nulls[p->n] = v == NULL;
	b->buffer_type = MYSQL_TYPE_LONGLONG;
	b->buffer = &p->ints[p->n];
	p->n++;
}

void store_param_i64(struct db_params *p, int64_t v)
{
	store_param_i64_or_null(p, &v);
}

static void dbp_bytes(struct db_params *p, const void *data, size_t len, enum enum_field_types type)
{
	MYSQL_BIND *b = dbp_next(p);
	if (b == NULL)
		return;
	p->lens[p->n] = data != NULL ? (unsigned long)len : 0;
	p->nulls[p->n] = data == NULL;
	b->buffer_type = type;
	b->buffer = (void *)data;
	b->buffer_length = p->lens[p->n];
	b->length = &p->lens[p->n];
	p->n++;
}

void store_param_text(struct db_params *p, const char *s, size_t len)
{
	dbp_bytes(p, s, len, MYSQL_TYPE_STRING);
}

void store_param_str(struct db_params *p, const char *s)
{
	dbp_bytes(p, s, s != NULL ? strlen(s) : 0, MYSQL_TYPE_STRING);
}

void store_param_blob(struct db_params *p, const void *data, size_t len)
{
	dbp_bytes(p, data, len, MYSQL_TYPE_BLOB);
}

int store_params_vformat(struct db_params *p, const char *fmt, va_list ap)
{
	store_params_init(p);
	for (const char *f = fmt; *f != '\0'; f++) {
		if (*f == 'i') {
			store_param_i64(p, va_arg(ap, int64_t));
		} else if (*f == 'I') {
			store_param_i64_or_null(p, va_arg(ap, const int64_t *));
		} else if (*f == 's') {
			store_param_str(p, va_arg(ap, const char *));
		} else if (*f == 'b') {
			const char *data = va_arg(ap, const char *);
			store_param_blob(p, data, va_arg(ap, size_t));
		} else {
			return -1;
		}
	}
	return p->overflow ? -1 : p->n;
}
