-- 008_plans.sql: the plan catalogue (DESIGN §9). An account's plan names
-- one of these; stripe_price_ids is a JSON array of Stripe price ids.
CREATE TABLE plans (
  name VARBINARY(64) NOT NULL PRIMARY KEY,
  credits_micros BIGINT NOT NULL,
  rollover ENUM('none','full','capped') NOT NULL,
  rollover_cap_micros BIGINT NULL,
  member_cap_micros BIGINT NULL,
  stripe_price_ids TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
