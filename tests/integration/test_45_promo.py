"""test_45_promo.py: promo codes (DESIGN §9). Creation validates and
refuses a code that exists in any case; redemption grants a promo credit
once per account, with each refusal of DESIGN (404, already_redeemed,
promo_exhausted, promo_expired) changing nothing, and concurrent
redemptions of a limited code succeed exactly as often as it allows."""
import json
import time
import uuid

from lib import api, account, check, creditctl, eq, new_account, parallel, sql, verify


def code(prefix="PR"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def create(body, auth="admin"):
    return api("POST", "/v1/promo_codes", body, auth=auth)


def redeem(acct, c, auth="app"):
    return api("POST", "/v1/accounts/%s/redeem" % acct, {"code": c}, auth=auth)


def rfc3339(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def test_create_validates_and_refuses_an_existing_code_in_any_case():
    c = code()
    r = create({"code": c, "amount_micros": 2000000, "max_redemptions": 3, "grant_ttl_days": 30})
    eq(r.status, 201, "created: %r" % r)
    eq(r.json["code"], c, "the code as written")
    eq(r.json["amount_micros"], 2000000, "amount")
    eq(r.json["max_redemptions"], 3, "max")
    eq(r.json["redeemed"], 0, "none yet")
    eq(r.json["grant_ttl_days"], 30, "ttl")
    eq(r.json["expires_at"], None, "no expiry")
    again = create({"code": c.lower(), "amount_micros": 1})
    eq(again.status, 409, "the same code in another case exists")
    eq(again.err.get("param"), "code", "names the code")
    for bad, param in (({"code": "abc", "amount_micros": 1}, "code"),
                       ({"code": "has space", "amount_micros": 1}, "code"),
                       ({"code": "x" * 65, "amount_micros": 1}, "code"),
                       ({"code": code(), "amount_micros": 0}, "amount_micros"),
                       ({"code": code(), "amount_micros": "5"}, "amount_micros"),
                       ({"code": code(), "amount_micros": 5, "max_redemptions": 0}, "max_redemptions"),
                       ({"code": code(), "amount_micros": 5, "expires_at": rfc3339(time.time() - 60)},
                        "expires_at"),
                       ({"amount_micros": 5}, "code")):
        r = create(bad)
        eq(r.status, 400, "invalid %r" % bad)
        eq(r.err.get("param"), param, "names %s" % param)
    eq(create({"code": code(), "amount_micros": 5}, auth="read").status, 403, "admin only")


def test_redeem_grants_once_per_account_in_any_case():
    c = code("Spring")
    eq(create({"code": c, "amount_micros": 2500000, "grant_ttl_days": 7}).status, 201, "created")
    acct = new_account("promo")
    start = account(acct)["balance_micros"]
    r = redeem(acct, c.upper())
    eq(r.status, 201, "redeemed in another case: %r" % r)
    eq(r.json["amount_micros"], 2500000, "its amount")
    check(r.json["grant_id"].startswith("grant_"), "a grant id")
    exp = time.mktime(time.strptime(r.json["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    check(abs(exp - (time.time() + 7 * 86400)) < 120, "the grant expires after grant_ttl_days")
    a = account(acct)
    eq(a["balance_micros"], start + 2500000, "credited")
    check(any(g["id"] == r.json["grant_id"] and g["source"] == "promo" for g in a["grants"]), "a promo grant")
    again = redeem(acct, c.lower())
    eq(again.status, 409, "the same account again")
    eq(again.err.get("code"), "already_redeemed", "its code")
    eq(account(acct)["balance_micros"], start + 2500000, "nothing more")
    eq(redeem(acct, code()).status, 404, "an unknown code")
    eq(redeem("nobody-" + uuid.uuid4().hex[:8], c).status, 404, "an unknown account")
    eq(redeem(acct, "no").status, 400, "a malformed code")
    eq(redeem(acct, c, auth="guard").status, 403, "app scope (or admin)")
    eq(redeem(acct, c, auth="read").status, 403, "a read key starts nothing")
    verify()


def test_an_expired_code_is_refused_and_changes_nothing():
    c = code()
    eq(create({"code": c, "amount_micros": 1000, "expires_at": rfc3339(time.time() + 3600)}).status, 201, "made")
    sql("UPDATE promo_codes SET expires_at = %d WHERE code = '%s'" % (int(time.time()) - 1, c))
    acct = new_account("promo")
    start = account(acct)["balance_micros"]
    r = redeem(acct, c)
    eq(r.status, 409, "expired")
    eq(r.err.get("code"), "promo_expired", "its code")
    eq(account(acct)["balance_micros"], start, "nothing credited")


def test_concurrent_redemptions_stop_exactly_at_max_redemptions():
    c = code()
    eq(create({"code": c, "amount_micros": 1000000, "max_redemptions": 10}).status, 201, "made")
    accts = [new_account("promo") for _ in range(32)]
    res = parallel(len(accts), lambda i: redeem(accts[i], c))
    ok = [r for r in res if r.status == 201]
    eq(len(ok), 10, "exactly max_redemptions succeed: %r" % [r.status for r in res])
    for r in res:
        if r.status != 201:
            eq(r.status, 409, "the rest are refused")
            eq(r.err.get("code"), "promo_exhausted", "used up")
    rows = sql("SELECT redeemed FROM promo_codes WHERE code = '%s'" % c)
    eq(rows[0][0], "10", "the count")
    credited = sum(1 for a in accts if account(a)["balance_micros"] == 11000000)
    eq(credited, 10, "ten accounts credited, the others untouched")
    verify()


def test_one_account_redeeming_at_once_is_credited_once():
    c = code()
    eq(create({"code": c, "amount_micros": 1000000}).status, 201, "made")
    acct = new_account("promo")
    res = parallel(8, lambda i: redeem(acct, c))
    eq(sorted(r.status for r in res), [201] + [409] * 7, "one redemption")
    eq(account(acct)["balance_micros"], 11000000, "credited once")


def test_creditctl_promo_create_and_list():
    c = code("CLI")
    p = creditctl("promo", "create", c, "3000000", "--max", "2", "--ttl-days", "10")
    check(c in p.stdout, "created: %s" % p.stdout)
    p = creditctl("promo", "list")
    check(any(c in line and '"max_redemptions":2' in line for line in p.stdout.splitlines()), "listed")
    bad = creditctl("promo", "create", "x", "1", check_rc=False)
    eq(bad.returncode, 2, "a bad code is a usage error")
    dup = creditctl("promo", "create", c.lower(), "1", check_rc=False)
    eq(dup.returncode, 1, "an existing code is refused")


def test_creditctl_promo_list_in_pages():
    # More codes than one page of a list (LIMIT_LIST_PAGE, 100): every code
    # once, oldest first.
    tag = code("PG")
    sql("INSERT INTO promo_codes (code, code_key, amount_micros, max_redemptions, created_at) "
        "SELECT CONCAT('%s', seq), LOWER(CONCAT('%s', seq)), 1000, 1, 1700000000 FROM seq_1_to_150" % (tag, tag))
    listed = [json.loads(line)["code"] for line in creditctl("promo", "list").stdout.splitlines()]
    eq(listed, [r[0] for r in sql("SELECT code FROM promo_codes ORDER BY id")], "every code once, oldest first")
