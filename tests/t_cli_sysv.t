#!/bin/sh
# t_cli_sysv.t - `shmkit ls --sysv` agrees with `ipcs -m` on keys, ids,
# sizes and attach counts for the System V segments this test makes (one
# unattached, one attached once, one attached twice, one IPC_PRIVATE), also
# when ls reads their headers (a brief read-only attach that must not show);
# and --ftok PATH:PROJ names a segment in every command that takes --key.
T=sysv
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
command -v ipcs >/dev/null || { echo "1..0 # SKIP ipcs missing"; exit 77; }
K1=$(key 1) K2=$(key 2) K3=$(key 3)

"$S" create --sysv --key "$K1" --size 4K >/dev/null
ok $? "create $K1 (not attached)"
hold --sysv --key "$K2" --size 1M
is "${hold_out%% *}" "key=$K2" "create --hold $K2 (attached once)"
hold --sysv --key "$K3" --size 64K
hold --sysv --key "$K3" --size 64K
is "${hold_out%% *}" "key=$K3" "create --hold $K3 twice (attached twice)"
out=$("$S" create --sysv --private --size 8K)
ok $? "create --private: $out"
pid_id=${out##*id=}
private_ids=$pid_id

# key (as ipcs prints it), id, size in bytes, nattch
ours() { grep -E "^($K1|$K2|$K3|0x00000000) " | awk -v p="$pid_id" '$1 != "0x00000000" || $2 == p' | sort; }
from_ipcs() { ipcs -m | awk 'NF >= 6 && $1 ~ /^0x/ {print $1, $2, $5, $6}' | ours; }

want=$(from_ipcs)
is "$(echo "$want" | wc -l)" 4 "ipcs -m shows the 4 segments"
got=$("$S" ls --sysv -r -n -b -o KEY,ID,SIZE,NATTCH | ours)
is "$got" "$want" "ls --sysv -o KEY,ID,SIZE,NATTCH agrees with ipcs -m"
got=$("$S" ls --sysv -r -n -b -o KEY,ID,SIZE,NATTCH,LAYOUT,STATUS | awk '{print $1, $2, $3, $4}' | ours)
is "$got" "$want" "... also when ls reads the headers (LAYOUT, STATUS)"
is "$(from_ipcs)" "$want" "ipcs -m attach counts unchanged after ls read the headers"
got=$("$S" ls -r -n -b -o KIND,KEY,ID,SIZE,NATTCH | awk '$1 == "sysv" {print $2, $3, $4, $5}' | ours)
is "$got" "$want" "plain ls (all kinds) agrees too"
got=$("$S" ls --sysv -J | "$PY" -c '
import json, sys
for s in json.load(sys.stdin)["segments"]:
    print(s["name"], s["id"], s["size"], s["nattch"])' | ours)
is "$got" "$want" "ls --sysv -J agrees with ipcs -m"
got=$("$S" ls --sysv -r -n -o KEY,ID,NATTCH,LAYOUT,STATUS | ours | cut -d" " -f1,3-)
want="$K1 0 bytes stale
$K2 1 bytes ok
$K3 2 bytes ok"
is "$(echo "$got" | grep -v 0x00000000)" "$want" "layout and status of the keyed segments"
is "$(echo "$got" | grep 0x00000000)" "0x00000000 0 bytes stale" "the private one"
got=$("$S" info --id "$pid_id" | awk '$1 == "id:" || $1 == "nattch:" {print $2}' | tr '\n' ' ')
is "$got" "$pid_id 0 " "info --id on the private segment"

# --ftok PATH:PROJ wherever --key is accepted (issue 12)
: >"$tmp/ftok"
F="$tmp/ftok:7"
out=$("$S" create --sysv --ftok "$F" --size 4K)
ok $? "create --sysv --ftok: $out"
fkey=${out%% *}
fkey=${fkey#key=}
fid=${out##*id=}
private_ids="$private_ids $fid"
got=$("$S" info --ftok "$F" | awk '$1 == "key:" || $1 == "id:" {print $2}' | tr '\n' ' ')
is "$got" "$fkey $fid " "info --ftok finds the segment create --ftok made"
printf 'via ftok' | "$S" write --ftok "$F"
ok $? "write --ftok"
is "$("$S" cat --ftok "$F" | head -c 8)" "via ftok" "cat --ftok reads what write --ftok wrote"
"$S" dump --ftok "$F" --length 8 | grep -q '|via ftok|'
ok $? "dump --ftok"
is "$("$S" verify --ftok "$F")" "key $fkey (ftok $tmp/ftok:7): ok (header valid, not sealed)" \
    "verify --ftok names the key and the ftok arguments"
"$S" watch --once --ftok "$F" | grep -q "^time="
ok $? "watch --once --ftok"
is "$("$S" gc --dry-run --ftok "$F" | norm)" \
    "would remove sysv id N (key $fkey): creator pid N is gone and nothing maps it" \
    "gc --ftok considers only that segment"
"$S" create --sysv --ftok "$F" --size 4K --excl 2>"$tmp/excl.err"
is $? 1 "create --excl of an existing ftok key fails"
is "$(head -1 "$tmp/excl.err")" "shmkit: key $fkey (ftok $tmp/ftok:7): already exists" \
    "... and the error names the segment (key and ftok arguments)"
"$S" create --sysv --key "$K1" --size 4K --excl 2>"$tmp/excl.err"
is "$(head -1 "$tmp/excl.err")" "shmkit: key $K1: already exists" "create --excl of an existing key names it"
"$S" rm --ftok "$F"
ok $? "rm --ftok"
"$S" info --ftok "$F" 2>"$tmp/gone.err"
is $? 1 "info --ftok of a removed segment exits 1"
is "$(cat "$tmp/gone.err")" "shmkit: key $fkey (ftok $tmp/ftok:7): no such segment" "... naming it"
"$S" cat --ftok "$tmp/missing:7" 2>/dev/null
is $? 1 "--ftok of a missing file is a usage error"
done_testing
