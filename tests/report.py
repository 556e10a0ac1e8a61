#!/usr/bin/python3
"""report.py: what ./dev check prints about its tests' times and, with
--repeat, about the tests that failed in some runs.

Each run writes one file of lines "seconds<TAB>name<TAB>ok|fail" (the
integration, chaos and Galera runners' --times, and one line for the unit
tests), and ./dev one line named "#run": the run's own time from the unit
tests to the last Galera test; lines named "#phase NAME", each part's own
time (the unit tests, the integration files, the scenarios, Galera); and
"#busy", the percent of the machine's CPU time busy during the run;
and the lanes' "#cpu FILE", the CPU seconds of an integration file's own
processes (a build, a browser), not of the stack's servers. The integration files run side by side
(tests/integration/lanes.py), so the run's time, not the tests' time summed,
is what a run takes. Given one file, report.py prints the slowest tests and the total;
given several (one a run of ./dev check --repeat N), it also prints, for
each test that failed at least once, in how many runs it failed.

    report.py [--slowest N] RUN1.tsv [RUN2.tsv ...]
"""
import argparse
import sys


def read_run(path):
    """A run's lines as (seconds, name, ok) in the order they ran (its
    "#run" line apart: run_time)."""
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 3 or parts[1].startswith("#"):
                continue
            rows.append((float(parts[0]), parts[1], parts[2] == "ok"))
    return rows


def marks(path):
    """The run's lines named "#..." (its own time, its parts, the CPU), as
    [(name, seconds)] in their order."""
    out = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 3 and parts[1].startswith("#"):
                out.append((parts[1], float(parts[0])))
    return out


def run_time(path):
    """The seconds of the run's "#run" line, None without one."""
    return next((sec for name, sec in marks(path) if name == "#run"), None)


def run_parts(path):
    """[(name, seconds)] of the run's "#phase NAME" lines in their order,
    and its "#busy" percent (None without one)."""
    m = marks(path)
    return ([(name[len("#phase "):], sec) for name, sec in m if name.startswith("#phase ")],
            next((sec for name, sec in m if name == "#busy"), None))


def file_cpu(path, count):
    """The count integration files of most CPU ("#cpu FILE" lines: the
    seconds of the file's own processes and theirs), and their sum."""
    cpu = sorted(((sec, name[len("#cpu "):]) for name, sec in marks(path) if name.startswith("#cpu ")), reverse=True)
    return cpu[:count], sum(c for c, _n in cpu)


def slowest(runs, count):
    """The count slowest tests (by their slowest run) and each run's total."""
    worst = {}
    for rows in runs:
        for sec, name, _ok in rows:
            worst[name] = max(sec, worst.get(name, 0.0))
    top = sorted(worst.items(), key=lambda kv: -kv[1])[:count]
    label = "slowest tests" if len(runs) == 1 else "slowest tests (their slowest of %d runs)" % len(runs)
    print("%s:" % label)
    for name, sec in top:
        print("  %7.1f s  %s" % (sec, name))
    totals = [sum(sec for sec, _n, _ok in rows) for rows in runs]
    counts = [len(rows) for rows in runs]
    if len(runs) == 1:
        print("tests' time: %.0f s over %d tests" % (totals[0], counts[0]))
    else:
        print("tests' time per run: %s s" % ", ".join("%.0f" % t for t in totals))


def failures(runs):
    """For each test that failed in some run: in how many of the runs."""
    failed = {}
    seen = {}
    for rows in runs:
        for _sec, name, ok in rows:
            seen[name] = seen.get(name, 0) + 1
            if not ok:
                failed[name] = failed.get(name, 0) + 1
    n = len(runs)
    print("runs: %d; tests: %d; failed in some run: %d" % (n, len(seen), len(failed)))
    for name in sorted(failed, key=lambda k: (-failed[k], k)):
        print("  failed %d of %d runs: %s" % (failed[name], seen[name], name))
    missing = sorted(k for k, v in seen.items() if v != n)
    for name in missing:
        print("  ran in %d of %d runs: %s" % (seen[name], n, name))
    return len(failed)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--slowest", type=int, default=10)
    ap.add_argument("runs", nargs="+")
    args = ap.parse_args()
    runs = [read_run(p) for p in args.runs]
    slowest(runs, args.slowest)
    walls = [run_time(p) for p in args.runs]
    if all(w is not None for w in walls):
        print("the run's time: %s s" % ", ".join("%.0f" % w for w in walls))
    for i, p in enumerate(args.runs):
        parts, cpu = run_parts(p)
        if parts or cpu is not None:
            text = ", ".join("%s %.0f s" % kv for kv in parts)
            if cpu is not None:
                text += ("; " if text else "") + "CPU busy %.0f %%" % cpu
            print("%s: %s" % ("the run's parts" if len(args.runs) == 1 else "run %d's parts" % (i + 1), text))
    if len(args.runs) == 1:
        top, total = file_cpu(args.runs[0], args.slowest)
        if top:
            print("the integration files' own CPU (theirs and their children's, not the stack's): %.0f s; most:" % total)
            for sec, name in top:
                print("  %7.1f s  %s" % (sec, name))
    if len(runs) > 1:
        failures(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
