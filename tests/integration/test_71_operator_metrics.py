"""test_71_operator_metrics.py: the figures an operator pages on (DESIGN
§13): worker threads alive and busy, Stripe call failures by endpoint and
kind, event-push failures, webhook signature failures, and the alert rules
that watch them, fired by what creditd counted.

Webhooks with a bad Stripe-Signature are posted; the counter the scrape
shows is then fed, as it moved, to `promtool test rules`, which must fire
CreditdWebhookSignatureFailures (and not for fewer than its threshold).
Stripe's failures come from the stand-in told to drop a Checkout
Session's connection (a transport failure) or answer it 500 (an api
one): each top-up so refused is counted under checkout_sessions.

CreditdGatewayProviderFailing (the gateway's tries of each provider,
creditd_gateway_provider_tries_total{provider,outcome}) is fed synthetic
series only: it must fire for a provider whose tries fail over a quarter
of the time for 10 minutes, with its labels and annotations, and not for
one failing less, not before 10 minutes, not for 4xx answers passed on
(client_error), not for a provider with no tries.
"""
import os
import tempfile

import yaml

from lib import api, check, eq, new_account
from test_30_stripe import fake_mode, topup
from test_70_metrics import RULES, promtool, samples, scrape
import stack

HOOK = "/v1/webhooks/stripe"


def value(text, name, **labels):
    got = [v for n, ls, v in samples(text) if n == name and all(ls.get(k) == w for k, w in labels.items())]
    eq(len(got), 1, "one sample of %s %r" % (name, labels))
    return got[0]


def test_workers_alive_and_busy():
    text = scrape()
    alive, busy = value(text, "creditd_workers"), value(text, "creditd_workers_busy")
    check(alive >= 1, "worker threads alive: %s" % alive)
    check(0 <= busy < alive, "the scrape's own worker is not counted busy: %s of %s" % (busy, alive))


def fires(before, after, threshold_ok):
    """promtool test rules: the counter from 0 (a restarted creditd) to
    what it counted here (after - before) a minute later, then flat;
    whether CreditdWebhookSignatureFailures fires at 5m (threshold_ok: it
    must, with its labels and annotations; else it must not)."""
    d = tempfile.mkdtemp(prefix="alerts.", dir=stack.path())
    test = os.path.join(d, "t.yml")
    exp = []
    if threshold_ok:
        exp = [{"exp_labels": {"severity": "warning", "instance": "i"},
                "exp_annotations": {"summary": "creditd on i refuses Stripe webhooks for their signature",
                                    "description": "%d webhooks with a bad Stripe-Signature in the last hour: check "
                                                   "[stripe] webhook_secrets." % (after - before)}}]
    doc = {"rule_files": [RULES], "evaluation_interval": "1m",
           "tests": [{"interval": "1m",
                      "input_series": [{"series": 'creditd_webhook_signature_failures_total{instance="i"}',
                                        "values": " ".join(str(v) for v in [0] + [after - before] * 5)}],
                      "alert_rule_test": [{"eval_time": "5m", "alertname": "CreditdWebhookSignatureFailures",
                                           "exp_alerts": exp}]}]}
    with open(test, "w") as f:
        yaml.safe_dump(doc, f)
    return promtool("test", "rules", test)


def test_webhook_signature_failures_are_counted_and_page():
    before = value(scrape(), "creditd_webhook_signature_failures_total")
    for i in range(3):
        r = api("POST", HOOK, raw=b'{"id":"evt_bad","type":"charge.succeeded"}', auth=None,
                headers={"Stripe-Signature": "t=1,v1=%064d" % i})
        eq(r.status, 400, "a bad signature is refused")
    r = api("POST", HOOK, raw=b'{}', auth=None)
    eq(r.status, 400, "no signature is refused")
    after = value(scrape(), "creditd_webhook_signature_failures_total")
    eq(after - before, 4, "each refusal counted")
    p = fires(int(before), int(after), True)
    eq(p.returncode, 0, "the alert fires on what creditd counted: %s%s" % (p.stdout, p.stderr))
    p = fires(int(before), int(before) + 2, False)
    eq(p.returncode, 0, "two in an hour do not page: %s%s" % (p.stdout, p.stderr))


def test_stripe_failures_by_endpoint_and_kind():
    acct = new_account("opm")
    text = scrape()
    was = {k: value(text, "creditd_stripe_failures_total", endpoint="checkout_sessions", kind=k)
           for k in ("transport", "api")}
    for e in ("customers", "payment_intents", "other"):
        for k in ("transport", "api"):
            check(value(text, "creditd_stripe_failures_total", endpoint=e, kind=k) >= 0, "%s %s listed" % (e, k))
    try:
        for mode, kind in (("close", "transport"), ("fail500", "api")):
            fake_mode(mode, path="/v1/checkout/sessions")
            r = topup(acct, 1000)
            check(r.status in (502, 503), "a top-up Stripe failed: %r" % r)
            now = value(scrape(), "creditd_stripe_failures_total", endpoint="checkout_sessions", kind=kind)
            check(now >= was[kind] + 1, "a %s failure of checkout_sessions counted: %s -> %s" % (kind, was[kind], now))
    finally:
        fake_mode("ok")
    check(value(scrape(), "creditd_event_push_failures_total") >= 0, "creditd_event_push_failures_total")


TRIES = "creditd_gateway_provider_tries_total"
OUTCOMES = ("ok", "client_error", "rate_limited", "server_error", "unreachable", "timeout")


def provider_failing(per_minute, eval_time, exp):
    """promtool test rules on synthetic tries: per_minute {provider:
    {outcome: tries a minute}} (an outcome not named: none), every counter
    of the six outcomes from 0 rising by that each minute for 30 minutes;
    exp {provider: the failed ratio as the description shows it}: the
    providers CreditdGatewayProviderFailing must fire for at eval_time,
    with their labels and annotations (no other)."""
    d = tempfile.mkdtemp(prefix="alerts.", dir=stack.path())
    test = os.path.join(d, "t.yml")
    series = [{"series": '%s{instance="i",provider="%s",outcome="%s"}' % (TRIES, p, o),
               "values": "0+%dx30" % n.get(o, 0)} for p, n in sorted(per_minute.items()) for o in OUTCOMES]
    alerts = [{"exp_labels": {"severity": "warning", "instance": "i", "provider": p},
               "exp_annotations": {"summary": "Gateway provider %s fails over 25 %% of the tries of creditd on i" % p,
                                   "description": "Failed tries (rate limited, server error, unreachable, timeout) "
                                                  "over 5 minutes: %s; its calls go to the next provider serving "
                                                  "their model, where there is one." % ratio}}
              for p, ratio in sorted(exp.items())]
    doc = {"rule_files": [RULES], "evaluation_interval": "1m",
           "tests": [{"interval": "1m", "input_series": series,
                      "alert_rule_test": [{"eval_time": eval_time, "alertname": "CreditdGatewayProviderFailing",
                                           "exp_alerts": alerts}]}]}
    with open(test, "w") as f:
        yaml.safe_dump(doc, f)
    return promtool("test", "rules", test)


def test_provider_failing_alert_on_synthetic_tries():
    # gpu1: 4 tries in 10 fail, each way a try fails; groq: 1 in 10.
    gpu1 = {"ok": 6, "rate_limited": 1, "server_error": 1, "unreachable": 1, "timeout": 1}
    groq = {"ok": 9, "unreachable": 1}
    for per_minute, at, exp, what in (
            ({"gpu1": gpu1, "groq": groq}, "20m", {"gpu1": "40%"}, "a provider failing 40 % of its tries pages, "
                                                                    "one failing 10 % does not"),
            ({"gpu1": gpu1}, "8m", {}, "not before failing for 10 minutes"),
            ({"ollama": {"ok": 3, "client_error": 5, "rate_limited": 2}}, "20m", {},
             "4xx answers passed on are not the provider's failures (2 in 10 failed)"),
            ({"idle": {}}, "20m", {}, "a provider with no tries does not page")):
        p = provider_failing(per_minute, at, exp)
        eq(p.returncode, 0, "%s: %s%s" % (what, p.stdout, p.stderr))
