-- 032_member_reserves.sql: a member row's reserve is the sum of the
-- member's pending holds, as an account's is. A row made by POST
-- …/members while the member had holds pending (made when it had no
-- row: a guard call may name any member) started at 0, and each of those
-- holds' settles, releases and expiries took its amount off it: creditd
-- stopped on the settle's assertion that a reserve never goes below 0,
-- or the sweep stored a negative reserve. Rows are now made with their
-- pending holds (src/ledger_members.c member_create) and creditctl
-- verify checks it ("member reserved vs holds"); this puts the rows made
-- before right. Pending holds are few (holds.ix_state_expires).
UPDATE members m
  LEFT JOIN (SELECT account_id, member, SUM(amount_micros) s FROM holds
              WHERE state = 'pending' AND member IS NOT NULL GROUP BY account_id, member) h
    ON h.account_id = m.account_id AND h.member = m.member
   SET m.reserved_micros = COALESCE(h.s, 0)
 WHERE m.reserved_micros <> COALESCE(h.s, 0);
