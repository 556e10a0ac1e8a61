-- 080_batch_charged.sql: what a batch job's lines charged, and the model
-- each of its lines asked for (docs/gateway.md, "Batches").
--
-- gateway_jobs.charged_micros: each line is charged apart from the
-- batch's hold; a job whose hold is kept unresolved for the operator (one
-- abandoned after its days, one whose provider counts more succeeded
-- lines than its results carried) keeps it at the hold less this, so the
-- operator, or the sweep at its days, charges what the lines did not.
-- Rows kept before this migration have it NULL (unknown: such a job with
-- a line charged keeps its hold unresolved at nothing more, as before);
-- their next settling pass counts it. New rows are written with 0 (no
-- default: a creditd from before this migration still running beside the
-- new one during an upgrade writes its jobs without the column, NULL,
-- which reads as unknown, never as nothing charged).
--
-- line_models (gateway_batch_inputs: read at the upload; gateway_jobs:
-- the batch's, from its input file or its requests): a JSON object of
-- each line's key (the first 24 hex digits of the SHA-256 of its
-- custom_id) to the model it asked for, for the lines whose model is not
-- the batch's dearest (gateway_jobs.model); most batches name one model
-- and keep {}. A line is charged at the batch price of the model it
-- asked for, never at a dearer one its answer names (flagged over_hold).
-- NULL on rows kept before: their lines are charged at the dearest.
--
-- Added at the end of each table, NULL: instant, metadata only.
ALTER TABLE gateway_jobs
  ADD COLUMN IF NOT EXISTS charged_micros BIGINT NULL,
  ADD COLUMN IF NOT EXISTS line_models MEDIUMBLOB NULL;
ALTER TABLE gateway_batch_inputs
  ADD COLUMN IF NOT EXISTS line_models MEDIUMBLOB NULL;
