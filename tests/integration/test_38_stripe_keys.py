"""test_38_stripe_keys.py: every Idempotency-Key creditd sends Stripe
carries the deployment's salt (DESIGN §13), so that a staging copy of the
database sharing the Stripe account can never replay production's keys:
[stripe] key_salt when set, else derived from the first webhook secret
(each Stripe webhook endpoint has its own), never from the database.
Top-up sessions and customers here; collections (test_33) and
auto-recharges (test_57) check theirs with the same salt."""
import json
import os
import subprocess

from lib import ENV, check, eq, key_salt, new_account
from test_30_stripe import Spawned, acct_path, fake, ok_mode, topup


def keys_for(acct):
    """The Idempotency-Keys of the POSTs creditd sent Stripe for acct's
    top-ups: (customers, checkout sessions)."""
    reqs = fake("GET", "/_requests")
    customers = [r["headers"].get("idempotency-key") for r in reqs if r["path"] == "/v1/customers" and
                 r["method"] == "POST" and acct in json.dumps(r["form"])]
    sessions = [r["headers"].get("idempotency-key") for r in reqs if r["path"] == "/v1/checkout/sessions" and
                r["form"].get("metadata[account]") == acct]
    return customers, sessions


def test_top_up_keys_carry_the_salt_derived_from_the_webhook_secret():
    ok_mode()
    acct = new_account("salt")
    eq(topup(acct, 1000).status, 200, "a top-up without a key")
    eq(topup(acct, 1000).status, 200, "and another")
    customers, sessions = keys_for(acct)
    salt = key_salt()
    eq(len(customers), 1, "one customer made: %r" % customers)
    check(customers[0].startswith("creditd-customer-%s-" % salt), "the customer's key: %r" % customers)
    eq(len(sessions), 2, "two sessions: %r" % sessions)
    for k in sessions:
        check(k.startswith("creditd-topup-%s-" % salt), "a session's key carries the salt: %r" % k)


def test_a_salt_set_in_the_config_is_used_and_checked():
    ok_mode()
    acct = new_account("salted")
    c = Spawned(ENV["CREDITD_WEBHOOK_SECRET"], secret_key="sk_test_salted", api_base=ENV["CREDITD_STRIPE_API_BASE"],
                extra="key_salt = staging_2\n")
    try:
        status, body = c.request("POST", acct_path(acct, "/topup"), json.dumps({"amount_cents": 1000}).encode(),
                                 {"Authorization": "Bearer " + ENV["CREDITD_APP_KEY"]})
        eq(status, 200, "a top-up through a creditd with its own salt: %r" % body)
    finally:
        c.close()
    customers, sessions = keys_for(acct)
    check(customers and customers[0].startswith("creditd-customer-staging_2-"), "the set salt: %r" % customers)
    check(sessions and sessions[0].startswith("creditd-topup-staging_2-"), "the set salt: %r" % sessions)
    binary = os.path.join(os.path.dirname(ENV["CREDITCTL"]), "creditd")
    for bad in ("has space", "x" * 33, "dash-es"):
        path = os.path.join(ENV["CREDITD_STACK_DIR"], "salt.conf")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("[stripe]\nkey_salt = %s\n" % bad)
        p = subprocess.run([binary, "-c", path, "--check-config"], capture_output=True, text=True)
        check(p.returncode != 0 and "stripe.key_salt" in p.stdout + p.stderr, "%r refused: %s" % (bad, p.stderr))
