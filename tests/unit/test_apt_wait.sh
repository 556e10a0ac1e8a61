#!/bin/bash
# test_apt_wait.sh: ./dev's apt-get waits for apt's locks (a fresh image's
# unattended-upgrades holds them at boot) instead of dying at once: every
# apt-get of ./dev goes through apt_get, which waits for dpkg's lock
# (DPkg::Lock::Timeout) and for the package lists' (apt-get update, tried
# again). Here on lists of its own (Dir::State::Lists), no network (no
# sources), never the system's locks.
top=$(cd "${top_srcdir:-.}" && pwd)
d=$(mktemp -d)
holder=
trap '[ -n "$holder" ] && kill "$holder" 2>/dev/null; rm -rf "$d"' EXIT
n=0
fail=0
check() {
	n=$((n + 1))
	if [ -z "$2" ]; then echo "ok $n - $1"; else echo "not ok $n - $1: $2"; fail=1; fi
}
if ! command -v apt-get >/dev/null; then
	echo "1..0 # SKIP no apt-get"
	exit 77
fi
# shellcheck source=../../dev
. "$top/dev"	# sourced: defines the functions only (and its shell options)
set +euo pipefail
bare=$(grep -nE '(^|[^_])apt-get ' "$top/dev" | grep -vE '^[0-9]+:\s*#|die "|say "|apt-get -o DPkg::Lock::Timeout')
check "every apt-get of ./dev goes through apt_get" "$bare"
mkdir -p "$d/lists/partial" "$d/sources.d"
: >"$d/sources.list"
own=(-o Dir::State::Lists="$d/lists" -o Dir::Etc::sourcelist="$d/sources.list" -o Dir::Etc::sourceparts="$d/sources.d")
# The lists' lock held for 3 s by another process, as apt holds it (fcntl).
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.lockf(fd, fcntl.LOCK_EX)
open(sys.argv[2], "w").close()
time.sleep(3)' "$d/lists/lock" "$d/held" &
holder=$!
for _ in $(seq 50); do [ -e "$d/held" ] && break; sleep 0.1; done
start=$(date +%s)
out=$(apt_get "${own[@]}" update -qq 2>&1)
rc=$?
took=$(($(date +%s) - start))
check "apt-get update waits for a held lock, then runs" "$([ $rc = 0 ] || echo "exit $rc: $out")"
check "it waited for the lock's holder" "$([ $took -ge 2 ] || echo "took ${took}s")"
check "and said so" "$(echo "$out" | grep -q 'waiting up to' || echo "$out")"
wait "$holder"
holder=
# Another error is not waited on.
start=$(date +%s)
out=$(apt_get "${own[@]}" install -y --no-such-option 2>&1)
rc=$?
check "another failure fails at once" "$([ $rc != 0 ] && [ $(($(date +%s) - start)) -lt 5 ] || echo "exit $rc: $out")"
echo "1..$n"
exit $fail
