#!/bin/sh
# t_examples_rpc.t - the race control service (examples/race_control.c):
# a client that starts first waits for the server, questions from the
# example's own client and from `shmkit call` are answered from an epoll
# loop that also runs the race on a timerfd, `shmkit info` shows the
# endpoint, and the server removes its name at the end.
build=${SHMKIT_BUILD:-build}
ex=$build/examples/race_control
cli=$build/bin/shmkit
[ -x "$ex" ] || { echo "1..0 # SKIP examples not built"; exit 77; }
tmp=$(mktemp -d)
name=/shmkit-t-rc-$$
trap 'rm -rf "$tmp"; rm -f /dev/shm$name' EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; sed 's/^/# /' "$tmp/out"; fi; }
echo "1..7"

"$ex" ask $name 7 >"$tmp/early" 2>&1 &
early=$!
sleep 0.2
"$ex" serve $name 2 >"$tmp/serve" 2>&1 &
srv=$!
wait $early
rc=$?
cp "$tmp/early" "$tmp/out"
[ $rc -eq 0 ] && grep -q "^car 7, [0-9]* laps" "$tmp/out"
t $? "a client started before the server waits for it and is answered"
sleep 1
"$ex" ask $name 3 >"$tmp/out" 2>&1 && grep -q "^car 3, [1-9][0-9]* laps: 1:[23][0-9]\.[0-9][0-9][0-9]" "$tmp/out"
t $? "lap times of car 3 while the race runs (the timer advances it)"
printf 'car 12' | "$cli" call $name >"$tmp/out" 2>&1 && grep -q "^car 12, " "$tmp/out"
t $? "shmkit call asks the same service"
printf 'pit stop?' | "$cli" call $name >"$tmp/out" 2>&1 && grep -q "ask 'car N'" "$tmp/out"
t $? "a question it does not know gets an explanation"
"$cli" info $name >"$tmp/out" 2>&1 && grep -q "rpc" "$tmp/out" && grep -q "clients: *0 of 16" "$tmp/out" &&
    grep -q "server: *$srv (alive)" "$tmp/out"
t $? "shmkit info shows the endpoint, its clients and its live server"
wait $srv
rc=$?
cp "$tmp/serve" "$tmp/out"
[ $rc -eq 0 ] && grep -q "chequered flag after 20 laps, [34] questions answered" "$tmp/out"
t $? "the race ends after 20 laps with every question answered"
[ ! -e /dev/shm$name ]
t $? "the server removed its name"
