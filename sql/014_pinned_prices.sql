-- 014_pinned_prices.sql: prices pinned at authorize, and their history
-- (DESIGN §9). A model's hold records the prices and margin it was priced
-- with, and its settle charges at those, whatever the price list says by
-- then (NULL: an action's hold, or a hold made before this migration,
-- which is charged at the current prices as before). price_history keeps
-- every model price with the time it took effect (creditctl price
-- history); the current list is its first entries.
ALTER TABLE holds
  ADD COLUMN pin_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN pin_cached_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN pin_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN pin_margin_bps BIGINT NULL;

CREATE TABLE price_history (
  id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
  model VARCHAR(64) NOT NULL,
  input_micros_per_mtok BIGINT NOT NULL,
  cached_input_micros_per_mtok BIGINT NOT NULL,
  output_micros_per_mtok BIGINT NOT NULL,
  max_output_tokens BIGINT NOT NULL,
  effective_at BIGINT NOT NULL,
  KEY ix_model_time (model, effective_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO price_history (model, input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok,
                           max_output_tokens, effective_at)
SELECT name, input_micros_per_mtok, cached_input_micros_per_mtok, output_micros_per_mtok, max_output_tokens,
       updated_at
FROM models;
