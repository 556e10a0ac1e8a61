-- 009_daily_limit.sql: an account's optional daily limit (DESIGN §9),
-- enforced like the monthly one, with the day's spend kept beside the
-- month's and reset at each UTC day (day_key: days since 1970-01-01).
ALTER TABLE accounts
  ADD COLUMN daily_limit_micros BIGINT NULL,
  ADD COLUMN day_key INT NOT NULL DEFAULT 0,
  ADD COLUMN day_spent_micros BIGINT NOT NULL DEFAULT 0;
