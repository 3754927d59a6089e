"""Request/response: RpcServer and RpcClient between Python processes and with C (the race
control example, `shmkit call`), zero-copy loans, peer death (kill -9 of either side),
timeouts, Ctrl-C, an event loop over fileno(), misuse, inheritance across fork, leaks."""
import os
import selectors
import signal
import subprocess
import threading
import time

import pytest

import shmkit

from conftest import wait_line
from test_leaks import flat

UPPER_SERVER = (
    "import shmkit,sys\n"
    "s=shmkit.RpcServer(sys.argv[1], max_request=256, max_response=256)\n"
    "print('serving', flush=True)\n"
    "n=s.serve(lambda q: bytes(q.data).upper(), count=int(sys.argv[2]))\n"
    "print('served', n, flush=True)\n")


def test_call_between_python_processes(name, children):
    srv = children.python(UPPER_SERVER, name, 50)
    wait_line(srv, "serving")
    with shmkit.RpcClient(name, timeout=10) as c:
        assert c.max_request == 256 and c.max_response == 256
        for i in range(50):
            assert c.call(b"lap %d" % i, timeout=10) == b"LAP %d" % i
    assert "served 50" in wait_line(srv, "served")
    assert srv.wait(10) == 0


def test_stats_count_calls_and_sampled_latency(name, children):
    srv = children.python(UPPER_SERVER, name, 128)
    wait_line(srv, "serving")
    with shmkit.RpcClient(name, timeout=10) as c:
        for i in range(128):
            c.call(b"x", timeout=10)
        st = c.stats()
    assert st["calls"] == 128 and st["replies"] == 128
    assert st["lat_samples"] == 2 and st["lat_sum_ns"] > 0  # one call in 64 is timed
    assert "served 128" in wait_line(srv, "served")
    assert srv.wait(10) == 0


def test_several_clients_each_get_their_own_answer(name):
    with shmkit.RpcServer(name, max_request=64, max_response=64) as s:
        clients = [shmkit.RpcClient(name) for _ in range(4)]
        assert sorted(c.slot for c in clients) == [0, 1, 2, 3]
        for i, c in enumerate(clients):
            c.send(b"%d" % i)
        reqs = [s.recv(timeout=1) for _ in clients]
        assert s.held == 4
        for q in reversed(reqs):  # answered in any order
            s.reply(q, bytes(q) * 2)
        for i, c in enumerate(clients):
            assert c.recv(timeout=1) == b"%d%d" % (i, i)
        for c in clients:
            c.send(b"again")
        assert s.serve(lambda q: b"ok", idle=0) == 4  # what is pending, then it returns
        assert [c.recv(timeout=1) for c in clients] == [b"ok"] * 4
        assert s.serve(lambda q: b"", idle=0.01) == 0
        for c in clients:
            c.close()


def test_zero_copy_both_ways(name):
    with shmkit.RpcServer(name, max_request=1024, max_response=1024) as s, \
            shmkit.RpcClient(name) as c:
        v = c.request(100)
        assert not v.readonly and len(v) == 100
        v[:5] = b"hello"
        c.commit(5)
        with pytest.raises(ValueError):
            v[0]  # the request was sent: its view is over
        q = s.recv(timeout=1)
        d = q.data
        assert d.readonly and bytes(d) == b"hello" and len(q) == 5 and q.client == c.slot
        out = s.reply_loan(q, 200)
        out[:5] = d[::-1]  # the request stays readable until the commit
        s.commit(q, 5)
        assert q.answered
        with pytest.raises(ValueError):
            d[0]
        with pytest.raises(ValueError):
            out[0]
        with pytest.raises(shmkit.InvalidError):
            q.data
        r = c.response(timeout=1)
        assert r.readonly and bytes(r) == b"olleh"
        with pytest.raises(shmkit.InvalidError):
            c.call(b"x")  # the response is still lent
        c.release()
        with pytest.raises(ValueError):
            r[0]
        # an echo of the request's own view
        c.send(b"echo")
        q = s.recv(timeout=1)
        s.reply(q, q.data)
        assert c.recv(timeout=1) == b"echo"


def test_python_client_of_the_c_race_control(name, build, children):
    ex = os.path.join(build, "examples", "race_control")
    if not os.access(ex, os.X_OK):
        pytest.skip("examples not built")
    srv = children.run([ex, "serve", name, 2])
    with shmkit.RpcClient(name, timeout=10) as c:  # waits for the server to create it
        ans = c.call(b"car 7", timeout=10)
        assert ans.startswith(b"car 7, "), ans
        assert b"ask 'car N'" in c.call(b"pit stop?", timeout=10)
    assert srv.wait(20) == 0
    assert not os.path.exists("/dev/shm" + name)  # the C server removed its name


def test_shmkit_call_against_a_python_server(name, build, children):
    cli = os.path.join(build, "bin", "shmkit")
    if not os.access(cli, os.X_OK):
        pytest.skip("CLI not built")
    with shmkit.RpcServer(name, max_request=256, max_response=256) as s:
        t = threading.Thread(target=s.serve, args=(lambda q: b"py:" + bytes(q),),
                             kwargs=dict(count=1, idle=20))
        t.start()
        p = subprocess.run([cli, "call", name], input=b"from C", capture_output=True,
                           timeout=20)
        t.join()
        assert p.returncode == 0, p.stderr
        assert p.stdout.startswith(b"py:from C")


def test_server_killed_client_gets_peer_dead(name, children):
    code = ("import shmkit,sys,time\n"
            "s=shmkit.RpcServer(sys.argv[1], max_request=64, max_response=64)\n"
            "print('serving', flush=True)\n"
            "q=s.recv()\nprint('took', flush=True)\ntime.sleep(60)\n")
    srv = children.python(code, name)
    wait_line(srv, "serving")
    with shmkit.RpcClient(name) as c:
        c.send(b"never answered")
        wait_line(srv, "took")
        srv.kill()
        srv.wait()
        t0 = time.monotonic()
        with pytest.raises(shmkit.PeerDeadError) as e:
            c.recv(timeout=30)
        assert isinstance(e.value, ConnectionResetError)
        assert time.monotonic() - t0 < 20  # not the timeout: the death was noticed
        with pytest.raises(shmkit.PeerDeadError):
            c.call(b"again", timeout=30)
        # a new server takes the endpoint over and the same client is served again
        with shmkit.RpcServer(name) as s2:
            c.send(b"hi")
            q = s2.recv(timeout=5)
            s2.reply(q, b"back")
            assert c.recv(timeout=5) == b"back"


def test_client_killed_server_goes_on(name, children):
    with shmkit.RpcServer(name, max_request=64, max_response=64, max_clients=2) as s:
        code = ("import shmkit,sys,time\nc=shmkit.RpcClient(sys.argv[1])\n"
                "c.send(b'then I die')\nprint('sent', flush=True)\ntime.sleep(60)\n")
        for _ in range(3):  # more dead clients than slots: theirs are taken back
            ch = children.python(code, name)
            wait_line(ch, "sent")
            q = s.recv(timeout=10)
            ch.kill()
            ch.wait()
            try:  # a dead client's slot is only taken back by the next client that opens
                s.reply(q, b"into the void")
            except shmkit.PeerDeadError:
                pass
            assert q.answered
        with shmkit.RpcClient(name) as c, shmkit.RpcClient(name) as c2:
            c.send(b"a")
            c2.send(b"b")
            for _ in range(2):
                q = s.recv(timeout=5)
                s.reply(q, bytes(q))
            assert c.recv(timeout=5) == b"a" and c2.recv(timeout=5) == b"b"


def test_server_closes_client_sees_closed(name):
    s = shmkit.RpcServer(name, max_request=64, max_response=64)
    c = shmkit.RpcClient(name)
    c.send(b"x")
    q = s.recv(timeout=1)
    d = q.data
    tail = d[1:]
    with pytest.raises(shmkit.ViewsAliveError):
        s.close()  # a slice of a held request's view lives
    del tail
    s.close()
    assert q.answered
    with pytest.raises(ValueError):
        d[0]  # the request is dropped: its view is over
    with pytest.raises(shmkit.ClosedError):
        c.recv(timeout=5)
    with pytest.raises(shmkit.ClosedError):
        c.call(b"y", timeout=5)
    c.remove()
    c.close()


def test_timeouts(name):
    with shmkit.RpcServer(name, max_request=64, max_response=64) as s, \
            shmkit.RpcClient(name) as c:
        with pytest.raises(shmkit.WouldBlockError):
            s.recv(timeout=0)
        t0 = time.monotonic()
        with pytest.raises(shmkit.TimedOutError) as e:
            s.recv(timeout=0.05)
        assert isinstance(e.value, TimeoutError) and time.monotonic() - t0 >= 0.04
        with pytest.raises(shmkit.TimedOutError):
            c.call(b"nobody answers", timeout=0.05)
        q = s.recv(timeout=1)  # the call given up was taken late: answered into the void
        s.reply(q, b"late")
        c.send(b"next")
        q = s.recv(timeout=1)
        assert bytes(q) == b"next"  # never the stale one
        with pytest.raises(shmkit.WouldBlockError):
            c.recv(timeout=0)
        s.reply(q, b"ok")
        assert c.recv(timeout=1) == b"ok"
    with pytest.raises(shmkit.TimedOutError):  # as the channels' joins: waited, none came
        shmkit.RpcClient(name + "-missing", timeout=0.05)
    with pytest.raises(shmkit.NotFoundError):  # a try
        shmkit.RpcClient(name + "-missing", timeout=0)


def test_ctrl_c_interrupts_a_call(name, children):
    with shmkit.RpcServer(name, max_request=64, max_response=64):
        code = ("import shmkit,sys\nc=shmkit.RpcClient(sys.argv[1])\n"
                "try:\n    print('calling', flush=True)\n    c.call(b'wait')\n"
                "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
        ch = children.python(code, name)
        wait_line(ch, "calling")
        time.sleep(0.2)
        ch.send_signal(signal.SIGINT)
        assert "interrupted" in wait_line(ch, "interrupted", 10)
        assert ch.wait(10) == 0


def test_ctrl_c_interrupts_recv(name, children):
    code = ("import shmkit,sys\ns=shmkit.RpcServer(sys.argv[1], max_request=8, max_response=8)\n"
            "try:\n    print('waiting', flush=True)\n    s.serve(lambda q: b'')\n"
            "except KeyboardInterrupt:\n    print('interrupted', flush=True)\n")
    ch = children.python(code, name)
    wait_line(ch, "waiting")
    time.sleep(0.2)
    ch.send_signal(signal.SIGINT)
    assert "interrupted" in wait_line(ch, "interrupted", 10)
    assert ch.wait(10) == 0


def test_selectors_loop_over_fileno(name, children):
    """One thread serves the endpoint and a pipe from a selectors loop; the clients are other
    processes. The protocol: readable -> recv(timeout=0) until WouldBlockError (which arms)."""
    code = ("import shmkit,sys\nc=shmkit.RpcClient(sys.argv[1], timeout=10)\n"
            "for i in range(20):\n    assert c.call(b'%d' % i, timeout=10) == b'%d!' % i\n"
            "print('done', flush=True)\n")
    with shmkit.RpcServer(name, max_request=64, max_response=64) as s:
        rd, wr = os.pipe()
        sel = selectors.DefaultSelector()
        sel.register(s.fileno(), selectors.EVENT_READ, "rpc")
        sel.register(rd, selectors.EVENT_READ, "pipe")
        assert s.fileno() == s.fileno()
        kids = [children.python(code, name) for _ in range(3)]
        served, ticks, end = 0, 0, time.monotonic() + 30
        os.write(wr, b"t")

        def drain():  # until WouldBlockError, which arms the descriptor
            n = 0
            while True:
                try:
                    q = s.recv(timeout=0)
                except shmkit.WouldBlockError:
                    return n
                s.reply(q, bytes(q) + b"!")
                n += 1

        served += drain()  # before the first select, as after each wake-up
        while served < 60 and time.monotonic() < end:
            for key, _ in sel.select(timeout=1):
                if key.data == "pipe":
                    os.read(rd, 1)
                    ticks += 1
                else:
                    served += drain()
        sel.close()
        os.close(rd)
        os.close(wr)
        assert served == 60 and ticks == 1
        for k in kids:
            assert k.wait(10) == 0


def test_client_fileno_event_loop(name):
    with shmkit.RpcServer(name, max_request=64, max_response=64) as s, \
            shmkit.RpcClient(name) as c:
        sel = selectors.DefaultSelector()
        sel.register(c.fileno(), selectors.EVENT_READ)
        c.send(b"ping")
        with pytest.raises(shmkit.WouldBlockError):
            c.recv(timeout=0)  # arms the descriptor
        assert sel.select(timeout=0) == []
        t = threading.Thread(target=lambda: s.reply(s.recv(timeout=5), b"pong"))
        t.start()
        assert sel.select(timeout=10)
        t.join()
        assert c.recv(timeout=0) == b"pong"
        sel.close()


def test_misuse_raises(name):
    with shmkit.RpcServer(name, max_request=16, max_response=16) as s:
        with pytest.raises(shmkit.BusyError):
            shmkit.RpcServer(name)  # a live server holds it
        with pytest.raises(shmkit.GeometryError):
            shmkit.RpcClient(name, max_request=1 << 20)
        c = shmkit.RpcClient(name)
        with pytest.raises(shmkit.TooBigError):
            c.call(b"x" * 17, timeout=1)
        with pytest.raises(TypeError):
            c.call("not bytes")
        with pytest.raises(TypeError):
            s.reply("not a request", b"")
        c.send(b"q")
        q = s.recv(timeout=1)
        with pytest.raises(shmkit.TooBigError):
            s.reply(q, b"y" * 17)  # still held: answer again
        s.reply(q, b"y")
        with pytest.raises(shmkit.InvalidError):
            s.reply(q, b"twice")
        with pytest.raises(shmkit.InvalidError):
            s.commit(q)
        assert c.recv(timeout=1) == b"y"
        with pytest.raises(shmkit.InvalidError):
            c.release()
        with pytest.raises(shmkit.InvalidError):
            c.commit()
        v = c.request(4)
        with pytest.raises(shmkit.InvalidError):
            c.send(b"while lent")
        s2 = v[1:]
        with pytest.raises(shmkit.ViewsAliveError):
            c.commit()  # a slice of the loan lives
        del s2
        c.commit(0)
        q = s.recv(timeout=1)
        s.reply(q, b"")
        assert c.recv(timeout=1) == b""
        c.close()
        c.close()  # twice is fine
        with pytest.raises(shmkit.BadHandleError):
            c.call(b"x")
        with pytest.raises(shmkit.BadHandleError):
            c.fileno()
    with pytest.raises(shmkit.BadHandleError):
        s.recv(timeout=0)
    with pytest.raises(ValueError):
        shmkit.RpcServer(name, max_clients=5000)


def test_handle_inherited_across_fork_raises_in_child(name):
    with shmkit.RpcServer(name, max_request=16, max_response=16) as s, \
            shmkit.RpcClient(name) as c:
        pid = os.fork()
        if pid == 0:
            ok = 0
            try:
                c.call(b"x", timeout=1)
            except shmkit.BadHandleError:
                ok += 1
            try:
                s.recv(timeout=0)
            except shmkit.BadHandleError:
                ok += 1
            c.close()  # forgets only: the parent keeps its slot and its server
            s.close()
            os._exit(0 if ok == 2 else 1)
        _, st = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(st) == 0
        c.send(b"still mine")
        q = s.recv(timeout=1)
        s.reply(q, bytes(q))
        assert c.recv(timeout=1) == b"still mine"


def test_no_leaks(name):
    def once():
        with shmkit.RpcServer(name, max_request=64, max_response=64) as s, \
                shmkit.RpcClient(name) as c:
            c.send(b"x" * 10)
            q = s.recv(timeout=1)
            d = q.data
            s.reply(q, d)
            del d, q
            r = c.response(timeout=1)
            assert bytes(r) == b"x" * 10
            c.release()
            s.remove()

    assert flat(once, rounds=200, watch=(name, shmkit.RpcClient, shmkit.Request)) < 64 * 1024
    assert not any(f.startswith(name[1:]) for f in os.listdir("/dev/shm"))


def test_asyncio_reader_serves(name, children):
    """loop.add_reader on fileno(): the server answers from an asyncio loop that also runs
    a coroutine of its own."""
    import asyncio

    code = ("import shmkit,sys\nc=shmkit.RpcClient(sys.argv[1], timeout=10)\n"
            "for i in range(10):\n    assert c.call(b'%d' % i, timeout=10) == b'<%d>' % i\n")

    async def main(srv):
        served = 0
        done = asyncio.Event()

        def drain():
            nonlocal served
            while True:
                try:
                    q = srv.recv(timeout=0)
                except shmkit.WouldBlockError:
                    return
                srv.reply(q, b"<" + bytes(q) + b">")
                served += 1
                if served == 10:
                    done.set()

        loop = asyncio.get_running_loop()
        loop.add_reader(srv.fileno(), drain)
        drain()
        ticks = 0

        async def ticker():
            nonlocal ticks
            while not done.is_set():
                ticks += 1
                await asyncio.sleep(0.01)

        kid = children.python(code, name)
        await asyncio.wait_for(asyncio.gather(done.wait(), ticker()), 30)
        loop.remove_reader(srv.fileno())
        return served, ticks, kid

    with shmkit.RpcServer(name, max_request=64, max_response=64) as srv:
        served, ticks, kid = asyncio.run(main(srv))
        assert served == 10 and ticks >= 1
        assert kid.wait(10) == 0
