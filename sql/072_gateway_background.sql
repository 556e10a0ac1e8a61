-- 072_gateway_background.sql: the Responses API's background runs made
-- through the gateway (docs/gateway.md, "Background responses"), one row
-- a run, keyed by the provider's response id.
--
-- A run is created with "background": true: the provider answers at once
-- ("queued") and bills the run when it ends, after the call that made it
-- has returned. Its hold stays pending (renewed while the run lives) and
-- is settled once, when creditd learns the run ended: from the provider's
-- signed webhook, from its own poll of the response, or from the
-- client's own GET through creditd, whichever comes first. This table is
-- the poll's durable list: a creditd restarted mid-run reads it again.
--
-- The row names what the settle needs that the provider's answer does
-- not say: the account (its owner, as gateway_objects has it, sql/061),
-- the hold, the provider that runs it and the model priced, and what
-- the hold was asked for (the output cap, the input bound, the web
-- searches held), which the charge's flags are judged against. The
-- price the run is charged at is the answering try's (docs/gateway.md,
-- "Which price a call is charged"): a fallback provider's price may not
-- be the hold's pin, so the row keeps it (price: the struct price as
-- text, every token price and dimension; margin_bps), with the try it
-- was (attempt, 1 the first) and whether the provider's own row priced
-- it (price_own), for its usage record. The request's fields the charge
-- is decided with are kept too (tier, web_search 0 none 1 tools 2
-- web_search_options, web_search_max -1 unsaid, web_search_size,
-- long_context_off): the settle rebuilds them. No money is kept here:
-- the hold and its usage record (the one writer's) say what was charged. state 'running' until the hold was settled (or the
-- run given up: kept unresolved), then 'ended' with the provider's last
-- status. ix_due is the poll's range: the running rows due first.
CREATE TABLE IF NOT EXISTS gateway_background (
  response_id VARBINARY(128) NOT NULL PRIMARY KEY,
  account_id BIGINT UNSIGNED NOT NULL,
  hold_id VARBINARY(64) NOT NULL,
  hold_row BIGINT UNSIGNED NOT NULL DEFAULT 0,
  provider VARBINARY(32) NOT NULL,
  model VARCHAR(64) NOT NULL,
  output_cap BIGINT NOT NULL,
  hold_input BIGINT NOT NULL,
  searches_held BIGINT NOT NULL DEFAULT 0,
  price VARCHAR(2048) CHARACTER SET ascii NOT NULL DEFAULT '',
  margin_bps BIGINT NOT NULL DEFAULT 0,
  attempt INT NOT NULL DEFAULT 1,
  price_own TINYINT NOT NULL DEFAULT 0,
  tier TINYINT NOT NULL DEFAULT 0,
  web_search TINYINT NOT NULL DEFAULT 0,
  web_search_max BIGINT NOT NULL DEFAULT -1,
  web_search_size TINYINT NOT NULL DEFAULT 0,
  long_context_off TINYINT NOT NULL DEFAULT 0,
  state ENUM('running', 'ended') NOT NULL DEFAULT 'running',
  status VARCHAR(16) CHARACTER SET ascii NOT NULL DEFAULT 'queued',
  polls INT NOT NULL DEFAULT 0,
  next_poll_at BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  ended_at BIGINT NULL,
  KEY ix_due (state, next_poll_at),
  KEY ix_account (account_id, created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
