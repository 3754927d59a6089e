"""The course exercises in python/examples run, and meet their C counterparts: a Python
writer read by the C reader and the reverse, the tamper check, the counter, the table."""
import os
import subprocess
import sys

import pytest

EX = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def py(script, *args):
    return subprocess.run([sys.executable, os.path.join(EX, script), *map(str, args)],
                          capture_output=True, text=True, timeout=60)


def c(build, prog, *args):
    p = os.path.join(build, "examples", prog)
    if not os.access(p, os.X_OK):
        pytest.skip(f"{p} not built")
    return subprocess.run([p, *map(str, args)], capture_output=True, text=True, timeout=60)


def test_writer_reader_both_ways(name, build):
    w = py("writer.py", "-n", name, "from python")
    assert w.returncode == 0 and "sealed" in w.stdout
    r = c(build, "reader", "-n", name)
    assert r.returncode == 0 and f"read from {name}: from python" in r.stdout
    w = c(build, "writer", "-n", name, "from C")
    assert w.returncode == 0
    r = py("reader.py", "-n", name)
    assert r.returncode == 0 and f"read from {name}: from C" in r.stdout
    assert "seal verified" in r.stdout


def test_tamper_check(name, build):
    assert py("writer.py", "-n", name).returncode == 0
    with open("/dev/shm" + name, "r+b") as f:  # the course's dd, 256 bytes in: the payload
        f.seek(256)
        f.write(b"HACKED")
    r = py("reader.py", "-n", name)
    assert r.returncode == 1 and "SHMKIT_ETAMPERED" in r.stderr and not r.stdout
    r = c(build, "reader", "-n", name)
    assert r.returncode != 0 and "SHMKIT_ETAMPERED" in r.stderr


def test_counter(name):
    r = py("counter.py", "-n", name, 3, 2000)
    assert r.returncode == 0 and "counter = 6000 (expected 6000)" in r.stdout, r.stderr


def test_scoreboard(name):
    r = py("scoreboard.py", "-n", name, 3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"player-{i}   score {100 * (i + 1):4d}  owner dead"
                                     for i in range(3)]


@pytest.mark.parametrize("named", [True, False])
def test_pipeline(name, named):
    r = py("pipeline.py", *(["-n", name] if named else []), 3)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [f"consumer: item {i}" for i in (1, 2, 3)] + [
        "consumer: 3 items, end of stream", "parent: both children done"]
