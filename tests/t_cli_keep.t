#!/bin/sh
# t_cli_keep.t - persistent segments (issue 12 point 4): `create --keep`
# records the header flag; ls shows it (PERSIST column, STATUS persistent
# once the creator is gone), info too; plain gc keeps such a segment whose
# creator died, and says so; `gc --older-than DURATION` removes stale and
# persistent segments only once their header's creation time is at least
# DURATION ago. The test cannot wait hours: the segments are made, then
# the test sleeps 2 s and compares --older-than 1h (kept) with
# --older-than 1s and 0s (removed). Only named segments are collected.
T=keep
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
K1=$(key 1)
exists() { [ -e "/dev/shm$1" ]; }
sysv_exists() { ipcs -m | awk -v k="$1" '$1 == k {f = 1} END {exit !f}'; }

hold "${P}kept" --size 4K --keep
kill -9 "$hold_pid"; wait "$hold_pid" 2>/dev/null
hold --sysv --key "$K1" --size 4K --keep
kill -9 "$hold_pid"; wait "$hold_pid" 2>/dev/null
hold "${P}livekept" --size 4K --keep
"$S" create "${P}stale" --size 4K >/dev/null
"$S" create "${P}young" --size 4K >/dev/null
"$S" create "${P}ring" --ring 1K --keep >/dev/null
ok $? "create --ring --keep"
"$S" create "${P}foreign" --raw --size 4K >/dev/null

got=$("$S" ls --posix -r -n -o NAME,STATUS,PERSIST | grep -F "$P" | norm | tr '\n' ' ')
is "$got" "/T-foreign foreign - /T-kept persistent yes /T-livekept ok yes /T-ring persistent yes /T-stale stale no /T-young stale no " \
    "ls: STATUS persistent once the creator is gone, PERSIST yes/no"
got=$("$S" ls --sysv -r -n -o KEY,STATUS,PERSIST | grep "^$K1 ")
is "$got" "$K1 persistent yes" "ls --sysv: a persistent System V segment"
is "$("$S" info "${P}kept" | grep '^persistent:')" "persistent:     yes" "info says persistent: yes"
is "$("$S" info "${P}stale" | grep '^persistent:')" "persistent:     no" "... and no for a plain one"
"$S" info -J "${P}kept" | "$PY" -c 'import json,sys; assert json.load(sys.stdin)["segment"]["persistent"] == "yes"'
ok $? "info -J: \"persistent\": \"yes\""

"$S" gc "${P}kept" "${P}ring" --key "$K1" "${P}stale" >"$tmp/gc1"
ok $? "gc of named segments exits 0"
norm <"$tmp/gc1" | sort >"$tmp/gc1.n"
cat >"$tmp/gc1.want" <<'W'
kept posix /T-kept: persistent (creator pid N is gone; remove it with gc --older-than DURATION or rm)
kept posix /T-ring: persistent (creator pid N is gone; remove it with gc --older-than DURATION or rm)
kept sysv id N (key KEY): persistent (creator pid N is gone; remove it with gc --older-than DURATION or rm)
removed posix /T-stale: creator pid N is gone and nothing maps it
W
diff -u "$tmp/gc1.want" "$tmp/gc1.n" | sed 's/^/# /'
cmp -s "$tmp/gc1.want" "$tmp/gc1.n"
ok $? "plain gc keeps persistent segments whose creator died (and says so), removes the stale one"
exists "${P}kept" && exists "${P}ring" && sysv_exists "$K1" && ! exists "${P}stale"
ok $? "... the persistent ones are still there"
"$S" gc --dry-run | norm | grep -qxF "kept posix /T-kept: persistent (creator pid N is gone; remove it with gc --older-than DURATION or rm)"
ok $? "gc without names (and without -v) also says why it keeps a persistent segment"

"$S" gc --older-than 1h "${P}kept" "${P}young" >"$tmp/gc2"
ok $? "gc --older-than 1h exits 0"
got=$(norm <"$tmp/gc2" | sed -E 's/created [0-9]+s ago/created Ns ago/' | sort | tr '\n' '|')
is "$got" "kept posix /T-kept: persistent, created Ns ago, not older than 1h|kept posix /T-young: created Ns ago, not older than 1h|" \
    "--older-than 1h keeps young segments, persistent or not"
exists "${P}kept" && exists "${P}young"
ok $? "... both still there"

sleep 2
"$S" gc --older-than 1s "${P}kept" --key "$K1" >"$tmp/gc3"
ok $? "gc --older-than 1s exits 0"
got=$(norm <"$tmp/gc3" | sed -E 's/created [0-9]+s ago/created Ns ago/' | sort | tr '\n' '|')
is "$got" "removed posix /T-kept: persistent, creator pid N is gone, nothing maps it, created Ns ago|removed sysv id N (key KEY): persistent, creator pid N is gone, nothing maps it, created Ns ago|" \
    "--older-than 1s removes persistent segments created 2 s ago (POSIX and System V)"
! exists "${P}kept" && ! sysv_exists "$K1"
ok $? "... they are gone"
"$S" gc --older-than 0 "${P}young" "${P}ring" "${P}livekept" -v >"$tmp/gc4"
ok $? "gc --older-than 0"
! exists "${P}young" && ! exists "${P}ring"
ok $? "--older-than 0 removes any age, stale and persistent"
is "$(norm <"$tmp/gc4" | grep livekept)" "kept posix /T-livekept: creator pid N is alive" \
    "--older-than never removes a persistent segment whose creator lives"
"$S" gc --older-than 0 --force "${P}foreign" >"$tmp/gc5"
is "$(norm <"$tmp/gc5")" "kept posix /T-foreign: not a shmkit segment: no creation time to compare with --older-than" \
    "--older-than with --force keeps a foreign segment (no creation time)"

for d in 90s 10m 2h 3d 7; do "$S" gc --dry-run --older-than "$d" "${P}livekept" >/dev/null || echo "$d"; done >"$tmp/durs"
is "$(cat "$tmp/durs")" "" "--older-than accepts 90s, 10m, 2h, 3d and plain seconds"
"$S" gc --older-than 5x "${P}livekept" 2>"$tmp/bad.err"
is $? 1 "--older-than 5x is a usage error"
is "$(head -1 "$tmp/bad.err")" "shmkit: --older-than: '5x': expected a duration like 90s, 10m, 2h or 3d" "... saying what it expects"
"$S" gc --older-than -1s "${P}livekept" 2>/dev/null
is $? 1 "--older-than -1s is a usage error"

"$S" create "${P}plain" --size 4K >/dev/null
"$S" create "${P}plain" --size 4K --keep 2>"$tmp/keep.err"
is $? 1 "create --keep of an existing segment that is not persistent fails"
is "$(cat "$tmp/keep.err")" "shmkit: ${P}plain: already exists and is not persistent (--keep applies only when creating: remove it first, or use --excl)" \
    "... naming it and saying why"
is "$("$S" info "${P}plain" | grep '^persistent:')" "persistent:     no" "... and leaves it as it was"
"$S" create "${P}raw" --raw --keep --size 4K 2>/dev/null
is $? 1 "create --keep --raw is a usage error"
! exists "${P}raw"
ok $? "... and creates nothing"
done_testing
