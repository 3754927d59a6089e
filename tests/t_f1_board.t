#!/bin/sh
# t_f1_board.t - the F1 board on a real (pseudo-)terminal, in tmux: at 80x24 and at 160x50 the
# title stays on the first line and the leader is on screen, no line is wider than the
# terminal, the board says what it hides, and a resize is redrawn. Skipped without tmux
# (tests/setup-deps installs it).
build=${SHMKIT_BUILD:-build}
f1=$(cd "$(dirname "$build/examples/f1")" 2>/dev/null && pwd -P)/f1
[ -x "$f1" ] || { echo "1..0 # SKIP $build/examples/f1 not built"; exit 77; }
command -v tmux >/dev/null || { echo "1..0 # SKIP tmux missing"; exit 77; }
tmp=$(mktemp -d)
sock=shmkit-t-f1-board-$$
name=/shmkit-t-f1-board-$$
tm() { tmux -L "$sock" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; rm -rf "$tmp"; rm -f /dev/shm$name /dev/shm$name-*' EXIT
n=0
t() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; sed 's/^/# /' "$tmp/screen"; fi; }
# waits until the screen shows the race, a leader and events; leaves it in $tmp/screen
race_screen() {
    i=0
    while [ $i -lt 100 ]; do
        tm capture-pane -p -t f1 >"$tmp/screen" 2>/dev/null
        head -1 "$tmp/screen" | grep -q '^shmkit F1  RACE' && grep -q LEADER "$tmp/screen" &&
            grep -q '^EVENTS' "$tmp/screen" && return 0
        i=$((i + 1)); sleep 0.1
    done
    return 1
}
check_size() { # cols rows
    race_screen
    t $? "$1x$2: the race and its leader are on screen"
    head -1 "$tmp/screen" | grep -q "^shmkit F1  RACE LAP .* $name"
    t $? "$1x$2: the title is on the first line"
    [ "$(awk -v w="$1" 'length($0) > w' "$tmp/screen" | wc -l)" -eq 0 ] &&
        [ "$(wc -l <"$tmp/screen")" -le "$2" ]
    t $? "$1x$2: nothing wider or taller than the terminal"
    grep -q '^ *1 .*LEADER' "$tmp/screen"
    t $? "$1x$2: P1 is the leader"
}

# 20 cars and the race only: about 8 s of racing at x200, then the final frame for 2 s
tm new-session -d -s f1 -x 80 -y 24 \
    "'$f1' --cars 20 --laps 12 --speed 200 --sessions race --name $name --results '$tmp/r'; sleep 30"
check_size 80 24
grep -q '^not shown: P1[0-9]-P20 (24 rows), sectors (80 columns); ' "$tmp/screen"
t $? "80x24: the board says which rows and columns it hides"
! grep -q ' S1 ' "$tmp/screen"
t $? "80x24: compact layout (no sector columns)"

tm resize-window -t f1 -x 160 -y 50
sleep 0.3
check_size 160 50
grep -q ' S1 .* S2 .* S3 ' "$tmp/screen" && grep -q '^EVENTS' "$tmp/screen" && ! grep -q '^not shown' "$tmp/screen" &&
    [ "$(grep -c '^ *[0-9][0-9]* .*[0-9]$\|OUT\|PIT\|DNF' "$tmp/screen")" -ge 20 ]
t $? "160x50 after a resize: full layout, all 20 cars, the events"

tm resize-window -t f1 -x 80 -y 24
sleep 0.3
check_size 80 24
tm kill-server 2>/dev/null
sleep 0.3
ls /dev/shm | grep -q "shmkit-t-f1-board-$$"
[ $? -ne 0 ]
t $? "the board's segments are gone once it is closed"
echo "1..$n"
