"""No leaked segments, memory or references: loops of create/close stay flat."""
import gc
import os
import sys
import tracemalloc

import shmkit


def shm_names():
    return {f for f in os.listdir("/dev/shm") if f.startswith(f"shmkit-pyt-{os.getpid()}-")}


def flat(fn, rounds=300, watch=()):
    """Runs FN ROUNDS times after a warm-up; asserts the reference counts of the objects in
    WATCH did not move; returns the traced memory growth in bytes."""
    for _ in range(50):
        fn()
    gc.collect()
    refs = [sys.getrefcount(o) for o in watch]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(rounds):
        fn()
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert [sys.getrefcount(o) for o in watch] == refs
    return after - before


def test_segment_loop(name):
    def once():
        with shmkit.Segment(name, size=4096, create=True) as s:
            v = memoryview(s)
            v[0] = 1
            v.release()
            s.remove()

    assert flat(once, watch=(name, shmkit.Segment)) < 64 * 1024
    assert not shm_names()


def test_errors_loop(name):
    def once():
        try:
            shmkit.Segment(name)
        except shmkit.NotFoundError:
            pass

    assert flat(once, watch=(name, shmkit.NotFoundError)) < 64 * 1024


def test_ring_loop(name):
    def once():
        c = shmkit.Ring(name, "consumer", create=True, capacity=4096)
        p = shmkit.Ring(name, "producer")
        p.send(b"x" * 100)
        m = c.peek()
        m.release()
        c.release()
        v = p.reserve(10)
        p.commit()
        del v
        c.recv()
        p.close()
        c.remove()
        c.close()

    assert flat(once, 200, watch=(name, shmkit.Ring, b"x")) < 64 * 1024
    assert not shm_names()


def test_table_and_locks_loop(name):
    def once():
        with shmkit.Table(name, "qq", count=4, create=True) as t:
            t.claim(0)
            t.write(0, (1, 2))
            t.read(0)
            t.remove()
        with shmkit.Segment(name, size=shmkit.RWLOCK_SIZE + 64, create=True) as s:
            m = shmkit.Mutex(s, 0, init=True)
            with m:
                pass
            v = shmkit.SeqValue(s, 64, "q", init=True)
            v.set(3)
            v.get()
            del m, v
            s.remove()

    assert flat(once, 200, watch=(name, shmkit.Table, shmkit.Mutex)) < 64 * 1024
    assert not shm_names()


def test_channel_segments_loop(name):
    """A channel's .segment, channels made on it (from_segment), refused joins (geometry):
    nothing accumulates, on either side of the handle <-> segment link."""
    seg = shmkit.Segment(None, kind="anon", size=shmkit.ring_size_for(4096), create=True)

    def once():
        setup = shmkit.Ring(None, None, kind="anon", capacity=4096)
        s = setup.segment
        c = shmkit.Ring.from_segment(s, "consumer")
        p = shmkit.Ring.from_segment(s, "producer")
        p.send(b"x")
        c.recv()
        p.close()
        del c  # dropped, not closed: it lets go of the segment by itself
        del s
        setup.close()
        with shmkit.Bus(name, None, create=True, slots=16, msg_max=64) as b:
            sub = shmkit.Subscriber.from_segment(b.segment)
            try:
                shmkit.Subscriber(name, slots=32)
            except shmkit.GeometryError:
                pass
            sub.close()
            b.remove()
        r = shmkit.Ring.from_segment(seg, None, create=True)
        r.close()

    assert flat(once, 200, watch=(name, seg, shmkit.Ring, shmkit.Segment)) < 64 * 1024
    assert not shm_names()
    seg.close()
