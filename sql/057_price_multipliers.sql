-- 057_price_multipliers.sql: what a call may ask that the provider bills
-- at another price than a plain call's (docs/gateway.md, "What the
-- gateway forwards"): a web search's fee by its context size (a search
-- asked at no size is the provider's default, medium, not the dearest),
-- and multipliers of every token price (Anthropic's speed "fast" and
-- inference_geo "us", LiteLLM's provider_specific_entry), in basis
-- points. NULL: not priced (a call asking for it is refused, never
-- charged a plain call's price). Added in place: no rebuild.
ALTER TABLE models
  ADD COLUMN IF NOT EXISTS web_search_low_micros_per_call BIGINT NULL,
  ADD COLUMN IF NOT EXISTS web_search_medium_micros_per_call BIGINT NULL,
  ADD COLUMN IF NOT EXISTS fast_multiplier_bps BIGINT NULL,
  ADD COLUMN IF NOT EXISTS geo_us_multiplier_bps BIGINT NULL;

ALTER TABLE price_history
  ADD COLUMN IF NOT EXISTS web_search_low_micros_per_call BIGINT NULL,
  ADD COLUMN IF NOT EXISTS web_search_medium_micros_per_call BIGINT NULL,
  ADD COLUMN IF NOT EXISTS fast_multiplier_bps BIGINT NULL,
  ADD COLUMN IF NOT EXISTS geo_us_multiplier_bps BIGINT NULL;
