"""chaos_keys.py: the authorization matrix (docs/api.md, "Keys: scopes and bound keys"), with
chaos_input.py's helpers (sending, the ledger before and after).

Owns one scenario:

- authorization_matrix: every route of creditd's router (read from
  src/http/router.c, so a new route without a row here fails; the gateway's
  own, in the providers' shapes, are the integration tests') against no
  key, malformed keys, an unknown key, a revoked key, keys of a lower
  scope, an end user's gateway key (403 on every one) and keys of the
  right scope: 401 `unauthorized` / 403 `forbidden` as §5 says,
  nothing changed by any refused request; the Stripe webhook refuses a bad
  signature with 400 whatever key is sent; /healthz and /metrics answer 200
  with any key or none.
"""
import os
import re
import time

import lib
from lib import ENV, api, check, new_account, uid
import stack
from chaos_input import (authorize, creditd_unharmed, encode_body, error_problems, ledger_changes, ledger_snapshot, q,
                         sign, stripe_event)


# ---- the authorization matrix ---------------------------------------------------

SCOPE_NAMES = {"0": "none", "-1": "stripe", "ROUTE_STRIPE": "stripe", "ROUTE_BROWSER": "browser",
               "ROUTE_PREFLIGHT": "preflight", "KEY_SCOPE_GUARD": "guard", "KEY_SCOPE_READ": "read",
               "KEY_SCOPE_APP": "app", "KEY_SCOPE_ADMIN": "admin", "ROUTE_GATEWAY": "gateway", "ROUTE_HOLD": "hold",
               "ROUTE_OPERATOR": "operator", "ROUTE_PROVIDER_SIGNED": "provider_signed"}
# Which stack keys a scope lets in (keys.c keys_allows: admin may use every
# route, app what read may and its own, guard and read only their own;
# "guard,read" both of those; a gateway key, an end user's, none of these:
# it opens the gateway's routes only, which are not in the matrix).
ALLOWS = {"guard": {"guard", "admin", "guard,read"}, "read": {"read", "app", "admin", "guard,read"},
          "app": {"app", "admin"}, "admin": {"admin"},
          # GET /v1/holds/{hold_id}: any key that reads or guards, and the
          # account's own gateway key (the hold is of its account).
          "hold": {"guard", "read", "app", "admin", "guard,read", "gateway"},
          # The operator's reads (docs/api.md, "The operator's reads"): a
          # read or admin key bound to no account; an app key is an app's.
          "operator": {"read", "admin", "guard,read"}}


def router_routes():
    """(method, pattern, scope) of every entry of routes[] in src/http/router.c
    but the gateway's (/openai/, /anthropic/): those answer in the
    providers' error shapes (Anthropic's has no param), and their keys are
    tests/integration/test_80_gateway.py's and test_83_gateway_keys.py's;
    and the console's (/console/): a session cookie opens them, not a key
    (tests/integration/test_93_console_session.py, test_95)."""
    with open(os.path.join(stack.ROOT, "src", "http", "router.c")) as f:
        text = f.read()
    table = text[text.index("routes[] = {"):]
    table = table[:table.index("};")]
    found = re.findall(r'\{"([A-Z]+)",\s*"([^"]+)",\s*([-\w]+),', table)
    check(len(found) >= 10, "could not read routes[] in router.c")
    return [(m, p, SCOPE_NAMES[s]) for m, p, s in found if not p.startswith(("/openai/", "/anthropic/", "/console/"))]


def new_key(scope, revoke=False):
    p = lib.creditctl("key", "create", "--scope", scope, "--name", uid("chaos-" + scope.replace(",", "-")))
    key = p.stdout.strip()
    check(key.startswith("crd_"), "creditctl key create printed %r" % key)
    if revoke:
        m = re.search(r"key (\d+) created", p.stderr)
        check(m is not None, "no key id in %r" % p.stderr)
        lib.creditctl("key", "revoke", m.group(1))
    return key


def authorization_matrix(short):
    acct = new_account("authz")
    ws = new_account("authz-ws", kind="workspace")
    hold = authorize(acct)
    settle_hold = authorize(acct)
    A = "/v1/accounts/" + q(acct)
    W = "/v1/accounts/" + q(ws)
    promo = uid("AUTHZ")
    check(api("POST", "/v1/promo_codes", {"code": promo, "amount_micros": 1000}).status == 201, "promo code")
    # One request per route: valid (or cheap) bodies, so that only the key
    # decides; the same request is sent with every key.
    requests = {
        ("GET", "/healthz"): ("/healthz", None),
        ("GET", "/metrics"): ("/metrics", None),
        ("GET", "/v1/models"): ("/v1/models", None),
        ("POST", "/v1/accounts"): ("/v1/accounts", {"id": uid("authz-new"), "kind": "user"}),
        ("GET", "/v1/accounts/*"): (A, None),
        ("PATCH", "/v1/accounts/*"): (A, {"low_balance_micros": 1000}),
        ("GET", "/v1/accounts/*/transactions"): (A + "/transactions?limit=5", None),
        ("GET", "/v1/accounts/*/usage"): (A + "/usage?group_by=day", None),
        ("POST", "/v1/accounts/*/grants"): (A + "/grants", {"amount_micros": 1000, "source": "promo"}),
        ("POST", "/v1/accounts/*/debits"): (A + "/debits", {"amount_micros": 1000, "reason": "authz matrix"}),
        ("POST", "/v1/accounts/*/topup"): (A + "/topup", {"amount_cents": 1000}),
        ("POST", "/v1/accounts/*/members"): (W + "/members", {"member": "m1", "monthly_cap_micros": 5000000}),
        ("DELETE", "/v1/accounts/*/members/*"): (W + "/members/m1", None),
        ("POST", "/v1/accounts/*/redeem"): (A + "/redeem", {"code": promo}),
        ("POST", "/v1/promo_codes"): ("/v1/promo_codes", {"code": uid("AUTHZ-NEW"), "amount_micros": 1000}),
        ("GET", "/v1/plans"): ("/v1/plans", None),
        ("PUT", "/v1/plans/*"): ("/v1/plans/authz-plan", {"credits_micros": 0, "rollover": "none"}),
        ("GET", "/v1/events"): ("/v1/events?limit=5", None),
        ("POST", "/v1/accounts/*/browser_tokens"): (A + "/browser_tokens", {}),
        ("POST", "/v1/accounts/*/gateway_keys"): (A + "/gateway_keys", {}),
        ("GET", "/v1/accounts/*/gateway_keys"): (A + "/gateway_keys?limit=5", None),
        ("DELETE", "/v1/accounts/*/gateway_keys/*"): (A + "/gateway_keys/gwk_999999999999", None),
        ("PUT", "/v1/accounts/*/alerts"): (A + "/alerts", {"alerts": [{"kind": "balance_below", "micros": 1000}]}),
        ("GET", "/v1/accounts/*/alerts"): (A + "/alerts", None),
        ("GET", "/v1/accounts/*/referral_code"): (A + "/referral_code", None),
        ("GET", "/v1/me"): ("/v1/me", None),
        ("GET", "/v1/me/transactions"): ("/v1/me/transactions?limit=2", None),
        ("GET", "/v1/me/usage"): ("/v1/me/usage?group_by=model", None),
        ("POST", "/v1/me/topup"): ("/v1/me/topup", {"amount_cents": 1000}),
        ("OPTIONS", "/v1/me"): ("/v1/me", None),
        ("OPTIONS", "/v1/me/transactions"): ("/v1/me/transactions", None),
        ("OPTIONS", "/v1/me/usage"): ("/v1/me/usage", None),
        ("OPTIONS", "/v1/me/topup"): ("/v1/me/topup", None),
        ("GET", "/widget/creditd-widget.js"): ("/widget/creditd-widget.js", None),
        ("POST", "/v1/guard/authorize"): ("/v1/guard/authorize", {
            "account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10, "max_output_tokens": 10,
            "request_id": uid("authz-req")}),
        ("POST", "/v1/guard/settle"): ("/v1/guard/settle", {"hold_id": settle_hold, "input_tokens": 10,
                                                            "output_tokens": 10}),
        ("POST", "/v1/guard/release"): ("/v1/guard/release", {"hold_id": hold}),
        ("POST", "/v1/usage"): ("/v1/usage", {"account": acct, "model": "gpt-3.5-turbo", "input_tokens": 10,
                                              "output_tokens": 10, "request_id": uid("authz-use")}),
        ("POST", "/v1/webhooks/stripe"): ("/v1/webhooks/stripe", None),
        ("GET", "/v1/holds/*"): ("/v1/holds/" + hold, None),
        ("PUT", "/v1/models/*"): ("/v1/models/" + uid("authz-model"), {}),
        ("GET", "/v1/models/*/history"): ("/v1/models/gpt-4o/history", None),
        ("GET", "/v1/accounts"): ("/v1/accounts?q=authz&limit=5", None),
        ("GET", "/v1/health"): ("/v1/health", None),
        ("GET", "/v1/overview"): ("/v1/overview", None),
        ("GET", "/v1/keys"): ("/v1/keys", None),
        ("POST", "/v1/keys"): ("/v1/keys", {}),
        ("DELETE", "/v1/keys/*"): ("/v1/keys/999999999", None),
        ("GET", "/v1/reconcile"): ("/v1/reconcile", None),
        ("GET", "/v1/mails"): ("/v1/mails?status=failed", None),
        ("POST", "/v1/mails/*/retry"): ("/v1/mails/999999999/retry", None),
        ("POST", "/v1/models/import"): ("/v1/models/import", {"prices": [], "dry_run": True}),
        ("GET", "/v1/accounts/*/holds"): (A + "/holds?limit=5", None),
        ("GET", "/v1/accounts/*/topups"): (A + "/topups?limit=5", None),
        ("GET", "/v1/accounts/*/referrals"): (A + "/referrals?limit=5", None),
        ("POST", "/v1/webhooks/openai"): ("/v1/webhooks/openai", None),
    }
    routes = router_routes()
    missing = [(m, p) for m, p, _ in routes if (m, p) not in requests]
    check(not missing, "routes of router.c without a row in the matrix: %s" % missing)

    keys = {"guard": ENV["CREDITD_GUARD_KEY"], "read": ENV["CREDITD_READ_KEY"], "app": ENV["CREDITD_APP_KEY"],
            "admin": ENV["CREDITD_ADMIN_KEY"], "guard,read": new_key("guard,read"),
            "gateway": api("POST", A + "/gateway_keys", {}, auth="app").json["key"]}
    revoked = {s: new_key(s, revoke=True) for s in ("guard", "read", "app", "admin")}
    unknown = "crd_" + os.urandom(32).hex()
    bad_auth = {"none": None, "Bearer nope": "Bearer nope", "Bearer crd_+10": "Bearer crd_0123456789",
                "Basic abc": "Basic abc", "unknown key": "Bearer " + unknown,
                "uppercase key": "Bearer " + keys["admin"].upper(),
                "Token scheme": "Token " + keys["admin"], "key without scheme": keys["admin"]}
    event = stripe_event(acct)
    now = int(time.time())
    bad_sigs = {"no signature": None, "garbage": "t=1,v1=abc", "zero mac": "t=%d,v1=%s" % (now, "0" * 64),
                "wrong secret": sign(event, now, "whsec_wrong"), "stale": sign(event, now - 3600)}

    def call(method, path, body, authorization, extra=None):
        headers = dict(extra or {})
        if authorization is not None:
            headers["Authorization"] = authorization
        return api(method, path, auth=None, headers=headers, raw=encode_body(body))

    cells, failures, allowed = 0, [], []

    def expect(label, r, status, code):
        nonlocal cells
        cells += 1
        problems = error_problems(r, status, code, None)
        if problems:
            failures.append("%s -> %s (%s)" % (label, "; ".join(problems), r.raw[:200]))

    browser_token = api("POST", A + "/browser_tokens", {}, auth="app").json["token"]
    before = ledger_snapshot()
    pid = stack.creditd_pid()
    for method, pattern, scope in routes:
        path, body = requests[(method, pattern)]
        where = "%s %s" % (method, pattern)
        if scope == "preflight":
            for name, authorization in list(bad_auth.items()) + [("admin key", "Bearer " + keys["admin"])]:
                r = call(method, path, body, authorization)
                cells += 1
                if r.status != 204:
                    failures.append("%s with %s -> %d, want 204" % (where, name, r.status))
            continue
        if scope == "browser":
            # A browser token only: every API key, even admin, is a 401 here.
            for name, authorization in list(bad_auth.items()) + [
                    ("%s key" % s, "Bearer " + k) for s, k in keys.items()]:
                expect("%s with %s" % (where, name), call(method, path, body, authorization), 401, "unauthorized")
            allowed.append((where, method, path, body, "browser token", browser_token))
            continue
        if scope == "none":
            for name, authorization in list(bad_auth.items()) + [
                    ("%s key" % s, "Bearer " + k) for s, k in keys.items()] + [
                    ("revoked %s key" % s, "Bearer " + k) for s, k in revoked.items()]:
                r = call(method, path, body, authorization)
                cells += 1
                if r.status != 200:
                    failures.append("%s with %s -> %d, want 200 (%s)" % (where, name, r.status, r.raw[:200]))
            continue
        if scope == "stripe":
            for sig_name, sig in bad_sigs.items():
                for name, authorization in [("no key", None), ("admin key", "Bearer " + keys["admin"]),
                                            ("guard key", "Bearer " + keys["guard"]), ("Basic abc", "Basic abc")]:
                    extra = {"Stripe-Signature": sig} if sig is not None else {}
                    r = call(method, path, event, authorization, extra)
                    expect("%s, %s, %s" % (where, sig_name, name), r, 400, "invalid_request")
            continue
        if scope == "provider_signed":
            # A provider's webhook (OpenAI's, Standard Webhooks): no key
            # opens it, a bad or missing signature is refused (400), or
            # 404 where no secret is set; nothing else is looked at.
            for sig_name, sig in (("no signature", None), ("a bad signature", "v1,AAAA")):
                for name, authorization in [("no key", None), ("admin key", "Bearer " + keys["admin"]),
                                            ("Basic abc", "Basic abc")]:
                    extra = {"webhook-id": "msg_chaos", "webhook-timestamp": str(int(time.time())),
                             "webhook-signature": sig} if sig is not None else {}
                    r = call(method, path, b'{"type":"response.completed","data":{"id":"resp_chaos"}}',
                             authorization, extra)
                    cells += 1
                    if r.status not in (400, 404):
                        failures.append("%s, %s, %s -> %d, want 400 or 404 (%s)" % (where, sig_name, name, r.status,
                                                                                  r.raw[:200]))
            continue
        for name, authorization in bad_auth.items():
            expect("%s with %s" % (where, name), call(method, path, body, authorization), 401, "unauthorized")
        expect("%s with a revoked %s key" % (where, scope), call(method, path, body,
                                                                "Bearer " + revoked.get(scope, revoked["read"])),
               401, "unauthorized")
        if scope != "admin":
            expect("%s with a revoked admin key" % where, call(method, path, body, "Bearer " + revoked["admin"]),
                   401, "unauthorized")
        for s, k in keys.items():
            if s in ALLOWS[scope]:
                allowed.append((where, method, path, body, s, k))
            else:
                expect("%s with a %s key" % (where, s), call(method, path, body, "Bearer " + k), 403, "forbidden")
    refused = cells
    failures += ledger_changes(before, "requests refused for their key")
    # The right keys last: they may change the ledger.
    for where, method, path, body, s, k in allowed:
        r = call(method, path, body, "Bearer " + k)
        cells += 1
        if r.status in (401, 403) or r.status >= 500:
            failures.append("%s with a %s key -> %d, want neither 401 nor 403 (%s)" % (where, s, r.status,
                                                                                   r.raw[:200]))
    creditd_unharmed(pid)
    check(not failures, "%d of %d cells answered wrong:\n  %s" % (len(failures), cells, "\n  ".join(failures)))
    return {"cells": cells, "refused": refused, "allowed": len(allowed), "routes": len(routes)}


SCENARIOS = [authorization_matrix]
