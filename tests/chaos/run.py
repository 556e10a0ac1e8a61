#!/usr/bin/python3
"""run.py: the reliability suite (./dev chaos), against a stack started by ./dev.

Each tests/chaos/chaos_*.py module lists its scenarios in SCENARIOS: functions
taking one argument, `short` (True inside ./dev check: the same checks on a
smaller scale), and returning a dict of the figures they measured. A
scenario passes when it returns and fails on any exception; each prints one
PASS/FAIL line with its figures. Scenarios run one after the other (some
kill servers of the stack), each bounded in time. The last line printed is
"N passed, N failed".

--soak MIN runs only the long soak (chaos_soak.long_soak) for MIN minutes.
"""
import argparse
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import lib  # noqa: E402


def _figures(fig):
    parts = []
    for k, v in (fig or {}).items():
        parts.append("%s=%s" % (k, ("%.3g" % v) if isinstance(v, float) else v))
    return " ".join(parts)


def _load(name):
    spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(HERE, name))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def long_soak(minutes, summary):
    """./dev chaos --soak MIN: the series, the verdict, exit 1 when RSS or fds grew past the bound."""
    if not 1 <= minutes <= 240:
        print("--soak MIN: 1 to 240 minutes", file=sys.stderr)
        return 2
    t0 = time.time()
    ok = True
    try:
        fig = _load("chaos_soak.py").long_soak(minutes)
        print("PASS chaos_soak.long_soak (%.1fs) %s" % (time.time() - t0, _figures(fig)), flush=True)
    except Exception as e:  # noqa: BLE001 - every failure is reported
        ok = False
        print("FAIL chaos_soak.long_soak (%.1fs): %s" % (time.time() - t0, e), flush=True)
        if not isinstance(e, lib.Fail):
            traceback.print_exc()
    if summary:
        with open(summary, "w") as f:
            f.write("%d %d\n" % (int(ok), int(not ok)))
    print("chaos: %d passed, %d failed" % (int(ok), int(not ok)))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--summary")
    ap.add_argument("--short", action="store_true", help="the smaller version run by ./dev check")
    ap.add_argument("-k", dest="pattern", default="")
    ap.add_argument("--times", help="append a line a scenario to this file: seconds, name, ok or fail")
    ap.add_argument("--soak", type=float, metavar="MIN", help="only the long soak, for MIN minutes")
    args = ap.parse_args()
    lib.load_env(args.env)
    if args.soak is not None:
        return long_soak(args.soak, args.summary)
    passed = failed = 0
    times = open(args.times, "a") if args.times else None
    names = sorted(f for f in os.listdir(HERE) if f.startswith("chaos_") and f.endswith(".py"))
    for name in names:
        mod = _load(name)
        for fn in mod.SCENARIOS:
            full = "%s.%s" % (name[:-3], fn.__name__)
            if args.pattern and args.pattern not in full:
                continue
            t0 = time.time()
            ok = False
            try:
                fig = fn(args.short)
                ok = True
                passed += 1
                print("PASS %s (%.1fs) %s" % (full, time.time() - t0, _figures(fig)), flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failed += 1
                print("FAIL %s (%.1fs): %s" % (full, time.time() - t0, e), flush=True)
                if not isinstance(e, lib.Fail):
                    traceback.print_exc()
            if times:
                times.write("%.2f\t%s\t%s\n" % (time.time() - t0, full, "ok" if ok else "fail"))
                times.flush()
    if args.summary:
        with open(args.summary, "w") as f:
            f.write("%d %d\n" % (passed, failed))
    if passed + failed == 0:
        print("no scenario matched", file=sys.stderr)
        failed = 1
    print("chaos: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
