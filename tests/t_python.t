#!/bin/sh
# t_python.t - the Python binding's pytest suite (python/tests: segments, rings, buses, tables,
# locks, C <-> Python interoperability, kill -9 mid-operation, misuse, leaks) with Debian's
# python3 on the extension built into $SHMKIT_BUILD/python/lib (make python; the plain
# test-build makes it). One TAP line per pytest test, pytest's summary as a comment. Builds
# nothing; the sanitizer builds skip it (the extension is tested in the plain build).
build=${SHMKIT_BUILD:-build}
top=$(dirname "$(readlink -f "$0")")/..
py=${SHMKIT_PYTHON:-/usr/bin/python3}
case $build in
    */asan | asan) echo "1..0 # SKIP the Python extension is tested in the plain build"; exit 77 ;;
esac
[ -x "$py" ] || { echo "1..0 # SKIP $py missing"; exit 77; }
lib=$(cd "$build" 2>/dev/null && pwd -P)/python/lib
ls "$lib"/shmkit/_shmkit*.so >/dev/null 2>&1 || { echo "1..0 # SKIP the extension is not built (make python)"; exit 77; }
"$py" -c 'import pytest' 2>/dev/null || { echo "1..0 # SKIP python3-pytest missing"; exit 77; }
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
cd "$top" || exit 1
SHMKIT_BUILD=$(cd "$build" && pwd -P) PYTHONPATH="$lib" PYTHONDONTWRITEBYTECODE=1 \
    "$py" -m pytest -v -p no:cacheprovider -o console_output_style=classic python/tests >"$out" 2>&1
rc=$?
# "python/tests/test_x.py::test_y[param] PASSED" -> one TAP line each
awk '
/^python\/tests\/.*::.* (PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)/ {
    n++; name = $1; st = $2
    if (st == "PASSED" || st == "XFAIL") print "ok " n " - " name
    else if (st == "SKIPPED") print "ok " n " - " name " # SKIP"
    else print "not ok " n " - " name
}
END { print "1.." n }' "$out"
[ $rc -eq 0 ] || sed 's/^/# /' "$out"
grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$out" | tail -1 | sed 's/^/# pytest: /'
exit $rc
