"""C <-> Python: the same segments, rings, buses, locks and seals from both languages."""
import os
import struct
import subprocess
import time

import pytest

import shmkit

from conftest import wait_line


def prog(build, *path):
    p = os.path.join(build, *path)
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} not built")
    return p


def test_c_producer_python_consumer(name, build, children):
    c = shmkit.Ring(name, "consumer", create=True, capacity=4096)
    ch = children.run([prog(build, "examples", "channels"), "ring-send", name, 20])
    msgs = []
    for m in c:  # ends when the C producer closes (end of stream)
        msgs.append(bytes(m))
    assert msgs == [b"message %d" % i for i in range(1, 21)] + [b"bye"]
    assert ch.wait(10) == 0
    c.close()


def test_python_producer_c_consumer(name, build, children):
    ch = children.run([prog(build, "examples", "channels"), "ring-recv", name])
    p = shmkit.Ring(name, "producer", timeout=10)
    for i in range(3):
        p.send(b"py %d" % i)
    p.send(b"bye")
    out, err = ch.communicate(timeout=10)
    assert ch.returncode == 0, err
    assert out.splitlines()[:3] == ["ring-recv: py %d" % i for i in range(3)]
    assert "3 messages, then bye" in out
    p.close()


def test_c_publisher_python_subscriber(name, build, children):
    ch = children.run([prog(build, "examples", "channels"), "bus-pub", name, 5, 1])
    s = shmkit.Subscriber(name, timeout=10)
    got = list(s)
    assert got == [b"message %d" % i for i in range(1, 6)] + [b"bye"]
    assert ch.wait(10) == 0
    s.close()


def test_python_echo_through_c(name, build, children):
    a, b = name + "-a", name + "-b"
    out = shmkit.Ring(a, "producer", create=True)
    back = shmkit.Ring(b, "consumer", create=True)
    try:
        ch = children.run([prog(build, "python", "c_peer"), "echo", a, b, 100])
        for i in range(100):
            out.send(struct.pack("q", i) * 8)
            assert back.recv(timeout=10) == struct.pack("q", i) * 8
        assert ch.wait(10) == 0
    finally:
        out.close()
        back.close()
        shmkit.remove(a)
        shmkit.remove(b)


def test_python_writer_c_verify(name, build):
    cli = prog(build, "bin", "shmkit")
    with shmkit.Segment(name, size=4096, create=True) as seg:
        memoryview(seg)[:] = bytes(range(256)) * 16
        seg.seal()
        r = subprocess.run([cli, "verify", name], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        seg.write(1000, b"!")
        r = subprocess.run([cli, "verify", name], capture_output=True, text=True)
        assert r.returncode == 3 and "checksum" in r.stderr
    r = subprocess.run([cli, "info", name], capture_output=True, text=True)
    assert r.returncode == 0 and "sealed" in r.stdout


def test_python_table_c_info(name, build):
    cli = prog(build, "bin", "shmkit")
    with shmkit.Table(name, "qq", count=3, type_id=0x1234, create=True) as t:
        t.claim(1)
        t.write(1, (5, 6))
        r = subprocess.run([cli, "info", name], capture_output=True, text=True)
        assert r.returncode == 0 and "table" in r.stdout


def test_python_mutex_c_locker(name, build, children):
    """A Python process dies holding the mutex; the C program gets the owner-died news,
    repairs, and locks it; Python then locks it cleanly."""
    def init(seg):
        shmkit.Mutex(seg, 0, init=True)

    seg = shmkit.Segment(name, size=shmkit.MUTEX_SIZE, create=True, init=init)
    code = ("import shmkit,sys,time; seg=shmkit.Segment(sys.argv[1]); m=shmkit.Mutex(seg)\n"
            "m.acquire(); print('locked', flush=True); time.sleep(60)\n")
    ch = children.python(code, name)
    wait_line(ch, "locked")
    ch.kill()
    ch.wait()
    r = subprocess.run([prog(build, "python", "c_peer"), "mutex", name], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0 and r.stdout.split() == ["ownerdead", "locked"], r.stderr
    m = shmkit.Mutex(seg)
    assert m.acquire(timeout=5)
    m.release()
    del m
    seg.close()
