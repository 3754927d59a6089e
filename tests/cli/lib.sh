# lib.sh - what the shell tests of the shmkit CLI (tests/t_cli_*.t) share.
# Source it after setting T (the test's short name). Provides:
#   $S       the CLI under test ($SHMKIT_BUILD/bin/shmkit)
#   $P       a unique POSIX name prefix for this test run (/shmkit-t-cli-PID-T-)
#   key N    a System V key unique to this run (N = 0..15)
#   ok/is/diag/plan/done_testing  TAP output
#   hold ... run `shmkit create ... --hold` in the background, wait until ready
#   norm     normalise pids, times, user names, keys and the prefix (stdin -> stdout)
# Everything the test makes is removed on exit, even on failure.
SHMKIT_BUILD=${SHMKIT_BUILD:-build}
S="$SHMKIT_BUILD/bin/shmkit"
here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
golden="$here/cli"
P="/shmkit-t-cli-$$-$T-"
tmp=$(mktemp -d)
held=""
echo 0 >"$tmp/n"
echo 0 >"$tmp/fails"

key() { printf '0x%08x' $(( 0x5c000000 + (($$ * 16 + $1) & 0xffffff) )); }

cleanup() {
    for p in $held; do kill "$p" 2>/dev/null; done
    for p in $held; do wait "$p" 2>/dev/null; done
    rm -f /dev/shm/shmkit-t-cli-$$-* 2>/dev/null
    for i in $(seq 0 15); do
        k=$(key "$i")
        ipcs -m | awk -v k="$k" '$1 == k {print $2}' | while read -r id; do ipcrm -m "$id"; done
    done
    if [ -n "${private_ids:-}" ]; then for id in $private_ids; do ipcrm -m "$id" 2>/dev/null; done; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

plan() { echo "1..$1"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# The counters live in files so that ok may run in a pipeline's subshell.
ok() { # ok STATUS DESCRIPTION
    n=$(($(cat "$tmp/n") + 1))
    echo "$n" >"$tmp/n"
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        echo $(($(cat "$tmp/fails") + 1)) >"$tmp/fails"
    fi
}
is() { # is GOT WANT DESCRIPTION
    if [ "$1" = "$2" ]; then ok 0 "$3"; else ok 1 "$3"; diag "got:  $1" "want: $2"; fi
}
done_testing() { echo "1..$(cat "$tmp/n")"; [ "$(cat "$tmp/fails")" -eq 0 ]; }

# Waits (up to 5 s) until CMD... succeeds.
wait_for() {
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 250 ] && return 1
        sleep 0.02
    done
}

# hold ARGS...: `shmkit create ARGS --hold` in the background; its pid in $!
# and in $held; returns when it has printed what it made (it is mapped then).
hold() {
    out="$tmp/hold.$#.$(date +%s%N)"
    "$S" create "$@" --hold >"$out" 2>&1 &
    pid=$!
    held="$held $pid"
    wait_for test -s "$out"
    hold_out=$(cat "$out")
    hold_pid=$pid
}

norm() {
    sed -E \
        -e "s#/shmkit-t-cli-[0-9]+-$T-#/T-#g" \
        -e 's/[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[+-][0-9]{4}/TIME/g' \
        -e 's/^(time=)[0-9:]+/\1TIME/' \
        -e 's/(creator_pid|cpid|lpid|pid|creator_uid|uid|gid)(": |: +)[0-9]+/\1\2N/g' \
        -e 's/(creator=|creator="|creator pid )[0-9]+/\1N/g' \
        -e 's/^(producer|consumer|publisher)(: +)[0-9]+/\1\2N/' \
        -e 's/^ +[0-9]+  /  PID  /' \
        -e '/^note: .* could not be inspected/d' \
        -e 's/(owner": "|owner: +)[^ "]+/\1USER/' \
        -e 's/0x5c[0-9a-f]{6}/KEY/g' \
        -e 's/(\bid=|\bid |"id": |^id: +)[0-9]+/\1N/g' \
        -e '/^uninspected:/d' -e 's/"uninspected": [0-9]+, //'
}

# golden NAME: compares stdin (normalised) with tests/cli/NAME.out.
# SHMKIT_GOLDEN_UPDATE=1 rewrites the file instead.
golden() {
    norm >"$tmp/$1.got"
    if [ "${SHMKIT_GOLDEN_UPDATE:-}" = 1 ]; then
        cp "$tmp/$1.got" "$golden/$1.out"
    fi
    if diff -u "$golden/$1.out" "$tmp/$1.got" >"$tmp/$1.diff" 2>&1; then
        ok 0 "golden $1"
    else
        ok 1 "golden $1"
        sed 's/^/# /' "$tmp/$1.diff"
    fi
}

PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
[ -x "$S" ] || { echo "1..0 # SKIP $S not built"; exit 77; }
