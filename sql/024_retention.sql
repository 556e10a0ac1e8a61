-- 024_retention.sql: retention (DESIGN §10 "Growth and retention"). The
-- sweeper deletes Stripe event ids older than [retention]
-- stripe_events_days, LIMIT_PURGE_BATCH (src/limits.h) at a time, by
-- received_at: this index makes each batch a range read of the oldest
-- ids, never a scan of the table. (Finished holds are purged through
-- holds.ix_state_expires of 022_price_aliases.sql, idempotency keys and
-- kept receipts through their ix_created.)
ALTER TABLE stripe_events
  ADD KEY ix_received (received_at);
