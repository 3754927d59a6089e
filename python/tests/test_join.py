"""Joining by name (shmkit_ring_join, shmkit_bus_join, shmkit_sub_join, shmkit_table_join) from
Python: every start order against the C examples, geometry used by the creator and checked by
the others, timeouts, Ctrl-C while waiting, and channels set up without a role by a parent for
two forked children - by name, over ANON (inherited) and over MEMFD (a descriptor)."""
import os
import signal
import sys
import time
import traceback

import pytest

import shmkit

from conftest import wait_line

CAP = 4096


def prog(build, *path):
    p = os.path.join(build, *path)
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} not built")
    return p


def wait_exists(name, timeout=10):
    """Waits for a POSIX name: a joined channel has one only once it is whole."""
    end = time.monotonic() + timeout
    while not os.path.exists("/dev/shm" + name):
        assert time.monotonic() < end, f"{name} never appeared"
        time.sleep(0.005)


class Forks:
    """Children made by os.fork() running a function; each exits 0 if it returned, 1 (with
    its traceback on stderr) if it raised; all are reaped (killed if still running)."""

    def __init__(self):
        self.pids = []

    def start(self, fn, *args):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                fn(*args)
                code = 0
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(code)
        self.pids.append(pid)
        return pid

    def wait(self, pid, timeout=20):
        end = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                self.pids.remove(pid)
                return os.waitstatus_to_exitcode(status)
            if time.monotonic() > end:
                raise AssertionError(f"child {pid} still running after {timeout} s")
            time.sleep(0.005)

    def reap(self):
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


@pytest.fixture
def forks():
    f = Forks()
    yield f
    f.reap()


MSGS = [b"message %d" % i for i in range(1, 6)] + [b"bye"]


# ------------------------------------------------------------------ every start order with C


@pytest.mark.parametrize("first", ["python", "c"])
def test_c_producer_python_consumer_either_order(name, build, children, first):
    channels = prog(build, "examples", "channels")
    if first == "c":
        ch = children.run([channels, "ring-send", name, 5])
        wait_exists(name)
        # no geometry given: the 64 KiB default applies only to a ring this call creates
        c = shmkit.Ring(name, "consumer", create=True)
        assert not c.created and c.max_msg >= 255 and c.capacity == 1024
    else:
        c = shmkit.Ring(name, "consumer", create=True, max_msg=255)
        assert c.created and c.capacity == 1024
        ch = children.run([channels, "ring-send", name, 5])
    assert [bytes(m) for m in c] == MSGS  # ends when the C producer closes
    assert ch.wait(10) == 0
    c.close()


@pytest.mark.parametrize("first", ["python", "c"])
def test_python_producer_c_consumer_either_order(name, build, children, first):
    channels = prog(build, "examples", "channels")
    if first == "c":
        ch = children.run([channels, "ring-recv", name])
        wait_exists(name)
        p = shmkit.Ring(name, "producer", create=True, max_msg=255)
        assert not p.created
    else:
        p = shmkit.Ring(name, "producer", create=True, max_msg=255)
        assert p.created
        ch = children.run([channels, "ring-recv", name])
    for i in range(3):
        p.send(b"py %d" % i, timeout=10)
    p.send(b"bye", timeout=10)
    out, err = ch.communicate(timeout=10)
    assert ch.returncode == 0, err
    assert out.splitlines()[:3] == ["ring-recv: py %d" % i for i in range(3)]
    assert "3 messages, then bye" in out  # and the C consumer removed the name
    p.close()


BUS_GEO = dict(slots=16, msg_max=64, max_subs=8)  # examples/channels.c's bus_config


@pytest.mark.parametrize("first", ["python", "c"])
def test_c_publisher_python_subscribers_either_order(name, build, children, first):
    channels = prog(build, "examples", "channels")
    if first == "c":
        ch = children.run([channels, "bus-pub", name, 5, 2])
        wait_exists(name)
        subs = [shmkit.Subscriber(name, create=True, **BUS_GEO) for _ in range(2)]
        assert not any(s.created for s in subs)
    else:
        subs = [shmkit.Subscriber(name, create=True, **BUS_GEO) for _ in range(2)]
        assert [s.created for s in subs] == [True, False]
        ch = children.run([channels, "bus-pub", name, 5, 2])
    for s in subs:
        assert list(s) == MSGS
        s.close()
    assert ch.wait(10) == 0


@pytest.mark.parametrize("first", ["python", "c"])
def test_python_publisher_c_subscriber_either_order(name, build, children, first):
    channels = prog(build, "examples", "channels")
    if first == "c":
        ch = children.run([channels, "bus-sub", name, "A"])
        wait_exists(name)
        b = shmkit.Bus(name, create=True, **BUS_GEO)
        assert not b.created
    else:
        b = shmkit.Bus(name, create=True, **BUS_GEO)
        assert b.created and b.role == "publisher"
        ch = children.run([channels, "bus-sub", name, "A"])
    b.wait_subscribers(1, timeout=10)
    for m in (b"one", b"two", b"bye"):
        b.send(m, timeout=10)
    out, err = ch.communicate(timeout=10)
    assert ch.returncode == 0, err
    assert out.splitlines() == ["A: one", "A: two", "A: bye"]
    b.close()


def test_c_joiner_refuses_python_geometry(name, build, children):
    channels = prog(build, "examples", "channels")
    with shmkit.Bus(name, create=True, slots=32, msg_max=64, max_subs=8) as b:
        r = children.run([channels, "bus-sub", name, "A"])
        out, err = r.communicate(timeout=10)
        assert r.returncode == 1 and "geometry" in err
        assert b.stats()["readers"] == 0  # it took nothing


# ------------------------------------------------------------------ geometry


def test_ring_geometry(name):
    setup = shmkit.Ring(name, None, create=True, capacity=CAP)
    assert setup.created and setup.role is None and setup.capacity == CAP
    for kw in (dict(capacity=2 * CAP), dict(max_msg=CAP), dict(multi=True),
               dict(create=True, capacity=2 * CAP)):
        with pytest.raises(shmkit.GeometryError) as e:
            shmkit.Ring(name, "consumer", **kw)
        assert e.value.code == shmkit.codes.EGEOMETRY and e.value.name == "SHMKIT_EGEOMETRY"
    # nothing was taken by the refused joins; zero fields are not checked
    c = shmkit.Ring(name, "consumer", capacity=CAP, max_msg=100)
    p = shmkit.Ring(name, "producer", create=True)  # default geometry: the existing ring
    assert not p.created and p.capacity == CAP
    p.send(b"x")
    assert c.recv(timeout=5) == b"x"
    for r in (p, c, setup):
        r.close()


def test_ring_create_needs_valid_geometry(name):
    with pytest.raises(shmkit.InvalidError):
        shmkit.Ring(name, "producer", create=True, capacity=1000)  # not a power of two
    with pytest.raises(shmkit.InvalidError):
        shmkit.Ring(name, "producer", create=True, capacity=512, max_msg=1000)
    with pytest.raises(shmkit.InvalidError):
        shmkit.Ring(name, None, create=True, takeover=True)
    assert not os.path.exists("/dev/shm" + name)  # nothing left behind


def test_bus_geometry(name):
    setup = shmkit.Bus(name, None, create=True, slots=16, msg_max=64, max_subs=4)
    assert setup.created and setup.role is None
    with pytest.raises(shmkit.InvalidError):
        setup.send(b"x")
    with pytest.raises(shmkit.InvalidError):
        setup.loan(1)
    for kw in (dict(slots=32), dict(max_subs=8), dict(msg_max=128), dict(lossy=True)):
        with pytest.raises(shmkit.GeometryError):
            shmkit.Subscriber(name, **kw)
        with pytest.raises(shmkit.GeometryError):
            shmkit.Bus(name, **kw)
    assert setup.stats()["readers"] == 0
    s = shmkit.Subscriber(name, msg_max=32, slots=16)  # a smaller msg_max is enough
    b = shmkit.Bus(name, create=True)  # default msg_max (1024) only when creating
    assert not b.created and b.msg_max == 64
    setup.wait_subscribers(1, timeout=5)  # a role-less handle can still wait
    b.send(b"hello")
    assert s.recv(timeout=5) == b"hello"
    for h in (s, b, setup):
        h.close()


def test_table_roles(name):
    with shmkit.Table(name, "ii", count=2, create=True, role=None) as w:  # None: a writer
        assert w.created and not w.readonly
        w.claim(0)
        w.write(0, (1, 2))
        with shmkit.Table(name, "ii", role="reader") as r:
            assert r.readonly and not r.created and r.read(0) == (1, 2)
            with pytest.raises(shmkit.BadHandleError):
                r.claim(1)
        with pytest.raises(ValueError):
            shmkit.Table(name, "ii", role="owner")
        w.remove()


# ------------------------------------------------------------------ timeouts, signals


CTORS = {
    "ring": lambda n, **kw: shmkit.Ring(n, "consumer", **kw),
    "bus": lambda n, **kw: shmkit.Bus(n, **kw),
    "subscriber": lambda n, **kw: shmkit.Subscriber(n, **kw),
    "table": lambda n, **kw: shmkit.Table(n, "i", **kw),
}


@pytest.mark.parametrize("what", sorted(CTORS))
def test_join_timeouts(name, what):
    make = CTORS[what]
    with pytest.raises(shmkit.NotFoundError):
        make(name)  # None: try once
    with pytest.raises(shmkit.NotFoundError):
        make(name, timeout=0)
    with pytest.raises(shmkit.TimedOutError) as e:  # waited, then gave up
        make(name, timeout=0.1)
    assert isinstance(e.value, TimeoutError)


def test_bytes_segment_is_waited_for(name):
    """A segment made by hand (layout "bytes") is a ring not yet laid out: create=True waits
    for it too, then gives up; a try says what it found."""
    with shmkit.Segment(name, size=8192, create=True):
        with pytest.raises(shmkit.TimedOutError):
            shmkit.Ring(name, "producer", create=True, timeout=0.05)
        with pytest.raises(shmkit.FormatError):
            shmkit.Ring(name, "producer", create=True)
        with pytest.raises(shmkit.FormatError):
            shmkit.Table(name, "i", create=True, count=1)


def test_join_waits_for_a_late_creator(name, children):
    code = ("import shmkit,sys,time; time.sleep(0.2);"
            "b=shmkit.Bus(sys.argv[1],create=True,msg_max=64); b.wait_subscribers(1,timeout=10);"
            "b.send(b'late'); b.close()")
    children.python(code, name)
    s = shmkit.Subscriber(name, timeout=10)
    assert list(s) == [b"late"]
    s.close()


def test_ctrl_c_interrupts_a_join(name, children):
    code = ("import shmkit,sys\n"
            "try:\n    print('waiting', flush=True)\n"
            "    shmkit.Ring(sys.argv[1], 'consumer', timeout=-1)\n"
            "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    ch = children.python(code, name)
    wait_line(ch, "waiting")
    time.sleep(0.2)
    ch.send_signal(signal.SIGINT)
    assert "interrupted" in wait_line(ch, "interrupted", 10)
    assert ch.wait(10) == 0


# ------------------------------------------------------------------ set up by a parent


def _pipe_wait(fd, timeout=10):
    import select

    assert select.select([fd], [], [], timeout)[0], "child never signalled"
    return os.read(fd, 64)


def test_parent_sets_up_named_ring_for_two_children(name, forks):
    setup = shmkit.Ring(name, None, create=True, capacity=CAP)
    with pytest.raises(shmkit.InvalidError):
        setup.send(b"x")
    with pytest.raises(shmkit.InvalidError):
        setup.recv(timeout=0)
    rd, wr = os.pipe()

    def consumer():
        c = shmkit.Ring(name, "consumer")
        os.write(wr, b"attached")
        got = [bytes(m) for m in c]  # until the producer closes
        assert got == [b"%d" % i for i in range(100)], got

    def producer():
        p = shmkit.Ring(name, "producer")
        for i in range(100):
            p.send(b"%d" % i, timeout=10)
        p.close()

    cons = forks.start(consumer)
    _pipe_wait(rd)
    setup.close()  # tells nobody anything: no end of stream for the waiting consumer
    prod = forks.start(producer)
    assert forks.wait(prod) == 0
    assert forks.wait(cons) == 0
    os.close(rd)
    os.close(wr)


@pytest.mark.parametrize("kind", ["anon", "memfd"])
def test_parent_sets_up_unnamed_ring_for_two_children(forks, kind):
    setup = shmkit.Ring(None, None, kind=kind, capacity=CAP)
    seg = setup.segment
    assert setup.created and seg.kind == kind and seg is setup.segment

    def consumer():
        c = shmkit.Ring.from_segment(seg, "consumer")
        assert [bytes(m) for m in c] == [b"m%d" % i for i in range(50)]

    def producer():
        p = shmkit.Ring.from_segment(seg, "producer", capacity=CAP)
        for i in range(50):
            p.send(b"m%d" % i, timeout=10)
        p.close()

    pids = [forks.start(consumer), forks.start(producer)]
    assert [forks.wait(p) for p in pids] == [0, 0]

    # the segment belongs to the ring: it stays open while anything made on it lives
    x = shmkit.Ring.from_segment(seg, None)
    with pytest.raises(shmkit.BusyError):
        setup.close()
    with pytest.raises(shmkit.InvalidError):
        seg.close()
    with pytest.raises(shmkit.BusyError):
        seg.seal()
    with pytest.raises(shmkit.GeometryError):
        shmkit.Ring.from_segment(seg, "consumer", capacity=2 * CAP)
    x.close()
    mv = memoryview(seg)
    with pytest.raises(shmkit.ViewsAliveError):
        setup.close()
    mv.release()
    setup.close()
    assert seg.closed and len(seg) == 0
    with pytest.raises(shmkit.BadHandleError):
        memoryview(seg)
    with pytest.raises(shmkit.BadHandleError):
        setup.segment


def test_parent_sets_up_anon_bus_for_two_children(forks):
    setup = shmkit.Bus(None, None, kind="anon", slots=16, msg_max=64)
    seg = setup.segment

    def subscriber():
        s = shmkit.Subscriber.from_segment(seg)
        assert list(s) == [b"n%d" % i for i in range(20)]

    def publisher():
        b = shmkit.Bus.from_segment(seg, msg_max=64)
        assert b.role == "publisher"
        for i in range(20):
            b.send(b"n%d" % i, timeout=10)
        b.close()

    sub = forks.start(subscriber)
    setup.wait_subscribers(1, timeout=10)  # then nothing published is missed
    pub = forks.start(publisher)
    assert forks.wait(pub) == 0 and forks.wait(sub) == 0
    with pytest.raises(shmkit.InvalidError):
        shmkit.Bus.from_segment(seg, None)  # a role-less bus handle is made by create
    del seg
    setup.close()


def test_memfd_ring_descriptor_to_another_program(children):
    """A memfd ring has no name: its descriptor is handed to another program (here inherited
    through exec), which opens it as a Segment and takes a role there."""
    setup = shmkit.Ring(None, None, kind="memfd", capacity=CAP)
    fd = setup.segment.fd
    c = shmkit.Ring.from_segment(setup.segment, "consumer")
    code = ("import shmkit,sys\n"
            "seg = shmkit.Segment(kind='memfd', fd=int(sys.argv[1]))\n"
            "p = shmkit.Ring.from_segment(seg, 'producer')\n"
            "for i in range(10):\n    p.send(b'fd %d' % i, timeout=10)\n"
            "p.close(); seg.close()\n")
    ch = children.python(code, fd, pass_fds=(fd,))
    assert [bytes(m) for m in c] == [b"fd %d" % i for i in range(10)]
    assert ch.wait(10) == 0, ch.stderr.read()
    c.close()
    setup.close()


def test_ring_laid_out_in_a_segment_of_ones_own(forks):
    seg = shmkit.Segment(None, kind="anon", size=shmkit.ring_size_for(CAP), create=True)
    base = sys.getrefcount(seg)
    r = shmkit.Ring.from_segment(seg, "consumer", create=True)
    assert r.capacity == CAP and r.segment is seg and r.name is None
    with pytest.raises(shmkit.BusyError):
        seg.close()

    def producer():
        p = shmkit.Ring.from_segment(seg, "producer")
        p.send(b"from the child")
        p.close()

    assert forks.wait(forks.start(producer)) == 0
    assert r.recv(timeout=5) == b"from the child"
    with pytest.raises(shmkit.ClosedError):
        r.recv(timeout=5)
    r.close()
    assert sys.getrefcount(seg) == base  # the ring let go of it
    with pytest.raises(TypeError):
        shmkit.Ring.from_segment(b"not a segment")
    seg.close()
    with pytest.raises(shmkit.BadHandleError):
        shmkit.Ring.from_segment(seg)


def test_anon_table_inherited_by_children(forks):
    t = shmkit.Table(None, "qq", count=2, kind="anon")
    assert t.created

    def writer(i):
        t.claim(i)
        t.write(i, (i, 10 * i))

    pids = [forks.start(writer, i) for i in range(2)]
    assert [forks.wait(p) for p in pids] == [0, 0]
    assert [t.read(i) for i in range(2)] == [(0, 0), (1, 10)]
    assert [t.alive(i) for i in range(2)] == [False, False]  # they exited owning them
    t.close()


def test_sysv_private_bus_for_two_children(forks):
    """System V IPC_PRIVATE: a new segment every time, shared by fork, removed explicitly."""
    setup = shmkit.Bus(None, None, private=True, slots=16, msg_max=64)
    try:
        seg = setup.segment
        assert setup.created and seg.kind == "sysv"

        def subscriber():
            s = shmkit.Subscriber.from_segment(seg)
            assert list(s) == [b"a", b"b"]

        def publisher():
            b = shmkit.Bus.from_segment(seg)
            for m in (b"a", b"b"):
                b.send(m, timeout=10)
            b.close()

        sub = forks.start(subscriber)
        setup.wait_subscribers(1, timeout=10)
        pub = forks.start(publisher)
        assert forks.wait(pub) == 0 and forks.wait(sub) == 0
        del seg
    finally:
        setup.remove()
        setup.close()


def test_constructor_misuse(name):
    for kw in (dict(capacity=-1), dict(max_msg=-5)):
        with pytest.raises(ValueError):
            shmkit.Ring(name, "producer", create=True, **kw)
    with pytest.raises(TypeError):
        shmkit.Ring(name, "producer", create=True, capacity=4096.0)
    with pytest.raises(ValueError):
        shmkit.Ring(name, "both")
    with pytest.raises(ValueError):
        shmkit.Bus(name, "subscriber")
    with pytest.raises(ValueError):
        shmkit.Subscriber(name, create=True, max_subs=1 << 33)
    with pytest.raises(TypeError):
        shmkit.Subscriber(name, "publisher")  # a subscriber takes no role
    with pytest.raises(TypeError):
        shmkit.Bus.from_segment(None)
    assert not os.path.exists("/dev/shm" + name)


def test_inherited_role_handles_stay_the_parents(name, forks):
    """A handle inherited across fork holds the parent's role: the child can neither use it
    nor give it up (closing it would end the parent's stream or drop its subscription)."""
    c = shmkit.Ring(name, "consumer", create=True, capacity=CAP)
    p = shmkit.Ring(name, "producer")
    b = shmkit.Bus(name + "-events", create=True, slots=16, msg_max=64)
    s = shmkit.Subscriber(name + "-events")

    def child():
        for call in (lambda: p.send(b"x"), lambda: c.recv(timeout=0), lambda: p.reserve(1),
                     lambda: b.send(b"x"), lambda: s.recv(timeout=0)):
            with pytest.raises(shmkit.BadHandleError):
                call()
        for h in (p, c, b, s):
            h.close()  # forgets it here; the parent keeps its role

    assert forks.wait(forks.start(child)) == 0
    p.send(b"after")
    assert c.recv(timeout=5) == b"after"
    with pytest.raises(shmkit.WouldBlockError):  # not ClosedError: the producer lives on
        c.recv(timeout=0)
    b.send(b"still subscribed", timeout=5)
    assert s.recv(timeout=5) == b"still subscribed"
    for h in (s, b, p, c):
        h.close()


def test_child_leaving_normally_keeps_the_parents_roles(name, children):
    """The same when the child leaves through sys.exit(): the interpreter's finalisation
    frees the handles it inherited without touching the roles."""
    code = ("import os, sys, shmkit\n"
            "c = shmkit.Ring(sys.argv[1], 'consumer', create=True, capacity=4096)\n"
            "p = shmkit.Ring(sys.argv[1], 'producer')\n"
            "pid = os.fork()\n"
            "if pid == 0:\n    sys.exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "p.send(b'after')\n"
            "print(c.recv(timeout=5), flush=True)\n"
            "try:\n    c.recv(timeout=0)\nexcept shmkit.Error as e:\n"
            "    print(type(e).__name__, flush=True)\n")
    ch = children.python(code, name)
    out, err = ch.communicate(timeout=20)
    assert ch.returncode == 0, err
    assert out.split() == ["b'after'", "WouldBlockError"]
