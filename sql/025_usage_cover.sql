-- 025_usage_cover.sql: usage reports read an index, not the table
-- (docs/growth.md). A usage report (GET /v1/accounts/{id}/usage,
-- /v1/me/usage) sums one account's usage rows of a period by day, model or
-- member. Through ix_account_time (account_id, created_at) each row was
-- then read from the table, whose rows lie in the order they were written:
-- on a grown ledger an account's month of rows lies one or two to a page
-- among every other account's, and a month of a heavy account (12,700
-- rows) touched as many pages. The same index with the columns the report
-- sums makes the report a range read of consecutive index entries. It
-- replaces ix_account_time (the same first columns: every statement that
-- used it still can), so a usage row still writes the same number of
-- index entries. In place: on a single server the table stays readable
-- and writable while the index is rebuilt (29 s for 9.8M rows on the
-- bench machine); on Galera see docs/operations.md, "Upgrading".
ALTER TABLE usage_records
  DROP KEY ix_account_time,
  ADD KEY ix_account_time (account_id, created_at, model, action, member, input_tokens, cached_input_tokens,
                           output_tokens, cost_micros),
  ALGORITHM = INPLACE, LOCK = NONE;
