/* fuzz_mail.c: libFuzzer target for the alert mail's builder (mail_build.c)
 * and the address check (mailaddr.c): any bytes as an address, an account
 * id and an event's data. A crash, a leak or undefined behaviour is a bug;
 * so is a message with a bare CR or LF, a line over 998 bytes (RFC 5322),
 * or an address taken that holds a space, a CR or an LF. */
#include "mail_build.h"
#include "mailaddr.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 1 when every line ends CRLF and none is longer than 998 bytes. */
static int lines_ok(const char *m)
{
	size_t col = 0;
	for (const char *s = m; *s != '\0'; s++) {
		if ((*s == '\n' && (s == m || s[-1] != '\r')) || (*s == '\r' && s[1] != '\n'))
			return 0;
		col = *s == '\n' || *s == '\r' ? 0 : col + 1;
		if (col > 998)
			return 0;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 65536)
		return 0;
	/* Three NUL-separated pieces: an address, an account id, the data. */
	char *buf = malloc(size + 3);
	if (buf == NULL)
		return 0;
	memcpy(buf, data, size);
	buf[size] = buf[size + 1] = buf[size + 2] = '\0';
	const char *addr = buf, *account = addr + strlen(addr) + 1;
	if (account > buf + size)
		account = buf + size + 1;
	const char *json = account + strlen(account) + 1;
	if (json > buf + size + 1)
		json = buf + size + 2;
	if (mailaddr_ok(addr) && strpbrk(addr, " \r\n\t") != NULL)
		abort();
	struct mail_head h = {"alerts@example.com", mailaddr_ok(addr) ? addr : "a@example.com", size % 2 ? "fr" : "en",
			      "https://app.example/t/{account}", "EUR", (int64_t)size * 86400};
	struct mail_event e = {(int64_t)size, (int64_t)size, size % 3 ? "balance.low" : "other.type", account, json,
			       (int64_t)size * -12345};
	char *m = mail_build(&h, &e);
	if (m != NULL && !lines_ok(m))
		abort();
	free(m);
	free(buf);
	return 0;
}
