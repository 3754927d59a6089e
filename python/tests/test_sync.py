"""Mutex, RWLock and SeqValue in a segment, with other processes."""
import os
import struct
import time

import pytest

import shmkit


def counter_segment(name):
    def init(seg):
        shmkit.Mutex(seg, 0, init=True)

    return shmkit.Segment(name, size=shmkit.MUTEX_SIZE + 8, create=True, init=init)


def test_mutex_counter_processes(name, children):
    seg = counter_segment(name)
    code = ("import shmkit,sys,struct\n"
            "seg=shmkit.Segment(sys.argv[1]); m=shmkit.Mutex(seg, 0); off=shmkit.MUTEX_SIZE\n"
            "for _ in range(500):\n"
            "    with m:\n"
            "        v=struct.unpack_from('q', seg.read(off, 8))[0]; seg.write(off, struct.pack('q', v+1))\n"
            "seg.close()\n")
    ps = [children.python(code, name) for _ in range(3)]
    for p in ps:
        assert p.wait(60) == 0, p.stderr.read()
    assert struct.unpack("q", seg.read(shmkit.MUTEX_SIZE, 8))[0] == 1500
    seg.close()


def test_mutex_try_and_timeout(name):
    with counter_segment(name) as seg:
        m = shmkit.Mutex(seg)
        assert m.acquire(timeout=0)
        with pytest.raises(shmkit.Error):
            m.acquire()  # EDEADLK: not recursive
        m.release()
        with pytest.raises(shmkit.PermissionDeniedError):
            m.release()
        with m:
            pass
        del m


def test_lock_outlives_closed_segment(name):
    seg = counter_segment(name)
    m = shmkit.Mutex(seg)
    seg.close()
    with pytest.raises(shmkit.BadHandleError):
        m.acquire()
    with pytest.raises(TypeError):
        shmkit.Mutex(b"not a segment")
    with shmkit.Segment(name) as s2:
        with pytest.raises(shmkit.OutOfRangeError):
            shmkit.Mutex(s2, offset=s2.size)
        with pytest.raises(shmkit.InvalidError):
            shmkit.Mutex(s2, offset=3)  # misaligned


def test_rwlock(name, children):
    def init(seg):
        shmkit.RWLock(seg, 0, init=True)

    with shmkit.Segment(name, size=shmkit.RWLOCK_SIZE, create=True, init=init) as seg:
        rw = shmkit.RWLock(seg)
        with rw.read():
            with rw.read():
                assert rw.acquire_write(timeout=0) is False
        with rw.write():
            assert rw.acquire_read(timeout=0) is None
        code = ("import shmkit,sys; seg=shmkit.Segment(sys.argv[1]); rw=shmkit.RWLock(seg)\n"
                "with rw.read():\n    print('reading', flush=True); sys.stdin.read()\n")
        import subprocess
        from conftest import wait_line
        ch = children.python(code, name, stdin=subprocess.PIPE)
        wait_line(ch, "reading")
        assert rw.acquire_write(timeout=0.05) is False
        ch.stdin.close()
        assert ch.wait(10) == 0
        assert rw.acquire_write(timeout=5)
        rw.release_write()
        del rw


def test_seqvalue(name, children):
    fmt = "qd"
    size = shmkit.SeqValue.size_for(fmt)

    def init(seg):
        shmkit.SeqValue(seg, 0, fmt, init=True)

    with shmkit.Segment(name, size=size, create=True, init=init) as seg:
        v = shmkit.SeqValue(seg, 0, fmt)
        assert v.get() == (0, 0.0)
        v.set(1, 2.5)
        assert v.get() == (1, 2.5)
        code = ("import shmkit,sys; seg=shmkit.Segment(sys.argv[1]); v=shmkit.SeqValue(seg,0,'qd')\n"
                "print('ready', flush=True)\nok=v.wait_change(10)\nprint(ok, v.get(), flush=True)\n")
        from conftest import wait_line
        ch = children.python(code, name)
        wait_line(ch, "ready")
        time.sleep(0.2)
        v.set(7, 7.5)
        out, _ = ch.communicate(timeout=10)
        assert "True (7, 7.5)" in out
        assert v.writer_alive()
        with pytest.raises(shmkit.TooBigError):
            v.write(b"x" * 100)
        del v
