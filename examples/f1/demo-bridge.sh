#!/bin/sh
# demo-bridge.sh - `make demo HOST2=1`: the F1 weekend watched from a second "host" through
# shmkit bridge.
#
#   host A: race control with --feed (its own board goes, plain, into a log), and bridge A
#           exporting the feed bus BASE-feed;
#   host B: bridge B importing it, `f1 --mirror` rebuilding the weekend's tables from it, and
#           the board you see, `f1 --attach` on those tables - the board's code unchanged.
#
# As root (ip netns, unshare), host B is a network namespace of its own (a veth pair to
# host A's, which holds bridge A; CURVE keys made for the run) and a mount namespace with its
# own tmpfs on /dev/shm: it shares no segment with host A, the same names are used on both.
# Otherwise (or with --loopback) both hosts share this machine's loopback and /dev/shm, and
# host B's segments get other names (BASE-2, BASE-feed2); stderr says which ran.
# Ctrl-C (or the end of the weekend) stops everything started here and removes every segment,
# key and namespace made here.
#
#   demo-bridge.sh [--build DIR] [--plain] [--name BASE] [--log FILE] [--results2 DIR]
#                  [--loopback] [-- F1 OPTIONS...]
#   --plain        host B's board in plain text (tests); --results2 DIR: host B's mirror
#                  writes the session results there too; F1 OPTIONS go to race control.
set -u
self=$(readlink -f "$0")

# ---------------------------------------------------------------- host B (run by host A)
if [ "${1:-}" = --host-b ]; then
    # DEMO_* come from host A: the build, the endpoint, names, keys, options
    if [ "$DEMO_OWNSHM" = 1 ]; then
        mount -t tmpfs -o size=256m,mode=1777 shmkit-host-b /dev/shm || exit 2
    fi
    bpid="" mpid=""
    trap 'kill -TERM $mpid $bpid 2>/dev/null; wait $mpid $bpid 2>/dev/null' EXIT
    trap 'exit 130' INT TERM
    # shellcheck disable=SC2086 # DEMO_CURVE holds several options
    "$DEMO_BUILD/bin/shmkit-bridge" --connect "$DEMO_EP" --bus "$DEMO_FEED_B" --lossy \
        --slots 1024 --msg-max 4096 --max-subs 16 $DEMO_CURVE \
        --stats-file "$DEMO_TMP/bridge-b.stats" 2>"$DEMO_TMP/bridge-b.err" &
    bpid=$!
    "$DEMO_BUILD/examples/f1" --mirror="${DEMO_FEED_B%%=*}" --name "$DEMO_BASE_B" \
        ${DEMO_RES2:+--results "$DEMO_RES2"} >"$DEMO_TMP/mirror.out" 2>"$DEMO_TMP/mirror.err" &
    mpid=$!
    i=0
    while [ ! -e "/dev/shm$DEMO_BASE_B-events" ]; do # the mirror makes its tables
        i=$((i + 1))
        if [ $i -gt 300 ] || ! kill -0 "$mpid" 2>/dev/null; then
            echo "demo-bridge: host B: no weekend came through the bridges in 30 s" >&2
            cat "$DEMO_TMP/mirror.err" "$DEMO_TMP/bridge-b.err" >&2
            exit 1
        fi
        sleep 0.1
    done
    "$DEMO_BUILD/examples/f1" --attach="$DEMO_BASE_B" $DEMO_PLAIN
    rc=$?
    i=0 # the mirror ends with the feed (END), a moment after the board
    while kill -0 "$mpid" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.1; done
    kill -TERM "$mpid" 2>/dev/null
    wait "$mpid"
    cat "$DEMO_TMP/mirror.err" >&2
    mpid=""
    exit $rc
fi

# ---------------------------------------------------------------- host A
build=build plain="" base="/shmkit-f1-demo-$$" log="" res2="" mode=ns
while [ $# -gt 0 ]; do
    case $1 in
        --build) build=$2; shift 2 ;;
        --plain) plain=--plain; shift ;;
        --name) base=$2; shift 2 ;;
        --log) log=$2; shift 2 ;;
        --results2) res2=$2; shift 2 ;;
        --loopback) mode=loopback; shift ;;
        --) shift; break ;;
        -h|--help) sed -n '2,/^set -u/p' "$self" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
build=$(cd "$build" 2>/dev/null && pwd -P) || { echo "demo-bridge: no build directory" >&2; exit 2; }
f1=$build/examples/f1
br=$build/bin/shmkit-bridge
if [ ! -x "$br" ]; then
    echo "demo-bridge: $br is not built: the bridge needs libzmq's header." >&2
    echo "  Debian: apt-get install libzmq3-dev (or run tests/setup-deps as root), then make demo HOST2=1" >&2
    exit 2
fi
[ -x "$f1" ] || { echo "demo-bridge: $f1 is not built (make)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/shmkit-demo-bridge.XXXXXX)
[ -n "$log" ] || { mkdir -p results; log=results/race-control.log; }
feed=$base-feed
nsA=shmkit-demo-$$-a nsB=shmkit-demo-$$-b
netns="" rcpid="" apid="" hbpid=""

cleanup() {
    trap - EXIT INT TERM
    # race control first: it tells the mirror the weekend stopped (END through the bridges)
    [ -n "$rcpid" ] && kill -TERM "$rcpid" 2>/dev/null && wait "$rcpid" 2>/dev/null
    [ -n "$hbpid" ] && { kill -TERM "$hbpid" 2>/dev/null; wait "$hbpid" 2>/dev/null; }
    [ -n "$apid" ] && { kill -TERM "$apid" 2>/dev/null; wait "$apid" 2>/dev/null; }
    for n in $netns; do ip netns del "$n" 2>/dev/null; done
    # what a bridge made and kept (a bus it created), and anything a killed process left
    rm -f "/dev/shm$base" "/dev/shm$base"-* 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'echo "demo-bridge: stopped; removing what it started" >&2; exit 130' INT TERM

why=""
if [ $mode = ns ]; then
    if [ "$(id -u)" -ne 0 ]; then
        why="not root"
    elif ! command -v ip >/dev/null || ! unshare --mount --propagation private true 2>/dev/null; then
        why="no ip or unshare"
    elif ! ip netns add "$nsA" 2>/dev/null; then
        why="ip netns add failed"
    else
        netns=$nsA
        X=$(($$ % 200 + 20))
        if ip netns add "$nsB" && netns="$nsA $nsB" &&
            ip link add "dmA$$" netns "$nsA" type veth peer name "dmB$$" netns "$nsB" &&
            ip -n "$nsA" addr add "10.214.$X.1/24" dev "dmA$$" &&
            ip -n "$nsB" addr add "10.214.$X.2/24" dev "dmB$$" &&
            ip -n "$nsA" link set "dmA$$" up && ip -n "$nsB" link set "dmB$$" up &&
            ip -n "$nsA" link set lo up && ip -n "$nsB" link set lo up &&
            "$br" --keygen "$tmp/a" >/dev/null && "$br" --keygen "$tmp/b" >/dev/null; then
            :
        else
            why="the veth pair or the keys could not be made"
            for n in $netns; do ip netns del "$n" 2>/dev/null; done
            netns=""
        fi
    fi
    [ -n "$why" ] && mode=loopback
else
    why="--loopback given"
fi

export DEMO_BUILD="$build" DEMO_TMP="$tmp" DEMO_PLAIN="$plain" DEMO_RES2="$res2"
if [ $mode = ns ]; then
    port=5555
    ep=tcp://10.214.$X.1:$port
    export DEMO_EP="$ep" DEMO_FEED_B="$feed" DEMO_BASE_B="$base" DEMO_OWNSHM=1
    export DEMO_CURVE="--curve-secret $tmp/b.secret --curve-allow $tmp/a.public"
    curve_a="--curve-secret $tmp/a.secret --curve-allow $tmp/b.public"
    inA="ip netns exec $nsA"
    echo "demo-bridge: host A = this machine's /dev/shm + network namespace $nsA (10.214.$X.1)," \
        "host B = network namespace $nsB (10.214.$X.2) with its own tmpfs on /dev/shm;" \
        "a veth pair between them, CURVE keys made for this run" >&2
    hostb="ip netns exec $nsB unshare --mount --propagation private"
else
    port=$(($$ % 20000 + 30000))
    while command -v ss >/dev/null && ss -Htln "sport = :$port" | grep -q .; do port=$((port + 1)); done
    ep=tcp://127.0.0.1:$port
    export DEMO_EP="$ep" DEMO_FEED_B="$base-feed2=$feed" DEMO_BASE_B="$base-2" DEMO_OWNSHM=0
    export DEMO_CURVE=""
    curve_a="" inA="" hostb=""
    echo "demo-bridge: namespaces unavailable ($why): host B shares this machine's loopback and" \
        "/dev/shm; its segments are named $base-2 and $base-feed2" >&2
fi

# host B first, so that its board sees the weekend from the start
# shellcheck disable=SC2086
$hostb sh "$self" --host-b &
hbpid=$!
# shellcheck disable=SC2086
$inA "$br" --bus "$feed" --bind "$ep" --lossy --slots 1024 --msg-max 4096 --max-subs 16 \
    $curve_a --stats-file "$tmp/bridge-a.stats" --stats-interval 0.1 2>"$tmp/bridge-a.err" &
apid=$!
i=0
until grep -q '^peers_out=[1-9]' "$tmp/bridge-a.stats" 2>/dev/null; do
    i=$((i + 1))
    if [ $i -gt 150 ] || ! kill -0 "$apid" 2>/dev/null || ! kill -0 "$hbpid" 2>/dev/null; then
        echo "demo-bridge: host B's bridge did not connect to host A's ($ep)" >&2
        cat "$tmp/bridge-a.err" >&2
        exit 1
    fi
    sleep 0.1
done
echo "demo-bridge: bridges connected over $ep; race control's own board goes to $log" >&2
"$f1" --feed --name "$base" --plain "$@" >"$log" 2>&1 &
rcpid=$!

wait "$hbpid"
hb_rc=$?
hbpid=""
i=0 # race control ends with its board's last frames, a moment after host B
while kill -0 "$rcpid" 2>/dev/null && [ $i -lt 100 ]; do i=$((i + 1)); sleep 0.1; done
kill -TERM "$rcpid" 2>/dev/null
wait "$rcpid"
rc=$?
rcpid=""
if [ $rc -ne 0 ]; then
    echo "demo-bridge: race control ended with status $rc:" >&2
    tail -5 "$log" >&2
fi
[ $hb_rc -eq 0 ] && [ $rc -eq 0 ]
