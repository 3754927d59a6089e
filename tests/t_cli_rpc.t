#!/bin/sh
# t_cli_rpc.t - what the CLI shows of a live RPC endpoint (issue 13 pt 3):
# served by examples/race_control, asked 130 times by `shmkit call` (one
# process each, all in slot 0: the slot's calls 64 and 128 are timed), `ls`
# shows its clients, pending calls and live server, `info` the 2 latency
# samples and their average, `watch` the calls per second and the average
# latency of each interval ("-" in an interval without a timed call).
T=rpc
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
ex="$SHMKIT_BUILD/examples/race_control"
[ -x "$ex" ] || { echo "1..0 # SKIP $ex not built"; exit 77; }
name="${P}svc"

"$ex" serve "$name" 60 >"$tmp/serve" 2>&1 &
srv=$!
held="$held $srv"
wait_for sh -c "'$S' info '$name' | grep -q '^server: *$srv (alive)'"
ok $? "race_control serves $name"
got=$("$S" ls --posix -o NAME,CLIENTS,PENDING,DETAIL | grep -F "$name" | tr -s ' ')
is "$got" "$name 0 0 clients 0/16, pending 0, server alive" "ls: no client, nothing pending, server alive"
"$S" watch --once "$name" >"$tmp/once"
grep -q ' lat_samples=0 latency=-$' "$tmp/once"
ok $? "watch --once before any call: lat_samples=0 latency=-"

"$S" watch -n 0.25 "$name" >"$tmp/watch" 2>&1 &
watcher=$!
held="$held $watcher"
good=0
i=0
while [ $i -lt 130 ]; do
    printf 'car 3' | "$S" call "$name" >"$tmp/ans" 2>&1 && grep -q '^car 3, ' "$tmp/ans" && good=$((good + 1))
    i=$((i + 1))
done
is "$good" 130 "130 calls by shmkit call answered"
sleep 0.8 # the watcher samples at least twice with no call in between
kill "$watcher" 2>/dev/null
wait "$watcher" 2>/dev/null

got=$("$S" info "$name" | grep -e '^calls:' -e '^replies:' -e '^lat_samples:' | tr -s ' ')
is "$got" "calls: 130
replies: 130
lat_samples: 2" "info: 130 calls, 2 of them timed (slot 0's 64th and 128th)"
"$S" info "$name" | grep -Eq '^latency: +[0-9.]+ (ns|us|ms)$'
ok $? "info: their average latency ($("$S" info "$name" | grep '^latency:' | tr -s ' '))"
"$S" info -J "$name" | grep -Eq '"lat_samples": 2, "latency": "[0-9.]+ (ns|us|ms)"'
ok $? "info -J: lat_samples and latency"

grep -Eq ' call_rate="[0-9.]+ calls/s"' "$tmp/watch"
ok $? "watch: calls per second"
grep -Eq ' lat_samples=[12] latency="[0-9.]+ (ns|us|ms)"' "$tmp/watch"
ok $? "watch: the average latency of an interval with a timed call"
tail -n 1 "$tmp/watch" | grep -q ' lat_samples=2 latency=-$'
ok $? "watch: '-' in an interval without one (the last sample)"
[ "$(grep -c . "$tmp/watch")" -ge 3 ]
ok $? "watch printed a line per sample ($(grep -c . "$tmp/watch") lines)"

kill "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
"$S" rm "$name" 2>/dev/null
done_testing
