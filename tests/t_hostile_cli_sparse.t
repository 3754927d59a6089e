#!/bin/sh
# t_hostile_cli_sparse.t - read-only commands never fill /dev/shm from a
# sparse segment (issue 10, finding 6, the CLI's part). On a 4 MiB tmpfs
# (private mount namespace): shmkit segments of 64 MiB and 100 GiB made with
# --noreserve (only the header page is allocated), one sealed, and foreign
# ones made by truncate(1). info, cat and dump (to /dev/null), watch --once,
# verify and ls succeed, never die of SIGBUS, /dev/shm's usage does not grow
# by one block, and a 1 MiB segment can still be made afterwards.
T=sparse
. "$(dirname "$(readlink -f "$0")")/cli/private-shm.sh"
private_shm 4m
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
used() { df -k --output=used /dev/shm | tail -1 | tr -d ' '; }

"$S" create /sp64 --size 64M --noreserve >/dev/null &&
    "$S" create /sp100g --size 100G --noreserve >/dev/null &&
    "$S" create /sp64s --size 64M --noreserve --seal >/dev/null &&
    truncate -s 64M /dev/shm/fsp64 && truncate -s 100G /dev/shm/fsp100g
ok $? "sparse segments: 64 MiB and 100 GiB with a header (one sealed), and foreign ones"
u0=$(used)
diag "/dev/shm: $u0 KiB used of 4096"

for seg in /sp64 /sp64s /sp100g /fsp64 /fsp100g; do
    bad=""
    for cmd in info "info -J" cat dump "watch --once" ls; do
        if [ "$cmd" = ls ]; then set -- ls; else set -- $cmd "$seg"; fi
        timeout -k 2 60 "$S" "$@" >/dev/null 2>"$tmp/e"
        st=$?
        [ $st -eq 0 ] || bad="$bad [$cmd: exit $st $(head -c 100 "$tmp/e")]"
        u=$(used)
        [ "$u" = "$u0" ] || bad="$bad [$cmd: /dev/shm grew to $u KiB]"
    done
    [ -z "$bad" ]
    ok $? "$seg: info, cat, dump, watch, ls succeed; /dev/shm stays at $u0 KiB$bad"
done
is "$("$S" info /sp64s | sed -n 's/^sealed: *//p')" "yes, intact" "info checks the sealed sparse payload"
"$S" verify /sp64 /sp64s /sp100g >/dev/null 2>"$tmp/e"
st=$?
[ $st -eq 0 ] && [ "$(used)" = "$u0" ]
ok $? "verify of the shmkit ones (the sealed one recomputed) allocates nothing (exit $st $(head -c 100 "$tmp/e"))"
is "$("$S" dump /sp100g)" "00000000  00 00 00 00 00 00 00 00  00 00 00 00 00 00 00 00  |................|
*
1900000000" "dump of 100 GiB of holes: one line, a star, the end"
is "$("$S" cat /sp64 | wc -c)" 67108864 "cat gives all 64 MiB (zeros for the holes)"
"$S" info /sp64 | grep -Eq '^crc32c: +0x[0-9a-f]{8}$'
ok $? "info still gives the checksum of the 64 MiB bytes (holes counted as zeros)"
"$S" create /after --size 1M >/dev/null
ok $? "a 1 MiB segment still fits afterwards"
done_testing
