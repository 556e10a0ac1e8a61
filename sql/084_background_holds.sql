-- 084_background_holds.sql: a background run's hold is never captured at
-- its expiry while its run lives (docs/gateway.md, "Background
-- responses"). Each poll round renews every running run's hold an hour
-- past the round, but only a hold not yet expired: a creditd away longer
-- than that hour (down, or its clock moved on) came back to holds past
-- their expiry, and its sweep captured them in full before any round ran,
-- so the run's end found its hold pending no more and its usage was never
-- charged (the whole hold was). The sweep now skips the pending hold of a
-- running run, as it skips a batch job's (sql/079), through this index:
-- the run keeps its hold's row id (hold_row) since sql/072. A run that
-- ends, or is given up after its days (its hold kept unresolved first),
-- lets the sweep have its hold again.
ALTER TABLE gateway_background
  ADD KEY IF NOT EXISTS ix_hold (account_id, hold_row);
