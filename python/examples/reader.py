"""reader.py [-n NAME] [-r] - the course's reader in Python (examples/reader.c): maps the
segment read-only, checks its header and seal, prints the message. -r removes it after."""
import argparse
import sys

import shmkit

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--name", default="/shmkit-msg")
ap.add_argument("-r", "--remove", action="store_true")
a = ap.parse_args()

try:
    seg = shmkit.Segment(a.name, readonly=True, verify=True)
except shmkit.Error as e:  # TamperedError, NotFoundError, FormatError ...
    print(f"reader: {a.name}: {e.strerror} ({e.name})", file=sys.stderr)
    sys.exit(1)
with seg:
    text = seg.read().split(b"\0", 1)[0].decode(errors="replace")
    print(f"read from {a.name}: {text}")
    print("checked: header valid, " +
          ("seal verified (payload unchanged since the writer sealed it)"
           if seg.info()["sealed"] else "not sealed"))
    if a.remove:
        seg.remove()
