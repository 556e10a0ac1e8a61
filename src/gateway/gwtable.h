/* gwtable.h: what the gateway forwards, a table per route (docs/gateway.md,
 * "What the gateway forwards"). Each table classifies every member a
 * request of its route may carry, at every depth the providers' types have
 * one: members, the variants of a union told apart by a member ("type",
 * "role"), the values of an enum, and (Anthropic) the beta header's
 * values. A row is free (changes nothing the provider bills), priced (a
 * dimension the call's price row must price), held at a bound (the output
 * cap, a document, stored input: read by gwshape.c) or refused. A request
 * with anything else is refused before anything is forwarded, held or
 * charged, naming its path.
 *
 * A top-level member's row also says the JSON kinds its type allows and
 * whether the route requires it ("json:array required", docs/gateway.md
 * "What is checked before anything is forwarded"): a JSON body whose
 * member is of another kind, or that lacks a required member, is refused
 * like a member no row names.
 *
 * The tables are data files in the tree (src/gateway/tables/ (one .tsv file a route), built
 * into the binary and read at start); a test holds them to the official
 * SDKs' request types (tests/integration/test_81b_gateway_tables.py).
 *
 * Never: does I/O after gwtable_init, reads the clock, or touches the
 * ledger. A table is read once and only read after. */
#ifndef CREDITD_GWTABLE_H
#define CREDITD_GWTABLE_H
#include <jansson.h>
#include <stddef.h>

struct gwkind_route;
struct gwtable;

enum gwtable_class { GWTABLE_FREE = 0, GWTABLE_PRICED, GWTABLE_BOUND, GWTABLE_REFUSED };

/* What a priced or bound row names (its "priced:NAME", "bound:NAME"): a
 * bit each in struct gwtable_seen.dims. */
#define GWTABLE_DIMS(X) \
	X(TIER, "tier") X(CACHE_1H, "cache_1h") X(AUDIO, "audio") X(WEB_SEARCH, "web_search") \
	X(SPEED, "speed") X(GEO, "geo") X(COMPACTION, "compaction") X(TOOL_MODEL, "tool_model") \
	X(OUTPUT_CAP, "output_cap") X(CHOICES, "choices") X(TOOL_CALLS, "tool_calls") \
	X(DOCUMENT, "document") X(STORED, "stored") X(IMAGES, "images")
#define GWTABLE_DIM_ENUM_(id, name) GWTABLE_DIM_##id,
enum gwtable_dim { GWTABLE_DIM_NONE = 0, GWTABLE_DIMS(GWTABLE_DIM_ENUM_) GWTABLE_DIM_COUNT };
#undef GWTABLE_DIM_ENUM_
_Static_assert(GWTABLE_DIM_COUNT <= 32, "a dimension's bit fits in gwtable_seen.dims");

/* What a walk found: a bit (1u << dim) for each priced or bound
 * dimension a member asked. */
struct gwtable_seen {
	unsigned dims;
};

/* An operator's additions ([gateway] and [provider NAME] free_fields):
 * entries "NAME" (a top-level member and all below it), "type:NAME" (a
 * tool or part type, anywhere, and all below it), "beta:NAME" (a value of
 * the beta header), each forwarded as free. n entries; NULL when none. */
struct gwtable_extra {
	const char *const *entries;
	size_t n;
};

/* A JSON value's kind, a bit each: a top-level row's json: field is a set
 * of them. */
enum gwtable_kind {
	GWTABLE_KIND_STRING = 1 << 0,
	GWTABLE_KIND_NUMBER = 1 << 1,
	GWTABLE_KIND_BOOLEAN = 1 << 2,
	GWTABLE_KIND_ARRAY = 1 << 3,
	GWTABLE_KIND_OBJECT = 1 << 4,
	GWTABLE_KIND_NULL = 1 << 5,
	GWTABLE_KIND_ANY = (1 << 6) - 1
};

/* Reads every route's table. 0, or -1 with a sentence in err (a row of
 * no known class or dimension, a node twice, an alias to nothing): the
 * tables are the build's own, so a failure is a build's bug and creditd
 * does not start. Called once, before any thread. */
int gwtable_init(char *err, size_t errcap);

/* The table of route r; NULL when r has none (a route creditd answers
 * itself). Lives until exit. */
const struct gwtable *gwtable_of(const struct gwkind_route *r);

/* Walks body (a JSON request of t's route) against t: its required
 * members present, each top-level member of a kind its row allows (one an
 * operator's free_fields name excepted), then every member by its row. 0
 * with *seen filled, or -1 with the member's path ("tools[0].type") in
 * param and a sentence in err. extras may be NULL; each list in it adds
 * free entries. */
int gwtable_walk(const struct gwtable *t, const json_t *body, const struct gwtable_extra *extras, size_t nextras,
		 struct gwtable_seen *seen, char *param, size_t paramcap, char *err, size_t errcap);

/* As gwtable_walk, for a multipart form's fields as one JSON object
 * (gwshape_form_json, gwkind_audio_form_json): without the kinds and the
 * required members, since a form's fields are text and its route's reader
 * checks the members it requires. */
int gwtable_walk_form(const struct gwtable *t, const json_t *body, const struct gwtable_extra *extras,
		      size_t nextras, struct gwtable_seen *seen, char *param, size_t paramcap, char *err, size_t errcap);

/* Checks a beta header's value (comma-separated names) against t: 0, or
 * -1 with the refused name in err. */
int gwtable_betas(const struct gwtable *t, const char *header, const struct gwtable_extra *extras, size_t nextras,
		  struct gwtable_seen *seen, char *err, size_t errcap);

/* For the test that holds the tables to the SDKs: resolves a path as
 * tests/integration/test_81b_gateway_tables.py spells it
 * ("messages[]{role=user}.content[]{type=text}.text", "beta:NAME") and
 * marks each row it passes as used. 0 when every step has a row, -1 when
 * not (err says which step). */
int gwtable_resolve(const struct gwtable *t, const char *path, char *err, size_t errcap);
/* The rows no resolve marked: the first's node in *node (NULL: none),
 * their count returned. */
size_t gwtable_unused(const struct gwtable *t, const char **node);
/* For the same test: the json: field of t's top-level row name as
 * written ("array required", "string|null"), NULL when t has no such
 * row. Lives as long as t. */
const char *gwtable_member_json(const struct gwtable *t, const char *name);
/* The table named "openai_chat" (a file's name without .tsv), NULL when
 * none. */
const struct gwtable *gwtable_named(const char *name);

#endif
