#!/bin/sh
# t_f1_bridge.t - the F1 weekend watched from a second "host" (`make demo HOST2=1`,
# examples/f1/demo-bridge.sh), non-interactively: race control --feed -> bridge A -> TCP ->
# bridge B -> f1 --mirror -> the board (--plain). In namespaces as root (host B with its own
# network and /dev/shm, CURVE keys), and on loopback with other names (--loopback):
#  - the mirror's results files are the same bytes as race control's, and host B's board
#    shows race control's final classification, line for line;
#  - a car killed with -9 through the bridges: OUT (process died) on host B too;
#  - SIGTERM to the demo mid-weekend: it stops, and removes what it started;
#  - every run: no segment, namespace or process left.
# Skipped (77) when shmkit-bridge is not built (no libzmq).
build=${SHMKIT_BUILD:-build}
f1=$build/examples/f1
demo=$(dirname "$(readlink -f "$0")")/../examples/f1/demo-bridge.sh
[ -x "$f1" ] || { echo "1..0 # SKIP $f1 not built"; exit 77; }
[ -x "$build/bin/shmkit-bridge" ] || { echo "1..0 # SKIP shmkit-bridge not built in $build (no libzmq3-dev?)"; exit 77; }
tmp=$(mktemp -d)
P=/shmkit-t-f1br-$$
dpid=""
trap '[ -n "$dpid" ] && kill -TERM $dpid 2>/dev/null && wait $dpid; rm -rf "$tmp"; rm -f /dev/shm$P*' EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
# from /proc, one process each (no procps needed): the processes whose command line holds
# the word $1, and the children of process $1
procs() { grep -l -a -e "$1" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,/proc/\([0-9]*\)/.*,\1,'; }
children() { awk -v p="$1" '$4 == p {print $1}' /proc/[0-9]*/stat 2>/dev/null; }
# nothing of run $1 left: segments, namespaces, processes
left() {
    ls /dev/shm | grep -q "${P#/}-$1"
    t $((! $?)) "$1: no segment left"
    ip netns list 2>/dev/null | grep -q "^shmkit-demo-$2-"
    t $((! $?)) "$1: no namespace left"
    # "[/]..." matches the name, and not the command line of the grep looking for it
    t "$(procs "[/]${P#/}-$1" | wc -l)" "$1: no process left (race control, cars, bridges, mirror, board)"
}
# run NAME [DEMO OPTIONS] -- [F1 OPTIONS]: the demo in the background, its pid in $dpid
run() {
    name=$1; shift
    rm -rf "$tmp/$name"; mkdir "$tmp/$name"
    sh "$demo" --build "$build" --plain --name "$P-$name" --log "$tmp/$name/a.log" \
        --results2 "$tmp/$name/r2" "$@" >"$tmp/$name/b.out" 2>"$tmp/$name/err" &
    dpid=$!
}
finish() { wait "$dpid"; rc=$?; dpid_was=$dpid; dpid=""; return $rc; }
rank() { sed -n '/^-- RACE classification/,/^[a-z]/p' "$1" | grep -v '^[a-z]'; }
same_results() {
    d=$tmp/$1
    [ -n "$(ls "$d/r1")" ] || return 1
    for f in "$d"/r1/*; do cmp -s "$f" "$d/r2/${f##*/}" || return 1; done
    [ "$(ls "$d/r1" | wc -l)" -eq "$(ls "$d/r2" | wc -l)" ]
}
check_run() { # name label
    diag "$(cat "$tmp/$1/err")"
    same_results "$1"
    t $? "$2: host B's mirror wrote the same results as race control ($(ls "$tmp/$1/r1" | tr '\n' ' '))"
    rank "$tmp/$1/a.log" >"$tmp/$1/a.rank"
    rank "$tmp/$1/b.out" >"$tmp/$1/b.rank"
    [ -s "$tmp/$1/a.rank" ] && cmp -s "$tmp/$1/a.rank" "$tmp/$1/b.rank"
    t $? "$2: host B's board shows race control's race classification ($(wc -l <"$tmp/$1/b.rank") lines)"
    grep -q 'f1: mirror: .* lost=0 bad=0 ' "$tmp/$1/err"
    t $? "$2: no message lost or bad on the way"
}

# 1. namespaces where they work (the script says which ran), a fixed seed, two sessions
run ns -- --cars 4 --laps 3 --speed 2000 --seed 5 --sessions q1,race --results "$tmp/ns/r1"
finish
t $? "the demo through two bridges completes"
if grep -q 'network namespace' "$tmp/ns/err"; then
    diag "ran in network + mount namespaces"
else
    diag "namespaces unavailable: this run was on loopback too"
fi
check_run ns "namespaces"
left ns "$dpid_was"

# 2. loopback, same /dev/shm, other names
run lo --loopback -- --cars 5 --laps 2 --speed 2000 --seed 9 --sessions practice,race --results "$tmp/lo/r1"
finish
t $? "--loopback: the demo completes"
grep -q 'namespaces unavailable (--loopback given).*named' "$tmp/lo/err"
t $? "--loopback: it says so, and the names host B uses"
check_run lo "loopback"
left lo "$dpid_was"

# 3. kill -9 of a car in the middle of the race: OUT on host B too
run kill -- --cars 4 --laps 12 --speed 250 --seed 3 --sessions race --results "$tmp/kill/r1"
i=0
until grep -q '^== RACE' "$tmp/kill/a.log" 2>/dev/null; do i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.05; done
sleep 0.5
rcp="" victim=""
for p in $(children "$dpid"); do grep -q -a -e --feed "/proc/$p/cmdline" 2>/dev/null && rcp=$p; done
[ -n "$rcp" ] && victim=$(children "$rcp" | head -1)
[ -n "$victim" ] && kill -9 "$victim"
t $? "kill -9 car process $victim of race control $rcp"
finish
t $? "the weekend completes after the car died"
check_run kill "a car killed"
grep -q 'OUT (process died)$' "$tmp/kill/b.rank" && grep -q 'car process died' "$tmp/kill/b.out"
t $? "host B's board: the dead car is OUT (process died), and the ticker said so"
left kill "$dpid_was"

# 4. SIGTERM to the demo mid-weekend
run term -- --cars 4 --laps 20 --speed 100 --sessions race --results "$tmp/term/r1"
i=0
until grep -q '^== RACE' "$tmp/term/a.log" 2>/dev/null; do i=$((i + 1)); [ $i -gt 300 ] && break; sleep 0.05; done
sleep 0.3
kill -TERM "$dpid"
finish
rc=$?
[ $rc -ne 0 ] && grep -q 'stopped; removing what it started' "$tmp/term/err"
t $? "SIGTERM: the demo stops (status $rc)"
left term "$dpid_was"
grep -l 'Sanitizer\|runtime error' "$tmp"/*/* >/dev/null 2>&1
t $((! $?)) "no sanitizer report from race control, the mirror or the board"
echo "1..$n"
