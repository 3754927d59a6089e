#!/bin/sh
# t_bridge_batch.t - frames of several messages (frame version 3) end to
# end: messages that wait in the bus while the exporting bridge is stopped
# leave in full frames (256 messages) and arrive intact and counted per
# message; hand-made frames from a raw socket (bridge-frames): a corrupt
# payload in the middle of a frame costs that message only, a frame of
# version 2 never reaches the bridge (its SUB subscribes to the version-3
# prefix) and its messages show as the gap they leave, a message repeated
# inside a frame is a duplicate. --send-timeout: the exporting bridge waits
# for a full peer queue instead of dropping (100,000 messages through a
# 10-frame queue, none lost), and drops for every peer once the wait is
# over (a peer that never reads: counted in drop_hwm, every message
# accounted for).
T=batch
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
FR="$SHMKIT_BUILD/bridge/bridge-frames"

# --- coalescing: 600 messages wait in the bus, then go in 3 frames
A=$(port 0)
bridge a --bus "${P}a" --bind "tcp://127.0.0.1:$A"
bridge b --connect "tcp://127.0.0.1:$A" --bus "${P}b=${P}a"
wait_stat b peers_in 1
"$TOOL" sub "${P}b" 600 5000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
sleep 0.3 # the subscription reached bridge a
kill -STOP "$(bpid a)"
"$TOOL" pub "${P}a" 600 100 >/dev/null # 600 < the bus's 1024 slots: no wait
kill -CONT "$(bpid a)"
wait "$sub"
settle b in_msgs
r=$(cat "$tmp/sub")
diag "subscriber: $r"
is "$(field "$r" received) $(field "$r" corrupt) $(field "$r" backwards)" "600 0 0" \
    "600 messages that waited in the bus: all delivered, 0 corrupt, in order"
is "$(stat a out_msgs) $(stat a out_frames)" "600 3" \
    "... sent as 600 messages in 3 frames (256 + 256 + 88)"
is "$(stat b in_msgs) $(stat b in_frames) $(stat b net_lost)" "600 3 0" \
    "... received as 3 frames, published as 600 messages"

# --- a lone message is not held back for company
"$TOOL" sub "${P}b" 1 5000 "$tmp/ready2" >"$tmp/sub2" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready2"
"$TOOL" pub "${P}a" 1 100 >/dev/null
wait "$sub"
settle a out_frames
is "$(field "$(cat "$tmp/sub2")" received) $(stat a out_frames)" "1 4" \
    "a lone message goes at once, in a frame of its own"
stop a
stop b

# --- --send-timeout: lossless while the peer reads, bounded when it does not
N=100000
W=$(port 2)
bridge w --bus "${P}w" --bind "tcp://127.0.0.1:$W" --send-timeout 60000 --hwm 10
bridge x --connect "tcp://127.0.0.1:$W" --bus "${P}x=${P}w" --publish-timeout 60000
wait_stat x peers_in 1
"$TOOL" sub "${P}x" "$N" 5000 "$tmp/ready3" >"$tmp/sub3" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready3"
sleep 0.3
"$TOOL" pub "${P}w" "$N" 100 >/dev/null
wait "$sub"
settle x in_msgs
r=$(cat "$tmp/sub3")
diag "subscriber: $r" "w: out_msgs=$(stat w out_msgs) out_frames=$(stat w out_frames) drop_hwm=$(stat w drop_hwm)"
is "$(field "$r" received) $(field "$r" corrupt) $(stat x net_lost) $(stat w drop_hwm)" "$N 0 0 0" \
    "--send-timeout, --hwm 10: $N messages as fast as they come, all delivered, none dropped"
stop w
stop x

V=$(port 3)
bridge v --bus "${P}v" --bind "tcp://127.0.0.1:$V" --send-timeout 20 --hwm 2
"$TOOL" stall "tcp://127.0.0.1:$V" "${P}v" 30 &
pids="$pids $!"
wait_stat v peers_out 1
sleep 0.3
"$TOOL" pub "${P}v" 200 60000 >/dev/null
settle v drop_hwm
diag "v: out_msgs=$(stat v out_msgs) drop_hwm=$(stat v drop_hwm)"
is "$(($(stat v out_msgs) + $(stat v drop_hwm)))" 200 \
    "--send-timeout 20, a peer that never reads: every message sent or dropped after the wait (out_msgs + drop_hwm = 200)"
test "$(stat v drop_hwm)" -gt 0
ok $? "... and some were dropped ($(stat v drop_hwm)): the wait is bounded"
stop v

# --- hand-made frames: a corrupt message among good ones, version 2, a repeat
if [ -x "$FR" ]; then
    H=$(port 1)
    bridge h --connect "tcp://127.0.0.1:$H" --bus "${P}h"
    "$TOOL" sub "${P}h" 266 3000 "$tmp/r4" >"$tmp/s4" &
    s4=$!; pids="$pids $s4"
    wait_for test -e "$tmp/r4"
    "$FR" "tcp://127.0.0.1:$H" "${P}h" >"$tmp/frames"
    wait "$s4"
    settle h in_msgs
    r=$(cat "$tmp/s4")
    diag "subscriber: $r"
    is "$(field "$r" received) $(field "$r" corrupt) $(field "$r" backwards) $(field "$r" last)" \
        "266 0 0 269" "6 hand-made frames of 1 to 256 messages: 266 delivered intact, in order"
    got=""
    for k in in_frames in_msgs bad_crc bad_version drop_dup net_lost errors; do
        got="$got $k=$(stat h "$k")"
    done
    is "$got" " in_frames=5 in_msgs=266 bad_crc=1 bad_version=0 drop_dup=1 net_lost=2 errors=0" \
        "... the corrupt one in the middle of its frame counted alone (bad_crc), the version-2 frame filtered out by the subscription (its 2 messages: net_lost), the repeat a duplicate"
    kill -0 "$(bpid h)"
    ok $? "... and the bridge still runs"
    stop h
else
    ok 1 "bridge-frames is built next to bridge-tool"
fi

done_testing
