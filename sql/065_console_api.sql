-- 065_console_api.sql: the operator's reads (docs/api.md, "The operator's
-- reads"): GET /v1/accounts?q= finds accounts by the start of their
-- external id (uq_ext_id) or of their email; ix_email is that second
-- index, so a search reads a range of each and never the whole table.
-- Added in place (no table copy): accounts stay writable while it builds.
ALTER TABLE accounts ADD KEY IF NOT EXISTS ix_email (email), ALGORITHM = INPLACE, LOCK = NONE;
