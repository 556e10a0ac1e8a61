-- 076_batches.sql: the Batch API (docs/gateway.md, "Batches"): the batch
-- prices of a model's row, and the durable job that settles a batch when
-- it ends.
--
-- The prices, as LiteLLM's catalogue names them (src/money/pricing.h
-- PRICE_DIMS), NULL when not priced:
--   batch_input_micros_per_mtok, batch_output_micros_per_mtok
--       input_cost_per_token_batches, output_cost_per_token_batches
--   batch_discount_bps
--       the operator's discount off every token price of the row, in basis
--       points (5000: half), for rows the catalogue gives no batch keys
--       (Claude's, and every row's cached input)
-- A line of a batch is held and charged at them; a batch naming a model
-- whose row has neither is refused before anything is held or forwarded.
-- Added at the end of each table (a provider's own rows, sql/062, too),
-- NULL by default: instant, metadata only.
ALTER TABLE models
  ADD COLUMN IF NOT EXISTS batch_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_discount_bps BIGINT NULL;

ALTER TABLE provider_prices
  ADD COLUMN IF NOT EXISTS batch_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_discount_bps BIGINT NULL;

ALTER TABLE price_history
  ADD COLUMN IF NOT EXISTS batch_input_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_output_micros_per_mtok BIGINT NULL,
  ADD COLUMN IF NOT EXISTS batch_discount_bps BIGINT NULL;

-- gateway_jobs: long work a provider runs after its call has answered,
-- one row a job, kept until it is settled so that a restart of creditd
-- loses none (docs/decisions.md, "A job row, not a thread's memory").
-- kind says what the work is: a batch today; a Responses run in the
-- background is the same shape (a provider object, its provider, the
-- hold that covers it) and takes a kind of its own.
--
-- hold_id is the gateway hold made when the job began (its request_id,
-- LEDGER_GATEWAY_REQUEST_PREFIX...): exempt from expiry capture while its
-- job is not done, and renewed by the job's poll. state: 'running' (the
-- provider is working; polled at next_poll_at), 'settling' (the provider
-- has ended it; its results are being charged, line_cursor lines done),
-- 'done' (settled and the hold released; kept for GET and the purge).
-- Each line is charged under a request_id of its own (the job's hold id
-- and a hash of the line's custom_id), so a line settled again, or a
-- custom_id the provider wrote twice, replays, never charges twice.
-- route is the gateway route of the job's lines ('/openai/v1/chat/completions'),
-- model the dearest model its lines named, which a line's answer naming
-- a model creditd does not price is charged at (never less).
-- answer is the provider's object as last seen (GET, the list: creditd's
-- own records answer them).
CREATE TABLE IF NOT EXISTS gateway_jobs (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  kind ENUM('batch', 'background') NOT NULL,
  account_id BIGINT UNSIGNED NOT NULL,
  member VARBINARY(128) NULL,
  object_id VARBINARY(128) NOT NULL,
  route VARCHAR(64) CHARACTER SET ascii NOT NULL,
  model VARCHAR(64) NULL,
  provider VARBINARY(32) NULL,
  hold_id VARBINARY(128) NOT NULL,
  state ENUM('running', 'settling', 'done') NOT NULL DEFAULT 'running',
  status VARCHAR(32) CHARACTER SET ascii NULL,
  output_file_id VARBINARY(128) NULL,
  error_file_id VARBINARY(128) NULL,
  line_cursor BIGINT NOT NULL DEFAULT 0,
  lines_charged BIGINT NOT NULL DEFAULT 0,
  lines_released BIGINT NOT NULL DEFAULT 0,
  next_poll_at BIGINT NOT NULL,
  polls INT NOT NULL DEFAULT 0,
  answer MEDIUMBLOB NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE KEY uq_object (kind, object_id),
  KEY ix_due (state, next_poll_at),
  KEY ix_account (account_id, kind, id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- gateway_batch_inputs: what creditd read of a batch's input file when
-- it was uploaded through it (each line checked against its route's
-- table and the key's models, custom_ids unique): the lines' endpoint,
-- the dearest line's model, how many, and the sum of their worst cases
-- at batch prices, which a batch made from the file holds; answer is the
-- provider's file object (GET /openai/v1/files and its list answer it). A file with any line refused is never
-- forwarded, so it has no row, and no batch can be made from it.
CREATE TABLE IF NOT EXISTS gateway_batch_inputs (
  account_id BIGINT UNSIGNED NOT NULL,
  file_id VARBINARY(128) NOT NULL,
  endpoint VARCHAR(64) CHARACTER SET ascii NOT NULL,
  model VARCHAR(64) NOT NULL,
  line_count BIGINT NOT NULL,
  hold_micros BIGINT NOT NULL,
  answer BLOB NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, file_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
