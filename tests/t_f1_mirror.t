#!/bin/sh
# t_f1_mirror.t - f1 --mirror against hostile input (the feed comes over the network): garbage,
# truncated messages, bad magic/version/type/length, out-of-range indexes and fields in race
# control, car and event records, a second geometry - each dropped and counted by reason,
# exactly, while the good messages around them build tables that a board shows (a dead car
# as OUT, an unterminated event text cut); then how a mirror ends: END, the feed's end of
# stream, silence (--idle), SIGTERM - every time with its tables removed. No bridge needed:
# the messages go through a local bus (f1 --inject). Needs python3 to make the messages.
build=${SHMKIT_BUILD:-build}
f1=$build/examples/f1
[ -x "$f1" ] || { echo "1..0 # SKIP $f1 not built"; exit 77; }
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 77; }
tmp=$(mktemp -d)
P=/shmkit-t-f1-mirror-$$
pids=""
trap 'exec 3>&- 2>/dev/null; for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"; rm -f /dev/shm$P*' EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi; }
diag() { printf '%s\n' "$@" | sed 's/^/# /'; }
waitfile() { i=0; while [ ! -e "$1" ]; do i=$((i + 1)); [ $i -gt 200 ] && return 1; sleep 0.05; done; }

# gen.py MODE: length-prefixed feed messages on stdout (the layout of examples/f1/f1.h, struct
# f1_feed_hdr and the records; x86-64/arm64 little-endian); the counts the mirror must report
# go to the file named by $EXPECT.
cat >"$tmp/gen.py" <<'PY'
import os, struct, sys, time
HDR, CTL, CAR, EV, END = "<IBBBBIIq", 1, 2, 3, 4
MAGIC = 0x44463146
out, tally = [], {}
def now(): return time.clock_gettime_ns(time.CLOCK_MONOTONIC)
def msg(raw, why):
    out.append(raw); tally[why] = tally.get(why, 0) + 1
def hdr(typ, body, index=0, flags=0, magic=MAGIC, version=1, length=None, sent=None):
    return struct.pack(HDR, magic, version, typ, flags, 0, index,
                       len(body) if length is None else length, now() if sent is None else sent) + body
def ctl(state=3, session=1, kind=4, laps=5, ncars=3, nsessions=1, kinds=(4, 0, 0, 0, 0),
        start=0, speed=200.0, part=None, grid=None, events=2):
    part = part or ([1] * ncars + [0] * 20)[:20]
    grid = grid or ([i + 1 for i in range(ncars)] + [0] * 20)[:20]
    return struct.pack("<7i5iqdQ20i20iiiq", state, session, kind, laps, ncars, laps, nsessions,
                       *kinds, start, speed, 7, *part, *grid, 1, 0, events)
def car(i, lap=5, cause=0, sector=0, best=90000 + 0, tweak=None):
    laps = [0] * 100; tot = [0] * 100
    for l in range(1, lap + 1): laps[l] = best + 100 * i + l; tot[l] = tot[l - 1] + laps[l]
    f = dict(index=i, number=0, session=1, running=1, lap=lap, sector=sector, in_pit=0, out=0,
             cause=cause, done=1, pits=0, pad=0)
    t = dict(cur=[0, 0, 0], last=[30000, 30000, 30000], bests=[29000, 30000, 31000],
             last_lap=laps[lap] if lap <= 99 and lap >= 0 else 0, best_lap=best + 100 * i,
             total=tot[lap] if 0 <= lap <= 99 else 0)
    if tweak: tweak(f, t, tot)
    return struct.pack("<12i9q3q100q100q", *f.values(), *t["cur"], *t["last"], *t["bests"],
                       t["last_lap"], t["best_lap"], t["total"], *tot, *laps)
def ev(seq, text=b"PIT      #1 VER pit stop 1", kind=4, carno=0, lap=2):
    return struct.pack("<q4i80s", seq, 1, kind, carno, lap, text)
def set_(k, v): return lambda f, t, tot: f.__setitem__(k, v)

mode = sys.argv[1]
if mode == "batch1":
    msg(hdr(CAR, car(0)), "early")                      # before any race control record
    msg(b"\x01\x02\x03", "short")
    msg(os.urandom(200), "magic")
    msg(hdr(CTL, ctl(), magic=0x12345678), "magic")
    msg(hdr(CTL, ctl(), version=9), "version")
    msg(hdr(9, ctl()), "type")
    msg(hdr(0, b""), "type")
    msg(hdr(CTL, ctl()[:100], length=248), "length")    # truncated: says 248, holds 100
    msg(hdr(CTL, ctl() + b"xx"), "length")              # two bytes too many
    msg(hdr(CAR, car(0)[:1000]), "length")              # a car record cut short
    msg(hdr(END, b"x"), "length")                       # END carries nothing
    for bad in (dict(ncars=0), dict(ncars=21), dict(kind=9), dict(state=7), dict(state=-1),
                dict(speed=float("nan")), dict(speed=0.0), dict(laps=100), dict(nsessions=6),
                dict(session=2), dict(kinds=(7, 0, 0, 0, 0)), dict(part=[2] + [0] * 19),
                dict(grid=[21] + [0] * 19), dict(events=-5),
                dict(state=1, start=now() - 2 * 86400 * 10**9)):   # a session 2 days old
        msg(hdr(CTL, ctl(**bad)), "range")
    msg(hdr(CTL, ctl(), sent=-1), "range")
    msg(hdr(CTL, ctl()), "applied")                     # the tables: 3 cars, race over
    msg(hdr(CTL, ctl(ncars=4)), "geometry")
    for i in range(3):
        msg(hdr(CAR, car(i), index=i, flags=1 if i == 2 else 0), "applied")  # car 2 died
    msg(hdr(CAR, car(1), index=3), "geometry")
    msg(hdr(CAR, car(1), index=1000000), "geometry")
    msg(hdr(CAR, car(1), index=0), "range")             # record of car 1 sent as car 0
    for tw in (set_("lap", 100), set_("lap", -1), set_("cause", -1), set_("cause", 5),
               set_("sector", 9), set_("session", -3), set_("pits", -1),
               lambda f, t, tot: tot.__setitem__(99, 1 << 62),
               lambda f, t, tot: t.__setitem__("best_lap", -90000),
               lambda f, t, tot: t["cur"].__setitem__(1, -1)):
        msg(hdr(CAR, car(0, tweak=tw), index=0), "range")
    msg(hdr(EV, ev(0)), "range")
    msg(hdr(EV, ev(1, kind=9)), "range")
    msg(hdr(EV, ev(1, carno=3)), "range")
    msg(hdr(EV, ev(1, lap=-2)), "range")
    msg(hdr(EV, ev(1)), "applied")
    msg(hdr(EV, ev(2, text=b"Z" * 80, carno=-1, kind=-1)), "applied")  # no NUL: cut at 79
    msg(hdr(EV, ev(1)), "applied")                      # a repeat (keyframe): harmless
    msg(hdr(CAR, car(2, lap=1), index=2), "applied")    # dead: ignored, counted applied
elif mode == "end":
    msg(hdr(END, b""), "applied")
elif mode == "ctl":
    msg(hdr(CTL, ctl(state=0, session=0)), "applied")
for m in out:
    sys.stdout.buffer.write(struct.pack("<I", len(m)) + m)
sys.stdout.flush()
with open(os.environ["EXPECT"], "a") as f:
    for k, v in sorted(tally.items()): f.write("%s %d\n" % (k, v))
PY
gen() { EXPECT="$tmp/expect" python3 "$tmp/gen.py" "$1"; }
# the counts the mirror printed, in the generator's "reason count" form
counts() {
    sed -n 's/^f1: mirror: messages=[0-9]* bytes=[0-9]* \(.*\)$/\1/p' "$1" | tr -d '()' | tr ' ' '\n' |
        grep -v '^bad=\|^lost=' | grep -v '=0$' | tr '=' ' ' | sort
}
expected() { awk '{s[$1] += $2} END {for (k in s) print k, s[k]}' "$tmp/expect" | sort; }

# 1. hostile messages among good ones, then END
rm -f "$tmp/expect"
"$f1" --mirror=$P-feed --name $P --idle 20 >"$tmp/m.out" 2>"$tmp/m.err" &
mp=$!; pids="$pids $mp"
waitfile /dev/shm$P-feed
mkfifo "$tmp/fifo"
"$f1" --inject=$P-feed <"$tmp/fifo" 2>"$tmp/inj.err" &
ip=$!; pids="$pids $ip"
exec 3>"$tmp/fifo"
gen batch1 >&3
waitfile /dev/shm$P-events
t $? "the first good race control record makes the mirror's tables"
for i in 1 2 3 4 5 6 7 8 9 10; do
    "$f1" --attach=$P --plain >"$tmp/b.out" 2>&1
    brc=$?
    grep -q 'OUT (process died)' "$tmp/b.out" && grep -q 'ZZZZ' "$tmp/b.out" && break
    sleep 0.2
done
t $brc "a board attached to the mirror ends: the fed weekend is over"
grep -q '^-- RACE classification (3 cars)' "$tmp/b.out" && [ "$(grep -c '^ *[123]  ' "$tmp/b.out")" -eq 3 ]
t $? "the board shows the three good cars"
grep -q '^ *3 .*OUT (process died)$' "$tmp/b.out" && [ "$(grep -c 'OUT (process died)' "$tmp/b.out")" -eq 1 ]
t $? "the car fed as dead is OUT (process died) here too (its record's owner, a stand-in, died)"
grep -q '^ *1 .* LEADER .* 5 $' "$tmp/b.out"
t $? "no hostile car record reached the table (the leader has its 5 good laps)"
grep -q '^\[RACE L2\] PIT      #1 VER pit stop 1$' "$tmp/b.out" && grep -qx "$(printf 'Z%.0s' $(seq 79))" "$tmp/b.out"
t $? "the events: the good one, and an unterminated text cut at 79 characters"
gen end >&3
exec 3>&-
wait $mp
t $? "END: the mirror exits 0"
wait $ip
diag "$(cat "$tmp/m.err")"
counts "$tmp/m.err" >"$tmp/got"
expected >"$tmp/want"
cmp -s "$tmp/got" "$tmp/want"
t $? "every message counted by reason, exactly: $(tr '\n' ' ' <"$tmp/want")"
[ -z "$(grep -v ' 0$' "$tmp/got" | grep '^lost ')" ] && grep -q 'lost=0 ' "$tmp/m.err"
t $? "nothing lost on the bus"
ls /dev/shm | grep -q "${P#/}"
t $((! $?)) "the mirror removed its tables and the bus it made"

# 2. end of stream: the feed's publisher closes
rm -f "$tmp/expect"
"$f1" --mirror=$P-feed --name $P --idle 20 >"$tmp/m.out" 2>"$tmp/m.err" &
mp=$!; pids="$pids $mp"
waitfile /dev/shm$P-feed
gen ctl | "$f1" --inject=$P-feed 2>>"$tmp/inj.err"
wait $mp
rc=$?
[ $rc -eq 0 ] && grep -q 'the feed ended (its publisher closed' "$tmp/m.err"
t $? "the feed's publisher closes: the mirror ends, status 0 ($rc)"
ls /dev/shm | grep -q "${P#/}"
t $((! $?)) "... its tables removed"

# 3. silence
"$f1" --mirror=$P-feed --name $P --idle 0.5 >"$tmp/m.out" 2>"$tmp/m.err"
rc=$?
[ $rc -eq 1 ] && grep -q 'nothing from .* for 0.5 s: giving up' "$tmp/m.err"
t $? "--idle 0.5 and no feed: the mirror gives up, status 1 ($rc)"
ls /dev/shm | grep -q "${P#/}"
t $((! $?)) "... and leaves nothing"

# 4. SIGTERM with tables made
"$f1" --mirror=$P-feed --name $P --idle 20 >"$tmp/m.out" 2>"$tmp/m.err" &
mp=$!; pids="$pids $mp"
waitfile /dev/shm$P-feed
"$f1" --inject=$P-feed <"$tmp/fifo" 2>>"$tmp/inj.err" &
ip=$!; pids="$pids $ip"
exec 3>"$tmp/fifo"
gen ctl >&3
waitfile /dev/shm$P-events
kill -TERM $mp
wait $mp
rc=$?
t $((rc != 143)) "SIGTERM: the mirror exits 143 ($rc)"
exec 3>&-
wait $ip
ls /dev/shm | grep -q "${P#/}"
t $((! $?)) "... its tables removed"
cat "$tmp"/*.err "$tmp"/*.out 2>/dev/null | grep -q 'Sanitizer\|runtime error'
t $((! $?)) "no sanitizer report from the mirror, the board or f1 --inject"
echo "1..$n"
