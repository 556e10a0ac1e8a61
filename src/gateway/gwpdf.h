/* gwpdf.h: the pages of a document a gateway request carries (docs/
 * gateway.md, "Documents are held by their pages"). The providers bill a
 * PDF per page (an image of the page and its text), not per byte, so the
 * hold counts its pages; this module reads that count from the PDF's
 * page tree, in bytes a client sent: it never reads past its buffer,
 * never trusts one figure the file gives, and says "uncountable" wherever
 * a provider's reader could find more pages than it can see.
 *
 * Pure: no I/O, no clock; memory it takes is freed before it returns. */
#ifndef CREDITD_GWPDF_H
#define CREDITD_GWPDF_H
#include <stddef.h>
#include <stdint.h>

/* What a document's data is, for the input bound. */
enum gwpdf_kind {
	GWPDF_TEXT = 0,		/* a text media type: its bytes bound its tokens */
	GWPDF_COUNTED,		/* a PDF whose pages were counted */
	GWPDF_UNCOUNTABLE	/* anything else: held at the model's max_input_tokens */
};

/* The pages of the PDF in pdf (n bytes): GWPDF_COUNTED with *pages >= 1,
 * or GWPDF_UNCOUNTABLE (*pages 0). Counted: the most of the references
 * in every /Kids array (each a node of the page tree, so no tree holds
 * more leaves than those when no node is listed twice), the /Type /Page
 * dictionaries, and the largest /Count of a /Type /Pages object. Names
 * are read with their #xx escapes. Uncountable: no "%PDF-" in the first
 * 1,024 bytes or no "%%EOF" in the last 1,024 (not a PDF, or cut short);
 * /Encrypt; an object stream (/ObjStm: the page tree may be compressed
 * inside); a /Kids that is not an array of references, or one node listed
 * twice (by two parents, or twice by one); a /Count that is not an
 * integer (a real, a reference, nothing); a comment inside a /Kids or
 * before its array or a /Count's value (to the provider's reader it may
 * sit in a string, and hide what follows it); no page found; more than
 * LIMIT_GATEWAY_PDF_PAGES references, or a count past it (held at
 * max_input_tokens all the same); out of memory. */
enum gwpdf_kind gwpdf_pages(const unsigned char *pdf, size_t n, int64_t *pages);

/* Base64 text (n bytes; whitespace between its characters skipped) as a
 * PDF's bytes, counted as gwpdf_pages does; text that is not base64 is
 * GWPDF_UNCOUNTABLE. */
enum gwpdf_kind gwpdf_pages_base64(const char *b64, size_t n, int64_t *pages);

/* A part's file data as the providers take it (n bytes): a data URL
 * ("data:MEDIA[;PARAMS],DATA") or bare base64. A text media type
 * ("text/...") is GWPDF_TEXT; base64 data of any other type (or bare) is
 * counted by gwpdf_pages_base64; a data URL that is not base64 and not
 * text is GWPDF_UNCOUNTABLE. */
enum gwpdf_kind gwpdf_file_data(const char *data, size_t n, int64_t *pages);

#endif
