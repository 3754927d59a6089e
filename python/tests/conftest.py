"""Shared fixtures: unique segment names (with the pid) removed after each test whatever
happened, the C build directory for the interoperability tests, and child processes that are
always reaped."""
import itertools
import os
import signal
import subprocess
import sys

import pytest

import shmkit

_counter = itertools.count()
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.abspath(os.path.join(TOP, os.environ.get("SHMKIT_BUILD", "build")))


@pytest.fixture
def name(request):
    """A fresh POSIX name, /shmkit-pyt-PID-N; removed after the test (and -f1/-cars/-events
    variants)."""
    n = f"/shmkit-pyt-{os.getpid()}-{next(_counter)}"
    yield n
    for suffix in ("", "-cars", "-events"):
        try:
            shmkit.remove(n + suffix)
        except shmkit.NotFoundError:
            pass


@pytest.fixture
def build():
    """The C build directory (SHMKIT_BUILD): examples and the CLI."""
    if not os.path.isdir(BUILD):
        pytest.skip(f"{BUILD} not built")
    return BUILD


class Children:
    def __init__(self):
        self.procs = []

    def python(self, code, *args, **kw):
        """Runs CODE in a new Debian python3 with the same shmkit (PYTHONPATH kept)."""
        p = subprocess.Popen([sys.executable, "-c", code, *map(str, args)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def run(self, argv, **kw):
        p = subprocess.Popen(list(map(str, argv)), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, **kw)
        self.procs.append(p)
        return p

    def reap(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
            for f in (p.stdout, p.stderr):
                if f:
                    f.close()


@pytest.fixture
def children():
    c = Children()
    yield c
    c.reap()


def wait_line(proc, text, timeout=10):
    """Reads PROC's stdout until a line containing TEXT (returns it)."""
    import selectors
    import time

    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if sel.select(timeout=max(0.0, end - time.monotonic())):
            line = proc.stdout.readline()
            if not line:
                break
            if text in line:
                return line
    raise AssertionError(f"no line with {text!r} from {proc.args}")
