/* test_noderoute.c: rendezvous routing over the database nodes: the same
 * account always lands on the same node, whatever the order the nodes are
 * listed in; accounts spread over the nodes; when a node goes down only
 * its accounts move, and they come back when it returns; no live node is
 * -1; the node of no account is one node, the same for everyone. */
#include "store_noderoute.h"
#include "tap.h"
#include <stdio.h>

#define ACCOUNTS 3000

int main(void)
{
	const char *names[] = {"10.0.0.1:3306", "10.0.0.2:3306", "10.0.0.3:3306"};
	const char *reversed[] = {"10.0.0.3:3306", "10.0.0.2:3306", "10.0.0.1:3306"};
	static int first[ACCOUNTS];
	char id[32];
	int per_node[3] = {0, 0, 0};

	store_noderoute_init(3, names);
	is_int(store_noderoute_count(), 3, "three nodes");
	is_int(store_noderoute_live(), 3, "all start up");
	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		first[i] = store_noderoute_pick(id);
		per_node[first[i]]++;
	}
	for (int n = 0; n < 3; n++)
		ok(per_node[n] > ACCOUNTS / 3 - ACCOUNTS / 10 && per_node[n] < ACCOUNTS / 3 + ACCOUNTS / 10,
		   "node %d serves about a third of the accounts (%d of %d)", n, per_node[n], ACCOUNTS);
	int again = 0;
	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		again += store_noderoute_pick(id) == first[i];
	}
	is_int(again, ACCOUNTS, "the same account, the same node");
	int none = store_noderoute_pick(NULL);
	ok(none >= 0 && none == store_noderoute_pick(NULL), "the node of no account is one node (%d)", none);

	/* Node 1 goes down: its accounts move, the others stay put. */
	is_int(store_noderoute_set(1, 0), 1, "node 1 was up");
	unsigned epoch = store_noderoute_epoch(1);
	is_int(store_noderoute_live(), 2, "two live");
	int moved = 0, stayed = 0, onto_dead = 0;
	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		int now = store_noderoute_pick(id);
		onto_dead += now == 1;
		if (first[i] == 1)
			moved += now != 1;
		else
			stayed += now == first[i];
	}
	is_int(onto_dead, 0, "no account routes to the dead node");
	is_int(moved, per_node[1], "every account of node 1 moved");
	is_int(stayed, ACCOUNTS - per_node[1], "no other account moved");
	ok(store_noderoute_pick(NULL) != 1, "the node of no account is a live one");
	is_int(store_noderoute_set(1, 0), 0, "setting it down again says it was down");
	is_int(store_noderoute_epoch(1), epoch, "and does not count a second going-down");

	/* It comes back: every account is where it was. */
	store_noderoute_set(1, 1);
	again = 0;
	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		again += store_noderoute_pick(id) == first[i];
	}
	is_int(again, ACCOUNTS, "back up: every account on its node again");
	is_int(store_noderoute_pick(NULL), none, "and the node of no account too");

	for (int n = 0; n < 3; n++)
		store_noderoute_set(n, 0);
	is_int(store_noderoute_pick("acct-1"), -1, "no node up: -1");
	is_int(store_noderoute_pick(NULL), -1, "for no account either");

	/* Another instance listing the nodes in another order agrees. */
	store_noderoute_init(3, reversed);
	int agree = 0;
	for (int i = 0; i < ACCOUNTS; i++) {
		snprintf(id, sizeof(id), "acct-%d", i);
		agree += reversed[store_noderoute_pick(id)] == names[first[i]];
	}
	is_int(agree, ACCOUNTS, "the order of the list does not matter");

	store_noderoute_init(1, NULL);
	is_int(store_noderoute_pick("anything"), 0, "one node serves everything");
	return done_testing();
}
