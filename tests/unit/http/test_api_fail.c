/* test_api_fail.c: the generic answer of a failed ledger call
 * (api_fail) reads as a sentence whether or not the route names its
 * subject: a route that names none says the error's own words, never
 * "(null)" (the account search's 500 once said "(null): internal
 * error"). */
#include "api.h"
#include "tap.h"
#include <string.h>

static const char *message_of(enum cd_err e, const char *what, int *status)
{
	static char out[256];
	struct response rs;
	memset(&rs, 0, sizeof(rs));
	api_fail(&rs, e, what);
	*status = rs.status;
	json_t *err = json_object_get(rs.json, "error");
	const char *m = json_string_value(json_object_get(err, "message"));
	snprintf(out, sizeof(out), "%s", m != NULL ? m : "");
	json_decref(rs.json);
	return out;
}

int main(void)
{
	static const enum cd_err each[] = {CD_E_INTERNAL, CD_E_NOT_FOUND, CD_E_CONFLICT, CD_E_INVALID,
					   CD_E_UNAVAILABLE, CD_E_SUSPENDED};
	for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
		int status;
		const char *m = message_of(each[i], NULL, &status);
		ok(status == errors_row(each[i])->status, "error %zu: status %d", i, status);
		ok(m[0] != '\0' && strstr(m, "(null)") == NULL, "error %zu without a subject: '%s'", i, m);
	}
	int status;
	const char *m = message_of(CD_E_NOT_FOUND, "account", &status);
	is_str(m, "account not found", "a subject is named");
	m = message_of(CD_E_INTERNAL, NULL, &status);
	is_str(m, errors_row(CD_E_INTERNAL)->text, "no subject: the error's own words");
	return done_testing();
}
