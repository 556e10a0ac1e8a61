-- 061_provider_objects.sql: every object a provider made through the
-- gateway, recorded with the account that made it (docs/gateway.md,
-- "Provider objects"; docs/decisions.md, "One record of provider
-- objects").
--
-- 045's gateway_responses kept the Responses ids an account received,
-- only so that previous_response_id could name them. The same rows now
-- also say which object routes an account may reach (GET and DELETE
-- /openai/v1/responses/{id}, its input_items) and which provider answered
-- (the object lives there alone), and later files, batches and their
-- outputs join them: one table, gateway_objects, a kind a row.
--
-- The table is renamed, not copied: its rows stay where they are, and
-- the columns added have defaults (kind 'response'; provider NULL: a row
-- kept before this migration, whose provider creditd did not record).
-- Under the old name a view serves a creditd older than this one that
-- still runs between the migration and its restart: its inserts (kind
-- and provider left to their defaults), its previous_response_id lookups
-- and its purge go through the view to the same rows. A later version
-- drops the view.
--
-- object_id is the provider's id as it gave it; kind says what it is, so
-- a route of one kind never reaches another's object. ix_object finds an
-- object's owner from its id alone (a provider's webhook names only the
-- id); ix_kind_created is the purge's range (responses after
-- LIMIT_GATEWAY_RESPONSE_DAYS), which reads no other kind's rows.
RENAME TABLE gateway_responses TO gateway_objects;

ALTER TABLE gateway_objects
  CHANGE COLUMN response_id object_id VARBINARY(128) NOT NULL,
  ADD COLUMN kind ENUM('response', 'file', 'batch', 'batch_output') NOT NULL DEFAULT 'response',
  ADD COLUMN provider VARBINARY(32) NULL,
  ADD KEY ix_object (object_id),
  ADD KEY ix_kind_created (kind, created_at),
  DROP KEY ix_created,
  ALGORITHM = INPLACE, LOCK = NONE;

CREATE OR REPLACE VIEW gateway_responses AS
  SELECT account_id, object_id AS response_id, created_at FROM gateway_objects WHERE kind = 'response';
