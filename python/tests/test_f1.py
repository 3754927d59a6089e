"""The F1 board's tables read from Python: python3 -m shmkit.f1 --attach on a live weekend."""
import os
import subprocess
import sys
import time

import pytest

import shmkit
from shmkit import f1


def test_f1_attach(name, build, children, tmp_path):
    prog = os.path.join(build, "examples", "f1")
    if not os.access(prog, os.X_OK):
        pytest.skip("f1 not built")
    race = children.run([prog, "--cars", 4, "--laps", 40, "--speed", 20, "--seed", 3, "--plain",
                         "--sessions", "race", "--name", name, "--results", tmp_path])
    end = time.monotonic() + 30  # a generous bound for a loaded machine
    while True:
        try:
            board = f1.Board(name)
            break
        except shmkit.NotFoundError:
            assert time.monotonic() < end, "the weekend did not start"
            time.sleep(0.01)
    while True:
        c, rows = board.view()
        if c["state"] == f1.RUN or time.monotonic() > end:
            break
        time.sleep(0.01)
    assert c["ncars"] == 4 and len(rows) == 4
    assert sorted(r[1] for r in rows) == [0, 1, 2, 3]
    # kill -9 one car: the board sees its process die
    time.sleep(0.3)
    state, pid, _ = board.cars.owner(2)
    assert state == "alive" and pid > 0
    os.kill(pid, 9)
    end = time.monotonic() + 30
    while True:
        c, rows = board.view()
        if [r for r in rows if r[1] == 2 and r[2]]:
            break
        assert time.monotonic() < end, "the dead car is not shown OUT"
        time.sleep(0.02)
    board.close()
    r = subprocess.run([sys.executable, "-m", "shmkit.f1", "--attach", name, "--once"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert "RACE" in lines[0] and lines[1].split()[:3] == ["POS", "NO", "DRV"]
    assert len(lines) == 2 + 4 and "OUT (process died)" in r.stdout
    race.terminate()  # SIGTERM: race control stops and removes its segments
    race.wait(20)
