"""every_writer_gateway.py: the gateway's writers of money that came after
chat, in every_writer.py's workload on the same hot accounts for the
whole window (docs/gateway.md: "Images", "Audio and speech", "Background
responses", "Batches", "When a provider may already be working"):
  - images generated and edited (the edit a multipart body), speech and
    transcriptions (multipart), embeddings: whole calls, each answered
    with Creditd-Hold-Id and Creditd-Charged-Micros, checked as a whole
    chat call is (every_writer_acked.py: the hold settled at that charge,
    one usage record, the journal taking it);
  - Responses "background": true runs, answered queued; the fake provider
    ends them (completed or incomplete) a moment later while creditd's
    poll, the client's GET through creditd and the client's cancel
    through creditd race to settle them; each run's hold settled once, at
    the usage the provider reports for it (docs/gateway.md's price: the
    model's, with the margin);
  - Batch API jobs, OpenAI's (a file uploaded, a batch made from it) and
    Anthropic's message batches, of lines that succeed, fail, and one
    written twice: settled in chunks by creditd's job when the provider
    ends them (batch_poll_seconds 1 on the stack); each succeeded line
    charged once (one usage record a line, at its batch price), the rest
    released, the batch's hold released and its job done;
  - a provider timeout: a few calls in the window (a whole chat call, an
    image, a run's create) carry a text the fake provider answers nothing
    to (silent, 1 s, its `match`; libcurl's own retry on a new connection
    too): each answers 504 with its hold kept unresolved (x-should-retry:
    false); two `creditctl hold resolve HOLD charge|release`
    race on each (and the sweep's expiry resolution once the clock moves
    a month): resolved exactly once, its hold, usage and journal as the
    one resolution that won said.
The settle_down here waits for what creditd settles after the answers (the
runs, the batches, the resolutions); problems() checks them, and the
runs' holds join the gateway holds every_writer_acked.py checks.
"""
import http.client
import json
import subprocess
import threading
import time
import urllib.parse
import uuid

import every_writer_acked
import lib
from lib import ENV, check, clock_now, key, wait_until

RUN_MODEL, EMBED_MODEL, IMAGE_MODEL = "gpt-4o-mini", "text-embedding-3-small", "gpt-image-1"
RUN_ENDS_AFTER_S = 1.5          # the fake provider ends a run this long after its create
BATCH_EVERY_S = 7.0             # one batch planned per this much of the window (OpenAI's and Anthropic's in turn)
RESPONSE_KEPT_S = 30 * 86400    # a Responses record kept this long (limits_gateway.h), then purged
TIMEOUTS = 3                    # provider timeouts in the window (silent answers), at 20 %, 45 %, 70 %
SILENT = "ew-provider-timeout"  # the text in a call the fake provider answers nothing to
TIMEOUT = "provider timeout"    # the tally's kind of a 504 that kept its hold unresolved
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082")
AUDIO = b"\xff\xf3" + b"\x00" * 31998      # 2 s at the fake's 16,000 bytes a second


def form(fields, files):
    """A multipart/form-data body: (bytes, Content-Type); files are (name, filename, type, data)."""
    b = "----ew" + uuid.uuid4().hex
    out = b""
    for name, value in fields:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" % (b, name, value)).encode()
    for name, filename, ctype, data in files:
        out += ("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\nContent-Type: %s\r\n\r\n"
                % (b, name, filename, ctype)).encode() + data + b"\r\n"
    return out + ("--%s--\r\n" % b).encode(), "multipart/form-data; boundary=" + b


def provider(method, path, body=None):
    """A control call of the stack's fake provider."""
    u = urllib.parse.urlsplit(ENV.get("CREDITD_PROVIDER_URL") or "")
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    status, data = r.status, json.loads(r.read() or b"null")
    c.close()
    return status, data


class Media:
    """The writers, their drive and their checks; inert on a target with
    no fake provider to control (its calls are reads then)."""

    def __init__(self, w):
        self.w, self.on = w, bool(w.t.provider_url)
        self.lock = threading.Lock()
        self.runs = {}          # response id -> [account, hold id, the stack's clock when made]
        self.batches = {}       # batch id -> (account, "openai" | "anthropic")
        self.batch_plan = []    # (due, kind): spread over the window
        self.timeout_plan = []  # (due, kind of call): spread over the window
        self.unresolved = {}    # hold id -> the kind of call that kept it unresolved
        self.races = {}         # hold id -> [(action, exit code, stdout, stderr)]
        self.raced = set()
        self.paused, self.creating = False, 0   # no run made while the clock moves (across)
        self.recent = []        # runs made since the clock last moved: read or cancelled by their client
        self.batch_want = {}    # batch id -> (succeeded lines, their charge at batch prices), the provider's figures
        self.no_hold = {}       # account -> its batch lines' charges

    # ---- set-up ----

    def setup(self):
        """The prices of the models called (the files that test each route
        set them so; both creditd see them before the load)."""
        if not self.on:
            return
        import test_88b_gateway_batches as batches
        import test_91_gateway_images as images
        import test_92_gateway_audio as audio
        images._price()
        audio._price()
        lib.creditctl("price", "set", RUN_MODEL, "batch_input_micros_per_mtok=%d" % batches.BATCH_IN,
                      "batch_output_micros_per_mtok=%d" % batches.BATCH_OUT)
        lib.creditctl("price", "set", "claude-sonnet-4-5", "batch_discount_bps=5000")

        def seen(base):
            models = {m["model"]: m for m in lib.api("GET", "/v1/models", auth="read", base=base).json["data"]}
            return ({RUN_MODEL, EMBED_MODEL, IMAGE_MODEL, "tts-1", "whisper-1", "claude-sonnet-4-5"} <= set(models) and
                    models[RUN_MODEL].get("batch_output_micros_per_mtok") == batches.BATCH_OUT and
                    models["claude-sonnet-4-5"].get("batch_discount_bps") == 5000)
        for base in self.w.t.bases:
            check(wait_until(lambda: seen(base), timeout=30), "the gateway's prices reach %s" % base)
        provider("POST", "/_mode", {"mode": "silent", "silent_seconds": 1, "match": SILENT})
        # The fake's batches as a provider runs them, whatever a file before
        # this one on the stack left (a batch kept running, results held):
        # the flags alone, the batches other files' jobs still poll kept.
        provider("POST", "/_batches", {"complete": True, "results_gate": False, "fail_polls": False,
                                       "answer_model": None})
        provider("POST", "/_open_results", {})

    def start(self, t0, seconds):
        n = max(2, int(seconds / BATCH_EVERY_S))
        self.batch_plan = [(t0 + 0.7 * seconds * i / n, ("openai", "anthropic")[i % 2]) for i in range(n)]
        self.timeout_plan = [(t0 + seconds * (0.2 + 0.25 * i), ("chat", "image", "run")[i % 3])
                             for i in range(TIMEOUTS)]

    # ---- HTTP ----

    def send(self, rnd, method, path, acct, raw=None, ctype="application/json", headers=None):
        """One gateway call to either process, never sent twice: a lib.Resp, or None when cut."""
        u = urllib.parse.urlsplit(rnd.choice(self.w.t.gateway_bases))
        h = {"Authorization": "Bearer " + key("guard"), "Creditd-Account": acct, "Content-Type": ctype}
        h.update(headers or {})
        try:
            c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
            c.request(method, u.path.rstrip("/") + path, body=raw, headers=h)
            resp = c.getresponse()
            r = lib.Resp(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
            c.close()
            return r
        except (OSError, http.client.HTTPException):
            return None

    def seen(self, kind, r, ok=(200,)):
        return self.w.tally.seen(kind, r, ok)

    def whole(self, rnd, kind, path, raw, ctype="application/json"):
        acct = rnd.choice(self.w.accounts)
        sent = clock_now()
        r = self.send(rnd, "POST", path, acct, raw, ctype)
        if self.seen(kind, r):
            wrong = self.w.acked.gateway_answered(r, False, sent)
            self.w.contract(wrong is None, "%s: %s" % (kind, wrong))

    # ---- the writers ----

    def write(self, rnd):
        if not self.on:
            return self.w.read(rnd)
        with self.lock:
            due = self.w.take_due(self.timeout_plan, rnd)
        if due is not None:
            return self.timeout(rnd, due[0])
        x = rnd.random()
        if x < 0.25 and self.batch(rnd):
            return
        if x < 0.40:
            return self.background(rnd)
        if x < 0.52:
            return self.whole(rnd, "image generation", "/openai/v1/images/generations", json.dumps(
                {"model": IMAGE_MODEL, "prompt": "a lighthouse at dusk", "size": "1024x1024", "quality": "low"}))
        if x < 0.64:
            raw, ctype = form([("model", IMAGE_MODEL), ("prompt", "the sky at night"), ("size", "1024x1024"),
                               ("quality", "low")], [("image[]", "a.png", "image/png", PNG)])
            return self.whole(rnd, "image edit", "/openai/v1/images/edits", raw, ctype)
        if x < 0.76:
            return self.whole(rnd, "speech", "/openai/v1/audio/speech", json.dumps(
                {"model": "tts-1", "input": "every writer at once", "voice": "alloy"}))
        if x < 0.88:
            raw, ctype = form([("model", "whisper-1"), ("response_format", "json")],
                              [("file", "speech.mp3", "application/octet-stream", AUDIO)])
            return self.whole(rnd, "transcription", "/openai/v1/audio/transcriptions", raw, ctype)
        return self.whole(rnd, "embeddings", "/openai/v1/embeddings", json.dumps(
            {"model": EMBED_MODEL, "input": "every writer at once"}))

    def timeout(self, rnd, kind):
        """A call its provider never answers: 504, its hold kept unresolved."""
        acct = rnd.choice(self.w.accounts)
        path, body = {
            "chat": ("/openai/v1/chat/completions", {"model": RUN_MODEL, "messages": [
                {"role": "user", "content": SILENT}]}),
            "image": ("/openai/v1/images/generations", {"model": IMAGE_MODEL, "prompt": SILENT, "size": "1024x1024",
                                                        "quality": "low"}),
            "run": ("/openai/v1/responses", {"model": RUN_MODEL, "input": SILENT, "background": True})}[kind]
        r = self.send(rnd, "POST", path, acct, json.dumps(body))
        if not self.seen(TIMEOUT, r, (504,)):
            return
        hold = r.headers.get("creditd-hold-id")
        if self.w.contract(hold and r.headers.get("x-should-retry") == "false",
                           "a %s call its provider never answered: 504, x-should-retry false, its hold named: %r %r"
                           % (kind, r, r.headers)):
            with self.lock:
                self.unresolved[hold] = kind

    def background(self, rnd):
        """A run made, or one made before read or cancelled through creditd."""
        with self.lock:
            running = list(self.recent)     # a run a month old may be purged (docs/operations.md, "Data retention")
        if running and rnd.random() < 0.5:
            rid = rnd.choice(running)
            acct = self.runs[rid][0]
            cancel = rnd.random() < 0.2     # 400 when the provider ended it first
            r = self.send(rnd, "POST", "/openai/v1/responses/%s/cancel" % rid, acct, b"") if cancel else \
                self.send(rnd, "GET", "/openai/v1/responses/" + rid, acct)
            # Picked before the clock moved a month, sent after (the move
            # waits for runs being made, not for these): a response made over
            # 30 days before may be purged, then 404, as in settle_runs.
            old = clock_now() - self.runs[rid][2] > RESPONSE_KEPT_S
            if cancel:
                self.seen("background cancel", r, (200, 400, 404) if old else (200, 400))
            else:
                self.seen("background read", r, (200, 404) if old else (200,))
            return
        with self.lock:
            if self.paused:
                return
            self.creating += 1
        try:
            acct = rnd.choice(self.w.accounts)
            sent = clock_now()
            r = self.send(rnd, "POST", "/openai/v1/responses", acct, json.dumps(
                {"model": RUN_MODEL, "input": "every writer at once in the background", "max_output_tokens": 40,
                 "background": True}))
        finally:
            with self.lock:
                self.creating -= 1
        if not self.seen("background run", r):
            return
        if self.w.contract((r.json or {}).get("status") == "queued" and "creditd-charged-micros" not in r.headers
                           and r.headers.get("creditd-hold-id"), "a background run answered queued, held: %r %r"
                           % (r, r.headers)):
            with self.lock:
                self.runs[r.json["id"]] = [acct, r.headers["creditd-hold-id"], sent, time.time()]
                self.recent.append(r.json["id"])

    def batch(self, rnd):
        with self.lock:
            due = self.w.take_due(self.batch_plan, rnd)
        if due is None:
            return False
        kind, acct, tag = due[0], rnd.choice(self.w.accounts), uuid.uuid4().hex[:10]
        ids = ["ok1-" + tag, "ok2-" + tag, "err-" + tag, "dup-" + tag]
        if kind == "anthropic":
            reqs = [{"custom_id": c, "params": {"model": "claude-sonnet-4-5", "max_tokens": 32, "messages": [
                {"role": "user", "content": "words for %s" % c}]}} for c in ids]
            r = self.send(rnd, "POST", "/anthropic/v1/messages/batches", acct, json.dumps({"requests": reqs}),
                          headers={"anthropic-version": "2023-06-01"})
        else:
            lines = [{"custom_id": c, "method": "POST", "url": "/v1/chat/completions", "body": {
                "model": RUN_MODEL, "messages": [{"role": "user", "content": "words for %s" % c}], "max_tokens": 40}}
                for c in ids]
            raw, ctype = form([("purpose", "batch")], [("file", "in.jsonl", "application/jsonl",
                                                         "".join(json.dumps(x) + "\n" for x in lines).encode())])
            r = self.send(rnd, "POST", "/openai/v1/files", acct, raw, ctype)
            if not self.seen("batch file", r):
                return True
            r = self.send(rnd, "POST", "/openai/v1/batches", acct, json.dumps(
                {"input_file_id": r.json["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}))
        if self.seen("batch " + kind, r):
            with self.lock:
                self.batches[r.json["id"]] = (acct, kind)
        return True

    # ---- the conductor's part: runs ended, unresolved holds raced on ----

    def drive(self):
        if not self.on:
            return
        now = time.time()
        with self.lock:
            due = [rid for rid, v in self.runs.items() if len(v) == 4 and v[3] + RUN_ENDS_AFTER_S <= now]
        for i, rid in enumerate(due):
            self.end_run(rid, ("completed", "incomplete")[i % 3 == 2])
        with self.lock:
            todo = [h for h in self.unresolved if h not in self.raced]
            self.raced.update(todo)
        for i, hold in enumerate(todo):
            self.race(hold, (("charge", "release"), ("release", "charge"), ("charge", "charge"))[i % 3])

    def end_run(self, rid, status):
        """The run ended at the fake provider (409: a cancel through creditd ended it first)."""
        status_code, _ = provider("POST", "/_background", {"id": rid, "status": status})
        if status_code not in (200, 409):
            self.w.contract(False, "the fake provider's run %s not ended: %s" % (rid, status_code))
        with self.lock:
            self.runs[rid] = self.runs[rid][:3]

    def across(self, move):
        """The clock moved a month (move) with no run in flight: a run
        still running a month after it was made is given up, its hold kept
        for the operator (docs/gateway.md, "A run that never ends"), which
        is no race this workload proves. Runs made before are ended and
        settled (the client's GET) first, none made until the move is done."""
        if not self.on:
            return move()
        with self.lock:
            self.paused = True
        try:
            check(wait_until(lambda: self.creating == 0, timeout=60), "runs being made before the clock moves")
            self.settle_runs(__import__("random").Random(self.w.seed - 2))
            move()
        finally:
            with self.lock:
                self.paused, self.recent = False, []

    def settle_runs(self, rnd):
        """Every run ended at the provider, then read through creditd
        unless creditd's poll has settled it already; [] or a problem."""
        with self.lock:
            left = [rid for rid, v in self.runs.items() if len(v) == 4]
        for rid in left:
            self.end_run(rid, "completed")
        for rid in list(self.runs):
            if not self.run_ended(rid):
                # A response made over 30 days before (the clock moved past
                # it) may be purged: then 404, as OpenAI answers a response
                # it forgot (docs/gateway.md, "Provider objects"), and
                # creditd's poll still ends its run.
                r = self.send(rnd, "GET", "/openai/v1/responses/" + rid, self.runs[rid][0])
                old = clock_now() - self.runs[rid][2] > RESPONSE_KEPT_S    # read after: a jump may come between
                self.seen("background read", r, (200, 404) if old else (200,))
        if wait_until(lambda: all(self.run_ended(rid) for rid in list(self.runs)), timeout=30, step=0.5):
            return []
        return ["background runs not ended on creditd's record 30 s after they ended: %r"
                % [rid for rid in self.runs if not self.run_ended(rid)][:5]]

    def race(self, hold, actions):
        """Two creditctl hold resolve at once on one unresolved hold."""
        out = []

        def one(action):
            p = subprocess.run([ENV["CREDITCTL"], "-c", ENV["CREDITD_CONFIG"], "hold", "resolve", hold, action],
                               capture_output=True, text=True, timeout=120)
            with self.lock:
                out.append((action, p.returncode, p.stdout, p.stderr.strip()[-300:]))
        threads = [threading.Thread(target=one, args=(a,)) for a in actions]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        with self.lock:
            self.races[hold] = out

    # ---- after the load ----

    def settle_down(self):
        """The silent answers disarmed, every run ended and settled
        (the client's GET for those creditd's poll has not come to yet),
        every batch's job done, every unresolved hold raced on."""
        out = []
        if not self.on:
            return out
        provider("POST", "/_mode", {"mode": "ok"})
        self.drive()
        out += self.settle_runs(__import__("random").Random(self.w.seed))
        if not wait_until(lambda: all(self.job(b)[1] == "done" for b in self.batches), timeout=60, step=0.5):
            out.append("batch jobs not done 60 s after the load: %r"
                       % {b: self.job(b) for b in self.batches if self.job(b)[1] != "done"})
        self.drive()
        return out

    def run_ended(self, rid):
        rows = self.w.t.sql("SELECT state FROM gateway_background WHERE response_id = '%s'" % rid)
        return bool(rows) and rows[0][0] == "ended"

    def job(self, batch_id):
        """(job id, state, hold id, when last saved) of a batch."""
        rows = self.w.t.sql("SELECT id, state, hold_id, updated_at FROM gateway_jobs WHERE object_id = '%s'" % batch_id)
        return tuple(rows[0]) if rows else (None, None, None, None)

    def acknowledge(self):
        """What the provider says ran, priced: each run's hold at the
        charge of the usage its provider reports for it, with the gateway
        holds every_writer_acked.py checks; each batch's succeeded lines at
        their batch prices, with the usage of no hold it checks (a line's
        usage record names no hold: its money was held by the batch)."""
        from test_80_gateway import cost
        from test_88b_gateway_batches import batch_cost, discounted_cost
        for rid, (acct, hold, sent) in self.runs.items():
            u = provider("GET", "/_background/" + rid)[1]["usage"]
            charge = cost(RUN_MODEL, u["input_tokens"], u["input_tokens_details"]["cached_tokens"], u["output_tokens"])
            with self.w.acked.lock:
                self.w.acked.gateway[hold] = (charge, sent)
        fake = {b["id"]: b for b in provider("GET", "/_batches")[1]}
        for bid, (acct, kind) in self.batches.items():
            lines = [x for x in fake[bid]["lines"] if x.get("outcome") == "succeeded"]
            want = sum(batch_cost(x["usage"]) if kind == "openai" else discounted_cost(x["usage"]) for x in lines)
            self.batch_want[bid] = (len(lines), want)
            self.no_hold[acct] = self.no_hold.get(acct, 0) + want

    # ---- the checks ----

    def problems(self):
        if not self.on:
            return []
        out = self.batch_problems() + self.unresolved_problems() + self.writer_problems() + self.logged()
        won = [[x[0] for x in race if x[1] == 0] for race in self.races.values()]
        print("every writer: gateway: %d runs, %d batches (%d lines charged), %d holds kept unresolved, won by %s"
              % (len(self.runs), len(self.batches), sum(n for n, _ in self.batch_want.values()), len(self.unresolved),
                 ", ".join(w[0] if w else "none (the sweep, or captured at its ttl)" for w in won)), flush=True)
        return out

    def logged(self):
        """The errors creditd logged about runs and batches since the load
        began (a settle refused, a line not charged), the first few."""
        out = []
        for path, start in zip(self.w.t.logs, self.w.log_from):
            with open(path, "rb") as f:
                f.seek(start)
                out += [x.split(" ", 2)[-1][:300] for x in f.read().decode("utf-8", "replace").splitlines()
                        if " error: " in x and ("gateway: background" in x or "gateway: batch" in x)]
        return ["creditd logged %d errors of runs and batches, the first: %s" % (len(out), " | ".join(out[:3]))] \
            if out else []

    def batch_problems(self):
        """Each batch's job done, its hold released, each succeeded line
        charged once at its batch price (one usage record a line), no
        other line charged."""
        out = []
        num = self.w.numbers([self.job(b)[2] for b in self.batches])
        for bid, (acct, kind) in sorted(self.batches.items()):
            job, state, hold, saved = self.job(bid)
            lines, want = self.batch_want[bid]
            n, keys, charged = self.w.t.sql(
                "SELECT COUNT(*), COUNT(DISTINCT usage_key), COALESCE(SUM(cost_micros), 0) FROM usage_records WHERE "
                "account_id = (SELECT id FROM accounts WHERE ext_id = '%s') AND usage_key LIKE 'gw\\_bj\\_%s\\_%%'"
                % (acct, job))[0]
            held = self.w.t.sql("SELECT state FROM holds WHERE id = %s" % num.get(hold, 0))
            # A hold released a month of the test clock ago may be purged
            # (every_writer_acked.py, KEPT_S): released, its job done then.
            purged = not held and saved is not None and int(saved) < clock_now() - every_writer_acked.KEPT_S
            got = (state, int(n), int(keys), int(charged), "released" if purged else held[0][0] if held else None)
            if got != ("done", lines, lines, want, "released"):
                out.append("batch %s (%s, job %s on %s, hold %s): (job, usage records, lines, charged, hold) %r; the "
                           "provider ran %d lines, %d at their batch price" % (bid, kind, job, acct, hold, got,
                                                                               lines, want))
        return out

    def unresolved_problems(self):
        """Each hold kept unresolved, resolved once: by the one creditctl
        that won its race (the other exit 1, nothing changed), else by the
        sweep's expiry; its hold, usage and journal as that said."""
        out = []
        num = self.w.numbers(list(self.unresolved))
        for hold, kind in sorted(self.unresolved.items()):
            race = self.races.get(hold, [])
            won = [x for x in race if x[1] == 0]
            lost = [x for x in race if x[1] != 0]
            h = lib.api("GET", "/v1/holds/" + hold, auth="read").json or {}
            n, used, took = self.w.t.sql(
                "SELECT (SELECT COUNT(*) FROM usage_records WHERE hold_id = %s), (SELECT COALESCE(SUM(cost_micros), 0) "
                "FROM usage_records WHERE hold_id = %s), (SELECT COALESCE(-SUM(amount_micros), 0) FROM journal WHERE "
                "hold_id = %s)" % (num[hold], num[hold], num[hold]))[0]
            said = json.loads(won[0][2]) if len(won) == 1 else {}
            charged = h.get("charged_micros")
            wrong = []
            if len(race) != 2 or len(won) > 1 or any(x[1] != 1 for x in lost):
                wrong.append("the race's exits %r" % [(a, rc, err) for a, rc, _, err in race])
            if won and (h.get("resolved"), charged) != (said.get("resolved", won[0][0]), said.get("charged_micros")):
                wrong.append("resolved %r charged %r, the winner %s said %r" % (h.get("resolved"), charged, won[0][0],
                                                                                said))
            # None won: the sweep resolved it at its due (the clock moved a
            # month), or the call's hold expired before it could be kept
            # unresolved (the clock moved mid-call: captured in full at
            # its ttl, as any gateway hold, an error logged).
            if not won and h.get("resolved") != "expiry" and (h.get("resolved"), h.get("status"), charged) != (
                    None, "captured", h.get("held_micros")):
                wrong.append("no creditctl won, resolved %r" % h.get("resolved"))
            # A resolution is a journal row alone (no usage record: the
            # provider's usage of the call was never read).
            if h.get("status") not in ("captured", "released") or (int(n), int(used), int(took)) != (0, 0, charged):
                wrong.append("status %r charged %r: %s usage records of %s, the journal took %s (%r)"
                             % (h.get("status"), charged, n, used, took, h))
            if wrong:
                out.append("unresolved hold %s (a %s call's): %s" % (hold, kind, "; ".join(wrong)))
        return out

    def writer_problems(self):
        t, out = self.w.tally, []
        out += ["no %s acknowledged" % k for k in (
            "image generation", "image edit", "speech", "transcription", "embeddings", "background run",
            "background read", "batch openai", "batch anthropic") if t.ok(k) == 0]
        if len(self.unresolved) != TIMEOUTS:
            out.append("provider timeouts: %d planned, %d holds kept unresolved" % (TIMEOUTS, len(self.unresolved)))
        return out
