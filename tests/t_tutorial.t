#!/bin/sh
# t_tutorial.t - every command shown in docs/tutorial.md runs and prints what the tutorial says
# it prints (variable parts written "…"), every code excerpt of both tutorials still appears
# verbatim in its example file, and the demonstrations show what the text claims (updates
# lost without a lock, mmap faster for a few bytes of a big file), so the docs cannot rot;
# docs/tutoriel.md (French) must show exactly the same commands and outputs.
build=${SHMKIT_BUILD:-build}
top=$(dirname "$(readlink -f "$0")")/..
case $build in
    build) ;;
    *) echo "1..0 # SKIP the tutorials are checked once, in the plain build"; exit 77 ;;
esac
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 missing"; exit 77; }
[ -x "$build/examples/writer" ] && [ -x "$build/bin/shmkit" ] || { echo "1..0 # SKIP not built"; exit 77; }
python3 "$top/tests/lib/tutorial_check.py" "$build" "$top/docs/tutorial.md" "$top/docs/tutoriel.md"
rc=$?
rm -f /dev/shm/shmkit-raw /dev/shm/shmkit-msg /dev/shm/shmkit-100 /dev/shm/shmkit-scores \
    /dev/shm/shmkit-ring /dev/shm/shmkit-bus /dev/shm/shmkit-f1-crash /dev/shm/shmkit-f1-crash-cars \
    /dev/shm/shmkit-f1-crash-events
for k in $("$build/examples/sysv" -K 2>/dev/null); do ipcrm -M "$k" 2>/dev/null; done
rm -rf /tmp/shmkit-tutorial
exit $rc
