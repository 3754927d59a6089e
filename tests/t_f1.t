#!/bin/sh
# t_f1.t - the F1 weekend: a fixed-seed run checked for invariants (results complete, best lap
# <= every lap, rankings sorted, eliminated cars not in Q3), same seed -> same results, a car
# killed with kill -9 -> OUT and the weekend completes (no gap in the results for it), a late
# board sees the same ranking and maps everything read-only, SIGTERM stops everything, --sysv
# runs the course's IPC_PRIVATE table and leaves nothing in ipcs -m, the segments of a race
# control killed with -9 are removed by the next start, and no segment or process is left
# behind.
build=${SHMKIT_BUILD:-build}
f1=$build/examples/f1
here=$(cd "$(dirname "$0")" && pwd -P)
check=$(dirname "$(readlink -f "$0")")/lib/f1_check.py
[ -x "$f1" ] || { echo "1..0 # SKIP $f1 not built"; exit 77; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 77; }
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"; rm -f /dev/shm/shmkit-t-f1-$$*' EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
waitfor() { # file pattern seconds
    i=0; while ! grep -q "$2" "$1" 2>/dev/null; do i=$((i + 1)); [ $i -gt $(($3 * 20)) ] && return 1; sleep 0.05; done
}
kids() { ps -o pid= --ppid "$1" 2>/dev/null | tr -d ' '; }
running() { [ -e /proc/$1 ] && [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" != Z ]; } # zombies do not count

# 1. fixed seed, every session
"$f1" --cars 6 --laps 5 --speed 2000 --seed 7 --plain --results "$tmp/a" >"$tmp/a.out" 2>&1
t $? "f1 --cars 6 --laps 5 --speed 2000 --seed 7 completes"
out=$(TAP_START=$((n + 1)) python3 "$check" "$tmp/a" practice,q1,q2,q3,race 5 6)
echo "$out"
n=$((n + $(echo "$out" | grep -c '^\(not \)\?ok')))
grep -q '^-- RACE classification (6 cars)' "$tmp/a.out"
t $? "plain output ends with the race classification"
lines=$(wc -l <"$tmp/a.out")
[ "$lines" -lt 120 ]
t $? "plain output stays short ($lines lines)"

# 2. same seed, same results (processes run concurrently; times come from per-car generators)
"$f1" --cars 6 --laps 5 --speed 2000 --seed 7 --plain --results "$tmp/b" >/dev/null 2>&1
same=0
for f in "$tmp"/a/*.csv "$tmp"/a/*.json; do cmp -s "$f" "$tmp/b/${f##*/}" || same=1; done
t $same "same seed twice: identical results files"
"$f1" --cars 6 --laps 3 --speed 2000 --seed 8 --sessions race --plain --results "$tmp/c" >/dev/null 2>&1
"$f1" --cars 6 --laps 3 --speed 2000 --seed 7 --sessions race --plain --results "$tmp/c7" >/dev/null 2>&1; cmp -s "$tmp/c7/race.csv" "$tmp/c/race.csv"
[ $? -ne 0 ]
t $? "another seed: different results"

# 3. kill -9 a car in the middle of the race
name=/shmkit-t-f1-$$-k
"$f1" --cars 5 --laps 8 --speed 300 --sessions race --plain --name $name --results "$tmp/k" >"$tmp/k.out" 2>&1 &
fp=$!; pids="$pids $fp"
waitfor "$tmp/k.out" '^== RACE' 10
sleep 0.5
victim=$(kids $fp | head -1)
[ -n "$victim" ] && kill -9 "$victim"
t $? "kill -9 car process $victim"
wait $fp
t $? "the weekend completes after a car died"
grep -q 'car process died' "$tmp/k.out"
t $? "the ticker reports the dead car"
python3 - "$tmp/k/race.json" <<'PY'
import json, sys
cl = json.load(open(sys.argv[1]))["classification"]
out = [c for c in cl if c["status"] == "OUT"]
sys.exit(0 if len(out) == 1 and cl[-1]["status"] == "OUT" and len(cl) == 5
         and all(c["laps"] == 8 for c in cl if c["status"] == "CLASSIFIED") else 1)
PY
t $? "race results: the dead car is OUT and last, the others finish 8 laps"
python3 - "$tmp/k/race.json" "$tmp/k/race.csv" <<'PY'
import csv, json, sys
cl = json.load(open(sys.argv[1]))["classification"]
rows = list(csv.DictReader(open(sys.argv[2])))
sys.exit(0 if all((c["gap_ms"] is None) == (c["status"] == "OUT") for c in cl)
         and all((r["gap_ms"] == "" and r["laps_behind"] == "") == (r["status"] == "OUT") for r in rows)
         else 1)
PY
t $? "race results: the OUT car has no gap (csv empty, json null), every other car has one"

# 4. a board attached late sees the same ranking
name=/shmkit-t-f1-$$-a
"$f1" --cars 4 --laps 8 --speed 300 --seed 3 --sessions q1,race --plain --name $name --results "$tmp/r" >"$tmp/d.out" 2>&1 &
fp=$!; pids="$pids $fp"
waitfor "$tmp/d.out" '^== RACE' 10
"$f1" --attach=$name --plain >"$tmp/b.out" 2>&1 &
bp=$!; pids="$pids $bp"
waitfor "$tmp/b.out" 'board attached' 10
sleep 0.2
grep ' /dev/shm/' /proc/$bp/maps >"$tmp/maps"
[ "$(wc -l <"$tmp/maps")" -eq 3 ] && ! awk '{print $2}' "$tmp/maps" | grep -q w
t $? "f1 --attach maps its three segments, all read-only: $(awk '{print $2, $6}' "$tmp/maps" | tr '\n' ' ')"
wfd=0
for fd in /proc/$bp/fd/*; do
    case $(readlink "$fd") in
        /dev/shm/*) [ $(($(awk '/^flags/ {print $2}' /proc/$bp/fdinfo/${fd##*/}) % 4)) -ne 0 ] && wfd=1 ;;
    esac
done
t $wfd "f1 --attach holds no shared memory descriptor open for writing"
wait $bp
t $? "f1 --attach=NAME follows the weekend to its end"
wait $fp
t $? "race control completes"
sed -n '/^-- RACE classification/,/^weekend over/p' "$tmp/d.out" | grep -v '^weekend' >"$tmp/d.rank"
sed -n '/^-- RACE classification/,/^board:/p' "$tmp/b.out" | grep -v '^board:' >"$tmp/b.rank"
[ -s "$tmp/d.rank" ] && cmp -s "$tmp/d.rank" "$tmp/b.rank"
t $? "the attached board shows the same race classification ($(wc -l <"$tmp/b.rank") lines)"
grep -q '^\[RACE' "$tmp/b.out"
t $? "the attached board shows the ticker"

# 5. SIGTERM stops everything and removes every segment
name=/shmkit-t-f1-$$-t
"$f1" --cars 4 --speed 60 --plain --name $name --results "$tmp/t" >"$tmp/t.out" 2>&1 &
fp=$!; pids="$pids $fp"
waitfor "$tmp/t.out" '^== PRACTICE' 10
cars=$(kids $fp)
[ -e /dev/shm$name ] && [ -e /dev/shm$name-cars ]
t $? "tables exist while the weekend runs"
kill -TERM $fp
wait $fp
rc=$?
[ $rc -eq 143 ]
t $? "SIGTERM: race control exits 143 (got $rc)"
sleep 0.2
alive=0
for p in $cars; do kill -0 "$p" 2>/dev/null && alive=1; done
t $alive "no car process left"
ls /dev/shm | grep -q "shmkit-t-f1-$$"
[ $? -ne 0 ]
t $? "no segment left behind"

# 6. --sysv: the cars table is shmget(IPC_PRIVATE) + shmat before fork, IPC_RMID at once
"$f1" --sysv --cars 6 --laps 3 --speed 2000 --seed 7 --plain --results "$tmp/s" >"$tmp/s.out" 2>&1 &
fp=$!; pids="$pids $fp"
waitfor "$tmp/s.out" '^== ' 10
rcpid=$(sed -n 's/^tables: \/shmkit-f1-\([0-9]*\) .*/\1/p' "$tmp/s.out")
shmid=$(sed -n 's/.*System V shmid \([0-9]*\) (cars.*/\1/p' "$tmp/s.out")
ipcs -m | awk -v id="$shmid" '$2 == id' >"$tmp/ipcs"
grep -q '^0x00000000 .* dest' "$tmp/ipcs"
t $? "--sysv: the cars table is IPC_PRIVATE (key 0) and already marked for removal: $(cat "$tmp/ipcs")"
"$f1" --attach=/shmkit-f1-$rcpid --plain >"$tmp/sa.out" 2>&1
[ $? -eq 1 ] && grep -q 'runs with --sysv: its cars table is an IPC_PRIVATE System V segment' "$tmp/sa.out"
t $? "--attach to a --sysv weekend says why it cannot: IPC_PRIVATE has no key"
wait $fp
t $? "--sysv: the weekend completes"
out=$(TAP_START=$((n + 1)) python3 "$check" "$tmp/s" practice,q1,q2,q3,race 3 6)
echo "$out"
n=$((n + $(echo "$out" | grep -c '^\(not \)\?ok')))
sleep 0.2
[ -n "$rcpid" ] && [ -z "$(ipcs -m -p | awk -v p="$rcpid" '$3 == p')" ] && [ -z "$(ipcs -m | awk -v id="$shmid" '$2 == id')" ]
t $? "--sysv: nothing left in ipcs -m (shmid $shmid, race control $rcpid)"

# 7. race control killed with -9: the cars die with it, the next start removes its segments
name=/shmkit-t-f1-$$-o
"$f1" --cars 3 --speed 60 --plain --name $name --results "$tmp/o" >"$tmp/o.out" 2>&1 &
fp=$!; pids="$pids $fp"
waitfor "$tmp/o.out" '^== PRACTICE' 10
cars=$(kids $fp)
kill -9 $fp
wait $fp 2>/dev/null
sleep 0.3
alive=0
for p in $cars; do running "$p" && alive=1; done
t $alive "kill -9 race control: no car process left"
[ -e /dev/shm$name ] && [ -e /dev/shm$name-cars ] && [ -e /dev/shm$name-events ]
t $? "kill -9 race control: its three segments are left behind"
"$f1" --cars 2 --laps 1 --speed 2000 --sessions race --plain --name $name --results "$tmp/o2" >"$tmp/o2.out" 2>&1
t $? "the next f1 with that name runs"
grep -q "^f1: removed $name, $name-cars, $name-events: left by a race control that died" "$tmp/o2.out"
t $? "... after removing what the dead race control left"
ls /dev/shm | grep -q "shmkit-t-f1-$$"
[ $? -ne 0 ]
t $? "no segment left behind"
echo "1..$n"
