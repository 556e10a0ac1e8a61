"""test_83_gateway_keys.py: gateway keys for end users (DESIGN §12 "Who
pays"). An app key mints, lists and revokes them under
/v1/accounts/{id}/gateway_keys; the secret is answered once and stored as
its hash. A gateway key charges its own account (and member) through the
gateway's routes, without Creditd-Account, and nothing else: every /v1
route answers it 403, another account's name 404, another member's 403.
A member-bound key is held to the member's cap and rate limits; a revoked
key is refused once the key cache's second is over, an expired one from
its second; the provider's shape throughout."""
import calendar
import json
import time
import urllib.parse

from lib import api, check, clock_now, clock_reset, creditctl, eq, new_account, sql, uid, verify
from test_80_gateway import anthropic_error, body_chat, call, cost, forwarded, mode, openai_error, received, reset, state
from test_24_rate_limits import minute_start

# src/limits.h LIMIT_KEY_CACHE_SECONDS: how long a worker trusts a key it
# looked up; a revoked key must stop working once it is over.
KEY_CACHE_SECONDS = 1


def q(s):
    return urllib.parse.quote(s, safe="")


def mint(acct, auth="app", **body):
    return api("POST", "/v1/accounts/%s/gateway_keys" % q(acct), body, auth=auth)


def gw_key(acct, **body):
    r = mint(acct, **body)
    eq(r.status, 201, "minted: %r" % r)
    return r.json


def listing(acct, query="", auth="app"):
    return api("GET", "/v1/accounts/%s/gateway_keys%s" % (q(acct), query), auth=auth)


def revoke(acct, key_id, auth="app"):
    return api("DELETE", "/v1/accounts/%s/gateway_keys/%s" % (q(acct), q(key_id)), auth=auth)


def gchat(secret, body=None, headers=None):
    """A chat call with the gateway key alone: no Creditd-Account."""
    return call("/openai/v1/chat/completions", body or body_chat(max_completion_tokens=50), auth=secret,
                headers=headers)


def gmessages(secret, headers=None):
    h = {"anthropic-version": "2023-06-01", "x-api-key": secret}
    h.update(headers or {})
    return call("/anthropic/v1/messages", {"model": "claude-haiku-4-5", "max_tokens": 50,
                                           "messages": [{"role": "user", "content": "hi"}]}, auth=None, headers=h)


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def bound_key(scope, acct):
    p = creditctl("key", "create", "--scope", scope, "--account", acct, "--name", uid("gk-" + scope))
    return p.stdout.strip().splitlines()[-1]


# ---- mint, list, revoke ----

def test_mint_list_and_revoke_show_the_secret_once():
    acct = new_account("gk")
    expires = rfc3339(clock_now() + 86400)
    a = gw_key(acct)
    b = gw_key(acct, name="alice's laptop", member="alice", expires_at=expires)
    for k in (a, b):
        check({"id", "key", "member", "name", "expires_at", "created_at"} <= set(k), "its fields: %r" % k)
        check(k["id"].startswith("gwk_"), "a key id: %r" % k["id"])
        check(k["key"].startswith("crd_") and len(k["key"]) == 68, "a creditd key: %r" % k["key"])
        eq(k["prefix"], k["key"][:12], "its first characters")
    eq((a["member"], a["name"], a["expires_at"]), (None, None, None), "nothing asked, nothing set")
    eq((b["member"], b["name"], b["expires_at"]), ("alice", "alice's laptop", expires), "as asked")
    rows = sql("SELECT COUNT(*), MIN(scopes), MIN(member) FROM api_keys WHERE key_hash IN (UNHEX(SHA2('%s', 256)), "
               "UNHEX(SHA2('%s', 256)))" % (a["key"], b["key"]))
    eq(rows, [["2", "16", "alice"]], "stored by their hashes, the gateway scope alone, with the member")
    eq(sql("SELECT COUNT(*) FROM api_keys WHERE CONCAT(prefix, name, IFNULL(member, '')) LIKE '%%%s%%'"
           % a["key"][12:40]), [["0"]], "the rest of the secret is nowhere")

    r = listing(acct)
    eq(r.status, 200, "listed: %r" % r)
    eq([k["id"] for k in r.json["data"]], [a["id"], b["id"]], "oldest first")
    eq((r.json["has_more"], r.json["next_cursor"]), (False, None), "one page")
    for k in r.json["data"]:
        eq(sorted(k), ["created_at", "expires_at", "id", "last_used_at", "member", "models", "name", "prefix"],
           "no secret")
        eq(k["last_used_at"], None, "not used yet")
    check(a["key"].encode() not in r.raw and b["key"].encode() not in r.raw, "the secret is never listed")
    first = listing(acct, "?limit=1")
    eq(([k["id"] for k in first.json["data"]], first.json["has_more"]), ([a["id"]], True), "a page of one")
    second = listing(acct, "?limit=1&cursor=" + first.json["next_cursor"])
    eq(([k["id"] for k in second.json["data"]], second.json["has_more"]), ([b["id"]], False), "then the next")

    r = revoke(acct, a["id"])
    eq(r.status, 200, "revoked: %r" % r)
    eq(r.json["id"], a["id"], "that key")
    check(r.json["revoked_at"] is not None, "with its time: %r" % r.json)
    eq([k["id"] for k in listing(acct).json["data"]], [b["id"]], "gone from the list")
    eq(revoke(acct, a["id"]).status, 404, "revoked already: 404")
    eq(revoke(acct, "gwk_999999999999").status, 404, "no such key")
    eq(revoke(acct, "not-a-key-id").status, 404, "an id of no shape names no key")

    # creditctl lists them like any key (scope and account, never the
    # secret), and makes none: they are the API's.
    out = creditctl("key", "list").stdout
    line = [ln for ln in out.splitlines() if ln.split()[1:2] == [b["key"][:12]]]
    eq(len(line), 1, "listed by creditctl once")
    check(" gateway " in line[0] and acct in line[0], "its scope and account: %r" % line[0])
    check(b["key"] not in out, "never the secret")
    p = creditctl("key", "create", "--scope", "gateway", "--account", acct, check_rc=False)
    eq(p.returncode, 2, "creditctl makes no gateway key: %s" % p.stderr)
    check("gateway_keys" in p.stderr, "it says where they are made: %r" % p.stderr)


# ---- what a gateway key does ----

def test_a_gateway_key_calls_the_gateway_and_its_account_pays():
    reset()
    mode(output_tokens=7)
    acct = new_account("gkpay")
    other = new_account("gkother")
    k = gw_key(acct, name="phone")
    before, other_before = state(acct)[0], state(other)
    r = gchat(k["key"])
    eq(r.status, 200, "answered without Creditd-Account: %r" % r.body[:300])
    charged = cost("gpt-4o-mini", r.json["usage"]["prompt_tokens"], 0, 7)
    eq(int(r.headers["creditd-charged-micros"]), charged, "charged the provider's usage")
    eq(state(acct), (before - charged, 0), "its own account paid")
    eq(state(other), other_before, "no other")
    r = gmessages(k["key"])
    eq(r.status, 200, "Anthropic's route with the key in x-api-key: %r" % r.body[:300])
    eq(call("/openai/v1/models", None, auth=k["key"]).status, 200, "the models list")
    r = gchat(k["key"], headers={"Creditd-Account": acct})
    eq(r.status, 200, "naming its own account is fine: %r" % r.body[:300])
    for up in received():
        check(k["key"] not in json.dumps(up["headers"]), "the gateway key never goes upstream")
    used = listing(acct).json["data"][0]["last_used_at"]
    check(used is not None, "its last use is shown")
    check(abs(calendar.timegm(time.strptime(used, "%Y-%m-%dT%H:%M:%SZ")) - clock_now()) < 120,
          "and recent: %s" % used)
    verify()


def test_a_gateway_key_is_forbidden_on_every_v1_route():
    acct = new_account("gk403")
    k = gw_key(acct)
    own = "/v1/accounts/" + q(acct)
    routes = [("GET", own, None), ("GET", own + "/transactions", None), ("GET", own + "/usage", None),
              ("GET", "/v1/models", None), ("GET", "/v1/plans", None), ("GET", "/v1/events", None),
              ("POST", "/v1/accounts", {"id": uid("gk-new"), "kind": "user"}),
              ("PATCH", own, {"status": "suspended"}),
              ("POST", own + "/grants", {"amount_micros": 1000, "source": "promo"}),
              ("POST", own + "/topup", {"amount_cents": 1000}), ("POST", own + "/browser_tokens", {}),
              ("POST", own + "/redeem", {"code": "NOPE-1234"}),
              ("POST", own + "/gateway_keys", {}), ("GET", own + "/gateway_keys", None),
              ("DELETE", own + "/gateway_keys/" + k["id"], None),
              ("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 10,
                                               "max_output_tokens": 10, "request_id": uid("gk")}),
              ("POST", "/v1/guard/settle", {"hold_id": "hold_1_1", "input_tokens": 1, "output_tokens": 1}),
              ("POST", "/v1/guard/release", {"hold_id": "hold_1_1"}),
              ("POST", "/v1/usage", {"account": acct, "model": "gpt-4o-mini", "input_tokens": 10,
                                     "output_tokens": 10, "request_id": uid("gk")})]
    before = state(acct)
    for method, path, body in routes:
        r = api(method, path, body, auth=k["key"])
        eq((r.status, r.err.get("code")), (403, "forbidden"), "%s %s with a gateway key: %r" % (method, path, r))
    eq(api("GET", "/v1/me", auth=k["key"]).status, 401, "the widget's routes take browser tokens only")
    eq(state(acct), before, "nothing held or charged")
    eq(api("GET", own, auth="read").json["status"], "active", "nothing changed")
    eq([x["id"] for x in listing(acct).json["data"]], [k["id"]], "it revoked nothing, minted nothing")
    eq(gchat(k["key"]).status, 200, "and it still works where it belongs")


def test_a_gateway_key_reaches_its_own_account_only():
    reset()
    mine, theirs = new_account("gkmine"), new_account("gktheirs")
    k = gw_key(mine)
    before = state(mine), state(theirs)
    openai_error(gchat(k["key"], headers={"Creditd-Account": theirs}), 404, "not_found")
    openai_error(gchat(k["key"], headers={"Creditd-Account": uid("nobody")}), 404, "not_found")
    anthropic_error(gmessages(k["key"], headers={"Creditd-Account": theirs}), 404, "not_found_error")
    eq(forwarded(), [], "nothing forwarded")
    eq((state(mine), state(theirs)), before, "nothing held or charged, on either")
    # A bound guard key the same (DESIGN §10: naming another account is 404).
    guard = bound_key("guard", mine)
    openai_error(call("/openai/v1/chat/completions", body_chat(), auth=guard, headers={"Creditd-Account": theirs}),
                 404, "not_found")
    # An app key bound to another account manages none of its keys.
    app = bound_key("app", theirs)
    eq(mint(mine, auth=app).status, 404, "mint for another account")
    eq(listing(mine, auth=app).status, 404, "list another account's")
    eq(revoke(mine, k["id"], auth=app).status, 404, "revoke another account's")
    eq(revoke(theirs, k["id"]).status, 404, "a key is revoked through its own account only")
    eq(mint(theirs, auth=app).status, 201, "its own it may")
    eq(listing(mine, auth="read").status, 403, "a read key may not list them")
    eq(gchat(k["key"]).status, 200, "the key still works")


def test_a_member_bound_key_carries_its_member_to_its_cap_and_rate():
    reset()
    ws = new_account("gkws", kind="workspace")
    for member, body in (("carol", {"monthly_cap_micros": 1}), ("erin", {"requests_per_minute": 1})):
        r = api("POST", "/v1/accounts/%s/members" % q(ws), dict(body, member=member))
        eq(r.status, 201, "member %s: %r" % (member, r))
    carol, erin = gw_key(ws, member="carol"), gw_key(ws, member="erin")
    before = state(ws)
    r = gchat(carol["key"])
    openai_error(r, 429, "member_cap_reached")
    eq(r.json["error"]["type"], "insufficient_quota", "OpenAI's type for a cap")
    openai_error(gchat(carol["key"], headers={"Creditd-Member": "carol"}), 429, "member_cap_reached")
    openai_error(gchat(carol["key"], headers={"Creditd-Member": "erin"}), 403, "forbidden", "Creditd-Member")
    whole = gw_key(ws)
    openai_error(gchat(whole["key"], headers={"Creditd-Member": "carol"}), 403, "forbidden", "Creditd-Member")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(ws), before, "nothing held or charged")
    try:
        minute_start()
        eq(gchat(erin["key"]).status, 200, "erin's first call of the minute")
        r = gchat(erin["key"])
        openai_error(r, 429, "rate_limit_exceeded")
        eq(r.json["error"]["type"], "rate_limit_error", "a rate limit's type")
    finally:
        clock_reset()
    rows = sql("SELECT u.member FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'"
               % ws)
    eq(rows, [["erin"]], "the call was recorded as erin's")
    r = call("/openai/v1/chat/completions", body_chat(max_completion_tokens=50),
             headers={"Creditd-Account": ws, "Creditd-Member": "frank"})
    eq(r.status, 200, "the pool itself is not capped by carol's key: %r" % r.body[:200])
    verify()


def test_a_revoked_key_is_refused_once_the_key_cache_s_second_is_over():
    reset()
    acct = new_account("gkrev")
    k = gw_key(acct)
    for _ in range(3):
        eq(gchat(k["key"]).status, 200, "works (and is cached)")
    eq(revoke(acct, k["id"]).status, 200, "revoked")
    time.sleep(KEY_CACHE_SECONDS + 0.5)
    reset()
    before = state(acct)
    for _ in range(3):
        openai_error(gchat(k["key"]), 401, "unauthorized")
    anthropic_error(gmessages(k["key"]), 401, "authentication_error")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_an_expired_key_is_refused_from_its_second():
    reset()
    acct = new_account("gkexp")
    expires = clock_now() + 3
    k = gw_key(acct, expires_at=rfc3339(expires))
    eq(k["expires_at"], rfc3339(expires), "its expiry")
    eq(gchat(k["key"]).status, 200, "works before it")
    while clock_now() < expires:
        time.sleep(0.2)
    time.sleep(0.2)
    reset()
    openai_error(gchat(k["key"]), 401, "unauthorized")
    anthropic_error(gmessages(k["key"]), 401, "authentication_error")
    eq(forwarded(), [], "nothing forwarded")
    eq(listing(acct).json["data"], [], "an expired key is not listed")


def test_mint_validates_its_body_and_names_the_field():
    acct = new_account("gkval")
    past = rfc3339(clock_now() - 60)
    for body, param in (({"member": "m" * 129}, "member"), ({"member": ""}, "member"),
                        ({"member": "a\nb"}, "member"), ({"member": 5}, "member"),
                        ({"name": "n" * 65}, "name"), ({"name": 5}, "name"),
                        ({"expires_at": past}, "expires_at"), ({"expires_at": "tomorrow"}, "expires_at"),
                        ({"expires_at": 1893456000}, "expires_at"),
                        ({"scopes": 31}, "scopes"), ({"account": "other"}, "account")):
        r = mint(acct, **body)
        eq((r.status, r.err.get("code"), r.err.get("param")), (400, "invalid_request", param), "%r: %r" % (body, r))
    eq(api("POST", "/v1/accounts/%s/gateway_keys" % q(acct), raw=b"[]", auth="app").status, 400, "not an object")
    eq(sql("SELECT COUNT(*) FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE a.ext_id = '%s'" % acct),
       [["0"]], "nothing stored")
    eq(gw_key(acct, member="m" * 128, name="n" * 64)["member"], "m" * 128, "the longest member and name")
    r = mint(uid("nobody"))
    eq((r.status, r.err.get("code")), (404, "not_found"), "an unknown account")
    eq(listing(uid("nobody")).status, 404, "listing an unknown account's")
    eq(revoke(uid("nobody"), "gwk_1").status, 404, "revoking through an unknown account")
    eq(mint(acct, auth="read").status, 403, "a read key may not mint")
    eq(mint(acct, auth="guard").status, 403, "nor a guard key")
    eq(mint(acct, auth="admin").status, 201, "an admin key may")
    for query, param in (("?limit=0", "limit"), ("?limit=201", "limit"), ("?cursor=bogus", "cursor")):
        r = listing(acct, query)
        eq((r.status, r.err.get("param")), (400, param), "list %s: %r" % (query, r))


# ---- models per key (DESIGN §14) ----

def test_a_key_limited_to_some_models_calls_those_alone_and_lists_them():
    """A gateway key minted with "models", and a key made by creditctl
    key create --models, call those models only: another is 403
    model_not_allowed (param model) in the provider's shape, nothing held
    or forwarded; the models list and a model's page show what the key may
    call."""
    reset()
    mode(output_tokens=7)
    acct = new_account("gkmod")
    k = gw_key(acct, models=["gpt-4o-mini"])
    eq(k["models"], ["gpt-4o-mini"], "answered with its models")
    eq(gw_key(acct)["models"], None, "a key minted without any: null (any model)")
    eq([x["models"] for x in listing(acct).json["data"]], [["gpt-4o-mini"], None], "listed with them")
    eq(gchat(k["key"]).status, 200, "a listed model is called")
    reset()
    before = state(acct)
    r = gchat(k["key"], body_chat(model="gpt-4o", max_completion_tokens=50))
    openai_error(r, 403, "model_not_allowed", "model")
    check("gpt-4o" in r.json["error"]["message"], "naming the model: %r" % r.json)
    r = gmessages(k["key"])
    anthropic_error(r, 403, "permission_error")
    eq(state(acct), before, "nothing held or charged")
    eq(forwarded(), [], "nothing forwarded")
    eq(sql("SELECT COUNT(*) FROM holds h JOIN accounts a ON a.id = h.account_id WHERE a.ext_id = '%s'" % acct),
       [["1"]], "the one hold of the allowed call alone")
    ids = [m["id"] for m in call("/openai/v1/models", None, auth=k["key"]).json["data"]]
    eq(ids, ["gpt-4o-mini"], "the models list: what the key may call")
    eq(call("/openai/v1/models/gpt-4o-mini", None, auth=k["key"]).status, 200, "its model's page")
    openai_error(call("/openai/v1/models/gpt-4o", None, auth=k["key"]), 404, "model_not_found")
    check(len(call("/openai/v1/models", None, auth="guard").json["data"]) > 1, "an unlimited key lists them all")
    # A key creditctl makes, limited the same way.
    p = creditctl("key", "create", "--scope", "guard", "--account", acct, "--models", "claude-haiku-4-5,gpt-4o",
                  "--name", uid("gk-models"))
    secret = p.stdout.strip().splitlines()[-1]
    eq(gmessages(secret, headers={"Creditd-Account": acct}).status, 200, "its listed Anthropic model")
    openai_error(gchat(secret, headers={"Creditd-Account": acct}), 403, "model_not_allowed", "model")
    for bad in ("a,,b", "a b", "x" * 65, ",".join("m%d" % i for i in range(17))):
        p = creditctl("key", "create", "--scope", "guard", "--models", bad, check_rc=False)
        eq(p.returncode, 2, "--models %r refused: %s" % (bad[:40], p.stderr))
        check("--models" in p.stderr, "naming the option: %r" % p.stderr)
    verify()


def test_a_key_s_models_are_checked_at_its_mint():
    acct = new_account("gkmodval")
    for models in ([], ["a b"], ["a,b"], [""], ["m" * 65], [5], ["m%d" % i for i in range(17)], "gpt-4o"):
        r = mint(acct, models=models)
        eq((r.status, r.err.get("param")), (400, "models"), "models %r: %r" % (str(models)[:40], r))
    eq(sql("SELECT COUNT(*) FROM api_keys k JOIN accounts a ON a.id = k.account_id WHERE a.ext_id = '%s'" % acct),
       [["0"]], "nothing stored")
    longest = ["m%02d%s" % (i, "x" * 61) for i in range(16)]
    eq(gw_key(acct, models=longest)["models"], longest, "16 models of 64 bytes each")
    eq(gw_key(acct, models=None)["models"], None, "null: any model")
