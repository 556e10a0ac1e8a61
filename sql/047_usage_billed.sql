-- 047_usage_billed.sql: what a gateway call was charged for beyond its
-- tokens, kept on its usage record (DESIGN §14, "The gateway charges what
-- the provider bills"): GET /v1/holds/{hold_id} shows it, and creditctl
-- reconcile lines it up against the provider's report per dimension.
--
-- service_tier is the tier the provider served and was charged
-- ('priority', 'flex'; NULL: the standard one); long_context 1 when the
-- call's input passed its model's long-context threshold (every token at
-- the tier's prices); the counts are parts of the token counts beside
-- them (1-hour cache writes of cache_write_input_tokens, audio of input
-- and output), web_search_calls a fee each. A guard settle's record, and
-- a gateway call that used none of them, keeps the defaults. Written by
-- the gateway after its settle, in a transaction of its own, only when
-- there is something to keep (as over_hold).
ALTER TABLE usage_records
  ADD COLUMN IF NOT EXISTS service_tier VARCHAR(16) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS long_context TINYINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS cache_write_1h_tokens BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS audio_input_tokens BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS audio_output_tokens BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN IF NOT EXISTS web_search_calls BIGINT NOT NULL DEFAULT 0;

-- creditctl reconcile sums them per day and model from the index it reads
-- (ix_created_model, which covers every column the grouped query sums:
-- the query never fetches a row). Rebuilt online.
ALTER TABLE usage_records
  DROP KEY ix_created_model,
  ADD KEY ix_created_model (created_at, model, byok, input_tokens, cached_input_tokens, output_tokens,
                            cost_micros, cache_write_input_tokens, settle_reason, service_tier, long_context,
                            cache_write_1h_tokens, audio_input_tokens, audio_output_tokens, web_search_calls),
  ALGORITHM = INPLACE, LOCK = NONE;
