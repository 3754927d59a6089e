# private-shm.sh - for a CLI test that needs a /dev/shm of its own. Source it
# first (before lib.sh), after setting T, then call
#   private_shm SIZE [-i]
# The test re-executes itself in a private mount namespace (and IPC namespace
# with -i) on a tmpfs of SIZE mounted at /dev/shm: names cannot collide with
# anything else on the machine, plain `gc` sees only the test's segments, and
# nothing is left behind. Skips (exit 77) where that cannot be had.
private_shm() {
    [ "${SHMKIT_HOSTILE_INNER:-}" = 1 ] && return 0
    if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root (namespaces, a tmpfs)"; exit 77; fi
    if ! unshare -m $2 true 2>/dev/null; then echo "1..0 # SKIP unshare -m $2 not permitted"; exit 77; fi
    export SHMKIT_HOSTILE_INNER=1 SHMKIT_SHM_SIZE="$1" SHMKIT_SHM_TAG="shmkit-$T"
    exec unshare -m $2 sh -c '
        mount --make-rprivate / 2>/dev/null
        if ! mount -t tmpfs -o size="$SHMKIT_SHM_SIZE",mode=1777 "$SHMKIT_SHM_TAG" /dev/shm 2>/dev/null; then
            echo "1..0 # SKIP cannot mount a tmpfs on /dev/shm"; exit 77
        fi
        exec sh "$0"' "$(readlink -f "$0")"
}
