/* ctl_usage.c: creditctl's usage text (see ctl_usage.h): one place for
 * the list of commands, printed by --help and by every command given
 * wrong arguments. */
#include "ctl_usage.h"
#include "config.h"
#include "envfile.h"
#include <stdarg.h>

void ctl_usage_print(FILE *out)
{
	fprintf(out,
		"usage: creditctl [-c FILE] [--env-file FILE] COMMAND ... | creditctl --version | creditctl --help\n"
		"  -c FILE: the config (else $CREDITD_CONFIG, else " CFG_DEFAULT_PATH ")\n"
		"  --env-file FILE: the CREDITD_* variables creditd's unit reads (else $CREDITD_ENV_FILE, else\n"
		"        " ENVFILE_DEFAULT_PATH " with the default config), read as systemd reads them; a variable\n"
		"        already set is kept\n"
		"  migrate [--check] [--sql-dir DIR] [--user USER] [--password-file FILE]\n"
		"  key create --scope guard|read|app|admin[,...] [--name NAME] [--account ID] [--models A,B]\n"
		"  key list\n"
		"  key revoke ID\n"
		"  account create ID [--kind user|workspace]\n"
		"  account show ID\n"
		"  grant ID AMOUNT_MICROS --source promo|adjustment|signup_bonus [--expires RFC3339] [--priority P]\n"
		"        [--description TEXT]\n"
		"  verify [--progress]\n"
		"  export ID [--format csv|json]\n"
		"  price list\n"
		"  price import FILE [--max-increase-pct N] [--force] [--dry-run]   (CSV or JSON)\n"
		"  price set MODEL [--provider NAME] FIELD=VALUE...\n"
		"  price history MODEL\n"
		"  price alias PROVIDER_NAME MODEL\n"
		"  reconcile FILE... [--format openai|anthropic|csv] [--from YYYY-MM-DD] [--to YYYY-MM-DD]\n"
		"        [--tolerance-pct N] [--json] [--provider NAME] [--no-store]\n"
		"  promo create CODE AMOUNT_MICROS [--max N] [--expires RFC3339] [--ttl-days N]\n"
		"  promo list\n"
		"  events list [--state pending|delivered|failed] [--after ID] [--limit N]\n"
		"  events retry ID|--failed\n"
		"  plan set NAME --credits MICROS [--rollover none|full|capped] [--rollover-cap MICROS]\n"
		"        [--member-cap MICROS] [--stripe-price ID]...\n"
		"  plan list\n"
		"  collect [--account ID] [--dry-run]\n"
		"  hold resolve HOLD_ID charge [--micros N] | release   (a gateway hold left unresolved)\n"
		"  hold resolve --from-usage FILE... [--format openai|anthropic|csv] [--dry-run] [--json]\n"
		"        (unresolved holds judged from the providers' 1-minute usage reports)\n"
		"  sweep   (the daemon's background work once through, for cron)\n");
}

int ctl_usage_bad(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("creditctl: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	ctl_usage_print(stderr);
	return 2;
}
