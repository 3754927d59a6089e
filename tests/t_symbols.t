#!/bin/sh
# t_symbols.t - the ABI's symbol list: src/shmkit.map names exactly the
# functions declared SHMKIT_API in include/shmkit.h and include/shmkit/*.h,
# under one version node, and the built libshmkit.so exports exactly those
# (nm -D --defined-only), each with that version. A new public function is
# added to the map deliberately; this test says which one is missing.
top=$(dirname "$(readlink -f "$0")")/..
build=$(cd "${SHMKIT_BUILD:-build}" 2>/dev/null && pwd) || build=$top/build
cd "$top" || exit 1
command -v nm >/dev/null 2>&1 || { echo "1..0 # SKIP nm missing"; exit 77; }
so=$build/libshmkit.so
[ -e "$so" ] || { echo "1..0 # SKIP $so not built"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
fail=0
check() { # check STATUS DESCRIPTION [FILE whose lines explain a failure]
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
        echo "not ok $n - $2"
        [ -n "${3:-}" ] && sed 's/^/# /' "$3" >&2
        fail=1
    fi
}
echo "1..5"

# The headers' public functions: preprocessor lines dropped (the
# "#define SHMKIT_API" ones), declarations joined, the name before "(".
sed '/^[[:space:]]*#/d' include/shmkit.h include/shmkit/*.h | tr '\n' ' ' |
    grep -o 'SHMKIT_API[^;{]*' | grep -o 'shmkit_[a-z0-9_]*[[:space:]]*(' | tr -d '( ' |
    sort -u >"$tmp/api"
# The map's global names (comments dropped): lines "name;" before "local:".
sed 's|/\*.*\*/||; /\/\*/,/\*\//d' src/shmkit.map |
    awk '/global:/ {g = 1; next} /local:/ {g = 0} g && /^[[:space:]]*[a-z_0-9]+;/ {
        gsub(/[ \t;]/, ""); print }' | sort >"$tmp/map.raw"
sort -u "$tmp/map.raw" >"$tmp/map"
nodes=$(grep -c '^[A-Z][A-Z0-9_.]* *{' src/shmkit.map)
wild=$(sed -n '/global:/,/local:/p' src/shmkit.map | grep -c '[*?]')
[ "$nodes" -ge 1 ] && [ "$wild" -eq 0 ] && cmp -s "$tmp/map" "$tmp/map.raw"
check $? "src/shmkit.map: a version node, an explicit list (no wildcard), no name twice"

comm -3 "$tmp/api" "$tmp/map" | sed 's/^\t/in the map, not in a header: /;
    /^in the map/!s/^/declared SHMKIT_API, missing from src\/shmkit.map: /' >"$tmp/d1"
[ -s "$tmp/api" ] && [ ! -s "$tmp/d1" ]
check $? "the map lists exactly the $(wc -l <"$tmp/api") SHMKIT_API functions" "$tmp/d1"

# Exported functions and data, and with which version (nm -D prints
# NAME@@NODE for the default version of a versioned symbol).
nm -D --defined-only "$so" | awk '$2 != "A" {print $3}' | sort >"$tmp/dyn"
sed 's/@.*//' "$tmp/dyn" | sort -u >"$tmp/exported"
comm -3 "$tmp/api" "$tmp/exported" | sed 's/^\t/exported, not public: /;
    /^exported/!s/^/public, not exported: /' >"$tmp/d2"
[ ! -s "$tmp/d2" ]
check $? "libshmkit.so exports exactly the public functions" "$tmp/d2"

nodes=$(sed 's|/\*.*\*/||; /\/\*/,/\*\//d' src/shmkit.map | grep -o '^[A-Z][A-Z0-9_.]*' | tr '\n' ' ')
for v in $nodes; do grep "@@$v\$" "$tmp/dyn"; done | sort >"$tmp/versioned"
comm -23 "$tmp/dyn" "$tmp/versioned" | sed 's/^/not at a version of the map ('"$nodes"'): /' >"$tmp/d3"
[ -n "$nodes" ] && [ ! -s "$tmp/d3" ]
check $? "every export carries a version node of the map (${nodes% })" "$tmp/d3"

# Nothing internal leaks: no shmkit__ helper, no unprefixed name.
grep -v '^shmkit_[a-z]' "$tmp/exported" | sed 's/^/not a public name: /' >"$tmp/d4"
[ ! -s "$tmp/d4" ]
check $? "no internal or unprefixed symbol exported" "$tmp/d4"
exit $fail
