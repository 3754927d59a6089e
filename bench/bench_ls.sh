#!/bin/sh
# bench_ls.sh - `shmkit ls` over many segments, next to `ipcs -m` and
# `lsipc -m` in the same run, on the same segments; prints each time and its
# ratio to lsipc.
#
#   bench/bench_ls.sh [--quick] [BUILD]     (BUILD defaults to build)
#
# Makes N System V segments (10,000; 1,000 with --quick) and N POSIX ones,
# all with a shmkit header, each 1 KiB of payload. System V allows only
# kernel.shmmni segments (often 4096): when that is too few and we are root
# it is raised for the run and restored afterwards; otherwise N is capped
# and the figure says so. Every segment this script makes is recorded and
# removed on exit, also on Ctrl-C or failure; nothing else is touched.
set -u
N=10000
RUNS=5
while [ $# -gt 0 ]; do
    case $1 in
    --quick) N=1000; RUNS=3 ;;
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "bench_ls.sh: $1: unknown option" >&2; exit 1 ;;
    *) BUILD=$1 ;;
    esac
    shift
done
BUILD=${BUILD:-build}
S="$BUILD/bin/shmkit"
[ -x "$S" ] || { echo "bench_ls.sh: $S not built (run make)" >&2; exit 1; }
for c in ipcs lsipc; do
    command -v $c >/dev/null || { echo "bench_ls.sh: $c missing (util-linux)" >&2; exit 1; }
done

tmp=$(mktemp -d)
ids="$tmp/ids"
: >"$ids"
prefix="shmkit-bench-ls-$$-"
shmmni_file=/proc/sys/kernel/shmmni
shmmni_old=""

cleanup() {
    # only what we made: the ids create printed, and our POSIX prefix
    if [ -s "$ids" ]; then
        sed 's/^/-m /' "$ids" | xargs -n 200 ipcrm 2>/dev/null
    fi
    find /dev/shm -maxdepth 1 -name "${prefix}*" -delete 2>/dev/null
    if [ -n "$shmmni_old" ]; then echo "$shmmni_old" >"$shmmni_file"; fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# how many System V segments we may make
in_use=$(awk 'NR > 1' /proc/sysvipc/shm | wc -l)
max=$(cat "$shmmni_file")
n_sysv=$N
if [ $((in_use + N + 16)) -gt "$max" ]; then
    if [ -w "$shmmni_file" ] && echo $((in_use + N + 64)) >"$shmmni_file" 2>/dev/null; then
        shmmni_old=$max
        echo "kernel.shmmni raised from $max to $((in_use + N + 64)) for this run"
    else
        n_sysv=$((max - in_use - 16))
        echo "kernel.shmmni is $max and cannot be raised here: $n_sysv System V segments"
    fi
fi

now_ns() { date +%s%N; }

# makes COUNT segments with `shmkit create` (two at a time: a 2-core machine)
base=$(( 0x5b000000 + (($$ & 0x3ff) << 14) ))
t0=$(now_ns)
awk -v b="$base" -v n="$n_sysv" 'BEGIN {for (i = 1; i <= n; i++) printf "0x%08x\n", b + i}' |
    xargs -P 2 -n 1 "$S" create --sysv --excl --size 1K --key 2>"$tmp/err" |
    sed -n 's/.* id=//p' >>"$ids"
made=$(wc -l <"$ids")
awk -v p="$prefix" -v n="$N" 'BEGIN {for (i = 1; i <= n; i++) printf "/%s%d\n", p, i}' |
    xargs -P 2 -n 1 sh -c 'for a; do "$0" create "$a" --excl --size 1K; done' "$S" >/dev/null 2>>"$tmp/err"
t1=$(now_ns)
posix_made=$(find /dev/shm -maxdepth 1 -name "${prefix}*" | wc -l)
if [ "$made" -ne "$n_sysv" ] || [ "$posix_made" -ne "$N" ]; then
    echo "bench_ls.sh: made $made of $n_sysv System V and $posix_made of $N POSIX segments:" >&2
    head -5 "$tmp/err" >&2
    exit 2
fi
echo "made $made System V and $posix_made POSIX segments in $(( (t1 - t0) / 1000000 )) ms"
echo

# CPU microseconds (user + system) of this shell's children, from the
# output of the `times` builtin in FILE (run in this shell, not a subshell)
cpu_us() {
    awk 'NR == 2 {
        split($1, u, /[ms]/); split($2, s, /[ms]/)
        printf "%d\n", (u[1] * 60 + u[2] + s[1] * 60 + s[2]) * 1e6 }' "$1"
}

# sanity: every tool sees our segments
seen_ipcs=$(ipcs -m | grep -c "^0x5b")
seen_lsipc=$(lsipc -m --noheadings -o KEY -r | grep -c "^0x5b")
seen_shmkit=$("$S" ls --sysv -n -r -o KEY | grep -c "^0x5b")
echo "segments seen (keys 0x5b...): ipcs $seen_ipcs, lsipc $seen_lsipc, shmkit $seen_shmkit"
echo

# Each command runs RUNS times, the commands interleaved so that a change
# of load hits them all alike; the best wall time and best CPU time count.
cmds="ipcs -m
lsipc -m
$S ls --sysv -o KEY,ID,PERMS,OWNER,SIZE,NATTCH,CPID,LPID,CTIME
$S ls --sysv
$S ls --sysv -J
ls -l /dev/shm
$S ls --posix
$S ls"
ncmd=$(printf '%s\n' "$cmds" | wc -l)
r=0
while [ $r -lt $RUNS ]; do
    i=1
    while [ $i -le "$ncmd" ]; do
        c=$(printf '%s\n' "$cmds" | sed -n "${i}p")
        times >"$tmp/cpu0"
        a=$(now_ns)
        sh -c "$c" >/dev/null 2>"$tmp/cmd.err" || {
            echo "bench_ls.sh: '$c' failed:" >&2
            cat "$tmp/cmd.err" >&2
            exit 2
        }
        b=$(now_ns)
        times >"$tmp/cpu1"
        echo "$i $(( (b - a) / 1000 )) $(( $(cpu_us "$tmp/cpu1") - $(cpu_us "$tmp/cpu0") ))" >>"$tmp/times"
        i=$((i + 1))
    done
    r=$((r + 1))
done
awk -v runs="$RUNS" -v made="$made" -v pmade="$posix_made" -v cmds="$cmds" -v S="$S" '
BEGIN { n = split(cmds, cmd, "\n") }
{ if (!($1 in w) || $2 < w[$1]) w[$1] = $2; if (!($1 in c) || $3 < c[$1]) c[$1] = $3 }
END {
    printf "%-52s %10s %10s %9s\n", "System V, " made " segments (best of " runs ")", "wall", "cpu", "cpu/lsipc"
    for (i = 1; i <= n; i++) {
        if (i == 6) {
            printf "\n%-52s %10s %10s\n", "POSIX, " pmade " segments", "wall", "cpu"
        }
        l = cmd[i]; sub(S, "shmkit", l)
        if (i < 6)
            printf "%-52s %7.1f ms %7.1f ms %8.2fx\n", l, w[i] / 1000, c[i] / 1000, c[i] / (c[2] ? c[2] : 1)
        else
            printf "%-52s %7.1f ms %7.1f ms\n", l, w[i] / 1000, c[i] / 1000
    }
    printf "\nshmkit ls --sysv (reads every header) / lsipc -m: wall %.2fx, cpu %.2fx\n", w[4] / w[2], c[4] / (c[2] ? c[2] : 1)
}' "$tmp/times"
echo
echo "target: shmkit ls --sysv no slower than lsipc -m (ratio <= 1.00)"
echo "(wall times on a loaded machine are noisy; cpu is user + system time of the command)"
