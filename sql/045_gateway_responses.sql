-- 045_gateway_responses.sql: the Responses API ids each account received
-- through the gateway (DESIGN §14, "previous_response_id is accepted only
-- for a response the same account received through creditd").
--
-- A call naming previous_response_id makes the provider bill that
-- response's whole context again, which the body does not show. creditd
-- lets it through only when the id is one this account was answered
-- through creditd (kept here when the call settles), and holds it at the
-- model's max_input_tokens. Ids are forgotten after 30 days, as OpenAI
-- forgets stored responses (`creditctl purge`, LIMIT_GATEWAY_RESPONSE_DAYS).
CREATE TABLE IF NOT EXISTS gateway_responses (
  account_id BIGINT UNSIGNED NOT NULL,
  response_id VARBINARY(128) NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (account_id, response_id),
  KEY ix_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
