/* test_gwpdf.c: unit tests for src/gateway/gwpdf.c, and for the input
 * bound gwshape_read gives the documents it finds (docs/gateway.md,
 * "Documents are held by their pages").
 *
 * Owns the checks of a PDF's page count on PDFs built here: one page, a
 * hundred in a few KB (the size a reviewer sent), a /Count that lies,
 * incremental updates, names spelled with #xx escapes; and of what is
 * uncountable: cut short, garbage, encrypted, an object stream, a node
 * listed twice, a /Kids or /Count that is not what a tree has, too many
 * references. Every prefix of a PDF is read from a buffer of its exact
 * size (run under ASan by ./dev fuzz's target, fuzz_gwpdf.c). No network,
 * no clock. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gwpdf.h"
#include "gwshape.h"
#include "unit/gateway/gwroutes.h"
#include "limits.h"
#include "tap.h"

/* A growing text (the tests' PDFs and bodies). */
struct text {
	char *s;
	size_t n, cap;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int len;

	for (;;) {
		va_start(ap, fmt);
		len = vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
		va_end(ap);
		if (len >= 0 && (size_t)len < t->cap - t->n)
			break;
		t->cap = t->cap * 2 + (size_t)len + 64;
		t->s = realloc(t->s, t->cap);
		if (t->s == NULL)
			abort();
	}
	t->n += (size_t)len;
}

static struct text empty(void)
{
	struct text t = { malloc(64), 0, 64 };
	t.s[0] = '\0';
	return t;
}

/* A PDF of pages pages: catalog 1, page tree 2 (its /Count count), pages
 * 3.. (each with a line of text), an xref table and trailer. */
static struct text pdf_of(int pages, int count)
{
	struct text t = empty();

	add(&t, "%%PDF-1.4\n%%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
	add(&t, "2 0 obj\n<< /Type /Pages /Count %d /Kids [", count);
	for (int i = 0; i < pages; i++)
		add(&t, "%d 0 R ", 3 + i);
	add(&t, "] >>\nendobj\n");
	for (int i = 0; i < pages; i++)
		add(&t, "%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\nendobj\n", 3 + i);
	add(&t, "xref\n0 %d\n0000000000 65535 f \ntrailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n9\n%%%%EOF\n",
	    pages + 3, pages + 3);
	return t;
}

static enum gwpdf_kind count_of(const char *pdf, size_t n, int64_t *pages)
{
	unsigned char *copy = malloc(n > 0 ? n : 1);
	memcpy(copy, pdf, n);
	enum gwpdf_kind kind = gwpdf_pages(copy, n, pages);
	free(copy);
	return kind;
}

static void counted(const char *pdf, int64_t want, const char *what)
{
	int64_t pages = -1;
	is_int(count_of(pdf, strlen(pdf), &pages), GWPDF_COUNTED, "%s: counted", what);
	is_int(pages, want, "%s: %lld pages", what, (long long)want);
}

static void uncountable(const char *pdf, const char *what)
{
	int64_t pages = -1;
	is_int(count_of(pdf, strlen(pdf), &pages), GWPDF_UNCOUNTABLE, "%s: uncountable", what);
	is_int(pages, 0, "%s: no pages said", what);
}

static const char HEAD[] = "%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n";
static const char TAIL[] = "trailer << /Root 1 0 R >>\n%%EOF\n";

/* HEAD, middle, TAIL as one PDF (static storage: one at a time). */
static const char *wrap(const char *middle)
{
	static char buf[4096];
	snprintf(buf, sizeof(buf), "%s%s%s", HEAD, middle, TAIL);
	return buf;
}

static void test_counts(void)
{
	struct text one = pdf_of(1, 1), hundred = pdf_of(100, 100), liar = pdf_of(100, 1), over = pdf_of(2, 7);

	counted(one.s, 1, "a one-page PDF");
	counted(hundred.s, 100, "a hundred pages");
	ok(hundred.n < 12000, "a hundred pages in %zu bytes", hundred.n);
	counted(liar.s, 100, "a /Count of 1 over 100 references: the references");
	counted(over.s, 7, "a /Count above the references: the /Count");
	counted(wrap("2 0 obj << /Type /Pages /Count 3 /Kids [3 0 R 4 0 R 5 0 R] >> endobj\n"
		     "3 0 obj << /Type /Page >> endobj 4 0 obj << /Type /Page >> endobj 5 0 obj << /Type /Page >> endobj\n"
		     "6 0 obj << /Type /Outlines /Count -12 >> endobj\n"),
		3, "an outline's negative /Count is not pages");
	counted(wrap("2 0 obj << /Type /Pages /Count 2 /K#69ds [3 0 R 4 0 R 5 0 R 6 0 R] >> endobj\n"),
		4, "/K#69ds is /Kids");
	counted(wrap("2 0 obj << /Type /Pages /Kids [3 0 R] >> endobj 3 0 obj << /Type /P#61ge >> endobj\n"
		     "7 0 obj << /Type /Page >> endobj 8 0 obj << /Type/Page >> endobj\n"),
		3, "/Type /Page dictionaries beyond the references count");
	counted(wrap("2 0 obj << /Type /Pages /Count 5 /Kids [3 0 R 9 0 R] >> endobj\n"
		     "9 0 obj << /Type /Pages /Count 4 /Parent 2 0 R /Kids [4 0 R 5 0 R 6 0 R 7 0 R] >> endobj\n"),
		6, "a tree two deep: every reference");
	/* An incremental update defines the tree again, with the same kids. */
	counted(wrap("2 0 obj << /Type /Pages /Count 2 /Kids [3 0 R 4 0 R] >> endobj\n"
		     "2 0 obj << /Type /Pages /Count 3 /Kids [3 0 R 4 0 R 5 0 R] >> endobj\n"),
		5, "an update listing the kids again: counted, more");
	counted(wrap("2 0 obj << /Type /Pages /Count 1 % a comment\n /Kids\r\n[\t3\n0 R ] >> endobj\n"),
		1, "whitespace between the tokens, a comment after them");
	free(one.s);
	free(hundred.s);
	free(liar.s);
	free(over.s);
}

static void test_uncountable(void)
{
	struct text hundred = pdf_of(100, 100);
	int64_t pages;

	uncountable("", "nothing");
	uncountable("hello, world: no PDF here %%EOF", "garbage");
	uncountable(wrap(""), "a PDF with no page tree");
	is_int(count_of(hundred.s, hundred.n / 2, &pages), GWPDF_UNCOUNTABLE, "cut in half: uncountable");
	is_int(count_of(hundred.s, hundred.n - 8, &pages), GWPDF_UNCOUNTABLE, "cut before its %%%%EOF: uncountable");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 3 /Kids [3 0 R] >> endobj\n"
			 "9 0 obj << /Type /ObjStm /N 3 /First 20 /Length 99 /Filter /FlateDecode >> stream\nxxxx\nendstream endobj\n"),
		    "an object stream (the tree may be in it)");
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [3 0 R] >> endobj 9 0 obj << /Type /Obj#53tm >> endobj\n"),
		    "/Obj#53tm is an object stream");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 1 /Kids [3 0 R] >> endobj 5 0 obj << /Filter /Standard >> endobj\n"
			 "trailer << /Encrypt 5 0 R >>\n"),
		    "encrypted");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 1 /Kids [3 0 R 3 0 R 3 0 R] >> endobj\n"),
		    "one page listed three times in one /Kids");
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [8 0 R 9 0 R] >> endobj\n"
			 "8 0 obj << /Type /Pages /Kids [4 0 R] >> endobj 9 0 obj << /Type /Pages /Kids [4 0 R] >> endobj\n"),
		    "one node listed by two parents");
	/* To a reader that takes the comment, "9 0 obj" is a header: 4 has
	 * two parents (8 and 9), not one defined twice. */
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [8 0 R 9 0 R] >> endobj\n"
			 "8 0 obj << /Type /Pages /Kids [4 0 R] >> endobj 8 0 obj << /Type /Pages >> endobj\n"
			 "9 0 % the header goes on\nobj << /Type /Pages /Kids [4 0 R] >> endobj\n"),
		    "a header this reader cannot read lists a node again");
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [8 0 R 8 1 R] >> endobj\n"
			 "8 0 obj << /Type /Pages /Kids [4 0 R] >> endobj 8 1 obj << /Type /Pages /Kids [4 0 R] >> endobj\n"),
		    "two parents of one number and two generations");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 2 /Kids 7 0 R >> endobj 7 0 obj [3 0 R 4 0 R] endobj\n"),
		    "a /Kids that is a reference");
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [3 0 R << /Type /Page >>] >> endobj\n"), "a /Kids with a dictionary");
	uncountable(wrap("2 0 obj << /Type /Pages /Kids [3 0 R 4 0"), "a /Kids never closed");
	/* To the provider the % may be in a string: what follows on its line
	 * may be an object (here 4, with two pages) a comment would hide. */
	uncountable(wrap("(/Kids [3 0 R %) 4 0 obj << /Type /Pages /Kids [5 0 R 6 0 R] >> endobj\n]\n"),
		    "a comment inside a /Kids");
	uncountable(wrap("(/Kids %) 4 0 obj << /Type /Pages /Kids [5 0 R 6 0 R] >> endobj\n[3 0 R]\n"),
		    "a comment before a /Kids' array");
	uncountable(wrap("2 0 obj << /Type /Pages /Count % two\n 2 /Kids [3 0 R] >> endobj\n"), "a comment before a /Count");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 7 0 R /Kids [3 0 R] >> endobj\n"), "a /Count that is a reference");
	uncountable(wrap("2 0 obj << /Type /Pages /Count 2.5 /Kids [3 0 R] >> endobj\n"), "a /Count that is a real");
	uncountable(wrap("2 0 obj << /Type /Pages /Count /Many /Kids [3 0 R] >> endobj\n"), "a /Count that is a name");
	free(hundred.s);
}

static void test_too_many(void)
{
	struct text t = empty();
	int64_t pages;

	add(&t, "%%PDF-1.4\n2 0 obj << /Type /Pages /Kids [");
	for (int i = 0; i <= LIMIT_GATEWAY_PDF_PAGES; i++)
		add(&t, "%d 0 R ", 3 + i);
	add(&t, "] >> endobj\n%%%%EOF\n");
	is_int(count_of(t.s, t.n, &pages), GWPDF_UNCOUNTABLE, "more than LIMIT_GATEWAY_PDF_PAGES references: uncountable");
	free(t.s);
}

/* Every prefix of a PDF, each from a buffer of its exact size. */
static void test_prefixes(void)
{
	struct text t = pdf_of(3, 3);
	int64_t pages;
	int counted_prefixes = 0;

	for (size_t n = 0; n <= t.n; n++)
		counted_prefixes += count_of(t.s, n, &pages) == GWPDF_COUNTED;
	ok(counted_prefixes >= 1 && counted_prefixes <= 3, "only prefixes with the %%%%EOF count (%d)", counted_prefixes);
	free(t.s);
}

static char *base64_of(const char *s, size_t n)
{
	static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(n / 3 * 4 + 5);
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)(unsigned char)s[i] << 16;
		v |= i + 1 < n ? (uint32_t)(unsigned char)s[i + 1] << 8 : 0;
		v |= i + 2 < n ? (uint32_t)(unsigned char)s[i + 2] : 0;
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = i + 1 < n ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
	return out;
}

static void test_encodings(void)
{
	struct text pdf = pdf_of(100, 100), url = empty();
	char *b64 = base64_of(pdf.s, pdf.n);
	int64_t pages;

	is_int(gwpdf_pages_base64(b64, strlen(b64), &pages), GWPDF_COUNTED, "base64: counted");
	is_int(pages, 100, "base64: 100 pages");
	add(&url, "data:application/pdf;base64,%s", b64);
	is_int(gwpdf_file_data(url.s, url.n, &pages), GWPDF_COUNTED, "a data URL: counted");
	is_int(pages, 100, "a data URL: 100 pages");
	is_int(gwpdf_file_data(b64, strlen(b64), &pages), GWPDF_COUNTED, "bare base64 file data: counted");
	is_int(gwpdf_pages_base64("JVBERi0*", 8, &pages), GWPDF_UNCOUNTABLE, "not base64: uncountable");
	is_int(gwpdf_pages_base64("JVBERi0=xx", 10, &pages), GWPDF_UNCOUNTABLE, "data past '=': uncountable");
	is_int(gwpdf_file_data("data:text/plain;base64,aGVsbG8=", 31, &pages), GWPDF_TEXT, "a text data URL: its bytes");
	is_int(gwpdf_file_data("data:application/pdf,%25PDF", 27, &pages), GWPDF_UNCOUNTABLE, "not base64 nor text");
	is_int(gwpdf_file_data("data:application/pdf;base64", 27, &pages), GWPDF_UNCOUNTABLE, "no data");
	is_int(gwpdf_file_data("data:application/vnd.ms-word;base64,aGVsbG8=", 44, &pages), GWPDF_UNCOUNTABLE,
	       "another document type: uncountable");
	free(b64);
	free(url.s);
	free(pdf.s);
}

/* ---- what gwshape_read holds -------------------------------------------- */

static struct gw_ask ask_of(const struct gwkind_route *r, const char *body)
{
	struct gw_ask ask;
	char err[256];
	if (gwshape_read(r, body, strlen(body), &ask, err, sizeof(err), NULL) != 0) {
		printf("# %s\n", err);
		ask.input_bound = -1;
	}
	return ask;
}

static void test_bound(void)
{
	struct text pdf = pdf_of(100, 100), body = empty();
	char *b64 = base64_of(pdf.s, pdf.n);
	const int64_t P = LIMIT_GATEWAY_PAGE_TOKENS, data = (int64_t)strlen(b64);
	struct gw_ask a;

	add(&body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		   "\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"%s\"}},"
		   "{\"type\":\"text\",\"text\":\"Summarise.\"}]}]}", b64);
	a = ask_of(R_MESSAGES, body.s);
	is_int(a.doc_pages, 100, "messages: 100 pages");
	is_int(a.input_bound, (int64_t)body.n - data + 100 * P, "messages: the body less the data, plus 100 pages");
	is_int(a.doc_tokens, 100 * P, "messages: the pages' tokens apart");
	ok(a.doc_uncounted == NULL, "messages: nothing uncounted");
	body.n = 0;
	add(&body, "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{"
		   "\"filename\":\"a.pdf\",\"file_data\":\"data:application/pdf;base64,%s\"}}]}]}", b64);
	a = ask_of(R_CHAT, body.s);
	is_int(a.input_bound, (int64_t)body.n - data - 28 + 100 * P, "chat: the body less the file data, plus 100 pages");
	body.n = 0;
	add(&body, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"filename\":"
		   "\"a.pdf\",\"file_data\":\"data:application/pdf;base64,%s\"},{\"type\":\"input_file\",\"file_data\":"
		   "\"data:application/pdf;base64,%s\"}]}]}", b64, b64);
	a = ask_of(R_RESPONSES, body.s);
	is_int(a.doc_pages, 200, "responses: two documents, their pages summed");
	body.n = 0;
	add(&body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		   "\"document\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"%s\"}}]}]}", b64);
	a = ask_of(R_MESSAGES, body.s);
	is_int(a.input_bound, (int64_t)body.n, "a text document: its bytes");
	ok(a.doc_pages == 0 && a.doc_tokens == 0 && a.doc_uncounted == NULL, "a text document: no pages");
	body.n = 0;
	add(&body, "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":64,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
		   "\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"aGVsbG8=\"}}]}]}");
	a = ask_of(R_MESSAGES, body.s);
	is_str(a.doc_uncounted, "source", "not a PDF: uncounted, named");
	is_int(a.input_bound, (int64_t)body.n, "not a PDF: its bytes (api_gateway holds it at max_input_tokens)");
	body.n = 0;
	add(&body, "{\"model\":\"gpt-4o\",\"input\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_file\",\"file_data\":"
		   "\"data:application/pdf;base64,JVBERi0xLjcK\"}]}]}");
	is_str(ask_of(R_RESPONSES, body.s).doc_uncounted, "file_data", "responses: a cut PDF uncounted, named");
	free(b64);
	free(body.s);
	free(pdf.s);
}

int main(void)
{
	test_counts();
	test_uncountable();
	test_too_many();
	test_prefixes();
	test_encodings();
	test_bound();
	printf("# %d passed, %d failed\n", tap_count - tap_failed, tap_failed);
	return done_testing();
}
