#!/bin/sh
# t_cli_golden.t - every shmkit command run against segments this test
# makes, output compared with tests/cli/*.out after normalising pids, times,
# user names and keys (tests/cli/lib.sh: norm). SHMKIT_GOLDEN_UPDATE=1
# rewrites the expected files.
T=golden
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
K1=$(key 1)

{
    "$S" create "${P}a" --size 4K
    "$S" create "${P}b" --size 1.5M --mode 0640 --seal
    "$S" create "${P}raw" --raw --size 100
    "$S" create --sysv --key "$K1" --size 8K
    echo "status $?"
} 2>&1 | golden create
hold "${P}held" --size 64K
printf 'Hello, shared world\n' | "$S" write "${P}a"
ok $? "write into ${P}a"
printf 'offset' | "$S" write "${P}a" --offset 0x40
ok $? "write --offset 0x40"
printf 'RAW!' | "$S" write "${P}raw"
ok $? "write into a foreign segment"

"$S" cat "${P}a" | tr -d '\000' | golden cat
"$S" dump "${P}a" | golden dump
"$S" dump "${P}a" --offset 8 --length 70 | golden dump-range
got=$("$S" dump "${P}a" | md5sum)
want=$(tail -c +257 "/dev/shm${P}a" | hexdump -C | md5sum)
is "$got" "$want" "dump is byte-for-byte hexdump -C of the payload"
got=$("$S" dump --raw "${P}a" --offset 250 --length 100 | md5sum)
want=$(hexdump -C -s 250 -n 100 "/dev/shm${P}a" | md5sum)
is "$got" "$want" "dump --raw --offset --length matches hexdump -C -s -n"
got=$("$S" cat --raw "${P}raw" | head -c 4)
is "$got" "RAW!" "cat of a foreign segment gives its bytes"

# tables: column widths depend on the names' length, so spaces are squeezed
"$S" ls --posix -o NAME,PERMS,SIZE,NATTCH,HOLDERS,LAYOUT,STATUS,SEALED,GEN | grep -e '^NAME' -e "$P" |
    tr -s ' ' | golden ls
"$S" ls --posix -b -r -o NAME,KIND,SIZE,LAYOUT,STATUS | grep "$P" | golden ls-raw
"$S" ls --posix -J -o name,size,nattch,layout,status,cpid | grep -e '^{' -e '^ *\]' -e '^}' -e 'segments' -e "$P" |
    sed 's/},$/}/' | golden ls-json
"$S" ls --sysv -o KEY,PERMS,SIZE,NATTCH,LAYOUT,STATUS | grep -e '^KEY' -e "$K1" | tr -s ' ' | golden ls-sysv
"$S" ls --posix -n -o NAME,STATUS | grep -c "$P" | golden ls-noheadings

"$S" info "${P}b" | golden info
"$S" info "${P}held" | sed -n '/^processes/,/^bytes/p' | golden info-procs
"$S" info -J "${P}b" >"$tmp/info.json"
"$PY" -m json.tool "$tmp/info.json" >/dev/null
ok $? "info -J is valid JSON"
norm <"$tmp/info.json" | golden info-json
"$S" info --key "$K1" | golden info-sysv

"$S" verify "${P}a" "${P}b" 2>&1 | golden verify
printf 'HACKED' | dd of="/dev/shm${P}b" bs=1 seek=1000 conv=notrunc 2>/dev/null
"$S" verify "${P}a" "${P}b" >"$tmp/v.out" 2>"$tmp/v.err"
is $? 3 "verify of a tampered segment exits 3"
cat "$tmp/v.out" "$tmp/v.err" | golden verify-tampered
"$S" verify "${P}raw" 2>&1 | golden verify-foreign
printf 'x' | "$S" write "${P}b" 2>&1 | golden write-sealed
printf 'fixed' | "$S" write --seal "${P}b" && "$S" verify -q "${P}b"
ok $? "write --seal re-seals; verify passes"

"$S" watch --once "${P}a" | golden watch
"$S" watch --once --key "$K1" | golden watch-sysv

# rings, buses and tables: the CLI makes them empty; info and watch show their stats
"$S" create "${P}ring" --ring 4K && "$S" create "${P}bus" --bus 16:64:4 --lossy &&
    "$S" create "${P}table" --table 8:32
ok $? "create --ring, --bus, --table"
"$S" ls --posix -r -n -o NAME,SIZE,LAYOUT | grep -F -e "${P}ring" -e "${P}bus" -e "${P}table" | golden ls-layouts
for l in ring bus table; do
    "$S" info "${P}$l" | sed -n '/ stats:$/,$p' | golden "info-$l"
done
"$S" watch --once "${P}bus" | golden watch-bus
hold "${P}ring2" --ring 1K
"$S" info "${P}ring2" | grep -e '^producer:' -e '^consumer:' | golden info-ring-live

# an RPC endpoint: ls shows its clients and pending calls (DETAIL, CLIENTS,
# PENDING), and so do the others' details
"$S" create "${P}rpc" --rpc 1K:2K:8
ok $? "create --rpc"
"$S" ls --posix -o NAME,LAYOUT,CLIENTS,PENDING,DETAIL |
    grep -e '^NAME' -e "${P}ring" -e "${P}bus" -e "${P}table" -e "${P}rpc" | tr -s ' ' | golden ls-detail
"$S" info "${P}rpc" | sed -n '/ stats:$/,$p' | golden info-rpc
printf 'ping' | "$S" call "${P}rpc" --timeout 60 >/dev/null 2>&1 &
caller=$!
held="$held $caller"
# no server: the call stays pending until it is killed
wait_for sh -c "'$S' ls --posix -r -n -o NAME,PENDING | grep -qx '${P}rpc 1'"
got=$("$S" ls --posix -r -n -o NAME,CLIENTS,PENDING | grep -F "${P}rpc")
is "$got" "${P}rpc 1 1" "ls: one client, one call pending (no server)"
got=$("$S" ls --posix -J -o name,clients,pending | grep -F "${P}rpc\"" | sed 's/,$//')
is "$got" "    {\"name\": \"${P}rpc\", \"clients\": 1, \"pending\": 1}" "ls -J: clients and pending as numbers"
got=$("$S" info "${P}rpc" | grep -e '^clients:' -e '^pending:' | tr -s ' ')
is "$got" "clients: 1 of 8
pending: 1" "info: clients and pending"
kill "$caller" 2>/dev/null
wait "$caller" 2>/dev/null
"$S" rm "${P}ring" "${P}bus" "${P}table" "${P}rpc"
ok $? "rm the ring, bus, table and RPC endpoint"

"$S" gc --dry-run -v "${P}a" "${P}raw" "${P}held" 2>&1 | golden gc-dry-run
"$S" rm -v "${P}a" --key "$K1" 2>&1 | golden rm
"$S" ls -o NAME | grep -c "${P}a" | golden rm-gone
done_testing
