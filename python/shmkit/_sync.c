/*
 * _sync.c - the robust mutex, the rwlock and the seqlock, placed in a Segment's payload.
 *
 * Each object keeps a reference to its Segment and finds its address again at every call
 * (skp_seg_at), so a closed segment gives BadHandleError, never a stale pointer; a call that
 * waits marks the segment busy so that close() cannot unmap it meanwhile. Waits inside pthread
 * cannot be interrupted, so they are made in slices of SLICE_NS: Ctrl-C is seen between two.
 */
#include "_shmkit.h"

#include <errno.h>
#include <string.h>

#define SLICE_NS 100000000 /* 100 ms */

typedef struct {
    PyObject_HEAD
    skp_Seg *seg;
    Py_ssize_t off;
    Py_ssize_t size; /* seqlock: data bytes after the lock */
    PyObject *repair;
} LockObj;

static int lock_init_common(LockObj *l, PyObject *args, PyObject *kw, size_t len, int seqlock,
                            int (*initf)(void *p))
{
    static char *kwl[] = {"segment", "offset", "init", "repair", NULL};
    static char *kwl_seq[] = {"segment", "offset", "size", "init", NULL};
    PyObject *seg, *repair = Py_None;
    Py_ssize_t off = 0, size = 0;
    int init = 0;
    int ok = seqlock ? PyArg_ParseTupleAndKeywords(args, kw, "O!|nnp", kwl_seq, &skp_SegType,
                                                   &seg, &off, &size, &init)
                     : PyArg_ParseTupleAndKeywords(args, kw, "O!|npO", kwl, &skp_SegType, &seg,
                                                   &off, &init, &repair);
    if (!ok)
        return -1;
    if (size < 0) {
        skp_raise_msg(-EINVAL, "size must be >= 0");
        return -1;
    }
    void *p = skp_seg_at((skp_Seg *)seg, off, len + (size_t)size, 8);
    if (!p)
        return -1;
    if (repair != Py_None && !PyCallable_Check(repair)) {
        PyErr_SetString(PyExc_TypeError, "repair must be callable");
        return -1;
    }
    if (init) {
        if (((skp_Seg *)seg)->readonly) {
            skp_raise_msg(-EBADF, "segment is mapped read-only");
            return -1;
        }
        int rc = initf(p);
        if (rc < 0) {
            skp_raise(rc);
            return -1;
        }
    }
    Py_INCREF(seg);
    Py_XSETREF(l->seg, (skp_Seg *)seg);
    l->off = off;
    l->size = size;
    Py_INCREF(repair);
    Py_XSETREF(l->repair, repair);
    return 0;
}

static void lock_dealloc(PyObject *self)
{
    LockObj *l = (LockObj *)self;
    Py_XDECREF(l->seg);
    Py_XDECREF(l->repair);
    Py_TYPE(self)->tp_free(self);
}

static void *lock_addr(LockObj *l, size_t len)
{
    if (!l->seg) {
        skp_closed();
        return NULL;
    }
    return skp_seg_at(l->seg, l->off, len + (size_t)l->size, 8);
}

/* Raises OwnerDeadError with .lock = SELF (the caller holds the lock now). */
static PyObject *owner_dead(PyObject *self)
{
    skp_raise(SHMKIT_EOWNERDEAD);
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    if (v)
        PyObject_SetAttrString(v, "lock", self);
    PyErr_Restore(t, v, tb);
    return NULL;
}

/* ------------------------------------------------------------------ Mutex */

static int mutex_initf(void *p)
{
    return shmkit_mutex_init(p);
}

static int mutex_init(PyObject *self, PyObject *args, PyObject *kw)
{
    return lock_init_common((LockObj *)self, args, kw, sizeof(struct shmkit_mutex), 0,
                            mutex_initf);
}

struct mcall {
    void *p;
    int ticket;
};

/* One slice of a wait in pthread; -EINTR asks skp_block to check signals and go on. */
static int mlock_fn(void *ctx, int64_t t)
{
    struct mcall *c = ctx;
    int64_t slice = t < 0 || t > SLICE_NS ? SLICE_NS : t;
    int rc = shmkit_mutex_timedlock(c->p, slice);
    if (rc == -ETIMEDOUT && (t < 0 || t > slice))
        return -EINTR;
    return rc;
}

static PyObject *mutex_consistent(PyObject *self, PyObject *unused);
static PyObject *mutex_release(PyObject *self, PyObject *unused);

/* Runs the repair callable after owner-died: repair, mark consistent, keep the lock. */
static int run_repair(PyObject *self, PyObject *repair, PyObject *(*consistent)(PyObject *,
                                                                                 PyObject *))
{
    PyObject *r = PyObject_CallOneArg(repair, self);
    if (!r)
        return -1; /* still held: the caller releases it, which makes it unrecoverable */
    Py_DECREF(r);
    r = consistent(self, NULL);
    if (!r)
        return -1;
    Py_DECREF(r);
    return 0;
}

static PyObject *mutex_acquire(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    LockObj *l = (LockObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct mcall c = {lock_addr(l, sizeof(struct shmkit_mutex)), 0};
    if (!c.p)
        return NULL;
    l->seg->busy++;
    int rc = skp_block(mlock_fn, &c, t);
    l->seg->busy--;
    if (rc == SKP_PYERR)
        return NULL;
    if (rc == -ETIMEDOUT || rc == -EBUSY)
        Py_RETURN_FALSE;
    if (rc == SHMKIT_EOWNERDEAD) {
        if (l->repair == Py_None)
            return owner_dead(self);
        if (run_repair(self, l->repair, mutex_consistent) < 0) {
            PyObject *t0, *v0, *tb0;
            PyErr_Fetch(&t0, &v0, &tb0);
            shmkit_mutex_unlock(c.p); /* unrepaired: unrecoverable, as the protocol says */
            PyErr_Restore(t0, v0, tb0);
            return NULL;
        }
        Py_RETURN_TRUE;
    }
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_TRUE;
}

static PyObject *mutex_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_mutex));
    if (!p)
        return NULL;
    int rc = shmkit_mutex_unlock(p);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *mutex_consistent(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_mutex));
    if (!p)
        return NULL;
    int rc = shmkit_mutex_consistent(p);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *mutex_destroy(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_mutex));
    if (!p)
        return NULL;
    int rc = shmkit_mutex_destroy(p);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *mutex_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    PyObject *none = PyTuple_New(0);
    if (!none)
        return NULL;
    PyObject *r = mutex_acquire(self, none, NULL);
    Py_DECREF(none);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_INCREF(self);
    return self;
}

static PyObject *mutex_exit(PyObject *self, PyObject *args)
{
    (void)args;
    PyObject *r = mutex_release(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

#define KW(f) (PyCFunction)(void (*)(void))(f), METH_VARARGS | METH_KEYWORDS

static PyMethodDef mutex_methods[] = {
    {"acquire", KW(mutex_acquire),
     "acquire(timeout=None) -> bool\n\nLocks (False: not within TIMEOUT). OwnerDeadError: the\n"
     "holder died; the caller holds it now (repair, consistent(), release()) - unless the\n"
     "mutex was made with repair=callable, which is then called and the lock kept."},
    {"release", mutex_release, METH_NOARGS, "release()\n\nUnlocks."},
    {"consistent", mutex_consistent, METH_NOARGS,
     "consistent()\n\nAfter OwnerDeadError: the state is repaired (the caller still holds it)."},
    {"destroy", mutex_destroy, METH_NOARGS, "destroy()\n\nDestroys it (no one may use it)."},
    {"__enter__", mutex_enter, METH_NOARGS, NULL},
    {"__exit__", mutex_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

PyTypeObject skp_MutexType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit.Mutex",
    .tp_basicsize = sizeof(LockObj),
    .tp_new = PyType_GenericNew,
    .tp_init = mutex_init,
    .tp_dealloc = lock_dealloc,
    .tp_methods = mutex_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Mutex(segment, offset=0, init=False, repair=None)\n\n"
              "The robust process-shared mutex at OFFSET in SEGMENT's payload (MUTEX_SIZE bytes,\n"
              "8-aligned); init=True initialises it (once, before anyone uses it: typically in\n"
              "Segment(..., init=...)). `with m:` locks; a holder that died raises\n"
              "OwnerDeadError (lock held; e.consistent() after repairing) or, with\n"
              "repair=callable, calls repair(m) and goes on.",
};

/* ------------------------------------------------------------------ RWLock */

static int rw_initf(void *p)
{
    return shmkit_rwlock_init(p);
}

static int rw_init(PyObject *self, PyObject *args, PyObject *kw)
{
    return lock_init_common((LockObj *)self, args, kw, sizeof(struct shmkit_rwlock), 0, rw_initf);
}

static int rd_fn(void *ctx, int64_t t)
{
    struct mcall *c = ctx;
    int64_t slice = t < 0 || t > SLICE_NS ? SLICE_NS : t;
    int rc = shmkit_rwlock_rdlock(c->p, slice);
    if (rc == -ETIMEDOUT && (t < 0 || t > slice))
        return -EINTR;
    return rc;
}

static int wr_fn(void *ctx, int64_t t)
{
    struct mcall *c = ctx;
    int64_t slice = t < 0 || t > SLICE_NS ? SLICE_NS : t;
    int rc = shmkit_rwlock_wrlock(c->p, slice);
    if (rc == -ETIMEDOUT && (t < 0 || t > slice))
        return -EINTR;
    return rc;
}

static PyObject *rw_consistent(PyObject *self, PyObject *unused);

static PyObject *rw_lock(PyObject *self, PyObject *args, PyObject *kw, skp_fn fn)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    LockObj *l = (LockObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct mcall c = {lock_addr(l, sizeof(struct shmkit_rwlock)), 0};
    if (!c.p)
        return NULL;
    l->seg->busy++;
    int rc = skp_block(fn, &c, t);
    l->seg->busy--;
    if (rc == SKP_PYERR)
        return NULL;
    if (rc == -ETIMEDOUT || rc == -EBUSY)
        Py_RETURN_NONE;
    if (rc == SHMKIT_EOWNERDEAD) { /* held exclusively now, read or write asked */
        if (l->repair == Py_None)
            return owner_dead(self);
        if (run_repair(self, l->repair, rw_consistent) < 0) {
            PyObject *t0, *v0, *tb0;
            PyErr_Fetch(&t0, &v0, &tb0);
            shmkit_rwlock_wrunlock(c.p);
            PyErr_Restore(t0, v0, tb0);
            return NULL;
        }
        return PyLong_FromLong(-1); /* held for writing: release with release_write() */
    }
    if (rc < 0)
        return skp_raise(rc);
    return PyLong_FromLong(fn == rd_fn ? rc : -1);
}

static PyObject *rw_acquire_read(PyObject *self, PyObject *args, PyObject *kw)
{
    return rw_lock(self, args, kw, rd_fn);
}

static PyObject *rw_acquire_write(PyObject *self, PyObject *args, PyObject *kw)
{
    PyObject *r = rw_lock(self, args, kw, wr_fn);
    if (!r)
        return NULL;
    int got = r != Py_None;
    Py_DECREF(r);
    return PyBool_FromLong(got);
}

static PyObject *rw_release_read(PyObject *self, PyObject *a)
{
    int ticket = PyLong_AsLong(a);
    if (ticket == -1 && PyErr_Occurred())
        return NULL;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_rwlock));
    if (!p)
        return NULL;
    int rc = ticket < 0 ? shmkit_rwlock_wrunlock(p) : shmkit_rwlock_rdunlock(p, ticket);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *rw_release_write(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_rwlock));
    if (!p)
        return NULL;
    int rc = shmkit_rwlock_wrunlock(p);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *rw_consistent(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_rwlock));
    if (!p)
        return NULL;
    int rc = shmkit_rwlock_consistent(p);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyMethodDef rw_methods[] = {
    {"acquire_read", KW(rw_acquire_read),
     "acquire_read(timeout=None) -> int | None\n\nA shared lock: returns the ticket to pass to\n"
     "release_read (None: not within TIMEOUT). After a writer died holding it the caller holds\n"
     "it EXCLUSIVELY: OwnerDeadError (or repair=callable), ticket -1."},
    {"release_read", rw_release_read, METH_O,
     "release_read(ticket)\n\nReleases a shared lock (ticket -1: the exclusive one)."},
    {"acquire_write", KW(rw_acquire_write),
     "acquire_write(timeout=None) -> bool\n\nThe exclusive lock (False: not within TIMEOUT)."},
    {"release_write", rw_release_write, METH_NOARGS, "release_write()"},
    {"consistent", rw_consistent, METH_NOARGS, "consistent()\n\nAfter OwnerDeadError."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject skp_RWLockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._RWLock",
    .tp_basicsize = sizeof(LockObj),
    .tp_new = PyType_GenericNew,
    .tp_init = rw_init,
    .tp_dealloc = lock_dealloc,
    .tp_methods = rw_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "_RWLock(segment, offset=0, init=False, repair=None): see shmkit.RWLock.",
};

/* ------------------------------------------------------------------ Seqlock */

static int seq_initf(void *p)
{
    shmkit_seqlock_init(p);
    return 0;
}

static int seq_init(PyObject *self, PyObject *args, PyObject *kw)
{
    return lock_init_common((LockObj *)self, args, kw, sizeof(struct shmkit_seqlock), 1,
                            seq_initf);
}

static PyObject *seq_read(PyObject *self, PyObject *unused)
{
    (void)unused;
    LockObj *l = (LockObj *)self;
    char *p = lock_addr(l, sizeof(struct shmkit_seqlock));
    if (!p)
        return NULL;
    PyObject *b = PyBytes_FromStringAndSize(NULL, l->size);
    if (!b)
        return NULL;
    int rc;
    l->seg->busy++;
    Py_BEGIN_ALLOW_THREADS
    rc = shmkit_seqlock_read((void *)p, PyBytes_AS_STRING(b), p + sizeof(struct shmkit_seqlock),
                             (size_t)l->size);
    Py_END_ALLOW_THREADS
    l->seg->busy--;
    if (rc < 0) {
        Py_DECREF(b);
        return skp_raise(rc);
    }
    return b;
}

static PyObject *seq_write(PyObject *self, PyObject *a)
{
    LockObj *l = (LockObj *)self;
    Py_buffer b;
    if (PyObject_GetBuffer(a, &b, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *res = NULL;
    char *p = lock_addr(l, sizeof(struct shmkit_seqlock));
    if (p) {
        if (b.len > l->size)
            skp_raise_msg(SHMKIT_EBADSIZE, "more bytes than the value holds");
        else if (l->seg->readonly)
            skp_raise_msg(-EBADF, "segment is mapped read-only");
        else {
            int rc = shmkit_seqlock_write((void *)p, p + sizeof(struct shmkit_seqlock), b.buf,
                                          (size_t)b.len);
            res = rc < 0 ? skp_raise(rc) : PyBool_FromLong(rc == 1);
        }
    }
    PyBuffer_Release(&b);
    return res;
}

static PyObject *seq_sequence(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_seqlock));
    if (!p)
        return NULL;
    return PyLong_FromUnsignedLong(shmkit_seqlock_read_begin(p));
}

struct scall {
    void *p;
    uint32_t seq;
};

static int swait_fn(void *ctx, int64_t t)
{
    struct scall *c = ctx;
    return shmkit_seqlock_wait(c->p, c->seq, t);
}

static PyObject *seq_wait(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"seq", "timeout", NULL};
    unsigned int seq;
    PyObject *timeout = Py_None;
    LockObj *l = (LockObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "I|O", kwl, &seq, &timeout))
        return NULL;
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct scall c = {lock_addr(l, sizeof(struct shmkit_seqlock)), seq};
    if (!c.p)
        return NULL;
    l->seg->busy++;
    int rc = skp_block(swait_fn, &c, t);
    l->seg->busy--;
    if (rc == SKP_PYERR)
        return NULL;
    if (rc == -ETIMEDOUT)
        Py_RETURN_FALSE;
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_TRUE;
}

static PyObject *seq_writer_alive(PyObject *self, PyObject *unused)
{
    (void)unused;
    void *p = lock_addr((LockObj *)self, sizeof(struct shmkit_seqlock));
    if (!p)
        return NULL;
    return PyBool_FromLong(shmkit_seqlock_writer_alive(p));
}

static PyMethodDef seq_methods[] = {
    {"read", seq_read, METH_NOARGS,
     "read() -> bytes\n\nA consistent snapshot of the SIZE bytes after the lock.\n"
     "PeerDeadError: the writer died in the middle of a write."},
    {"write", seq_write, METH_O,
     "write(data) -> bool\n\nOne write (one writer at a time). True: took over from a writer\n"
     "that died mid-write."},
    {"sequence", seq_sequence, METH_NOARGS, "sequence() -> int\n\nThe current sequence."},
    {"wait", KW(seq_wait),
     "wait(seq, timeout=None) -> bool\n\nWaits for a write after the one SEQ saw (False: timeout)."},
    {"writer_alive", seq_writer_alive, METH_NOARGS, "writer_alive() -> bool"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject skp_SeqlockType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._Seqlock",
    .tp_basicsize = sizeof(LockObj),
    .tp_new = PyType_GenericNew,
    .tp_init = seq_init,
    .tp_dealloc = lock_dealloc,
    .tp_methods = seq_methods,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "_Seqlock(segment, offset=0, size=0, init=False): a seqlock (SEQLOCK_SIZE bytes)\n"
              "at OFFSET guarding SIZE bytes right after it; see shmkit.SeqValue.",
};

int skp_add_types(PyObject *m)
{
    struct {
        const char *name;
        PyTypeObject *t;
    } ts[] = {{"_Ring", &skp_RingType},   {"Bus", &skp_BusType},       {"_Subscriber", &skp_SubType},
              {"_Table", &skp_TableType}, {"Mutex", &skp_MutexType}, {"_RWLock", &skp_RWLockType},
              {"_Seqlock", &skp_SeqlockType}};
    for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++)
        if (PyType_Ready(ts[i].t) < 0 || PyModule_AddObjectRef(m, ts[i].name, (PyObject *)ts[i].t) < 0)
            return -1;
    return 0;
}
