/* ledger_verify.c: the invariant checker behind `creditctl verify`. Each
 * check is one SQL statement over the whole ledger (one snapshot each:
 * the connection reads committed), rows out being findings: the account,
 * the two numbers that disagree, and for a graded check whether it is
 * only a warning. creditctl runs the checks one at a time
 * (ledger_verify_step) and says between them how far it is: on a ledger of
 * tens of millions of rows the whole takes minutes (docs/growth.md).
 * Never called on the request path. */
#include "ledger_due.h"
#include "ledger_periods.h"
#include "log.h"
#include <stdio.h>
#include <string.h>
struct check {
	const char *what;
	const char *sql;	/* rows: account, left, right (and, graded, warning) */
	const char *left, *right;
	int graded;		/* a fourth column: 1 a warning, 0 a violation */
};

/* The UTC month key (202611) of a unix time column, as timefmt_month_key
 * makes it: an interval on a plain DATETIME, so no session time zone. */
#define MONTH_OF(col) "EXTRACT(YEAR_MONTH FROM TIMESTAMP '1970-01-01 00:00:00' + INTERVAL " col " SECOND)"

static const struct check checks[] = {
	{"balance vs journal",
	 "SELECT a.ext_id, a.balance_micros, COALESCE(j.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(amount_micros) s FROM journal GROUP BY account_id) j ON j.account_id = a.id "
	 "WHERE a.balance_micros <> COALESCE(j.s, 0)", "balance_micros", "sum of journal", 0},
	{"balance vs grants",
	 "SELECT a.ext_id, a.balance_micros, COALESCE(g.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(remaining_micros) s FROM grants GROUP BY account_id) g ON g.account_id = a.id "
	 "WHERE a.balance_micros <> COALESCE(g.s, 0)", "balance_micros", "sum of remaining grants", 0},
	{"reserved vs holds",
	 "SELECT a.ext_id, a.reserved_micros, COALESCE(h.s, 0) FROM accounts a LEFT JOIN "
	 "(SELECT account_id, SUM(amount_micros) s FROM holds WHERE state = 'pending' GROUP BY account_id) h "
	 "ON h.account_id = a.id WHERE a.reserved_micros <> COALESCE(h.s, 0)", "reserved_micros", "sum of pending holds", 0},
	{"journal chain",
	 "SELECT a.ext_id, x.balance_after_micros, x.expected FROM (SELECT account_id, id, balance_after_micros, "
	 "SUM(amount_micros) OVER (PARTITION BY account_id ORDER BY id) expected FROM journal) x "
	 "JOIN accounts a ON a.id = x.account_id WHERE x.balance_after_micros <> x.expected",
	 "balance_after_micros", "running sum of journal", 0},
	{"grant remaining",
	 "SELECT a.ext_id, g.remaining_micros, g.amount_micros FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source <> 'debt' AND (g.remaining_micros < 0 OR g.remaining_micros > g.amount_micros)",
	 "remaining_micros", "amount_micros (0 <= remaining <= amount)", 0},
	{"debt row",
	 "SELECT a.ext_id, g.remaining_micros, 0 FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source = 'debt' AND g.remaining_micros > 0", "debt remaining_micros", "at most", 0},
	{"debt beside credit",
	 "SELECT a.ext_id, SUM(g.remaining_micros < 0), SUM(g.remaining_micros > 0) FROM grants g "
	 "JOIN accounts a ON a.id = g.account_id GROUP BY a.id, a.ext_id "
	 "HAVING SUM(g.remaining_micros < 0) > 0 AND SUM(g.remaining_micros > 0) > 0",
	 "debt rows", "positive grants (debt must be repaid first)", 0},
	{"negative reserve",
	 "SELECT ext_id, reserved_micros, 0 FROM accounts WHERE reserved_micros < 0", "reserved_micros", "zero", 0},
	{"top-up credited twice",
	 "SELECT a.ext_id, COUNT(*), 1 FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.source = 'topup' GROUP BY a.ext_id, g.reference HAVING COUNT(*) > 1", "grants for one session", "one", 0},
	/* An invoice of a price in no plan credits once (migration 026): its
	 * row in invoice_credits and its plan grant, which names it, go
	 * together. A period grant is named <plan>:<period>, never in_... */
	{"invoice credit without its grant",
	 "SELECT a.ext_id, ic.invoice_id, 'none' FROM invoice_credits ic JOIN accounts a ON a.id = ic.account_id "
	 "LEFT JOIN grants g ON g.id = ic.grant_id AND g.account_id = ic.account_id AND g.source = 'plan' "
	 "AND g.reference = ic.invoice_id WHERE ic.grant_id IS NOT NULL AND g.id IS NULL", "invoice credit",
	 "its plan grant naming the invoice", 0},
	/* docs/api.md, "POST /v1/webhooks/stripe": an invoice credit keeps
	 * the payment that paid it, for its refunds and disputes; rows from
	 * before migration 030 have no paid_cents. From API 2025-03-31 on the
	 * payment comes in its own event, invoice_payment.paid, seconds
	 * after: a row of the last hour without it is a warning, an older one
	 * a violation (the endpoint is not subscribed to
	 * invoice_payment.paid). */
	{"invoice credit without its payment",
	 "SELECT a.ext_id, ic.invoice_id, 'none', ic.created_at > UNIX_TIMESTAMP() - 3600 FROM invoice_credits ic "
	 "JOIN accounts a ON a.id = ic.account_id "
	 "WHERE ic.paid_cents > 0 AND ic.payment_intent IS NULL AND ic.charge_id IS NULL",
	 "invoice credit", "its payment intent or charge (invoice_payment.paid)", 1},
	/* The link itself: a payment invoice_payment.paid named that its
	 * invoice's credit does not (at any age: both events came). A refund
	 * waiting for a credit is no finding: a charge of the Stripe account
	 * that is not creditd's waits for ever, harmlessly. */
	{"invoice payment not named on its credit",
	 "SELECT a.ext_id, ip.invoice_id, COALESCE(ip.payment_intent, ip.charge_id) FROM invoice_payments ip "
	 "JOIN invoice_credits ic ON ic.invoice_id = ip.invoice_id JOIN accounts a ON a.id = ic.account_id "
	 "WHERE (ip.payment_intent IS NOT NULL OR ip.charge_id IS NOT NULL) AND NOT ((ip.payment_intent IS NOT NULL "
	 "AND ic.payment_intent <=> ip.payment_intent) OR (ip.charge_id IS NOT NULL AND ic.charge_id <=> ip.charge_id))",
	 "invoice", "the payment its invoice_payment.paid named", 0},
	{"refund and dispute beyond invoice credit",
	 "SELECT a.ext_id, ic.refunded_micros + ic.disputed_micros, ic.credited_micros FROM invoice_credits ic "
	 "JOIN accounts a ON a.id = ic.account_id WHERE ic.disputed_micros < 0 OR ic.refunded_micros < 0 OR "
	 "ic.refunded_micros + ic.disputed_micros > ic.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	{"dispute vs its invoice credit",
	 "SELECT a.ext_id, ic.disputed_micros, COALESCE(SUM(d.taken_micros - d.returned_micros), 0) FROM invoice_credits ic "
	 "JOIN accounts a ON a.id = ic.account_id JOIN disputes d ON d.invoice_credit_id = ic.id "
	 "GROUP BY ic.id, a.ext_id, ic.disputed_micros HAVING ic.disputed_micros <> SUM(d.taken_micros - d.returned_micros)",
	 "disputed_micros", "taken less returned by its disputes", 0},
	{"invoice grant without its credit row",
	 "SELECT a.ext_id, g.reference, 'none' FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "LEFT JOIN invoice_credits ic ON ic.invoice_id = g.reference AND ic.grant_id = g.id "
	 "WHERE g.source = 'plan' AND LEFT(g.reference, 3) = BINARY 'in_' AND LOCATE(':', g.reference) = 0 "
	 "AND ic.grant_id IS NULL",
	 "invoice grant", "its row in invoice_credits", 0},
	/* A top-up credits what it quoted when it started
	 * (docs/decisions.md, "A top-up credits its quote"); rows made before
	 * the quote was kept (028) have none. */
	{"top-up credit vs its quote",
	 "SELECT a.ext_id, t.credited_micros, t.quoted_micros FROM topups t JOIN accounts a ON a.id = t.account_id "
	 "WHERE t.status = 'credited' AND t.quoted_micros IS NOT NULL AND t.credited_micros <> t.quoted_micros",
	 "credited_micros", "quoted_micros", 0},
	{"refund beyond top-up",
	 "SELECT a.ext_id, t.refunded_micros, t.credited_micros FROM topups t JOIN accounts a ON a.id = t.account_id "
	 "WHERE t.refunded_micros > t.credited_micros", "refunded_micros", "credited_micros", 0},
	/* A dispute takes back at most what its top-up credited less refunds,
	 * and the top-up's disputed_micros is what its disputes hold now. */
	{"refund and dispute beyond top-up",
	 "SELECT a.ext_id, t.refunded_micros + t.disputed_micros, t.credited_micros FROM topups t "
	 "JOIN accounts a ON a.id = t.account_id WHERE t.disputed_micros < 0 OR "
	 "t.refunded_micros + t.disputed_micros > t.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	{"dispute vs its top-up",
	 "SELECT a.ext_id, t.disputed_micros, COALESCE(SUM(d.taken_micros - d.returned_micros), 0) FROM topups t "
	 "JOIN accounts a ON a.id = t.account_id JOIN disputes d ON d.topup_id = t.id "
	 "GROUP BY t.id, a.ext_id, t.disputed_micros HAVING t.disputed_micros <> SUM(d.taken_micros - d.returned_micros)",
	 "disputed_micros", "taken less returned by its disputes", 0},
	/* The same of an auto-recharge's credit (a Stripe-funded credit too). */
	{"refund and dispute beyond recharge",
	 "SELECT a.ext_id, r.refunded_micros + r.disputed_micros, r.credited_micros FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id WHERE r.disputed_micros < 0 OR r.refunded_micros < 0 OR "
	 "r.refunded_micros + r.disputed_micros > r.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	{"dispute vs its recharge",
	 "SELECT a.ext_id, r.disputed_micros, COALESCE(SUM(d.taken_micros - d.returned_micros), 0) FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id JOIN disputes d ON d.recharge_id = r.id "
	 "GROUP BY r.id, a.ext_id, r.disputed_micros HAVING r.disputed_micros <> SUM(d.taken_micros - d.returned_micros)",
	 "disputed_micros", "taken less returned by its disputes", 0},
	/* A charge refunded in full took back the whole credit: what the
	 * refund took and what disputes hold add up to it (a refund made
	 * while a dispute held the credit takes the dispute's hold over). */
	{"fully refunded, credit kept",
	 "SELECT a.ext_id, x.refunded_micros + x.disputed_micros, x.credited_micros FROM "
	 "(SELECT account_id, refunded_micros, disputed_micros, credited_micros, refunded_cents, paid_cents FROM topups "
	 "WHERE status = 'credited' UNION ALL SELECT account_id, refunded_micros, disputed_micros, credited_micros, "
	 "refunded_cents, paid_cents FROM recharges WHERE state = 'succeeded' UNION ALL SELECT account_id, "
	 "refunded_micros, disputed_micros, credited_micros, refunded_cents, paid_cents FROM invoice_credits) x "
	 "JOIN accounts a ON a.id = x.account_id "
	 "WHERE x.paid_cents > 0 AND x.refunded_cents >= x.paid_cents "
	 "AND x.refunded_micros + x.disputed_micros < x.credited_micros",
	 "refunded_micros + disputed_micros", "credited_micros", 0},
	/* A dispute that came before its credit waits only until the credit
	 * is made (the credit applies it in its own transaction). */
	{"dispute waiting beside its credit",
	 "SELECT a.ext_id, d.dispute_id, 'none' FROM disputes d JOIN (SELECT account_id, payment_intent FROM topups "
	 "WHERE status = 'credited' UNION ALL SELECT account_id, payment_intent FROM recharges "
	 "WHERE state = 'succeeded' UNION ALL SELECT account_id, payment_intent FROM invoice_credits) x "
	 "ON x.payment_intent = d.payment_intent JOIN accounts a ON a.id = x.account_id "
	 "WHERE d.account_id IS NULL", "dispute waiting", "none once its payment is credited", 0},
	{"settled hold without usage",
	 "SELECT a.ext_id, COUNT(u.id), 1 FROM holds h JOIN accounts a ON a.id = h.account_id LEFT JOIN usage_records u "
	 "ON u.hold_id = h.id WHERE h.state = 'settled' GROUP BY h.id, a.ext_id HAVING COUNT(u.id) <> 1",
	 "usage rows for a settled hold", "one", 0},
	/* One plan credit per (account, period): the key of plan_periods
	 * makes it once; its grants must add up to what the row says. */
	{"plan credit vs its period",
	 "SELECT a.ext_id, p.credits_micros, COALESCE(SUM(g.amount_micros), 0) FROM plan_periods p "
	 "JOIN accounts a ON a.id = p.account_id LEFT JOIN grants g ON g.account_id = p.account_id "
	 "AND g.period_key = p.period_key AND g.reference NOT LIKE '" PERIOD_ROLLOVER_REF "%' "
	 "GROUP BY p.account_id, p.period_key, a.ext_id, p.credits_micros "
	 "HAVING p.credits_micros > 0 AND p.credits_micros <> COALESCE(SUM(g.amount_micros), 0)",
	 "credits_micros of the period", "sum of its plan grants", 0},
	{"plan rollover vs its period",
	 "SELECT a.ext_id, p.rollover_micros, COALESCE(SUM(g.amount_micros), 0) FROM plan_periods p "
	 "JOIN accounts a ON a.id = p.account_id LEFT JOIN grants g ON g.account_id = p.account_id "
	 "AND g.period_key = p.period_key AND g.reference LIKE '" PERIOD_ROLLOVER_REF "%' "
	 "GROUP BY p.account_id, p.period_key, a.ext_id, p.rollover_micros "
	 "HAVING p.rollover_micros <> COALESCE(SUM(g.amount_micros), 0)",
	 "rollover_micros of the period", "sum of its rollover grants", 0},
	{"plan grant outside a period",
	 "SELECT a.ext_id, g.period_key, 'none' FROM grants g JOIN accounts a ON a.id = g.account_id "
	 "WHERE g.period_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM plan_periods p "
	 "WHERE p.account_id = g.account_id AND p.period_key = g.period_key)", "period_key", "plan_periods row", 0},
	/* An auto-recharge or a collection is credited at most once, and a
	 * succeeded one once: the grants of its PaymentIntent on its account
	 * (a top-up grant for a recharge, a payment for a collection). */
	{"recharge credited other than once",
	 "SELECT a.ext_id, COUNT(g.id), IF(r.state = 'succeeded', 1, 0) FROM recharges r "
	 "JOIN accounts a ON a.id = r.account_id LEFT JOIN grants g ON g.account_id = r.account_id "
	 "AND g.source = IF(r.kind = 'payg', 'payment', 'topup') AND g.reference = r.payment_intent "
	 "GROUP BY r.id, a.ext_id, r.state "
	 "HAVING COUNT(g.id) <> IF(r.state = 'succeeded', 1, 0)", "grants of the recharge", "one if it succeeded, else none", 0},
	/* A collection paid by one try has no other try open at Stripe: the
	 * credit marks them to be cancelled in its transaction
	 * (docs/pay-as-you-go.md, "When the card is refused"; migration 031).
	 * A second try that paid too (it succeeded before its cancel) is
	 * money for the operator to give back: a warning. */
	{"collection try open beside its payment",
	 "SELECT a.ext_id, t.payment_intent, r.payment_intent FROM payg_tries t JOIN recharges r "
	 "ON r.id = t.recharge_id JOIN accounts a ON a.id = r.account_id WHERE r.state = 'succeeded' "
	 "AND t.state = 'open' AND t.payment_intent <> r.payment_intent",
	 "try still open", "the collection's payment", 0},
	{"collection paid by more than one try",
	 "SELECT a.ext_id, COUNT(*), 1, 1 FROM payg_tries t JOIN recharges r ON r.id = t.recharge_id "
	 "JOIN accounts a ON a.id = r.account_id WHERE t.state = 'paid' GROUP BY r.id, a.ext_id HAVING COUNT(*) > 1",
	 "tries paid", "one (refund the others)", 1},
	{"recharge pending without one in flight",
	 "SELECT a.ext_id, a.recharge_pending, 0 FROM accounts a WHERE a.recharge_pending <> 0 AND NOT EXISTS "
	 "(SELECT 1 FROM recharges r WHERE r.account_id = a.id AND r.kind = 'recharge' AND "
	 "r.state IN ('queued', 'sent'))",
	 "recharge_pending", "no recharge queued or sent", 0},
	/* docs/api.md, "POST /v1/webhooks/stripe": no collection or
	 * auto-recharge sent to a disputed card. decided_at is when creditd
	 * decided to send it, having seen no dispute open; a dispute recorded
	 * before that second and not closed by it is a charge sent during the
	 * dispute. */
	{"charge sent during a dispute",
	 "SELECT a.ext_id, r.id, d.dispute_id FROM recharges r JOIN accounts a ON a.id = r.account_id "
	 "JOIN disputes d ON d.account_id = r.account_id WHERE r.decided_at IS NOT NULL "
	 "AND d.created_at < r.decided_at AND (d.closed_at IS NULL OR d.closed_at > r.decided_at)",
	 "recharge id", "no dispute open when it was sent", 0},
	/* At most one auto-recharge and one collection in flight. */
	{"recharges in flight",
	 "SELECT a.ext_id, COUNT(*), 1 FROM recharges r JOIN accounts a ON a.id = r.account_id "
	 "WHERE r.state IN ('queued', 'sent') GROUP BY a.ext_id, r.kind HAVING COUNT(*) > 1",
	 "recharges queued or sent", "at most", 0},
	{"promo redemption count",
	 "SELECT c.code, c.redeemed, COUNT(r.account_id) FROM promo_codes c LEFT JOIN promo_redemptions r "
	 "ON r.promo_id = c.id GROUP BY c.id, c.code, c.redeemed HAVING c.redeemed <> COUNT(r.account_id)",
	 "redeemed", "redemption rows", 0},
	{"promo beyond its maximum",
	 "SELECT code, redeemed, max_redemptions FROM promo_codes WHERE redeemed > max_redemptions",
	 "redeemed", "max_redemptions", 0},
	{"promo redemption without its grant",
	 "SELECT a.ext_id, c.amount_micros, COALESCE(g.amount_micros, 0) FROM promo_redemptions r "
	 "JOIN promo_codes c ON c.id = r.promo_id JOIN accounts a ON a.id = r.account_id "
	 "LEFT JOIN grants g ON g.id = r.grant_id AND g.account_id = r.account_id AND g.source = 'promo' "
	 "WHERE g.amount_micros IS NULL OR g.amount_micros <> c.amount_micros",
	 "the code's amount_micros", "its promo grant", 0},
	/* A referral's grants (migration 052; docs/growth.md): each grant of
	 * source referral is the one a referral names on its side's account,
	 * and a referral taken back left nothing on either. */
	{"referral grant without its referral",
	 "SELECT a.ext_id, g.id, 0 FROM grants g JOIN accounts a ON a.id = g.account_id WHERE g.source = 'referral' "
	 "AND NOT EXISTS (SELECT 1 FROM referrals r WHERE (r.referrer_grant_id = g.id AND r.referrer_id = g.account_id) "
	 "OR (r.referred_grant_id = g.id AND r.referred_id = g.account_id))",
	 "grant id", "a referral naming it", 0},
	{"referral naming another grant",
	 "SELECT a.ext_id, COALESCE(r.referrer_grant_id, 0), COALESCE(r.referred_grant_id, 0) FROM referrals r "
	 "JOIN accounts a ON a.id = r.referred_id WHERE (r.referrer_grant_id IS NOT NULL AND NOT EXISTS (SELECT 1 "
	 "FROM grants g WHERE g.id = r.referrer_grant_id AND g.account_id = r.referrer_id AND g.source = 'referral')) "
	 "OR (r.referred_grant_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.id = r.referred_grant_id "
	 "AND g.account_id = r.referred_id AND g.source = 'referral')) OR ((r.referrer_grant_id IS NOT NULL OR "
	 "r.referred_grant_id IS NOT NULL) AND (r.settled_at IS NULL OR r.topup_id IS NULL))",
	 "referrer_grant_id", "referred_grant_id (each its side's, the referral settled by a top-up)", 0},
	{"referral taken back, grant left",
	 "SELECT a.ext_id, SUM(g.remaining_micros), 0 FROM referrals r JOIN accounts a ON a.id = r.referred_id "
	 "JOIN grants g ON g.id IN (r.referrer_grant_id, r.referred_grant_id) WHERE r.taken_back_at IS NOT NULL "
	 "GROUP BY r.referred_id, a.ext_id HAVING SUM(g.remaining_micros) <> 0",
	 "remaining_micros of its grants", "zero", 0},
	/* A reward held [referral] hold_days (migration 055) waits on a
	 * credited top-up of the referred account that no refund or dispute
	 * has touched (one would have cancelled it), with no grant. */
	{"referral pending",
	 "SELECT a.ext_id, COALESCE(r.topup_id, 0), COALESCE(r.referrer_grant_id, r.referred_grant_id, 0) "
	 "FROM referrals r JOIN accounts a ON a.id = r.referred_id LEFT JOIN topups t ON t.id = r.topup_id "
	 "AND t.account_id = r.referred_id WHERE r.settled_at IS NULL AND (r.due_at IS NOT NULL OR "
	 "r.topup_id IS NOT NULL) AND (r.due_at IS NULL OR t.id IS NULL OR t.status <> 'credited' OR "
	 "t.refunded_micros <> 0 OR t.disputed_micros <> 0 OR r.referrer_grant_id IS NOT NULL OR "
	 "r.referred_grant_id IS NOT NULL OR r.taken_back_at IS NOT NULL)",
	 "topup_id", "a credited top-up, not refunded nor disputed, no grant yet", 0},
	/* An account's usage rows cost what the journal charged for them:
	 * its usage charges (a settle's, a capture and the settle's
	 * difference, direct usage) less the refund grants of late settles
	 * below a captured hold (reference hold_<account>_<hold>). A hold
	 * captured and not settled yet has a charge and no usage row: its
	 * charges wait for the settle. A BYOK usage costs 0 and has no journal
	 * row. Summed per account, not per hold: the journal has no index by
	 * hold, and a grouping by hold over tens of millions of rows takes
	 * minutes where this takes seconds (docs/growth.md). */
	{"usage cost vs journal",
	 "SELECT a.ext_id, COALESCE(u.s, 0), -COALESCE(j.s, 0) FROM accounts a "
	 "LEFT JOIN (SELECT account_id, SUM(cost_micros) s FROM usage_records GROUP BY account_id) u "
	 "ON u.account_id = a.id LEFT JOIN (SELECT account_id, SUM(amount_micros) s FROM journal j "
	 "WHERE (j.cause = 'usage' AND NOT EXISTS (SELECT 1 FROM holds h WHERE h.id = j.hold_id "
	 "AND h.state = 'captured')) OR (j.cause = 'grant' AND j.source = 'refund' AND LEFT(j.reference, 5) = 'hold_') "
	 "GROUP BY account_id) j ON j.account_id = a.id WHERE COALESCE(u.s, 0) <> -COALESCE(j.s, 0)",
	 "sum of usage cost_micros", "its journal charges less late settles' refunds", 0},
	/* A member's month spend is its usage in the month of its month_key
	 * (the row rolls over when next touched), since the row was made,
	 * plus its holds captured then and not settled yet. A late settle of
	 * a hold captured earlier (an earlier month, or before the row was
	 * made) counted only its difference from the capture: the capture's
	 * journal charge (negative) is added back for it. */
	{"member month spend vs usage",
	 "SELECT x.who, x.spent, x.used FROM (SELECT CONCAT(a.ext_id, ' member ', m.member) who, "
	 "m.month_spent_micros spent, (SELECT COALESCE(SUM(u.cost_micros), 0) FROM usage_records u "
	 "WHERE u.account_id = m.account_id AND u.member = m.member AND u.created_at >= m.created_at "
	 "AND " MONTH_OF("u.created_at") " = m.month_key) + (SELECT COALESCE(SUM(h.charged_micros), 0) FROM holds h "
	 "WHERE h.account_id = m.account_id AND h.member = m.member AND h.state = 'captured' "
	 "AND h.finished_at >= m.created_at AND " MONTH_OF("h.finished_at") " = m.month_key) + "
	 "(SELECT COALESCE(SUM(j.amount_micros), 0) FROM usage_records u JOIN journal j ON j.account_id = u.account_id "
	 "AND j.hold_id = u.hold_id AND j.cause = 'usage' WHERE u.account_id = m.account_id AND u.member = m.member "
	 "AND u.created_at >= m.created_at AND " MONTH_OF("u.created_at") " = m.month_key "
	 "AND (j.created_at < m.created_at OR " MONTH_OF("j.created_at") " < m.month_key)) used "
	 "FROM members m JOIN accounts a ON a.id = m.account_id) x WHERE x.spent <> x.used",
	 "month_spent_micros", "its usage this month", 0},
	/* A member row's reserve is its pending holds, as the account's is
	 * (holds made before the row count too: a row is made with them,
	 * ledger_members.c ledger_members_create, sql/086 for the guard's). Pending holds of a member with no
	 * row are not a finding: such a member is recorded, not capped. */
	{"member reserved vs holds",
	 "SELECT CONCAT(a.ext_id, ' member ', m.member), m.reserved_micros, COALESCE(h.s, 0) FROM members m "
	 "JOIN accounts a ON a.id = m.account_id LEFT JOIN (SELECT account_id, member, SUM(amount_micros) s "
	 "FROM holds WHERE state = 'pending' AND member IS NOT NULL GROUP BY account_id, member) h "
	 "ON h.account_id = m.account_id AND h.member = m.member WHERE m.reserved_micros <> COALESCE(h.s, 0)",
	 "member reserved_micros", "sum of its pending holds", 0},
	/* Invariant 5: month spend <= monthly limit, unless a forced usage, a
	 * settle beyond its hold or a late settle (at or after the hold's
	 * expires_at: it reserved nothing any more:
	 * docs/decisions.md, "Expired holds") came that month. A usage row is
	 * written only by a settle, which leaves its hold 'settled': the
	 * hold's state says nothing here. A limit changed during the month
	 * may have been lowered below what the month had committed then
	 * (spend and pending holds, recorded beside monthly_limit_set_at): a
	 * warning while the spend stays within that, a violation beyond it. */
	{"month spend vs monthly limit",
	 "SELECT a.ext_id, a.month_spent_micros, a.monthly_limit_micros, COALESCE(a.monthly_limit_set_at IS NOT NULL "
	 "AND " MONTH_OF("a.monthly_limit_set_at") " >= a.month_key "
	 "AND a.month_spent_micros <= a.monthly_limit_set_committed_micros, 0) "
	 "FROM accounts a WHERE a.monthly_limit_micros IS NOT NULL AND a.month_spent_micros > a.monthly_limit_micros "
	 "AND NOT EXISTS (SELECT 1 FROM journal j WHERE j.account_id = a.id AND j.source = 'forced' "
	 "AND " MONTH_OF("j.created_at") " = a.month_key) AND NOT EXISTS (SELECT 1 FROM usage_records u "
	 "JOIN holds h ON h.id = u.hold_id WHERE u.account_id = a.id AND (u.cost_micros > h.amount_micros "
	 "OR u.created_at >= h.expires_at) AND " MONTH_OF("u.created_at") " = a.month_key)",
	 "month_spent_micros", "monthly_limit_micros", 1},
	/* Only a settle beyond its hold or a late one (see above), a Stripe
	 * refund or dispute, or a usage reported with force (journal source
	 * 'forced') may take an account below -overdraft. */
	{"below the overdraft limit without a late charge",
	 "SELECT a.ext_id, a.balance_micros, -a.overdraft_limit_micros FROM accounts a "
	 "WHERE a.balance_micros < -a.overdraft_limit_micros AND NOT EXISTS (SELECT 1 FROM usage_records u "
	 "JOIN holds h ON h.id = u.hold_id WHERE u.account_id = a.id AND "
	 "(u.cost_micros > h.amount_micros OR u.created_at >= h.expires_at)) AND NOT EXISTS (SELECT 1 FROM journal j "
	 "WHERE j.account_id = a.id AND (j.cause IN ('refund', 'dispute') OR j.source = 'forced'))",
	 "balance_micros", "-overdraft_limit_micros", 0},
};

/* Copies one finding of check c into the report, or counts it past the
 * ones listed. */
static enum cd_err verify_found(const struct check *c, const struct dbstmt *s, struct ledger_verify_report *r)
{
	int warning = c->graded && store_i64(s, 3) != 0;
	*(warning ? &r->warnings : &r->violations) += 1;
	if (r->n == LIMIT_VERIFY_VIOLATIONS) {
		r->more++;
		return CD_OK;
	}
	struct ledger_violation *v = &r->found[r->n];
	v->check = c->what;
	v->left = c->left;
	v->right = c->right;
	v->warning = warning;
	if (store_copy(s, 0, v->account, sizeof(v->account), "NULL") != 0 ||
	    store_copy(s, 1, v->left_value, sizeof(v->left_value), "NULL") != 0 ||
	    store_copy(s, 2, v->right_value, sizeof(v->right_value), "NULL") != 0)
		return CD_E_INTERNAL;
	r->n++;
	return CD_OK;
}

/* The session's memory for a check's grouping and sort (limits.h says
 * why), set before each check: a connection made again after a loss has
 * the defaults. A failure only leaves MariaDB's defaults, slower. */
static void verify_memory(struct store *db)
{
	static const char sql[] = "SET SESSION tmp_table_size = ?, max_heap_table_size = ?, sort_buffer_size = ?";
	if (store_do(db, sql, "verify memory", "iii", (int64_t)LIMIT_VERIFY_TMP_BYTES, (int64_t)LIMIT_VERIFY_TMP_BYTES,
		  (int64_t)LIMIT_VERIFY_SORT_BYTES) != CD_OK)
		log_warn("verify: could not raise the session's memory for grouping and sorting; checks may be slower");
}

/* One check's findings, added to the report. A retried transaction
 * starts the check's part of the report again. */
struct verify_step {
	int i;
	long violations, warnings, more;
	int n;
};

static enum cd_err step_tx(struct store *db, const struct verify_step *from, struct ledger_verify_report *r)
{
	int e;
	const struct check *c = &checks[from->i];
	r->violations = from->violations;
	r->warnings = from->warnings;
	r->more = from->more;
	r->n = from->n;
	verify_memory(db);
	struct dbstmt *s = store_exec(db, c->sql, &e, "");
	if (s == NULL)
		return store_err(db, e, c->what);
	while (store_fetch(s) == 1) {
		enum cd_err rc = verify_found(c, s, r);
		if (rc != CD_OK)
			return rc;
	}
	return CD_OK;
}

int ledger_verify_checks(void)
{
	return (int)(sizeof(checks) / sizeof(checks[0]));
}

const char *ledger_verify_check_name(int i)
{
	return i >= 0 && i < ledger_verify_checks() ? checks[i].what : NULL;
}

void ledger_verify_init(struct ledger_verify_report *report)
{
	report->violations = report->warnings = report->more = 0;
	report->n = 0;
}


enum cd_err ledger_verify_step(struct store *db, int i, struct ledger_verify_report *report)
{
	if (i < 0 || i >= ledger_verify_checks())
		return CD_E_INTERNAL;
	struct verify_step from = {i, report->violations, report->warnings, report->more, report->n};
	struct store_tx t;
	for (store_tx_init(db, &t); store_tx_next(db, &t);)
		store_tx_end(db, &t, step_tx(db, &from, report));
	return t.rc;
}
