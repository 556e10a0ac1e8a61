-- 079_batch_holds.sql: a batch's hold is never captured at its ttl while
-- its job is not done (docs/gateway.md, "Batches"). The job names its
-- hold by the public hold id, which the database cannot read, so the job
-- keeps the hold's row id beside it: the sweep skips every pending hold
-- of a job not done (its job renews it each pass and settles it), and
-- still captures a batch hold that no job covers (its job row never kept).
-- A row kept before this migration has hold_row NULL: its job fills it
-- at its next pass.
ALTER TABLE gateway_jobs
  ADD COLUMN IF NOT EXISTS hold_row BIGINT UNSIGNED NULL,
  ADD KEY IF NOT EXISTS ix_hold (account_id, hold_row);

-- gateway_batch_inputs.models: the models a batch input file's lines name
-- (a JSON array), checked again against the key that makes a batch from
-- it (the file was checked under the key that uploaded it). NULL on a
-- file kept before: its dearest model alone is checked.
ALTER TABLE gateway_batch_inputs
  ADD COLUMN IF NOT EXISTS models TEXT NULL;
