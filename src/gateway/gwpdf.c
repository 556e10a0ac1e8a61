/* gwpdf.c: a document's pages, read from its PDF page tree (gwpdf.h,
 * docs/gateway.md "Documents are held by their pages").
 *
 * Owns: the base64 and data URL a part carries its file in, and the page
 * count of the PDF inside, as an upper bound.
 *
 * Never: reads past its buffer (every step checks its index against n),
 * trusts a single figure of the file (a /Count may lie: the references
 * the tree lists bound it too), follows a reference, inflates a stream,
 * or keeps memory past a call.
 *
 * Why: the hold is the worst case of what the provider bills, and a PDF
 * of a hundred pages fits in a few KB. The file is the client's: where
 * a provider's reader could find pages this reader cannot see (the tree
 * compressed in an object stream, encrypted, cut short), the document is
 * uncountable and the caller holds it at the model's max_input_tokens.
 *
 * How: one pass over the bytes, a token at a time only where it matters:
 * every name ("/Kids", "/Type", "/Count", with #xx escapes decoded),
 * every "N G obj" (the object a /Kids belongs to). Names inside strings,
 * comments and streams are read too: that only counts more. Each byte is
 * looked at a bounded number of times (a lookahead reads at most two
 * tokens past a name, and a /Kids array is read once). */
#include "gwpdf.h"
#include "limits.h"
#include "urlpath.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Acrobat reads a header in the first 1,024 bytes, an end in the last. */
#define GWPDF_EDGE_BYTES 1024
/* A name longer than this is none of those read here. */
#define GWPDF_NAME_BYTES 16
/* What a /Count may say before it is "very many" (any page total past
 * LIMIT_GATEWAY_PDF_PAGES is held as uncountable). */
#define GWPDF_COUNT_MAX 1000000000LL

/* A page-tree reference: the node listed, and the object (its number and
 * which definition of it, in the file's order) whose /Kids listed it. */
struct kid {
	int64_t num, gen, parent, parent_gen, def;
};

struct scan {
	const unsigned char *b;
	size_t n;
	int bad;			/* uncountable */
	int64_t obj, obj_gen, def;	/* the object being read: its number (-1: none yet) and generation;
					 * the definitions seen so far */
	int obj_pages;			/* it said /Type /Pages */
	int64_t obj_count;		/* its largest /Count (-1: none) */
	int64_t count;			/* the largest /Count of a /Pages object */
	int64_t page_dicts;		/* /Type /Page seen */
	struct kid *kids;
	size_t nkids, capkids;
};

static int is_ws(unsigned char c)
{
	return c == 0 || c == 9 || c == 10 || c == 12 || c == 13 || c == 32;
}

static int is_delim(unsigned char c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == '{' || c == '}' || c == '/' ||
	       c == '%';
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* Past whitespace from i. Not past a comment: what looks like one to
 * this reader may be inside a string or a stream for the provider's, and
 * a lookahead that skipped it could step over objects (a /Kids array is
 * read through and the scan goes on after it). A comment where a value is
 * read makes the PDF uncountable; writers put none there. */
static size_t skip(const struct scan *s, size_t i)
{
	while (i < s->n && is_ws(s->b[i]))
		i++;
	return i;
}

/* The name at i (s->b[i] == '/'), decoded into out (NUL-terminated; ""
 * when longer than GWPDF_NAME_BYTES - 1). Returns the index past it. */
static size_t name_at(const struct scan *s, size_t i, char *out)
{
	size_t len = 0, j = i + 1;
	int too_long = 0;

	while (j < s->n && !is_ws(s->b[j]) && !is_delim(s->b[j])) {
		unsigned char c = s->b[j];
		int escaped = c == '#' && j + 2 < s->n;
		int hi = escaped ? urlpath_hex_value((char)s->b[j + 1]) : -1;
		int lo = escaped ? urlpath_hex_value((char)s->b[j + 2]) : -1;
		if (hi >= 0 && lo >= 0) {
			c = (unsigned char)(hi * 16 + lo);
			j += 3;
		} else {
			j++;
		}
		if (len + 1 < GWPDF_NAME_BYTES)
			out[len++] = (char)c;
		else
			too_long = 1;
	}
	out[too_long ? 0 : len] = '\0';
	return j;
}

/* An unsigned integer at i (digits only, saturated at GWPDF_COUNT_MAX)
 * into *v: the index past it, or i when there is none. */
static size_t uint_at(const struct scan *s, size_t i, int64_t *v)
{
	size_t j = i;

	*v = 0;
	while (j < s->n && is_digit(s->b[j])) {
		*v = *v >= GWPDF_COUNT_MAX ? GWPDF_COUNT_MAX : *v * 10 + (s->b[j] - '0');
		j++;
	}
	return j;
}

/* The token at i ends there (a delimiter, whitespace or the buffer's end). */
static int ends_at(const struct scan *s, size_t i)
{
	return i >= s->n || is_ws(s->b[i]) || is_delim(s->b[i]);
}

/* The object read so far is done: a /Pages object's /Count counts. */
static void end_object(struct scan *s)
{
	if (s->obj_pages && s->obj_count > s->count)
		s->count = s->obj_count;
	s->obj_pages = 0;
	s->obj_count = -1;
}

/* The digits that end just before k, read backwards (at most 10: an
 * object number is under 2^23 in every reader): the index of the first,
 * or k when there are none or too many (then not an object's header). */
static size_t digits_before(const struct scan *s, size_t k, int64_t *v)
{
	size_t j = k;
	int64_t scale = 1;

	*v = 0;
	while (j > 0 && is_digit(s->b[j - 1]) && k - j < 10) {
		*v += (s->b[j - 1] - '0') * scale;
		scale *= 10;
		j--;
	}
	return j > 0 && is_digit(s->b[j - 1]) ? k : j;
}

/* "obj" at i, a token of its own: an object begins. Its number and
 * generation are the "N G" before it; where they cannot be read (a
 * comment between them, a number too long) it is an object no other is
 * (-1 - its definition's index), so that a node it lists and another
 * lists too is found listed twice: a provider's reader may see a header
 * this one does not. */
static void object_at(struct scan *s, size_t i)
{
	size_t k = i, d;
	int64_t num = -1, gen = 0;

	if ((k > 0 && !is_ws(s->b[k - 1]) && !is_delim(s->b[k - 1])) || !ends_at(s, i + 3))
		return;
	end_object(s);
	s->def++;
	s->obj = -1 - s->def;
	s->obj_gen = 0;
	while (k > 0 && is_ws(s->b[k - 1]))
		k--;
	d = digits_before(s, k, &gen);
	if (d == k || d == 0 || !is_ws(s->b[d - 1]))
		return;
	for (k = d; k > 0 && is_ws(s->b[k - 1]);)
		k--;
	d = digits_before(s, k, &num);
	if (d == k || (d > 0 && !is_ws(s->b[d - 1]) && !is_delim(s->b[d - 1])))
		return;
	s->obj = num;
	s->obj_gen = gen;
}

static int add_kid(struct scan *s, int64_t num, int64_t gen)
{
	if (s->nkids >= LIMIT_GATEWAY_PDF_PAGES)
		return -1;
	if (s->nkids == s->capkids) {
		size_t cap = s->capkids == 0 ? 64 : s->capkids * 2;
		struct kid *k = realloc(s->kids, cap * sizeof(*k));
		if (k == NULL)
			return -1;
		s->kids = k;
		s->capkids = cap;
	}
	s->kids[s->nkids++] = (struct kid){ num, gen, s->obj, s->obj_gen, s->def };
	return 0;
}

/* A /Kids array from i (past the name): each "N G R" kept. The index
 * past its "]", with s->bad set when it is anything else. */
static size_t kids_at(struct scan *s, size_t i)
{
	int64_t num, gen;
	size_t j = skip(s, i), k;

	if (j >= s->n || s->b[j] != '[')
		return s->bad = 1, j;
	for (j = skip(s, j + 1); j < s->n && s->b[j] != ']'; j = skip(s, j)) {
		k = uint_at(s, j, &num);
		if (k == j || !ends_at(s, k))
			return s->bad = 1, k;
		j = skip(s, k);
		k = uint_at(s, j, &gen);
		if (k == j || !ends_at(s, k))
			return s->bad = 1, k;
		j = skip(s, k);
		if (j >= s->n || s->b[j] != 'R' || !ends_at(s, j + 1) || add_kid(s, num, gen) != 0)
			return s->bad = 1, j;
		j++;
	}
	if (j >= s->n)
		s->bad = 1;
	return j + 1;
}

/* A /Count from i (past the name): an integer, neither a real nor a
 * reference. A negative one is an outline's (closed items), not pages. */
static size_t count_at(struct scan *s, size_t i)
{
	int64_t v, gen;
	size_t j = skip(s, i), k;
	int minus = j < s->n && s->b[j] == '-';

	if (j < s->n && (s->b[j] == '-' || s->b[j] == '+'))
		j++;
	k = uint_at(s, j, &v);
	if (k == j || !ends_at(s, k) || (k < s->n && s->b[k] == '.'))
		return s->bad = 1, k;
	/* "N G R": the count is elsewhere. */
	j = skip(s, k);
	if (uint_at(s, j, &gen) != j) {
		size_t r = skip(s, uint_at(s, j, &gen));
		if (r < s->n && s->b[r] == 'R' && ends_at(s, r + 1))
			return s->bad = 1, r;
	}
	if (!minus && v > s->obj_count)
		s->obj_count = v;
	return k;
}

/* The name at i and what follows it where it matters. */
static size_t name_seen(struct scan *s, size_t i)
{
	char name[GWPDF_NAME_BYTES], value[GWPDF_NAME_BYTES];
	size_t j = name_at(s, i, name), k;

	if (strcmp(name, "Encrypt") == 0 || strcmp(name, "ObjStm") == 0) {
		s->bad = 1;
	} else if (strcmp(name, "Kids") == 0) {
		return kids_at(s, j);
	} else if (strcmp(name, "Count") == 0) {
		return count_at(s, j);
	} else if (strcmp(name, "Type") == 0) {
		k = skip(s, j);
		if (k < s->n && s->b[k] == '/') {
			(void)name_at(s, k, value);
			s->page_dicts += strcmp(value, "Page") == 0;
			s->obj_pages |= strcmp(value, "Pages") == 0;
		}
	}
	return j;
}

static int kid_cmp(const void *a, const void *b)
{
	const struct kid *x = a, *y = b;
	const int64_t xs[] = { x->num, x->gen, x->parent, x->parent_gen, x->def };
	const int64_t ys[] = { y->num, y->gen, y->parent, y->parent_gen, y->def };

	for (size_t i = 0; i < 5; i++)
		if (xs[i] != ys[i])
			return xs[i] < ys[i] ? -1 : 1;
	return 0;
}

/* A node listed by two parents, or twice by one definition of a parent,
 * would be walked more than once (its pages counted again): a tree has
 * neither. The same parent defined again (an incremental update) may list
 * it again. */
static int listed_twice(struct scan *s)
{
	if (s->nkids < 2)
		return 0;
	qsort(s->kids, s->nkids, sizeof(*s->kids), kid_cmp);
	for (size_t i = 1; i < s->nkids; i++) {
		const struct kid *a = &s->kids[i - 1], *b = &s->kids[i];
		if (a->num == b->num && a->gen == b->gen &&
		    (a->parent != b->parent || a->parent_gen != b->parent_gen || a->def == b->def))
			return 1;
	}
	return 0;
}

static int has_at(const unsigned char *b, size_t n, size_t from, size_t to, const char *what)
{
	size_t w = strlen(what);

	for (size_t i = from; i + w <= to && i + w <= n; i++)
		if (memcmp(b + i, what, w) == 0)
			return 1;
	return 0;
}

enum gwpdf_kind gwpdf_pages(const unsigned char *pdf, size_t n, int64_t *pages)
{
	struct scan s = { .b = pdf, .n = n, .obj = -1, .obj_count = -1 };
	int64_t most;

	*pages = 0;
	if (pdf == NULL || !has_at(pdf, n, 0, GWPDF_EDGE_BYTES, "%PDF-") ||
	    !has_at(pdf, n, n > GWPDF_EDGE_BYTES ? n - GWPDF_EDGE_BYTES : 0, n, "%%EOF"))
		return GWPDF_UNCOUNTABLE;
	for (size_t i = 0; i < n && !s.bad;) {
		if (pdf[i] == '/') {
			i = name_seen(&s, i);
		} else {
			if (pdf[i] == 'o' && i + 3 <= n && memcmp(pdf + i, "obj", 3) == 0)
				object_at(&s, i);
			i++;
		}
	}
	end_object(&s);
	if (!s.bad)
		s.bad = listed_twice(&s);
	free(s.kids);
	most = s.count > s.page_dicts ? s.count : s.page_dicts;
	most = (int64_t)s.nkids > most ? (int64_t)s.nkids : most;
	if (s.bad || most <= 0 || most > LIMIT_GATEWAY_PDF_PAGES)
		return GWPDF_UNCOUNTABLE;
	*pages = most;
	return GWPDF_COUNTED;
}

static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Decodes b64 into out (room for n / 4 * 3 + 3 bytes): its length, or -1
 * when it is not base64 (a foreign character, data past "=", a lone
 * sixth-bit character at the end). */
static int64_t b64_decode(const char *b64, size_t n, unsigned char *out)
{
	uint32_t acc = 0;
	int bits = 0, ended = 0;
	int64_t len = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)b64[i];
		int v = b64_value(c);
		if (is_ws(c) && c != 0)
			continue;
		if (c == '=') {
			ended = 1;
			continue;
		}
		if (v < 0 || ended)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return bits >= 6 ? -1 : len;
}

enum gwpdf_kind gwpdf_pages_base64(const char *b64, size_t n, int64_t *pages)
{
	unsigned char *buf;
	int64_t len;
	enum gwpdf_kind kind = GWPDF_UNCOUNTABLE;

	*pages = 0;
	if (b64 == NULL || n > SIZE_MAX / 3 - 4)
		return GWPDF_UNCOUNTABLE;
	buf = malloc(n / 4 * 3 + 3);
	if (buf == NULL)
		return GWPDF_UNCOUNTABLE;
	len = b64_decode(b64, n, buf);
	if (len >= 0)
		kind = gwpdf_pages(buf, (size_t)len, pages);
	free(buf);
	return kind;
}

enum gwpdf_kind gwpdf_file_data(const char *data, size_t n, int64_t *pages)
{
	const char *comma, *semi;
	int base64 = 0;

	*pages = 0;
	if (data == NULL)
		return GWPDF_UNCOUNTABLE;
	if (n < 5 || strncasecmp(data, "data:", 5) != 0)
		return gwpdf_pages_base64(data, n, pages);
	comma = memchr(data, ',', n);
	if (comma == NULL)
		return GWPDF_UNCOUNTABLE;
	/* "data:text/plain;charset=utf-8;base64,": text whatever its coding
	 * (base64 is more bytes than the text it spells). */
	if ((size_t)(comma - data) >= 10 && strncasecmp(data + 5, "text/", 5) == 0)
		return GWPDF_TEXT;
	for (semi = memchr(data, ';', (size_t)(comma - data)); semi != NULL;
	     semi = memchr(semi + 1, ';', (size_t)(comma - semi - 1)))
		if (comma - semi - 1 == 6 && strncasecmp(semi + 1, "base64", 6) == 0)
			base64 = 1;
	if (!base64)
		return GWPDF_UNCOUNTABLE;
	return gwpdf_pages_base64(comma + 1, n - (size_t)(comma + 1 - data), pages);
}
