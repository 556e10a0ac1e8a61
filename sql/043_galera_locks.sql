-- 043_galera_locks.sql: on Galera, a guard batch locks its accounts by
-- writing them.
--
-- On Galera a transaction that has written nothing yet is not replicated,
-- and its SELECT ... FOR UPDATE locks are the node's alone: a commit
-- applied from another node, or a local commit the node replays after
-- aborting it at certification, takes those locks by force (a brute-force
-- abort), and a transaction aborted while it had written nothing can go
-- on without being told. It then writes a balance decided on a row whose
-- lock it no longer held: a settle or a grant committed meanwhile
-- vanishes (seen under the every-writer load: the replay of a batch's
-- commit and a debit both wrote from the same balance). Once a
-- transaction has written a row, Galera aborts it for a conflict the way
-- it says, at its next statement or at its certification.
--
-- So on Galera creditd locks an account by writing it: the batch's
-- accounts are updated (the row's version, which the trigger of 037
-- moves) in ascending id order before cd_batch_read reads them, in the
-- same CALL; a single account is locked by the same UPDATE from C
-- (src/ledger/ledger_rows.c). On one server nothing changes:
-- cd_batch_read's SELECT ... FOR UPDATE is a lock InnoDB keeps.
CREATE OR REPLACE PROCEDURE cd_batch_lock_read(IN p_lock TINYINT, IN p_page INT, IN p_ids LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_ext LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_holds LONGTEXT CHARACTER SET utf8mb4, IN p_reqs LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_members LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_usages LONGTEXT CHARACTER SET utf8mb4, IN p_spend_ids LONGTEXT CHARACTER SET utf8mb4,
                                               IN p_spend_ext LONGTEXT CHARACTER SET utf8mb4, IN p_keys LONGTEXT CHARACTER SET utf8mb4)
  MODIFIES SQL DATA
BEGIN
  DECLARE v_ids LONGTEXT CHARACTER SET utf8mb4 DEFAULT NULL;
  IF p_lock = 1 AND (p_ids IS NOT NULL OR p_ext IS NOT NULL) THEN
    SELECT COALESCE(JSON_ARRAYAGG(DISTINCT u.id ORDER BY u.id), '[]') INTO v_ids FROM (
      SELECT j.id FROM JSON_TABLE(COALESCE(p_ids, '[]'), '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      UNION ALL
      SELECT a.id FROM JSON_TABLE(COALESCE(p_ext, '[]'), '$[*]' COLUMNS (e VARBINARY(128) PATH '$')) k
        STRAIGHT_JOIN accounts a ON a.ext_id = k.e) u;
    -- JSON_TABLE drives the join: locked in ascending id order, like
    -- cd_batch_read's own locks, so two batches never wait on each other
    -- in a circle.
    UPDATE JSON_TABLE(v_ids, '$[*]' COLUMNS (id BIGINT UNSIGNED PATH '$')) j
      STRAIGHT_JOIN accounts a ON a.id = j.id
       SET a.row_version = a.row_version;
  END IF;
  CALL cd_batch_read(p_lock, p_page, p_ids, p_ext, p_holds, p_reqs, p_members, p_usages, p_spend_ids, p_spend_ext, p_keys);
END;
