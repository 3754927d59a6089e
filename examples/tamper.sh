#!/bin/sh
# tamper.sh - the course's "hack": write "HACKED" into a live segment with dd.
#
# WHAT IT TEACHES
#   A POSIX segment is a file in /dev/shm: anyone allowed to write the file can change the
#   bytes under the programs that use it, without any API. The classic raw_reader prints the
#   corrupted message as if nothing happened. The shmkit segment was sealed by its writer
#   (payload checksum in the header): reader refuses it and `shmkit verify` reports it as
#   tampered.
#
# USAGE   sh examples/tamper.sh      (binaries from $SHMKIT_BUILD, default build/)
# Segments are named after this shell's pid and removed on exit, even on Ctrl-C.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${SHMKIT_BUILD:-$here/../build}
ex=$build/examples
cli=$build/bin/shmkit
raw=/shmkit-raw-$$
msg=/shmkit-msg-$$
cleanup() { rm -f "/dev/shm${raw}" "/dev/shm${msg}"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
for p in raw_writer raw_reader writer reader; do
    [ -x "$ex/$p" ] || { echo "tamper.sh: $ex/$p missing: run make first" >&2; exit 2; }
done

echo "== 1. the classic pair (no header)"
"$ex/raw_writer" -n "$raw" "Hello from the writer process!"
"$ex/raw_reader" -n "$raw"
echo "-- dd writes HACKED at offset 0 of /dev/shm${raw}"
printf HACKED | dd of="/dev/shm${raw}" bs=1 seek=0 conv=notrunc status=none
"$ex/raw_reader" -n "$raw"
echo "(the raw reader cannot tell: it prints the corrupted message)"

echo
echo "== 2. the shmkit pair (header + seal)"
"$ex/writer" -n "$msg" "Hello from the writer process!"
"$ex/reader" -n "$msg" 2>&1
echo "-- dd writes HACKED at offset 256 of /dev/shm${msg} (the payload, after the header)"
printf HACKED | dd of="/dev/shm${msg}" bs=1 seek=256 conv=notrunc status=none
"$ex/reader" -n "$msg" 2>&1
echo "reader exit status: $?"
if [ -x "$cli" ]; then
    "$cli" verify "$msg" 2>&1
    echo "shmkit verify exit status: $?"
else
    echo "(shmkit verify skipped: $cli is not built yet)"
fi
