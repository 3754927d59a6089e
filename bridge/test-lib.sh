# test-lib.sh - what the bridge's shell tests (tests/t_bridge*.t) share.
# Source it after setting T (the test's short name). Provides:
#   $BR $TOOL $S     shmkit-bridge, bridge-tool, the shmkit CLI of the build
#   $P               a unique bus name prefix (/shmkit-t-br-PID-T-)
#   port N           a TCP port unique to this run (N = 0..9)
#   bridge NAME ARGS start shmkit-bridge ARGS in the background with
#                    --stats-file $tmp/NAME.st; its pid in $NAME_pid... via bpid NAME
#   stat NAME KEY    a counter of bridge NAME's stats file
#   ok/is/diag/done_testing  TAP output
# Everything the test makes (segments, processes, namespaces) goes on exit.
SHMKIT_BUILD=${SHMKIT_BUILD:-build}
S="$SHMKIT_BUILD/bin/shmkit"
BR="$SHMKIT_BUILD/bin/shmkit-bridge"
TOOL="$SHMKIT_BUILD/bridge/bridge-tool"
P="/shmkit-t-br-$$-$T-"
tmp=$(mktemp -d)
pids=""
netns=""
echo 0 >"$tmp/n"
echo 0 >"$tmp/fails"

if [ ! -x "$BR" ] || [ ! -x "$TOOL" ]; then
    echo "1..0 # SKIP shmkit-bridge not built in $SHMKIT_BUILD (no libzmq3-dev?)"
    rm -rf "$tmp"
    exit 0
fi

port() { echo $((20000 + ($$ * 10 + $1) % 40000)); }

cleanup() {
    for p in $pids; do kill -9 "$p" 2>/dev/null; done
    for p in $pids; do wait "$p" 2>/dev/null; done
    rm -f /dev/shm/shmkit-t-br-$$-* 2>/dev/null
    for n in $netns; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
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
# Ends the test: first a check that no bridge printed a sanitizer report
# (their standard error is in $tmp/NAME.err), then the plan.
done_testing() {
    if grep -l "Sanitizer\|runtime error" "$tmp"/*.err >/dev/null 2>&1; then
        ok 1 "no sanitizer report from any bridge"
        grep -h -A20 "Sanitizer\|runtime error" "$tmp"/*.err | head -60 | sed 's/^/# /'
    else
        ok 0 "no sanitizer report from any bridge"
    fi
    echo "1..$(cat "$tmp/n")"
    [ "$(cat "$tmp/fails")" -eq 0 ]
}

# Waits (up to 10 s) until CMD... succeeds.
wait_for() {
    i=0
    while ! "$@" >/dev/null 2>&1; do
        i=$((i + 1))
        [ $i -gt 500 ] && return 1
        sleep 0.02
    done
}

# bridge NAME [--ns NETNS] ARGS...: starts a bridge writing its counters to
# $tmp/NAME.st every 0.1 s, and its statistics table as ${P}st-NAME (so
# that one a kill -9 leaves goes with the test's other segments); returns
# once the file exists (it runs then).
bridge() {
    name=$1; shift
    pre=""
    if [ "$1" = --ns ]; then pre="ip netns exec $2"; shift 2; fi
    rm -f "$tmp/$name.st"
    $pre "$BR" --stats-file "$tmp/$name.st" --stats-interval 0.1 --stats-name "${P}st-$name" "$@" \
        2>"$tmp/$name.err" &
    eval "${name}_pid=$!"
    pids="$pids $!"
    wait_for test -s "$tmp/$name.st"
}
bpid() { eval "echo \$${1}_pid"; }

# stat NAME KEY: the counter KEY of bridge NAME (its last stats file).
stat() { sed -n "s/^$2=//p" "$tmp/$1.st"; }

# stop NAME: SIGTERM, wait; the exit status in $stop_rc.
stop() {
    p=$(bpid "$1")
    kill -TERM "$p" 2>/dev/null
    wait "$p"
    stop_rc=$?
}

# settle NAME KEY: waits until counter KEY of NAME stops changing (0.5 s).
settle() {
    last=x
    i=0
    while [ $i -lt 100 ]; do
        v=$(stat "$1" "$2")
        [ "$v" = "$last" ] && return 0
        last=$v
        sleep 0.5
        i=$((i + 1))
    done
}

# field LINE KEY: the value of KEY in a "k=v k=v" line.
field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

# wait_stat NAME KEY VALUE: waits (up to 10 s) until counter KEY of bridge
# NAME is VALUE.
stat_is() { [ "$(stat "$1" "$2")" = "$3" ]; }
wait_stat() { wait_for stat_is "$@"; }
