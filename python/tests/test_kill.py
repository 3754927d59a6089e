"""kill -9 of a Python process in the middle of things: holding a mutex, writing a table
record, holding a ring loan or a peeked message. The peers recover as they do in C."""
import time

import pytest

import shmkit

from conftest import wait_line


def test_killed_holding_mutex(name, children):
    def init(seg):
        shmkit.Mutex(seg, 0, init=True)

    with shmkit.Segment(name, size=shmkit.MUTEX_SIZE + 16, create=True, init=init) as seg:
        code = ("import shmkit,sys,time,struct; seg=shmkit.Segment(sys.argv[1]); m=shmkit.Mutex(seg)\n"
                "m.acquire(); seg.write(shmkit.MUTEX_SIZE, struct.pack('qq', -10, 0))\n"
                "print('halfway', flush=True); time.sleep(60)\n")
        ch = children.python(code, name)
        wait_line(ch, "halfway")
        ch.kill()
        ch.wait()
        m = shmkit.Mutex(seg)
        with pytest.raises(shmkit.OwnerDeadError) as e:
            m.acquire(timeout=10)
        assert e.value.lock is m and e.value.name == "SHMKIT_EOWNERDEAD"
        seg.write(shmkit.MUTEX_SIZE, b"\0" * 16)  # repair: roll back
        e.value.consistent()
        m.release()
        with m:  # a clean lock again
            pass
        # the same with a repair callable: the with body runs after it
        ch = children.python(code, name)
        wait_line(ch, "halfway")
        ch.kill()
        ch.wait()
        repaired = []
        m2 = shmkit.Mutex(seg, repair=lambda lk: repaired.append(lk))
        with m2:
            assert repaired == [m2]
        del m, m2


def test_killed_unrepaired_is_unrecoverable(name, children):
    def init(seg):
        shmkit.Mutex(seg, 0, init=True)

    with shmkit.Segment(name, size=shmkit.MUTEX_SIZE, create=True, init=init) as seg:
        code = ("import shmkit,sys,time; seg=shmkit.Segment(sys.argv[1]); m=shmkit.Mutex(seg)\n"
                "m.acquire(); print('locked', flush=True); time.sleep(60)\n")
        ch = children.python(code, name)
        wait_line(ch, "locked")
        ch.kill()
        ch.wait()
        m = shmkit.Mutex(seg)
        with pytest.raises(shmkit.OwnerDeadError):
            m.acquire()
        m.release()  # without consistent(): unrecoverable for everyone
        with pytest.raises(shmkit.NotRecoverableError):
            m.acquire()
        m.destroy()
        shmkit.Mutex(seg, init=True)
        assert m.acquire(timeout=1)
        m.release()
        del m


def test_killed_mid_write_on_table(name, children):
    fmt = "512q"  # 4 KiB records: a write takes long enough to be caught in the middle
    with shmkit.Table(name, fmt, count=2, create=True) as t:
        code = ("import shmkit,sys; t=shmkit.Table(sys.argv[1],'512q'); t.claim(0)\n"
                "i=0\nprint('writing', flush=True)\n"
                "while True:\n    i+=1; t.write(0, (i,)*512)\n")
        for _ in range(3):
            ch = children.python(code, name)
            wait_line(ch, "writing")
            time.sleep(0.05)
            ch.kill()
            ch.wait()
            assert t.owner(0)[0] == "dead" and t.alive(0) is False
            try:
                rec = t.read(0)
                assert len(set(rec)) == 1  # a snapshot is never torn
            except shmkit.PeerDeadError:
                pass  # killed inside a write: the record says so instead of lying
            assert t.claim(0) is True  # taken over from the dead owner
            t.write(0, (7,) * 512)
            assert t.read(0) == (7,) * 512
            t.release(0)


def test_killed_mid_loan_on_ring(name, children):
    c = shmkit.Ring(name, "consumer", create=True)
    code = ("import shmkit,sys,time; r=shmkit.Ring(sys.argv[1],'producer'); r.send(b'before')\n"
            "v=r.reserve(100); v[:4]=b'half'; print('loaned', flush=True); time.sleep(60)\n")
    ch = children.python(code, name)
    wait_line(ch, "loaned")
    ch.kill()
    ch.wait()
    assert c.recv(timeout=5) == b"before"
    with pytest.raises(shmkit.PeerDeadError):
        c.recv(timeout=5)  # the half-written message is never seen
    p = shmkit.Ring(name, "producer")  # takes the dead producer's place
    p.send(b"after")
    assert c.recv(timeout=5) == b"after"
    assert c.stats()["takeovers"] >= 1
    p.close()
    c.close()


def test_killed_mid_peek_redelivers(name, children):
    p = shmkit.Ring(name, "producer", create=True)
    p.send(b"once")
    code = ("import shmkit,sys,time; r=shmkit.Ring(sys.argv[1],'consumer'); m=r.peek(timeout=5)\n"
            "print('peeked', bytes(m), flush=True); time.sleep(60)\n")
    ch = children.python(code, name)
    assert "b'once'" in wait_line(ch, "peeked")
    ch.kill()
    ch.wait()
    c = shmkit.Ring(name, "consumer")  # the dead consumer's role is free again
    assert c.recv(timeout=5) == b"once"  # at least once: delivered again
    c.close()
    p.close()


def test_killed_subscriber_dropped(name, children):
    b = shmkit.Bus(name, create=True, slots=2, msg_max=16)
    code = "import shmkit,sys,time; s=shmkit.Subscriber(sys.argv[1]); print('in', flush=True); time.sleep(60)"
    ch = children.python(code, name)
    wait_line(ch, "in")
    b.wait_subscribers(1, timeout=5)
    ch.kill()
    ch.wait()
    for i in range(10):  # back-pressure: a dead subscriber does not block the publisher
        b.send(b"%d" % i, timeout=5)
    b.close()
