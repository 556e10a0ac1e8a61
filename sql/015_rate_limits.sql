-- 015_rate_limits.sql: requests and tokens per minute (DESIGN §9), on
-- accounts and on workspace members. The window lives with the row, so it
-- is exact across every creditd instance: the UTC minute it counts
-- (minutes since 1970) and the requests and tokens counted in it. A hold
-- records the tokens it counted and in which minute, so its settle in the
-- same minute corrects them to the actual count.
ALTER TABLE accounts
  ADD COLUMN requests_per_minute BIGINT NULL,
  ADD COLUMN tokens_per_minute BIGINT NULL,
  ADD COLUMN rate_minute BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN rate_requests BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN rate_tokens BIGINT NOT NULL DEFAULT 0;

ALTER TABLE members
  ADD COLUMN requests_per_minute BIGINT NULL,
  ADD COLUMN tokens_per_minute BIGINT NULL,
  ADD COLUMN rate_minute BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN rate_requests BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN rate_tokens BIGINT NOT NULL DEFAULT 0;

ALTER TABLE holds
  ADD COLUMN rate_minute BIGINT NULL,
  ADD COLUMN rate_tokens BIGINT NULL;
