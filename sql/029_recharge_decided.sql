-- 029_recharge_decided.sql: no collection and no auto-recharge is sent
-- while its account has a dispute open (DESIGN §13), and creditctl
-- verify can tell.
--
-- decided_at: when creditd last decided to send the charge to Stripe (the
-- sender's lease of a queued charge, or creditctl collect's), in the
-- transaction that checked that no dispute was open on the account. A
-- dispute recorded before that moment and not closed by it is a charge
-- sent to a disputed card: verify's "charges sent during a dispute".
-- NULL: never decided, or decided before this migration.
--
-- ix_account_state on disputes finds an account's open disputes for that
-- check (disputes had no index on the account).
ALTER TABLE recharges
  ADD COLUMN decided_at BIGINT NULL;
ALTER TABLE disputes
  ADD KEY ix_account_state (account_id, state);
