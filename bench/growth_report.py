#!/usr/bin/env python3
"""growth_report.py: the table of `./dev bench --growth` (bench/growth.sh)
from its temp dir: each row on the small ledger and on the big one, their
ratio against the target (0.8: the big ledger keeps at least 0.8x the small
one's throughput, and its p50 at most 1/0.8 = 1.25x; each row is measured
three times on each ledger, the ledgers in turns, and the best pass
counts), creditctl verify's
time (target: under 600 s on the big ledger), the purge's effect on a guard
call's p99, the sizes and what they mean per million calls. Writes the
figures as JSON too."""
import argparse
import json
import os
import re
import sys

TARGET = 0.8
VERIFY_LIMIT_S = 600
ROWS = [
    ("pairs_spread", "pairs/s, c=16, spread over the ledger", "pairs"),
    ("pairs_heavy", "pairs/s, c=16, on the heavy account", "pairs"),
    ("page_first", "transactions, first page (50 rows)", "requests"),
    ("page_deep", "transactions, page at a deep cursor", "requests"),
    ("report_day", "usage report, 31 days by day", "requests"),
    ("report_model", "usage report, 31 days by model", "requests"),
]


def bench_json(path):
    """The BENCH_JSON line wrk's script printed, or None."""
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("BENCH_JSON "):
                    return json.loads(line[len("BENCH_JSON "):])
    except OSError:
        return None
    return None


def one_point(d, phase, row, unit):
    j = bench_json(os.path.join(d, "points", f"{phase}-{row}.out"))
    if j is None or j["duration_us"] <= 0:
        return None
    count = j["pairs"] if unit == "pairs" else j["requests"] - j["errors"]
    return {"per_s": count / (j["duration_us"] / 1e6), "p50_us": j["p50_us"], "p99_us": j["p99_us"],
            "errors": j["errors"], "count": count}


def point(d, phase, row, unit):
    """The best of a row's passes on one ledger (the highest throughput),
    with every pass's throughput beside it; errors of any count."""
    runs = [p for p in (one_point(d, phase + sfx, row, unit) for sfx in ("", ".2", ".3")) if p]
    if not runs:
        return None
    best = dict(max(runs, key=lambda p: p["per_s"]))
    best["passes_per_s"] = [p["per_s"] for p in runs]
    best["errors"] = sum(p["errors"] for p in runs)
    return best


def read(d, name, default=""):
    try:
        with open(os.path.join(d, name), encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return default


def sizes(d, phase):
    parts = read(d, f"{phase}-size").split()
    if len(parts) != 5:
        return None
    accounts, journal, usage, holds, data = (int(p) for p in parts)
    return {"accounts": accounts, "journal": journal, "usage": usage, "holds": holds, "data_bytes": data,
            "disk_bytes": int(read(d, f"{phase}-du", "0") or 0)}


def verify(d, phase):
    last = read(d, f"{phase}-verify.out").splitlines()
    m = re.match(r"(\d+) violations, (\d+) warnings", last[-1] if last else "")
    return {"seconds": float(read(d, f"{phase}-verify.seconds", "nan")),
            "violations": int(m.group(1)) if m else None, "warnings": int(m.group(2)) if m else None,
            "progress_lines": len(read(d, f"{phase}-verify.err").splitlines())}


def fmt(v, unit=""):
    if v is None:
        return "-"
    return f"{v:,.0f}{unit}" if v >= 100 else f"{v:,.1f}{unit}"


def table(d):
    res = {"rows": {}, "meta": json.loads(read(d, "meta.json", "{}"))}
    lines = [f"{'row':<44} {'small':>9} {'big':>9} {'ratio':>6}  {'p50 small':>9} {'p50 big':>9}  verdict"]
    failed = 0
    for row, what, unit in ROWS:
        s, b = point(d, "small", row, unit), point(d, "big", row, unit)
        ratio = b["per_s"] / s["per_s"] if s and b and s["per_s"] > 0 else None
        p50 = s["p50_us"] / b["p50_us"] if s and b and b["p50_us"] > 0 else None
        ok = ratio is not None and ratio >= TARGET and p50 is not None and p50 >= TARGET
        ok = ok and b["errors"] == 0 and s["errors"] == 0
        failed += not ok
        res["rows"][row] = {"small": s, "big": b, "ratio": ratio, "p50_ratio": p50, "met": ok}
        lines.append(f"{what:<44} {fmt(s and s['per_s']):>9} {fmt(b and b['per_s']):>9} "
                     f"{'-' if ratio is None else f'{ratio:.2f}':>6}  {fmt(s and s['p50_us'] / 1000, ' ms'):>9} "
                     f"{fmt(b and b['p50_us'] / 1000, ' ms'):>9}  {'met' if ok else 'NOT MET'}")
    for phase in ("small", "big"):
        v = verify(d, phase)
        res[f"verify_{phase}"] = v
        ok = v["violations"] == 0 and (phase == "small" or v["seconds"] < VERIFY_LIMIT_S)
        failed += not ok
        lines.append(f"creditctl verify, {phase} ledger: {v['seconds']:,.1f} s, {v['violations']} violations, "
                     f"{v['warnings']} warnings, {v['progress_lines']} progress lines  "
                     f"{'met' if ok else 'NOT MET'}{' (under 600 s)' if phase == 'big' else ''}")
    purge = one_point(d, "purge", "pairs_spread", "pairs")
    big = res["rows"]["pairs_spread"]["big"]
    before, after = read(d, "purge-before"), read(d, "purge-after")
    if purge and big and before and after:
        res["purge"] = {"during": purge, "purged_holds": int(after) - int(before)}
        lines.append(f"during a purge of settled holds ({int(after) - int(before):,} purged in the warm-up and run): "
                     f"{purge['per_s']:,.0f} pairs/s, p99 {purge['p99_us'] / 1000:,.1f} ms against "
                     f"{big['p99_us'] / 1000:,.1f} ms without")
    for phase in ("small", "big"):
        res[f"size_{phase}"] = sizes(d, phase)
    s, b = res["size_small"], res["size_big"]
    if s and b:
        calls = b["usage"]
        per_m = b["data_bytes"] / calls * 1e6 if calls > 0 else None
        res["bytes_per_million_calls"] = per_m
        lines.append(f"big ledger: {b['accounts']:,} accounts, {b['journal']:,} journal + {b['usage']:,} usage rows, "
                     f"{b['holds']:,} holds; tables {b['data_bytes'] / 2**30:,.2f} GiB, data directory "
                     f"{b['disk_bytes'] / 2**30:,.2f} GiB; about {per_m / 2**20:,.0f} MiB of tables a million calls")
    load = read(d, "big-load.json")
    if load:
        res["big_load"] = json.loads(load)
        lines.append(f"big load: {res['big_load']['seconds']:,.0f} s for {res['big_load']['calls']:,} calls")
    res["failed"] = failed
    return res, lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    res, lines = table(a.dir)
    print("\n".join(lines))
    print(f"{len(ROWS) + 2 - res['failed']} targets met, {res['failed']} not met")
    with open(a.out, "w", encoding="utf-8") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
