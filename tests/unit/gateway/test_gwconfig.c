/* test_gwconfig.c: the [provider NAME] sections (docs/gateway.md, "Many
 * providers") as the config loader reads them into
 * the gateway's providers: their keys and checks, the order calls try
 * them, which serve a model (named, renamed, every one, the rest), and
 * §12's [gateway] keys as the providers openai and anthropic. */
#include "config.h"
#include "gwconfig.h"
#include "gwkind.h"
#include "tap.h"
#include "unit/core/config_modules.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct cfg c;
static char err[512];

static int load(const char *text)
{
	config_free(&c);
	err[0] = '\0';
	return config_load_string(text, test_modules, &c, err, sizeof(err));
}

/* The names of the providers serving model on kind, "a,b" in order. */
static const char *serving(const struct gwkind *kind, const char *model)
{
	static char out[256];
	const struct gwconfig_provider *p[16];
	size_t n = gwconfig_candidates(gwconfig_of(&c), kind, model, p, 16);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "", p[i]->name);
	return out;
}

static const struct gwconfig_provider *named(const char *name)
{
	const struct gwconfig *g = gwconfig_of(&c);
	for (size_t i = 0; i < g->nproviders; i++)
		if (strcmp(g->providers[i].name, name) == 0)
			return &g->providers[i];
	return NULL;
}

static const char TWO[] =
	"[gateway]\nopenai_api_key = sk-main\nopenai_organization = org-1\n"
	"[provider groq]\nkind = openai\nbase_url = https://api.groq.com/openai/v1\napi_key = gsk\n"
	"models = llama-3.1-8b=llama-3.1-8b-instant, gpt-4o-mini\n"
	"headers = X-One: 1\nheaders = X-Two: two words\n"
	"[provider lan]\nbase_url = http://10.0.0.20:8000/v1\nallow_http = true\nmodels = *\n"
	"[provider claude2]\nkind = anthropic\nbase_url = https://example.org\nmodels = claude-x\n";

static void sections_become_providers(void)
{
	ok(load(TWO) == 0, "two sections load: %s", err);
	const struct gwconfig *g = gwconfig_of(&c);
	ok(g->nproviders == 5, "§12's two and the three sections (%zu)", g->nproviders);
	ok(strcmp(g->providers[0].name, "openai") == 0 && strcmp(g->providers[1].name, "anthropic") == 0 &&
	   strcmp(g->providers[2].name, "groq") == 0 && strcmp(g->providers[3].name, "lan") == 0,
	   "§12's first, then the sections in file order");
	for (size_t i = 0; i < g->nproviders; i++)
		ok(g->providers[i].index == i, "%s's index is its place", g->providers[i].name);
	const struct gwconfig_provider *q = named("groq");
	ok(q != NULL && q->kind == &gwkind_openai && strcmp(q->api_key, "gsk") == 0 && q->nmodels == 2,
	   "groq: kind, key, two models");
	ok(q != NULL && strcmp(q->headers, "X-One: 1\nX-Two: two words\n") == 0, "each headers line adds one: %s",
	   q != NULL ? q->headers : "-");
	ok(strcmp(named("openai")->headers, "OpenAI-Organization: org-1\n") == 0, "§12's organization is a header line");
	ok(strcmp(gwconfig_upstream_model(q, "llama-3.1-8b"), "llama-3.1-8b-instant") == 0, "a rename");
	ok(strcmp(gwconfig_upstream_model(q, "gpt-4o-mini"), "gpt-4o-mini") == 0, "a name kept");
	ok(named("lan")->allow_http && named("lan")->every, "allow_http and *");
	ok(named("openai")->byok && named("anthropic")->byok, "§12's two take a caller's key ([gateway] byok = on)");
	ok(!named("groq")->byok && !named("lan")->byok, "a section takes none unless it says byok = on (DESIGN §15)");
	ok(load("[gateway]\nbyok = off\n[provider v]\nbase_url = https://v.example/v1\nbyok = on\nmodels = m\n") == 0,
	   "byok = on in a section loads: %s", err);
	ok(named("v")->byok && !named("openai")->byok && !named("anthropic")->byok,
	   "a section's byok is its own; [gateway] byok is §12's two");
	ok(load(TWO) == 0, "reloaded: %s", err);
	ok(gwconfig_of(&c)->max_buffered_per_account_mib == LIMIT_GATEWAY_BUFFERED_PER_ACCOUNT_MIB_DEFAULT,
	   "max_buffered_per_account_mib's default is the one limits_gateway.h gives its reasons for");
	ok(strcmp(serving(&gwkind_openai, "llama-3.1-8b"), "groq,lan") == 0, "a named model: its section, then *: %s",
	   serving(&gwkind_openai, "llama-3.1-8b"));
	ok(strcmp(serving(&gwkind_openai, "gpt-4o"), "openai,lan") == 0, "a model no section names: §12's, then *: %s",
	   serving(&gwkind_openai, "gpt-4o"));
	ok(strcmp(serving(&gwkind_openai, "claude-x"), "lan") == 0,
	   "a model an anthropic section names is not §12 openai's: %s", serving(&gwkind_openai, "claude-x"));
	ok(strcmp(serving(&gwkind_anthropic, "claude-x"), "claude2") == 0, "the anthropic section serves it");
	ok(strcmp(serving(&gwkind_anthropic, "claude-y"), "anthropic") == 0, "§12's anthropic the rest");
	const struct gwconfig_provider *p[16];
	ok(gwconfig_candidates(gwconfig_of(&c), &gwkind_openai, "gpt-4o-mini", p, 1) == 1, "at most cap");
}

static void a_section_replaces_and_reopens(void)
{
	ok(load("[provider openai]\nbase_url = https://proxy.example/v1\napi_key = k1\nmodels = *\n"
		"[provider backup]\nbase_url = https://b.example/v1\napi_key = k2\nmodels = gpt-4o\n"
		"[provider openai]\napi_key = k3\n") == 0, "loads: %s", err);
	const struct gwconfig *g = gwconfig_of(&c);
	ok(g->nproviders == 3, "openai replaced, not doubled (%zu)", g->nproviders);
	ok(strcmp(named("openai")->api_key, "k3") == 0 && strcmp(named("openai")->base_url, "https://proxy.example/v1") == 0,
	   "a section opened again is the same one, the key given again wins");
	ok(!named("openai")->rest, "a section is no longer §12's rest");
	ok(strcmp(serving(&gwkind_openai, "gpt-4o"), "openai,backup") == 0, "fallback from openai to backup: %s",
	   serving(&gwkind_openai, "gpt-4o"));
	ok(strcmp(serving(&gwkind_openai, "o3"), "openai") == 0, "the rest: openai's *");
}

static void refused(const char *text, const char *want, const char *what)
{
	ok(load(text) != 0 && strstr(err, want) != NULL, "%s: %s", what, err);
}

static void bad_sections_are_refused(void)
{
	refused("[provider x]\nbase_url = https://a/v1\n", "models is required", "no models");
	refused("[provider x]\nbase_url = https://a/v1\nbyok = yes\nmodels = a\n", "byok", "byok is on or off");
	refused("[provider x]\nmodels = a\n", "base_url is required", "no base_url");
	refused("[provider x]\nbase_url = http://10.0.0.1/v1\nmodels = a\n", "allow_http", "http off loopback");
	refused("[provider x]\nbase_url = ftp://a/v1\nallow_http = true\nmodels = a\n", "must be https",
		"allow_http is for http only");
	refused("[provider x]\nkind = cohere\nbase_url = https://a\nmodels = a\n", "provider.kind must be",
		"an unknown kind");
	refused("[provider X]\n", "must be 1 to 32", "an upper-case name");
	refused("[provider a b]\n", "must be 1 to 32", "a name with a space");
	refused("[provider 0123456789012345678901234567890123]\n", "must be 1 to 32", "33 bytes");
	refused("[vendor x]\n", "unknown section [vendor x]", "an unknown word");
	refused("[provider x]\nbase_url = https://a\nmodels = a, a=b\n", "names a twice", "a model twice");
	refused("[provider x]\nbase_url = https://a\nmodels = a b\n", "is not NAME", "a space in a name");
	refused("[provider x]\nbase_url = https://a\nmodels = a=\n", "is not NAME", "an empty upstream name");
	refused("[provider x]\nbase_url = https://a\nmodels = a\nheaders = nocolon\n", "one header", "a header without ':'");
	refused("[provider x]\nbase_url = https://a\nmodels = a\ncolour = blue\n", "unknown key 'colour' in [provider x]",
		"an unknown key");
	refused("[provider x]\nbase_url = https://a\nmodels = a, *\n", "* is alone", "* in a list");
	refused("[provider x]\nbase_url = https://a\nmodels = , ,\n", "names no model", "commas alone");
	char many[2048] = "[provider x]\nbase_url = https://a\nmodels = a\n";
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "headers = X-H%d: v\n", i);
	refused(many, "17 lines, at most 16", "17 headers");
	ok(load("[provider x]\nbase_url = http://[::1]:8000/v1\nmodels = a\n") == 0, "loopback http needs no flag: %s", err);
	ok(load("[provider x-1_y]\nbase_url = https://a\nmodels = a, b = c , d\n") == 0 && named("x-1_y")->nmodels == 3 &&
	   strcmp(gwconfig_upstream_model(named("x-1_y"), "b"), "c") == 0, "spaces around names and '=' trimmed: %s", err);
	ok(load("[gateway]\nmax_attempts = 0\n") != 0, "max_attempts 0 refused");
	ok(load("[gateway]\nmax_attempts = 10\n") == 0 && gwconfig_of(&c)->max_attempts == 10, "max_attempts 10");
}

/* A section's api_key is a secret: a file others may read is refused. */
static void a_section_s_key_is_a_secret(void)
{
	char path[] = "/tmp/test_gwconfig_XXXXXX";
	int fd = mkstemp(path);
	const char text[] = "[provider x]\nbase_url = https://a\napi_key = sk-secret\nmodels = a\n";
	ok(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1), "file written");
	close(fd);
	chmod(path, 0644);
	config_free(&c);
	ok(config_load(path, test_modules, &c, err, sizeof(err)) != 0 && strstr(err, "provider.api_key") != NULL,
	   "readable by others refused, naming the key: %s", err);
	config_free(&c);
	chmod(path, 0600);
	ok(config_load(path, test_modules, &c, err, sizeof(err)) == 0, "0600 passes: %s", err);
	unlink(path);
	/* Headers may carry a credential (an api-key header): a secret too. */
	char path2[] = "/tmp/test_gwconfig_XXXXXX";
	const char text2[] = "[provider x]\nbase_url = https://a\nheaders = api-key: s3cret\nmodels = a\n";
	fd = mkstemp(path2);
	ok(fd >= 0 && write(fd, text2, sizeof(text2) - 1) == (ssize_t)(sizeof(text2) - 1), "file written");
	close(fd);
	chmod(path2, 0644);
	config_free(&c);
	ok(config_load(path2, test_modules, &c, err, sizeof(err)) != 0 && strstr(err, "provider.headers") != NULL,
	   "headers in a file others may read refused: %s", err);
	unlink(path2);
}

int main(void)
{
	sections_become_providers();
	a_section_replaces_and_reopens();
	bad_sections_are_refused();
	a_section_s_key_is_a_secret();
	config_free(&c);
	return done_testing();
}
