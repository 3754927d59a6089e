#!/bin/sh
# t_bridge_rpc.t - request/response carried to a remote server and back
# (issue 15): `shmkit call` and bridge-tool's callers on the endpoint a
# --rpc-out bridge serves, forwarded over TCP loopback to a --rpc-in
# bridge, which calls the real server. Answers correct, each one checked
# byte for byte; 8,000 calls from 4 processes; a cap of 1 call in flight;
# the server killed mid-stream -> the callers get SHMKIT_ECLOSED (a call
# sent in the instant the bridge re-attached, SHMKIT_EPEERDEAD), never a
# timeout (the callers wait up to 60 s, the bridges as long), nothing
# wrong; the server restarted -> calls work again; either bridge killed
# with kill -9 mid-stream and restarted -> the same; no endpoint behind
# the serving bridge -> each call fails at once; malformed frames from a
# raw DEALER refused and counted; no segment left.
T=rpc
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
EP="tcp://127.0.0.1:$(port 0)"
SRV="${P}srv"
CLI="${P}cli"
IN="--rpc-in $SRV@$EP --rpc-timeout 60000"
OUT="--rpc-out $CLI=$SRV@$EP --rpc-timeout 60000"

server() {
    rm -f "$tmp/sready"
    "$TOOL" rpcserve "$SRV" "$tmp/sready" &
    srv=$!; pids="$pids $srv"
    wait_for test -e "$tmp/sready"
}
# calls N PROCS: N calls from each of PROCS processes, timeout 60 s each,
# each process stopping after 20 failed
calls() { "$TOOL" rpccall "$CLI" "$1" "$2" 60000 20; }
fails() { echo $(( $(field "$1" failed) )); }
# answered: one call through the bridges succeeds (after a restart, the
# link is up only once ZeroMQ's handshake is done: until then calls fail
# at once, as documented)
answered() { printf x | "$S" call "$CLI" >/dev/null 2>&1; }

server
bridge b $IN
bridge a $OUT
wait_stat a peers_in 1
ok $? "the calling bridge connected to the serving one"
is "$(echo hello | "$S" call "$CLI")" "ok:hello" "shmkit call through two bridges: the server's answer"

r=$(calls 2000 4)
diag "$r"
is "$(field "$r" ok) $(field "$r" wrong) $(fails "$r")" "8000 0 0" \
    "8000 calls from 4 processes: every answer right"
wait_stat a rpc_replies 8001
wait_stat b rpc_served 8001
is "$(stat a rpc_calls) $(stat a rpc_replies) $(stat a rpc_failed) $(stat b rpc_served) $(stat b rpc_serve_err)" \
    "8001 8001 0 8001 0" "... the counters agree (calls, replies, 0 failed; served, 0 failed)"
stop a
is "$stop_rc" 0 "SIGTERM: the calling bridge exits 0"

# --- a cap of one call in flight: the others wait in the endpoint
bridge a $OUT --rpc-inflight 1
wait_stat a peers_in 1
r=$(calls 500 4)
is "$(field "$r" ok) $(field "$r" wrong) $(fails "$r")" "2000 0 0" \
    "--rpc-inflight 1, 4 callers: 2000 calls, every answer right"
settle a rpc_cap
c=$(stat a rpc_cap)
ok $((c == 0)) "... the cap held calls back ($c times)"

# --- the server killed mid-stream, then restarted
calls 100000 2 >"$tmp/c1" &
cp=$!; pids="$pids $cp"
sleep 0.5
kill -9 "$srv"
wait "$srv" 2>/dev/null
wait "$cp"
r=$(cat "$tmp/c1")
diag "server killed: $r"
is "$(field "$r" wrong) $(field "$r" timedout) $(field "$r" other)" "0 0 0" \
    "server killed mid-stream: no wrong answer, no caller left to time out"
f=$(fails "$r")
ok $((f == 0)) "... the calls after its death failed ($f: closed=$(field "$r" closed) peerdead=$(field "$r" peerdead))"
printf x | "$S" call "$CLI" >/dev/null 2>&1
is "$?" 2 "shmkit call with the server dead: exit 2 (no answer), at once"
server
wait_for answered
r=$(calls 200 2)
is "$(field "$r" ok) $(fails "$r")" "400 0" "server restarted: calls answered again"

# --- kill -9 of either bridge mid-stream, restarted
for victim in b a; do
    calls 100000 2 >"$tmp/c2" &
    cp=$!; pids="$pids $cp"
    sleep 0.5
    kill -9 "$(bpid $victim)"
    wait "$(bpid $victim)" 2>/dev/null
    wait "$cp"
    r=$(cat "$tmp/c2")
    side=$([ $victim = a ] && echo calling || echo serving)
    diag "kill -9 of the $side bridge: $r"
    f=$(fails "$r")
    is "$(field "$r" wrong) $(field "$r" timedout) $(field "$r" other) $((f > 0))" "0 0 0 1" \
        "kill -9 of the $side bridge mid-stream: its callers got errors, not timeouts nor wrong answers"
    if [ $victim = a ]; then bridge a $OUT; else bridge b $IN; fi
    wait_for answered
    ok $? "... the $([ $victim = a ] && echo calling || echo serving) bridge restarted: a call is answered again"
    r=$(calls 200 2)
    is "$(field "$r" ok) $(fails "$r")" "400 0" "... the $side bridge restarted: calls answered again"
done

# --- no server endpoint behind the serving bridge
kill -9 "$srv"
wait "$srv" 2>/dev/null
"$S" rm "$SRV"
settle a rpc_failed
e0=$(stat b rpc_serve_err)
f0=$(stat a rpc_failed)
r=$(calls 10 1)
is "$(field "$r" ok) $(field "$r" timedout) $(fails "$r")" "0 0 10" \
    "server gone and its endpoint removed: each call fails at once, none times out"
settle b rpc_serve_err
settle a rpc_failed
e=$(($(stat b rpc_serve_err) - e0))
is "$e $((e > 0))" "$(($(stat a rpc_failed) - f0)) 1" \
    "... the bridges counted the calls that reached them alike ($e; one made while the calling bridge re-attaches fails before)"

# --- hostile peer at the serving bridge's port
server
s0=$(stat b rpc_served)
r=$("$TOOL" rpcjunk "$EP" "$SRV")
is "$r" "answer=0:ok:ping" "a raw DEALER's good request among bad ones: answered"
settle b rpc_served
is "$(stat b bad_magic) $(stat b bad_long) $(stat b drop_unknown) $(($(stat b rpc_served) - s0))" "1 1 2 1" \
    "... bad magic, two parts, a bus and a response frame: refused and counted"
kill -0 "$(bpid b)"
ok $? "... and the serving bridge still runs"

stop a
stop b
kill -9 "$srv"
wait "$srv" 2>/dev/null
"$S" rm "$CLI" "$SRV"
left=$(ls /dev/shm | grep -c "^${P#/}")
is "$left" 0 "no segment left"
done_testing
