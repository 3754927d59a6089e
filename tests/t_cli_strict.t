#!/bin/sh
# t_cli_strict.t - strict seals in the CLI (issue 12 point 5): cat and dump
# of a sealed segment whose payload no longer matches its seal (changed
# with dd, or with write --raw for System V) print nothing and exit 3 with
# an error line naming the segment, unless --ignore-seal; an intact sealed
# or an unsealed segment is shown as before; ls --check-seals shows STATUS
# tampered (off by default) and reads a sparse segment without allocating
# its pages.
T=strict
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
K1=$(key 1)

"$S" create "${P}s" --size 64K >/dev/null
printf 'sealed and intact' | "$S" write --seal "${P}s"
"$S" create "${P}u" --size 4K >/dev/null
printf 'never sealed' | "$S" write "${P}u"
"$S" create "${P}t" --size 64K >/dev/null
printf 'sealed, then changed' | "$S" write --seal "${P}t"
printf 'HACKED' | dd of="/dev/shm${P}t" bs=1 seek=1000 conv=notrunc 2>/dev/null

is "$("$S" cat "${P}s" | head -c 17)" "sealed and intact" "cat of an intact sealed segment"
is "$("$S" cat "${P}u" | head -c 12)" "never sealed" "cat of an unsealed segment"
"$S" dump "${P}s" >/dev/null
ok $? "dump of an intact sealed segment exits 0"

"$S" cat "${P}t" >"$tmp/cat.out" 2>"$tmp/cat.err"
is $? 3 "cat of a tampered sealed segment exits 3"
is "$(wc -c <"$tmp/cat.out" | tr -d ' ')" 0 "... and prints nothing"
is "$(norm <"$tmp/cat.err")" "shmkit: /T-t: payload checksum mismatch: segment was modified after sealing
shmkit: /T-t: use --ignore-seal to see the payload anyway" "... with an error line naming the segment"
"$S" dump "${P}t" >"$tmp/dump.out" 2>"$tmp/dump.err"
is $? 3 "dump of a tampered sealed segment exits 3"
is "$(wc -c <"$tmp/dump.out" | tr -d ' ')" 0 "... and prints nothing"
is "$(norm <"$tmp/dump.err" | head -1)" "shmkit: /T-t: payload checksum mismatch: segment was modified after sealing" "... naming it"
"$S" dump "${P}t" --offset 4096 --length 16 >/dev/null 2>&1
is $? 3 "dump --offset past the changed bytes still refuses (the whole payload is checked)"

"$S" cat --ignore-seal "${P}t" >"$tmp/cat2.out"
ok $? "cat --ignore-seal exits 0"
is "$(dd if="$tmp/cat2.out" bs=1 skip=744 count=6 2>/dev/null)" "HACKED" "... and shows the changed payload"
"$S" dump --ignore-seal "${P}t" | grep -q '|\.\.\.\.\.\.\.\.HACKED'
ok $? "dump --ignore-seal shows it"
"$S" cat --raw "${P}t" >/dev/null
ok $? "cat --raw (no header check) is not refused"
"$S" write --ignore-seal "${P}u" </dev/null 2>/dev/null
is $? 1 "--ignore-seal is not an option of write"

got=$("$S" ls --posix -r -n -o NAME,STATUS | grep -F "$P" | norm | tr '\n' ' ')
is "$got" "/T-s stale /T-t stale /T-u stale " "ls without --check-seals reads no payload"
got=$("$S" ls --posix --check-seals -r -n -o NAME,STATUS,SEALED | grep -F "$P" | norm | tr '\n' ' ')
is "$got" "/T-s stale yes /T-t tampered yes /T-u stale no " "ls --check-seals: STATUS tampered for the changed one only"
"$S" ls --check-seals -J -o name,status | grep -F "${P}t" | grep -q '"status": "tampered"'
ok $? "ls --check-seals -J"

# System V: no file to dd; write --raw changes the payload behind the seal
"$S" create --sysv --key "$K1" --size 4K --seal >/dev/null
printf 'X' | "$S" write --raw --key "$K1" --offset 300
"$S" cat --key "$K1" >/dev/null 2>"$tmp/sysv.err"
is $? 3 "cat of a tampered sealed System V segment exits 3"
is "$(head -1 "$tmp/sysv.err")" "shmkit: key $K1: payload checksum mismatch: segment was modified after sealing" "... naming its key"
got=$("$S" ls --sysv --check-seals -r -n -o KEY,STATUS | grep "^$K1 ")
is "$got" "$K1 tampered" "ls --sysv --check-seals"
got=$("$S" ls --sysv --check-seals --no-attach -r -n -o KEY,STATUS | grep "^$K1 ")
is "$got" "$K1 unknown" "... not with --no-attach (never attaches)"

# a sparse sealed segment: checking its seal allocates none of its pages
"$S" create "${P}sparse" --noreserve --size 256M --seal >/dev/null
printf 'x' | dd of="/dev/shm${P}sparse" bs=1 seek=100000000 conv=notrunc 2>/dev/null
before=$(du -k "/dev/shm${P}sparse" | cut -f1)
got=$("$S" ls --posix --check-seals -r -n -o NAME,STATUS | grep -F "${P}sparse" | norm)
is "$got" "/T-sparse tampered" "ls --check-seals finds the change in a sparse 256M segment"
"$S" cat "${P}sparse" >/dev/null 2>&1
is $? 3 "cat of it exits 3"
after=$(du -k "/dev/shm${P}sparse" | cut -f1)
[ "$after" -le $((before + 64)) ]
ok $? "... without allocating its holes (du ${before}K before, ${after}K after)"
done_testing
