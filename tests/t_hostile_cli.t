#!/bin/sh
# t_hostile_cli.t - the CLI against a hostile or unlucky neighbour (issue 10).
#  - a FIFO, socket, device node, directory, symlink and hard link at
#    /dev/shm/NAME, for every command that opens a path: a clear error
#    ("not a segment", exit 1) or the entry skipped, never a hang (each run
#    under timeout), never a symlink followed, nothing written elsewhere; a
#    hard link is a second name of the same segment (rm removes that name,
#    gc judges the inode and removes the names it judged);
#  - a process (as root, and as nobody) flipping one descriptor between a
#    memfd and a FIFO that has no writer while ls, ls --memfd, info --memfd
#    and cat --memfd run: none may hang (finding 1);
#  - POSIX names of every length 1..255 through create, ls, info, verify,
#    rm and gc, and the 254/255 pair (finding 3);
#  - a name made by nobody holding a newline, OSC/CSI escapes, C1 and
#    invalid UTF-8, and a process name with escapes: no raw control byte in
#    the output of any command, no forged line (finding 8);
#  - `create -- -x --size 4K` judges "-x" as the name (finding 10d).
# Runs in a private mount and IPC namespace on its own tmpfs /dev/shm, so
# names of any length cannot collide and nothing is left behind.
T=hostile
. "$(dirname "$(readlink -f "$0")")/cli/private-shm.sh"
private_shm 64m -i
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
S=$(readlink -f "$S")
NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
PYN=/usr/bin/python3
[ -x "$PYN" ] || PYN=$PY
chmod 755 "$tmp"
to() { timeout -k 2 10 "$@"; } # a hang shows as status 124

# ---- what is at /dev/shm/NAME is not a segment --------------------------
"$S" create /h-target --size 4K >/dev/null && printf 'target' | "$S" write /h-target
mkfifo /dev/shm/h-fifo
"$PYN" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' /dev/shm/h-sock
mknod /dev/shm/h-dev c 1 3 2>/dev/null || diag "mknod failed: no device case"
mkdir /dev/shm/h-dir
ln -s h-target /dev/shm/h-link
ln -s /etc/hostname /dev/shm/h-out
cp /dev/shm/h-target "$tmp/target.before"

"$S" ls --posix -r -n -o NAME >"$tmp/ls" 2>&1
st=$?
got=$(grep -c '^/h-' "$tmp/ls")
[ $st -eq 0 ] && [ "$got" = 1 ] && grep -qx /h-target "$tmp/ls"
ok $? "ls skips FIFO, socket, device, directory and symlinks (only /h-target listed; exit $st)"

for name in h-fifo h-sock h-dev h-dir h-link h-out; do
    [ -e "/dev/shm/$name" ] || [ -L "/dev/shm/$name" ] || continue
    bad=""
    for cmd in info cat "cat --raw" dump "dump --raw" verify rm gc "watch --once" write "write --raw"; do
        # shellcheck disable=SC2086
        printf 'x' | to "$S" $cmd "/$name" >"$tmp/o" 2>"$tmp/e"
        st=$?
        if [ $st -ne 1 ] || ! grep -q "^shmkit: /$name: not a segment" "$tmp/e"; then
            bad="$bad [$cmd: exit $st, $(head -c 120 "$tmp/e" | tr '\n' ' ')]"
        fi
    done
    [ -z "$bad" ]
    ok $? "/$name: every command says 'not a segment', exit 1, no hang$bad"
    [ -e "/dev/shm/$name" ] || [ -L "/dev/shm/$name" ]
    ok $? "/$name: still there after rm and gc"
done
cmp -s /dev/shm/h-target "$tmp/target.before"
ok $? "the symlink's target was neither read as the segment nor written through it"

# a hard link is a second name of the same segment
ln /dev/shm/h-target /dev/shm/h-hard
is "$(to "$S" cat /h-hard | tr -d '\0')" "target" "cat through a hard link reads the segment it names"
to "$S" info /h-hard | grep -q '^name: */h-hard$'
ok $? "info of the hard link names it"
to "$S" rm /h-hard && [ ! -e /dev/shm/h-hard ] && [ -e /dev/shm/h-target ]
ok $? "rm of the hard link removes that name only"
"$S" create /h-two --size 4K >/dev/null && ln /dev/shm/h-two /dev/shm/h-two2
to "$S" gc /h-two /h-two2 >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && [ ! -e /dev/shm/h-two ] && [ ! -e /dev/shm/h-two2 ] &&
    [ "$(grep -c '^removed posix /h-two2\{0,1\}:' "$tmp/o")" = 2 ]
ok $? "gc of a stale segment with two names removes both names (exit $st)"
rm -rf /dev/shm/h-*

# ---- a descriptor that flips between a memfd and a writer-less FIFO -------
cat >"$tmp/flip.py" <<'EOF'
import os, sys, time
m = os.memfd_create("h-flip")
os.write(m, b"flip payload")
fifo = os.path.join(sys.argv[1], "fifo.%d" % os.getpid())
os.mkfifo(fifo, 0o600)
f = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # never a writer
os.unlink(fifo)
print(os.getpid(), 100, flush=True)
end = time.monotonic() + 120  # never outlives a killed test for long
while time.monotonic() < end:
    for _ in range(1000):
        os.dup2(m, 100)
        os.dup2(f, 100)
EOF
mkdir "$tmp/fl" && chmod 1777 "$tmp/fl"
for who in root nobody; do
    if [ $who = root ]; then "$PYN" "$tmp/flip.py" "$tmp/fl" >"$tmp/fl.out" &
    else $NB "$PYN" "$tmp/flip.py" "$tmp/fl" >"$tmp/fl.out" & fi
    fp=$!
    held="$held $fp"
    wait_for test -s "$tmp/fl.out"
    read -r pid fd <"$tmp/fl.out"
    hangs=""
    for i in $(seq 15); do
        for cmd in "ls" "ls --memfd" "info --memfd $pid:$fd" "cat --memfd $pid:$fd"; do
            # shellcheck disable=SC2086
            timeout -k 1 3 "$S" $cmd >/dev/null 2>&1
            [ $? -eq 124 ] && hangs="$hangs [$cmd]"
        done
    done
    [ -z "$hangs" ]
    ok $? "flipping descriptor of a $who process: 60 scans, no hang$hangs"
    kill "$fp"
    wait "$fp" 2>/dev/null
done

# ---- names of every length -----------------------------------------------
# /a, /aa, ... /a{255}: each is a prefix of the next, so a cut name names
# another segment
"$PY" -c 'for k in range(1, 256): print("/" + "a" * k)' >"$tmp/names"
fails=0
while read -r n; do "$S" create "$n" --size 64 >/dev/null || fails=$((fails + 1)); done <"$tmp/names"
is "$fails" 0 "create of names of 1..255 bytes"
"$S" ls --posix -r -n -o NAME | grep '^/a' | sort >"$tmp/ls"
sort "$tmp/names" | diff - "$tmp/ls" >"$tmp/d"
ok $? "ls lists each of them exactly once, whole"
sed 's/^/# /' "$tmp/d" | head -5
bad=""
while read -r n; do
    got=$("$S" info "$n" | sed -n 's/^name: *//p')
    [ "$got" = "$n" ] || bad="$bad ${#n}"
done <"$tmp/names"
is "$bad" "" "info of each length shows the whole name"
# shellcheck disable=SC2046
"$S" verify $(cat "$tmp/names") >"$tmp/v" 2>&1
is "$?:$(grep -c ': ok (header valid' "$tmp/v")" "0:255" "verify of all 255 names"
# shellcheck disable=SC2046
"$S" gc --dry-run $(cat "$tmp/names") | sed -n 's/^would remove posix \([^:]*\):.*/\1/p' | sort >"$tmp/g"
sort "$tmp/names" | diff - "$tmp/g" >/dev/null
ok $? "gc --dry-run names each of the 255 stale segments exactly"
a254=$(sed -n 254p "$tmp/names") a255=$(sed -n 255p "$tmp/names")
"$S" rm "$a255" && [ ! -e "/dev/shm$a255" ] && [ -e "/dev/shm$a254" ]
ok $? "rm of the 255-byte name removes it, not the 254-byte one"
"$S" create "$a255" --size 64 >/dev/null
"$S" gc "$a255" >"$tmp/g" 2>&1
st=$?
[ $st -eq 0 ] && [ ! -e "/dev/shm$a255" ] && [ -e "/dev/shm$a254" ] && grep -q "^removed posix $a255:" "$tmp/g"
ok $? "gc NAME of the stale 255-byte name removes exactly it (exit $st)"
"$S" create "$a255" --size 64 >/dev/null
printf 'long' | "$S" write "$a255" && is "$("$S" cat "$a255" | tr -d '\0')" "long" "write/cat of the 255-byte name"
"$S" dump "$a255" --length 4 | grep -q '6c 6f 6e 67'
ok $? "dump of the 255-byte name"
odd=$(awk 'NR % 2' "$tmp/names") even=$(awk 'NR % 2 == 0' "$tmp/names")
# shellcheck disable=SC2086
"$S" rm $odd
ok $? "rm of the 128 odd lengths at once"
left=$(ls /dev/shm | grep -c '^a')
is "$left" 127 "... exactly those are gone"
"$S" gc >"$tmp/g" 2>&1
st=$?
[ $st -eq 0 ] && [ "$(ls /dev/shm | grep -c '^a')" = 0 ] && [ "$(grep -c '^removed posix /a' "$tmp/g")" = 127 ]
ok $? "plain gc removes the 127 stale even lengths, each named whole (exit $st)"

# ---- escapes: names from anyone, process names ----------------------------
esc=$(printf '/h-esc\n\033]0;pwned\007\033[2J\302\233\377removed sysv id 1 (key 0x1): forged')
$NB "$S" create "$esc" --size 4K --mode 0666 >/dev/null
ok $? "nobody made a segment whose name holds a newline, OSC, CSI, C1 and a stray byte"
cat >"$tmp/comm.py" <<'EOF'
import mmap, os, sys, time
with open("/proc/self/comm", "w") as c:
    c.write("\033[2J\033]0;x\007")
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0)
print("ok", flush=True)
time.sleep(60)
EOF
$NB "$PYN" "$tmp/comm.py" "/dev/shm$esc" >"$tmp/comm.out" &
cp=$!
held="$held $cp"
wait_for test -s "$tmp/comm.out"
clean() { # no control byte but newline (CR too from a terminal) and watch's own screen clearing
    "$PY" -c '
import re, sys
d = open(sys.argv[1], "rb").read().replace(b"\x1b[H\x1b[2J", b"")
bad = [b for b in d if (b < 0x20 and b not in (10, 13)) or b == 0x7f or b == 0x9b or b == 0xff]
forged = re.search(rb"(^|\n)removed sysv id 1 ", d)
sys.exit(1 if bad or forged else 0)' "$1"
}
bad=""
check() { # check DESCRIPTION ARGS...: the CLI's output is clean
    d=$1
    shift
    to "$S" "$@" >"$tmp/out" 2>&1
    clean "$tmp/out" || bad="$bad [$d]"
}
check ls ls
check "ls -r" ls -r
check "ls -J" ls -J
check "ls -o NAME,STATUS" ls --posix -o NAME,STATUS
check info info "$esc"
check "info -J" info -J "$esc"
check "watch --once" watch --once "$esc"
check verify verify "$esc"
check "gc --dry-run" gc --dry-run
check "gc -v --dry-run" gc -v --dry-run
check "gc --dry-run NAME" gc --dry-run "$esc"
check dump dump "$esc"
if command -v script >/dev/null; then
    SHMKIT_S="$S" SHMKIT_N="$esc" script -qfec 'timeout 5 "$SHMKIT_S" watch --once "$SHMKIT_N"' /dev/null >"$tmp/out" 2>&1
    clean "$tmp/out" || bad="$bad [watch in a terminal]"
fi
is "$bad" "" "no raw control byte nor forged line from ls/info/watch/verify/gc/dump"
to "$S" info "$esc" | grep -Eq '^ +[0-9]+  \\x1b\[2J\\x1b\]0;x\\x07 +maps,fd$'
ok $? "info shows the process name escaped"
kill "$cp"
wait "$cp" 2>/dev/null
to "$S" gc "$esc" >"$tmp/out" 2>&1
st=$?
clean "$tmp/out" && [ $st -eq 0 ] && grep -q '^removed posix /h-esc\\x0a\\x1b\]0;pwned\\x07' "$tmp/out"
ok $? "gc NAME removes it and says so on one escaped line (exit $st)"
"$S" create "$esc" --size 4K >/dev/null
to "$S" rm -v "$esc" >"$tmp/out" 2>&1
clean "$tmp/out" && [ "$(wc -l <"$tmp/out")" = 1 ]
ok $? "rm -v: one escaped line"
to "$S" info "$esc" >"$tmp/out" 2>&1
clean "$tmp/out" && grep -q '^shmkit: /h-esc\\x0a.*: no such segment$' "$tmp/out"
ok $? "error lines escape the name too"

# ---- "--" ends the options: what follows is the name ----------------------
"$S" create -- -x --size 4K >"$tmp/o" 2>"$tmp/e"
st=$?
[ $st -eq 1 ] && grep -q "^shmkit: -x: invalid segment name" "$tmp/e" && ! grep -q "one segment" "$tmp/e"
ok $? "create -- -x --size 4K: -x is judged as the name (exit $st: $(head -1 "$tmp/e"))"
"$S" create --size 4K -- -x >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] && grep -q "^shmkit: -x: invalid segment name" "$tmp/e"
ok $? "create --size 4K -- -x: the same"
"$S" create --size 4K -- /-x >"$tmp/o" && [ "$(cat "$tmp/o")" = "/-x" ] && [ -f /dev/shm/-x ]
ok $? "create --size 4K -- /-x makes /-x"
"$S" create -- /-y --size 4K >/dev/null 2>"$tmp/e"
[ $? -eq 1 ] && grep -q "^shmkit: --size: options go before '--'" "$tmp/e"
ok $? "an option after -- and the name: told that options go before '--'"
"$S" rm -- /-x && [ ! -e /dev/shm/-x ]
ok $? "rm -- /-x"

done_testing
