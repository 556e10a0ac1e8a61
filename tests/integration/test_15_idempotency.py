"""test_15_idempotency.py: an Idempotency-Key returns the first result,
refusals included (402, 404, 409, 429 are answers about the ledger's state),
while validation errors are not stored; a state conflict under a key is
named as such, not blamed on the key."""
from lib import api, account, check, eq, new_account, uid


def _debit(acct, amount, key):
    return api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": amount, "reason": "test"},
               headers={"Idempotency-Key": key})


def test_a_refused_debit_is_replayed_as_refused():
    acct = new_account("idem")
    key = uid("key")
    first = _debit(acct, 15000000, key)
    eq(first.status, 402, "more than the balance")
    eq(first.err.get("code"), "insufficient_credits", "code")
    r = api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 10000000, "source": "promo"})
    eq(r.status, 201, "grant")
    again = _debit(acct, 15000000, key)
    eq(again.status, 402, "the same key and body: the first result")
    eq(again.json, first.json, "the same body")
    eq(account(acct)["balance_micros"], 20000000, "nothing debited")
    other = _debit(acct, 1000, key)
    eq(other.status, 409, "the same key with another body")
    eq(other.err.get("param"), "idempotency_key", "names the key")
    fresh = _debit(acct, 15000000, uid("key"))
    eq(fresh.status, 201, "a new key runs again")


def test_a_refused_authorize_is_replayed_with_its_figures():
    acct = new_account("idem")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": 9999000, "reason": "leave 1000"})
    body = {"account": acct, "model": "gpt-4o", "input_tokens": 1000, "max_output_tokens": 1000, "request_id": "r1"}
    key = uid("key")
    first = api("POST", "/v1/guard/authorize", body, auth="guard", headers={"Idempotency-Key": key})
    eq(first.status, 402, "not enough credit")
    eq(first.err.get("available_micros"), 1000, "available")
    eq(first.err.get("required_micros"), 13125, "required")
    api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 1000000, "source": "promo"})
    again = api("POST", "/v1/guard/authorize", body, auth="guard", headers={"Idempotency-Key": key})
    eq(again.status, 402, "replayed refusal")
    eq(again.json, first.json, "with the first figures")
    eq(account(acct)["reserved_micros"], 0, "no hold placed")


def test_validation_errors_are_not_stored():
    acct = new_account("idem")
    key = uid("key")
    bad = api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": -1, "reason": "x"},
              headers={"Idempotency-Key": key})
    eq(bad.status, 400, "invalid amount")
    good = _debit(acct, 1000, key)
    eq(good.status, 201, "the key is still free after a 400")


def test_a_state_conflict_under_a_key_names_the_hold():
    acct = new_account("idem")
    r = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                            "request_id": "c1"}, auth="guard")
    hold = r.json["hold_id"]
    eq(api("POST", "/v1/guard/release", {"hold_id": hold}, auth="guard").status, 200, "released")
    r = api("POST", "/v1/guard/settle", {"hold_id": hold, "input_tokens": 10, "output_tokens": 1}, auth="guard",
            headers={"Idempotency-Key": uid("key")})
    eq(r.status, 409, "settling a released hold")
    eq(r.err.get("param"), "hold_id", "the hold is named, not the key")
    check("released" in r.err.get("message", ""), "message says why: %r" % r.err)


def test_a_keyed_refusal_is_stored_with_the_decision():
    """The refusal under a key is stored by the transaction that decided it,
    so a request with the same key that runs right after (here: racing a
    grant that makes the debit possible) can never be applied instead: every
    answer under the key is the first one, and the key replays it."""
    from lib import parallel, verify
    for _ in range(10):
        acct = new_account("idem-race")
        key = uid("key")

        def one(i):
            if i == 0:
                return api("POST", "/v1/accounts/%s/grants" % acct, {"amount_micros": 10000000, "source": "promo"})
            return _debit(acct, 15000000, key)

        results = parallel(8, one)
        eq(results[0].status, 201, "grant")
        answers = {(r.status, str(r.json)) for r in results[1:]}
        eq(len(answers), 1, "every request under the key got the same answer: %r" % answers)
        status = results[1].status
        check(status in (201, 402), "applied or refused: %r" % results[1])
        replay = _debit(acct, 15000000, key)
        eq((replay.status, str(replay.json)), (status, str(results[1].json)), "the key replays that answer")
        debited = 15000000 if status == 201 else 0
        eq(account(acct)["balance_micros"], 20000000 - debited, "debited at most once")
    verify()


def test_a_refusal_under_a_key_keeps_nothing_else_of_its_transaction():
    """Locking the account sweeps its expired hold; a refusal stored under a
    key rolls that work back to the savepoint after the claim (the next
    request sweeps again), and the ledger stays consistent."""
    import time
    from lib import verify
    acct = new_account("idem-sp")
    h = api("POST", "/v1/guard/authorize", {"account": acct, "model": "gpt-4o", "input_tokens": 10,
                                            "max_output_tokens": 10, "request_id": uid("r"), "ttl_seconds": 1},
            auth="guard")
    eq(h.status, 200, "a 1 s hold")
    time.sleep(2.1)
    key = uid("key")
    r = _debit(acct, 15000000, key)
    eq(r.status, 402, "refused")
    eq(_debit(acct, 15000000, key).json, r.json, "stored")
    verify()
    eq(account(acct)["reserved_micros"], 0, "the hold expired")
    verify()
