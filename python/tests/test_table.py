"""Table: struct formats and numpy dtypes, consistent snapshots, claim/owner/liveness."""
import os
import struct

import pytest

import shmkit


def test_struct_records(name):
    with shmkit.Table(name, "iid", count=4, type_id=7, create=True) as t:
        assert len(t) == 4 and t.rec_size == struct.calcsize("iid") and t.type_id == 7
        assert t.read(0) == (0, 0, 0.0) and t.owner(0)[0] == "none" and t.alive(0) is None
        with pytest.raises(shmkit.PermissionDeniedError):
            t.write(0, (1, 2, 3.0))  # claim first
        assert t.claim(0) is False
        t.write(0, (1, 2, 3.5))
        assert t.read(0) == (1, 2, 3.5) and t[0] == (1, 2, 3.5)
        rec, v = t.read_version(0)
        assert v == 2
        state, pid, start = t.owner(0)
        assert state == "alive" and pid == os.getpid() and t.alive(0) is True
        assert t[-4] == t[0]
        assert list(t)[0] == (1, 2, 3.5)
        assert t.stats()["owned"] == 1
        t.release(0)
        assert t.owner(0)[0] == "none"
        with pytest.raises(shmkit.PermissionDeniedError):
            t.release(0)
        t.remove()


def test_single_value_format(name):
    with shmkit.Table(name, "q", count=1, create=True) as t:
        t.claim(0)
        t.write(0, 5)
        assert t.read(0) == 5
        t.remove()


def test_numpy_dtype(name):
    np = pytest.importorskip("numpy")
    dt = np.dtype([("lap", "i4"), ("pad", "i4"), ("best", "i8")])
    with shmkit.Table(name, dtype=dt, count=3, create=True) as t:
        t.claim(2)
        t.write(2, (7, 0, 81234))
        r = t.read(2)
        assert r["lap"] == 7 and r["best"] == 81234
        a = np.zeros(1, dtype=dt)[0]
        a["lap"] = 9
        t[2] = a
        assert t[2]["lap"] == 9
        t.remove()


def test_open_existing_and_geometry(name):
    with shmkit.Table(name, "ii", count=2, create=True) as t:
        with shmkit.Table(name, "ii", count=2, create=True) as again:  # create-or-open
            assert again.count == 2
        with shmkit.Table(name, readonly=True) as ro:
            assert ro.read(0) == b"\0" * 8  # no format: bytes
            with pytest.raises(shmkit.BadHandleError):
                ro.claim(0)
        with pytest.raises(shmkit.GeometryError):
            shmkit.Table(name, "iii")  # another record size
        with pytest.raises(shmkit.GeometryError):
            shmkit.Table(name, "ii", type_id=99)
        with pytest.raises(shmkit.GeometryError):
            shmkit.Table(name, "ii", count=3, create=True)
        t.remove()


def test_misuse(name):
    with shmkit.Table(name, "i", count=2, create=True) as t:
        with pytest.raises(shmkit.OutOfRangeError):
            t.read(2)
        with pytest.raises(IndexError):
            t.claim(-3)
        with pytest.raises(IndexError):
            t.read(1 << 70)
        with pytest.raises(TypeError):
            t.read("0")
        with pytest.raises(struct.error):
            t.write(0, ("x",))
        t.claim(0)
        with pytest.raises(shmkit.TooBigError):
            t.write(0, b"12345")
        t.remove()
    with pytest.raises(shmkit.BadHandleError):
        t.read(0)
    with pytest.raises(shmkit.NotFoundError):
        shmkit.Table(name)
    with pytest.raises(shmkit.TooBigError):
        shmkit.Table(name, create=True)


def test_claim_held_by_another(name, children):
    with shmkit.Table(name, "i", count=1, create=True) as t:
        code = ("import shmkit,sys; t=shmkit.Table(sys.argv[1],'i'); t.claim(0); t.write(0, 42);"
                "print('claimed', flush=True); sys.stdin.read()")
        import subprocess
        ch = children.python(code, name, stdin=subprocess.PIPE)
        from conftest import wait_line
        wait_line(ch, "claimed")
        assert t.read(0) == 42 and t.owner(0)[0] == "alive" and t.owner(0)[1] == ch.pid
        with pytest.raises(shmkit.BusyError):
            t.claim(0)
        ch.stdin.close()
        ch.wait(10)
        assert t.owner(0)[0] == "dead"  # exited without releasing it
        assert t.claim(0) is True       # taken over
        assert t.read(0) == 42
        t.remove()
