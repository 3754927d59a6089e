#!/bin/sh
# t_bridge_ring.t - a ring carried between two bridges (issue 15): PUSH/PULL
# with back-pressure end to end. 200,000 messages: all delivered once, in
# order, 0 corrupt; a consumer far slower than the producer, 60 kB
# messages, --hwm 10: nothing lost (the producer waited), though far more
# was sent than every queue on the way holds; kill -9 of the receiving
# bridge, then of the sending one, mid-stream and restarted: delivery
# resumes to the last message, nothing corrupt, never out of order, at most
# one message twice (the one the sending bridge was sending when killed),
# some lost (at most once otherwise, as documented).
T=ring
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
EP="tcp://127.0.0.1:$(port 0)"
IN="--ring-in ${P}b=${P}a@$EP"
OUT="--ring-out ${P}a@$EP"

bridge b $IN
bridge a $OUT
wait_stat a peers_in 1
ok $? "the sending bridge connected to the receiving one"
"$TOOL" rsub "${P}b" 200000 3000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
"$TOOL" rpub "${P}a" 200000 100 >/dev/null
wait "$sub"
r=$(cat "$tmp/sub")
diag "$r"
is "$(field "$r" received) $(field "$r" corrupt) $(field "$r" gaps) $(field "$r" backwards)" "200000 0 0 0" \
    "200000 messages through a ring bridge: all delivered, once, in order, intact"
settle b ring_in_msgs
is "$(stat a ring_out_msgs) $(stat b ring_in_msgs) $(stat b net_lost)" "200000 200000 0" \
    "... the counters agree (sent, written, 0 lost)"
stop a
stop b

# --- back-pressure: slow consumer, small queues, big messages
bridge b $IN --hwm 10
bridge a $OUT --hwm 10
rm -f "$tmp/ready"
"$TOOL" rsub "${P}b" 400 3000 "$tmp/ready" 5000 >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
p=$("$TOOL" rpub "${P}a" 400 60000)
wait "$sub"
r=$(cat "$tmp/sub")
diag "producer: $p" "consumer (5 ms per message): $r"
is "$(field "$r" received) $(field "$r" corrupt) $(field "$r" gaps)" "400 0 0" \
    "400 x 60 kB to a consumer taking 5 ms each, --hwm 10: none lost (the producer was held back)"
stop a
stop b

# --- kill -9 of either bridge, restarted
N=60000
for victim in b a; do
    bridge b $IN
    bridge a $OUT
    rm -f "$tmp/ready"
    "$TOOL" rsub "${P}b" "$N" 4000 "$tmp/ready" 20 >"$tmp/sub" &
    sub=$!; pids="$pids $sub"
    wait_for test -e "$tmp/ready"
    "$TOOL" rpub "${P}a" "$N" 100 >/dev/null &
    pub=$!; pids="$pids $pub"
    sleep 0.5
    kill -9 "$(bpid $victim)"
    wait "$(bpid $victim)" 2>/dev/null
    if [ $victim = a ]; then bridge a $OUT; else bridge b $IN; fi
    wait "$pub" "$sub"
    r=$(cat "$tmp/sub")
    settle b ring_in_msgs
    diag "kill -9 of the $([ $victim = a ] && echo sending || echo receiving) bridge: $r" \
        "receiving bridge: ring_in_msgs=$(stat b ring_in_msgs) drop_stale=$(stat b drop_stale) net_lost=$(stat b net_lost)"
    is "$(field "$r" last) $(field "$r" corrupt)" "$N 0" \
        "kill -9 of the $([ $victim = a ] && echo sending || echo receiving) bridge and a restart: delivery resumes to the last message, 0 corrupt"
    dup=$(field "$r" backwards)
    ok $((dup > 1)) "... $dup delivered twice (at most 1), $(( N - $(field "$r" received) + dup )) lost"
    stop a
    stop b
done
done_testing
