-- 080_batch_charged.sql: what a batch job's lines charged, kept on its
-- job (docs/gateway.md, "Batches"). Each line is charged apart from the
-- batch's hold; a job whose hold is kept unresolved for the operator (one
-- abandoned after its days, one whose provider counts more succeeded
-- lines than its results carried) keeps it at the hold less this, so the
-- operator, or the sweep at its days, charges what the lines did not.
-- Rows kept before this migration have it NULL (unknown: such a job with
-- a line charged keeps its hold unresolved at nothing more, as before);
-- their next settling pass counts it. New rows start at 0. Added at the
-- end of the table, NULL: instant, metadata only.
ALTER TABLE gateway_jobs
  ADD COLUMN IF NOT EXISTS charged_micros BIGINT NULL;
ALTER TABLE gateway_jobs
  ALTER COLUMN charged_micros SET DEFAULT 0;
