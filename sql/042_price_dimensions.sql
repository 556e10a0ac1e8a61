-- 042_price_dimensions.sql: what a provider bills beyond the token prices
-- (DESIGN §14, "The gateway charges what the provider bills").
--
-- A model's price gains one optional column for each dimension a
-- provider's usage bills apart, and two facts a call's hold needs: NULL
-- is "not priced" (a call that asks for it is refused before anything is
-- forwarded, never charged at the token price), so every model priced
-- before this migration prices none of them and is charged as before.
-- src/core/pricing.h PRICE_DIMS names them, in this order:
--   max_input_tokens                     the model's context window (tokens)
--   reasoning                            1: the model reasons (output holds
--                                        reasoning tokens, billed as output)
--   cache_write_1h_micros_per_mtok       input written to a 1-hour cache
--   tier_threshold_tokens                the long-context tier: once a call's
--   tier_{input,output,cached_input,     input passes the threshold, every
--     cache_write}_micros_per_mtok       token of it at these prices
--   priority_{input,output,cached_input}_micros_per_mtok   service tiers
--   flex_{input,output,cached_input}_micros_per_mtok
--   web_search_micros_per_call           a fee a search the provider runs
--   input_audio_micros_per_mtok, output_audio_micros_per_mtok   audio tokens
-- price_history gains the same columns, so that creditctl price history
-- shows each price as it was (an entry from before: none of them).
-- Nothing else reads them yet: a hold pins, and a settle charges, the
-- four token prices as before. Added at the end of each table, NULL by
-- default: instant, metadata only.

ALTER TABLE models
  ADD COLUMN max_input_tokens BIGINT NULL,
  ADD COLUMN reasoning TINYINT NULL,
  ADD COLUMN cache_write_1h_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_threshold_tokens BIGINT NULL,
  ADD COLUMN tier_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_cache_write_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN web_search_micros_per_call BIGINT NULL,
  ADD COLUMN input_audio_micros_per_mtok BIGINT NULL,
  ADD COLUMN output_audio_micros_per_mtok BIGINT NULL;

ALTER TABLE price_history
  ADD COLUMN max_input_tokens BIGINT NULL,
  ADD COLUMN reasoning TINYINT NULL,
  ADD COLUMN cache_write_1h_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_threshold_tokens BIGINT NULL,
  ADD COLUMN tier_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN tier_cache_write_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN priority_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN flex_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN web_search_micros_per_call BIGINT NULL,
  ADD COLUMN input_audio_micros_per_mtok BIGINT NULL,
  ADD COLUMN output_audio_micros_per_mtok BIGINT NULL;
