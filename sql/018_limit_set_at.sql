-- 016_limit_set_at.sql: when an account's monthly limit was last changed
-- after its creation (unix seconds; NULL: never). `creditctl verify` reads
-- it to tell a limit lowered below the month's spend during that month (a
-- warning: the spend came first) from spend beyond a limit that stood all
-- month (a violation of invariant 5).
ALTER TABLE accounts ADD COLUMN monthly_limit_set_at BIGINT NULL;
