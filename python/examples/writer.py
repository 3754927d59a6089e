"""writer.py [-n NAME] [MESSAGE] - the course's writer in Python (examples/writer.c): puts a
message in a named segment and seals it. Any reader, C or Python, can check it."""
import argparse

import shmkit

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--name", default="/shmkit-msg")
ap.add_argument("message", nargs="?", default="Hello from the writer process!")
a = ap.parse_args()

data = a.message.encode() + b"\0"
with shmkit.Segment(a.name, size=4096, create=True) as seg:
    mem = memoryview(seg)
    mem[:] = bytes(len(mem))          # zero the payload
    mem[:len(data)] = data            # writes go straight into the shared memory
    mem.release()                     # (a live view keeps close() from unmapping)
    seg.seal()                        # record the payload checksum: from now on changes show
    print(f"wrote {len(data)} bytes to {a.name} (payload {seg.size} + header "
          f"{shmkit.HEADER_SIZE} bytes), sealed")
