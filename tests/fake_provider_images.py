"""fake_provider_images.py: the fake provider's image routes (OpenAI's
POST /v1/images/generations, a JSON body, and POST /v1/images/edits, a
multipart/form-data body), as OpenAI's images reference gives them (the
pinned openai SDK's src/resources/images.ts: ImageGenerateParams,
ImageEditParams, ImagesResponse). Pure functions of the request and the
mode: no I/O. tests/fake_provider.md says what it checks and answers."""
import base64
import email.parser
import email.policy
import json
import time

from fake_provider_shapes import bad

# A 1x1 PNG: what a b64_json image holds.
PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")).decode()
SIZES = {"dall-e-2": ("256x256", "512x512", "1024x1024"), "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
         "gpt": ("1024x1024", "1024x1536", "1536x1024")}
QUALITIES = {"dall-e-2": ("standard",), "dall-e-3": ("standard", "hd"), "gpt": ("low", "medium", "high")}
# OpenAI's published output tokens of a GPT image model's image (the image
# generation guide, "Cost and latency"), by quality and size.
GPT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
# The image tokens the fake provider counts for each input image of an edit.
EDIT_INPUT_TOKENS = 323


def family(model):
    if model in ("dall-e-2", "dall-e-3"):
        return model
    if model.startswith("gpt-image") or model.startswith("chatgpt-image"):
        return "gpt"
    return "other"


def multipart(content_type, raw):
    """The form of a multipart/form-data body: ({name: [str or (filename, bytes)]}, None) or (None, error)."""
    if not content_type or not content_type.lower().startswith("multipart/form-data"):
        return None, "Invalid Content-Type header (%s), expected multipart/form-data." % content_type
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    if not msg.is_multipart():
        return None, "The multipart body could not be read."
    form = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            return None, "A multipart part has no name."
        data = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        form.setdefault(name, []).append((filename, data) if filename is not None else data.decode("utf-8", "replace"))
    return form, None


def _field(form, name):
    v = form.get(name)
    return v[0] if v else None


def parse(route, raw, content_type):
    """(body, None) or (body or None, (status, error)): body is a dict of
    the request's fields (the edit's files counted in "_images")."""
    if route == "images_generations":
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None, bad(route, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict):
            return None, bad(route, "The request body must be a JSON object.")
        body["_images"] = 0
    else:
        form, err = multipart(content_type, raw)
        if err:
            return None, bad(route, err)
        images = form.get("image", []) + form.get("image[]", [])
        body = {k: _field(form, k) for k in form if k not in ("image", "image[]", "mask")}
        if "n" in body:
            try:
                body["n"] = int(body["n"])
            except ValueError:
                return body, bad(route, "Invalid 'n': expected an integer.", "n")
        if not images or any(not isinstance(i, tuple) for i in images):
            return body, bad(route, "Missing required parameter: 'image'.", "image")
        body["_images"] = len(images) + (1 if "mask" in form else 0)
    return body, check(route, body)


def check(route, body):
    if not isinstance(body.get("prompt"), str) or not body["prompt"]:
        return bad(route, "Missing required parameter: 'prompt'.", "prompt")
    model = body.get("model") or ("dall-e-2" if route == "images_generations" else "gpt-image-1.5")
    fam = family(model)
    n = body.get("n", 1)
    most = 1 if fam == "dall-e-3" else 10
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= most):
        return bad(route, "Invalid 'n': integer below minimum or above maximum (%d)." % most, "n")
    size, quality = body.get("size"), body.get("quality")
    if fam in SIZES and size not in (None, "auto") + SIZES[fam]:
        return bad(route, "Invalid value: '%s'. Supported values are: %s." % (size, ", ".join(SIZES[fam])), "size")
    if fam in QUALITIES and quality not in (None, "auto") + QUALITIES[fam]:
        return bad(route, "Invalid value: '%s'." % quality, "quality")
    if fam == "gpt" and body.get("response_format") is not None:
        return bad(route, "Unknown parameter: 'response_format'.", "response_format")
    if body.get("stream"):
        return bad(route, "The fake provider does not stream images.", "stream")
    return None


def plan(route, body, mode):
    """What the answer makes: its model, images, size, quality and usage."""
    model = body.get("model") or ("dall-e-2" if route == "images_generations" else "gpt-image-1.5")
    fam = family(model)
    n = body.get("n") or 1
    made = mode.get("images_made") if mode.get("images_made") is not None else n
    size = body.get("size") or "auto"
    if size == "auto":
        size = mode.get("image_size") or "1024x1024"
    quality = body.get("quality") or ("standard" if fam in ("dall-e-2", "dall-e-3") else "auto")
    if quality == "auto":
        quality = mode.get("image_quality") or {"dall-e-2": "standard", "dall-e-3": "standard"}.get(fam, "medium")
    p = {"model": model, "family": fam, "made": made, "size": size, "quality": quality, "created": int(time.time()),
         "b64": fam not in ("dall-e-2", "dall-e-3") or body.get("response_format") == "b64_json", "usage": None}
    if fam == "gpt" and mode["mode"] != "no_usage":
        col = SIZES["gpt"].index(size) if size in SIZES["gpt"] else 0
        per = mode.get("image_output_tokens") or GPT_TOKENS.get(quality, GPT_TOKENS["high"])[col]
        text = len(body["prompt"].split())
        image_in = EDIT_INPUT_TOKENS * body.get("_images", 0)
        p["usage"] = {"input_tokens": text + image_in, "output_tokens": per * made,
                      "total_tokens": text + image_in + per * made,
                      "input_tokens_details": {"text_tokens": text, "image_tokens": image_in}}
    return p


def whole(p):
    """The ImagesResponse: created, data (url or b64_json each; dall-e-3's
    revised_prompt), and for the GPT image models size, quality,
    output_format, background and usage."""
    data = []
    for i in range(p["made"]):
        d = {"b64_json": PNG} if p["b64"] else {"url": "https://images.fake.example/%d-%d.png" % (p["created"], i)}
        if p["family"] == "dall-e-3":
            d["revised_prompt"] = "a revised prompt"
        data.append(d)
    out = {"created": p["created"], "data": data}
    if p["family"] == "gpt":
        out.update(size=p["size"], quality=p["quality"], output_format="png", background="opaque")
        if p["usage"] is not None:
            out["usage"] = p["usage"]
    return out


def reported(p, mode):
    """/_requests' usage of an image call: what the answer made and, for
    the GPT image models, its usage (None on an error or silent answer)."""
    if p is None or mode["mode"] in ("error", "silent"):
        return None
    u = p["usage"] or {}
    details = u.get("input_tokens_details", {})
    return {"input_tokens": u.get("input_tokens", 0), "cached_input_tokens": 0, "cache_write_input_tokens": 0,
            "cache_write_1h_tokens": 0, "output_tokens": u.get("output_tokens", 0), "audio_input_tokens": 0,
            "audio_output_tokens": 0, "web_searches": 0, "service_tier": None, "unknown_tokens": 0,
            "iterations": [], "images": p["made"], "size": p["size"], "quality": p["quality"],
            "usage_reported": p["usage"] is not None, "text_input_tokens": details.get("text_tokens", 0),
            "image_input_tokens": details.get("image_tokens", 0), "image_output_tokens": u.get("output_tokens", 0)}
