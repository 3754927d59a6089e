#!/bin/sh
# t_cli_errors.t - a table of bad inputs. Each must exit with the documented
# status (1 bad usage or input, 2 system error), print one error line on
# stderr ("shmkit: WHAT: WHY", plus "try 'shmkit ... --help'" for usage
# mistakes), print nothing on stdout, and change nothing: the test's
# segments (names, sizes, contents) are the same before and after.
T=errors
. "$(dirname "$(readlink -f "$0")")/cli/lib.sh"
K1=$(key 1)
KMISSING=$(key 15)
E="${P}e"
"$S" create "$E" --size 4K >/dev/null &&
    printf 'precious' | "$S" write "$E" &&
    "$S" create "${P}s" --size 1K --seal >/dev/null &&
    "$S" create --sysv --key "$K1" --size 4K >/dev/null
ok $? "setup: segments made"

K1DEC=$(printf '%d' "$K1")
snapshot() { # names, sizes and contents of our POSIX segments; our System V one
    md5sum /dev/shm/shmkit-t-cli-$$-*
    awk -v k="$K1DEC" '$1 == k {print $1, $2, $4}' /proc/sysvipc/shm
}
snapshot >"$tmp/before"

long="/$(printf '%0300d' 0)"
echo "more than six bytes" >"$tmp/long-input"
echo "x" >"$tmp/x"

# bad WANT_STATUS STDIN_FILE ARGS...
bad() {
    want=$1 in=$2
    shift 2
    "$S" "$@" <"$in" >"$tmp/out" 2>"$tmp/err"
    st=$?
    lines=$(grep -c '' "$tmp/err")
    { read -r first; read -r second; } <"$tmp/err"
    snapshot >"$tmp/after"
    why=""
    [ "$st" -eq "$want" ] || why="$why exit $st, want $want;"
    printf '%s\n' "$first" | grep -Eq '^shmkit: .+: .+$' || why="$why error line: '$first';"
    if [ "$lines" -eq 2 ]; then
        printf '%s\n' "$second" | grep -Eq "^try 'shmkit( [a-z]+)? --help'$" || why="$why second line: '$second';"
    elif [ "$lines" -ne 1 ]; then
        why="$why $lines lines on stderr;"
    fi
    [ -s "$tmp/out" ] && why="$why output on stdout;"
    cmp -s "$tmp/before" "$tmp/after" || why="$why segments changed;"
    desc="shmkit $* -> $want"
    [ ${#desc} -gt 100 ] && desc="$(printf '%.100s' "$desc")..."
    if [ -z "$why" ]; then
        ok 0 "$desc: $first"
    else
        ok 1 "$desc"
        diag "$why" "$(cat "$tmp/err")"
    fi
}

N=/dev/null
bad 1 $N create "${P}x" --size -1
bad 1 $N create "${P}x" --size 10Q
bad 1 $N create "${P}x" --size 99999999999999999999
bad 1 $N create "${P}x" --size 0
bad 1 $N create "${P}x" --size ""
bad 1 $N create "${P}x" --size 1.5
bad 1 $N create "${P}x"
bad 1 $N create "${P}x" --size
bad 1 $N create "${P#/}x" --size 4K
bad 1 $N create "${P}a/b" --size 4K
bad 1 $N create / --size 4K
bad 1 $N create "$long" --size 4K
bad 1 $N create "${P}x" --size 4K --mode 999
bad 1 $N create "${P}x" --size 4K --mode rw
bad 1 $N create "$E" --size 4K --excl
bad 1 $N create "${P}x" --size 4K --seal --raw
bad 1 $N create "${P}x" "${P}y" --size 4K
bad 1 $N create "${P}x" --size 4K --key 5
bad 1 $N create --sysv --size 4K
bad 1 $N create --sysv --key 0x12 --private --size 4K
bad 1 $N create --sysv --key 0xZZ --size 4K
bad 1 $N create --sysv --key 0x100000000 --size 4K
bad 1 $N create --sysv --key 0 --size 4K
bad 1 $N create --sysv --ftok /nonexistent/shmkit:1 --size 4K
bad 1 $N create --sysv --ftok /tmp:0 --size 4K
bad 1 $N create --sysv --ftok /tmp --size 4K
bad 2 $N create "${P}huge" --size 64T
bad 1 $N create "${P}x" --ring 1000
bad 1 $N create "${P}x" --ring 4K --size 4K
bad 1 $N create "${P}x" --table 5
bad 1 $N create "${P}x" --bus 16 --table 4:4
bad 1 $N create "${P}x" --size 4K --lossy
bad 1 $N create "$E" --ring 4K
bad 1 $N ls --json --raw
bad 1 $N ls -o NAME,NOPE
bad 1 $N ls -o NAME,
bad 1 $N ls --bogus
bad 1 $N ls -Z
bad 1 $N ls "$E"
bad 1 $N frobnicate
bad 1 $N --frobnicate
bad 1 $N
bad 1 $N info "${P}missing"
bad 1 $N info --id notanumber
bad 1 $N info --id -4
bad 1 $N info --id 2147483647
bad 1 $N info --key "$KMISSING"
bad 1 $N info "$E" "${P}s"
bad 1 $N info
bad 1 $N info --memfd abc
bad 1 $N info --memfd 1:99999
bad 1 $N cat "${P}missing"
bad 1 $N cat --offset 3 "$E"
bad 1 $N dump "$E" --offset 5000
bad 1 $N dump "$E" --offset -3
bad 1 $N dump "$E" --length 1Z
bad 1 $N dump --key zz
bad 1 "$tmp/long-input" write "$E" --offset 4090
bad 1 "$tmp/x" write "$E" --offset 99999
bad 1 "$tmp/x" write "${P}s"
bad 1 "$tmp/x" write --raw --seal "$E"
bad 1 $N verify "${P}missing"
bad 1 $N verify
bad 1 $N rm "$E" "${P}missing"
bad 1 $N rm --key "$KMISSING"
bad 1 $N rm --memfd 1:0
bad 1 $N rm
bad 1 $N gc --force
bad 1 $N gc --force "${P}missing"
bad 1 $N gc --posix "$E"
bad 1 $N watch "$E" --interval 0
bad 1 $N watch "$E" --interval abc
bad 1 $N watch "${P}missing" --once
done_testing
