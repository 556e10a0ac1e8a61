/* test_spend.c: the spending order's burn (money_rule.c money_rule_spend_burn and
 * money_rule_spend_debt): grants are burnt in the order given (the spending order),
 * each only down to zero, debt rows never burnt; what is left goes onto
 * the debt row, or is reported when there is none. */
#include "money_rule.h"
#include "tap.h"
#include <string.h>

int main(void)
{
	struct spend_grant g[4] = {{1, 100, 0, 0}, {2, 0, 1, 0}, {3, 50, 0, 0}, {4, 70, 0, 0}};
	is_int(money_rule_spend_burn(g, 4, 120), 0, "120 fits in the grants");
	is_int(g[0].remaining, 0, "the first grant burnt whole");
	ok(g[0].changed, "and marked changed");
	is_int(g[1].remaining, 0, "a debt row is never burnt");
	ok(!g[1].changed, "nor marked");
	is_int(g[2].remaining, 30, "the next grant takes the rest");
	ok(g[2].changed, "marked changed");
	is_int(g[3].remaining, 70, "a later grant is untouched");
	ok(!g[3].changed, "and not marked");
	is_int(money_rule_spend_burn(g, 4, 130), 30, "past every grant: 30 left over");
	is_int(g[2].remaining + g[3].remaining, 0, "every positive grant at zero, none below");
	ok(money_rule_spend_debt(g, 4, 30), "the leftover goes onto the debt row");
	is_int(g[1].remaining, -30, "which carries it");
	ok(g[1].changed, "debt row marked changed");
	struct spend_grant none[1] = {{9, 5, 0, 0}};
	is_int(money_rule_spend_burn(none, 1, 8), 3, "3 left after a grant of 5");
	ok(!money_rule_spend_debt(none, 1, 3), "no debt row: the caller adds one");
	is_int(none[0].remaining, 0, "the grant at zero");
	is_int(money_rule_spend_burn(none, 1, 0), 0, "nothing to burn: nothing left");
	return done_testing();
}
