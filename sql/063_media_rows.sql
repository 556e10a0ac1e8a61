-- 063_media_rows.sql: a media row prices no token (docs/decisions.md, "A
-- media row prices no token"). An image, transcription, speech or
-- moderation model imported from LiteLLM's catalogue without token
-- prices (dall-e-3's sizes, whisper-1, tts-1, omni-moderation-latest) is
-- priced by its media columns (sql/060); its output price and
-- max_output_tokens are NULL, never 0, and so are its input, cached-input
-- and cache-write prices unless they price its prompt's text
-- (gpt-image-1's): creditd reads a NULL output price as "no token route
-- takes this model" (a call there would be charged 0), and GET /v1/models
-- shows them null. Every row priced before keeps
-- its numbers. NOT NULL to NULL is an instant change in MariaDB (10.4+):
-- metadata only.
ALTER TABLE models
  MODIFY COLUMN input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN cached_input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN output_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN max_output_tokens BIGINT NULL;

ALTER TABLE price_history
  MODIFY COLUMN input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN cached_input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN output_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN max_output_tokens BIGINT NULL;

-- A provider's own row of a media model (sql/062, created LIKE models
-- before this) may be one too.
ALTER TABLE provider_prices
  MODIFY COLUMN input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN cached_input_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN output_micros_per_mtok BIGINT NULL,
  MODIFY COLUMN max_output_tokens BIGINT NULL;
