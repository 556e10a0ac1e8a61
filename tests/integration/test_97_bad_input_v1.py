"""test_97_bad_input_v1.py: bad input gets a clear error and changes
nothing, on creditd's own API (/v1 and the console's /console/ routes),
checked from outside against the contract alone: docs/api.md (the error
table, each route's fields and limits), docs/openapi.yaml (the request
schemas: types, ranges, lengths, additionalProperties false) and
docs/decisions.md (Content-Type, Idempotency-Key).

Each route that takes a JSON body or query parameters is driven from a
table: every required field left out, every field of the wrong JSON type
(a string for a number, a number for a string, true, null where it is not
nullable, [], {}), integers out of range (2**63, 2**64, -2**63-1, 1e30,
1.5, below and above the documented bounds), strings past their length,
with a NUL or with bytes that are not UTF-8, unknown fields, unknown ids,
bodies that are not a JSON object (malformed, empty, an array, a string,
too deep, too large) and a Content-Type other than JSON; query
parameters out of range or malformed. Each answer must be the documented
status and code, in the documented error shape (type by status; param
naming the field where the docs say so) with a message that names it.
A refusal changes nothing: the route group's accounts (every figure of
GET /v1/accounts/{id}), the rows of the ledger's tables (the journal,
holds, grants, keys, ...: a 400, 413 or 415 is not stored under its
Idempotency-Key either, docs/decisions.md) are the same before and after,
and creditctl verify exits 0. Every case of a group runs; the failures
are reported together."""
import http.client
import json
import re
import urllib.parse

from core_contract import ERROR_TYPES, path
from lib import ENV, Fail, Resp, api, clock_now, creditctl, new_account, sql, uid

# The rows a refusal must not add or remove (sql/): the group's accounts'
# rows, and the tables only the API writes. Counted for this file's own
# accounts and keys alone: another file's holds on this stack may expire
# meanwhile, and the sweep writes their journal rows.
PER_ACCOUNT = ("journal", "holds", "grants", "members", "alerts", "usage_records", "topups", "events")
GLOBAL = ("api_keys", "promo_codes", "promo_redemptions", "plans", "price_history")
WRONG_TYPES = ("1", True, [], {})                  # beside null, for a number
# Raw JSON number texts a value may be: floats (DESIGN: micros and token
# counts are JSON integers, no floats) and texts that are no JSON number.
RAW = {"@@1e2@@": b"1e2", "@@1.0@@": b"1.0", "@@nan@@": b"NaN", "@@inf@@": b"Infinity", "@@hex@@": b"0x10",
       "@@lead0@@": b"01", "@@plus@@": b"+1", "@@surrogate@@": b'"a\\ud800b"', "@@not-utf8@@": b'"a\xff\xfeb"'}
BIG_INTS = (2 ** 63, 2 ** 64, -2 ** 63 - 1, 1e30, 1.5) + tuple(k for k in RAW if k not in ("@@surrogate@@",
                                                                                            "@@not-utf8@@"))
T12, T15, T9 = 10 ** 12, 10 ** 15, 10 ** 9        # docs/api.md: a charge, a limit, a token count
BAD_UTF8 = "@@not-utf8@@"                           # replaced by bytes that are not UTF-8
SURROGATE = "@@surrogate@@"                         # a lone UTF-16 surrogate escaped
# Query parameter values docs/api.md refuses: limit out of 1-N or no integer;
# a cursor that is no page's next_cursor.
JUNK = ("-1", "abc", "1.5", "", "99999999999999999999", "5abc", "0x10", "1e2", "5\u0000")
LIMIT_200 = [("limit", v) for v in ("0", "201") + JUNK]
LIMIT_100 = [("limit", v) for v in ("0", "101") + JUNK]
CURSOR = [("cursor", v) for v in ("garbage", "-1", "'; DROP TABLE journal; --", "\u00e9", b"\xff\xfe", "a\u0000b",
                                  "a\nb")]
GARBAGE = {"malformed": b'{"a": ', "trailing": b'{} x', "comma": b'{"a": 1,}', "array": b"[]",
           "string": b'"text"', "number": b"12", "null": b"null",
           "deep": b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}", "two objects": b"{}{}", "NUL after": b"{}\x00",
           "bare word": b"hello"}


# ---- cases ----

def ints(lo, hi, nullable=False):
    """Wrong values for an integer field documented lo..hi."""
    out = list(WRONG_TYPES) + list(BIG_INTS) + ([] if nullable else [None])
    if lo is not None:
        out.append(lo - 1)
    if hi is not None:
        out.append(hi + 1)
    return out


def strs(lo=1, hi=None, nullable=False, nul=True):
    """Wrong values for a string field documented lo..hi bytes."""
    out = [1, True, [], {}] + ([] if nullable else [None]) + [BAD_UTF8, SURROGATE]
    if lo:
        out.append("")
    if hi:
        out.append("x" * (hi + 1))
    if nul:
        out.append("a\u0000b")
    return out


def enum(nullable=False):
    return ["no-such-value", 1, True, [], {}] + ([] if nullable else [None]) + [BAD_UTF8]


def bools(nullable=False):
    return ["true", 1, [], {}] + ([] if nullable else [None])


def encode(body):
    if body is None:
        return None
    data = json.dumps(body).encode()
    for marker, text in RAW.items():
        data = data.replace(b'"' + marker.encode() + b'"', text)
    return data


def names(msg, param):
    """The message names the field: its name (or its words: referral code),
    or, for a price list, the entry (docs/api.md: `entry 2 (gpt-x): ...`)."""
    leaf = re.split(r"[.\[\]]+", param.strip("]"))[-1].lower()
    msg = msg.lower()
    return (leaf in msg or leaf.replace("_", " ") in msg or leaf.replace("_", "-") in msg or
            (param == "prices" and "entry" in msg))


class Probe:
    """Sends bad requests and collects what differs from the docs."""

    def __init__(self, group):
        self.group = group
        self.problems = []
        self.sent = 0

    def expect(self, what, r, status, code="invalid_request", param="-"):
        self.sent += 1
        bad = []
        if r.status != status:
            bad.append("status %d, want %d" % (r.status, status))
        e = (r.json or {}).get("error") if isinstance(r.json, dict) else None
        if not isinstance(e, dict) or set(e) < {"type", "code", "message", "param"}:
            bad.append("not the error shape {error: {type, code, message, param}}")
        else:
            if r.status == status and e.get("type") != ERROR_TYPES.get(status, e.get("type")):
                bad.append("type %r" % e.get("type"))
            if code and e.get("code") != code:
                bad.append("code %r, want %r" % (e.get("code"), code))
            if param != "-" and e.get("param") != param:
                bad.append("param %r, want %r" % (e.get("param"), param))
            msg = e.get("message")
            if not isinstance(msg, str) or not msg:
                bad.append("no message")
            elif param not in ("-", None) and not names(msg, param):
                bad.append("message %r does not name %s" % (msg, param))
        if bad:
            self.problems.append("%s: %s: %s -> %s" % (self.group, what, "; ".join(bad), r.raw[:200]))

    def send(self, what, method, url, body=None, status=400, code="invalid_request", param="-", auth="admin",
             raw=None, headers=None):
        h = dict(headers or {})
        if status in (400, 413, 415) and method != "GET":
            # docs/decisions.md: a 400, 413 or 415 is not stored under its key.
            h.setdefault("Idempotency-Key", uid("bad"))
        data = raw if raw is not None else encode(body)
        if url.startswith("/console/api/"):
            r = console_call(method, url, data, h)
        else:
            r = api(method, url, None, auth=auth, raw=data, headers=h)
        self.expect(what, r, status, code, param)
        return r

    def fields(self, method, url, base, spec, auth="admin", required=(), extra=None):
        """Every field of spec {name: [bad values]} set to each bad value in
        base() (a fresh valid body), each required field left out, an
        unknown field, and whatever the route's whole-body cases are."""
        for name, values in spec.items():
            for v in values:
                body = base()
                body[name] = v
                self.send("%s=%r" % (name, v), method, url, body, param=name, auth=auth)
        for name in required:
            body = base()
            body.pop(name, None)
            self.send("no %s" % name, method, url, body, param=name, auth=auth)
        for unknown in (extra or ("balance_micros",)):
            body = base()
            body[unknown] = 1
            self.send("unknown field %s" % unknown, method, url, body, param=unknown, auth=auth)
        self.bodies(method, url, base, auth, empty_ok=not required)

    def bodies(self, method, url, base, auth="admin", empty_ok=False):
        """Bodies that are no JSON object, wrong Content-Types, a body over
        [server] max_body_bytes (64 KiB)."""
        for what, raw in GARBAGE.items():
            self.send("body %s" % what, method, url, raw=raw, auth=auth)
        if not empty_ok:
            self.send("empty body", method, url, raw=b"", auth=auth)
        good = encode(base())
        for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
            self.send("Content-Type %s" % ctype, method, url, raw=good, status=415,
                      code="unsupported_media_type", auth=auth, headers={"Content-Type": ctype})
        big = dict(base(), description="x" * 70000)
        self.send("body over 64 KiB", method, url, big, status=413, code="payload_too_large", auth=auth)

    def query(self, url, params, auth="read", status=400, code="invalid_request"):
        """GET url with each (name, value) of params alone: refused naming name."""
        for name, value in params:
            sep = "&" if "?" in url else "?"
            q = urllib.parse.urlencode({name: value})
            r = api("GET", url + sep + q, auth=auth)
            self.expect("GET %s%s%s" % (url, sep, q), r, status, code, name if status == 400 else "-")

    def done(self):
        if self.problems:
            raise Fail("%d of %d bad requests answered otherwise than the docs say:\n  %s"
                       % (len(self.problems), self.sent, "\n  ".join(self.problems)))


# ---- what must not change ----

def counts(ids, since):
    """{what: rows}: the accounts' rows of PER_ACCOUNT, the accounts this
    file's bodies name (bad-..., nobody-...), GLOBAL, the Idempotency-Keys
    it sent (bad-...) and the console sessions made since `since`."""
    names = ", ".join("'%s'" % a for a in ids) or "NULL"
    parts = ["(SELECT COUNT(*) FROM %s WHERE account_id IN (SELECT id FROM accounts WHERE ext_id IN (%s)))"
             % (t, names) for t in PER_ACCOUNT]
    parts += ["(SELECT COUNT(*) FROM accounts WHERE ext_id LIKE 'bad-%' OR ext_id LIKE 'nobody-%')"]
    parts += ["(SELECT COUNT(*) FROM %s)" % t for t in GLOBAL]
    parts += ["(SELECT COUNT(*) FROM idempotency_keys WHERE idem_key LIKE 'bad-%')",
              "(SELECT COUNT(*) FROM console_sessions WHERE created_at >= %d)" % since]
    what = PER_ACCOUNT + ("accounts",) + GLOBAL + ("idempotency_keys", "console_sessions")
    return dict(zip(what, map(int, sql("SELECT " + ", ".join(parts))[0])))


def accounts(ids):
    out = {}
    for a in ids:
        r = api("GET", path(a), auth="read")
        out[a] = (r.status, r.json)
    return out


def unchanged(ids, run, group):
    """Runs run(probe) between two snapshots of the accounts ids and the
    tables; every difference and every answer unlike the docs fails."""
    since = clock_now() - 1
    before = (accounts(ids), counts(ids, since))
    p = Probe(group)
    run(p)
    after = (accounts(ids), counts(ids, since))
    for a in ids:
        if before[0][a] != after[0][a]:
            p.problems.append("%s: account %s changed: %r -> %r" % (group, a, before[0][a], after[0][a]))
    diff = {t: (before[1][t], after[1][t]) for t in before[1] if before[1][t] != after[1][t]}
    if diff:
        p.problems.append("%s: rows changed (before, after): %r" % (group, diff))
    v = creditctl("verify", check_rc=False)
    if v.returncode != 0:
        p.problems.append("%s: creditctl verify exit %d: %s" % (group, v.returncode, (v.stdout + v.stderr)[-400:]))
    p.done()


def unknown_account():
    return path(uid("nobody"))


# ---- accounts ----

ACCOUNT_LIMITS = {k: ints(0, T15, nullable=True) for k in ("monthly_limit_micros", "low_balance_micros",
                                                          "daily_limit_micros")}
RATES = {k: ints(1, T9, nullable=True) for k in ("requests_per_minute", "tokens_per_minute")}
EMAILS = strs(3, 254, nullable=True) + ["no-at-sign", "Name <a@example.com>", "a@b\r\nBcc: c@d"]


def test_account_create_refusals():
    def run(p):
        base = lambda: {"id": uid("bad"), "kind": "user"}
        spec = {"id": strs(1, 128) + ["a\nb", "tab\there"], "kind": enum(),
                "overdraft_limit_micros": ints(0, T15), "plan": strs(1, 64, nullable=True) + ["no-such-plan"],
                "referral_code": strs(1, 16, nullable=True) + ["zzzzzzzzzz"], "email": EMAILS}
        spec.update(ACCOUNT_LIMITS)
        spec.update(RATES)
        p.fields("POST", "/v1/accounts", base, spec, required=("id", "kind"))
    unchanged([], run, "POST /v1/accounts")


def test_account_patch_refusals():
    a = new_account("badpatch")

    def run(p):
        spec = {"status": enum(), "overdraft_limit_micros": ints(0, T15),
                "plan": strs(1, 64, nullable=True) + ["no-such-plan"], "email": EMAILS,
                "auto_recharge": ["on", 1, True, [], {"threshold_micros": 1, "amount_cents": 1000}]}
        spec.update(ACCOUNT_LIMITS)
        spec.update(RATES)
        p.fields("PATCH", path(a), dict, spec)
        for what, rc in (("threshold string", {"threshold_micros": "1", "amount_cents": 1000}),
                         ("threshold 2**63", {"threshold_micros": 2 ** 63, "amount_cents": 1000}),
                         ("amount 1.5", {"threshold_micros": 1, "amount_cents": 1.5}),
                         ("amount under the top-up minimum", {"threshold_micros": 1, "amount_cents": 1}),
                         ("no amount", {"threshold_micros": 1}), ("unknown member", {"threshold_micros": 1,
                                                                                     "amount_cents": 1000, "x": 1})):
            r = api("PATCH", path(a), {"auto_recharge": rc})
            e = (r.json or {}).get("error") or {}
            p.expect("auto_recharge " + what, r, 400, "invalid_request", e.get("param") if str(
                e.get("param")).startswith("auto_recharge") else "auto_recharge.*")
        p.send("unknown account", "PATCH", unknown_account(), {"status": "suspended"}, 404, "not_found")
    unchanged([a], run, "PATCH /v1/accounts/{id}")


def test_grant_and_debit_refusals():
    a = new_account("badgrant")

    def run(p):
        p.fields("POST", path(a, "/grants"), lambda: {"amount_micros": 1000, "source": "promo"},
                 {"amount_micros": ints(1, T12), "source": enum(),
                  "expires_at": strs(1, nullable=True, nul=False) + ["tomorrow", "2020-01-01T00:00:00Z", 1700000000,
                                                                    "2030-02-30T00:00:00Z", "2030-01-01T25:00:00Z"],
                  "priority": ints(0, 100), "description": strs(0, 500, nullable=True),
                  "idempotency_key": strs(1, 255)},
                 required=("amount_micros", "source"))
        p.fields("POST", path(a, "/debits"), lambda: {"amount_micros": 1000, "reason": "probe"},
                 {"amount_micros": ints(1, T12), "reason": strs(1, 500)}, required=("amount_micros", "reason"))
        for tail, body in (("/grants", {"amount_micros": 1000, "source": "promo"}),
                           ("/debits", {"amount_micros": 1000, "reason": "probe"})):
            p.send("unknown account" + tail, "POST", unknown_account() + tail, body, 404, "not_found")
    unchanged([a], run, "grants and debits")


def test_a_description_and_a_reason_count_characters_as_their_columns_do():
    """openapi.yaml's maxLength 500 counts characters, as the VARCHAR(500)
    columns do: 500 two-byte characters are taken whole, 501 refused."""
    a = new_account("textchars")
    r = api("POST", path(a, "/grants"), {"amount_micros": 1000, "source": "promo", "description": "\u00e9" * 500},
            auth="admin")
    if r.status != 201 or r.json.get("description") != "\u00e9" * 500:
        raise Fail("500 characters of description: %d %r" % (r.status, r.body[:200]))
    r = api("POST", path(a, "/debits"), {"amount_micros": 10, "reason": "\u00e9" * 500}, auth="admin")
    if r.status not in (200, 201):
        raise Fail("500 characters of reason: %d %r" % (r.status, r.body[:200]))
    r = api("POST", path(a, "/debits"), {"amount_micros": 10, "reason": "\u00e9" * 501}, auth="admin")
    if (r.status, r.json["error"].get("param")) != (400, "reason") or "characters" not in r.json["error"]["message"]:
        raise Fail("501 characters of reason: %d %r" % (r.status, r.body[:200]))


def test_member_refusals():
    w = new_account("badteam", kind="workspace")
    u = new_account("baduser")

    def run(p):
        p.fields("POST", path(w, "/members"), lambda: {"member": uid("m")},
                 dict({"member": strs(1, 128), "monthly_cap_micros": ints(0, T12, nullable=True)}, **RATES),
                 required=("member",))
        p.send("a member on a user account", "POST", path(u, "/members"), {"member": "bob"}, param="-")
        p.send("unknown account", "POST", unknown_account() + "/members", {"member": "bob"}, 404, "not_found")
        p.send("unknown member", "DELETE", path(w, "/members/nobody-here"), None, 404, "not_found")
    unchanged([w, u], run, "members")


def test_one_bad_field_among_good_ones_changes_nothing():
    """A body with good fields and one bad one is refused whole: nothing of
    the good ones is applied first (docs/api.md: a plan that names no plan
    "nothing changes"; alerts "nothing is changed then"; an import "all or
    nothing")."""
    a = new_account("badmix", monthly_limit_micros=5000000)
    w = new_account("badmixw", kind="workspace")
    gpt = [m for m in api("GET", "/v1/models", auth="read").json["data"]
           if m["model"] == "gpt-4o" and m["provider"] is None][0]

    def run(p):
        for body, param in (({"low_balance_micros": 5, "status": "frozen"}, "status"),
                            ({"status": "suspended", "plan": "no-such-plan"}, "plan"),
                            ({"monthly_limit_micros": 7, "email": "not-an-address"}, "email"),
                            ({"daily_limit_micros": 7, "auto_recharge": {"threshold_micros": 1, "amount_cents": 1000}},
                             "auto_recharge"),
                            ({"overdraft_limit_micros": 9, "requests_per_minute": 0}, "requests_per_minute")):
            p.send("PATCH %r" % body, "PATCH", path(a), body, param=param)
        p.send("alerts: a good one, a bad one", "PUT", path(a, "/alerts"),
               {"alerts": [{"kind": "balance_below", "micros": 5}, {"kind": "monthly_spend_pct", "pct": 0}]},
               param="alerts[1].pct", auth="app")
        p.send("member: a good cap, a bad rate", "POST", path(w, "/members"),
               {"member": "carol", "monthly_cap_micros": 5, "tokens_per_minute": 0}, param="tokens_per_minute")
        row = {k: gpt[k] for k in ("input_micros_per_mtok", "cached_input_micros_per_mtok", "output_micros_per_mtok",
                                   "max_output_tokens")}
        p.send("import: a good row, a bad one", "POST", "/v1/models/import",
               {"prices": [dict(row, model="gpt-4o", input_micros_per_mtok=row["input_micros_per_mtok"] + 1),
                           {"model": "x"}], "force": True}, param="prices")
        p.send("price: a good field, a bad one", "PUT", "/v1/models/gpt-4o",
               {"input_micros_per_mtok": row["input_micros_per_mtok"] + 1, "output_micros_per_mtok": -1},
               param="output_micros_per_mtok")
    unchanged([a, w], run, "one bad field among good ones")
    after = [m for m in api("GET", "/v1/models", auth="read").json["data"]
             if m["model"] == "gpt-4o" and m["provider"] is None][0]
    if after != gpt:
        raise Fail("gpt-4o's price changed: %r -> %r" % (gpt, after))


# ---- what an app's backend starts: top-ups, promo codes, tokens, alerts, gateway keys ----

def test_topup_refusals():
    a = new_account("badtopup")

    def run(p):
        urls = strs(1, 2048, nullable=True) + ["javascript:alert(1)", "https://evil.example/x", "not a url"]
        p.fields("POST", path(a, "/topup"), lambda: {"amount_cents": 1000},
                 {"amount_cents": ints(500, 100000), "success_url": urls, "cancel_url": urls,
                  "save_card": bools()}, auth="app", required=("amount_cents",))
        p.send("unknown account", "POST", unknown_account() + "/topup", {"amount_cents": 1000}, 404, "not_found",
               auth="app")
    unchanged([a], run, "POST /v1/accounts/{id}/topup")


def test_redeem_and_promo_code_refusals():
    a = new_account("badredeem")
    code = uid("CODE").replace("-", "_")
    r = api("POST", "/v1/promo_codes", {"code": code, "amount_micros": 1000})
    if r.status != 201:
        raise Fail("promo code: %r" % r)

    def run(p):
        codes = strs(4, 64) + ["abc", "bad code!", "semi;colon"]
        p.fields("POST", path(a, "/redeem"), lambda: {"code": code}, {"code": codes}, auth="app",
                 required=("code",))
        p.send("unknown code", "POST", path(a, "/redeem"), {"code": "NO-SUCH-CODE"}, 404, "not_found", auth="app")
        p.send("unknown account", "POST", unknown_account() + "/redeem", {"code": code}, 404, "not_found",
               auth="app")
        p.fields("POST", "/v1/promo_codes", lambda: {"code": uid("P").replace("-", "_"), "amount_micros": 1000},
                 {"code": codes, "amount_micros": ints(1, T12), "max_redemptions": ints(1, T9, nullable=True),
                  "expires_at": ["tomorrow", "2020-01-01T00:00:00Z", 1, True, [], {}],
                  "grant_ttl_days": ints(1, 3650, nullable=True)}, required=("code", "amount_micros"))
        p.send("a code that exists", "POST", "/v1/promo_codes", {"code": code.lower(), "amount_micros": 5},
               409, "conflict")
    unchanged([a], run, "redeem and promo codes")


def test_browser_token_refusals():
    w = new_account("badtok", kind="workspace")

    def run(p):
        p.fields("POST", path(w, "/browser_tokens"), dict,
                 {"ttl_seconds": ints(60, 3600), "member": strs(1, 128)}, auth="app",
                 extra=("balance_micros", "idempotency_key"))
        p.send("unknown member", "POST", path(w, "/browser_tokens"), {"member": "nobody"}, 404, "not_found",
               auth="app")
        p.send("unknown account", "POST", unknown_account() + "/browser_tokens", {}, 404, "not_found", auth="app")
    unchanged([w], run, "POST /v1/accounts/{id}/browser_tokens")


def test_alert_refusals():
    a = new_account("badalert")

    def run(p):
        url = path(a, "/alerts")
        p.fields("PUT", url, lambda: {"alerts": []}, {"alerts": ["x", 1, True, {}, None]}, auth="app",
                 required=("alerts",))
        for what, alerts, param in (
                ("unknown kind", [{"kind": "nope", "pct": 50}], "alerts[0].kind"),
                ("no kind", [{"pct": 50}], "alerts[0].kind"),
                ("pct 0", [{"kind": "monthly_spend_pct", "pct": 0}], "alerts[0].pct"),
                ("pct 101", [{"kind": "monthly_spend_pct", "pct": 101}], "alerts[0].pct"),
                ("pct 1.5", [{"kind": "monthly_spend_pct", "pct": 1.5}], "alerts[0].pct"),
                ("pct string", [{"kind": "monthly_spend_pct", "pct": "50"}], "alerts[0].pct"),
                ("micros on a pct kind", [{"kind": "monthly_spend_pct", "micros": 5}], "alerts[0].micros"),
                ("pct on balance_below", [{"kind": "balance_below", "pct": 5}], "alerts[0].pct"),
                ("micros -1", [{"kind": "balance_below", "micros": -1}], "alerts[0].micros"),
                ("micros 10^15+1", [{"kind": "balance_below", "micros": T15 + 1}], "alerts[0].micros"),
                ("micros 2**63", [{"kind": "balance_below", "micros": 2 ** 63}], "alerts[0].micros"),
                ("member elsewhere", [{"kind": "daily_spend_pct", "pct": 5, "member": "bob"}], "alerts[0].member"),
                ("unknown member field", [{"kind": "daily_spend_pct", "pct": 5, "colour": "red"}],
                 "alerts[0].colour"),
                ("two alike", [{"kind": "daily_spend_pct", "pct": 5}, {"kind": "daily_spend_pct", "pct": 5}],
                 "alerts[1]"),
                ("17 alerts", [{"kind": "balance_below", "micros": i} for i in range(17)], "alerts"),
                ("an item not an object", [{"kind": "daily_spend_pct", "pct": 5}, 3], "alerts[1]")):
            p.send(what, "PUT", url, {"alerts": alerts}, param=param, auth="app")
        p.send("unknown account", "PUT", unknown_account() + "/alerts", {"alerts": []}, 404, "not_found",
               auth="app")
    unchanged([a], run, "PUT /v1/accounts/{id}/alerts")


def test_gateway_key_refusals():
    a = new_account("badgwk")

    def run(p):
        url = path(a, "/gateway_keys")
        p.fields("POST", url, dict,
                 {"member": strs(1, 128, nullable=True), "name": strs(1, 64, nullable=True),
                  "expires_at": ["tomorrow", "2020-01-01T00:00:00Z", 1, True, [], {}],
                  "models": ["gpt-4o", 1, True, {}, [], ["m%d" % i for i in range(17)], ["a b"], ["a,b"], [1],
                             ["x" * 65], [""], [None]]},
                 auth="app", extra=("balance_micros", "scopes", "account"))
        p.send("unknown account", "POST", unknown_account() + "/gateway_keys", {}, 404, "not_found", auth="app")
        for kid in ("gwk_999999999", "nonsense", "12"):
            p.send("revoke %s" % kid, "DELETE", url + "/" + kid, None, 404, "not_found", auth="app")
        p.query(url, LIMIT_200 + CURSOR, auth="app")
    unchanged([a], run, "gateway keys")


# ---- the guard and usage ----

TOKENS = ints(0, T9)


def test_authorize_refusals():
    a = new_account("badauth")

    def run(p):
        base = lambda: {"account": a, "model": "gpt-4o", "input_tokens": 10, "max_output_tokens": 10,
                        "request_id": uid("req")}
        p.fields("POST", "/v1/guard/authorize", base,
                 {"account": [1, True, [], {}, None, "", BAD_UTF8], "member": strs(1, 128, nullable=True),
                  "model": strs(1, 64) + ["no-such-model"], "input_tokens": TOKENS,
                  "max_output_tokens": ints(1, T9, nullable=True), "min_output_tokens": ints(1, T9, nullable=True),
                  "request_id": strs(1, 128) + ["gw_mine"], "ttl_seconds": ints(1, 86400, nullable=True),
                  "byok": bools(nullable=True), "conversation_id": strs(1, 128, nullable=True)},
                 auth="guard", required=("account", "request_id", "model"))
        p.send("output past the model's", "POST", "/v1/guard/authorize", dict(base(), max_output_tokens=10 ** 8),
               param="max_output_tokens", auth="guard")
        p.send("min above max", "POST", "/v1/guard/authorize", dict(base(), min_output_tokens=20),
               param="min_output_tokens", auth="guard")
        p.send("model and action", "POST", "/v1/guard/authorize", dict(base(), action="search"), auth="guard")
        p.send("unknown account", "POST", "/v1/guard/authorize", dict(base(), account=uid("nobody")), 404,
               "not_found", auth="guard")
    unchanged([a], run, "POST /v1/guard/authorize")


def test_settle_and_release_refusals():
    a = new_account("badsettle")
    r = api("POST", "/v1/guard/authorize", {"account": a, "model": "gpt-4o", "input_tokens": 10,
                                              "max_output_tokens": 10, "request_id": uid("req")}, auth="guard")
    if r.status != 200:
        raise Fail("authorize: %r" % r)
    hold = r.json["hold_id"]
    nobody = "hold_" + "0" * 32

    def run(p):
        base = lambda: {"hold_id": hold, "input_tokens": 10, "output_tokens": 5}
        p.fields("POST", "/v1/guard/settle", base,
                 {"hold_id": strs(1, 64), "input_tokens": TOKENS, "output_tokens": TOKENS,
                  "cached_input_tokens": ints(0, T9), "cache_write_input_tokens": ints(0, T9),
                  "model": strs(1, 64, nullable=True) + ["no-such-model"],
                  "conversation_id": strs(1, 128, nullable=True)},
                 auth="guard", required=("hold_id", "input_tokens", "output_tokens"))
        p.send("cached above input", "POST", "/v1/guard/settle", dict(base(), cached_input_tokens=11),
               param="cached_input_tokens", auth="guard")
        p.send("cache writes above input less cached", "POST", "/v1/guard/settle",
               dict(base(), cached_input_tokens=6, cache_write_input_tokens=5), param="cache_write_input_tokens",
               auth="guard")
        p.send("unknown hold", "POST", "/v1/guard/settle", dict(base(), hold_id=nobody), 404, "not_found",
               auth="guard")
        p.fields("POST", "/v1/guard/release", lambda: {"hold_id": nobody}, {"hold_id": strs(1, 64)},
                 auth="guard", required=("hold_id",))
        p.send("release an unknown hold", "POST", "/v1/guard/release", {"hold_id": nobody}, 404, "not_found",
               auth="guard")
        p.send("GET an unknown hold", "GET", "/v1/holds/" + nobody, None, 404, "not_found", auth="read")
    unchanged([a], run, "settle and release")


def test_usage_refusals():
    a = new_account("badusage")

    def run(p):
        base = lambda: {"account": a, "model": "gpt-4o", "input_tokens": 10, "output_tokens": 10,
                        "request_id": uid("req")}
        p.fields("POST", "/v1/usage", base,
                 {"account": [1, True, [], {}, None, "", BAD_UTF8], "member": strs(1, 128, nullable=True),
                  "model": strs(1, 64) + ["no-such-model"], "input_tokens": TOKENS, "output_tokens": TOKENS,
                  "cached_input_tokens": ints(0, T9), "cache_write_input_tokens": ints(0, T9),
                  "request_id": strs(1, 128, nullable=True) + ["gw_mine"],
                  "conversation_id": strs(1, 128, nullable=True), "byok": bools(nullable=True),
                  "force": bools(nullable=True)},
                 auth="guard", required=("account", "model", "input_tokens", "output_tokens"))
        p.send("cached above input", "POST", "/v1/usage", dict(base(), cached_input_tokens=11),
               param="cached_input_tokens", auth="guard")
        p.send("unknown account", "POST", "/v1/usage", dict(base(), account=uid("nobody")), 404, "not_found",
               auth="guard")
    unchanged([a], run, "POST /v1/usage")


def test_idempotency_key_refusals():
    """An Idempotency-Key (header or field) is 1 to 255 bytes of text
    (docs/openapi.yaml IdempotencyKeyField): a byte that is no UTF-8, a
    control character or 256 bytes is 400 naming idempotency_key, on
    every route that reads it (docs/decisions.md), and nothing is done."""
    a = new_account("badidem")
    w = new_account("badidemw", kind="workspace")
    plan = uid("plan")
    writes = (("POST", path(a, "/grants"), {"amount_micros": 1000, "source": "promo"}, "admin"),
              ("POST", path(a, "/debits"), {"amount_micros": 1000, "reason": "probe"}, "admin"),
              ("PATCH", path(a), {"low_balance_micros": 5}, "admin"),
              ("POST", "/v1/accounts", {"id": uid("bad"), "kind": "user"}, "admin"),
              ("POST", path(w, "/members"), {"member": "bob"}, "admin"),
              ("POST", path(a, "/topup"), {"amount_cents": 1000}, "app"),
              ("POST", "/v1/promo_codes", {"code": uid("P").replace("-", "_"), "amount_micros": 5}, "admin"),
              ("PUT", "/v1/plans/" + plan, {"credits_micros": 1, "rollover": "none"}, "admin"),
              ("POST", "/v1/guard/authorize", {"account": a, "model": "gpt-4o", "input_tokens": 1,
                                               "request_id": uid("req")}, "guard"),
              ("POST", "/v1/usage", {"account": a, "model": "gpt-4o", "input_tokens": 1, "output_tokens": 1,
                                     "request_id": uid("req")}, "guard"))

    def run(p):
        for method, url, body, auth in writes:
            for what, k in (("a byte that is no UTF-8", "bad-\u00e9"), ("a control character", "bad-\x01x"),
                            ("256 bytes", "bad-" + "k" * 252)):
                p.send("%s %s header %s" % (method, url, what), method, url, body, auth=auth,
                       param="idempotency_key", headers={"Idempotency-Key": k})
            p.send("%s %s field not UTF-8" % (method, url), method, url, dict(body, idempotency_key=BAD_UTF8),
                   auth=auth, param="idempotency_key")
    unchanged([a, w], run, "Idempotency-Key")


# ---- the operator's writes: plans, keys, prices ----

def test_plan_refusals():
    name = uid("plan")

    def run(p):
        url = "/v1/plans/" + name
        p.fields("PUT", url, lambda: {"credits_micros": 1000, "rollover": "none"},
                 {"credits_micros": ints(0, T12), "rollover": enum(),
                  "rollover_cap_micros": [5, "5", True, [], {}],
                  "member_cap_micros": ints(0, T12, nullable=True),
                  "stripe_price_ids": ["price_1", 1, True, {}, ["p%d" % i for i in range(17)], ["bad id!"], [1],
                                       ["x" * 256]]},
                 required=("credits_micros", "rollover"))
        for bad in ("x" * 65, "bad%20name!", "a%00b", "%ff%fe"):
            p.send("plan name %r" % bad, "PUT", "/v1/plans/" + bad, {"credits_micros": 1, "rollover": "none"},
                   param="-")
    unchanged([], run, "PUT /v1/plans/{name}")


def test_api_key_refusals():
    a = new_account("badkey")

    def run(p):
        p.fields("POST", "/v1/keys", lambda: {"scopes": ["read"], "name": uid("k")},
                 {"scopes": ["read", 1, True, {}, None, [], ["root"], ["read", 1], ["read"] * 5],
                  "name": strs(0, 64, nullable=True), "account": [1, True, [], {}],
                  "models": ["gpt-4o", 1, True, {}, [], ["m%d" % i for i in range(17)], [1]]},
                 required=("scopes",))
        p.send("an admin key bound", "POST", "/v1/keys", {"scopes": ["admin"], "account": a}, param="account")
        p.send("a gateway key", "POST", "/v1/keys", {"scopes": ["gateway"]}, param="scopes")
        p.send("unknown account", "POST", "/v1/keys", {"scopes": ["read"], "account": uid("nobody")}, 404,
               "not_found")
        p.send("revoke an unknown key", "DELETE", "/v1/keys/999999999", None, 404, "not_found")
    unchanged([a], run, "POST /v1/keys")


def test_price_refusals():
    before = api("GET", "/v1/models", auth="read").json

    def run(p):
        fields = ("input_micros_per_mtok", "output_micros_per_mtok", "cached_input_micros_per_mtok",
                  "max_output_tokens")
        p.fields("PUT", "/v1/models/gpt-4o", lambda: {"input_micros_per_mtok": 2500000},
                 {f: ["1", True, [], {}, 1.5, 1e30, 2 ** 63, 2 ** 64, -1] for f in fields})
        p.send("a new model without its prices", "PUT", "/v1/models/" + uid("model"),
               {"input_micros_per_mtok": 1}, param="-")
        p.fields("POST", "/v1/models/import", lambda: {"prices": [], "dry_run": True},
                 {"prices": ["x", 1, True, None, [{"model": "gpt-4o"}], [{"model": 1, "input_micros_per_mtok": 1}]],
                  "max_increase_pct": ints(0, 1000000), "force": bools(), "dry_run": bools()},
                 required=("prices",))
    unchanged([], run, "prices")
    if api("GET", "/v1/models", auth="read").json != before:
        raise Fail("GET /v1/models changed")


# ---- query parameters ----



def test_query_refusals():
    a = new_account("badquery")

    def run(p):
        p.query(path(a, "/transactions"), LIMIT_200 + CURSOR)
        for tail in ("/holds", "/topups", "/referrals"):
            p.query(path(a, tail), LIMIT_100 + CURSOR)
        p.query(path(a, "/usage"), [("from", "yesterday"), ("from", "2026-13-40"), ("to", "nope"),
                                    ("to", "2026-02-30T25:00:00Z"), ("group_by", "week"), ("group_by", "")])
        # An id and an email are UTF-8 text (a control character finds nothing).
        p.query("/v1/accounts", LIMIT_100 + CURSOR[4:6] + [("q", "x" * 129), ("q", b"\xff\xfe"), ("q", "a\u0000b")])
        p.query("/v1/keys", LIMIT_100 + CURSOR)
        p.query("/v1/events", [("after", "-1"), ("after", "abc"), ("after", "1.5"), ("limit", "0"),
                               ("limit", "201"), ("limit", "abc")], auth="admin")
        p.query("/v1/mails", LIMIT_100 + CURSOR + [("status", "lost"), ("status", b"\xff")])
        p.query("/v1/reconcile", [("from", "yesterday"), ("to", "2026-13-01")])
        r = api("GET", "/v1/reconcile?from=2026-01-01", auth="read")
        p.expect("reconcile from without to", r, 400, "invalid_request", "to")
        p.query("/v1/models/gpt-4o/history", LIMIT_100 + CURSOR)
        for url in (unknown_account(), unknown_account() + "/transactions", unknown_account() + "/usage",
                    unknown_account() + "/holds", unknown_account() + "/alerts",
                    "/v1/models/%s/history" % uid("model")):
            p.expect("GET " + url, api("GET", url, auth="read"), 404, "not_found")
        r = api("GET", "/v1/reconcile?from=2026-01-01&to=2026-03-01", auth="read")
        p.expect("reconcile over 31 days", r, 400, "invalid_request", "-")
    unchanged([a], run, "query parameters")


# ---- the widget's routes (a browser token) ----

def test_me_refusals():
    a = new_account("badme")
    r = api("POST", path(a, "/browser_tokens"), {}, auth="app")
    if r.status != 201:
        raise Fail("browser token: %r" % r)
    tok = r.json["token"]
    w = new_account("badmew", kind="workspace")
    api("POST", path(w, "/members"), {"member": "dora"})
    r = api("POST", path(w, "/browser_tokens"), {"member": "dora"}, auth="app")
    if r.status != 201:
        raise Fail("a member's browser token: %r" % r)
    member_tok = r.json["token"]

    def run(p):
        p.query("/v1/me/transactions", LIMIT_200 + CURSOR, auth=tok)
        p.query("/v1/me/usage", [("from", "yesterday"), ("group_by", "week")], auth=tok)
        # docs/api.md, "Widget": a member's token sums its own usage only.
        p.query("/v1/me/usage", [("group_by", "member")], auth=member_tok)
        p.fields("POST", "/v1/me/topup", lambda: {"amount_cents": 1000},
                 {"amount_cents": ints(500, 100000), "success_url": ["javascript:alert(1)", 1, "x" * 2049],
                  "save_card": bools()}, auth=tok, required=("amount_cents",))
    unchanged([a, w], run, "/v1/me")


# ---- the console ----

def console_call(method, url, data=None, headers=None):
    """A call of {base}/console/api/v1/PATH: the operation /v1/PATH
    (docs/api.md, "Console sessions"), which docs/openapi.yaml does not
    list again, so its answers are not recorded for test_99_openapi."""
    u = urllib.parse.urlsplit(ENV["CREDITD_URL"])
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    try:
        c.request(method, u.path.rstrip("/") + url, body=data,
                  headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        r = c.getresponse()
        return Resp(r.status, r.read(), {k.lower(): v for k, v in r.getheaders()})
    finally:
        c.close()


def console_session():
    """(cookie header, csrf) of a session signed in with the admin key."""
    r = api("POST", "/console/session", {"key": ENV["CREDITD_ADMIN_KEY"]}, auth=None)
    if r.status != 204:
        raise Fail("console sign-in: %r" % r)
    cookie = r.headers.get("set-cookie", "").split(";", 1)[0]
    s = api("GET", "/console/session", auth=None, headers={"Cookie": cookie})
    if s.status != 200:
        raise Fail("console session: %r" % s)
    return cookie, s.json["csrf"]


def test_console_refusals():
    a = new_account("badconsole")
    cookie, csrf = console_session()
    h = {"Cookie": cookie, "X-CSRF-Token": csrf}

    def run(p):
        sign = "/console/session"
        for what, body in (("no key", {}), ("key 1", {"key": 1}), ("key null", {"key": None}),
                           ("key []", {"key": []}), ("key true", {"key": True})):
            p.send("sign-in " + what, "POST", sign, body, param="key", auth=None)
        p.send("sign-in unknown field", "POST", sign, {"key": "crd_x", "user": "root"}, param="user", auth=None)
        for what, raw in GARBAGE.items():
            p.send("sign-in body " + what, "POST", sign, raw=raw, auth=None)
        p.send("sign-in text/plain", "POST", sign, raw=b'{"key":"x"}', status=415, code="unsupported_media_type",
               auth=None, headers={"Content-Type": "text/plain"})
        api_base = "/console/api" + path(a)
        for what, body, param in (("amount string", {"amount_micros": "1", "source": "promo"}, "amount_micros"),
                                  ("amount 1.5", {"amount_micros": 1.5, "source": "promo"}, "amount_micros"),
                                  ("amount 0", {"amount_micros": 0, "source": "promo"}, "amount_micros"),
                                  ("amount 2**63", {"amount_micros": 2 ** 63, "source": "promo"}, "amount_micros"),
                                  ("no source", {"amount_micros": 5}, "source"),
                                  ("balance_micros", {"amount_micros": 5, "source": "promo", "balance_micros": 9},
                                   "balance_micros")):
            p.send("console grant " + what, "POST", api_base + "/grants", body, param=param, auth=None, headers=h)
        for what, raw in GARBAGE.items():
            p.send("console grant body " + what, "POST", api_base + "/grants", raw=raw, auth=None, headers=h)
        p.send("console grant text/plain", "POST", api_base + "/grants", raw=b'{"amount_micros":5}', status=415,
               code="unsupported_media_type", auth=None, headers=dict(h, **{"Content-Type": "text/plain"}))
        p.send("console grant over 64 KiB", "POST", api_base + "/grants",
               {"amount_micros": 5, "source": "promo", "description": "x" * 70000}, 413, "payload_too_large",
               auth=None, headers=h)
        p.send("console PATCH status", "PATCH", api_base, {"status": "frozen"}, param="status", auth=None, headers=h)
        p.send("console unknown account", "POST", "/console/api" + unknown_account() + "/grants",
               {"amount_micros": 5, "source": "promo"}, 404, "not_found", auth=None, headers=h)
        r = console_call("GET", "/console/api" + path(a, "/transactions?limit=0"), headers={"Cookie": cookie})
        p.expect("console GET limit=0", r, 400, "invalid_request", "limit")
        r = console_call("GET", "/console/api/v1/accounts?limit=abc", headers={"Cookie": cookie})
        p.expect("console accounts limit=abc", r, 400, "invalid_request", "limit")
    unchanged([a], run, "console")
    api("DELETE", "/console/session", auth=None, headers={"Cookie": cookie, "X-CSRF-Token": csrf})
