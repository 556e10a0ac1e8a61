/* answer_fields.c: what every answer's renderer shares: an optional
 * figure, an optional time, a text that may be null, each as the API has
 * always shown them. */
#include "answer.h"
#include "timefmt.h"

json_t *answer_fields_int(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

json_t *answer_fields_time(int64_t t)
{
	char s[TIMEFMT_LEN];
	if (t < 0)
		return json_null();
	timefmt_rfc3339(t, s);
	return json_string(s);
}

json_t *answer_fields_text(const char *s, int has)
{
	return has ? json_string(s) : json_null();
}
