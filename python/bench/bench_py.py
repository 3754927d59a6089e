#!/usr/bin/env python3
"""bench_py.py - the Python binding against what Python ships, between two processes.

    bench_py.py [--build DIR] [--quick]

64-byte messages one way (messages/s): shmkit ring vs multiprocessing.Queue and Pipe
(send_bytes/recv_bytes). 64-byte round trip (microseconds): shmkit ring vs Pipe, and vs the
same round trip in C (DIR/python/c_peer pingpong: the ratio is the binding's overhead). 64-byte request/response
(microseconds per call): RpcClient.call against RpcServer.serve vs the Pipe round trip and
shmkit_rpc_call in C (c_peer rpc).
1 MiB numpy arrays handed over (GB/s): a zero-copy ring loan vs shared_memory + a lock + a
copy vs Queue (pickling). Each figure is the best of three runs; ratios at the end.
Everything is private to the run (names with the pid) and removed at exit.
"""
import argparse
import multiprocessing as mp
import os
import subprocess
import sys
import time

import shmkit

try:
    import numpy as np
except ImportError:  # the array part needs numpy
    np = None

ctx = mp.get_context("fork")
MSG = b"x" * 64
MIB = 1 << 20
_n = iter(range(1 << 30))


def uname():
    return f"/shmkit-bench-py-{os.getpid()}-{next(_n)}"


def best(fn, runs=3):
    return max(fn() for _ in range(runs))


def in_children(producer, consumer, timeout=300):
    """Runs CONSUMER and PRODUCER in two forked processes; CONSUMER's return value (a rate)
    comes back through a pipe. A child that raises sends its error back instead (and one
    that dies without a word, or a run past TIMEOUT seconds, is noticed): both children
    are then killed and RuntimeError raised - the parent never waits for ever."""
    r, w = ctx.Pipe(duplex=False)

    def guarded(fn, who):
        def run():
            try:
                v = fn()
            except BaseException as e:  # noqa: B902 - reported, then the child exits 1
                w.send(("error", f"{who}: {e!r}"))
                os._exit(1)
            if who == "consumer":
                w.send(("ok", v))
        return run

    pc = ctx.Process(target=guarded(consumer, "consumer"))
    pp = ctx.Process(target=guarded(producer, "producer"))
    pc.start()
    pp.start()
    end = time.monotonic() + timeout
    ok = False
    try:
        while not r.poll(0.2):
            died = [p for p in (pc, pp) if p.exitcode not in (None, 0)]
            if died or pc.exitcode == 0:
                if r.poll(0.5):  # its report may be on the way
                    break
                raise RuntimeError(f"a benchmark child exited ({died[0].exitcode if died else 0})"
                                   " without a result")
            if time.monotonic() > end:
                raise RuntimeError(f"a benchmark run took more than {timeout} s")
        status, v = r.recv()
        if status != "ok":
            raise RuntimeError(f"a benchmark child failed: {v}")
        ok = True
        return v
    finally:
        for p in (pc, pp):  # after a result the producer is done too; after a failure, not
            p.join(10 if ok else 0)
            if p.exitcode is None:
                p.kill()
                p.join()
        r.close()
        w.close()


# ------------------------------------------------------------------ one way, 64 bytes

def oneway_ring(n):
    name = uname()
    c0 = shmkit.Ring(name, None, create=True, capacity=1 << 20)  # set up before the fork, no role

    def producer():
        p = shmkit.Ring(name, "producer")
        send = p.send
        for _ in range(n):
            send(MSG)
        p.close()
        os._exit(0)

    def consumer():
        c = shmkit.Ring(name, "consumer")  # a child takes its own role
        recv = c.recv
        recv()
        t0 = time.perf_counter()
        for _ in range(n - 1):
            recv()
        return (n - 1) / (time.perf_counter() - t0)

    try:
        return in_children(producer, consumer)
    finally:
        c0.close()
        shmkit.remove(name)


def oneway_queue(n):
    q = ctx.Queue(maxsize=1 << 16)

    def producer():
        for _ in range(n):
            q.put(MSG)

    def consumer():
        q.get()
        t0 = time.perf_counter()
        for _ in range(n - 1):
            q.get()
        return (n - 1) / (time.perf_counter() - t0)

    return in_children(producer, consumer)


def oneway_pipe(n):
    a, b = ctx.Pipe(duplex=False)

    def producer():
        send = b.send_bytes
        for _ in range(n):
            send(MSG)

    def consumer():
        recv = a.recv_bytes
        recv()
        t0 = time.perf_counter()
        for _ in range(n - 1):
            recv()
        return (n - 1) / (time.perf_counter() - t0)

    return in_children(producer, consumer)


# ------------------------------------------------------------------ round trip, 64 bytes

def rt_ring(n):
    a, b = uname(), uname()
    ping = shmkit.Ring(a, "producer", create=True)
    pong = shmkit.Ring(b, "consumer", create=True)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            i = shmkit.Ring(a, "consumer")
            o = shmkit.Ring(b, "producer")
            for _ in range(n + 1000):
                o.send(i.recv(timeout=60))
            code = 0
        finally:
            os._exit(code)
    try:
        for k in range(n + 1000):
            if k == 1000:
                t0 = time.perf_counter()
            ping.send(MSG)
            pong.recv(timeout=60)  # a child that failed: TimedOutError, not a hang
        return (time.perf_counter() - t0) / n * 1e6
    finally:
        reap(pid)
        ping.close()
        pong.close()
        shmkit.remove(a)
        shmkit.remove(b)


def reap(pid):
    """Waits for the forked child PID (killed if it is still there after 10 s)."""
    for _ in range(100):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return
        time.sleep(0.1)
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def rt_rpc(n):
    """An RpcClient.call against a Python RpcServer.serve loop in a forked child."""
    name = uname()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            s = shmkit.RpcServer(name, max_request=64, max_response=64, max_clients=1)
            s.serve(lambda q: MSG, count=n + 1000, idle=60)
            s.close()
            code = 0
        finally:
            os._exit(code)
    try:
        c = shmkit.RpcClient(name, timeout=30)
        call = c.call
        for k in range(n + 1000):
            if k == 1000:
                t0 = time.perf_counter()
            call(MSG, 60)
        t = (time.perf_counter() - t0) / n * 1e6
        c.close()
        return t
    finally:
        reap(pid)
        shmkit.remove(name)


def rt_pipe(n):
    a, b = ctx.Pipe()
    pid = os.fork()
    if pid == 0:
        try:
            for _ in range(n + 1000):
                b.send_bytes(b.recv_bytes())
        finally:
            os._exit(0)
    b.close()  # a child that failed closes its end: EOFError here, not a hang
    for k in range(n + 1000):
        if k == 1000:
            t0 = time.perf_counter()
        a.send_bytes(MSG)
        a.recv_bytes()
    reap(pid)
    return (time.perf_counter() - t0) / n * 1e6


def rt_c(build, n, what="pingpong"):
    """c_peer's round trip in C (microseconds): WHAT is pingpong (two rings) or rpc."""
    prog = os.path.join(build, "python", "c_peer")
    if not os.access(prog, os.X_OK):
        return None
    out = subprocess.run([prog, what, str(n)], capture_output=True, text=True, check=True,
                         timeout=300)
    return float(out.stdout.split()[1]) / 1000


# ------------------------------------------------------------------ 1 MiB arrays

def arr_loan(n):
    name = uname()
    c0 = shmkit.Ring(name, None, create=True, capacity=4 * MIB)  # no role: the children take them
    src = np.arange(MIB // 8, dtype=np.float64)

    def producer():
        p = shmkit.Ring(name, "producer")
        for k in range(n):
            v = p.reserve(MIB)
            a = np.frombuffer(v, dtype=np.float64)
            a[:] = src  # the producer builds its array in the ring itself
            a[0] = k
            del a
            p.commit()
        os._exit(0)

    def consumer():
        c = shmkit.Ring(name, "consumer")
        t0 = None
        for k in range(n):
            m = c.peek()
            if t0 is None:
                t0 = time.perf_counter()
            a = np.frombuffer(m, dtype=np.float64)  # no copy
            assert a[0] == k and a[-1] == MIB // 8 - 1
            del a, m
            c.release()
        return (n - 1) * MIB / (time.perf_counter() - t0) / 1e9

    try:
        return in_children(producer, consumer)
    finally:
        c0.close()
        shmkit.remove(name)


def arr_shared_memory(n):
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(create=True, size=MIB)
    lock, full, empty = ctx.Lock(), ctx.Semaphore(0), ctx.Semaphore(1)
    src = np.arange(MIB // 8, dtype=np.float64)

    def producer():
        buf = np.ndarray(MIB // 8, dtype=np.float64, buffer=shm.buf)
        for k in range(n):
            empty.acquire()
            with lock:
                buf[:] = src
                buf[0] = k
            full.release()
        del buf
        os._exit(0)

    def consumer():
        buf = np.ndarray(MIB // 8, dtype=np.float64, buffer=shm.buf)
        t0 = None
        for k in range(n):
            full.acquire()
            if t0 is None:
                t0 = time.perf_counter()
            with lock:
                a = buf.copy()  # the consumer's own copy, out from under the lock
            empty.release()
            assert a[0] == k
        del buf
        return (n - 1) * MIB / (time.perf_counter() - t0) / 1e9

    try:
        return in_children(producer, consumer)
    finally:
        shm.close()
        shm.unlink()


def arr_queue(n):
    q = ctx.Queue(maxsize=4)
    src = np.arange(MIB // 8, dtype=np.float64)

    def producer():
        for k in range(n):
            a = src.copy()
            a[0] = k
            q.put(a)

    def consumer():
        t0 = None
        for k in range(n):
            a = q.get()
            if t0 is None:
                t0 = time.perf_counter()
            assert a[0] == k
        return (n - 1) * MIB / (time.perf_counter() - t0) / 1e9

    return in_children(producer, consumer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    q = 10 if a.quick else 1
    load = os.getloadavg()[0]
    print(f"== Python binding (bench_py.py): {time.strftime('%Y-%m-%d %H:%M')}, "
          f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {load:.2f}")

    print("-- 64-byte messages one way, two processes (messages/s, best of 3)")
    ring = best(lambda: oneway_ring(1_000_000 // q))
    queue = best(lambda: oneway_queue(100_000 // q))
    pipe = best(lambda: oneway_pipe(300_000 // q))
    for label, v in (("shmkit.Ring send/recv", ring), ("multiprocessing.Queue", queue),
                     ("multiprocessing.Pipe send_bytes", pipe)):
        print(f"   {label:34s} {v:12,.0f}")
    print(f"   ring / Queue {ring / queue:6.1f}x   (target >= 20x)")
    print(f"   ring / Pipe  {ring / pipe:6.1f}x   (target >= 5x)")

    print("-- 64-byte round trip, two processes (microseconds, best of 3)")
    rr = min(rt_ring(50_000 // q) for _ in range(3))
    rp = min(rt_pipe(50_000 // q) for _ in range(3))
    rc = rt_c(a.build, 200_000 // q)
    print(f"   {'shmkit.Ring (Python)':34s} {rr:10.2f}")
    print(f"   {'multiprocessing.Pipe':34s} {rp:10.2f}")
    if rc is not None:
        rc = min([rc] + [rt_c(a.build, 200_000 // q) for _ in range(2)])
        print(f"   {'shmkit ring (C, c_peer pingpong)':34s} {rc:10.2f}")
    print(f"   Pipe / ring  {rp / rr:6.1f}x   (target >= 10x)")
    if rc is not None:
        print(f"   Python ring / C ring {rr / rc:6.1f}x   (the binding's overhead)")

    print("-- 64-byte request/response, two processes (microseconds per call, best of 3)")
    rpc = min(rt_rpc(50_000 // q) for _ in range(3))
    crpc = rt_c(a.build, 200_000 // q, "rpc")
    print(f"   {'RpcClient.call / RpcServer.serve':34s} {rpc:10.2f}")
    print(f"   {'multiprocessing.Pipe (as above)':34s} {rp:10.2f}")
    if crpc is not None:
        crpc = min([crpc] + [rt_c(a.build, 200_000 // q, "rpc") for _ in range(2)])
        print(f"   {'shmkit_rpc_call (C, c_peer rpc)':34s} {crpc:10.2f}")
    print(f"   Pipe / rpc   {rp / rpc:6.1f}x")
    if crpc is not None:
        print(f"   Python rpc / C rpc {rpc / crpc:6.1f}x   (the binding's overhead)")

    if np is None:
        print("-- 1 MiB arrays: skipped (no numpy)")
        return 0
    print("-- 1 MiB numpy arrays handed over, two processes (GB/s, best of 3)")
    n = 2000 // q
    loan = best(lambda: arr_loan(n))
    shm = best(lambda: arr_shared_memory(n))
    aq = best(lambda: arr_queue(n // 4))
    for label, v in (("shmkit ring loan (zero-copy read)", loan),
                     ("shared_memory + Lock + copy", shm), ("multiprocessing.Queue (pickle)", aq)):
        print(f"   {label:34s} {v:10.2f}")
    print(f"   loan / shared_memory {loan / shm:6.1f}x   loan / Queue {loan / aq:6.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
