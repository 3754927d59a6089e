#!/bin/sh
# t_bridge_stats.t - a bridge's live statistics in the shmkit CLI (issue 15):
# two bridges on loopback, each publishing its counters in a shmkit table
# (--stats-name); `shmkit info` prints them by name and agrees with the
# stats file, its links and peers; `shmkit watch` prints the traffic each
# way with its rates and the drop counters; `ls` shows the table as a
# bridge; `info` of a bus names the bridge carrying it; a bridge without --stats-name uses /shmkit-bridge-PID and removes
# it on SIGTERM; after a kill -9 the table names a dead creator and `shmkit
# gc` removes it; a record scribbled from outside (bad counts, a hostile
# counter name, garbage) is reported as corrupted by info, watch and ls,
# nothing from it printed, no crash; nothing is left behind.
T=stats
. "$(dirname "$(readlink -f "$0")")/../bridge/test-lib.sh"
N=2000
A=$(port 0)
SA="${P}sa"
SB="${P}sb"

# --- two bridges, a bus carried from a to b
bridge a --bus "${P}a" --bind "tcp://127.0.0.1:$A" --stats-name "$SA"
bridge b --connect "tcp://127.0.0.1:$A" --bus "${P}b=${P}a" --stats-name "$SB"
wait_stat b peers_in 1
ok $? "the importing bridge connected"
info_val() { "$S" info "$1" | sed -n "s/^$2: *//p"; }
wait_for sh -c "[ \"\$('$S' info '$SB' | sed -n 's/^peers_in: *//p')\" = 1 ]"
is "$(info_val "$SA" peers_out) $(info_val "$SB" peers_in)" "1 1" "info: peers connected each way (1 out, 1 in)"
is "$(info_val "$SA" type_id)" "0x53484d4b42524731" "info: a table of type SHMKBRG1"
is "$(info_val "$SA" bridge_pid)" "$(bpid a) (alive)" "info: the bridge's pid, alive"
is "$(info_val "$SA" bridge)" "$(stat a id)" "info: the bridge's id (as in its stats file)"
is "$(info_val "$SA" link_1)" "bus-out ${P}a tcp://127.0.0.1:$A" "info: bridge a's link (bus out, its endpoint)"
is "$(info_val "$SB" link_1)" "bus-in ${P}b=${P}a tcp://127.0.0.1:$A" "info: bridge b's link (bus in, topic, endpoint)"

# --- traffic; watch samples it meanwhile
"$TOOL" sub "${P}b" "$N" 3000 "$tmp/ready" >"$tmp/sub" &
sub=$!; pids="$pids $sub"
wait_for test -e "$tmp/ready"
"$S" watch -n 0.2 "$SB" >"$tmp/watch" 2>&1 &
watcher=$!; pids="$pids $watcher"
"$TOOL" pub "${P}a" "$N" 100 2000 >/dev/null
wait "$sub"
settle b in_msgs
sleep 0.3 # the tables are rewritten every 0.1 s
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null
got=""
want=""
for k in out_msgs out_bytes peers_out drop_hwm; do
    got="$got $k=$(info_val "$SA" $k)"
    want="$want $k=$(stat a $k)"
done
for k in in_msgs in_bytes net_lost drop_busfull peers_in origins; do
    got="$got $k=$(info_val "$SB" $k)"
    want="$want $k=$(stat b $k)"
done
is "$got" "$want" "info prints the counters the stats files hold"
is "$(info_val "$SA" out_msgs) $(info_val "$SA" out_bytes)" "$N $((N * 100))" "info: $N messages, $((N * 100)) bytes out of bridge a"
is "$(info_val "$SB" in_msgs)" "$(field "$(cat "$tmp/sub")" received)" "info: bridge b's in_msgs is what its subscriber received"
names=$("$S" info "$SA" | grep -c -E '^(bad|drop)_[a-z]+: +[0-9]+$')
[ "$names" -ge 10 ]
ok $? "info: drops by reason, each by name ($names counters)"
"$S" info -J "$SA" >"$tmp/info.json"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))["stats"]; sys.exit(0 if d["out_msgs"] == int(sys.argv[2]) and d["links"] == 1 else 1)' \
    "$tmp/info.json" "$N"
ok $? "info -J: valid JSON with the counters as numbers"

grep -Eq " in_msgs_rate=\"[0-9.]*[1-9][0-9.]* msg/s\"" "$tmp/watch"
ok $? "watch: messages per second in while traffic flows"
grep -Eq " in_bytes_rate=\"[0-9.]+ MB/s\"" "$tmp/watch"
ok $? "watch: bytes per second in"
tail -n 1 "$tmp/watch" | grep -q " in_msgs=$(stat b in_msgs) "
ok $? "watch: the last sample's in_msgs is the bridge's count"
tail -n 1 "$tmp/watch" | grep -q ' peers_in=1 .* drop_busfull=[0-9]* .* net_lost=[0-9]* '
ok $? "watch: peers and the drop counters"
"$S" watch --once "$SA" | grep -q " out_msgs=$N .*drop_hwm=0"
ok $? "watch --once: bridge a's out_msgs and drop_hwm"

got=$("$S" ls --posix -o NAME,LAYOUT,DETAIL | grep -F "$SA" | tr -s ' ')
is "$got" "$SA table bridge $(bpid a) (alive), 1 link, peers 1 out 0 in" "ls: the table shows as a bridge (DETAIL)"

is "$(info_val "${P}a" bridged_by)" "$SA (bridge $(bpid a), alive) bus-out tcp://127.0.0.1:$A" \
    "info of the bus: which bridge carries it, how"
is "$(info_val "${P}b" bridged_by)" "$SB (bridge $(bpid b), alive) bus-in tcp://127.0.0.1:$A" \
    "... on the importing side too"

# --- the default name, removed on SIGTERM
"$BR" --bus "${P}d" --bind "tcp://127.0.0.1:$(port 1)" 2>"$tmp/d.err" &
d=$!
pids="$pids $d"
wait_for test -e "/dev/shm/shmkit-bridge-$d"
ok $? "without --stats-name: /shmkit-bridge-$d"
wait_for sh -c "'$S' info /shmkit-bridge-$d | grep -q '^bridge_pid: *$d (alive)'"
ok $? "... its info names the bridge"
kill -TERM "$d"
wait "$d"
is "$?" 0 "... SIGTERM: exit 0"
[ ! -e "/dev/shm/shmkit-bridge-$d" ]
ok $? "... and its table is removed"
"$BR" --bus "${P}d" --bind "tcp://127.0.0.1:$(port 1)" --stats-name "$SA" 2>"$tmp/e"
is "$?" 1 "--stats-name of a live bridge's table: exit 1"
grep -q "in use by another live bridge" "$tmp/e"
ok $? "... saying so"
"$BR" --bus "${P}d" --bind "tcp://127.0.0.1:$(port 1)" --stats-name "${P}a" 2>"$tmp/e"
is "$?" 1 "--stats-name of a bus: exit 1 ($(cat "$tmp/e"))"

# --- kill -9: the table stays, names a dead creator; gc removes it
kill -9 "$(bpid a)"
wait "$(bpid a)" 2>/dev/null
is "$("$S" ls --posix -o NAME,STATUS | grep -F "$SA" | tr -s ' ')" "$SA stale" "kill -9: the table is left, stale (its creator is dead)"
is "$(info_val "$SA" bridge_pid)" "$(bpid a) (dead)" "info: the bridge is dead"
"$S" ls --posix -o NAME,DETAIL | grep -F "$SA" | grep -q "bridge $(bpid a) (dead)"
ok $? "ls: a dead bridge"

# --- hostile: the record scribbled from outside (header 256 + table 128 +
# slot header 64 = the record at byte 448 of the file)
cp "/dev/shm$SA" "$tmp/good"
scribble() { # OFFSET BYTES...: writes the bytes at record offset OFFSET
    off=$((448 + $1)); shift
    printf "$@" | dd of="/dev/shm$SA" bs=1 seek=$off conv=notrunc 2>/dev/null
}
hostile() { # DESCRIPTION
    "$S" info "$SA" >"$tmp/h.out" 2>&1
    rc=$?
    grep -q '(shared structure is corrupted)' "$tmp/h.out" && [ $rc -lt 128 ] &&
        ! grep -q -e '^out_msgs' -e '^link_' "$tmp/h.out"
    ok $? "$1: info says the record is corrupted, prints none of it (exit $rc)"
    "$S" watch --once "$SA" >"$tmp/h.out" 2>&1
    rc=$?
    grep -q 'stats="shared structure is corrupted"' "$tmp/h.out" && [ $rc -lt 128 ]
    ok $? "... watch too (exit $rc)"
    "$S" ls --posix -o NAME,DETAIL | grep -F "$SA" | grep -q "shared structure is corrupted"
    ok $? "... and ls's DETAIL"
    cp "$tmp/good" "/dev/shm$SA"
}
scribble 12 '\377\377\377\377' && hostile "a counter count of 2^32-1"
scribble 16 '\041\000\000\000' && hostile "33 links described (the record has room for 32)"
scribble 20 '\000\000\000\000' && hostile "fewer links in all than described"
scribble 64 '\033[31mred\033[0m' && hostile "a counter name with escape sequences"
scribble 0 'SHMKBRG9' && hostile "a wrong magic"
head -c 9792 /dev/urandom >"$tmp/junk"
dd if="$tmp/junk" of="/dev/shm$SA" bs=1 seek=448 conv=notrunc 2>/dev/null
hostile "a record of random bytes"
scribble 8 '\002\000\000\000'
"$S" info "$SA" 2>&1 | grep -q '(unsupported shmkit format version)'
ok $? "a record of version 2: info says the version is not supported"
cp "$tmp/good" "/dev/shm$SA"

"$S" gc "$SA" >"$tmp/gc" 2>&1
is "$?" 0 "shmkit gc $SA: exit 0"
[ ! -e "/dev/shm$SA" ]
ok $? "... the killed bridge's table is removed"

stop b
is "$stop_rc" 0 "bridge b: SIGTERM, exit 0"
[ ! -e "/dev/shm$SB" ]
ok $? "... its table removed"
left=$(ls /dev/shm | grep -e "^shmkit-bridge-$(bpid a)\$" -e "^shmkit-bridge-$(bpid b)\$" -e "^shmkit-bridge-$d\$")
is "$left" "" "no bridge table left behind"
done_testing
