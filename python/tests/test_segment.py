"""Segment: every way to open one, the buffer protocol without copies, seal/verify,
explicit removal, and misuse that must raise rather than crash."""
import mmap
import os
import struct
import subprocess
import sys

import pytest

import shmkit


def test_create_write_reopen(name):
    with shmkit.Segment(name, size=4096, create=True, exclusive=True) as seg:
        assert seg.created and seg.size == 4096 and seg.kind == "posix" and len(seg) == 4096
        seg.write(0, b"hello")
    with shmkit.Segment(name) as seg:
        assert not seg.created
        assert seg.read(0, 5) == b"hello"
        seg.remove()
    with pytest.raises(shmkit.NotFoundError) as e:
        shmkit.Segment(name)
    assert isinstance(e.value, FileNotFoundError) and isinstance(e.value, shmkit.Error)
    assert e.value.code == -2 and e.value.name == "ENOENT"


def test_exclusive_exists(name):
    with shmkit.Segment(name, size=64, create=True):
        with pytest.raises(FileExistsError) as e:
            shmkit.Segment(name, size=64, create=True, exclusive=True)
        assert isinstance(e.value, shmkit.ExistsError)


def test_memoryview_no_copy(name):
    with shmkit.Segment(name, size=4096, create=True) as a, shmkit.Segment(name) as b:
        va, vb = memoryview(a), memoryview(b)
        va[100:104] = b"abcd"
        assert vb[100:104] == b"abcd"  # another mapping of the same memory: no copy
        va.release()
        vb.release()


def test_numpy_frombuffer(name):
    np = pytest.importorskip("numpy")
    with shmkit.Segment(name, size=8 * 1024, create=True) as seg:
        arr = np.frombuffer(seg, dtype=np.float64)
        arr2 = np.frombuffer(seg, dtype=np.float64)
        arr[:] = np.arange(1024)
        assert arr2[1023] == 1023.0 and np.shares_memory(arr, arr2)
        with pytest.raises(shmkit.ViewsAliveError):
            seg.close()
        del arr, arr2
        seg.close()
        assert seg.closed


def test_close_refused_while_view_alive(name):
    seg = shmkit.Segment(name, size=64, create=True)
    v = memoryview(seg)
    sub = v[8:16]
    v.release()
    with pytest.raises(shmkit.ViewsAliveError) as e:
        seg.close()
    assert isinstance(e.value, BufferError)
    sub[0] = 7  # still mapped: the close was refused
    sub.release()
    seg.close()
    with pytest.raises(ValueError):
        sub[0]
    with pytest.raises(shmkit.BadHandleError):
        memoryview(seg)
    with pytest.raises(shmkit.BadHandleError):
        seg.read(0, 1)
    seg.close()  # idempotent


def test_seal_verify_tamper(name):
    with shmkit.Segment(name, size=1024, create=True) as seg:
        seg.write(0, b"x" * 1024)
        with pytest.raises(shmkit.NotSealedError):
            seg.verify()
        seg.seal()
        seg.verify()
        assert seg.info()["sealed"]
        with shmkit.Segment(name, verify=True):
            pass
        seg.write(10, b"y")
        with pytest.raises(shmkit.TamperedError) as e:
            seg.verify()
        assert e.value.code == shmkit.codes.ETAMPERED and e.value.name == "SHMKIT_ETAMPERED"
        with pytest.raises(shmkit.TamperedError):
            shmkit.Segment(name, verify=True)


def test_readonly(name):
    with shmkit.Segment(name, size=64, create=True):
        with shmkit.Segment(name, readonly=True) as ro:
            assert memoryview(ro).readonly
            with pytest.raises(shmkit.BadHandleError):
                ro.write(0, b"x")
            with pytest.raises(TypeError):
                memoryview(ro)[0] = 1


@pytest.mark.parametrize("kind", ["sysv", "anon", "memfd", "file"])
def test_other_kinds(kind, tmp_path):
    kw = {}
    if kind == "sysv":
        kw = dict(private=True)
    elif kind == "memfd":
        kw = dict(name="pyt")
    elif kind == "file":
        kw = dict(name=str(tmp_path / "seg"))
    with shmkit.Segment(size=4096, create=True, kind=kind, **kw) as seg:
        assert seg.kind == kind
        memoryview(seg)[:3] = b"abc"
        info = seg.info()
        assert info["kind"] == kind and info["payload_size"] == 4096
        if kind == "sysv":
            seg.remove()  # IPC_RMID: destroyed once detached


def test_anon_shared_across_fork():
    with shmkit.Segment(size=64, create=True, kind="anon") as seg:
        pid = os.fork()
        if pid == 0:
            seg.write(0, b"child")
            os._exit(0)
        os.waitpid(pid, 0)
        assert seg.read(0, 5) == b"child"


def test_sysv_key(tmp_path):
    key = 0x5900000 + os.getpid() % 0x10000
    with shmkit.Segment(key=key, size=128, create=True) as a:
        try:
            a.write(0, b"k")
            with shmkit.Segment(key=key) as b:
                assert b.read(0, 1) == b"k" and b.info()["key"] == key
        finally:
            a.remove()


def test_init_runs_once(name):
    calls = []

    def init(seg):
        calls.append(1)
        seg.write(0, struct.pack("q", 42))
        shmkit.Mutex(seg, 8, init=True)

    with shmkit.Segment(name, size=128, create=True, init=init) as a:
        assert a.created
        with shmkit.Segment(name, size=128, create=True, init=init) as b:
            assert not b.created
            assert struct.unpack_from("q", b.read(0, 8))[0] == 42
            with shmkit.Mutex(b, 8):
                pass
    assert calls == [1]


def test_init_error_removes(name):
    def init(seg):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        shmkit.Segment(name, size=64, create=True, init=init)
    with pytest.raises(shmkit.NotFoundError):
        shmkit.Segment(name)


def test_init_segment_has_no_buffer(name):
    kept = []

    def init(seg):
        kept.append(seg)
        with pytest.raises(BufferError):
            memoryview(seg)

    with shmkit.Segment(name, size=64, create=True, init=init):
        pass
    with pytest.raises(shmkit.BadHandleError):  # the initialiser's handle is dead after it
        kept[0].read(0, 1)


def test_removed_underneath(name):
    a = shmkit.Segment(name, size=64, create=True)
    b = shmkit.Segment(name)
    a.remove()
    b.write(0, b"still mapped")  # a removed name leaves mappings valid
    assert a.read(0, 12) == b"still mapped"
    with pytest.raises(shmkit.NotFoundError):
        b.remove()
    with pytest.raises(shmkit.NotFoundError):
        shmkit.Segment(name)
    a.close()
    b.close()


def test_truncated_underneath_raises(name):
    a = shmkit.Segment(name, size=8192, create=True)
    os.truncate("/dev/shm" + name, 100)
    with pytest.raises(shmkit.FormatError):
        a.verify()
    with pytest.raises(shmkit.Error):
        shmkit.Segment(name)
    a.close()


def test_bad_arguments(name):
    with pytest.raises(shmkit.InvalidError):
        shmkit.Segment("no-slash-but-posix", kind="posix", size=1, create=True)
    with pytest.raises(TypeError):
        shmkit.Segment(name, size="big")
    with pytest.raises(ValueError):
        shmkit.Segment(name, size=-1, create=True)
    with pytest.raises(shmkit.TooBigError):
        shmkit.Segment(name, create=True)  # size 0
    with pytest.raises(ValueError):
        shmkit.Segment(name, kind="nope")
    with pytest.raises(shmkit.InvalidError):
        shmkit.Segment(name, readonly=True, create=True, size=1)
    with shmkit.Segment(name, size=16, create=True) as seg:
        with pytest.raises(shmkit.OutOfRangeError):
            seg.read(10, 10)
        with pytest.raises(IndexError):
            seg.write(15, b"ab")
        with pytest.raises(TypeError):
            seg.write(0, "text")


def test_not_a_shmkit_segment(name):
    fd = os.open("/dev/shm" + name, os.O_CREAT | os.O_RDWR, 0o600)
    os.write(fd, b"\xff" * 4096)
    os.close(fd)
    with pytest.raises(shmkit.FormatError) as e:
        shmkit.Segment(name)
    assert e.value.name == "SHMKIT_ENOTSHMKIT"
    with shmkit.Segment(name, raw=True) as raw:
        assert raw.size == 4096 and raw.read(0, 1) == b"\xff"


def test_no_resource_tracker(name):
    """A child that opens and closes a segment it did not create leaves it alone (unlike
    multiprocessing.shared_memory's tracker, CPython gh-82300)."""
    with shmkit.Segment(name, size=64, create=True):
        code = ("import shmkit,sys; s=shmkit.Segment(sys.argv[1]); s.close()")
        subprocess.run([sys.executable, "-c", code, name], check=True)
        with shmkit.Segment(name):
            pass


def test_errors_map_to_builtins():
    for code, cls in [(-2, FileNotFoundError), (-17, FileExistsError), (-13, PermissionError),
                      (-110, TimeoutError), (-11, BlockingIOError), (-4, InterruptedError),
                      (shmkit.codes.ECLOSED, EOFError), (shmkit.codes.EPEERDEAD, ConnectionError),
                      (-34, IndexError), (-22, ValueError)]:
        with pytest.raises(cls) as e:
            shmkit.raise_code(code)
        assert isinstance(e.value, shmkit.Error) and isinstance(e.value, OSError)
        assert e.value.code == code and e.value.name == shmkit.errname(code)
    with pytest.raises(shmkit.Error) as e:
        shmkit.raise_code(-5)  # EIO: the base class
    assert type(e.value) is shmkit.Error and e.value.errno == 5


def test_memfd_seal_makes_views_readonly():
    with shmkit.Segment("pyt", size=4096, create=True, kind="memfd") as seg:
        seg.write(0, b"sealed")
        seg.seal()  # F_SEAL_WRITE and a read-only mapping
        assert memoryview(seg).readonly
        with pytest.raises(shmkit.BadHandleError):
            seg.write(0, b"x")
        seg.verify()
        assert seg.read(0, 6) == b"sealed"
