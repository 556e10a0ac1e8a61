-- 056_usage_unknown.sql: a gateway call's usage that named tokens creditd
-- does not know (docs/gateway.md, "Usage read whole"): a "*_tokens"
-- member no reading places is a bill the operator pays, so it is charged
-- at the model's dearest token price and the usage record says so.
-- usage_unknown is 1 on such a record, 0 on every other (a guard settle's
-- too). Written with over_hold (sql/046) after the settle; shown on GET
-- /v1/holds/{hold_id} and in the journal row's usage. Added in place
-- (MariaDB's instant ADD COLUMN): no table rebuild.
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS usage_unknown TINYINT NOT NULL DEFAULT 0;
