-- 028_topup_attempts.sql: every top-up attempt counts, an Idempotency-Key
-- holds its body, and a top-up credits what it quoted (DESIGN §13).
--
-- A top-up whose Stripe call failed kept no row before this migration, so
-- stripe.topups_per_hour counted only the sessions Stripe made and a
-- client looping on failures (or on one key with changing amounts)
-- reached Stripe without end. Now the row stays, status 'failed': an
-- attempt that opened no session of its own (Stripe refused or failed,
-- or replayed a session another row holds). The hourly count reads
-- ix_account_created (017) over every status, as before.
--
-- idem_hash: SHA-256 of the client's Idempotency-Key, request_hash that
-- of the request's method, path and body (as idempotency_keys keeps it);
-- ix_account_idem finds the key's latest top-up under the account's lock,
-- before any call to Stripe: another body is 409, an open session is
-- answered again from checkout_url without calling Stripe. NULL without
-- a key, and on rows made before this migration.
--
-- quoted_micros: the credit the top-up's answer quoted (credits_micros,
-- amount_cents x stripe.topup_rate when it started); the payment credits
-- exactly that whatever the rate is then. NULL on rows made before this
-- migration: those credit amount_cents at the rate in force when paid,
-- as they did.
ALTER TABLE topups
  MODIFY status ENUM('pending','credited','expired','failed') NOT NULL DEFAULT 'pending',
  ADD COLUMN quoted_micros BIGINT NULL,
  ADD COLUMN idem_hash BINARY(32) NULL,
  ADD COLUMN request_hash BINARY(32) NULL,
  ADD COLUMN checkout_url VARCHAR(2048) NULL,
  ADD KEY ix_account_idem (account_id, idem_hash);
