"""pipeline.py [-n NAME] [COUNT] - a parent sets a ring up without taking a role, then two
children take the roles, a producer and a consumer. With a name they join it by name like
any other program; without one the ring is anonymous and they inherit it across fork."""
import argparse
import os
import traceback

import shmkit

ap = argparse.ArgumentParser()
ap.add_argument("-n", "--name", help="a POSIX name (default: an anonymous ring)")
ap.add_argument("count", nargs="?", type=int, default=5)
a = ap.parse_args()

setup = shmkit.Ring(a.name, None, create=True, max_msg=64)  # role None: set up only


def take(role):
    if a.name:
        return shmkit.Ring(a.name, role)                    # by name, as any program would
    return shmkit.Ring.from_segment(setup.segment, role)    # the inherited anonymous ring


def producer():
    with take("producer") as ring:
        for i in range(1, a.count + 1):
            ring.send(b"item %d" % i)
    # closed: the consumer sees the end of the stream once it has read everything


def consumer():
    ring = take("consumer")
    n = 0
    for msg in ring:                                        # ends at the producer's close
        print("consumer:", msg.decode(), flush=True)
        n += 1
    print(f"consumer: {n} items, end of stream", flush=True)


kids = []
for work in (consumer, producer):
    pid = os.fork()
    if pid == 0:                    # a child: its work, then out at once (os._exit: it never
        try:                        # runs the parent's code or closes the parent's handles)
            work()
            os._exit(0)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
    kids.append(pid)
ok = all(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 for pid in kids)
if a.name:
    setup.remove()
setup.close()
print("parent: both children done" if ok else "parent: a child failed")
