/* test_dynbuf.c: the capped growable buffer grows, stops at its maximum,
 * and stays failed once an append failed. */
#include "dynbuf.h"
#include "tap.h"
#include <stdlib.h>
#include <string.h>

int main(void)
{
	struct dynbuf b;
	dynbuf_init(&b, 10);
	ok(dynbuf_add(&b, "abc", 3) == 0, "an add within the maximum");
	ok(dynbuf_printf(&b, "%d-%s", 42, "x") == 0, "a formatted add");
	is_str(b.data, "abc42-x", "the text so far");
	is_int(b.len, 7, "its length");
	ok(dynbuf_add(&b, "def", 3) == 0, "up to the maximum exactly");
	is_int(b.len, 10, "full");
	ok(dynbuf_add(&b, "g", 1) != 0, "one byte past the maximum is refused");
	ok(b.failed, "and the buffer is failed");
	ok(dynbuf_add(&b, "", 0) != 0, "every later add fails too");
	is_str(b.data, "abc42-xdef", "the text is not cut or changed");
	ok(dynbuf_take(&b) == NULL, "a failed buffer hands out nothing");
	is_int(b.len, 0, "take empties it");
	ok(!b.failed, "and clears failed");

	dynbuf_init(&b, 100000);
	for (int i = 0; i < 1000; i++)
		dynbuf_printf(&b, "%03d,", i);
	is_int(b.len, 4000, "grows by doubling past its first allocation");
	ok(b.cap >= b.len + 1 && b.cap <= 100001, "never past max + 1 (%zu)", b.cap);
	ok(strncmp(b.data + 3996, "999,", 4) == 0, "the last bytes are right");
	char *text = dynbuf_take(&b);
	ok(text != NULL && strlen(text) == 4000, "take hands the text over");
	free(text);

	dynbuf_init(&b, 8);
	ok(dynbuf_printf(&b, "%s", "123456789") != 0, "a formatted add past the maximum is refused");
	ok(b.data == NULL || b.data[0] == '\0', "and wrote nothing");
	dynbuf_reset(&b);
	ok(!b.failed && dynbuf_add(&b, "ok", 2) == 0, "reset makes it usable again");
	is_str(b.data, "ok", "with its new text");
	char *room = dynbuf_room(&b, 3);
	ok(room != NULL, "room for three more");
	memcpy(room, "xyz", 3);
	dynbuf_grew(&b, 3);
	is_str(b.data, "okxyz", "written through dynbuf_room");
	dynbuf_free(&b);
	ok(b.data == NULL && b.len == 0, "free empties it");
	return done_testing();
}
