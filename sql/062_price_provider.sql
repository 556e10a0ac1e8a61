-- 062_price_provider.sql: a provider's own price for a model
-- (docs/gateway.md, "Which price a call is charged"). A gateway call
-- answered by a provider with a row here is charged that row; every other
-- call (and the guard's /v1/guard/* routes, which name no provider) the
-- model's general row in `models`, as before. A provider's row needs the
-- model's general row (creditctl refuses one without it).
--
-- provider_prices has every column of `models` (made LIKE it, so each
-- price dimension is there), keyed by (name, provider): provider is the
-- gateway's provider name ([provider NAME], or "openai", "anthropic").
-- A migration that adds a price column to `models` adds it here too.
-- price_history gains provider: NULL for the general row's history (every
-- row before this migration), the provider's name for a provider row's.
-- usage_records gains price_provider: the provider whose own row a
-- gateway call was charged at; NULL: the model's general row (and every
-- guard record). All added in place (new table, instant ADD COLUMN): an
-- older creditd beside the migrated database goes on reading `models`
-- only, as it did.
CREATE TABLE IF NOT EXISTS provider_prices LIKE models;
ALTER TABLE provider_prices
  ADD COLUMN IF NOT EXISTS provider VARCHAR(32) CHARACTER SET ascii NOT NULL DEFAULT '' AFTER name,
  DROP PRIMARY KEY,
  ADD PRIMARY KEY (name, provider);

ALTER TABLE price_history
  ADD COLUMN IF NOT EXISTS provider VARCHAR(32) CHARACTER SET ascii NULL;

ALTER TABLE usage_records
  ADD COLUMN IF NOT EXISTS price_provider VARCHAR(32) CHARACTER SET ascii NULL;
