-- 006_group_commit.sql: the guard's writes are made by batches of
-- multi-row statements (src/ledger_batch.c), and the spending order is
-- applied in C (src/ledger_rows.h GRANTS_SPEND_ORDER and spend_burn), the
-- one place it now lives, so the procedures that wrote one hold, one
-- settle or one spend at a time go.
DROP PROCEDURE IF EXISTS creditd_settle_commit;
DROP PROCEDURE IF EXISTS creditd_hold_commit;
DROP PROCEDURE IF EXISTS creditd_spend_select;
DROP PROCEDURE IF EXISTS creditd_spend;
