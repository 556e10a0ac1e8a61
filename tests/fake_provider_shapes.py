"""fake_provider_shapes.py: what the fake provider (fake_provider.py) checks
and answers, in OpenAI's and Anthropic's shapes as their API references
give them: credentials, request bodies, whole answers, stream events and
errors. Pure functions of the request and the mode: no I/O."""
import base64
import json
import struct
import time

CHAT_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
# Anthropic's routes: Messages and its token count (POST /v1/messages/count_tokens)
ANTHROPIC_ROUTES = ("messages", "count_tokens")
MODELS = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "claude-sonnet-4-5", "claude-haiku-4-5")


# ---- errors ----

def openai_error(message, typ, param, code):
    return {"error": {"message": message, "type": typ, "param": param, "code": code}}


def anthropic_error(typ, message):
    return {"type": "error", "error": {"type": typ, "message": message}, "request_id": "req_fake_error"}


def bad(route, message, param=None):
    """A 400 in the route's provider's shape: (status, body)."""
    if route in ANTHROPIC_ROUTES:
        return 400, anthropic_error("invalid_request_error", message)
    return 400, openai_error(message, "invalid_request_error", param, None)


def error_body(route, status):
    """The provider's own error for a status the test asked for."""
    if route in ANTHROPIC_ROUTES:
        typ = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
        return anthropic_error(typ, "fake provider: %s" % typ)
    typ, code = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
                 429: ("requests", "rate_limit_exceeded")}.get(status, ("server_error", None))
    return openai_error("fake provider: status %d" % status, typ, None, code)


# ---- credentials ----

def openai_auth(headers, key):
    auth = headers.get("Authorization") or ""
    if not auth.startswith("Bearer ") or not auth[7:].strip():
        return 401, openai_error("You didn't provide an API key. You need to provide your API key in an "
                                 "Authorization header using Bearer auth.", "invalid_request_error", None, None)
    if auth[7:] != key:
        return 401, openai_error("Incorrect API key provided.", "invalid_request_error", None, "invalid_api_key")
    return None


def anthropic_auth(headers, key):
    """x-api-key, or Authorization: Bearer (the newer SDKs send that)."""
    auth = headers.get("Authorization") or ""
    given = headers.get("x-api-key") or (auth[7:] if auth.startswith("Bearer ") else "")
    if given != key:
        return 401, anthropic_error("authentication_error", "invalid x-api-key")
    if not headers.get("anthropic-version"):
        return 400, anthropic_error("invalid_request_error", "anthropic-version: header is required")
    return None


# ---- bodies ----

def _int_field(route, body, name, least):
    v = body.get(name)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < least:
        return bad(route, "Invalid '%s': expected an integer of at least %d." % (name, least), name)
    return None


def _check_stream(route, body):
    if "stream" in body and not isinstance(body["stream"], bool):
        return bad(route, "Invalid type for 'stream': expected a boolean.", "stream")
    if "stream_options" in body and route == "chat":
        if not body.get("stream"):
            return bad(route, "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                       "stream_options")
        so = body["stream_options"]
        if not isinstance(so, dict) or not isinstance(so.get("include_usage", False), bool):
            return bad(route, "Invalid 'stream_options'.", "stream_options")
    return None


def _check_chat(body):
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return bad("chat", "Missing required parameter: 'messages'.", "messages")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in CHAT_ROLES:
            return bad("chat", "Invalid 'messages[%d].role'." % i, "messages[%d].role" % i)
    return _int_field("chat", body, "max_tokens", 1) or _int_field("chat", body, "max_completion_tokens", 1)


def _check_message_list(route, body):
    msgs = body.get("messages")
    if not isinstance(msgs, list) or not msgs:
        return bad(route, "messages: Field required")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            return bad(route, "messages.%d.role: Input should be 'user' or 'assistant'" % i)
    return None


def _check_messages(body):
    if not isinstance(body.get("max_tokens"), int) or isinstance(body.get("max_tokens"), bool):
        return bad("messages", "max_tokens: Field required")
    if body["max_tokens"] < 1:
        return bad("messages", "max_tokens: Input should be greater than or equal to 1")
    return _check_message_list("messages", body)


def _check_count_tokens(body):
    """Messages' body without max_tokens (https://docs.anthropic.com/en/api/messages-count-tokens: model and
    messages required; system, tools, tool_choice, thinking optional)."""
    if "tools" in body and not isinstance(body["tools"], list):
        return bad("count_tokens", "tools: Input should be a valid list")
    return _check_message_list("count_tokens", body)


def parse_body(route, raw):
    """(body, None) or (body or None, (status, error body))."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, bad(route, "We could not parse the JSON body of your request.")
    if not isinstance(body, dict):
        return None, bad(route, "The request body must be a JSON object.")
    if not isinstance(body.get("model"), str) or not body["model"]:
        return body, bad(route, "you must provide a model parameter" if route not in ANTHROPIC_ROUTES
                         else "model: Field required", "model")
    check = {"chat": _check_chat, "messages": _check_messages, "count_tokens": _check_count_tokens,
             "responses": lambda b: _int_field("responses", b, "max_output_tokens", 16),
             "embeddings": lambda b: None if isinstance(b.get("input"), (str, list)) and b.get("input") != []
             else bad("embeddings", "'input' is a required property", "input")}[route]
    return body, check(body) or _check_stream(route, body)


# ---- the answer's plan: tokens in and out ----

def _words(value):
    """Whitespace-separated words of every text in a content value."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, list):
        return sum(_words(v) for v in value)
    if isinstance(value, dict):
        return sum(_words(value.get(k)) for k in ("text", "content", "input_text") if k in value)
    return 0


def input_words(route, body):
    if route == "chat":
        return sum(_words(m.get("content")) for m in body["messages"])
    if route == "responses":
        return _words(body.get("input")) + _words(body.get("instructions"))
    if route in ANTHROPIC_ROUTES:
        return _words(body.get("system")) + sum(_words(m.get("content")) for m in body["messages"])
    inp = body["input"]
    if isinstance(inp, list) and inp and isinstance(inp[0], int):
        return len(inp)
    return _words(inp)


def output_cap(route, body):
    if route == "chat":
        return body.get("max_completion_tokens") or body.get("max_tokens")
    if route == "responses":
        return body.get("max_output_tokens")
    if route == "messages":
        return body.get("max_tokens")
    return None


def plan(route, body, mode):
    words = input_words(route, body)
    cap = output_cap(route, body)
    want = mode["output_tokens"] if mode.get("chunks") is None else mode["chunks"]
    out = min(want, cap) if cap else want
    cached = min(mode["cached_tokens"], words)
    creation = min(mode["cache_creation_tokens"], words - cached)
    return {"input": words, "output": out, "truncated": cap is not None and want > cap, "cached": cached,
            "creation": creation, "reasoning": min(mode["reasoning_tokens"], out),
            # the output the usage reports: what was written, and more when asked
            # (a provider that counts hidden reasoning outside the cap)
            "billed": out + mode.get("extra_output_tokens", 0),
            # beyond tokens (docs/gateway.md), in each provider's documented usage shape
            "tier": mode.get("service_tier"), "cache_1h": min(mode.get("cache_1h_tokens", 0), creation),
            "audio_in": min(mode.get("audio_input_tokens", 0), words - cached),
            "audio_out": min(mode.get("audio_output_tokens", 0), out), "searches": mode.get("web_searches", 0),
            "compaction": (mode["compaction_input_tokens"], mode["compaction_output_tokens"]),
            "advisor": _advisor(body, mode),
            "unknown": mode["unknown_tokens"],
            "no_usage": mode["mode"] == "no_usage", "cut_after": mode["cut_after"], "cut_at": 0,
            "id": "%x" % int(time.time() * 1e6), "created": int(time.time()), "pad": mode.get("word_bytes", 0)}


def _advisor(body, mode):
    """An advisor run (advisor_input_tokens, advisor_output_tokens), at
    advisor_model, else the model the body's advisor tool names; None when
    the mode asks none."""
    inp, out = mode.get("advisor_input_tokens", 0), mode.get("advisor_output_tokens", 0)
    if not inp and not out:
        return None
    tools = body.get("tools") if isinstance(body.get("tools"), list) else []
    named = [t.get("model") for t in tools if isinstance(t, dict) and str(t.get("type", "")).startswith("advisor_")]
    return {"type": "advisor_message", "model": mode.get("advisor_model") or (named[0] if named else None),
            "input_tokens": inp, "output_tokens": out, "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0, "cache_creation": None}


def text_of(p):
    """A whole answer's text: word i is w<i>, padded with x to word_bytes."""
    return " ".join(("w%d" % i).ljust(p.get("pad", 0), "x") for i in range(p["output"]))


def _unknown(u, p):
    """A usage member a provider might add tomorrow (a test of what
    creditd does with tokens it does not know)."""
    if p["unknown"]:
        u["mystery_tokens"] = p["unknown"]
    return u


def openai_usage(p):
    return _unknown({"prompt_tokens": p["input"], "completion_tokens": p["billed"], "total_tokens": p["input"] + p["billed"],
            "prompt_tokens_details": {"cached_tokens": p["cached"], "audio_tokens": p["audio_in"]},
            "completion_tokens_details": {"reasoning_tokens": p["reasoning"], "audio_tokens": p["audio_out"],
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}}, p)


def responses_usage(p):
    return _unknown({"input_tokens": p["input"], "input_tokens_details": {"cached_tokens": p["cached"]},
                     "output_tokens": p["billed"], "output_tokens_details": {"reasoning_tokens": p["reasoning"]},
                     "total_tokens": p["input"] + p["billed"]}, p)


def anthropic_usage(p, output, final=True):
    """Messages' usage (https://docs.anthropic.com/en/api/messages: usage.cache_creation splits the writes by
    ttl, server_tool_use.web_search_requests counts searches, service_tier names the tier served)."""
    u = {"input_tokens": p["input"] - p["cached"] - p["creation"], "cache_creation_input_tokens": p["creation"],
         "cache_read_input_tokens": p["cached"], "output_tokens": output,
         "cache_creation": {"ephemeral_5m_input_tokens": p["creation"] - p["cache_1h"],
                            "ephemeral_1h_input_tokens": p["cache_1h"]},
         "service_tier": p["tier"] or "standard"}
    if final:
        u["server_tool_use"] = {"web_search_requests": p["searches"]}
        _unknown(u, p)
    if final and any(p["compaction"]):
        # compaction (docs.anthropic.com, context management): the
        # summarising pass is an iteration of its own, outside the
        # top-level figures, which are the message iterations' sum
        u["iterations"] = [{"type": "compaction", "input_tokens": p["compaction"][0], "output_tokens": p["compaction"][1],
                            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}]
    if final and p.get("advisor"):
        # the advisor tool (the SDK's BetaAdvisorMessageIterationUsage): its
        # run an iteration of its own, at its own model, outside the
        # top-level figures
        u.setdefault("iterations", []).append(p["advisor"])
    if "iterations" in u:
        u["iterations"].append({"type": "message", "input_tokens": u["input_tokens"], "output_tokens": output,
                                "cache_creation_input_tokens": p["creation"], "cache_read_input_tokens": p["cached"]})
    return u


# ---- whole answers ----

def reported(route, body, p, mode):
    """The figures the answer's final usage states, in one shape for every
    route (tests/fake_provider.md, /_requests' usage): None when it states
    none (an error, a silent or cut answer, a stream ended without usage,
    Chat's stream not asked for it, the token count). An Anthropic
    stream's message_start alone is not a final usage."""
    streamed = bool(body.get("stream")) and route != "embeddings"
    if p is None or mode["mode"] in ("error", "silent") or (streamed and mode["mode"] in ("cut", "no_usage")):
        return None
    if route == "chat" and streamed and not (body.get("stream_options") or {}).get("include_usage"):
        return None
    u = {"input_tokens": p["input"], "cached_input_tokens": 0, "cache_write_input_tokens": 0,
         "cache_write_1h_tokens": 0, "output_tokens": 0, "audio_input_tokens": 0, "audio_output_tokens": 0,
         "web_searches": 0, "service_tier": None, "unknown_tokens": 0, "iterations": []}
    if route == "embeddings":
        return u
    u.update(cached_input_tokens=p["cached"], output_tokens=p["billed"], unknown_tokens=p["unknown"],
             service_tier=p["tier"] or "default")
    if route == "chat":
        u.update(audio_input_tokens=p["audio_in"], audio_output_tokens=p["audio_out"])
    elif route == "responses":
        u.update(web_searches=p["searches"])
    else:
        u.update(cache_write_input_tokens=p["creation"], cache_write_1h_tokens=p["cache_1h"],
                 web_searches=p["searches"], service_tier=p["tier"] or "standard",
                 iterations=[i for i in anthropic_usage(p, p["billed"]).get("iterations", [])
                             if i["type"] != "message"])
    return u


def _embedding(i, fmt):
    vec = [round(0.001 * (i + 1) * (k + 1), 6) for k in range(8)]
    if fmt == "base64":
        return base64.b64encode(struct.pack("<%df" % len(vec), *vec)).decode()
    return vec


def _response_object(body, p, status):
    text = text_of(p)
    return {"id": "resp_" + p["id"], "object": "response", "created_at": p["created"], "status": status,
            "error": None, "incomplete_details": {"reason": "max_output_tokens"} if p["truncated"] else None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "model": body["model"], "parallel_tool_calls": True, "previous_response_id": None,
            "temperature": 1.0, "top_p": 1.0, "tool_choice": "auto", "tools": [], "text": {"format": {"type": "text"}},
            "truncation": "disabled", "metadata": {}, "store": True, "user": None,
            "service_tier": p["tier"] or "default",
            "output": [] if status == "in_progress" else [
                {"type": "web_search_call", "id": "ws_%s_%d" % (p["id"], i), "status": "completed",
                 "action": {"type": "search", "query": "q%d" % i}} for i in range(p["searches"])] + [
                {"type": "message", "id": "msg_" + p["id"], "status": status, "role": "assistant",
                 "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": None if status == "in_progress" else responses_usage(p)}


def whole(route, body, p):
    if route == "chat":
        return {"id": "chatcmpl-" + p["id"], "object": "chat.completion", "created": p["created"],
                "model": body["model"], "system_fingerprint": "fp_fake", "service_tier": p["tier"] or "default",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text_of(p), "refusal": None,
                                                     "annotations": []},
                             "logprobs": None, "finish_reason": "length" if p["truncated"] else "stop"}],
                "usage": openai_usage(p)}
    if route == "responses":
        return _response_object(body, p, "incomplete" if p["truncated"] else "completed")
    if route == "embeddings":
        inputs = body["input"] if isinstance(body["input"], list) and not isinstance(body["input"][0], int) \
            else [body["input"]]
        fmt = body.get("encoding_format", "float")
        return {"object": "list", "model": body["model"],
                "data": [{"object": "embedding", "index": i, "embedding": _embedding(i, fmt)}
                         for i in range(len(inputs))],
                "usage": {"prompt_tokens": p["input"], "total_tokens": p["input"]}}
    return {"id": "msg_" + p["id"], "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": text_of(p)}],
            "stop_reason": "max_tokens" if p["truncated"] else "end_turn", "stop_sequence": None,
            "usage": anthropic_usage(p, p["billed"])}


def count_tokens(body):
    """count_tokens' answer: the input /v1/messages would count for the same body (tools not counted)."""
    return {"input_tokens": input_words("count_tokens", body)}


def openai_models():
    return {"object": "list", "data": [{"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                                       for m in MODELS]}


# ---- streams: a list of SSE event texts; plan["cut_at"] set to where "cut" stops ----

def _sse(data, event=None):
    head = "event: %s\n" % event if event else ""
    return "%sdata: %s\n\n" % (head, json.dumps(data))


def _chat_stream(body, p):
    include = bool((body.get("stream_options") or {}).get("include_usage"))
    base = {"id": "chatcmpl-" + p["id"], "object": "chat.completion.chunk", "created": p["created"],
            "model": body["model"], "system_fingerprint": "fp_fake", "service_tier": p["tier"] or "default"}

    def chunk(delta, finish=None):
        c = dict(base, choices=[{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}])
        if include:
            c["usage"] = None
        return _sse(c)
    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    p["cut_at"] = 1 + p["cut_after"]
    out += [chunk({"content": ("w%d" % i) + (" " if i + 1 < p["output"] else "")}) for i in range(p["output"])]
    out.append(chunk({}, "length" if p["truncated"] else "stop"))
    if include and not p["no_usage"]:
        out.append(_sse(dict(base, choices=[], usage=openai_usage(p))))
    out.append("data: [DONE]\n\n")
    return out


def _responses_stream(body, p):
    seq = [0]

    def ev(data):
        data["sequence_number"] = seq[0]
        seq[0] += 1
        return _sse(data, data["type"])
    mid = "msg_" + p["id"]
    out = [ev({"type": "response.created", "response": _response_object(body, p, "in_progress")}),
           ev({"type": "response.in_progress", "response": _response_object(body, p, "in_progress")}),
           ev({"type": "response.output_item.added", "output_index": 0,
               "item": {"type": "message", "id": mid, "status": "in_progress", "role": "assistant", "content": []}}),
           ev({"type": "response.content_part.added", "item_id": mid, "output_index": 0, "content_index": 0,
               "part": {"type": "output_text", "text": "", "annotations": []}})]
    p["cut_at"] = len(out) + p["cut_after"]
    for i in range(p["output"]):
        out.append(ev({"type": "response.output_text.delta", "item_id": mid, "output_index": 0, "content_index": 0,
                       "delta": ("w%d" % i) + (" " if i + 1 < p["output"] else ""), "logprobs": []}))
    text = text_of(p)
    out.append(ev({"type": "response.output_text.done", "item_id": mid, "output_index": 0, "content_index": 0,
                   "text": text, "logprobs": []}))
    out.append(ev({"type": "response.content_part.done", "item_id": mid, "output_index": 0, "content_index": 0,
                   "part": {"type": "output_text", "text": text, "annotations": []}}))
    final = _response_object(body, p, "incomplete" if p["truncated"] else "completed")
    out.append(ev({"type": "response.output_item.done", "output_index": 0, "item": final["output"][-1]}))
    if not p["no_usage"]:
        out.append(ev({"type": "response.incomplete" if p["truncated"] else "response.completed",
                       "response": final}))
    return out


def _messages_stream(body, p):
    mid = "msg_" + p["id"]
    start = {"id": mid, "type": "message", "role": "assistant", "model": body["model"], "content": [],
             "stop_reason": None, "stop_sequence": None, "usage": anthropic_usage(p, 1, final=False)}
    out = [_sse({"type": "message_start", "message": start}, "message_start"),
           _sse({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                "content_block_start"),
           _sse({"type": "ping"}, "ping")]
    p["cut_at"] = len(out) + p["cut_after"]
    for i in range(p["output"]):
        out.append(_sse({"type": "content_block_delta", "index": 0,
                         "delta": {"type": "text_delta", "text": ("w%d" % i) + (" " if i + 1 < p["output"] else "")}},
                        "content_block_delta"))
    out.append(_sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
    if not p["no_usage"]:
        usage = {"output_tokens": p["billed"], "server_tool_use": {"web_search_requests": p["searches"]}}
        if any(p["compaction"]) or p.get("advisor"):
            usage["iterations"] = anthropic_usage(p, p["billed"])["iterations"]
        out.append(_sse({"type": "message_delta",
                         "delta": {"stop_reason": "max_tokens" if p["truncated"] else "end_turn",
                                   "stop_sequence": None},
                         "usage": usage}, "message_delta"))
    out.append(_sse({"type": "message_stop"}, "message_stop"))
    return out


def stream_events(route, body, p):
    return {"chat": _chat_stream, "responses": _responses_stream, "messages": _messages_stream}[route](body, p)


# ---- stored responses: retrieve, delete, input items (OpenAI's reference:
# getResponse, deleteResponse, listInputItems) ----

def response_id(p):
    return "resp_" + p["id"]


def _input_items(body, p):
    """The input items of a Responses request as listInputItems answers
    them: each message with an id and its text as input_text parts; any
    other item as sent, with an id."""
    inp = body.get("input")
    items = [{"role": "user", "content": inp}] if isinstance(inp, str) else list(inp or [])
    out = []
    for i, it in enumerate(items):
        it = dict(it) if isinstance(it, dict) else {"role": "user", "content": str(it)}
        iid = "msg_in_%s_%d" % (p["id"], i)
        if "role" in it and it.get("type", "message") == "message":
            content = it.get("content")
            parts = [{"type": "input_text", "text": content}] if isinstance(content, str) else content
            out.append({"id": iid, "type": "message", "role": it["role"], "status": "completed", "content": parts})
        else:
            it.setdefault("id", iid)
            out.append(it)
    return out


def store_entry(body, p):
    """What OpenAI keeps of a stored response: the response as its final
    state, and its input items."""
    return {"response": _response_object(body, p, "incomplete" if p["truncated"] else "completed"),
            "items": _input_items(body, p)}


def _not_found(rid):
    return 404, openai_error("Response with id '%s' not found." % rid, "invalid_request_error", None, None)


def _page(items, query):
    """listInputItems' page: order (default desc), after (an item id),
    limit (1-100, default 20)."""
    order = query.get("order", ["desc"])[0]
    try:
        limit = int(query.get("limit", ["20"])[0])
    except ValueError:
        limit = 0
    if order not in ("asc", "desc") or not 1 <= limit <= 100:
        return 400, openai_error("Invalid 'limit' or 'order'.", "invalid_request_error",
                                 "limit" if order in ("asc", "desc") else "order", "invalid_value")
    seq = items if order == "asc" else list(reversed(items))
    after = query.get("after", [None])[0]
    if after is not None:
        ids = [it["id"] for it in seq]
        seq = seq[ids.index(after) + 1:] if after in ids else []
    page = seq[:limit]
    return 200, {"object": "list", "data": page, "first_id": page[0]["id"] if page else None,
                 "last_id": page[-1]["id"] if page else None, "has_more": len(seq) > limit}


def stored(method, path, responses):
    """(status, body) of GET /v1/responses/{id}[/input_items] or DELETE
    /v1/responses/{id} over responses ({id: store_entry})."""
    from urllib.parse import parse_qs, unquote, urlsplit
    u = urlsplit(path)
    parts = u.path.split("/")[3:]
    query = parse_qs(u.query)
    rid = unquote(parts[0]) if parts else ""
    entry = responses.get(rid)
    if entry is None:
        return _not_found(rid)
    if method == "DELETE" and len(parts) == 1:
        del responses[rid]
        return 200, {"id": rid, "object": "response", "deleted": True}
    if method == "GET" and len(parts) == 2 and parts[1] == "input_items":
        return _page(entry["items"], query)
    if method == "GET" and len(parts) == 1:
        if query.get("stream", ["false"])[0] == "true":
            return 400, openai_error("Streaming is only supported for background responses.",
                                     "invalid_request_error", "stream", None)
        return 200, entry["response"]
    return 404, openai_error("Unknown request URL: %s %s" % (method, path), "invalid_request_error", None,
                             "unknown_url")
