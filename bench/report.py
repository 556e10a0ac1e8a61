#!/usr/bin/env python3
"""report.py: turns the raw outputs bench/run.sh collected into the table it
prints and the JSON it writes (bench/README.md explains both).

It only reads files under --dir (one folder per point with wrk's or rawdb's
output, /proc/<pid>/stat and GET /metrics snapshots before and after the
measured run; peer/ with what the seed design's PHP-FPM port wrote) and
computes; it measures nothing itself.

usage: report.py --dir BENCH_TMP_DIR --out results/latest.json
"""
import argparse
import datetime
import json
import os
import re
import sys

ROWS = [
    ("floor", "1", "floor: nginx -> tiny libfcgi"),
    ("healthz", "2", "creditd GET /healthz"),
    ("spread", "3", "authorize+settle, {accounts} accts"),
    ("hot", "4", "authorize+settle, one hot account"),
    ("rawdb", "5", "raw DB, {accounts} accts"),
    ("rawdb_hot", "5h", "raw DB, one hot account"),
    ("dbfloor", "D", "database floor, {accounts} accts, 1 CALL"),
    ("httpfloor", "1D", "HTTP + DB floor: libfcgi + D's CALL"),
    # bench/run.sh --rawdb-also: row 5 with another version of creditd's SQL.
    ("rawdb_statements", "5st", "raw DB, {accounts} accts, statements"),
    ("rawdb_scripts", "5sc", "raw DB, {accounts} accts, scripts"),
    ("rawdb_batch", "5b", "raw DB, {accounts} accts, batch"),
    ("peer", "P", "seed design in PHP-FPM (loses updates)"),
]
PEER_NAME = "seed design in PHP-FPM"
# Rows run by bench/rawdb (the database floor is rawdb --sql call).
RAWDB_ROWS = ("rawdb", "rawdb_hot", "dbfloor", "rawdb_statements", "rawdb_scripts", "rawdb_batch")
# The last line of the peer's bench.md: its ledger over all its bench
# accounts (warm-ups included) after its runs.
PEER_LEDGER = re.compile(r"credited (-?\d+), usage rows (\d+) summing (-?\d+), balances (-?\d+), "
                         r"expected (-?\d+) -> lost updates (-?\d+) cents")
# creditd's round trips per request at one client lie between 1 (the write
# CALL alone: every batch on rows kept from the last write,
# src/ledger/guard/ledger_rowcache.h) and rawdb's (a read CALL and a write CALL
# each), which its API key lookups (a SELECT + COMMIT per worker thread per
# second, see src/http/router.c) and first-use prepares may pass by a
# fraction; an extra statement moves the figure by a whole 1.
ROUND_TRIP_BELOW = 0.02
ROUND_TRIP_ABOVE = 0.5


def read(path, default=None):
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        return default


def bench_json(text):
    for line in (text or "").splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return None


def metrics(text):
    out = {}
    for line in (text or "").splitlines():
        if line.startswith("#") or " " not in line:
            continue
        key, value = line.rsplit(" ", 1)
        try:
            out[key] = float(value)
        except ValueError:
            pass
    return out


def route_requests(m, route, status=None):
    prefix = 'creditd_requests_total{route="%s",status=' % route
    return sum(v for k, v in m.items() if k.startswith(prefix) and (status is None or k == prefix + '"%s"}' % status))


def cpu_ticks(text):
    """utime + stime from /proc/<pid>/stat (fields 14 and 15)."""
    if not text:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def per(numerator, denominator):
    return numerator / denominator if numerator is not None and denominator else None


def point_result(p, row, clients, wrk_threads, meta):
    tick_us = 1e6 / meta["clock_ticks"]

    def cpu_us(name):
        before = cpu_ticks(read(os.path.join(p, name + ".stat.before")))
        after = cpu_ticks(read(os.path.join(p, name + ".stat.after")))
        return (after - before) * tick_us if before is not None and after is not None else None

    m0 = metrics(read(os.path.join(p, "metrics.before")))
    m1 = metrics(read(os.path.join(p, "metrics.after")))

    def delta(key):
        return m1.get(key, 0.0) - m0.get(key, 0.0)

    def delta_requests(route, status=None):
        return route_requests(m1, route, status) - route_requests(m0, route, status)

    r = {"row": row, "clients": clients, "load_threads": wrk_threads}
    if row in RAWDB_ROWS:
        raw = json.loads(read(os.path.join(p, "rawdb.json"), "null") or "null")
        if raw is None:
            r["error"] = (read(os.path.join(p, "rawdb.err"), "") or "no output").strip()[-300:]
            return r
        r.update(unit="pairs/s", rate=raw["pairs_per_s"], pairs=raw["pairs"], duration_s=raw["duration_s"],
                 p50_ms=raw["p50_us"] / 1000, p99_ms=raw["p99_us"] / 1000, errors=raw["errors"],
                 retries=raw["retries"], transactions=raw["transactions"], sql=raw["sql"],
                 round_trips_per_authorize=per(raw["authorize_round_trips"], raw["authorize_tx"]),
                 round_trips_per_settle=per(raw["settle_round_trips"], raw["settle_tx"]),
                 latency_of="each transaction (authorize or settle), client side")
        r["db_cpu_us_per_pair"] = per(cpu_us("mariadbd"), raw["pairs"])
        return r
    w = bench_json(read(os.path.join(p, "wrk.out")))
    if w is None:
        r["error"] = (read(os.path.join(p, "wrk.out"), "") or "no output").strip()[-300:]
        return r
    seconds = w["duration_us"] / 1e6
    r.update(requests=w["requests"], duration_s=seconds, requests_per_s=w["requests"] / seconds,
             p50_ms=w["p50_us"] / 1000, p99_ms=w["p99_us"] / 1000, max_ms=w["max_us"] / 1000,
             errors=w["errors"], timeouts=w["timeouts"], http_errors=w["status_errors"],
             latency_of="each HTTP request, client side (wrk)")
    if row in ("floor", "healthz"):
        r.update(unit="req/s", rate=r["requests_per_s"])
        server = "floor_responder" if row == "floor" else "creditd"
        r["server"] = server
        r["server_cpu_us_per_request"] = per(cpu_us(server), w["requests"])
        if row == "healthz":  # creditd pings MariaDB on each /healthz
            r["round_trips_per_request"] = per(delta('creditd_db_round_trips_total{route="healthz"}'),
                                               delta_requests("healthz", 200))
        return r
    r.update(unit="pairs/s", rate=w["pairs"] / seconds, pairs=w["pairs"],
             errors=w["errors"] + w["authorize_failed"] + w["settle_failed"] + w["no_hold_id"],
             authorize_failed=w["authorize_failed"], settle_failed=w["settle_failed"])
    r["db_cpu_us_per_pair"] = per(cpu_us("mariadbd"), w["pairs"])
    if row == "httpfloor":
        # bench/floor_db_responder: row D's CALL behind nginx, nothing of
        # creditd's (no /metrics: its CPU over wrk's requests).
        r["server"] = "floor_db_responder"
        r["server_cpu_us_per_request"] = per(cpu_us("floor_db_responder"), w["requests"])
        return r
    handled = delta_requests("authorize") + delta_requests("settle")
    r["server"] = "creditd"
    r["server_cpu_us_per_request"] = per(cpu_us("creditd"), handled)
    # Group commit: guard writes per batch, and how the batches were spread.
    batches = delta("creditd_guard_batch_size_count")
    r["batch_mean"] = per(delta("creditd_guard_batch_size_sum"), batches)
    r["batch_sizes"] = {le: delta('creditd_guard_batch_size_bucket{le="%s"}' % le)
                        for le in ("1", "2", "4", "8", "16", "32", "64")}
    for route in ("authorize", "settle"):
        r["round_trips_per_" + route] = per(delta('creditd_db_round_trips_total{route="%s"}' % route),
                                            delta_requests(route, 200))
        r[route + "_200"] = delta_requests(route, 200)
        r[route + "_handled"] = delta_requests(route)
        # Time inside creditd (from FastCGI accept to finish), against the
        # client's latency: the difference is queueing in nginx and the socket.
        seconds_in = delta('creditd_request_seconds_total{route="%s"}' % route)
        r["creditd_mean_ms_" + route] = per(seconds_in * 1000, delta_requests(route))
    return r


def load_points(directory, meta):
    points = []
    base = os.path.join(directory, "points")
    for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
        p = os.path.join(base, name)
        spec = (read(os.path.join(p, "point"), "") or "").split()
        if len(spec) == 3:
            points.append(point_result(p, spec[0], int(spec[1]), int(spec[2]), meta))
    return points


def load_peer(directory):
    """The peer's pair rows (as points) and its summary: status, ledger, lost updates."""
    base = os.path.join(directory, "peer")
    status = (read(os.path.join(base, "status"), "") or "").strip()
    peer = {"name": PEER_NAME, "status": status.split(":")[0] if status else "not run",
            "note": status.partition(":")[2].strip() or None}
    leftovers = (read(os.path.join(base, "leftovers.txt"), "") or "").splitlines()
    peer["left_running_after_its_run"] = leftovers
    if peer["status"] != "ok":
        return [], peer
    res = os.path.join(base, "results")
    try:
        rows = json.loads(read(os.path.join(res, "bench.json"), "null") or "null") or []
    except ValueError as e:
        peer.update(status="failed", note="unreadable bench.json: %s" % e)
        return [], peer
    points, authorize = [], []
    for entry in rows:
        x, c = entry["result"], entry["connections"]
        errors = x["non2xx"] + x["err_connect"] + x["err_read"] + x["err_write"] + x["err_timeout"]
        common = {"clients": c, "load_threads": 1 if c < 2 else 2, "requests": x["requests"],
                  "duration_s": x["duration_s"], "requests_per_s": x["rps"], "p50_ms": x["p50_ms"],
                  "p90_ms": x["p90_ms"], "p99_ms": x["p99_ms"], "max_ms": x["max_ms"], "errors": errors,
                  "timeouts": x["err_timeout"], "http_errors": x["non2xx"],
                  "latency_of": "each HTTP request (authorize and settle mixed), client side (wrk)"}
        if entry["script"] == "pair":
            # Its pairs.lua alternates authorize and settle: pairs/s = req/s / 2.
            points.append(dict(common, row="peer", unit="pairs/s", rate=x["rps"] / 2, pairs=x["requests"] // 2,
                               server="php-fpm"))
        else:
            authorize.append(dict(common, latency_of="each authorize, client side (wrk)"))
    peer["authorize_only"] = authorize
    m = PEER_LEDGER.search(read(os.path.join(res, "bench.md"), "") or "")
    if m:
        credited, usage_rows, used, balances, expected, lost = map(int, m.groups())
        peer["ledger"] = {"unit": "cents", "credited": credited, "usage_rows": usage_rows, "usage_sum": used,
                          "balances": balances, "expected_balances": expected, "lost_update_cents": lost,
                          "lost_share_of_usage": round(lost / used, 5) if used else None,
                          "covers": "all its bench accounts after all its runs, warm-ups included"}
    else:
        peer["ledger"] = None
    env = (read(os.path.join(res, "env.txt"), "") or "").splitlines()
    peer["environment"] = [line for line in env if line and not line.startswith("#")]
    return points, peer


def ratio(a, b):
    return round(a / b, 3) if a is not None and b else None


def fmt(v, spec, missing="-"):
    return missing if v is None else format(v, spec)


def vm_value(status_text, key):
    m = re.search(r"^%s:\s+(\d+) kB" % key, status_text or "", re.M)
    return int(m.group(1)) if m else None


def warnings(points):
    """Points whose numbers should not be trusted: failed, or with errors."""
    out = []
    for p in points:
        where = "c=%d %s" % (p["clients"], p["row"])
        if "error" in p:
            out.append("%s: no result (%s)" % (where, p["error"].splitlines()[-1][:100]))
            continue
        done = p.get("requests") or p.get("transactions") or 0
        if p.get("errors"):
            out.append("%s: %d errors in %d %s" % (where, p["errors"], done,
                                                     "transactions" if "transactions" in p else "requests"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    meta = json.loads(read(os.path.join(args.dir, "meta.json")))
    points = load_points(args.dir, meta)
    peer_points, peer = load_peer(args.dir)
    points += peer_points
    at = {(p["row"], p["clients"]): p for p in points}
    clients = meta["clients"]

    def rate(row, c):
        return at.get((row, c), {}).get("rate")

    ratios = [{"clients": c,
               "2/1": ratio(rate("healthz", c), rate("floor", c)),
               "3/5": ratio(rate("spread", c), rate("rawdb", c)),
               "4/5": ratio(rate("hot", c), rate("rawdb", c)),
               "4/5h": ratio(rate("hot", c), rate("rawdb_hot", c)),
               "3/D": ratio(rate("spread", c), rate("dbfloor", c)),
               "4/D": ratio(rate("hot", c), rate("dbfloor", c)),
               "1D/D": ratio(rate("httpfloor", c), rate("dbfloor", c)),
               "3/1D": ratio(rate("spread", c), rate("httpfloor", c)),
               "4/1D": ratio(rate("hot", c), rate("httpfloor", c)),
               "3/P": ratio(rate("spread", c), rate("peer", c)),
               "4/P": ratio(rate("hot", c), rate("peer", c))} for c in clients]

    round_trips, mismatches = [], []
    for c in clients:
        entry = {"clients": c}
        for route in ("authorize", "settle"):
            raw = at.get(("rawdb", c), {}).get("round_trips_per_" + route)
            entry["rawdb_" + route] = raw
            entry["dbfloor_" + route] = at.get(("dbfloor", c), {}).get("round_trips_per_" + route)
            for row in ("spread", "hot"):
                got = at.get((row, c), {}).get("round_trips_per_" + route)
                entry["creditd_%s_%s" % (row, route)] = got
                # Batches of one at one client: the write alone (rows kept)
                # up to the raw driver's statements; under load batches
                # share round trips, never add any.
                low = 1 - ROUND_TRIP_BELOW if c == 1 else 0
                if got is None or raw is None or not low <= got < raw + ROUND_TRIP_ABOVE:
                    mismatches.append("c=%d %s %s: creditd %s, rawdb %s" % (c, row, route, fmt(got, ".2f"),
                                                                            fmt(raw, ".2f")))
        round_trips.append(entry)

    status = read(os.path.join(args.dir, "creditd.status"), "")
    verify = (read(os.path.join(args.dir, "verify.out"), "") or "").strip()
    m = re.search(r"(\d+) violations", verify)
    started = datetime.datetime.fromtimestamp(meta["started_epoch"], datetime.timezone.utc)
    result = {
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "elapsed_s": meta["finished_epoch"] - meta["started_epoch"],
        "settings": {k: meta[k] for k in ("duration_s", "warmup_s", "clients", "accounts", "model",
                                          "input_tokens", "max_output_tokens", "output_tokens", "hold_micros",
                                          "cost_micros", "hot_grant_micros", "creditd_threads", "rawdb_sql", "rawdb_batch",
                                          "cores", "load_before")},
        # The peer's own load (see bench/README.md): not the same as creditd's.
        "peer_settings": {"warmup_s": meta.get("peer_warmup_s"), "duration_s": meta["duration_s"],
                          "clients": clients, "accounts": 1000, "funding_cents_each": 1000000,
                          "model": "gpt-4o", "tokens": "input 1-2000, output 1-4000, random per settle",
                          "wrk_threads": "1 at c=1, else 2"},
        "points": points,
        "ratios": ratios,
        "round_trips": {"per_clients": round_trips, "allowed": [-ROUND_TRIP_BELOW, ROUND_TRIP_ABOVE],
                        "match": not mismatches, "mismatches": mismatches},
        "creditd": {"peak_rss_kib": vm_value(status, "VmHWM"), "rss_kib_at_end": vm_value(status, "VmRSS"),
                    "threads": meta["creditd_threads"]},
        "floor_responder": {"peak_rss_kib": vm_value(read(os.path.join(args.dir, "floor_responder.status"), ""),
                                                     "VmHWM")},
        "ledger_verify": {"violations": int(m.group(1)) if m else None, "output": verify[-2000:]},
        "peer": peer,
        "warnings": warnings(points) + (["peer: %s (%s)" % (peer["status"], peer["note"])]
                                        if peer["status"] == "failed" else []),
        "creditd_log_errors": (read(os.path.join(args.dir, "creditd-errors.txt"), "") or "").splitlines(),
    }
    result["targets"] = targets(ratios)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
        f.write("\n")
    print_table(result, at, clients)
    return 0


# The guard's target (issue 64): at one client, creditd's pairs at 0.8x
# or more of the database floor's, spread and hot rows each (README,
# "The guard at one client against the database floor" traces why it is
# not met on these disks).
GUARD_FLOOR_TARGET = 0.8


def targets(ratios):
    """Each target PASS (True), FAIL (False) or n/a (None), with its figures."""
    out = []
    one = next((r for r in ratios if r["clients"] == 1), None)
    for key, row in (("3/D", "spread"), ("4/D", "hot")):
        v = one[key] if one is not None else None
        out.append({"target": "guard_floor_c1_" + row,
                    "what": "creditd's %s pairs at 1 client >= %.1fx the database floor's (%s)"
                            % (row, GUARD_FLOOR_TARGET, key),
                    "pass": None if v is None else v >= GUARD_FLOOR_TARGET, "value": v})
    return out


def print_table(result, at, clients):
    s = result["settings"]
    out = sys.stdout
    out.write("\ncreditd bench, %s: %d s per point after a %d s warm-up, %d cores shared with the load "
              "generator (load before: %s)\n" % (result["started_at"], s["duration_s"], s["warmup_s"], s["cores"],
                                                 s["load_before"]))
    out.write("load: %s, %d input tokens, hold for %d output tokens (%d micros), settle %d (%d micros)\n"
              % (s["model"], s["input_tokens"], s["max_output_tokens"], s["hold_micros"], s["output_tokens"],
                 s["cost_micros"]))
    raw_sql = {
        "statements": "statements (one round trip per statement, then COMMIT)",
        "scripts": "scripts (a text of locking reads, then one of multi-row writes ending in COMMIT), "
                   "%d operation(s) per transaction" % s.get("rawdb_batch", 1),
        "batch": "batch (CALL cd_batch_read, then CALL cd_batch_write that commits: creditd's two CALLs), "
                 "%d operation(s) per transaction" % s.get("rawdb_batch", 1),
    }
    out.write("raw DB rows run creditd's SQL as %s\n" % raw_sql.get(s["rawdb_sql"], s["rawdb_sql"]))
    out.write("database floor (D): the same rows written by one CALL per transaction of a procedure that "
              "commits (bench/floor.sql), 1 round trip\n\n")
    head = "%-3s %-38s %4s %16s %8s %8s %7s %9s %9s\n"
    out.write(head % ("#", "row", "c", "rate", "p50 ms", "p99 ms", "errors", "cpu us/req", "db us/pair"))
    for c in clients:
        for row, num, label in ROWS:
            p = at.get((row, c))
            name = label.format(accounts="{:,}".format(s["accounts"]))
            if p is None:
                continue
            if "error" in p:
                out.write("%-3s %-38s %4d  failed: %s\n" % (num, name, c, p["error"].splitlines()[-1][:60]))
                continue
            out.write(head % (num, name, c, "%s %s" % (fmt(p["rate"], ",.0f"), p["unit"]), fmt(p["p50_ms"], ".2f"),
                              fmt(p["p99_ms"], ".2f"), p["errors"], fmt(p.get("server_cpu_us_per_request"), ".0f"),
                              fmt(p.get("db_cpu_us_per_pair"), ".0f")))
        out.write("\n")
    cols = "".join("%9s" % ("c=%d" % c) for c in clients)
    out.write("%-44s%s\n" % ("ratio", cols))
    keys = [("2/1", "healthz / floor"), ("3/5", "spread pairs / raw DB spread"),
            ("4/5", "hot pairs / raw DB spread"), ("4/5h", "hot pairs / raw DB hot"),
            ("3/D", "creditd spread pairs / database floor"), ("4/D", "creditd hot pairs / database floor"),
            ("1D/D", "HTTP + DB floor / database floor"), ("3/1D", "creditd spread pairs / HTTP + DB floor"),
            ("4/1D", "creditd hot pairs / HTTP + DB floor")]
    if result["peer"]["status"] == "ok":
        keys += [("3/P", "creditd spread pairs / peer pairs"), ("4/P", "creditd hot pairs / peer pairs")]
    for key, label in keys:
        out.write("%-5s %-38s%s\n" % (key, label, "".join("%9s" % fmt(r[key], ".2f") for r in result["ratios"])))
    out.write("\n%-44s%s\n" % ("DB round trips per request", cols))
    rt = result["round_trips"]
    for route in ("authorize", "settle"):
        for who, label in (("creditd_spread_", "creditd, spread (/metrics)"), ("creditd_hot_", "creditd, hot"),
                           ("rawdb_", "raw DB driver"), ("dbfloor_", "database floor (one CALL)")):
            out.write("%-9s %-34s%s\n" % (route, label, "".join("%9s" % fmt(e[who + route], ".2f")
                                                                 for e in rt["per_clients"])))
    out.write("%-9s %-34s%s\n" % ("healthz", "creditd (mysql_ping)", "".join(
        "%9s" % fmt(at.get(("healthz", c), {}).get("round_trips_per_request"), ".2f") for c in clients)))
    out.write("%-44s%s\n" % ("guard writes per batch (mean)", cols))
    for row in ("spread", "hot"):
        out.write("%-9s %-34s%s\n" % (row, "creditd (/metrics histogram)", "".join(
            "%9s" % fmt(at.get((row, c), {}).get("batch_mean"), ".1f") for c in clients)))
    out.write("round-trip check: %s\n" % ("creditd runs at most the raw driver's statements at c=1 (the write "
                                          "alone on rows kept) and shares them under load (key lookups add < %.1f)"
                                          % ROUND_TRIP_ABOVE if rt["match"]
                                          else "MISMATCH: " + "; ".join(rt["mismatches"])))
    cd = result["creditd"]
    v = result["ledger_verify"]["violations"]
    out.write("creditd: peak RSS (VmHWM) %s MiB with %d threads; floor responder %s MiB\n"
              % (fmt(cd["peak_rss_kib"] / 1024 if cd["peak_rss_kib"] else None, ".1f"), cd["threads"],
                 fmt((result["floor_responder"]["peak_rss_kib"] or 0) / 1024, ".1f")))
    out.write("ledger after the run (creditctl verify): %s\n" % ("%d violations" % v if v is not None
                                                                  else "not checked"))
    out.write("targets (each from this run):\n")
    for t in result["targets"]:
        out.write("  [%s] %s -- %s\n" % ({True: "PASS", False: "FAIL", None: "n/a "}[t["pass"]], t["what"],
                                        "not measured (no 1-client rows)" if t["value"] is None
                                        else "%.2f" % t["value"]))
    one = next((r for r in result["ratios"] if r["clients"] == 1), None)
    if one is not None and one.get("1D/D") is not None:
        out.write("  the HTTP floor at 1 client (1D/D): %.2f -- what a responder doing nothing but the floor's CALL "
                  "gets of it behind the same nginx; creditd gets %s (3/1D) and %s (4/1D) of that\n"
                  % (one["1D/D"], fmt(one["3/1D"], ".2f"), fmt(one["4/1D"], ".2f")))
    print_peer(result["peer"], out)
    for w in result["warnings"]:
        out.write("WARNING: %s\n" % w)
    if result["warnings"] and result["creditd_log_errors"]:
        out.write("creditd's last logged problems:\n")
        for line in result["creditd_log_errors"][-5:]:
            out.write("  %s\n" % line[:160])
    out.write("whole run: %d s\n" % result["elapsed_s"])


def print_peer(peer, out):
    if peer["status"] != "ok":
        out.write("%s (row P): %s%s\n" % (PEER_NAME, peer["status"], ": " + peer["note"] if peer["note"] else ""))
        return
    led = peer.get("ledger")
    if led:
        out.write("%s: lost updates %s cents of %s charged in %s settles (%s), its ledger after its runs\n"
                  % (PEER_NAME, "{:,}".format(led["lost_update_cents"]), "{:,}".format(led["usage_sum"]),
                     "{:,}".format(led["usage_rows"]), fmt(100 * led["lost_share_of_usage"]
                                                          if led["lost_share_of_usage"] is not None else None,
                                                          ".2f", "-") + " %"))
    else:
        out.write("%s: lost updates not found in its output\n" % PEER_NAME)
    env = dict((k.strip(), v.strip()) for k, _, v in (e.partition(":") for e in peer.get("environment", [])))
    children = re.search(r"children=(\d+)", env.get("php-fpm", ""))
    out.write("  (its own stack and load, after creditd's rows: 1,000 accounts, random tokens per call, 1-2 wrk "
              "threads; MariaDB %s, %s, %s FPM children)\n"
              % (env.get("mariadb", "?").split("-")[0], env.get("isolation", "?"),
                 children.group(1) if children else "?"))
    if peer["left_running_after_its_run"]:
        out.write("WARNING: the peer left %d processes running; the bench stopped them\n"
                  % len(peer["left_running_after_its_run"]))


if __name__ == "__main__":
    sys.exit(main())
