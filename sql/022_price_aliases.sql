-- 022_price_aliases.sql: reconciliation with the provider (creditctl
-- reconcile, DESIGN §10).
--
-- price_aliases maps a name the provider's usage report uses to a creditd
-- model, for names that are neither the model's own nor its dated
-- snapshot (creditctl price alias PROVIDER_NAME MODEL writes it; the
-- runtime user's rights on the schema let creditctl read and write it).
CREATE TABLE price_aliases (
  provider_name VARCHAR(128) NOT NULL PRIMARY KEY,
  model VARCHAR(64) NOT NULL,
  created_at BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The reconciliation's one grouped query reads a period of usage by UTC
-- day and model: a range of this index, covering every column it sums,
-- so a month at 100k calls a day is read from the index alone, never row
-- by row from the table.
ALTER TABLE usage_records
  ADD KEY ix_created_model (created_at, model, byok, input_tokens, cached_input_tokens, output_tokens,
                            cost_micros);

-- Holds that expired unsettled in a period, across accounts (the
-- account's own index starts with the account).
ALTER TABLE holds
  ADD KEY ix_state_expires (state, expires_at);
