-- 058_unresolved_holds.sql: a gateway call's hold whose provider may be
-- working on it and never answered (docs/gateway.md, "When a provider may
-- already be working"; docs/decisions.md).
--
-- A call whose request reached its provider in full and got no first byte
-- in time, or whose connection was lost after it was sent, ends with 504
-- and is tried nowhere else. Its hold is neither released (the provider
-- may have run it: free work) nor captured (it may not have: a charge for
-- nothing): it stays pending, its reserve kept, marked unresolved here.
--   unresolved_at            when the call ended so (NULL: not unresolved)
--   unresolved_input_micros  what its input bound costs at the hold's
--                            pinned price (what the provider received):
--                            the charge of `creditctl hold resolve HOLD
--                            charge` and of the sweep past [gateway]
--                            unresolved_days
--   resolved                 how it was resolved: charge, release or
--                            expiry (the sweep); NULL while unresolved
-- The gateway moves its expires_at to unresolved_days ahead when it marks
-- it: the ordinary expiry capture never takes it, and the sweep that
-- finds it due then charges its input bound (ledger_due.c). Three
-- nullable columns at the end: instant in MariaDB 10.3+; the index is
-- built online.
ALTER TABLE holds
  ADD COLUMN unresolved_at BIGINT NULL,
  ADD COLUMN unresolved_input_micros BIGINT NULL,
  ADD COLUMN resolved VARCHAR(16) CHARACTER SET ascii NULL;

ALTER TABLE holds
  ADD KEY ix_unresolved (state, unresolved_at);
