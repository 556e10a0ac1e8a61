"""test_81_gateway_sdks.py: the official SDKs (npm's `openai` and
`@anthropic-ai/sdk`, test tooling only) pointed at creditd's gateway with
the base URL swapped, through nginx and through Apache: create, a stream
read with `for await`, a Responses stream, `messages.stream()`, and each
SDK's own error class for a 402. Money checked to the micro after each
case against the usage the SDK saw."""
import json
import os
import shutil
import subprocess

from lib import ENV, api, check, eq, key, new_account, verify, wait_until
from test_80_gateway import cost, ensure_prices, forwarded, received, reset, state

# Pinned to exact versions (openai 7 needs Node 22; Debian 12 has 20): the
# gateway's tables are held to these versions' request types
# (test_81b_gateway_tables); raising a pin is how a new member gets
# classified. typescript reads their types there.
PACKAGES = ("openai@6.49.0", "@anthropic-ai/sdk@1.14.0", "typescript@5.9.3")
SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gateway_sdk.mjs")


def sdk_dir():
    """The SDKs, installed once into the stack directory, beside a copy
    of the script (ES modules resolve node_modules from the script's
    directory)."""
    npm = shutil.which("npm")
    check(npm, "npm is not installed: the SDK tests need it (Debian: apt-get install npm)")
    d = os.path.join(ENV["CREDITD_STACK_DIR"], "npm-sdks")
    if not os.path.isdir(os.path.join(d, "node_modules", "typescript")):
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "package.json"), "w") as f:
            json.dump({"name": "creditd-gateway-sdk-tests", "private": True, "type": "module"}, f)
        p = subprocess.run([npm, "install", "--prefix", d, "--no-audit", "--no-fund", "--loglevel=error"] +
                           list(PACKAGES), capture_output=True, text=True, timeout=600)
        check(p.returncode == 0, "npm install %s failed: %s%s" % (PACKAGES, p.stdout[-800:], p.stderr[-800:]))
    shutil.copy(SCRIPT, os.path.join(d, "gateway_sdk.mjs"))
    return d


def sdk(case, acct, base=None, secret=None):
    ensure_prices()
    d = sdk_dir()
    env = dict(os.environ, BASE=base or ENV["CREDITD_URL"], KEY=secret or key("guard"), ACCOUNT=acct)
    p = subprocess.run(["node", os.path.join(d, "gateway_sdk.mjs"), case], capture_output=True, text=True,
                       timeout=120, env=env, cwd=d)
    check(p.stdout.strip(), "%s printed nothing: %s" % (case, p.stderr[-1500:]))
    out = json.loads(p.stdout.strip().splitlines()[-1])
    check("failed" not in out, "%s failed: %r %s" % (case, out, p.stderr[-1500:]))
    return out


def settled(acct):
    wait_until(lambda: state(acct)[1] == 0, timeout=10)
    return state(acct)[0]


def test_openai_sdk_create_and_stream_are_charged_their_usage():
    reset()
    acct = new_account("sdkoai")
    before = state(acct)[0]
    r = sdk("openai_create", acct)
    check(r["text"], "an answer: %r" % r)
    u = r["usage"]
    charged = cost("gpt-4o-mini", u["prompt_tokens"], 0, u["completion_tokens"])
    eq(settled(acct), before - charged, "create charged its usage to the micro")
    r = sdk("openai_create_raw", acct)
    check(int(r["charged"]) > 0 and r["hold"].startswith("hold_"), "creditd's headers reach the SDK: %r" % r)
    before = settled(acct)
    r = sdk("openai_stream", acct)
    eq(r["text"].split(), ["w%d" % i for i in range(12)], "the stream read with for await")
    eq(r["usageChunks"], 0, "no usage chunk the app did not ask for")
    check(settled(acct) < before, "the stream charged")
    verify()


def test_openai_sdk_responses_stream_embeddings_and_models():
    reset()
    acct = new_account("sdkresp")
    before = state(acct)[0]
    r = sdk("openai_responses_stream", acct)
    check("response.completed" in r["types"], "the Responses stream's events: %r" % r["types"])
    u = r["usage"]
    charged = cost("gpt-4o-mini", u["input_tokens"], u.get("input_tokens_details", {}).get("cached_tokens", 0),
                   u["output_tokens"])
    eq(settled(acct), before - charged, "charged the Responses usage to the micro")
    r = sdk("openai_embeddings", acct)
    eq(r["n"], 1, "one embedding")
    r = sdk("openai_models", acct)
    check("gpt-4o-mini" in r["ids"], "the models list through the SDK's pager: %r" % r["ids"])
    verify()


def test_anthropic_sdk_create_and_messages_stream():
    reset()
    acct = new_account("sdkanth")
    before = state(acct)[0]
    r = sdk("anthropic_create", acct)
    u = r["usage"]
    charged = cost("claude-haiku-4-5", u["input_tokens"], 0, u["output_tokens"])
    eq(settled(acct), before - charged, "create charged to the micro")
    before = settled(acct)
    r = sdk("anthropic_stream", acct)
    eq(r["text"].split(), ["w%d" % i for i in range(15)], "messages.stream() text")
    u = r["usage"]
    eq(settled(acct), before - cost("claude-haiku-4-5", u["input_tokens"], 0, u["output_tokens"]),
       "the stream charged its final usage to the micro")
    verify()


def test_the_sdks_see_what_the_provider_bills_beyond_tokens():
    """DESIGN §14 through the SDKs: a priority call charged at the tier
    served, a stream asked for its cost line read by the SDK as ever (an
    SSE comment), Anthropic's web searches charged a fee each, and usage
    above the cap passed through and charged."""
    from gateway_bill import last_reported
    from test_80_gateway import mode
    from test_86_gateway_dimensions import _price, want
    _price()
    reset()
    acct = new_account("sdkdims")
    mode(output_tokens=10, service_tier="priority", count=1)
    r = sdk("openai_priority", acct)
    u = r["usage"]
    eq(r["tier"], "priority", "the tier served, as the SDK reads it")
    stated = last_reported()
    eq((stated["input_tokens"], stated["output_tokens"]), (u["prompt_tokens"], u["completion_tokens"]),
       "the SDK read the usage the provider stated")
    eq(int(r["charged"]), want("gpt-dims", stated, tier="priority"), "charged at priority prices to the micro")
    r = sdk("openai_stream_cost", acct)
    eq(r["text"].split(), ["w%d" % i for i in range(8)], "the SDK read the stream, the cost comment ignored")
    before = settled(acct)
    mode(output_tokens=10, web_searches=2, count=1)
    r = sdk("anthropic_web_search", acct)
    u = r["usage"]
    eq(u["server_tool_use"]["web_search_requests"], 2, "two searches, as the SDK sees them")
    stated = last_reported()
    eq((stated["input_tokens"], stated["output_tokens"], stated["web_searches"]),
       (u["input_tokens"], u["output_tokens"], 2), "the SDK read the usage the provider stated")
    eq(settled(acct), before - want("claude-dims", stated), "charged their fee to the micro")
    before = settled(acct)
    mode(output_tokens=5, extra_output_tokens=20, count=1)
    r = sdk("anthropic_over_hold", acct)
    eq(r["usage"]["output_tokens"], 25, "25 output tokens for a max_tokens of 5, passed through")
    eq(settled(acct), before - cost("claude-haiku-4-5", r["usage"]["input_tokens"], 0, 25), "charged, not dropped")
    verify()


def test_each_sdk_raises_its_own_error_class_for_a_402():
    reset()
    acct = new_account("sdkpoor")
    api("POST", "/v1/accounts/%s/debits" % acct, {"amount_micros": state(acct)[0], "reason": "empty"})
    r = sdk("openai_402", acct)
    check(r["thrown"] and r["isClass"], "OpenAI.APIError: %r" % r)
    eq(r["status"], 402, "its status")
    eq(r["code"], "insufficient_credits", "creditd's code, where the SDK reads it")
    r = sdk("anthropic_402", acct)
    check(r["thrown"] and r["isClass"], "Anthropic.APIError: %r" % r)
    eq((r["status"], r["type"]), (402, "billing_error"), "Anthropic's type for a 402")
    r = sdk("openai_bad_model", acct)
    check(r["thrown"] and r["isClass"] and r["status"] == 400, "BadRequestError for an unpriced model: %r" % r)


def test_the_sdks_see_a_model_s_page_and_a_key_s_models():
    """GET /openai/v1/models/{model} through the SDK's retrieve, and a key
    limited to some models (DESIGN §14): another model raises each SDK's
    own PermissionDeniedError (403 model_not_allowed), nothing held."""
    from test_83_gateway_keys import gw_key
    reset()
    acct = new_account("sdkmodels")
    r = sdk("openai_model_retrieve", acct)
    eq((r["id"], r["object"]), ("gpt-4o-mini", "model"), "retrieved: %r" % r)
    check(r["missing"]["thrown"] and r["missing"]["isClass"], "NotFoundError for a model not priced: %r" % r)
    eq((r["missing"]["status"], r["missing"]["code"]), (404, "model_not_found"), "OpenAI's code")
    k = gw_key(acct, models=["gpt-4o-mini"])
    before = state(acct)
    r = sdk("openai_not_allowed", acct, secret=k["key"])
    check(r["thrown"] and r["isClass"], "OpenAI.PermissionDeniedError: %r" % r)
    eq((r["status"], r["code"]), (403, "model_not_allowed"), "its status and code")
    r = sdk("anthropic_not_allowed", acct, secret=k["key"])
    check(r["thrown"] and r["isClass"], "Anthropic.PermissionDeniedError: %r" % r)
    eq((r["status"], r["type"]), (403, "permission_error"), "Anthropic's type for a 403")
    eq(state(acct), before, "nothing held or charged")
    eq(forwarded(), [], "nothing forwarded")


def test_the_sdks_through_apache():
    reset()
    acct = new_account("sdkapache")
    before = state(acct)[0]
    base = ENV["CREDITD_APACHE_URL"]
    r = sdk("openai_stream", acct, base=base)
    eq(r["text"].split(), ["w%d" % i for i in range(12)], "a stream through mod_proxy_fcgi")
    r = sdk("anthropic_create", acct, base=base)
    check(r["text"], "an Anthropic answer through Apache")
    check(settled(acct) < before, "charged")
    verify()


def test_the_openai_sdk_speaks_transcribes_and_moderates():
    """client.audio.speech.create, client.audio.transcriptions.create and
    client.moderations.create through creditd (docs/gateway.md, "Audio
    and speech"): the audio as the provider sent it, charged the
    characters it billed; the SDK's form read and forwarded whole, charged
    the seconds the answer reports; a moderation answered free."""
    from gateway_bill import charge, last_reported
    from test_92_gateway_audio import _price
    _price()
    reset()
    acct = new_account("sdkaudio")
    before = state(acct)[0]
    out = sdk("openai_speech", acct)
    eq((out["type"], out["first"], out["bytes"]), ("audio/mpeg", [0xFF, 0xF3], 100 * 27), "the audio, whole")
    said = last_reported()
    eq(said["characters"], 27, "the characters billed")
    eq(int(out["charged"]), charge(27 * 15000000), "charged them")
    eq(settled(acct), before - int(out["charged"]), "and no more")
    out = sdk("openai_transcription", acct)
    said = last_reported()
    eq((out["text"], out["duration"], said["seconds"]), ("w0 w1 w2 w3 w4", 3.0, 3), "the transcription, verbose")
    eq(int(out["charged"]), charge(3000 * 100000), "charged the seconds the provider billed")
    spent = int(out["charged"])
    out = sdk("openai_moderation", acct)
    eq(out, {"model": "omni-moderation-latest", "results": 2, "flagged": False}, "the moderation, in its shape")
    eq(settled(acct), before - charge(27 * 15000000) - spent, "free")
def test_openai_sdk_images_generate_and_edit_are_charged_their_usage():
    """images.generate (JSON) and images.edit (the SDK's multipart form,
    image[] for a list) through the gateway: each charged the usage the
    SDK saw, at test_91's literal prices; a refusal is the SDK's own
    BadRequestError (docs/gateway.md, "Images")."""
    from test_91_gateway_images import GPT, _micros, _price
    _price()
    reset()
    acct = new_account("sdkimg")
    before = state(acct)[0]

    def charge(u):
        d = u["input_tokens_details"]
        return _micros(d["text_tokens"] * GPT["input"] + d["image_tokens"] * GPT["input_image"] +
                       u["output_tokens"] * GPT["output_image"])

    r = sdk("openai_images_generate", acct)
    eq((r["images"], r["b64"]), (2, True), "two base64 images: %r" % r)
    eq(int(r["charged"]), charge(r["usage"]), "generate charged its usage")
    eq(settled(acct), before - int(r["charged"]), "and the balance lost it")
    before = settled(acct)
    r = sdk("openai_images_edit", acct)
    eq(r["images"], 1, "one edit")
    check(r["usage"]["input_tokens_details"]["image_tokens"] > 0, "the provider read the files: %r" % r["usage"])
    eq(int(r["charged"]), charge(r["usage"]), "edit charged its usage")
    eq(settled(acct), before - int(r["charged"]), "and the balance lost it")
    sent = received()[-1]
    check(sent["headers"]["content-type"].startswith("multipart/form-data; boundary="), "the SDK's form forwarded")
    eq(sent["body"].count('name="image[]"'), 2, "both images, as the SDK wrote them")
    r = sdk("openai_images_refused", acct)
    eq((r["thrown"], r["isClass"], r["status"], r["code"]), (True, True, 400, "invalid_request"), "refused: %r" % r)
    eq([x["path"] for x in forwarded()], ["/v1/images/generations", "/v1/images/edits"],
       "the refused call was not forwarded")
    verify()
