#!/bin/sh
# t_abuse_fulltmpfs.t - t_abuse_limits's full-tmpfs half: library and CLI
# creates on a 1 MiB /dev/shm (a fresh tmpfs in a private mount namespace, so
# the machine's /dev/shm is not touched) give ENOSPC, never SIGBUS, even with
# the tmpfs filled to the last page. Needs root (or the capabilities to
# unshare and mount); skipped otherwise.
b=${SHMKIT_BUILD:-build}
if [ "$(id -u)" != 0 ]; then echo "1..0 # SKIP needs root to mount a tmpfs"; exit 77; fi
command -v unshare >/dev/null || { echo "1..0 # SKIP unshare(1) not installed"; exit 77; }
if ! unshare -m true 2>/dev/null; then echo "1..0 # SKIP unshare -m not permitted here"; exit 77; fi
exec unshare -m sh -c '
    mount --make-rprivate / 2>/dev/null
    if ! mount -t tmpfs -o size=1m,mode=1777 shmkit-abuse /dev/shm 2>/dev/null; then
        echo "1..0 # SKIP cannot mount a tmpfs on /dev/shm"; exit 77
    fi
    exec "$1/tests/t_abuse_limits" tmpfs' sh "$b"
