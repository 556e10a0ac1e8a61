#!/bin/sh
# test_report.sh: tests/report.py, what ./dev check prints of its tests'
# times (the slowest first) and, with --repeat, of the tests that failed in
# some runs (with how many), read from the runners' --times files.
top="${top_srcdir:-.}"
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
printf '1.50\ta.fast\tok\n100.25\tb.slow\tok\n6.00\tc.mid\tfail\n' >"$d/run01.tsv"
printf '1.00\ta.fast\tok\n7.00\tb.slow\tok\n6.50\tc.mid\tfail\n' >"$d/run02.tsv"
printf '1.00\ta.fast\tfail\n7.00\tb.slow\tok\n' >"$d/run03.tsv"
one=$(python3 "$top/tests/report.py" --slowest 2 "$d/run01.tsv")
check "one run: the slowest first" "$(printf '%s\n' "$one" | sed -n '2p' | grep -v 'b.slow')"
check "one run: as many as asked" "$(printf '%s\n' "$one" | grep -c ' s  [a-c]\.' | grep -v '^2$')"
check "one run: the tests' time and count" "$(printf '%s\n' "$one" | grep -c "tests' time: 108 s over 3 tests" | grep -v '^1$')"
check "one run: no failure section" "$(printf '%s\n' "$one" | grep 'failed in some run')"
printf '512.40\t#run\tok\n' >>"$d/run01.tsv"
one=$(python3 "$top/tests/report.py" --slowest 2 "$d/run01.tsv")
check "one run: its own time apart from the tests" "$(printf '%s\n' "$one" | grep -c "tests' time: 108 s over 3 tests" | grep -v '^1$')"
check "one run: its own time printed" "$(printf '%s\n' "$one" | grep -c "^the run's time: 512 s$" | grep -v '^1$')"
printf '95.10\t#phase unit\tok\n400.70\t#phase integration\tok\n87.60\t#busy\tok\n' >>"$d/run01.tsv"
one=$(python3 "$top/tests/report.py" --slowest 2 "$d/run01.tsv")
check "one run: its parts and the CPU busy" "$(printf '%s\n' "$one" | grep -c "^the run's parts: unit 95 s, integration 401 s; CPU busy 88 %$" | grep -v '^1$')"
check "one run: a part is no test" "$(printf '%s\n' "$one" | grep -c "tests' time: 108 s over 3 tests" | grep -v '^1$')"
printf '30.00\t#cpu test_a\tok\n70.00\t#cpu test_b\tok\n' >>"$d/run01.tsv"
one=$(python3 "$top/tests/report.py" --slowest 1 "$d/run01.tsv")
check "one run: the files' CPU, the most first" "$(printf '%s\n' "$one" | grep -A1 "own CPU .*: 100 s; most:" | tail -n 1 | grep -v '^ *70.0 s  test_b$')"
check "runs: a run's time only when every run has one" "$(python3 "$top/tests/report.py" "$d/run01.tsv" "$d/run02.tsv" | grep "run's time")"
rep=$(python3 "$top/tests/report.py" "$d/run01.tsv" "$d/run02.tsv" "$d/run03.tsv")
check "runs: the slowest of each test's runs" "$(printf '%s\n' "$rep" | sed -n '2p' | grep -v '100.2 s  b.slow')"
check "runs: failed in some run counted" "$(printf '%s\n' "$rep" | grep -c 'failed in some run: 2' | grep -v '^1$')"
check "runs: c.mid failed 2 of 2 runs" "$(printf '%s\n' "$rep" | grep -c 'failed 2 of 2 runs: c.mid' | grep -v '^1$')"
check "runs: a.fast failed 1 of 3 runs" "$(printf '%s\n' "$rep" | grep -c 'failed 1 of 3 runs: a.fast' | grep -v '^1$')"
check "runs: a test missing from a run is named" "$(printf '%s\n' "$rep" | grep -c 'ran in 2 of 3 runs: c.mid' | grep -v '^1$')"
check "runs: a passing test is not named" "$(printf '%s\n' "$rep" | grep 'runs: b.slow')"
echo "1..$n"
exit $fail
