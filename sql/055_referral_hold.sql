-- 055_referral_hold.sql: a referral reward that waits out its top-up's
-- refunds and disputes (docs/growth.md, "Referrals"; [referral] hold_days).
--
-- due_at: when the referral's reward is granted. With hold_days 0 it
-- stays NULL (the reward is granted in the credit's transaction, as
-- before). Otherwise the referred account's first credited top-up sets
-- topup_id and due_at (the credit plus hold_days) and leaves settled_at
-- NULL: the reward is pending. The sweep grants the pending rewards due
-- (ix_due finds them), settling the referral then; a refund or a dispute
-- of that top-up before it cancels the reward: settled_at and
-- taken_back_at set, no grant (nothing to take back). A referral settled
-- or cancelled keeps its due_at. No money column.
ALTER TABLE referrals
  ADD COLUMN due_at BIGINT NULL,
  ADD KEY ix_due (settled_at, due_at);
