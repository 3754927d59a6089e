#!/bin/sh
# t_cli_misc.t - what the CLI promises besides its commands: write errors
# on stdout are exit 2, --help for every command, --version, JSON that
# parses with fixed top-level keys, memfds found in /proc, and a man page
# that renders cleanly and documents every command and column.
T=misc
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
root=$(cd "$here/.." && pwd)
cmds="ls info create cat dump write verify rm gc watch"

"$S" ls >/dev/full 2>"$tmp/err"
is "$?" 2 "ls > /dev/full exits 2"
is "$(cat "$tmp/err")" "shmkit: write error: No space left on device" "... with one error line"
"$S" --help >/dev/full 2>/dev/null
is "$?" 2 "--help > /dev/full exits 2"
"$S" create "${P}a" --size 4K >/dev/null && printf 'data' | "$S" write "${P}a"
"$S" cat "${P}a" >/dev/full 2>/dev/null
is "$?" 2 "cat > /dev/full exits 2"

for c in $cmds; do
    "$S" "$c" --help >"$tmp/h" 2>"$tmp/e"
    st=$?
    [ $st -eq 0 ] && grep -q "^ shmkit $c" "$tmp/h" && [ ! -s "$tmp/e" ]
    ok $? "$c --help: usage on stdout, exit 0"
done
"$S" --help | grep -q '^Usage:'
ok $? "shmkit --help"
want=$(sed -n 's/^#define SHMKIT_VERSION_STRING "\(.*\)"/\1/p' "$root/include/shmkit.h")
is "$("$S" --version)" "shmkit $want (libshmkit $want)" "--version prints the library version"

"$S" ls -J >"$tmp/ls.json"
got=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
keys = set()
for s in d["segments"]:
    keys |= set(s)
print(",".join(sorted(d)), ",".join(sorted(keys)) if d["segments"] else "")' "$tmp/ls.json")
case $got in
"segments "*|"segments") ok 0 "ls -J parses; top-level keys: segments" ;;
*) ok 1 "ls -J parses; top-level keys: $got" ;;
esac
got=$("$S" ls --posix -J -o name,size,nattch | "$PY" -c '
import json, sys
for s in json.load(sys.stdin)["segments"]:
    if s["name"] == sys.argv[1]: print(type(s["size"]).__name__, type(s["nattch"]).__name__)' "${P}a")
is "$got" "int int" "JSON sizes and counts are numbers"

# names with spaces, quotes and backslashes survive every output mode
odd="${P}sp ace\"q\\b"
"$S" create "$odd" --size 1K >/dev/null
got=$("$S" ls --posix -J -o name | "$PY" -c '
import json, sys
print(sum(s["name"] == sys.argv[1] for s in json.load(sys.stdin)["segments"]))' "$odd")
is "$got" 1 "ls -J: an odd name round-trips through JSON"
"$S" ls --posix -r -n -o NAME | grep -qF "sp\x20ace\"q\x5cb"
ok $? "ls -r escapes spaces and backslashes as \\xHH"
"$S" rm "$odd"
ok $? "rm of the odd name"

# a memfd held by another process is found through /proc/PID/fd
"$PY" -c '
import os, sys, time
fd = os.memfd_create(sys.argv[1])
os.write(fd, b"memfd payload")
print(os.getpid(), fd, flush=True)
time.sleep(30)' "shmkit-t-cli-$$" >"$tmp/memfd" &
mpid=$!
held="$held $mpid"
wait_for test -s "$tmp/memfd"
read -r pid fd <"$tmp/memfd"
got=$("$S" ls --memfd -r -n -b -o KIND,NAME,ID,SIZE,LAYOUT,STATUS | grep "shmkit-t-cli-$$")
is "$got" "memfd memfd:shmkit-t-cli-$$ $pid:$fd 13 raw foreign" "ls --memfd finds it (PID:FD in ID)"
is "$("$S" cat --memfd "$pid:$fd")" "memfd payload" "cat --memfd PID:FD"
"$S" info --memfd "$pid:$fd" | grep -q "^holders: *1$"
ok $? "info --memfd: one holder"
kill "$mpid"

# descriptor 0 is a descriptor like any other: a memfd that another process
# holds as its stdin, opened by a shmkit whose own stdin is closed (the
# reopened memfd may then be our descriptor 0, handed to the library as is)
"$S" create "${P}m0" --size 4K --seal >/dev/null
"$PY" -c '
import os, sys, time
fd = os.memfd_create(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    os.write(fd, f.read())  # a shmkit segment: header, sealed payload
os.dup2(fd, 0)
os.close(fd)
print(os.getpid(), flush=True)
time.sleep(30)' "shmkit-t-cli-$$-m0" "/dev/shm${P}m0" >"$tmp/memfd0" &
mpid=$!
held="$held $mpid"
wait_for test -s "$tmp/memfd0"
read -r pid <"$tmp/memfd0"
"$S" info --memfd "$pid:0" 0<&- | grep -q "^sealed: *yes, intact$"
ok $? "info --memfd PID:0 (stdin closed): the seal checked through the handle"
is "$("$S" verify --memfd "$pid:0" 0<&-)" "memfd $pid:0: ok (header valid, sealed payload intact)" \
    "verify --memfd PID:0"
kill "$mpid"
"$S" rm "${P}m0"

# watch: full screen in a terminal (script gives it one), key=value lines otherwise
if command -v script >/dev/null; then
    script -qec "$S watch --once ${P}a" /dev/null >"$tmp/tty" 2>&1
    grep -q "$(printf '\033')\[H$(printf '\033')\[2J" "$tmp/tty" && grep -q "^processes: " "$tmp/tty" &&
        grep -q "^crc32c: " "$tmp/tty"
    ok $? "watch in a terminal clears the screen and shows the fields"
fi
"$S" watch -n 0.05 "${P}a" >"$tmp/lines" &
wpid=$!
held="$held $wpid"
wait_for sh -c "[ \$(grep -c changed= '$tmp/lines') -ge 1 ]"
printf 'new' | "$S" write "${P}a"
wait_for grep -q 'changed=yes' "$tmp/lines"
ok $? "watch notices a write (changed=yes)"
kill -INT "$wpid"
wait "$wpid"
is $? 0 "watch stops on SIGINT with exit 0"
"$S" rm "${P}a"
wait_for sh -c "! '$S' watch --once '${P}a' 2>/dev/null"
ok $? "watch of a removed segment fails"

MANWIDTH=80 man -l "$root/man/shmkit.1" >"$tmp/man.txt" 2>"$tmp/man.err"
st=$?
[ $st -eq 0 ] && [ ! -s "$tmp/man.err" ] && [ -s "$tmp/man.txt" ]
ok $? "man -l man/shmkit.1 renders without warnings"
sed 's/^/# /' "$tmp/man.err"
if command -v groff >/dev/null; then
    groff -ww -man -z "$root/man/shmkit.1" 2>"$tmp/groff.err" && [ ! -s "$tmp/groff.err" ]
    ok $? "groff -ww finds nothing to warn about"
fi
missing=""
for c in $cmds; do grep -q "^   shmkit $c" "$tmp/man.txt" || missing="$missing $c"; done
is "$missing" "" "the man page has a section for every command"
missing=""
for col in $("$S" ls --help | awk '/^Columns:/ {on = 1; next} on && NF >= 2 && $1 ~ /^[A-Z]+$/ {print $1}'); do
    grep -q "$col" "$tmp/man.txt" || missing="$missing $col"
done
is "$missing" "" "the man page documents every ls column"
for st in 0 1 2 3; do grep -q "^       $st " "$tmp/man.txt" || grep -q "^       $st$" "$tmp/man.txt" || missing="$missing $st"; done
is "$missing" "" "the man page documents exit statuses 0 1 2 3"
done_testing
