/* ctl_reconcile_rows.c: what creditctl reconcile's printing (ctl_reconcile.c)
 * and storing (ctl_reconcile_store.c) share of a row: its fields' names,
 * and which of them the provider's report gives. */
#include "ctl_reconcile_rows.h"

const char *const ctl_reconcile_rows_fields[F_COUNT] = {"requests", "input_tokens", "cached_input_tokens",
						 "cache_write_input_tokens", "output_tokens", "cache_write_1h_tokens",
						 "audio_input_tokens", "audio_output_tokens", "web_search_calls",
						 "priority_tokens", "flex_tokens", "long_context_tokens", "images",
						 "speech_characters", "transcription_ms"};

/* 1 when the provider's files give field f of row w (requests: every
 * bucket counted them; tokens: a report of tokens is among them; a
 * figure beyond tokens: every such report gives it; a media unit: its
 * kind's report is among them). A field not given is shown and not
 * compared. */
int ctl_reconcile_rows_reported(const struct recon_row *w, int f)
{
	static const unsigned int needs[F_COUNT] = {
		[F_INPUT] = RECON_REPORTS_TOKENS, [F_CACHED] = RECON_REPORTS_TOKENS,
		[F_CACHE_WRITE] = RECON_REPORTS_TOKENS, [F_OUTPUT] = RECON_REPORTS_TOKENS,
		[F_CACHE_WRITE_1H] = RECON_REPORTS_1H, [F_AUDIO_IN] = RECON_REPORTS_AUDIO,
		[F_AUDIO_OUT] = RECON_REPORTS_AUDIO, [F_SEARCHES] = RECON_REPORTS_SEARCHES,
		[F_PRIORITY] = RECON_REPORTS_TIER, [F_FLEX] = RECON_REPORTS_TIER, [F_LONG] = RECON_REPORTS_WINDOW,
		[F_IMAGES] = RECON_REPORTS_IMAGES, [F_SPEECH_CHARS] = RECON_REPORTS_SPEECH,
		[F_TRANSCRIPTION_MS] = RECON_REPORTS_TRANSCRIPTION};
	if (f == F_REQUESTS)
		return w->provider_requests;
	return !w->provider_seen || (w->provider_reports & needs[f]) == needs[f];
}
