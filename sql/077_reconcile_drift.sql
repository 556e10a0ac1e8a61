-- 077_reconcile_drift.sql: what creditctl reconcile compared
-- (docs/reconciliation.md, "What is stored"), so that GET /v1/reconcile,
-- the overview and the console's reconcile page show the drift between
-- creditd's usage records and the provider's bill without the report's
-- files. One row a UTC day x model x dimension x provider:
--   day         the day's first second (unix seconds, UTC)
--   provider    the report's provider: creditctl reconcile --provider, else
--               its format (openai, anthropic, csv; mixed for several)
--   model       creditd's model, or the provider's name when unmatched
--   dimension   a figure the report gives (requests, input_tokens, ...,
--               transcription_ms), or charged_micros: what creditd charged
--               beside what it should have for the provider's figures
--   provider_value, creditd_value   the two sides' figures
--   compared_at when creditctl reconcile ran (unix seconds)
-- A run replaces every row of its period (--from to --to, else the
-- report's days) for its provider in one transaction: the latest run of a
-- day is what is shown. creditctl reconcile --no-store stores nothing.
-- ix_day serves the API's range of days. The key's names compare byte
-- for byte, as the report's rows are told apart ("GPT-4o" and "gpt-4o"
-- are two rows, as a provider may report both).
CREATE TABLE IF NOT EXISTS reconcile_drift (
  day BIGINT NOT NULL,
  provider VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  model VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  dimension VARCHAR(32) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
  provider_value BIGINT NOT NULL,
  creditd_value BIGINT NOT NULL,
  compared_at BIGINT NOT NULL,
  PRIMARY KEY (provider, day, model, dimension),
  KEY ix_day (day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
