#!/bin/sh
# t_bridge_curve.t - CURVE between bridges (issue 15): keys from
# `shmkit-bridge --keygen`; a peer whose key is in --curve-allow gets the
# messages (encrypted); a peer with a key not listed is refused by the ZAP
# handler, counted (curve_refused), and receives nothing; a peer that
# expects another server key fails its handshake and receives nothing;
# unreadable or malformed key files are usage errors.
T=curve
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
for k in srv good bad other; do "$BR" --keygen "$tmp/$k" || exit 1; done
is "$(stat -c %a "$tmp/srv.secret" 2>/dev/null || command stat -c %a "$tmp/srv.secret")" 600 \
    "--keygen: the secret key file is mode 600"
is "$(wc -c <"$tmp/srv.public")" 41 "... the public key is 40 Z85 characters and a newline"
"$BR" --keygen "$tmp/srv" 2>/dev/null
is "$?" 2 "--keygen never overwrites a key"
{ echo "# the bridges allowed in"; cat "$tmp/good.public"; } >"$tmp/allow"

A=$(port 0)
EP="tcp://127.0.0.1:$A"
bridge a --bus "${P}a" --bind "$EP" --curve-secret "$tmp/srv.secret" --curve-allow "$tmp/allow"
bridge good --connect "$EP" --bus "${P}g=${P}a" --curve-secret "$tmp/good.secret" \
    --curve-allow "$tmp/srv.public"
bridge bad --connect "$EP" --bus "${P}b=${P}a" --curve-secret "$tmp/bad.secret" \
    --curve-allow "$tmp/srv.public"
bridge wrongsrv --connect "$EP" --bus "${P}w=${P}a" --curve-secret "$tmp/good.secret" \
    --curve-allow "$tmp/srv.public" --curve-server "$tmp/other.public"
"$TOOL" sub "${P}g" 300 3000 "$tmp/r1" >"$tmp/s1" &
s1=$!; pids="$pids $s1"
"$TOOL" sub "${P}b" 300 1500 "$tmp/r2" >"$tmp/s2" &
s2=$!; pids="$pids $s2"
wait_for test -e "$tmp/r1" && wait_for test -e "$tmp/r2"
wait_stat good peers_in 1
sleep 0.5
"$TOOL" pub "${P}a" 300 100 1000 >/dev/null
wait "$s1"
is "$(field "$(cat "$tmp/s1")" received) $(field "$(cat "$tmp/s1")" corrupt)" "300 0" \
    "a listed key: all 300 messages delivered through CURVE, 0 corrupt"
settle a curve_refused
r=$(stat a curve_refused)
ok $((r < 1)) "the unlisted key is refused by the ZAP handler and counted (curve_refused=$r)"
is "$(stat bad in_msgs)" 0 "... the refused bridge published nothing"
kill "$s2" 2>/dev/null
is "$(stat wrongsrv in_msgs)" 0 "a bridge expecting another server key publishes nothing"
h=$(stat wrongsrv handshake_failed)
ok $((h < 1)) "... its failed handshakes are counted (handshake_failed=$h)"

printf 'not a key\n' >"$tmp/junk"
"$BR" --bus /x --bind "$EP" --curve-secret "$tmp/junk" --curve-allow "$tmp/allow" 2>"$tmp/e"
is "$?" 1 "a secret key file without a key: exit 1"
"$BR" --bus /x --bind "$EP" --curve-secret "$tmp/srv.secret" --curve-allow "$tmp/junk" 2>"$tmp/e"
is "$?" 1 "an allow file with a line that is not a key: exit 1"
"$BR" --bus /x --bind "$EP" --curve-secret "$tmp/srv.secret" 2>/dev/null
is "$?" 1 "--curve-secret without --curve-allow: exit 1"
"$BR" --bus "${P}refused" --bind "$EP" --curve-secret "$tmp/junk" --curve-allow "$tmp/allow" 2>/dev/null
[ ! -e "/dev/shm${P}refused" ]
ok $? "a refused key file leaves no bus behind (nothing is made before the keys are read)"
for b in a good bad wrongsrv; do stop $b; done
is "$stop_rc" 0 "SIGTERM: exit 0"
done_testing
