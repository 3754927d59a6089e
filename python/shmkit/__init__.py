"""shmkit - shared memory done right, from Python.

The same segments, rings, buses, tables, robust locks and request/response endpoints as the C
library (libshmkit), through a native extension, so Python and C programs share them::

    import shmkit
    with shmkit.Segment("/demo", size=4096, create=True) as seg:
        view = memoryview(seg)            # the payload, no copy
        view[:5] = b"hello"
        del view                          # a live view keeps close() from unmapping
        seg.seal()                        # checksum in the header: `shmkit verify /demo`

Nothing is ever removed behind your back: ``remove()`` is explicit (no resource tracker).
Every exception is a :class:`shmkit.Error` (an ``OSError`` carrying ``.code`` and ``.name``);
the subclasses also derive from the matching built-in (``FileNotFoundError``, ``TimeoutError``,
``PermissionError`` ...). Every blocking call releases the GIL and Ctrl-C interrupts it
(``KeyboardInterrupt``). See docs/python.md.
"""
import struct as _struct

from . import _shmkit
from ._shmkit import (  # noqa: F401  (re-exported)
    Bus,
    Error,
    Mutex,
    Request,
    RpcClient,
    Segment,
    BadHandleError,
    BusyError,
    ClosedError,
    CorruptError,
    DroppedError,
    ExistsError,
    FormatError,
    GeometryError,
    InterruptedCallError,
    InvalidError,
    NotFoundError,
    NotRecoverableError,
    NotSealedError,
    OutOfRangeError,
    OwnerDeadError,
    PeerDeadError,
    PermissionDeniedError,
    StaleError,
    TamperedError,
    TimedOutError,
    TooBigError,
    ViewsAliveError,
    WouldBlockError,
    HEADER_SIZE,
    MUTEX_SIZE,
    RWLOCK_SIZE,
    SEQLOCK_SIZE,
    RING_MIN_CAP,
    LIB_VERSION,
    crc32c,
    errname,
    owner_alive,
    parse_size,
    raise_code,
    remove,
    ring_size_for,
    strerror,
    sysv_remove,
)

__version__ = "0.1.0"

__all__ = [
    "Segment", "Ring", "Bus", "Subscriber", "Table", "Mutex", "RWLock", "SeqValue",
    "RpcServer", "RpcClient", "Request",
    "Error", "BadHandleError", "BusyError", "ClosedError", "CorruptError", "DroppedError",
    "ExistsError", "FormatError", "GeometryError", "InterruptedCallError", "InvalidError",
    "NotFoundError", "NotRecoverableError", "NotSealedError", "OutOfRangeError", "OwnerDeadError",
    "PeerDeadError", "PermissionDeniedError", "StaleError", "TamperedError", "TimedOutError",
    "TooBigError", "ViewsAliveError", "WouldBlockError",
    "remove", "sysv_remove", "strerror", "errname", "owner_alive", "ring_size_for", "crc32c",
    "parse_size", "raise_code", "codes",
]

# shmkit's own codes: codes.ECLOSED == -9017, ...
codes = type("codes", (), dict(
    {k: getattr(_shmkit, k) for k in dir(_shmkit) if k.startswith("E") and k.isupper()},
    __doc__="shmkit's own error codes (negative): codes.ETAMPERED, codes.ECLOSED, ..."))


def _owner_dead_consistent(self):
    """Marks the state the dead holder left repaired (the lock stays held)."""
    self.lock.consistent()


OwnerDeadError.consistent = _owner_dead_consistent


class _Loan:
    """`with ring.loan(n) as view:` - commit on a clean exit, cancel on an exception."""

    def __init__(self, ring, size, timeout):
        self._ring, self._size, self._timeout = ring, size, timeout
        self.length = None

    def __enter__(self):
        self._view = self._ring.reserve(self._size, self._timeout)
        return self._view

    def __exit__(self, et, ev, tb):
        if et is None:
            self._ring.commit(self.length)
        else:
            try:
                self._ring.cancel()
            except Error:
                pass
        return False


class _Message:
    """`with ring.message() as view:` - peek, release on exit."""

    def __init__(self, chan, timeout):
        self._chan, self._timeout = chan, timeout

    def __enter__(self):
        return self._chan.peek(self._timeout)

    def __exit__(self, et, ev, tb):
        self._chan.release()
        return False


class Ring(_shmkit._Ring):
    __doc__ = _shmkit._Ring.__doc__

    def loan(self, size, timeout=None):
        """loan(size, timeout=None): context manager around reserve()/commit(); the view is
        committed whole on a clean exit (set the manager's .length for less), cancelled on
        an exception."""
        return _Loan(self, size, timeout)

    def message(self, timeout=None):
        """message(timeout=None): context manager around peek()/release()."""
        return _Message(self, timeout)

    def __repr__(self):
        role = self.role or "set up only"
        return f"<shmkit.Ring {self.name!r} {role}{' closed' if self.closed else ''}>"


class RpcServer(_shmkit._RpcServer):
    __doc__ = _shmkit._RpcServer.__doc__

    def serve(self, handler, *, count=None, idle=None):
        """serve(handler, *, count=None, idle=None) -> int

        The server loop: takes each request, calls HANDLER(request) and answers with what it
        returns (bytes-like; None: an empty answer). request.data is a read-only memoryview
        valid during the call (bytes(request) copies). An answer to a client that is gone
        (PeerDeadError) is dropped and the loop goes on. Returns the number of requests
        answered, after COUNT of them (None: no limit) or when none came for IDLE seconds
        (None: wait for ever; 0: serve what is pending and return - for an event loop). An exception from HANDLER (or Ctrl-C) ends the loop and
        propagates; the request it was handling is left unanswered (its client's call times
        out)."""
        n = 0
        while count is None or n < count:
            try:
                req = self.recv(idle)
            except (TimedOutError, WouldBlockError):  # idle=0: what is pending, then return
                break
            out = handler(req)
            try:
                self.reply(req, b"" if out is None else out)
            except PeerDeadError:
                pass
            n += 1
        return n

    def __repr__(self):
        return f"<shmkit.RpcServer {self.name!r}{' closed' if self.closed else ''}>"


class Subscriber(_shmkit._Subscriber):
    __doc__ = _shmkit._Subscriber.__doc__

    def message(self, timeout=None):
        """message(timeout=None): context manager around peek()/release()."""
        return _Message(self, timeout)


class RWLock(_shmkit._RWLock):
    """RWLock(segment, offset=0, init=False, repair=None)

    The crash-safe reader/writer lock at OFFSET in SEGMENT's payload (RWLOCK_SIZE bytes).
    ``with lock.read():`` / ``with lock.write():``. A writer that died holding it raises
    OwnerDeadError at the next locker, who then holds it exclusively (or, with
    repair=callable, repair(lock) is called and the body runs holding it exclusively)."""

    def read(self, timeout=None):
        """Context manager holding a shared lock (TimedOutError if not within TIMEOUT)."""
        return _Held(self, False, timeout)

    def write(self, timeout=None):
        """Context manager holding the exclusive lock."""
        return _Held(self, True, timeout)


class _Held:
    def __init__(self, lock, write, timeout):
        self._lock, self._write, self._timeout = lock, write, timeout

    def __enter__(self):
        if self._write:
            if not self._lock.acquire_write(self._timeout):
                raise_code(-110)  # ETIMEDOUT
            self._ticket = -1
        else:
            t = self._lock.acquire_read(self._timeout)
            if t is None:
                raise_code(-110)
            self._ticket = t
        return self._lock

    def __exit__(self, et, ev, tb):
        self._lock.release_read(self._ticket)  # -1: the exclusive lock
        return False


def _codec(fmt, dtype):
    """(size, pack(values) -> bytes, unpack(bytes) -> record) for a struct format or dtype."""
    if (fmt is None) == (dtype is None):
        raise TypeError("give exactly one of fmt (a struct format) and dtype (numpy)")
    if fmt is not None:
        st = fmt if isinstance(fmt, _struct.Struct) else _struct.Struct(fmt)

        def pack(v):
            if isinstance(v, (bytes, bytearray, memoryview)):
                return v
            return st.pack(*v) if isinstance(v, (tuple, list)) else st.pack(v)

        def unpack(b):
            t = st.unpack_from(b)
            return t[0] if len(t) == 1 else t

        return st.size, pack, unpack
    import numpy as np

    dt = np.dtype(dtype)

    def pack_np(v):
        if isinstance(v, (bytes, bytearray, memoryview)):
            return v
        a = np.asarray(v, dtype=dt) if not isinstance(v, np.ndarray) else v.astype(dt, copy=False)
        return a.tobytes()

    def unpack_np(b):
        return np.frombuffer(b, dtype=dt, count=1)[0].copy()

    return dt.itemsize, pack_np, unpack_np


class Table(_shmkit._Table):
    """Table(name, fmt=None, *, dtype=None, count=0, type_id=0, create=False, readonly=False,
          role='writer', timeout=None, kind=None, mode=None, key=None, ftok=None,
          private=False)

    A shmkit table: COUNT records described by a struct format (``fmt``) or a numpy dtype,
    each with its own seqlock and owner. ``read(i)`` returns a consistent snapshot (a copy
    taken under the seqlock: a tuple, a single value, or a numpy record); ``write(i, values)``
    writes one whole update (only the record's owner: ``claim(i)`` first). ``owner(i)`` says
    whether the process behind a record lives.

    Joined by name with one call (shmkit_table_join), whichever process comes first:
    create=True creates it if missing (kind='anon' or 'memfd' always creates) and attaches
    otherwise. The geometry - the record size of fmt/dtype, count, type_id - is used by the
    process that creates (fmt or dtype and count needed) and checked by the others when
    given (GeometryError; 0 or no fmt: not checked). role: 'writer' (claims and writes;
    None is the same) or 'reader' (claim and write raise BadHandleError); readonly=True
    also maps it read-only (attach only). timeout: how long to wait for another process to
    make the table (None or 0: try once; negative: no limit). Without fmt/dtype, records
    are bytes."""

    def __init__(self, name, fmt=None, *, dtype=None, count=0, type_id=0, create=False,
                 readonly=False, role="writer", timeout=None, kind=None, mode=None, key=None,
                 ftok=None, private=False):
        if fmt is None and dtype is None:
            size, self._pack, self._unpack = 0, (lambda v: v), bytes
        else:
            size, self._pack, self._unpack = _codec(fmt, dtype)
        super().__init__(name, size, count, type_id, create, readonly, timeout, kind, mode, key,
                         ftok, private, role)

    def read(self, i):
        """A consistent snapshot of record I (PeerDeadError: its writer died mid-write)."""
        return self._unpack(self.read_bytes(i))

    def read_version(self, i):
        """(record, version): the version changes with every write."""
        b, v = self.read_bytes_version(i)
        return self._unpack(b), v

    def write(self, i, value):
        """Writes VALUE (a tuple for a struct format, a numpy record or tuple for a dtype, or
        bytes) as record I in one update."""
        self.write_bytes(i, self._pack(value))

    def __getitem__(self, i):
        """table[i] is table.read(i)."""
        return self.read(i)

    def __setitem__(self, i, value):
        self.write(i, value)

    def __iter__(self):
        for i in range(len(self)):
            yield self.read(i)

    def alive(self, i):
        """True if record I's owner lives, False if it died owning it, None if unowned."""
        st = self.owner(i)[0]
        return True if st == "alive" else None if st == "none" else False

    def __repr__(self):
        state = "closed" if self.closed else f"{self.count} x {self.rec_size} bytes"
        return f"<shmkit.Table {self.name!r} {state}>"


class SeqValue(_shmkit._Seqlock):
    """SeqValue(segment, offset=0, fmt='q', init=False)

    A value guarded by a seqlock at OFFSET in SEGMENT (SEQLOCK_SIZE bytes, then the value's
    struct FMT). One writer at a time (``set``), any number of readers who never block it
    (``get`` returns a consistent snapshot); ``wait_change`` sleeps until the next write."""

    def __init__(self, segment, offset=0, fmt="q", init=False):
        self._st = fmt if isinstance(fmt, _struct.Struct) else _struct.Struct(fmt)
        super().__init__(segment, offset, self._st.size, init)

    @staticmethod
    def size_for(fmt):
        """Bytes a SeqValue of FMT takes in a segment."""
        return SEQLOCK_SIZE + _struct.calcsize(fmt)

    def get(self):
        """A consistent snapshot of the value (a tuple, or the single value)."""
        t = self._st.unpack(self.read())
        return t[0] if len(t) == 1 else t

    def set(self, *values):
        """Writes the value (True: took over from a writer that died mid-write)."""
        return self.write(self._st.pack(*values))

    def wait_change(self, timeout=None):
        """Waits for a write that begins after this call; False on timeout."""
        return self.wait(self.sequence(), timeout)
