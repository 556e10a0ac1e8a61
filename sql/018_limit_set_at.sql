-- 018_limit_set_at.sql: when an account's monthly limit was last changed
-- after its creation (unix seconds; NULL: never), and what the month had
-- committed then: its spend plus its pending holds (micros). `creditctl
-- verify` reads both: a month spend above a limit changed during that
-- month is a warning while it is no more than what was committed when the
-- limit changed (the spend came first); beyond that, or beyond a limit
-- that stood all month, it is a violation of invariant 5.
ALTER TABLE accounts ADD COLUMN monthly_limit_set_at BIGINT NULL,
  ADD COLUMN monthly_limit_set_committed_micros BIGINT NULL;
