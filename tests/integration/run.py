#!/usr/bin/python3
"""run.py: runs the integration tests against stacks started by ./dev.

Each tests/integration/test_*.py module holds functions test_*(); they run
in their file's order, one after the other. A test passes when it returns,
fails on any exception. A module's teardown_module(), when it has one, runs
after its tests that ran (a module that restarted creditd with a config of
its own starts it again as the stack has it); its failure counts as a
failed test. The last line printed is "N passed, N failed".

Given one --env, the files run in name order on that stack. Given several
(./dev check starts one stack a lane), the files run side by side, one at a
time on each stack, as lanes.py schedules them (see there: which files run
one after another whatever the lanes, and which runs last).
"""
import argparse
import importlib.util
import os
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def test_files(where):
    return sorted(f for f in os.listdir(where) if f.startswith("test_") and f.endswith(".py"))


def selected(name, tests, pattern):
    return [t for t in tests if not pattern or any(p in "%s.%s" % (name[:-3], t[0]) for p in pattern.split(","))]


def run_files(names, args):
    """Runs the tests of the files names (in args.dir) on the stack of
    args.env[0]: (passed, failed)."""
    import lib  # noqa: E402 - its ENV is the stack's, loaded first
    lib.load_env(args.env[0])
    sys.path.insert(0, args.dir)   # a test may import another of its folder
    passed = failed = 0
    times = open(args.times, "a") if args.times else None
    for name in names:
        spec = importlib.util.spec_from_file_location(name[:-3], os.path.join(args.dir, name))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        tests = [(n, getattr(mod, n)) for n in vars(mod) if n.startswith("test_") and callable(getattr(mod, n))]
        tests.sort(key=lambda t: t[1].__code__.co_firstlineno)
        ran = selected(name, tests, args.pattern)
        if ran and callable(getattr(mod, "teardown_module", None)):
            ran.append(("teardown_module", mod.teardown_module))
        for tname, fn in ran:
            full = "%s.%s" % (name[:-3], tname)
            t0 = time.time()
            ok = False
            try:
                fn()
                ok = True
                passed += 1
                print("ok %d - %s (%.1fs)" % (passed + failed, full, time.time() - t0), flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported
                failed += 1
                print("not ok %d - %s (%.1fs): %s" % (passed + failed, full, time.time() - t0, e), flush=True)
                if not isinstance(e, lib.Fail):
                    traceback.print_exc()
                    sys.stdout.flush()
            if times:
                # One write a line, the file opened to append: lanes
                # writing the same file side by side keep their lines whole.
                times.write("%.2f\t%s\t%s\n" % (time.time() - t0, full, "ok" if ok else "fail"))
                times.flush()
    return passed, failed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True, action="append",
                    help="a stack's env file; given again, one lane a stack (lanes.py)")
    ap.add_argument("--summary")
    ap.add_argument("-k", dest="pattern", default="", help="run the tests whose name has this text (a,b: either)")
    ap.add_argument("--dir", default=HERE, help="where the test_*.py are (tests/galera: the Galera stack's)")
    ap.add_argument("--times", help="append a line a test to this file: seconds, name, ok or fail (tests/report.py)")
    ap.add_argument("--file", action="append", help="run only this file (a lane's one; lanes.py)")
    args = ap.parse_args()
    names = args.file or test_files(args.dir)
    if len(args.env) > 1:
        import lanes
        passed, failed = lanes.run(names, args, os.path.abspath(__file__))
    else:
        passed, failed = run_files(names, args)
    if args.summary:
        with open(args.summary, "w") as f:
            f.write("%d %d\n" % (passed, failed))
    if passed + failed == 0 and not args.file:
        print("no test matched", file=sys.stderr)
        failed = 1
    print("integration tests: %d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
