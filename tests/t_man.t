#!/bin/sh
# t_man.t - the man pages: every man/*.[137] page formats without a single
# groff warning, and every SHMKIT_API function declared in the public headers
# is documented, i.e. appears in bold in the rendered text of some page, and
# named in the NAME section of exactly one page (make install links man3/FUNC.3
# to that page, so that `man FUNC` finds it: t_man_links.t).
case ${SHMKIT_BUILD:-build} in
    *asan* | *tsan* | *cov* | *fuzz*)
        echo "1..0 # SKIP man pages are checked in plain builds"; exit 77 ;;
esac
command -v groff >/dev/null 2>&1 || { echo "1..0 # SKIP groff missing"; exit 77; }
command -v perl >/dev/null 2>&1 || { echo "1..0 # SKIP perl missing"; exit 77; }

# The test is symlinked into the build directory: find the source tree.
top=$(dirname "$(readlink -f "$0")")/..
cd "$top" || exit 1
pages=$(ls man/*.[137] 2>/dev/null)
[ -n "$pages" ] || { echo "1..0 # SKIP no man pages"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check() {
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi
}

set -- $pages
echo "1..$(($# + 2))"

# 1. No warnings (-ww: all of them) and no errors, page by page.
for p in $pages; do
    LC_ALL=C groff -ww -man -Tutf8 -z "$p" >"$tmp/warn" 2>&1
    rc=$?
    [ -s "$tmp/warn" ] && { sed 's/^/# /' "$tmp/warn"; rc=1; }
    check $rc "$p formats without groff warnings"
done

# 2. Documentation coverage. The function names come from the headers'
# SHMKIT_API declarations; the bold words from the pages as grotty renders
# them with overstriking (-c): a bold character is "c BACKSPACE c".
perl -0777 -ne '
    s{/\*.*?\*/}{}gs;
    while (/SHMKIT_API\b[^;{]*?\b(shmkit_\w+)\s*\(/g) { print "$1\n" }
' include/shmkit.h include/shmkit/*.h | sort -u >"$tmp/api"
for p in $pages; do
    LC_ALL=C groff -man -Tascii -P-c "$p" 2>/dev/null
done | perl -ne '
    while (/((?:(.)\x08\2)+)/g) { (my $w = $1) =~ s/.\x08//g; print "$1\n" while $w =~ /(shmkit_\w+)/g }
' | sort -u >"$tmp/bold"
comm -23 "$tmp/api" "$tmp/bold" >"$tmp/missing"
if [ -s "$tmp/api" ] && [ ! -s "$tmp/missing" ]; then
    check 0 "all $(wc -l <"$tmp/api") SHMKIT_API functions appear in bold in a man page"
else
    [ -s "$tmp/api" ] || echo "# no SHMKIT_API function found in the headers"
    sed 's/^/# undocumented: /' "$tmp/missing"
    check 1 "$(wc -l <"$tmp/missing") of $(wc -l <"$tmp/api") SHMKIT_API functions have no bold mention in man/"
fi

# 3. NAME sections, read as make install reads them: the lines between
# ".SH NAME" and the next ".SH", up to "\-", split at commas.
for p in $pages; do
    sed -n '/^\.SH NAME/,/^\.SH/{/^\./d;p;}' "$p" | tr '\n' ' ' | sed 's/\\-.*//' |
        tr ', ' '\n\n' | grep -x 'shmkit_[a-z0-9_]*' | sed "s|\$| ${p#man/}|"
done | sort >"$tmp/named"
cut -d' ' -f1 "$tmp/named" | uniq -d | while read -r f; do
    echo "$f is named in: $(grep "^$f " "$tmp/named" | cut -d' ' -f2 | tr '\n' ' ')"
done >"$tmp/twice"
cut -d' ' -f1 "$tmp/named" | sort -u | comm -3 "$tmp/api" - |
    sed 's/^\t/in a NAME section, not SHMKIT_API: /; /^in a NAME/!s/^/in no NAME section: /' >>"$tmp/twice"
if [ -s "$tmp/api" ] && [ ! -s "$tmp/twice" ]; then
    check 0 "every SHMKIT_API function is named in the NAME section of exactly one page"
else
    sed 's/^/# /' "$tmp/twice"
    check 1 "SHMKIT_API functions in no NAME section, or in several"
fi
exit $fail
