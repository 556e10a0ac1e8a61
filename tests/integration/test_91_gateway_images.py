"""test_91_gateway_images.py: POST /openai/v1/images/generations through
nginx, creditd and the fake provider (docs/gateway.md, "Images"): each
call held at n images of the dearest size and quality it asks (a
hand-computed hold), charged what the provider's answer made (per pixel
at LiteLLM's size/quality rows, per image, or by the image tokens its
usage reports), more images than asked charged and flagged; a call whose
price or bound creditd cannot prove refused in OpenAI's shape naming the
member, nothing held or forwarded; creditctl verify 0."""
import json

from gateway_bill import MARGIN_BPS, last_reported
from lib import api, check, eq, new_account, verify, wait_until
from test_80_gateway import call, ensure_prices, forwarded, import_prices, mode, openai_error, received, reset, state

PATH = "/openai/v1/images/generations"


def _row(model, **dims):
    return dict({"model": model, "input_micros_per_mtok": 0, "cached_input_micros_per_mtok": 0,
                 "output_micros_per_mtok": 0, "max_output_tokens": 1}, **dims)


# Prices as LiteLLM names its image rows (QUALITY/W-x-H/MODEL, W-x-H/MODEL),
# in creditd's units: micros per 10^9 pixels (LiteLLM's dollars a pixel ×
# 10^15), micros per million image tokens, micros an image. The test's
# expectations are worked out from these literals, never read back.
PX = {"256-x-256/dall-e-2": 244140000, "512-x-512/dall-e-2": 68660000, "1024-x-1024/dall-e-2": 19070000,
      "standard/1024-x-1024/dall-e-3": 38146900, "hd/1024-x-1024/dall-e-3": 76293900,
      "standard/1792-x-1024/dall-e-3": 43590000, "hd/1792-x-1024/dall-e-3": 65390000,
      "standard/1024-x-1792/dall-e-3": 43590000, "hd/1024-x-1792/dall-e-3": 65390000}
GPT = {"input": 5000000, "output": 10000000, "input_image": 10000000, "output_image": 40000000}
EACH = 30000
GPT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}

def _price():
    ensure_prices()
    # Every time: another file of the stack (test_23c's catalogue) may
    # have priced these names since.
    rows = [_row(name, input_pixel_micros_per_gpx=px) for name, px in PX.items()]
    rows.append(_row("gpt-image-1", input_micros_per_mtok=GPT["input"], cached_input_micros_per_mtok=GPT["input"],
                     output_micros_per_mtok=GPT["output"], input_image_micros_per_mtok=GPT["input_image"],
                     output_image_micros_per_mtok=GPT["output_image"]))
    rows.append(_row("img-each", output_micros_per_image=EACH))
    rows.append(_row("img-chat-only", input_micros_per_mtok=1000000, output_micros_per_mtok=1000000))
    import_prices(rows, "--force")


def _ceil(a, b):
    return -(-a // b)


def _px_raw(model_row, w, h):
    """One image's raw cost (micros × 10^6) at a per-pixel row: pixels ×
    micros per 10^9 pixels / 1,000, rounded up to the raw unit."""
    return _ceil(w * h * PX[model_row], 1000)


def _micros(raw):
    """§3: the raw sum times the margin, rounded up once."""
    return _ceil(raw * MARGIN_BPS, 10 ** 10)


def _images(acct, body, **headers):
    return call(PATH, body, headers=dict({"Creditd-Account": acct}, **headers))


def _hold(r):
    return api("GET", "/v1/holds/" + r.headers["creditd-hold-id"], auth="read").json


def _settled(acct, before, r):
    """The call's charge: what its answer says, what the balance lost and
    what its hold shows, all one figure."""
    eq(r.status, 200, "answered: %r" % r.body[:300])
    check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "settled")
    charged = int(r.headers["creditd-charged-micros"])
    eq(state(acct)[0], before - charged, "the balance lost what the answer says was charged")
    eq(_hold(r)["charged_micros"], charged, "the hold says the same")
    return charged


def test_dall_e_3_is_held_at_the_size_and_quality_asked_and_charged_per_pixel():
    _price()
    reset()
    acct = new_account("img3")
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-3", "prompt": "a red fox in snow", "size": "1792x1024", "quality": "hd"})
    charged = _settled(acct, before, r)
    said = last_reported()
    eq((said["images"], said["size"], said["quality"]), (1, "1792x1024", "hd"), "the provider made one hd image")
    want = _micros(said["images"] * _px_raw("hd/1792-x-1024/dall-e-3", 1792, 1024))
    eq(charged, want, "one hd 1792x1024 image at its row's price per pixel")
    eq(want, 125991, "LiteLLM's price of it ($0.11999: 6.539e-08 a pixel) with the 5 % margin, to the micro")
    eq(_hold(r)["held_micros"], want, "held at exactly that (n = 1, the size and quality asked)")
    eq(r.json["data"][0]["url"].startswith("https://"), True, "the answer passed on: a URL")
    # A quality left out is dall-e-3's default, standard; "auto" the dearest it offers, hd.
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-3", "prompt": "a red fox", "size": "1024x1024"})
    eq(_settled(acct, before, r), _micros(_px_raw("standard/1024-x-1024/dall-e-3", 1024, 1024)), "standard held and charged")
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-3", "prompt": "a red fox", "quality": "auto"})
    eq(_hold(r)["held_micros"], _micros(_px_raw("hd/1024-x-1024/dall-e-3", 1024, 1024)), "auto held at hd")
    eq(_settled(acct, before, r), _micros(_px_raw("hd/1024-x-1024/dall-e-3", 1024, 1024)),
       "an answer that names no quality is charged what was held")
    verify()


def test_dall_e_2_charges_the_images_made_and_flags_more_than_asked():
    _price()
    reset()
    acct = new_account("img2")
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-2", "prompt": "a cat", "n": 3, "response_format": "b64_json"})
    one = _px_raw("1024-x-1024/dall-e-2", 1024, 1024)
    eq(_hold(r)["held_micros"], _micros(3 * one), "held: 3 images at the default size, 1024x1024")
    charged = _settled(acct, before, r)
    eq(len(r.json["data"]), 3, "three images, base64")
    check("b64_json" in r.json["data"][0], "as asked: %r" % r.json["data"][0].keys())
    eq(charged, _micros(last_reported()["images"] * one), "charged the images made")
    eq(_hold(r)["over_hold"], False, "as asked")
    # No model named: the reference's default, dall-e-2, held, charged and
    # written into the body sent (the provider makes what was held).
    before = state(acct)[0]
    r = _images(acct, {"prompt": "a cat", "size": "512x512"})
    eq(_settled(acct, before, r), _micros(_px_raw("512-x-512/dall-e-2", 512, 512)), "dall-e-2's 512x512")
    eq(received()[-1]["json"]["model"], "dall-e-2", "the model sent")
    # A size asked: held and charged at it.
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-2", "prompt": "a cat", "size": "256x256"})
    eq(_settled(acct, before, r), _micros(_px_raw("256-x-256/dall-e-2", 256, 256)), "256x256")
    # The provider makes more than asked: charged, flagged, never dropped.
    mode(images_made=4)
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-2", "prompt": "a cat", "n": 2})
    charged = _settled(acct, before, r)
    eq(last_reported()["images"], 4, "the provider made four")
    eq(charged, _micros(4 * one), "four charged")
    check(charged > _hold(r)["held_micros"], "beyond the hold of two")
    eq(_hold(r)["over_hold"], True, "flagged")
    verify()


def test_gpt_image_1_is_held_by_the_token_table_and_charged_its_usage():
    _price()
    reset()
    acct = new_account("imggpt")
    before = state(acct)[0]
    body = {"model": "gpt-image-1", "prompt": "a lighthouse at dusk in oil paint", "n": 2}
    r = _images(acct, body)
    # Held: the body's bytes as text tokens at the input price, and 2
    # images at the dearest size and quality ("auto" both: high,
    # 1024x1536, 6,240 tokens) at the output image price.
    text = len(json.dumps(body).encode())
    eq(_hold(r)["held_micros"], _micros(text * GPT["input"] + 2 * 6240 * GPT["output_image"]), "the hold")
    charged = _settled(acct, before, r)
    said = last_reported()
    check(said["usage_reported"], "the answer reported its usage")
    eq(said["images"], 2, "two made")
    raw = (said["text_input_tokens"] * GPT["input"] + said["image_input_tokens"] * GPT["input_image"] +
           said["image_output_tokens"] * GPT["output_image"])
    eq(charged, _micros(raw), "charged the usage: text at the input price, image tokens at the image prices")
    eq(said["image_output_tokens"], 2 * GPT_TOKENS[said["quality"]][0], "the provider's tokens as published")
    # A size and quality asked: held at that one.
    before = state(acct)[0]
    body = {"model": "gpt-image-1", "prompt": "a lighthouse", "size": "1536x1024", "quality": "low"}
    r = _images(acct, body)
    eq(_hold(r)["held_micros"], _micros(len(json.dumps(body).encode()) * GPT["input"] + 400 * GPT["output_image"]),
       "held at low 1536x1024: 400 tokens")
    said_charged = _settled(acct, before, r)
    said = last_reported()
    eq(said_charged, _micros(said["text_input_tokens"] * GPT["input"] + said["image_output_tokens"] *
                             GPT["output_image"]), "charged its usage")
    verify()


def test_a_model_priced_per_image_is_charged_per_image():
    _price()
    reset()
    acct = new_account("imgeach")
    before = state(acct)[0]
    r = _images(acct, {"model": "img-each", "prompt": "a boat", "n": 2})
    eq(_hold(r)["held_micros"], _micros(2 * EACH * 10 ** 6), "two images held")
    eq(_settled(acct, before, r), _micros(last_reported()["images"] * EACH * 10 ** 6), "the images made charged")
    verify()


def test_what_cannot_be_priced_or_bounded_is_refused_naming_the_member():
    _price()
    reset()
    acct = new_account("imgref")
    before = state(acct)
    cases = [
        ({"model": "dall-e-9", "prompt": "x"}, "model"),
        ({"model": "img-chat-only", "prompt": "x"}, "model"),
        ({"model": "dall-e-3", "prompt": "x", "n": 2}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 11}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": "2"}, "n"),
        ({"model": "dall-e-2", "prompt": "x", "n": 1.5}, "n"),
        ({"model": "dall-e-3", "prompt": "x", "size": "999x999"}, "size"),
        ({"model": "dall-e-2", "prompt": "x", "quality": "hd"}, "quality"),
        ({"model": "dall-e-3", "prompt": "x", "quality": "ultra"}, "quality"),
        ({"model": "gpt-image-1", "prompt": "x", "response_format": "url"}, "response_format"),
        ({"model": "dall-e-2", "prompt": "x", "output_format": "png"}, "output_format"),
        ({"model": "gpt-image-1", "prompt": "x", "stream": True}, "stream"),
        ({"model": "gpt-image-1", "prompt": "x", "partial_images": 2}, "partial_images"),
        ({"model": "dall-e-2", "prompt": "x", "mystery": 1}, "mystery"),
        ({"prompt": "x", "background": "opaque"}, "model"),
        ({"model": "img-each", "prompt": "x", "size": "1024x1024", "quality": "hd"}, None),
    ]
    for body, param in cases:
        r = _images(acct, body)
        if param is None:	# the one priced call among them: per image whatever the size
            eq(r.status, 200, "a per-image model takes any size: %r" % r.body[:200])
            continue
        eq(r.status, 400, "%r refused: %r" % (body, r.body[:200]))
        openai_error(r, 400, "invalid_request", param)
    got = received()
    eq(len(got), 1, "only the priced call was forwarded: %r" % [x["json"] for x in got])
    check(wait_until(lambda: state(acct)[1] == 0, timeout=10), "nothing left held")
    eq(state(acct)[0], before[0] - _micros(EACH * 10 ** 6), "only it was charged")
    verify()


# ---- images/edits: a multipart/form-data body, forwarded unchanged ----

BOUNDARY = "----creditd-test-0123456789"
PNG_BYTES = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                          "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")


def form(fields, files=(), boundary=BOUNDARY):
    """A multipart/form-data body as the SDKs write one: text fields, then
    files (name, filename)."""
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (boundary, name, value)).encode()
    for name, filename in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: image/png\r\n\r\n"
                % (boundary, name, filename)).encode() + PNG_BYTES + b"\r\n"
    return out + ("--%s--\r\n" % boundary).encode()


def _edit(acct, body, boundary=BOUNDARY):
    return call("/openai/v1/images/edits", None, raw=body, headers={
        "Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + boundary})


def test_an_edit_is_held_by_its_images_and_forwarded_unchanged():
    _price()
    reset()
    acct = new_account("imgedit")
    before = state(acct)[0]
    prompt = "make the sky a deep night blue"
    body = form([("model", "gpt-image-1"), ("prompt", prompt), ("size", "1024x1024"), ("quality", "low")],
                [("image[]", "a.png"), ("image[]", "b.png"), ("mask", "m.png")])
    r = _edit(acct, body)
    eq(r.status, 200, "answered: %r" % r.body[:300])
    # Held: the prompt's bytes and 3 files of 12,800 tokens each at the
    # dearest input price (the input image price), one low square image out.
    held = _micros((len(prompt) + 3 * 12800) * GPT["input_image"] + 272 * GPT["output_image"])
    eq(_hold(r)["held_micros"], held, "the hold")
    charged = _settled(acct, before, r)
    said = last_reported()
    eq((said["images"], said["image_input_tokens"]), (1, 3 * 323), "the provider read three files")
    eq(charged, _micros(said["text_input_tokens"] * GPT["input"] + said["image_input_tokens"] * GPT["input_image"] +
                        said["image_output_tokens"] * GPT["output_image"]), "charged its usage")
    got = received()
    eq(len(got), 1, "forwarded once")
    eq(got[0]["body"], body.decode("utf-8", "replace"), "the body as it came")
    eq(got[0]["headers"]["content-type"], "multipart/form-data; boundary=" + BOUNDARY, "with its boundary")
    # dall-e-2: one image in, per pixel at the size asked.
    before = state(acct)[0]
    r = _edit(acct, form([("model", "dall-e-2"), ("prompt", "a hat"), ("n", "2"), ("size", "512x512")],
                         [("image", "a.png")]))
    one = _px_raw("512-x-512/dall-e-2", 512, 512)
    eq(_hold(r)["held_micros"], _micros(2 * one), "two 512x512 held")
    eq(_settled(acct, before, r), _micros(last_reported()["images"] * one), "the images made charged")
    verify()


def test_an_edit_creditd_cannot_read_or_price_is_refused_and_not_forwarded():
    _price()
    reset()
    acct = new_account("imgeditref")
    before = state(acct)
    img = [("image", "a.png")]
    cases = [
        (form([("model", "dall-e-3"), ("prompt", "x")], img), "model"),
        (form([("model", "dall-e-2"), ("prompt", "x"), ("mystery", "1")], img), "mystery"),
        (form([("model", "dall-e-2"), ("prompt", "x"), ("n", "eleven")], img), "n"),
        (form([("model", "gpt-image-1"), ("prompt", "x"), ("stream", "true")], img), "stream"),
        (form([("model", "dall-e-2"), ("model", "gpt-image-1"), ("prompt", "x")], img), None),
        (form([("model", "dall-e-2"), ("prompt", "x")], img).replace(b"\r\n", b"\n"), None),
    ]
    for body, param in cases:
        r = _edit(acct, body)
        openai_error(r, 400, "invalid_request", param)
    r = call("/openai/v1/images/edits", {"model": "dall-e-2", "prompt": "x"}, headers={"Creditd-Account": acct})
    openai_error(r, 400, "invalid_request")
    r = call("/openai/v1/images/generations", None, raw=form([("model", "dall-e-2"), ("prompt", "x")]), headers={
        "Creditd-Account": acct, "Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
    eq(r.status, 415, "a form on a JSON route: %r" % r.body[:200])
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")


def test_what_a_review_found_is_priced_as_the_provider_bills_or_refused():
    """A dall-e-3 generation that names no quality is sent naming the one
    held; a GPT image model priced per image is refused (its prompt and
    input images bill by tokens); a form's text field past 128 KiB is
    refused before it is read; a model a provider has its own price for
    is charged that price (docs/gateway.md, "Which price a call is
    charged")."""
    _price()
    reset()
    acct = new_account("imgreview")
    before = state(acct)[0]
    r = _images(acct, {"model": "dall-e-3", "prompt": "a red fox", "size": "1024x1024"})
    eq(r.status, 200, "%r" % r.body[:200])
    eq(received()[-1]["json"].get("quality"), "standard", "the quality held, written into the body sent")
    _settled(acct, before, r)
    import_prices([_row("gpt-image-1-mini", output_micros_per_image=EACH)], "--force")
    reset()
    before = state(acct)
    openai_error(_images(acct, {"model": "gpt-image-1-mini", "prompt": "x"}), 400, "invalid_request", "model")
    openai_error(_edit(acct, form([("model", "dall-e-2"), ("prompt", "x" * (128 * 1024 + 1))], [("image", "a.png")])),
                 400, "invalid_request", "prompt")
    eq(forwarded(), [], "nothing forwarded")
    eq(state(acct), before, "nothing held or charged")
    # A model no request named yet: its first call waits for a reload
    # that brings its general row and the provider's together, and is
    # held and charged at the provider's own price. Both rows come in one
    # import (one transaction): a reload the sweep asks for between two
    # `price set`s would find the general row alone, and a call would be
    # charged it.
    own = "img-own-" + acct[-6:]
    import_prices([_row(own, output_micros_per_image=EACH),
                   dict(_row(own, output_micros_per_image=3 * EACH), provider="openai")], "--force")
    r = _images(acct, {"model": own, "prompt": "x", "size": "1024x1024"})
    charged = _settled(acct, before[0], r)
    eq(charged, _micros(last_reported()["images"] * 3 * EACH * 10 ** 6), "the provider's own price an image")
    eq((_hold(r)["held_micros"], _hold(r)["price_provider"]), (_micros(3 * EACH * 10 ** 6), "openai"),
       "held at it, and named")
    verify()
