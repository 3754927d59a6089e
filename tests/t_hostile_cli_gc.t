#!/bin/sh
# t_hostile_cli_gc.t - gc and ls when not everything can be seen (issue 10).
#  - finding 4a: nobody's gc of nobody's 0666 segment whose creator died but
#    that a root process maps (nobody cannot read root's /proc/PID/maps):
#    kept, and says why; a root-owned stale one: kept ("could not be
#    inspected"); once unused, nobody's gc removes nobody's segment (the
#    kernel confirms through a write lease that no one has it open);
#  - finding 4b: a process that maps and holds a segment through a bind
#    mount of /dev/shm is counted (ls NATTCH and HOLDERS), and gc keeps it;
#  - finding 10a: ls --no-attach leaves a System V segment's LPID and atime
#    alone (plain ls does attach: it changes them);
#  - finding 10b: a System V segment marked for removal shows STATUS dest;
#  - finding 10c: nobody's plain gc reports another user's stale System V
#    segment as kept, not yours, exit 0; named, it still fails (exit 2).
# Private mount and IPC namespace with its own /dev/shm: plain `gc` here
# sees only this test's segments.
T=hgc
. "$(dirname "$(readlink -f "$0")")/cli/private-shm.sh"
private_shm 16m -i
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
S=$(readlink -f "$S")
NB="setpriv --reuid=65534 --regid=65534 --clear-groups"
PYN=/usr/bin/python3
[ -x "$PYN" ] || PYN=$PY
chmod 755 "$tmp"
cat >"$tmp/map.py" <<'EOF'
import mmap, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
m = mmap.mmap(fd, 0)
if sys.argv[2] == "close":
    os.close(fd)  # the mapping alone
print("mapped", flush=True)
time.sleep(60)
EOF
mapper() { # mapper PATH close|keep [cmd prefix...]: maps PATH in the background
    p=$1 how=$2
    shift 2
    out="$tmp/map.$(date +%s%N)"
    "$@" "$PYN" "$tmp/map.py" "$p" "$how" >"$out" 2>&1 &
    map_pid=$!
    held="$held $map_pid"
    wait_for grep -q mapped "$out"
}

# ---- 4a: processes nobody cannot inspect ---------------------------------
$NB "$S" create /g-nb --size 4K --mode 0666 >/dev/null # its creator exits: stale
"$S" create /g-root --size 4K --mode 0666 >/dev/null
mapper /dev/shm/g-nb close
$NB "$S" gc >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && [ -e /dev/shm/g-nb ] && [ -e /dev/shm/g-root ]
ok $? "nobody's plain gc keeps nobody's segment a root process maps, and root's (exit $st)"
sed 's/^/# /' "$tmp/o"
$NB "$S" gc -v >"$tmp/o" 2>&1
grep -q '^kept posix /g-nb: open or mapped by a process that could not be inspected' "$tmp/o"
ok $? "gc -v says why: $(grep g-nb "$tmp/o")"
grep -Eq '^kept posix /g-root: creator pid [0-9]+ is gone, but [0-9]+ process(es)? could not be inspected' "$tmp/o"
ok $? "... and for root's: $(grep g-root "$tmp/o" | cut -c1-100)"
$NB "$S" gc /g-nb >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && [ -e /dev/shm/g-nb ] && grep -q '^kept posix /g-nb:' "$tmp/o"
ok $? "nobody's gc /g-nb (named) keeps it too (exit $st)"
$NB "$S" gc /g-root >/dev/null 2>"$tmp/e"
is "$?:$(cat "$tmp/e")" "2:shmkit: posix /g-root: Operation not permitted" "nobody's gc /g-root (named, root's): an error"
is "$($NB "$S" ls --posix -r -n -o NAME,STATUS | grep '^/g-')" "/g-nb ok
/g-root unknown" "nobody's ls: in use (the kernel says), and unknown: neither is stale"
kill "$map_pid"
wait "$map_pid" 2>/dev/null
$NB "$S" gc /g-nb >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && [ ! -e /dev/shm/g-nb ] && grep -q '^removed posix /g-nb: creator pid' "$tmp/o"
ok $? "once unused, nobody's gc removes nobody's segment (exit $st: $(head -1 "$tmp/o"))"
"$S" gc /g-root >/dev/null && [ ! -e /dev/shm/g-root ]
ok $? "root's gc removes root's unused one"

# ---- 4b: through a bind mount of /dev/shm --------------------------------
"$S" create /g-bind --size 4K >/dev/null
mkdir "$tmp/x"
mapper "$tmp/x/g-bind" keep unshare -m sh -c 'd=$1; shift; mount --bind /dev/shm "$d" && exec "$@"' sh "$tmp/x"
is "$("$S" ls --posix -r -n -o NAME,NATTCH,HOLDERS,STATUS | grep '^/g-bind ')" "/g-bind 1 1 ok" \
    "ls counts the process that maps and holds it through a bind mount"
"$S" info /g-bind | grep -Eq "^ +$map_pid  +python3? +maps,fd$"
ok $? "info lists it as mapping and holding the segment"
"$S" gc /g-bind >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && [ -e /dev/shm/g-bind ] && grep -q '^kept posix /g-bind: mapped by 1 process$' "$tmp/o"
ok $? "gc keeps it: $(cat "$tmp/o")"
kill "$map_pid"
wait "$map_pid" 2>/dev/null
"$S" gc /g-bind >/dev/null && [ ! -e /dev/shm/g-bind ]
ok $? "gone once the process is"

# ---- 10a: ls --no-attach leaves System V segments alone -------------------
K1=$(key 1)
"$S" create --sysv --key "$K1" --size 4K >"$tmp/o"
id=$(sed -n 's/.*id=\([0-9]*\).*/\1/p' "$tmp/o")
lpid_atime() { awk -v id="$id" '$2 == id {print $6, $12}' /proc/sysvipc/shm; }
before=$(lpid_atime)
sleep 1.1 # atime counts seconds
"$S" ls -A >/dev/null && "$S" ls --sysv --no-attach -J >/dev/null
got=$("$S" ls --sysv -A -r -n -o ID,LAYOUT,STATUS | grep "^$id ")
is "$(lpid_atime)" "$before" "ls --no-attach: LPID and atime unchanged"
is "$got" "$id - unknown" "... and the header columns say '-' / unknown"
"$S" ls --sysv >/dev/null
[ "$(lpid_atime)" != "$before" ]
ok $? "plain ls attaches (LPID/atime were '$before', now '$(lpid_atime)'): what --help says"
"$S" ls --help | grep -q -- '--no-attach' && "$S" ls --help | grep -q 'last attacher'
ok $? "ls --help documents it"

# ---- 10b: marked for removal ----------------------------------------------
K2=$(key 2)
hold --sysv --key "$K2" --size 4K
id2=$(printf '%s\n' "$hold_out" | sed -n 's/.*id=\([0-9]*\).*/\1/p')
"$S" rm --key "$K2"
is "$("$S" ls --sysv -r -n -o ID,NATTCH,STATUS | grep "^$id2 ")" "$id2 1 dest" \
    "ls: a System V segment removed while attached shows STATUS dest"
is "$("$S" info --id "$id2" | sed -n 's/^status: *//p')" "dest" "info: status dest"
"$S" gc -v --sysv | grep -q "^kept sysv id $id2 (key 0x00000000): already removed"
ok $? "gc -v: kept, already removed"
kill "$hold_pid"
wait "$hold_pid" 2>/dev/null

# ---- 10c: another user's stale System V segment ---------------------------
K3=$(key 3)
"$S" create --sysv --key "$K3" --size 4K --mode 0666 >"$tmp/o"
id3=$(sed -n 's/.*id=\([0-9]*\).*/\1/p' "$tmp/o")
$NB "$S" gc >"$tmp/o" 2>&1
st=$?
[ $st -eq 0 ] && grep -q "^kept sysv id $id3 (key $K3): not yours" "$tmp/o" &&
    awk -v id="$id3" '$2 == id {f = 1} END {exit !f}' /proc/sysvipc/shm
ok $? "nobody's plain gc: root's stale segment kept, 'not yours', exit $st"
sed 's/^/# /' "$tmp/o"
$NB "$S" gc --dry-run | grep -q "^kept sysv id $id3 (key $K3): not yours"
ok $? "gc --dry-run says the same"
$NB "$S" gc --key "$K3" >/dev/null 2>"$tmp/e"
is "$?" 2 "named, it still fails: $(cat "$tmp/e")"
"$S" gc --key "$K3" >/dev/null && ! awk -v id="$id3" '$2 == id {f = 1} END {exit !f}' /proc/sysvipc/shm
ok $? "root's gc removes it"
done_testing
