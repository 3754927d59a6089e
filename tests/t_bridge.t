#!/bin/sh
# t_bridge.t - shmkit-bridge on loopback (issue 15): libshmkit and the shmkit
# CLI keep no ZeroMQ dependency, `shmkit bridge` runs shmkit-bridge, usage
# errors; a bus exported by one bridge and imported by another with every
# message accounted for (delivered + counted gaps = sent), 0 corrupt;
# several buses in one process; forwarding through a middle bridge keeps
# the first origin; hostile frames from a raw ZeroMQ socket refused and
# counted by reason, random frames and raw TCP garbage refused, the bridge
# still delivering afterwards; SIGTERM stops it with status 0.
T=lo
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
N=${SHMKIT_BRIDGE_MSGS:-20000}

# --- no ZeroMQ in libshmkit or the CLI
ldd "$SHMKIT_BUILD/libshmkit.so.0" "$S" 2>&1 | grep -q zmq
ok $((! $?)) "libshmkit.so and shmkit do not link libzmq (ldd)"
nm "$SHMKIT_BUILD/libshmkit.a" "$S" 2>/dev/null | grep -q ' zmq_'
ok $((! $?)) "... nor reference a zmq_ symbol (nm)"
ldd "$BR" | grep -q libzmq
ok $? "shmkit-bridge does link libzmq"

# --- the CLI runs the bridge found next to it
out=$("$S" bridge --help 2>&1)
ok $? "shmkit bridge --help exits 0"
case $out in "Usage:"*"shmkit-bridge"*) r=0 ;; *) r=1 ;; esac
ok $r "... and prints shmkit-bridge's usage"
"$S" bridge --bus /x --bind tcp://10.1.2.3:5555 2>"$tmp/e"
is "$?" 1 "a non-loopback endpoint without CURVE or --insecure: exit 1"
grep -q "needs CURVE" "$tmp/e"
ok $? "... saying it needs CURVE"
"$BR" --bus /x 2>/dev/null
is "$?" 1 "--bus without an endpoint: exit 1"
"$BR" --bus /x --bind tcp://127.0.0.1:1 --connect tcp://127.0.0.1:2 2>/dev/null
is "$?" 1 "--bus with both --bind and --connect: exit 1 (say --export/--import)"
"$BR" --bus nope --bind tcp://127.0.0.1:1 2>/dev/null
is "$?" 1 "a bus name without its slash: exit 1"
"$BR" --bus "${P}nobind" --bind tcp://127.0.0.2:0x 2>/dev/null
is "$?" 2 "an endpoint that cannot be bound: exit 2"
[ ! -e "/dev/shm${P}nobind" ]
ok $? "... and the bus it made for the run is removed again"

# --- one bus, exported and imported, every message accounted for
A=$(port 0)
bridge a --bus "${P}a" --bind "tcp://127.0.0.1:$A"
bridge b --connect "tcp://127.0.0.1:$A" --bus "${P}b=${P}a"
wait_stat b peers_in 1
ok $? "the importing bridge connected (peers_in 1)"
"$TOOL" sub "${P}b" "$N" 3000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
"$TOOL" pub "${P}a" "$N" 100 >/dev/null
wait "$sub"
settle b in_msgs
r=$(cat "$tmp/sub")
diag "subscriber: $r" "a: out_msgs=$(stat a out_msgs)" \
    "b: in_msgs=$(stat b in_msgs) net_lost=$(stat b net_lost) drop_busfull=$(stat b drop_busfull)"
is "$(field "$r" corrupt)" 0 "$N messages of 100 B through two bridges: 0 corrupt"
is "$(field "$r" backwards)" 0 "... none out of order or duplicated"
is "$(stat a out_msgs)" "$N" "the exporting bridge sent all $N"
is "$(field "$r" received)" "$(stat b in_msgs)" "the subscriber received what the importing bridge published"
last=$(field "$r" last)
is $(($(stat b in_msgs) + $(stat b net_lost) + $(stat b drop_busfull) + N - last)) "$N" \
    "published + counted gaps + bus-full drops + the unseen tail = sent"
is "$(stat b origins)" 1 "one origin seen"

# --- several buses in one process; SIGTERM
bridge c --bus "${P}c1" --bus "${P}c2" --bind "tcp://127.0.0.1:$(port 1)"
bridge d --connect "tcp://127.0.0.1:$(port 1)" --bus "${P}d1=${P}c1" --bus "${P}d2=${P}c2"
wait_stat d peers_in 1
"$TOOL" sub "${P}d1" 1000 3000 "$tmp/r1" >"$tmp/s1" &
s1=$!; pids="$pids $s1"
"$TOOL" sub "${P}d2" 1000 3000 "$tmp/r2" >"$tmp/s2" &
s2=$!; pids="$pids $s2"
wait_for test -e "$tmp/r1" && wait_for test -e "$tmp/r2"
"$TOOL" pub "${P}c1" 1000 64 1000 >/dev/null &
p1=$!
"$TOOL" pub "${P}c2" 1000 64 1000 >/dev/null
wait "$p1" "$s1" "$s2"
is "$(field "$(cat "$tmp/s1")" received) $(field "$(cat "$tmp/s2")" received)" "1000 1000" \
    "two buses in one bridge process, 1000 msgs/s each: all delivered on both"
stop c
is "$stop_rc" 0 "SIGTERM: the bridge exits 0"
stop d
is "$stop_rc" 0 "... both of them"

# --- forwarding: a -> f (imports and exports the same bus) -> g
bridge f --import "${P}f=${P}a" --export "${P}f=${P}a" --connect "tcp://127.0.0.1:$A" \
    --bind "tcp://127.0.0.1:$(port 2)"
bridge g --connect "tcp://127.0.0.1:$(port 2)" --bus "${P}g=${P}a"
wait_stat g peers_in 1 && wait_stat f peers_in 1
"$TOOL" sub "${P}g" 500 3000 "$tmp/r3" >"$tmp/s3" &
s3=$!; pids="$pids $s3"
wait_for test -e "$tmp/r3"
sleep 0.3
"$TOOL" pub "${P}a" 500 64 2000 >/dev/null
wait "$s3"
is "$(field "$(cat "$tmp/s3")" received)" 500 "through a forwarding bridge: 500 of 500"
settle g in_msgs
is "$(stat g origins) $(stat f out_msgs)" "1 500" "... one origin downstream (the first bridge's), 500 forwarded"
ida=$(stat a id)
idf=$(stat f id)
test "$ida" != "$idf"
ok $? "... (the forwarding bridge's own id is another)"
stop f
stop g

# --- hostile frames: each refused for its reason, the bridge goes on
H=$(port 3)
bridge h --connect "tcp://127.0.0.1:$H" --bus "${P}h"
"$TOOL" sub "${P}h" 3 3000 "$tmp/r4" >"$tmp/s4" &
s4=$!; pids="$pids $s4"
wait_for test -e "$tmp/r4"
"$TOOL" hostile "tcp://127.0.0.1:$H" "${P}h" "$(stat h id)" >"$tmp/hostile"
wait "$s4"
settle h in_msgs
got=""
for k in bad_short bad_long bad_header bad_crc drop_unknown drop_loop drop_hops drop_dup drop_toobig in_msgs errors; do
    got="$got $k=$(stat h "$k")"
done
is "$got" " bad_short=4 bad_long=1 bad_header=1 bad_crc=1 drop_unknown=1 drop_loop=1 drop_hops=1 drop_dup=1 drop_toobig=1 in_msgs=3 errors=0" \
    "hostile frames: each refused and counted by its reason"
is "$(field "$(cat "$tmp/s4")" received) $(field "$(cat "$tmp/s4")" corrupt)" "3 0" \
    "... the 3 good ones among them delivered intact"
kill -0 "$(bpid h)"
ok $? "... and the bridge still runs"

J=$(port 4)
bridge j --connect "tcp://127.0.0.1:$J" --bus "${P}j"
r=$("$TOOL" junk "tcp://127.0.0.1:$J" "${P}j" 300000)
frames=$(field "$r" frames)
settle j bad_header
sum=0
for k in bad_short bad_long bad_magic bad_version bad_topic bad_header bad_crc drop_unknown drop_loop drop_dup drop_hops drop_toobig; do
    sum=$((sum + $(stat j "$k")))
done
is "$sum $(stat j in_msgs)" "$frames 0" "$frames random frames after a valid prefix: all refused and counted, none published"

"$TOOL" tcp 127.0.0.1 "$A" 1000000 >/dev/null
"$TOOL" tcp 127.0.0.1 "$A" 10 >/dev/null
"$TOOL" sub "${P}b" 200 3000 "$tmp/r5" >"$tmp/s5" &
s5=$!; pids="$pids $s5"
wait_for test -e "$tmp/r5"
"$TOOL" pub "${P}a" 200 64 2000 >/dev/null
wait "$s5"
is "$(field "$(cat "$tmp/s5")" received)" 200 "after raw TCP garbage at its port the exporting bridge still delivers (200 of 200)"
stop a
is "$stop_rc" 0 "SIGTERM: exit 0 after all that"
stop b
stop h
stop j
done_testing
