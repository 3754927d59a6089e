#!/bin/sh
# t_cli_role.t - `shmkit create --ring/--bus` without --hold sets the channel
# up without taking a role: a consumer or subscriber that joins afterwards
# waits for its producer or publisher instead of being told at once that the
# stream ended (SHMKIT_ECLOSED from the CLI's own, closed, producer role).
T=role
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
ch="$SHMKIT_BUILD/examples/channels"
[ -x "$ch" ] || { echo "1..0 # SKIP examples not built"; exit 0; }

"$S" create "${P}ring" --ring 1024 >/dev/null
ok $? "create --ring"
"$S" info "${P}ring" | grep -q '^producer: *0 (none)'
ok $? "... leaves no producer attached"
"$ch" ring-recv "${P}ring" >"$tmp/recv" 2>&1 &
r=$!
sleep 0.3
kill -0 $r 2>/dev/null
ok $? "a consumer joining then waits for a producer (it did not end)"
"$ch" ring-send "${P}ring" 3 2>&1
wait $r
is "$?:$(grep -c '^ring-recv: message' "$tmp/recv")" "0:3" "... and receives what the producer sends"

"$S" create "${P}bus" --bus 16:64:8 >/dev/null
ok $? "create --bus"
"$ch" bus-sub "${P}bus" A >"$tmp/sub" 2>&1 &
s=$!
sleep 0.3
kill -0 $s 2>/dev/null
ok $? "a subscriber joining then waits for a publisher (it did not end)"
"$ch" bus-pub "${P}bus" 3 1 2>&1
wait $s
is "$?:$(grep -c '^A: message' "$tmp/sub")" "0:3" "... and receives what the publisher sends"
"$S" rm "${P}ring" "${P}bus" 2>/dev/null
done_testing
