/* holdid.h: the hold ids the API gives out (docs/decisions.md, "Hold ids":
 * not guessable in sequence): "hold_" and 32 hex digits, the 16 bytes of the
 * hold's account id and row id (big-endian) enciphered with AES-128 under
 * a key kept in the database (settings, sql/044). Nobody without the key
 * can make the id of a hold, nor tell from one id the next; creditd reads
 * both numbers back from the id alone (routing, the holds' lookups).
 *
 * Until a key is set (a unit test; a database before 044) ids are the
 * old "hold_<account>_<hold>", made and read as before. Once it is set,
 * that old form is read only for holds made before 044 (row ids below the
 * one it recorded), so a hold given out before the upgrade still settles. */
#ifndef CREDITD_HOLDID_H
#define CREDITD_HOLDID_H
#include <stddef.h>
#include <stdint.h>

#define HOLDID_KEY_BYTES 16
#define HOLDID_HEX 32			/* hex digits after "hold_" */

/* Sets the key and the first row id made under it (INT64_MAX: the old
 * form is never read). 0, or -1 when the cipher cannot be made. */
int holdid_set_key(const uint8_t key[HOLDID_KEY_BYTES], int64_t opaque_from);
int holdid_ready(void);
/* The id of hold `hold` of account `account` into out (cap bytes). */
void holdid_format(char *out, size_t cap, int64_t account, int64_t hold);
/* 0 and the two numbers when s is a hold id creditd gave out (either
 * form, as above), else -1. */
int holdid_parse(const char *s, int64_t *account, int64_t *hold);
/* The old form's numbers, whatever the key: what creditd's own stored
 * answers carry (an Idempotency-Key's answer stored by the write itself). */
int holdid_parse_plain(const char *s, int64_t *account, int64_t *hold);
#endif
