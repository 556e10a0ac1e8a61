"""test_65c_reconcile_media.py: creditctl reconcile shows the media routes'
calls apart from the token routes' (docs/reconciliation.md, "Images, audio
and speech"): speech, transcription and image calls through the gateway,
then OpenAI's audio_speeches, audio_transcriptions and images usage reports
beside them: each row says its kind, creditd's calls of it and its units
(characters, milliseconds of audio, images made), equal to what the fake
provider billed (its record, never creditd's), judged against the report's
figure; a report that does not give a kind's units shows creditd's alone;
moderations record nothing. Every model is the test's own (the fake
provider bills by the name's prefix: tts-1..., whisper...)."""
from gateway_bill import charge, last_reported
from lib import check, creditctl, eq, new_account, sql, uid, verify, wait_until
from test_65_reconcile import DAY, on_one_day, reconcile, reconcile_json, row_of, write
from test_80_gateway import import_prices, reset
from test_92_gateway_audio import moderation, speech, transcribe

CHAR = 15000000     # micros per million characters (tts-1's)
KSEC = 100000       # micros per 1,000 s (whisper-1's)
EACH = 30000        # micros an image


def _models():
    """Three models of the test's own, priced by their media unit alone."""
    tts, whisper, img = uid("tts-1-rec"), uid("whisper-rec"), uid("img-rec")
    creditctl("price", "set", tts, "input=0", "output=0", "max_output_tokens=1", "input_micros_per_mchar=%d" % CHAR)
    creditctl("price", "set", whisper, "input=0", "output=0", "max_output_tokens=1",
              "input_micros_per_ksec=%d" % KSEC)
    import_prices([{"model": img, "input_micros_per_mtok": 0, "cached_input_micros_per_mtok": 0,
                    "output_micros_per_mtok": 0, "max_output_tokens": 1, "output_micros_per_image": EACH}], "--force")
    return tts, whisper, img


def _records(acct):
    return sql("SELECT u.model FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s'"
               % acct)


def _calls(acct, tts, whisper, img):
    """Two speech calls, one transcription, one image call of two images
    and a moderation, settled: what the fake provider billed of each
    (characters, seconds, images)."""
    from test_80_gateway import call
    reset()
    billed = {"characters": 0, "seconds": 0, "images": 0}
    for text in ("Héllo, 世界! " * 20, "a short one"):
        r = speech(acct, {"model": tts, "input": text, "voice": "alloy"})
        eq(r.status, 200, "speech: %r" % r.body[:200])
        billed["characters"] += last_reported()["characters"]
    r = transcribe(acct, [("model", whisper), ("response_format", "verbose_json")])
    eq(r.status, 200, "transcription: %r" % r.body[:200])
    billed["seconds"] += last_reported()["seconds"]
    r = call("/openai/v1/images/generations", {"model": img, "prompt": "a boat", "n": 2},
             headers={"Creditd-Account": acct})
    eq(r.status, 200, "images: %r" % r.body[:200])
    billed["images"] += last_reported()["images"]
    eq(moderation(acct, {"input": "x"}).status, 200, "a moderation")
    check(wait_until(lambda: len(_records(acct)) == 4, timeout=10), "four calls recorded: %r" % _records(acct))
    check(billed["characters"] == 231 and billed["seconds"] == 3 and billed["images"] == 2,
          "the fake provider billed each: %r" % billed)
    return billed


def _result(kind, model, requests, **units):
    return dict({"object": "organization.usage.%s.result" % kind, "num_model_requests": requests,
                 "project_id": None, "user_id": None, "api_key_id": None, "model": model}, **units)


def _page(day, results):
    return {"object": "page", "has_more": False, "next_page": None, "data": [
        {"object": "bucket", "start_time": day, "end_time": day + DAY, "results": results}]}


def _reports(day, tts, whisper, img, billed, chars=None):
    """OpenAI's three media reports of the day, as its usage API's
    audio_speeches, audio_transcriptions and images endpoints answer
    (group_by=model; the images one by size too: two results)."""
    return [write("speeches.json", _page(day, [_result("audio_speeches", tts, 2,
                                                       characters=chars or billed["characters"])])),
            write("transcriptions.json", _page(day, [_result("audio_transcriptions", whisper, 1,
                                                             seconds=billed["seconds"])])),
            write("images.json", _page(day, [
                _result("images", img, 1, images=1, size="1024x1024", source="image.generation"),
                _result("images", img, 0, images=billed["images"] - 1, size="1024x1024", source="image.edit")]))]


@on_one_day
def test_each_media_kind_is_shown_apart_with_its_units(day, d):
    tts, whisper, img = _models()
    acct = new_account("recmedia")
    billed = _calls(acct, tts, whisper, img)
    rc, out = reconcile_json(*_reports(day, tts, whisper, img, billed), "--from", d, "--to", d)
    eq(rc, 0, "the reports match: %r" % out)
    want = {tts: ("speech", 2, "speech_characters", billed["characters"]),
            whisper: ("transcription", 1, "transcription_ms", billed["seconds"] * 1000),
            img: ("images", 1, "images", billed["images"])}
    for model, (kind, calls, units, n) in want.items():
        r = row_of(out, model)
        eq(r["media"], [{"kind": kind, "calls": calls, "units": units, "provider": n, "creditd": n, "drift_pct": 0}],
           "%s: its kind, calls and units on both sides" % model)
        eq(r["provider"]["requests"], calls, "%s: the report's requests" % model)
        eq(r["creditd"]["requests"], calls, "%s: creditd's calls" % model)
        eq(r["creditd"]["input_tokens"], 0, "%s: no tokens" % model)
        eq(r["within_tolerance"], True, "%s: within" % model)
    # The characters and seconds at the rows' prices, the margin once: what
    # creditd charged; images are not priced from the report (no quality).
    eq(row_of(out, tts)["expected_micros"], charge(billed["characters"] * CHAR), "speech priced from the report")
    eq(row_of(out, tts)["charged_micros"], charge(billed["characters"] * CHAR), "and charged so")
    eq(row_of(out, whisper)["expected_micros"], charge(billed["seconds"] * 1000 * KSEC), "seconds priced")
    eq(row_of(out, img)["expected_micros"], None, "images: not priced from the report")
    eq(sql("SELECT COUNT(*) FROM usage_records u JOIN accounts a ON a.id = u.account_id WHERE a.ext_id = '%s' "
           "AND u.media_kind IS NULL" % acct), [["0"]], "a moderation records nothing")
    p = reconcile(*_reports(day, tts, whisper, img, billed), "--from", d, "--to", d)
    eq(p.returncode, 0, p.stderr)
    lines = p.stdout.splitlines()
    for model, (kind, calls, units, n) in want.items():
        at = [i for i, line in enumerate(lines) if line.split()[1:2] == [model]]
        eq(len(at), 1, "one row for %s: %s" % (model, p.stdout))
        media = lines[at[0] + 1]
        head = "media: %s %d call%s, %s " % (kind, calls, "" if calls == 1 else "s", units)
        check(head in media, "%s's media line under its row: %s" % (model, p.stdout))
        eq(media.split(head)[1].split(), [str(n), str(n), "+0.00%;"], "%s: provider creditd drift" % model)
    verify()


@on_one_day
def test_a_unit_off_is_outside_and_a_report_without_units_shows_creditd_s_alone(day, d):
    tts, whisper, img = _models()
    acct = new_account("recmediaoff")
    billed = _calls(acct, tts, whisper, img)
    files = _reports(day, tts, whisper, img, billed, chars=billed["characters"] + 100)
    rc, out = reconcile_json(*files, "--from", d, "--to", d)
    eq(rc, 1, "a report's characters 100 above: outside")
    r = row_of(out, tts)
    eq(r["media"][0]["provider"], billed["characters"] + 100, "the report's figure")
    eq(r["media"][0]["creditd"], billed["characters"], "creditd's")
    eq(r["within_tolerance"], False, "judged")
    eq(row_of(out, whisper)["within_tolerance"], True, "the other kinds stay within")
    # A CSV of tokens names the speech model: its characters are not
    # reported there, shown on creditd's side and not judged.
    csv = write("tokens.csv", "date,model,input_tokens,cached_input_tokens,output_tokens,requests\n"
                "%s,%s,0,0,0,2\n" % (d, tts))
    rc, out = reconcile_json(csv, "--from", d, "--to", d)
    eq(rc, 0, "nothing judged off: %r" % out)
    eq(row_of(out, tts)["media"], [{"kind": "speech", "calls": 2, "units": "speech_characters", "provider": None,
                                    "creditd": billed["characters"], "drift_pct": None}], "not reported")
    p = reconcile(csv, "--from", d, "--to", d)
    check("media: speech 2 calls, speech_characters (not reported) %d;" % billed["characters"] in p.stdout,
          "the text says so: %s" % p.stdout)
