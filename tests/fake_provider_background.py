"""fake_provider_background.py: OpenAI's background responses for
tests/fake_provider.py (tests/fake_provider.md, "Background runs"), in the
shapes of OpenAI's API reference (createResponse with "background": true,
retrieveResponse, cancelResponse): a run is answered "queued" at once, with
no usage, and kept; the test moves it on (POST /_background) through
"in_progress" to "completed", "failed", "cancelled" or "incomplete", each end
with its usage; POST /v1/responses/{id}/cancel cancels a run still going and
reports the output made so far."""
import copy

import fake_provider_shapes as shapes

RUNNING = ("queued", "in_progress")
ENDS = ("completed", "failed", "cancelled", "incomplete")


def _set(run, status, output=None):
    """The run's stored response at status: a running one without output
    or usage; an end with its usage (output tokens `output`, else the
    plan's; a failed run's output none)."""
    p = dict(run["plan"])
    if output is not None:
        p["output"] = p["billed"] = output
        p["reasoning"] = min(p["reasoning"], output)
    if status == "failed":
        p["output"] = p["billed"] = 0
        p["reasoning"] = 0
    obj = shapes._response_object(run["req"], p, status)
    obj["background"] = True
    if status in RUNNING:
        obj["output"], obj["usage"] = [], None
    if status == "failed":
        obj["output"] = []
        obj["error"] = {"code": "server_error", "message": "The model failed to finish the run."}
    if status == "cancelled":
        obj["output"] = [dict(o, status="incomplete") for o in obj["output"]]
    run["status"], run["usage"] = status, obj["usage"]
    run["entry"]["response"] = obj
    return obj


def start(state, req, plan):
    """A background run made: kept (as a stored response too) and its
    first answer, "queued"."""
    rid = shapes.response_id(plan)
    entry = shapes.store_entry(req, plan)
    run = {"req": req, "plan": plan, "entry": entry, "status": "queued", "usage": None}
    state["runs"][rid] = run
    state["responses"][rid] = entry
    return copy.deepcopy(_set(run, "queued"))


def move(state, want):
    """POST /_background {"id", "status", "output_tokens"?}: the run moved on."""
    run = state["runs"].get(want.get("id"))
    if run is None or want.get("status") not in RUNNING + ENDS:
        return 400, {"error": "id of a run, status one of %s" % (RUNNING + ENDS,)}
    if run["status"] in ENDS:
        return 409, {"error": "the run ended already (%s)" % run["status"]}
    return 200, copy.deepcopy(_set(run, want["status"], want.get("output_tokens")))


def cancel(state, rid):
    """POST /v1/responses/{id}/cancel, as OpenAI answers it: a running
    background run cancelled with the output made so far (half its plan);
    a response that is not a background run, or one that ended, 400."""
    run = state["runs"].get(rid)
    if run is None and rid not in state["responses"]:
        return 404, shapes.openai_error("Response with id '%s' not found." % rid, "invalid_request_error", None, None)
    if run is None:
        return 400, shapes.openai_error("Only background responses can be cancelled.", "invalid_request_error",
                                        None, None)
    if run["status"] in ENDS:
        return 400, shapes.openai_error("Cannot cancel a response with status '%s'." % run["status"],
                                        "invalid_request_error", None, None)
    return 200, copy.deepcopy(_set(run, "cancelled", run["plan"]["output"] // 2))
