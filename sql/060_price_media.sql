-- 060_price_media.sql: the prices of the gateway's media routes (images,
-- transcription, speech: docs/gateway.md, "Images, audio and speech"), as
-- LiteLLM's catalogue names them, each in a unit fine enough for the
-- catalogue's figures to be exact (src/money/pricing.h PRICE_DIMS):
--   input_pixel_micros_per_gpx, output_pixel_micros_per_gpx
--       an image's pixels, micros per 10^9 pixels (input_cost_per_pixel:
--       LiteLLM keys such a row by quality and size, "hd/1024-x-1792/dall-e-3")
--   input_image_micros_per_mtok, output_image_micros_per_mtok
--       image tokens (input_cost_per_image_token, output_cost_per_image_token)
--   output_micros_per_image    an image made (output_cost_per_image)
--   input_micros_per_ksec, output_micros_per_ksec
--       audio seconds, micros per 1,000 seconds (input_cost_per_second)
--   input_micros_per_mchar     characters of speech, micros per million
--       (input_cost_per_character)
-- NULL: not priced (a call that needs it is refused before anything is
-- forwarded). Added at the end of each table, NULL by default: instant,
-- metadata only; price_history gains the same columns.
ALTER TABLE models
  ADD COLUMN IF NOT EXISTS input_pixel_micros_per_gpx BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_pixel_micros_per_gpx BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_image_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_image_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_micros_per_image BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_micros_per_ksec BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_micros_per_ksec BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_micros_per_mchar BIGINT NULL;

ALTER TABLE price_history
  ADD COLUMN IF NOT EXISTS input_pixel_micros_per_gpx BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_pixel_micros_per_gpx BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_image_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_image_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_micros_per_image BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_micros_per_ksec BIGINT NULL,
  ADD COLUMN IF NOT EXISTS output_micros_per_ksec BIGINT NULL,
  ADD COLUMN IF NOT EXISTS input_micros_per_mchar BIGINT NULL;
