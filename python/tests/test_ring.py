"""Ring: copying and zero-copy messages, timeouts, end of stream, views that die with their
message, Ctrl-C, the GIL released while waiting."""
import os
import signal
import sys
import threading
import time

import pytest

import shmkit

from conftest import wait_line


@pytest.fixture
def pair(name):
    c = shmkit.Ring(name, "consumer", create=True, capacity=4096)
    p = shmkit.Ring(name, "producer")
    yield p, c
    for r in (p, c):
        try:
            r.close()
        except shmkit.ViewsAliveError:
            pass


def test_send_recv(pair):
    p, c = pair
    assert c.created and not p.created and p.role == "producer" and c.capacity == 4096
    assert c.max_msg == 4096 // 2 - 16
    for i in range(100):
        p.send(b"m%d" % i)
        assert c.recv() == b"m%d" % i
    p.send(bytearray(b"ba"))
    p.send(memoryview(b"mv"))
    assert c.recv() == b"ba" and c.recv() == b"mv"
    buf = bytearray(16)
    p.send(b"into")
    assert c.recv_into(buf) == 4 and buf[:4] == b"into"
    st = c.stats()
    assert st["layout"] == "ring" and st["msgs_in"] == 103


def test_zero_copy(pair):
    p, c = pair
    v = p.reserve(5)
    assert not v.readonly
    v[:] = b"12345"
    p.commit()
    with pytest.raises(ValueError):
        v[0] = 1  # released with the commit
    m = c.peek()
    assert m.readonly and bytes(m) == b"12345"
    c.release()
    with pytest.raises(ValueError):
        bytes(m)
    with p.loan(3) as v2:
        v2[:] = b"abc"
    with c.message() as m2:
        assert m2 == b"abc"
    with pytest.raises(RuntimeError):
        with p.loan(3) as v3:
            v3[:] = b"xyz"
            raise RuntimeError
    with pytest.raises(shmkit.WouldBlockError):  # cancelled: nothing visible
        c.recv(timeout=0)


def test_commit_shorter(pair):
    p, c = pair
    v = p.reserve(100)
    v[:2] = b"hi"
    p.commit(2)
    assert c.recv() == b"hi"


def test_release_refused_while_a_slice_lives(pair):
    np = pytest.importorskip("numpy")
    p, c = pair
    p.send(b"\x01\x02\x03\x04")
    m = c.peek()
    a = np.frombuffer(m, dtype=np.uint8)
    with pytest.raises(shmkit.ViewsAliveError):
        c.release()
    assert a.sum() == 10  # still the message: nothing was released
    del a
    c.release()
    s = None
    p.send(b"again")
    m = c.peek()
    s = m[1:3]
    with pytest.raises(shmkit.ViewsAliveError):
        c.release()
    assert bytes(s) == b"ga"
    with pytest.raises(shmkit.ViewsAliveError):
        c.close()
    s.release()
    c.release()
    with pytest.raises(shmkit.WouldBlockError):
        c.recv(timeout=0)


def test_timeouts(pair):
    p, c = pair
    with pytest.raises(shmkit.TimedOutError):
        c.recv(timeout=0.05)
    with pytest.raises(BlockingIOError):
        c.recv(timeout=0)
    big = b"x" * c.max_msg
    n = 0
    with pytest.raises(shmkit.WouldBlockError):
        while True:
            p.send(big, timeout=0)
            n += 1
    assert n >= 1
    with pytest.raises(shmkit.TooBigError):
        p.send(b"x" * (c.max_msg + 1))


def test_end_of_stream_iteration(pair):
    p, c = pair
    for i in range(5):
        p.send(b"%d" % i)
    p.close()
    assert [bytes(m) for m in c] == [b"0", b"1", b"2", b"3", b"4"]
    with pytest.raises(shmkit.ClosedError) as e:
        c.recv(timeout=0)
    assert isinstance(e.value, EOFError)


def test_roles_and_closed_handle(pair):
    p, c = pair
    with pytest.raises(shmkit.InvalidError):
        p.recv(timeout=0)
    with pytest.raises(shmkit.InvalidError):
        c.send(b"x")
    with pytest.raises(shmkit.InvalidError):
        p.commit()
    with pytest.raises(shmkit.InvalidError):
        c.release()
    with pytest.raises(TypeError):
        p.send("text")
    with pytest.raises(TypeError):
        p.send(b"x", timeout="soon")
    p.close()
    with pytest.raises(shmkit.BadHandleError):
        p.send(b"x")
    with pytest.raises(shmkit.BadHandleError):
        p.capacity
    p.close()


def test_attach_errors(name):
    with pytest.raises(shmkit.NotFoundError):
        shmkit.Ring(name, "consumer")
    # the segment exists as plain bytes (the two-step creation): a try says so at once (as
    # shmkit_ring_join does), a timeout waits for its creator to lay the ring out
    with shmkit.Segment(name, size=8192, create=True):
        with pytest.raises(shmkit.FormatError):
            shmkit.Ring(name, "consumer")
        with pytest.raises(shmkit.TimedOutError):
            shmkit.Ring(name, "consumer", timeout=0.05)
    shmkit.remove(name)
    c = shmkit.Ring(name, "consumer", create=True)
    with pytest.raises(shmkit.BusyError):
        shmkit.Ring(name, "consumer")
    with pytest.raises(ValueError):
        shmkit.Ring(name, "neither")
    with pytest.raises(shmkit.GeometryError):  # the ring's max_msg is smaller
        shmkit.Ring(name, "producer", max_msg=1 << 20)
    with shmkit.Bus(name + "b", create=True) as b:
        with pytest.raises(shmkit.FormatError):
            shmkit.Ring(name + "b", "consumer")
        b.remove()
    c.close()


def test_attach_waits_for_creator(name, children):
    code = ("import shmkit,sys,time; time.sleep(0.3);"
            "r=shmkit.Ring(sys.argv[1],'producer',create=True); r.send(b'late'); r.close()")
    children.python(code, name)
    c = shmkit.Ring(name, "consumer", timeout=10)
    assert c.recv(timeout=10) == b"late"
    c.close()


def test_multi_producer(name, children):
    c = shmkit.Ring(name, "consumer", create=True, multi=True, capacity=1 << 16)
    code = ("import shmkit,sys; r=shmkit.Ring(sys.argv[1],'producer');"
            "[r.send(b'%s:%d' % (sys.argv[2].encode(), i)) for i in range(200)]; r.close()")
    ps = [children.python(code, name, k) for k in "abc"]
    got = {k: [] for k in "abc"}
    n = 0
    while n < 600:
        try:
            m = c.recv(timeout=20).decode()
        except shmkit.ClosedError:
            # every producer attached so far closed; the others may not have attached yet
            assert any(p.poll() is None for p in ps), "all producers gone, messages missing"
            time.sleep(0.01)
            continue
        k, i = m.split(":")
        got[k].append(int(i))
        n += 1
    for p in ps:
        assert p.wait() == 0
    for k in "abc":
        assert got[k] == list(range(200))  # per producer, in order
    c.close()


def test_ctrl_c_interrupts_recv(name, children):
    with shmkit.Ring(name, "producer", create=True) as p:
        code = ("import shmkit,sys\n"
                "r=shmkit.Ring(sys.argv[1],'consumer')\n"
                "try:\n    print('waiting', flush=True)\n    r.recv()\n"
                "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
        ch = children.python(code, name)
        wait_line(ch, "waiting")
        time.sleep(0.2)
        ch.send_signal(signal.SIGINT)
        assert "interrupted" in wait_line(ch, "interrupted", 10)
        assert ch.wait(10) == 0


def test_gil_released_while_waiting(pair):
    p, c = pair
    got = []
    t = threading.Thread(target=lambda: got.append(c.recv(timeout=10)))
    t.start()
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.2:  # this thread runs while the other waits
        n += 1
    assert n > 1000
    with pytest.raises(shmkit.BusyError):
        c.close()  # in use by the waiting thread
    p.send(b"wake")
    t.join(10)
    assert got == [b"wake"]


def test_peer_death_detected(name, children):
    c = shmkit.Ring(name, "consumer", create=True)
    code = "import shmkit,sys,os; r=shmkit.Ring(sys.argv[1],'producer'); r.send(b'last'); os._exit(0)"
    ch = children.python(code, name)
    assert ch.wait(10) == 0
    assert c.recv(timeout=5) == b"last"  # what the dead peer queued comes first
    with pytest.raises(shmkit.PeerDeadError) as e:
        c.recv(timeout=5)
    assert isinstance(e.value, ConnectionError)
    c.close()


def test_dropped_handle_frees_its_role_at_once(name):
    import gc

    p = shmkit.Ring(name, "producer", create=True)
    p.send(b"abc")
    c = shmkit.Ring(name, "consumer")
    m = c.peek()
    s = m[1:]  # a slice outlives both names below
    del m, c
    with pytest.raises(shmkit.BusyError):  # the slice keeps the consumer (and its mapping)
        shmkit.Ring(name, "consumer")
    assert bytes(s) == b"bc"
    gc.disable()  # no cycle to collect: dropping the slice frees the handle by itself
    try:
        del s
        c2 = shmkit.Ring(name, "consumer")
    finally:
        gc.enable()
    assert c2.recv(timeout=5) == b"abc"  # peeked, never released: delivered again
    c2.close()
    p.close()
