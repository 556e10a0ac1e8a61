"""fake_provider_batches.py: the Batch API of the fake provider
(tests/fake_provider.md): OpenAI's files (purpose batch) and batches,
Anthropic's Message Batches, in the shapes of their API references
(openai-openapi's OpenAIFile, Batch, BatchRequestOutput; Anthropic's
MessageBatch and MessageBatchIndividualResponse).

What becomes of a line is told by its custom_id, so a test writes its
outcomes into its input: a custom_id starting "err" is errored (a 400
answer in the output's error file), "exp" expired and "can" cancelled
(error.code batch_expired, batch_cancelled: OpenAI's error file;
Anthropic's result.type), "dup" succeeded and written twice; any other
succeeded, its answer the route's whole answer with its usage as the
synchronous route would give it. A cancel marks the batch cancelling; the
next poll ends it: the first half of its lines ran (as their custom_ids
say), the rest cancelled. In an OpenAI output file, a succeeded line whose
custom_id starts "nouse" has an answer without usage, and one that starts
"garb" is written as a line that is not a result. A line whose custom_id
starts "lost" succeeds (the batch's request_counts count it) but is
missing from the results (OpenAI's output file, Anthropic's results), as a
provider's file that lost a line.

Control (no auth): POST /_batches {"complete": false} keeps batches
running until {"complete": true}; {"fail_polls": true} answers an OpenAI
batch's poll 503; {"mode": {...}} sets the answers' usage as the fake provider's
/_mode does (until a reset); {"answer_model": "x"} names model x in the answers
of the lines that run from then on; {"results_gate": true} makes a
download of results wait until POST /_open_results (or 60 s);
{"poll_gate": true} makes a poll (GET of a batch object) wait until POST
/_open_polls (or 60 s), then answer as the batch is then; GET
/_batches is every batch with its lines' outcomes and usage (what a test's
expected charge is computed from)."""
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP

import fake_provider_shapes as shapes

B = {"lock": threading.Lock(), "files": {}, "batches": {}, "seq": 0, "complete": True, "results_gate": False,
     "gate": threading.Event(), "fail_polls": False, "answer_model": None, "poll_gate": False,
     "polls_open": threading.Event()}
ROUTE_OF = {"/v1/chat/completions": "chat", "/v1/responses": "responses", "/v1/embeddings": "embeddings"}
MODE = {"mode": "ok", "output_tokens": 16, "cached_tokens": 0, "cache_creation_tokens": 0, "reasoning_tokens": 0,
        "extra_output_tokens": 0, "service_tier": None, "cache_1h_tokens": 0, "audio_input_tokens": 0,
        "audio_output_tokens": 0, "web_searches": 0, "compaction_input_tokens": 0, "compaction_output_tokens": 0,
        "unknown_tokens": 0, "advisor_input_tokens": 0, "advisor_output_tokens": 0, "advisor_model": None,
        "word_bytes": 0, "chunks": None, "cut_after": 2}
MODE_DEFAULT = dict(MODE)


def handles(method, path):
    p = path.split("?", 1)[0]
    return (p.startswith("/v1/files") or p.startswith("/v1/batches") or p.startswith("/v1/messages/batches")
            or p.startswith("/_batches") or p in ("/_open_results", "/_open_polls"))


def _next(prefix):
    B["seq"] += 1
    return "%s%06d" % (prefix, B["seq"])


def _outcome(custom_id, ran=True):
    if not ran:
        return "cancelled"
    for head, what in (("err", "errored"), ("exp", "expired"), ("can", "cancelled")):
        if custom_id.startswith(head):
            return what
    return "succeeded"


def _answer(route, body):
    p = shapes.plan(route, body, dict(MODE))
    return shapes.whole(route, body, p), shapes.reported(route, body, p, MODE)


def _end(b, cancelled):
    """The batch's lines run (half of them when cancelled midway)."""
    n = len(b["lines"])
    for i, line in enumerate(b["lines"]):
        line["outcome"] = _outcome(line["custom_id"], ran=not cancelled or i < n // 2)
        if line["outcome"] == "succeeded":
            line["answer"], line["usage"] = _answer(b["route"], line["body"])
            if B.get("answer_model"):
                line["answer"]["model"] = B["answer_model"]
    b["ended_at"] = int(time.time())


def _openai_results(b):
    out, err = [], []
    for i, line in enumerate(b["lines"]):
        rid = "batch_req_%s_%d" % (b["id"], i)
        if line["outcome"] == "succeeded":
            body = line["answer"]
            if line["custom_id"].startswith("nouse"):      # an answer without usage
                body = {k: v for k, v in body.items() if k != "usage"}
            row = {"id": rid, "custom_id": line["custom_id"], "response": {"status_code": 200, "request_id":
                   "req_%d" % i, "body": body}, "error": None}
            if not line["custom_id"].startswith("lost"):
                out.append(row if not line["custom_id"].startswith("garb") else "not a result")
            if line["custom_id"].startswith("dup"):
                out.append(row)
        elif line["outcome"] == "errored":
            err.append({"id": rid, "custom_id": line["custom_id"], "response": {"status_code": 400, "request_id":
                        "req_%d" % i, "body": shapes.openai_error("bad", "invalid_request_error", None, None)},
                        "error": None})
        else:
            code = "batch_expired" if line["outcome"] == "expired" else "batch_cancelled"
            err.append({"id": rid, "custom_id": line["custom_id"], "response": None,
                        "error": {"code": code, "message": "This line was not run."}})
    return out, err


def _openai_batch(b):
    counts = {"total": len(b["lines"]), "completed": 0, "failed": 0}
    if b["status"] in ("completed", "cancelled"):
        counts["completed"] = sum(1 for x in b["lines"] if x["outcome"] == "succeeded")
        counts["failed"] = counts["total"] - counts["completed"]
    return {"id": b["id"], "object": "batch", "endpoint": b["endpoint"], "errors": None,
            "input_file_id": b["input_file_id"], "completion_window": "24h", "status": b["status"],
            "output_file_id": b.get("output_file_id"), "error_file_id": b.get("error_file_id"),
            "created_at": b["created_at"], "in_progress_at": b["created_at"], "expires_at": b["created_at"] + 86400,
            "finalizing_at": None, "completed_at": b.get("ended_at") if b["status"] == "completed" else None,
            "failed_at": None, "expired_at": None, "cancelling_at": b.get("cancelling_at"),
            "cancelled_at": b.get("ended_at") if b["status"] == "cancelled" else None,
            "request_counts": counts, "metadata": b.get("metadata")}


def _anthropic_batch(b):
    counts = {"processing": 0, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
    for line in b["lines"]:
        key = {"succeeded": "succeeded", "errored": "errored", "cancelled": "canceled",
               "expired": "expired"}.get(line.get("outcome"), "processing")
        counts[key] += 1
    ended = b["status"] == "ended"
    return {"id": b["id"], "type": "message_batch", "processing_status": b["status"], "request_counts": counts,
            "ended_at": "2026-01-01T00:00:00Z" if ended else None, "created_at": "2026-01-01T00:00:00Z",
            "expires_at": "2026-01-02T00:00:00Z", "archived_at": None,
            "cancel_initiated_at": "2026-01-01T00:00:00Z" if b.get("cancelling_at") else None,
            "results_url": ("%s/v1/messages/batches/%s/results" % (b["base"], b["id"])) if ended else None}


def _poll(b):
    """A GET of the batch: a cancelling one ends cancelled; a running one
    ends when batches complete."""
    anthropic = b["kind"] == "anthropic"
    if b["status"] in ("cancelling", "canceling"):
        _end(b, cancelled=True)
        b["status"] = "ended" if anthropic else "cancelled"
    elif b["status"] == "in_progress" and B["complete"]:
        _end(b, cancelled=False)
        b["status"] = "ended" if anthropic else "completed"
    if not anthropic and b["status"] in ("completed", "cancelled") and "output_file_id" not in b:
        out, err = _openai_results(b)
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            fid = _next("file-out")
            B["files"][fid] = {"id": fid, "bytes": b"".join(json.dumps(r).encode() + b"\n" for r in rows),
                               "filename": name, "purpose": "batch_output"}
            b[name] = fid if rows else None
    return _anthropic_batch(b) if anthropic else _openai_batch(b)


def _upload(h, body):
    msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + h.headers.get("Content-Type", "").encode() +
                                              b"\r\n\r\n" + body)
    fields = {}
    for part in msg.iter_parts():
        fields[part.get_param("name", header="content-disposition")] = (part.get_filename(),
                                                                         part.get_payload(decode=True))
    if fields.get("purpose", (None, b""))[1] != b"batch" or "file" not in fields:
        return 400, shapes.openai_error("purpose batch and a file", "invalid_request_error", "purpose", None)
    fid = _next("file-")
    B["files"][fid] = {"id": fid, "bytes": fields["file"][1], "filename": fields["file"][0] or "upload.jsonl",
                       "purpose": "batch"}
    return 200, _file_object(B["files"][fid])


def _file_object(f):
    return {"id": f["id"], "object": "file", "bytes": len(f["bytes"]), "created_at": 1760000000,
            "filename": f["filename"], "purpose": f["purpose"], "status": "processed", "expires_at": None,
            "status_details": None}


def _openai_create(req):
    f = B["files"].get(req.get("input_file_id"))
    if f is None or ROUTE_OF.get(req.get("endpoint")) is None:
        return 400, shapes.openai_error("no such file or endpoint", "invalid_request_error", "input_file_id", None)
    lines = [json.loads(x) for x in f["bytes"].decode().splitlines() if x.strip()]
    b = {"id": _next("batch_"), "kind": "openai", "endpoint": req["endpoint"], "route": ROUTE_OF[req["endpoint"]],
         "input_file_id": f["id"], "status": "in_progress", "created_at": int(time.time()),
         "metadata": req.get("metadata"), "lines": [{"custom_id": x["custom_id"], "body": x["body"]} for x in lines]}
    B["batches"][b["id"]] = b
    return 200, _openai_batch(b)


def _anthropic_create(req, base):
    reqs = req.get("requests")
    if not isinstance(reqs, list) or not reqs:
        return 400, shapes.anthropic_error("invalid_request_error", "requests: a list")
    b = {"id": _next("msgbatch_"), "kind": "anthropic", "route": "messages", "status": "in_progress",
         "created_at": int(time.time()), "base": base,
         "lines": [{"custom_id": r["custom_id"], "body": r["params"]} for r in reqs]}
    B["batches"][b["id"]] = b
    return 200, _anthropic_batch(b)


def _results(b):
    if B["results_gate"]:
        B["gate"].wait(60)
    rows = []
    for line in b["lines"]:
        kind = {"cancelled": "canceled"}.get(line["outcome"], line["outcome"])
        result = {"type": kind}
        if kind == "succeeded":
            result["message"] = line["answer"]
        elif kind == "errored":
            result["error"] = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
        if line["custom_id"].startswith("lost"):
            continue
        rows.append({"custom_id": line["custom_id"], "result": result})
        if kind == "succeeded" and line["custom_id"].startswith("dup"):
            rows.append(rows[-1])
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _control(h, method, path, body):
    if path == "/_open_results":
        B["gate"].set()
        return h.send_json(200, {"ok": True})
    if path == "/_open_polls":
        B["polls_open"].set()
        return h.send_json(200, {"ok": True})
    if method == "POST":
        want = json.loads(body or b"{}")
        with B["lock"]:
            if want.get("reset"):
                B["files"].clear()
                B["batches"].clear()
                B["complete"], B["results_gate"], B["gate"], B["fail_polls"] = True, False, threading.Event(), False
                B["poll_gate"], B["polls_open"] = False, threading.Event()
                B["answer_model"] = None
                MODE.clear()
                MODE.update(MODE_DEFAULT)
            for k in ("complete", "results_gate", "fail_polls", "poll_gate"):
                if k in want:
                    B[k] = bool(want[k])
            MODE.update(want.get("mode") or {})
            if "answer_model" in want:
                B["answer_model"] = want["answer_model"]
    with B["lock"]:
        out = [{"id": b["id"], "status": b["status"], "lines": [{k: v for k, v in x.items() if k != "answer"}
                                                               for x in b["lines"]]} for b in B["batches"].values()]
    return h.send_json(200, out)


def _send_bytes(h, data):
    h.send_response(200)
    h.send_header("Content-Type", "application/octet-stream")
    h.send_header("Content-Length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def _openai(h, method, path, body):
    parts = path.strip("/").split("/")  # v1, files|batches, id, action
    if parts[1] == "files":
        if method == "POST" and len(parts) == 2:
            return _upload(h, body)
        f = B["files"].get(parts[2]) if len(parts) > 2 else None
        if f is None:
            return 404, shapes.openai_error("No such File object", "invalid_request_error", "id", None)
        if len(parts) == 4 and parts[3] == "content":
            return 200, f["bytes"]
        if method == "DELETE":
            del B["files"][parts[2]]
            return 200, {"id": parts[2], "object": "file", "deleted": True}
        return 200, _file_object(f)
    if method == "POST" and len(parts) == 2:
        return _openai_create(json.loads(body or b"{}"))
    b = B["batches"].get(parts[2]) if len(parts) > 2 else None
    if b is None:
        return 404, shapes.openai_error("No batch found", "invalid_request_error", None, None)
    if method == "POST" and parts[-1] == "cancel":
        if b["status"] == "in_progress":
            b["status"], b["cancelling_at"] = "cancelling", int(time.time())
        return 200, _openai_batch(b)
    if B["fail_polls"]:
        return 503, shapes.openai_error("overloaded", "server_error", None, None)
    return 200, _poll(b)


def _anthropic(h, method, path, body):
    parts = path.strip("/").split("/")  # v1, messages, batches, id, action
    if method == "POST" and len(parts) == 3:
        host = h.headers.get("Host", "127.0.0.1")
        return _anthropic_create(json.loads(body or b"{}"), "http://" + host)
    b = B["batches"].get(parts[3]) if len(parts) > 3 else None
    if b is None:
        return 404, shapes.anthropic_error("not_found_error", "No batch found")
    if method == "POST" and parts[-1] == "cancel":
        if b["status"] == "in_progress":
            b["status"], b["cancelling_at"] = "canceling", int(time.time())
        return 200, _anthropic_batch(b)
    if parts[-1] == "results":
        if b["status"] != "ended":
            return 400, shapes.anthropic_error("invalid_request_error", "not ended")
        return 200, None
    return 200, _poll(b)


def handle(h, method, body):
    """One request of the Batch API (or its control) on handler h."""
    path = h.path.split("?", 1)[0]
    if path.startswith("/_"):
        return _control(h, method, path, body)
    anthropic = path.startswith("/v1/messages/batches")
    err = (shapes.anthropic_auth(h.headers, h.server.anthropic_key) if anthropic
           else shapes.openai_auth(h.headers, h.server.openai_key))
    if err is not None:
        h.record(body, None, err[0])
        return h.send_json(*err)
    parts = path.strip("/").split("/")
    if B["poll_gate"] and method == "GET" and len(parts) == (4 if anthropic else 3) and parts[-2] == "batches":
        B["polls_open"].wait(60)
    with B["lock"]:
        status, obj = (_anthropic if anthropic else _openai)(h, method, path, body)
        b = B["batches"].get(path.strip("/").split("/")[3]) if anthropic and path.endswith("/results") else None
    h.record(body if len(body) < 65536 else body[:65536], None, status, note="batch")
    if b is not None and status == 200:
        return _send_bytes(h, _results(b))
    if isinstance(obj, bytes):
        if B["results_gate"]:
            B["gate"].wait(60)
        return _send_bytes(h, obj)
    return h.send_json(status, obj)
