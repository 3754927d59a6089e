#!/bin/sh
# t_man_links.t - every public function has a man entry after `make install`:
# a staged install (DESTDIR=tmp PREFIX=/usr), then for each function the
# shared library exports (nm -D --defined-only), `man -w FUNC` resolves in the
# staged man tree and `man FUNC` renders a page that names FUNC. Every link is
# a ".so" to an installed page, and `make uninstall` removes them all.
build=${SHMKIT_BUILD:-build}
case $build in
    *asan* | *tsan* | *cov* | *fuzz*)
        echo "1..0 # SKIP install is checked in plain builds"; exit 77 ;;
esac
command -v man >/dev/null 2>&1 || { echo "1..0 # SKIP man missing"; exit 77; }
command -v nm >/dev/null 2>&1 || { echo "1..0 # SKIP nm missing"; exit 77; }
top=$(dirname "$(readlink -f "$0")")/..
build=$(cd "$build" 2>/dev/null && pwd) || { echo "1..0 # SKIP $build not built"; exit 77; }
so=$build/libshmkit.so
[ -e "$so" ] || { echo "1..0 # SKIP $so not built"; exit 77; }
cd "$top" || exit 1

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp" # man-db may read the pages as its own user
stage=$tmp/stage
mandir=$stage/usr/share/man
n=0
fail=0
check() { # check STATUS DESCRIPTION [FILE whose lines explain a failure]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && sed 's/^/# /' "$3"
        fail=1
    fi
}
echo "1..6"

nm -D --defined-only "$so" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort -u >"$tmp/funcs"
[ -s "$tmp/funcs" ]
check $? "libshmkit.so exports $(wc -l <"$tmp/funcs") functions"

make -s install BUILD="$build" DESTDIR="$stage" PREFIX=/usr >"$tmp/log" 2>&1
check $? "make install DESTDIR=... PREFIX=/usr" "$tmp/log"

# man -w prints the file of the page a name resolves to, .so links followed.
export LC_ALL=C MANWIDTH=200 MANPAGER=cat PAGER=cat
: >"$tmp/unresolved"
: >"$tmp/unrendered"
while read -r f; do
    page=$(man -w -M "$mandir" 3 "$f" 2>/dev/null)
    case $page in
        "$mandir"/man3/*) ;;
        *) echo "$f: man -w found ${page:-nothing}" >>"$tmp/unresolved"; continue ;;
    esac
    man -M "$mandir" 3 "$f" 2>/dev/null | grep -q "\\<$f\\>" ||
        echo "$f: the page man shows ($page) does not name it" >>"$tmp/unrendered"
done <"$tmp/funcs"
[ ! -s "$tmp/unresolved" ]
check $? "man -w resolves every exported function in the staged install" "$tmp/unresolved"
[ ! -s "$tmp/unrendered" ]
check $? "man FUNC renders a page that names FUNC, for every one" "$tmp/unrendered"

# Each link is one line, ".so man3/PAGE.3", and PAGE.3 is installed.
: >"$tmp/bad"
for l in "$mandir"/man*/*; do
    head -c 4 "$l" | grep -q '^\.so ' || continue
    target=$(sed -n '1s/^\.so //p' "$l")
    { [ "$(wc -l <"$l")" -eq 1 ] && [ -f "$mandir/$target" ] &&
        ! head -c 4 "$mandir/$target" | grep -q '^\.so '; } ||
        echo "${l#"$mandir"/}: $(head -c 80 "$l")" >>"$tmp/bad"
done
[ ! -s "$tmp/bad" ]
check $? "every .so link is one line naming an installed page" "$tmp/bad"

make -s uninstall BUILD="$build" DESTDIR="$stage" PREFIX=/usr >"$tmp/log" 2>&1 &&
    find "$mandir" -type f >"$tmp/left" && [ ! -s "$tmp/left" ]
check $? "make uninstall removes every page and link" "$tmp/left"
exit $fail
