-- 049_usage_provider.sql: which provider answered a gateway call, and
-- after how many tries (DESIGN §14, "Many providers behind one base
-- URL"): a call falls back to the next provider serving its model on a
-- failure before the first byte. GET /v1/holds/{hold_id} shows both.
--
-- provider is the [provider NAME] (or §12's "openai", "anthropic") that
-- answered last; NULL for a guard settle's record and for a gateway call
-- answered by its first provider, whose name its hold's request_id
-- already carries (gw_NAME_<random>): the gateway writes these columns
-- after its settle, in a transaction of its own, only when a call
-- tried more than one provider (as over_hold, sql/046). attempts is 1
-- for every other record. Both are added in place (MariaDB's instant
-- ADD COLUMN): no table rebuild.
ALTER TABLE usage_records
  ADD COLUMN IF NOT EXISTS provider VARCHAR(32) CHARACTER SET ascii NULL,
  ADD COLUMN IF NOT EXISTS attempts TINYINT UNSIGNED NOT NULL DEFAULT 1;
