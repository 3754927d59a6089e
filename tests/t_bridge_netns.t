#!/bin/sh
# t_bridge_netns.t - shmkit-bridge between two "hosts" (issue 15): two
# network namespaces joined by a veth pair (as root; on loopback otherwise,
# said in a comment). A publisher on host A, the bridges, a subscriber on
# host B:
#  - 1 M messages (SHMKIT_BRIDGE_MSGS) paced at 200 k/s: 0 corrupt, none
#    out of order, every message either delivered or counted (gaps in the
#    origin's sequence numbers at B, bus-full drops, the unseen tail);
#  - kill -9 of the exporting bridge, then of the importing one, in the
#    middle of a stream, each restarted at once: delivery resumes (the last
#    message arrives), nothing corrupt, the restart seen as a new origin;
#  - a subscriber that stops reading: the exporting bridge's private memory
#    (RssAnon) stays under its bound (hwm x message size, plus slack) while
#    1.2 GB go by, and the other peer keeps receiving;
#  - nothing left: bridges, namespaces, segments.
# /dev/shm is shared by the namespaces, so host B's bus is named
# differently and carried as host A's topic (NAME=/TOPIC).
T=ns
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
N=${SHMKIT_BRIDGE_MSGS:-1000000}
case $SHMKIT_BUILD in
    *asan*) N=${SHMKIT_BRIDGE_MSGS:-200000}; diag "sanitizer build: $N messages instead of 1 M" ;;
esac
RATE=${SHMKIT_BRIDGE_RATE:-200000}
NA=shmkit-t-br-$$-a
NB=shmkit-t-br-$$-b
X=$(($$ % 200 + 20))
use_ns=0
if [ "$(id -u)" -eq 0 ] && ip netns add "$NA" 2>/dev/null; then
    netns="$NA"
    if ip netns add "$NB" && netns="$NA $NB" &&
        ip link add "va$$" netns "$NA" type veth peer name "vb$$" netns "$NB" &&
        ip -n "$NA" addr add "10.213.$X.1/24" dev "va$$" &&
        ip -n "$NB" addr add "10.213.$X.2/24" dev "vb$$" &&
        ip -n "$NA" link set "va$$" up && ip -n "$NB" link set "vb$$" up &&
        ip -n "$NA" link set lo up && ip -n "$NB" link set lo up; then
        use_ns=1
    fi
fi
if [ $use_ns = 1 ]; then
    diag "two network namespaces $NA (10.213.$X.1) and $NB (10.213.$X.2), a veth pair between"
    HA=10.213.$X.1
    ONA="--ns $NA"
    ONB="--ns $NB"
    INA="ip netns exec $NA"
    INB="ip netns exec $NB"
    SEC=--insecure
else
    diag "network namespaces unavailable (not root, or no ip netns): on loopback instead"
    HA=127.0.0.1
    ONA="" ONB="" INA="" INB="" SEC=""
fi
EA="tcp://$HA:$(port 0)"
ASTART="--bus ${P}a --bind $EA $SEC"
BSTART="--connect $EA --bus ${P}b=${P}a $SEC"

# --- 1 M messages
bridge a $ONA $ASTART
bridge b $ONB $BSTART
wait_stat b peers_in 1
ok $? "host B's bridge connected to host A's"
$INB "$TOOL" sub "${P}b" "$N" 3000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
t0=$(date +%s.%N)
$INA "$TOOL" pub "${P}a" "$N" 64 "$RATE" >/dev/null
wait "$sub"
t1=$(date +%s.%N)
settle b in_msgs
r=$(cat "$tmp/sub")
last=$(field "$r" last)
diag "$N messages of 64 B at $RATE/s in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s: $r" \
    "a: out_msgs=$(stat a out_msgs) local_lost=$(stat a local_lost)" \
    "b: in_msgs=$(stat b in_msgs) net_lost=$(stat b net_lost) drop_busfull=$(stat b drop_busfull) tail=$((N - last))"
is "$(field "$r" corrupt) $(field "$r" backwards)" "0 0" "$N messages: 0 corrupt, 0 out of order or duplicated"
is "$(stat a out_msgs) $(stat a local_lost)" "$N 0" "host A's bridge read and sent all $N"
is "$(field "$r" received)" "$(stat b in_msgs)" "the subscriber got exactly what host B's bridge published"
is $(($(stat b in_msgs) + $(stat b net_lost) + $(stat b drop_busfull) + N - last)) "$N" \
    "delivered + counted gaps + bus-full drops + unseen tail = $N"
is "$(field "$r" gaps)" "$(($(stat b net_lost) + $(stat b drop_busfull)))" \
    "the subscriber's own gaps are the ones host B's bridge counted"

# --- kill -9 of either bridge mid-stream, restarted
M=60000
for victim in a b; do
    rm -f "$tmp/ready"
    $INB "$TOOL" sub "${P}b" "$M" 4000 "$tmp/ready" >"$tmp/sub" &
    sub=$!; pids="$pids $sub"
    wait_for test -e "$tmp/ready"
    $INA "$TOOL" pub "${P}a" "$M" 64 20000 >/dev/null &
    pub=$!; pids="$pids $pub"
    sleep 1
    kill -9 "$(bpid $victim)"
    wait "$(bpid $victim)" 2>/dev/null
    if [ $victim = a ]; then bridge a $ONA $ASTART; else bridge b $ONB $BSTART; fi
    wait "$pub" "$sub"
    r=$(cat "$tmp/sub")
    diag "kill -9 of bridge $victim: $r"
    is "$(field "$r" last) $(field "$r" corrupt) $(field "$r" backwards)" "$M 0 0" \
        "kill -9 of host ${victim}'s bridge at 1 s of 3 and a restart: delivery resumes to the last message, 0 corrupt"
    lost=$(($(field "$r" last) - $(field "$r" first) + 1 - $(field "$r" received)))
    ok $((lost >= $M)) "... $lost of $M lost around the restart (at most once, as documented)"
    if [ $victim = a ]; then
        settle b in_msgs
        is "$(stat b origins)" 2 "host B's bridge saw host A's restart as a new origin"
    fi
done

# --- memory bound: a peer that stops reading
stop a
stop b
bound=$((100 * 64 * 2 + 16384))
case $SHMKIT_BUILD in
    *asan*) # freed memory waits in ASan's quarantine (256 MB by default)
        ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=8"; export ASAN_OPTIONS
        bound=$((bound + 32768)); diag "sanitizer build: an 8 MB quarantine, 32 MB more slack" ;;
esac
bridge a $ONA --bus "${P}m" --bind "$EA" $SEC --hwm 100 --slots 64 --msg-max 64K
bridge b $ONB --connect "$EA" --bus "${P}n=${P}m" $SEC --hwm 100 --slots 64 --msg-max 64K
$INB "$TOOL" stall "$EA" "${P}m" 60 &
stall=$!; pids="$pids $stall"
wait_stat a peers_out 2
ok $? "a stalled subscriber and a bridge connected to host A's bridge"
rss() { awk '$1 == "RssAnon:" {print $2}' "/proc/$(bpid a)/status"; }
base=$(rss)
rm -f "$tmp/ready"
$INB "$TOOL" sub "${P}n" 1000000 3000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
$INA "$TOOL" pub "${P}m" 20000 60000 >/dev/null &
pub=$!; pids="$pids $pub"
max=$base
while kill -0 "$pub" 2>/dev/null; do
    v=$(rss)
    [ -n "$v" ] && [ "$v" -gt "$max" ] && max=$v
    sleep 0.1
done
wait "$pub"
diag "host A's bridge RssAnon: $base kB at start, at most $max kB while 20000 x 60 kB went by (bound +$bound kB)"
ok $((max - base > bound)) "a stalled subscriber: the exporting bridge's memory stays bounded (+$((max - base)) kB <= +$bound kB)"
wait "$sub"
r=$(cat "$tmp/sub")
diag "the other peer: $r"
ok $(($(field "$r" received) == 0)) "... and the other peer kept receiving ($(field "$r" received) messages, 0 corrupt: $(field "$r" corrupt))"
kill "$stall" 2>/dev/null
stop a
is "$stop_rc" 0 "SIGTERM stops host A's bridge: exit 0"
stop b
is "$stop_rc" 0 "... and host B's"

# --- nothing left
rm -f /dev/shm/shmkit-t-br-$$-*
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=1; done
ok $left "no bridge or helper process left"
for n in $netns; do ip netns del "$n"; done
netns=""
ip netns list 2>/dev/null | grep -q "shmkit-t-br-$$-"
ok $((! $?)) "no namespace left"
done_testing
