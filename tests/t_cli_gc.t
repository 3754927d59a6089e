#!/bin/sh
# t_cli_gc.t - `shmkit gc` removes a segment whose creator was killed, and
# keeps one whose creator lives, one that is still mapped, a foreign and a
# corrupt one (those go only when named with --force, and not while mapped).
# Only named segments are collected: other tests run alongside this one.
T=gc
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
K1=$(key 1) K2=$(key 2)
exists() { [ -e "/dev/shm$1" ]; }
sysv_exists() { ipcs -m | awk -v k="$1" '$1 == k {f = 1} END {exit !f}'; }

hold "${P}killed" --size 4K
kill -9 "$hold_pid"; wait "$hold_pid" 2>/dev/null
hold --sysv --key "$K1" --size 4K
kill -9 "$hold_pid"; wait "$hold_pid" 2>/dev/null
hold "${P}live" --size 4K
live_pid=$hold_pid
hold --sysv --key "$K2" --size 4K
"$S" create "${P}mapped" --size 4K >/dev/null
hold "${P}mapped" --size 4K
mapper=$hold_pid
"$S" create "${P}foreign" --size 4K --raw >/dev/null
"$S" create "${P}corrupt" --size 4K >/dev/null
printf 'garbage!' | dd of="/dev/shm${P}corrupt" bs=1 seek=40 conv=notrunc 2>/dev/null
hold "${P}foreignmapped" --size 4K --raw
all="${P}killed ${P}live ${P}mapped ${P}foreign ${P}corrupt ${P}foreignmapped --key $K1 --key $K2"

got=$("$S" ls --posix -r -n -o NAME,STATUS | grep -F "$P" | norm | tr '\n' ' ')
is "$got" "/T-corrupt corrupt /T-foreign foreign /T-foreignmapped foreign /T-killed stale /T-live ok /T-mapped ok " \
    "ls STATUS: killed creator stale, live/mapped ok, foreign, corrupt"

# shellcheck disable=SC2086
"$S" gc --dry-run $all >"$tmp/dry"
ok $? "gc --dry-run exits 0"
norm <"$tmp/dry" | sort >"$tmp/dry.n"
cat >"$tmp/dry.want" <<'W'
kept posix /T-corrupt: corrupt header (name it with --force to remove it)
kept posix /T-foreign: not a shmkit segment (name it with --force to remove it)
kept posix /T-foreignmapped: not a shmkit segment (name it with --force to remove it)
kept posix /T-live: creator pid N is alive
kept posix /T-mapped: mapped by 1 process
kept sysv id N (key KEY): creator pid N is alive
would remove posix /T-killed: creator pid N is gone and nothing maps it
would remove sysv id N (key KEY): creator pid N is gone and nothing maps it
W
diff -u "$tmp/dry.want" "$tmp/dry.n" >"$tmp/d"
ok $? "gc --dry-run says what it would do and why"
sed 's/^/# /' "$tmp/d"
exists "${P}killed" && sysv_exists "$K1"
ok $? "--dry-run removed nothing"

"$S" gc --dry-run >"$tmp/global"
grep -q "^would remove posix ${P}killed:" "$tmp/global" && ! grep -q "${P}live" "$tmp/global" &&
    ! grep -q "${P}mapped" "$tmp/global" && ! grep -q "${P}foreign" "$tmp/global"
ok $? "gc --dry-run over the whole machine lists the killed one, not the others"

# shellcheck disable=SC2086
"$S" gc $all >"$tmp/real"
ok $? "gc exits 0"
! exists "${P}killed" && ! sysv_exists "$K1"
ok $? "the segments whose creator was killed are gone (POSIX and System V)"
exists "${P}live" && sysv_exists "$K2" && exists "${P}mapped" && exists "${P}foreign" &&
    exists "${P}corrupt" && exists "${P}foreignmapped"
ok $? "live creator, still mapped, foreign and corrupt ones are kept"

"$S" gc --force "${P}mapped" "${P}live" "${P}foreignmapped" >"$tmp/forced"
ok $? "gc --force on segments in use exits 0"
exists "${P}mapped" && exists "${P}live" && exists "${P}foreignmapped"
ok $? "--force never removes a mapped segment or one with a live creator"
grep -q "^kept posix ${P}foreignmapped: not a shmkit segment, but still mapped" "$tmp/forced"
ok $? "... and says why: $(grep foreignmapped "$tmp/forced" | norm)"

"$S" gc --force "${P}foreign" "${P}corrupt" >"$tmp/forced"
! exists "${P}foreign" && ! exists "${P}corrupt"
ok $? "gc --force removes named foreign and corrupt segments nobody maps"

kill "$mapper"; wait "$mapper" 2>/dev/null
"$S" gc "${P}mapped" >"$tmp/unmapped"
! exists "${P}mapped"
ok $? "once its last user is gone, the dead creator's segment is collected"
kill "$live_pid"; wait "$live_pid" 2>/dev/null
"$S" gc -v "${P}live" | norm >"$tmp/live"
is "$(cat "$tmp/live")" "removed posix /T-live: creator pid N is gone and nothing maps it" \
    "a creator that exits normally leaves a stale segment that gc removes"
done_testing
