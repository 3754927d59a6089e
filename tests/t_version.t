#!/bin/sh
# t_version.t - one version source: the Makefile's VERSION. The header's
# SHMKIT_VERSION_MAJOR/MINOR/PATCH/STRING, the "shmkit X.Y.Z" of every man
# page's .TH line, the generated shmkit.pc, and shmkit_version() at run time
# (through the CLI's --version, and from libshmkit.so) must all agree with it.
top=$(dirname "$(readlink -f "$0")")/..
build=$(cd "${SHMKIT_BUILD:-build}" 2>/dev/null && pwd) || build=$top/build
cd "$top" || exit 1
n=0
fail=0
check() { # check STATUS DESCRIPTION [DETAIL for a failure]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && echo "# $3" >&2
        fail=1
    fi
}
skip() { n=$((n + 1)); echo "ok $n # SKIP $1"; }
echo "1..7"

v=$(sed -n 's/^VERSION[[:space:]]*:=[[:space:]]*\([^[:space:]]*\).*/\1/p' Makefile)
echo "$v" | grep -qx '[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*'
check $? "the Makefile's VERSION is X.Y.Z (${v:-none})"
major=${v%%.*} rest=${v#*.}
minor=${rest%%.*} patch=${rest#*.}

hdr() { sed -n "s/^#define SHMKIT_VERSION_$1[[:space:]][[:space:]]*\\(.*\\)/\\1/p" include/shmkit.h; }
got="$(hdr MAJOR).$(hdr MINOR).$(hdr PATCH) $(hdr STRING)"
[ "$got" = "$major.$minor.$patch \"$v\"" ]
check $? "include/shmkit.h: SHMKIT_VERSION_MAJOR.MINOR.PATCH STRING = $got" \
    "want $major.$minor.$patch \"$v\" (edit include/shmkit.h when the Makefile's VERSION changes)"

bad=""
for m in man/*.[137]; do
    [ -e "$m" ] || continue
    grep '^\.TH ' "$m" | grep -q "\"shmkit $v\"" || bad="$bad $m"
done
[ -z "$bad" ]
check $? "every man page's .TH says \"shmkit $v\"" "wrong or missing:$bad"

pc=$build/shmkit.pc
if [ -e "$pc" ]; then
    grep -qx "Version: $v" "$pc"
    check $? "$pc: Version: $v" "$(grep '^Version' "$pc")"
else
    skip "$pc not built (make test-build makes it)"
fi

cli=$build/bin/shmkit
if [ -x "$cli" ]; then
    out=$("$cli" --version 2>&1)
    [ "$out" = "shmkit $v (libshmkit $v)" ]
    check $? "shmkit --version: $out"
else
    skip "$cli not built"
fi

# shmkit_version() from the shared library, and the .so's file name. The
# library is loaded by python's ctypes, which a sanitized .so cannot be.
so=$build/libshmkit.so
[ -e "$build/libshmkit.so.$v" ]
check $? "the shared library is libshmkit.so.$v"
if [ -e "$so" ] && command -v python3 >/dev/null 2>&1 &&
    out=$(python3 -c 'import ctypes, sys
l = ctypes.CDLL(sys.argv[1])
l.shmkit_version.restype = ctypes.c_char_p
print(l.shmkit_version().decode())' "$so" 2>/dev/null); then
    [ "$out" = "$v" ]
    check $? "libshmkit.so: shmkit_version() = $out"
else
    skip "libshmkit.so cannot be loaded by python3 here (sanitized build or no python3)"
fi
exit $fail
