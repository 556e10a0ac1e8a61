"""test_87c_provider_prices.py: a provider's own price for a model
(docs/gateway.md, "Which price a call is charged") through nginx -> creditd
-> two fake providers of the OpenAI kind (tests/fake_provider.md), `pa`
tried first and `pb` next: a call is held at the dearest price of the
providers it may be answered by, charged at the price of the one that
answered (LiteLLM #39294: a fallback charged at the first one's price was
35 % low or 109 % high), to the micro; GET /v1/holds/{hold_id} names the
price used (price_provider); `creditctl price set MODEL --provider NAME`
and a JSON price list's "provider" write a provider's row, listed by
`price list`, `price history` and GET /v1/models (provider null for the
general row) and not by GET /openai/v1/models; an unknown provider, or a
provider's price for a model with no general price, is refused (exit 2
for set, 1 for an import) with nothing written. The nginx-side creditd is
restarted with the sections appended (test_87's way) and started again as
the stack has it."""
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile

import stack
from lib import ENV, api, check, eq, new_account, sql, verify, wait_until
from test_80_gateway import body_chat, call, chat, openai_error, state
from test_87_gateway_providers import Fake, hold_of

# The models of this file alone (a provider's row changes nothing of
# another file's models). pp-up: pb bills 109 % more than the general
# price, pa the general one. pp-down: pa bills 35 % more, pb the general
# one. pp-on: pa alone, the general price (a name as long as pp-up's:
# the same input bound). pp-tier: the general row prices the priority
# tier, pb's own row does not.
GENERAL = (1000000, 4000000)
DEARER = (2090000, 8360000)
DEAR_FIRST = (1350000, 5400000)
MAX_OUT = 1000


def row(model, prices, provider=None):
    r = {"model": model, "input_micros_per_mtok": prices[0], "cached_input_micros_per_mtok": prices[0] // 2,
         "output_micros_per_mtok": prices[1], "max_output_tokens": MAX_OUT}
    if provider is not None:
        r["provider"] = provider
    return r


# The image models of this file (docs/gateway.md, "Images"), each served
# by pa then pb under its own name: pi-img per pixel at its 1024x1024 row,
# pb's own dearer (109 % more); pi-each per image, pa's own dearer (35 %
# more); gpt-image-1-pp by image tokens, pb's own dearer; pi-mixed per
# image, pb's own row pricing no image.
IMAGE_MODELS = ("pi-img", "pi-each", "gpt-image-1-pp", "pi-mixed")
PX = (19070000, 39856300)
EACH = (30000, 40500)
GPT_GENERAL = {"input": 5000000, "output": 10000000, "input_image": 10000000, "output_image": 40000000}
GPT_PB = {"input": 6000000, "output": 12000000, "input_image": 12500000, "output_image": 80000000}


def image_row(model, provider=None, **dims):
    r = dict({"model": model, "input_micros_per_mtok": 0, "cached_input_micros_per_mtok": 0,
              "output_micros_per_mtok": 0, "max_output_tokens": 1}, **dims)
    if provider is not None:
        r["provider"] = provider
    return r


def gpt_row(model, prices, provider=None):
    return image_row(model, provider, input_micros_per_mtok=prices["input"],
                     cached_input_micros_per_mtok=prices["input"], output_micros_per_mtok=prices["output"],
                     input_image_micros_per_mtok=prices["input_image"],
                     output_image_micros_per_mtok=prices["output_image"])


IMAGE_ROWS = [image_row("1024-x-1024/pi-img", input_pixel_micros_per_gpx=PX[0]),
              image_row("1024-x-1024/pi-img", "pb", input_pixel_micros_per_gpx=PX[1]),
              image_row("pi-each", output_micros_per_image=EACH[0]),
              image_row("pi-each", "pa", output_micros_per_image=EACH[1]),
              gpt_row("gpt-image-1-pp", GPT_GENERAL), gpt_row("gpt-image-1-pp", GPT_PB, "pb"),
              image_row("pi-mixed", output_micros_per_image=EACH[0]),
              image_row("pi-mixed", "pb", input_micros_per_mtok=1000000, output_micros_per_mtok=1000000)]

_up = {}


def ctl(*args):
    """creditctl with this file's config (its providers named)."""
    return subprocess.run([ENV["CREDITCTL"], "-c", _up["conf"]] + list(args), capture_output=True, text=True,
                          timeout=120)


def write_conf(a, b):
    sections = """
[provider pa]
kind = openai
base_url = http://127.0.0.1:{a}/v1
api_key = sk-fake-openai
models = pp-up=gpt-4o-mini, pp-down=gpt-4o-mini, pp-on=gpt-4o-mini, pp-tier=gpt-4o-mini, {images}

[provider pb]
kind = openai
base_url = http://127.0.0.1:{b}/v1
api_key = sk-fake-openai
models = pp-up=gpt-4o-mini, pp-down=gpt-4o-mini, pp-tier=gpt-4o-mini, {images}
""".format(a=a.port, b=b.port, images=", ".join(IMAGE_MODELS))
    conf = stack.path("creditd-pprice.conf")
    shutil.copy(ENV["CREDITD_CONFIG"], conf)
    with open(conf) as f:
        text = f.read()
    text = re.sub(r"\[gateway\]\n", "[gateway]\nmax_attempts = 3\n", text)
    with open(conf, "w") as f:
        f.write(text + sections)
    os.chmod(conf, 0o600)
    return conf


def import_list(rows):
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        f.write(json.dumps(rows))
    try:
        return ctl("price", "import", f.name)
    finally:
        os.unlink(f.name)


def up():
    """The two fakes, the prices, creditd restarted with the sections, once a run."""
    if _up:
        return _up["a"], _up["b"]
    a, b = Fake("fake_pa"), Fake("fake_pb")
    _up.update(a=a, b=b, conf=write_conf(a, b))
    tiered = dict(row("pp-tier", GENERAL), priority_input_micros_per_mtok=2 * GENERAL[0],
                  priority_output_micros_per_mtok=2 * GENERAL[1])
    p = import_list([row("pp-up", GENERAL), row("pp-down", GENERAL), row("pp-on", GENERAL), tiered,
                     row("pp-down", DEAR_FIRST, "pa"), row("pp-tier", GENERAL, "pb")] + IMAGE_ROWS)
    eq(p.returncode, 0, "a JSON list with a provider's row imported: %s%s" % (p.stdout, p.stderr))
    p = ctl("price", "set", "pp-up", "--provider", "pb", "input=%d" % DEARER[0], "output=%d" % DEARER[1],
            "cached_input=%d" % (DEARER[0] // 2))
    eq(p.returncode, 0, "price set --provider: %s%s" % (p.stdout, p.stderr))
    printed = json.loads(p.stdout)
    eq((printed["model"], printed["provider"], printed["input_micros_per_mtok"], printed["max_output_tokens"]),
       ("pp-up", "pb", DEARER[0], MAX_OUT), "prints the provider's row, the rest from the general one")
    stack.creditd_kill9()
    stack.creditd_start(config=_up["conf"])
    return a, b


def teardown_module():
    if _up:
        stack.creditd_kill9()
        stack.creditd_start()
        for name in ("fake_pa", "fake_pb"):
            try:
                os.killpg(stack.pid_of(name), signal.SIGKILL)
            except ProcessLookupError:
                pass
            stack.forget(name)
        _up.clear()


def fresh():
    a, b = up()
    for f in (a, b):
        f.reset()
        f.mode()
    return a, b


def margin():
    return api("GET", "/v1/models", auth="read").json["margin_bps"]


def micros(prices, inp, out):
    """The cost formula (docs/api.md, "Costs"), rounded up once."""
    raw = (inp * prices[0] + out * prices[1]) * margin()
    return -(-raw // 10 ** 10)


def hold_figures(acct):
    """The input bound and output of the account's one hold."""
    got = sql("SELECT h.rate_tokens - h.max_output_tokens, h.max_output_tokens FROM holds h JOIN accounts a "
              "ON a.id = h.account_id WHERE a.ext_id = '%s'" % acct)
    eq(len(got), 1, "one hold")
    return int(got[0][0]), int(got[0][1])


def whole(acct, model, **extra):
    return chat(acct, body_chat(model, max_completion_tokens=20, **extra))


def test_a_fallback_to_a_dearer_provider_is_charged_its_price_and_held_at_it():
    a, b = fresh()
    a.mode(mode="error", status=503)
    acct = new_account("ppup")
    before = state(acct)[0]
    r = whole(acct, "pp-up")
    eq((r.status, r.headers.get("creditd-provider")), (200, "pb"), "answered by pb: %r" % r.body[:300])
    u = r.json["usage"]
    want = micros(DEARER, u["prompt_tokens"], u["completion_tokens"])
    eq(int(r.headers["creditd-charged-micros"]), want, "charged at pb's own price, to the micro")
    eq(state(acct), (before - want, 0), "the balance moved by that, nothing held")
    check(want != micros(GENERAL, u["prompt_tokens"], u["completion_tokens"]), "not the general price")
    h = hold_of(r)
    inp, out = hold_figures(acct)
    eq(h["held_micros"], micros(DEARER, inp, out), "held at the dearer candidate's price")
    eq((h["provider"], h["attempts"], h["price_provider"], h["charged_micros"]), ("pb", 2, "pb", want),
       "GET hold names the price used: pb's own")
    verify()


def test_the_first_provider_answering_is_charged_the_general_price_and_held_at_the_dearer():
    a, b = fresh()
    acct = new_account("ppfirst")
    before = state(acct)[0]
    r = whole(acct, "pp-up")
    eq((r.status, r.headers.get("creditd-provider")), (200, "pa"), "answered by pa")
    u = r.json["usage"]
    want = micros(GENERAL, u["prompt_tokens"], u["completion_tokens"])
    eq(int(r.headers["creditd-charged-micros"]), want, "charged at the general price (pa has none of its own)")
    eq(state(acct), (before - want, 0), "once")
    h = hold_of(r)
    inp, out = hold_figures(acct)
    eq(h["held_micros"], micros(DEARER, inp, out), "held at pb's price: pb may have answered")
    eq((h["provider"], h["price_provider"]), ("pa", None), "the model's general price used")
    solo = new_account("ppsolo")
    r = whole(solo, "pp-on")
    eq(r.status, 200, "a model pa alone serves")
    inp_solo, out_solo = hold_figures(solo)
    eq((inp_solo, out_solo), (inp, out), "the same bounds")
    eq(hold_of(r)["held_micros"], micros(GENERAL, inp, out), "held at the general price: no dearer candidate")
    verify()


def test_a_fallback_from_a_dearer_first_provider_is_charged_the_cheaper_price():
    a, b = fresh()
    acct = new_account("ppdown")
    r = whole(acct, "pp-down", stream=True, stream_options={"include_usage": True})
    eq((r.status, r.headers.get("creditd-provider")), (200, "pa"), "a stream answered by pa")
    usage = json.loads([e for e in r.events() if '"usage"' in e and '"prompt_tokens"' in e][-1])["usage"]
    h = hold_of(r)
    eq((h["charged_micros"], h["price_provider"]),
       (micros(DEAR_FIRST, usage["prompt_tokens"], usage["completion_tokens"]), "pa"), "pa's own price, named")
    inp, out = hold_figures(acct)
    eq(h["held_micros"], micros(DEAR_FIRST, inp, out), "held at pa's, the dearer")
    a.mode(mode="error", status=429)
    acct = new_account("ppdown2")
    before = state(acct)[0]
    r = whole(acct, "pp-down")
    eq((r.status, r.headers.get("creditd-provider")), (200, "pb"), "fell back to pb")
    u = r.json["usage"]
    want = micros(GENERAL, u["prompt_tokens"], u["completion_tokens"])
    eq(state(acct), (before - want, 0), "charged pb's (the general) price, not pa's 35 % more")
    eq((hold_of(r)["charged_micros"], hold_of(r)["price_provider"]), (want, None), "the general price named")
    verify()


def test_a_background_run_answered_by_a_fallback_is_charged_its_price_when_it_ends():
    a, b = fresh()
    a.mode(mode="error", status=429)
    acct = new_account("ppbg")
    before = state(acct)[0]
    r = call("/openai/v1/responses", {"model": "pp-down", "input": "a run in the background", "max_output_tokens": 20,
                                      "background": True}, headers={"Creditd-Account": acct})
    eq((r.status, r.json.get("status")), (200, "queued"), "a background run, queued at pb: %r" % r.body[:300])
    rid = r.json["id"]
    got = b.ctl("POST", "/_background", {"id": rid, "status": "completed"})
    eq(got.get("status"), "completed", "pb's run ended: %r" % got)
    u = b.ctl("GET", "/_background/" + rid)["usage"]
    g = call("/openai/v1/responses/" + rid, None, headers={"Creditd-Account": acct})
    eq((g.status, g.json.get("status")), (200, "completed"), "retrieved from pb, ended")
    want = micros(GENERAL, u["input_tokens"], u["output_tokens"])
    eq(state(acct), (before - want, 0), "charged pb's (the general) price, not the pin (pa's 35 % more)")
    h = hold_of(r)
    eq((h["charged_micros"], h["provider"], h["attempts"], h["price_provider"]), (want, "pb", 2, None),
       "its usage record names the provider that ran it and the tries: %r" % h)
    verify()


def test_the_lists_show_the_provider_rows():
    up()
    models = [m for m in api("GET", "/v1/models", auth="read").json["data"]
              if m["model"] in ("pp-up", "pp-down", "pp-on")]
    eq(sorted((m["model"], m["provider"] or "-", m["input_micros_per_mtok"]) for m in models),
       [("pp-down", "-", GENERAL[0]), ("pp-down", "pa", DEAR_FIRST[0]), ("pp-on", "-", GENERAL[0]),
        ("pp-up", "-", GENERAL[0]), ("pp-up", "pb", DEARER[0])], "GET /v1/models: provider null for the general row")
    check(all("provider" in m for m in models) and [m for m in models if m["provider"] is None],
          "every row names its provider, null for the general one")
    listed = json.loads(ctl("price", "list").stdout)["data"]
    eq(sorted((m["model"], m["provider"] or "-") for m in listed if m["model"] == "pp-up"),
       [("pp-up", "-"), ("pp-up", "pb")], "creditctl price list")
    r = call("/openai/v1/models", None, auth="guard")
    ids = [m["id"] for m in r.json["data"] if m["id"].startswith("pp-")]
    eq(sorted(ids), ["pp-down", "pp-on", "pp-tier", "pp-up"], "GET /openai/v1/models: each model once")
    hist = ctl("price", "history", "pp-up")
    eq(hist.returncode, 0, "history")
    lines = hist.stdout.strip().splitlines()
    check(any("provider pb" in ln and "input %d" % DEARER[0] in ln for ln in lines), "pb's row in the history: %s"
          % hist.stdout)
    check(any("provider" not in ln and "input %d" % GENERAL[0] in ln for ln in lines), "and the general one")


def test_an_unknown_provider_or_no_general_price_is_refused_nothing_written():
    up()
    before = sql("SELECT COUNT(*) FROM provider_prices")[0][0]
    p = ctl("price", "set", "pp-up", "--provider", "nosuch", "input=1")
    eq(p.returncode, 2, "an unknown provider: exit 2")
    check("nosuch" in p.stderr and "pa" in p.stderr and "pb" in p.stderr, "named, with the known ones: %s" % p.stderr)
    p = ctl("price", "set", "pp-nogeneral", "--provider", "pa", "input=1", "output=1", "max_output_tokens=10")
    eq(p.returncode, 2, "no general price: exit 2")
    check("general price" in p.stderr, "said: %s" % p.stderr)
    p = import_list([row("pp-up", GENERAL, "nosuch")])
    eq(p.returncode, 1, "an import naming an unknown provider: exit 1")
    check("nosuch" in p.stderr and "nothing imported" in p.stderr, "said: %s" % p.stderr)
    p = import_list([row("pp-alone", GENERAL, "pa")])
    eq(p.returncode, 1, "an import of a provider's row without the general one: exit 1")
    check("general price" in p.stderr, "said: %s" % p.stderr)
    eq(sql("SELECT COUNT(*) FROM provider_prices")[0][0], before, "nothing written")
    p = ctl("price", "set", "--provider", "pb", "pp-up", "output=%d" % DEARER[1])
    eq(p.returncode, 0, "--provider before the model too: %s" % p.stderr)
    eq((json.loads(p.stdout)["provider"], json.loads(p.stdout)["output_micros_per_mtok"]), ("pb", DEARER[1]),
       "pb's row, unchanged")
    eq(sql("SELECT COUNT(*) FROM models WHERE name IN ('pp-nogeneral', 'pp-alone')")[0][0], "0", "nor a general row")


def test_a_call_a_candidate_s_own_row_does_not_price_is_refused_nothing_forwarded():
    a, b = fresh()
    acct = new_account("pptier")
    before = state(acct)
    r = whole(acct, "pp-tier", service_tier="priority")
    openai_error(r, 400, "invalid_request", "service_tier")
    check("pb" in r.json["error"]["message"], "the provider whose row does not price it named: %r" % r.json)
    eq((len(a.received()), len(b.received())), (0, 0), "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    r = whole(acct, "pp-tier")
    eq(r.status, 200, "the standard tier is priced by both rows")
    verify()


# ---- The image routes (docs/gateway.md, "Images"): held at the dearest
# candidate's rows, charged at the answering provider's ----

def images(acct, body):
    return call("/openai/v1/images/generations", body, headers={"Creditd-Account": acct})


def sent_usage(fake):
    """What the fake's answer to the last call it was sent made and said."""
    return [r for r in fake.received() if r["method"] == "POST"][-1]["usage"]


def settled(acct, before, r):
    """The call's charge, one figure in the answer, the balance and the hold."""
    eq(r.status, 200, "answered: %r" % r.body[:300])
    check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "settled")
    charged = int(r.headers["creditd-charged-micros"])
    eq(state(acct)[0], before - charged, "the balance lost what the answer says was charged")
    eq(hold_of(r)["charged_micros"], charged, "the hold says the same")
    return charged


def px_raw(px):
    """One 1024x1024 image's raw cost at px micros per 10^9 pixels."""
    return -(-1024 * 1024 * px // 1000)


def raw_micros(raw):
    return -(-raw * margin() // 10 ** 10)


def test_an_image_answered_by_a_fallback_is_charged_its_own_per_pixel_price_and_held_at_it():
    a, b = fresh()
    a.mode(mode="error", status=503)
    acct = new_account("ppimg")
    before = state(acct)[0]
    r = images(acct, {"model": "pi-img", "prompt": "a red fox", "size": "1024x1024", "n": 2})
    eq(r.headers.get("creditd-provider"), "pb", "answered by pb: %r" % r.body[:300])
    charged = settled(acct, before, r)
    made = sent_usage(b)["images"]
    eq(charged, raw_micros(made * px_raw(PX[1])), "charged at pb's own row per pixel, to the micro")
    check(charged != raw_micros(made * px_raw(PX[0])), "not the general row's")
    h = hold_of(r)
    eq(h["held_micros"], raw_micros(2 * px_raw(PX[1])), "held at pb's, the dearer candidate")
    eq((h["provider"], h["attempts"], h["price_provider"]), ("pb", 2, "pb"), "GET hold names pb's own price")
    # pa answers: the general row charged, the hold still pb's.
    a.mode()
    before = state(acct)[0]
    r = images(acct, {"model": "pi-img", "prompt": "a red fox", "size": "1024x1024", "n": 2})
    eq(r.headers.get("creditd-provider"), "pa", "answered by pa")
    eq(settled(acct, before, r), raw_micros(sent_usage(a)["images"] * px_raw(PX[0])), "the general row charged")
    h = hold_of(r)
    eq((h["held_micros"], h["price_provider"]), (raw_micros(2 * px_raw(PX[1])), None),
       "held at pb's (it may have answered), the general price named")
    verify()


def test_an_image_priced_per_image_is_charged_the_answering_provider_s_price_or_refused_where_it_has_none():
    a, b = fresh()
    acct = new_account("ppeach")
    before = state(acct)[0]
    r = images(acct, {"model": "pi-each", "prompt": "a boat", "n": 3})
    eq(r.headers.get("creditd-provider"), "pa", "answered by pa")
    eq(settled(acct, before, r), raw_micros(sent_usage(a)["images"] * EACH[1] * 10 ** 6), "pa's own price an image")
    h = hold_of(r)
    eq((h["held_micros"], h["price_provider"]), (raw_micros(3 * EACH[1] * 10 ** 6), "pa"), "held and named: pa's")
    a.mode(mode="error", status=429)
    before = state(acct)[0]
    r = images(acct, {"model": "pi-each", "prompt": "a boat", "n": 3})
    eq(r.headers.get("creditd-provider"), "pb", "fell back to pb")
    eq(settled(acct, before, r), raw_micros(sent_usage(b)["images"] * EACH[0] * 10 ** 6),
       "pb's (the general) price, not pa's 35 % more")
    h = hold_of(r)
    eq((h["held_micros"], h["price_provider"]), (raw_micros(3 * EACH[1] * 10 ** 6), None), "held at pa's")
    verify()
    # A candidate's own row that prices no image: refused, naming it.
    a, b = fresh()
    before = state(acct)
    r = images(acct, {"model": "pi-mixed", "prompt": "x"})
    openai_error(r, 400, "invalid_request", "model")
    check("pb" in r.json["error"]["message"], "the provider whose row does not price it named: %r" % r.json)
    eq((len(a.received()), len(b.received())), (0, 0), "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_an_image_by_tokens_is_charged_the_answering_provider_s_image_token_prices():
    a, b = fresh()
    a.mode(mode="error", status=503)
    acct = new_account("ppgpt")
    before = state(acct)[0]
    body = {"model": "gpt-image-1-pp", "prompt": "a lighthouse at dusk", "size": "1024x1024", "quality": "low"}
    r = images(acct, body)
    eq(r.headers.get("creditd-provider"), "pb", "answered by pb: %r" % r.body[:300])
    charged = settled(acct, before, r)
    u = sent_usage(b)
    check(u["usage_reported"], "pb reported its usage")
    eq(charged, raw_micros(u["text_input_tokens"] * GPT_PB["input"] + u["image_input_tokens"] * GPT_PB["input_image"]
                           + u["image_output_tokens"] * GPT_PB["output_image"]), "pb's token prices, to the micro")
    text = len(json.dumps(body).encode())
    h = hold_of(r)
    eq(h["held_micros"], raw_micros(text * GPT_PB["input"] + 272 * GPT_PB["output_image"]),
       "held: the body's bytes and a low square at pb's prices")
    eq(h["price_provider"], "pb", "named")
    verify()


def test_an_edit_answered_by_a_fallback_is_charged_its_own_price():
    from test_91_gateway_images import BOUNDARY, form
    a, b = fresh()
    a.mode(mode="error", status=503)
    acct = new_account("ppedit")
    before = state(acct)[0]
    r = call("/openai/v1/images/edits", None, raw=form([("model", "pi-img"), ("prompt", "a hat"), ("size", "1024x1024")],
                                                       [("image", "a.png")]),
             headers={"Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
    eq(r.headers.get("creditd-provider"), "pb", "answered by pb: %r" % r.body[:300])
    eq(settled(acct, before, r), raw_micros(sent_usage(b)["images"] * px_raw(PX[1])), "pb's own per-pixel price")
    h = hold_of(r)
    eq((h["held_micros"], h["price_provider"]), (raw_micros(px_raw(PX[1])), "pb"), "held and named: pb's")
    verify()

