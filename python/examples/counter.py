"""counter.py [-n NAME] [PROCS] [ROUNDS] - the course's counter with a lock: PROCS processes
add 1 to a shared counter ROUNDS times each, under a robust mutex. Whoever comes first
creates the segment and initialises the mutex (Segment(init=...)); a process killed while
holding the lock is repaired by the next one (repair=)."""
import argparse
import os
import struct

import shmkit

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--name", default="/shmkit-counter-py")
ap.add_argument("procs", nargs="?", type=int, default=4)
ap.add_argument("rounds", nargs="?", type=int, default=10000)
a = ap.parse_args()

OFF = shmkit.MUTEX_SIZE  # struct shared { struct shmkit_mutex lock; int64_t counter; }


def setup(seg):  # runs once, in the process that creates the segment
    shmkit.Mutex(seg, 0, init=True)


def work():
    with shmkit.Segment(a.name, size=OFF + 8, create=True, init=setup) as seg:
        lock = shmkit.Mutex(seg, 0, repair=lambda m: None)  # the counter needs no repair
        counter = memoryview(seg)[OFF:OFF + 8].cast("q")
        for _ in range(a.rounds):
            with lock:
                counter[0] += 1
        counter.release()
        del lock


kids = []
for _ in range(a.procs):
    pid = os.fork()
    if pid == 0:
        work()
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
with shmkit.Segment(a.name) as seg:
    total = struct.unpack_from("q", seg.read(OFF, 8))[0]
    print(f"counter = {total} (expected {a.procs * a.rounds})")
    seg.remove()
