-- 085_event_marks.sql: on Galera, a webhook marks its event's row, and a
-- write under an Idempotency-Key its key's claim, each written before any
-- account is locked, and looks at that mark before it commits
-- (src/store/store_tx.c, as sql/053 does with the accounts it locks).
--
-- 053's mark covers a transaction from its first account lock: an abort
-- Galera does not tell was known only inside a stored procedure. It was
-- then seen outside one: a dispute that came before its credit (it locks
-- no account: it keeps its row, by payment intent, for the credit to
-- apply) was brute-force aborted during its last locking read, by a
-- commit applied from another node. The read answered, with no rows,
-- the COMMIT answered OK with nothing in it, and the webhook answered
-- "kept": the dispute was gone, and the credit that came next kept the
-- money the dispute took back (tests/galera/test_73, under load).
--
-- So the row that claims a Stripe event, which a webhook writes first,
-- carries the transaction's mark (63 random bits), and before its COMMIT
-- the transaction reads it back: its own mark while nothing was rolled
-- back, none (or another delivery's) after an abort it was not told of.
-- Then it rolls back and runs again, as for a deadlock.
--
-- A write under an Idempotency-Key claims the key (its row) before it
-- locks an account, in the same way: an abort untold between the two
-- would let the operation commit in a new transaction without its
-- claim, to be run again under the same key: a grant answered 201 and,
-- its key sent again, granted again (tests/galera/test_72). Its claim's
-- row carries the mark too.
--
-- The columns are instant (a default) and read by nothing else. On one
-- server nothing is checked (the mark is 0).
ALTER TABLE stripe_events
  ADD COLUMN IF NOT EXISTS tx_mark BIGINT NOT NULL DEFAULT 0;
ALTER TABLE idempotency_keys
  ADD COLUMN IF NOT EXISTS tx_mark BIGINT NOT NULL DEFAULT 0;

-- Every other transaction on Galera that writes or locks before it locks
-- an account (a collection's try recorded, a price import, a waiting
-- receipt applied, a lease taken) is marked the same way by a row of its
-- own handle: one row per creditd thread (its id 63 random bits drawn by
-- the thread), written with the mark just before the transaction's first
-- statement that writes or locks, read back before the COMMIT. A thread
-- ends, its row stays (a few dozen a restart, a row each of three
-- numbers); marked_at says when it was last used.
CREATE TABLE IF NOT EXISTS tx_marks (
  id VARBINARY(20) NOT NULL PRIMARY KEY,
  tx_mark BIGINT NOT NULL,
  marked_at BIGINT NOT NULL
) ENGINE=InnoDB;
