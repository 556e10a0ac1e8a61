-- 046_over_hold.sql: a gateway call's usage beyond what was asked is
-- charged and flagged (DESIGN §14, replacing §12's "usage that disagrees
-- charges nothing": a bill the operator paid and nobody was charged).
--
-- over_hold is 1 on the usage record of a call whose provider reported
-- output above the cap sent, input above the bound held, or cache tokens
-- above its input; the charge is the reported usage at the pinned prices
-- (a settle beyond its hold, as §5 allows). GET /v1/holds/{hold_id} shows it.
ALTER TABLE usage_records ADD COLUMN IF NOT EXISTS over_hold TINYINT NOT NULL DEFAULT 0;
