"""Bus and Subscriber: fan-out, sequence numbers, lossy mode, zero-copy loans, end of stream."""
import pytest

import shmkit


def test_fan_out(name):
    with shmkit.Bus(name, create=True, slots=8, msg_max=64, max_subs=4) as b:
        subs = [shmkit.Subscriber(name) for _ in range(3)]
        b.wait_subscribers(3, timeout=5)
        for i in range(5):
            b.send(b"m%d" % i)
        for s in subs:
            assert [s.recv(timeout=5) for _ in range(5)] == [b"m%d" % i for i in range(5)]
        b.send(b"x")
        data, seq, lost = subs[0].recv_msg(timeout=5)
        assert data == b"x" and seq == 6 and lost == 0
        for s in subs:
            s.close()
        assert b.msg_max == 64 and b.stats()["layout"] == "bus"
        b.remove()


def test_loan_publish_and_peek(name):
    with shmkit.Bus(name, create=True, slots=4, msg_max=32) as b:
        s = shmkit.Subscriber(name)
        v = b.loan(4)
        v[:] = b"loan"
        assert b.publish() == 1
        with pytest.raises(ValueError):
            v[0] = 0
        m = s.peek(timeout=5)
        assert bytes(m) == b"loan"
        s.release()
        with pytest.raises(ValueError):
            m[0]
        b.send(b"ctx")
        with s.message(timeout=5) as m2:
            assert m2 == b"ctx"
        with pytest.raises(shmkit.TooBigError):
            b.send(b"x" * 33)
        s.close()
        b.remove()


def test_lossy_counts_losses(name):
    with shmkit.Bus(name, create=True, slots=4, msg_max=16, lossy=True) as b:
        s = shmkit.Subscriber(name)
        for i in range(20):
            b.send(b"%d" % i, timeout=0)  # never waits
        got, lost = [], 0
        while True:
            try:
                d, seq, l = s.recv_msg(timeout=0)
            except shmkit.WouldBlockError:
                break
            got.append(int(d))
            lost += l
        assert got and got[-1] == 19 and lost + len(got) == 20 and s.lost == lost
        s.close()
        b.remove()


def test_end_of_stream(name):
    b = shmkit.Bus(name, create=True)
    s = shmkit.Subscriber(name)
    for i in range(3):
        b.send(b"%d" % i)
    b.close()
    assert list(s) == [b"0", b"1", b"2"]
    s.close()
    with pytest.raises(shmkit.BadHandleError):
        s.recv()
    shmkit.remove(name)


def test_subscriber_waits_for_bus(name, children):
    code = ("import shmkit,sys,time; time.sleep(0.3); b=shmkit.Bus(sys.argv[1],create=True);"
            "b.wait_subscribers(1, timeout=10); b.send(b'hi'); b.close()")
    children.python(code, name)
    s = shmkit.Subscriber(name, timeout=10)
    assert s.recv(timeout=10) == b"hi"
    s.close()


def test_too_many_subscribers(name):
    with shmkit.Bus(name, create=True, max_subs=1) as b:
        s = shmkit.Subscriber(name)
        with pytest.raises(shmkit.BusyError):
            shmkit.Subscriber(name)
        s.close()
        b.remove()
