/*
 * _shmkit.c - the CPython extension module: exceptions, timeouts, the blocking-call loop,
 * message views, and Segment. Channels, tables and locks are in _chan.c, _table.c, _sync.c.
 *
 * Memory safety rule of the whole binding: no Python object can reach a mapping after it is
 * unmapped. A Segment refuses to close while a buffer of it is exported (memoryview, numpy)
 * or a call runs on it without the GIL; a message view is invalidated at release, and release
 * refuses while something still holds a buffer of it.
 */
#include "_shmkit.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

unsigned skp_fork_gen;

static void fork_child(void)
{
    skp_fork_gen++;
}

PyObject *skp_Error, *skp_ViewsAliveError, *skp_OwnerDeadError, *skp_ClosedError;

/* ------------------------------------------------------------------ exceptions */

struct skp_exc {
    const char *name;
    PyObject **builtin; /* second base, or NULL */
    int codes[8];       /* 0-terminated */
    const char *doc;
    PyObject *cls;
};

static struct skp_exc excs[] = {
    {"NotFoundError", &PyExc_FileNotFoundError, {-ENOENT}, "No such segment (ENOENT).", NULL},
    {"ExistsError", &PyExc_FileExistsError, {-EEXIST}, "The segment exists (EEXIST).", NULL},
    {"PermissionDeniedError", &PyExc_PermissionError, {-EACCES, -EPERM},
     "Not allowed (EACCES, EPERM: permissions, ownership, not the record's owner).", NULL},
    {"TimedOutError", &PyExc_TimeoutError, {-ETIMEDOUT}, "The timeout passed (ETIMEDOUT).", NULL},
    {"WouldBlockError", &PyExc_BlockingIOError, {-EAGAIN},
     "A call with timeout=0 could not proceed (EAGAIN).", NULL},
    {"InterruptedCallError", &PyExc_InterruptedError, {-EINTR}, "Interrupted (EINTR).", NULL},
    {"BusyError", NULL, {-EBUSY, -EUSERS}, "The role or lock is held by a live process.", NULL},
    {"ViewsAliveError", &PyExc_BufferError, {0},
     "A memoryview (or numpy array, slice...) of the memory is still alive: release it first.",
     NULL},
    {"OwnerDeadError", NULL, {SHMKIT_EOWNERDEAD},
     "The previous holder of the lock died holding it. The caller HOLDS the lock now: repair\n"
     "the state, call .consistent(), then release it (.lock is the lock).",
     NULL},
    {"NotRecoverableError", NULL, {SHMKIT_ENOTRECOVERABLE},
     "The lock is unrecoverable (a dead holder's state was never repaired).", NULL},
    {"PeerDeadError", &PyExc_ConnectionResetError, {SHMKIT_EPEERDEAD},
     "The peer process died (killed, crashed).", NULL},
    {"ClosedError", &PyExc_EOFError, {SHMKIT_ECLOSED},
     "End of stream: the peer closed the channel.", NULL},
    {"TamperedError", NULL, {SHMKIT_ETAMPERED}, "The sealed payload was modified.", NULL},
    {"NotSealedError", NULL, {SHMKIT_ENOTSEALED}, "The segment is not sealed.", NULL},
    {"FormatError", NULL,
     {SHMKIT_ENOTSHMKIT, SHMKIT_EVERSION, SHMKIT_EBADHEADER, SHMKIT_ETRUNCATED, SHMKIT_ELAYOUT},
     "Not a shmkit segment, another version, a damaged header, or another layout.", NULL},
    {"CorruptError", NULL, {SHMKIT_ECORRUPT, SHMKIT_EPROTO},
     "A shared structure is corrupted, or a peer broke the protocol.", NULL},
    {"TooBigError", &PyExc_ValueError, {SHMKIT_ETOOBIG, -EMSGSIZE, SHMKIT_EBADSIZE},
     "A message or size too large (or invalid) for the channel, record or segment.", NULL},
    {"InvalidError", &PyExc_ValueError, {-EINVAL, SHMKIT_EBADNAME, SHMKIT_EBADKEY},
     "An invalid argument, name or key.", NULL},
    {"OutOfRangeError", &PyExc_IndexError, {-ERANGE}, "An index out of range.", NULL},
    {"BadHandleError", &PyExc_ValueError, {-EBADF},
     "The handle is closed, or read-only for a call that writes.", NULL},
    {"DroppedError", NULL, {-ENOLINK}, "This subscriber was dropped from the bus.", NULL},
    {"StaleError", NULL, {-ESTALE}, "A lossy bus overwrote the message while it was read.", NULL},
    {"GeometryError", NULL, {SHMKIT_EGEOMETRY},
     "The ring, bus or table exists with another geometry than the one asked for (capacity,\n"
     "max_msg, multi; slots, msg_max, max_subs, lossy; record size, count, type id). Nothing\n"
     "was changed and no role was taken (SHMKIT_EGEOMETRY).",
     NULL},
};

static PyObject *class_of(int code)
{
    for (size_t i = 0; i < sizeof excs / sizeof excs[0]; i++)
        for (int k = 0; excs[i].codes[k]; k++)
            if (excs[i].codes[k] == code)
                return excs[i].cls;
    return skp_Error;
}

static PyObject *raise_in(PyObject *cls, int code, const char *msg)
{
    PyObject *e = PyObject_CallFunction(cls, "is", code < 0 ? -code : code, msg);
    if (!e)
        return NULL;
    PyObject *c = PyLong_FromLong(code), *n = PyUnicode_FromString(shmkit_errname(code));
    if (c && n && PyObject_SetAttrString(e, "code", c) == 0 &&
        PyObject_SetAttrString(e, "name", n) == 0)
        PyErr_SetObject(cls, e);
    Py_XDECREF(c);
    Py_XDECREF(n);
    Py_DECREF(e);
    return NULL;
}

PyObject *skp_raise_msg(int code, const char *msg)
{
    return raise_in(class_of(code), code, msg);
}

PyObject *skp_raise(int code)
{
    return skp_raise_msg(code, shmkit_strerror(code));
}

PyObject *skp_closed(void)
{
    return skp_raise_msg(-EBADF, "handle is closed");
}

static PyObject *views_alive(void)
{
    return raise_in(skp_ViewsAliveError, -EBUSY,
                    "a memoryview (or numpy array) of this memory is still alive: release it");
}

/* ------------------------------------------------------------------ timeouts, blocking */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int skp_timeout(PyObject *o, int64_t *ns)
{
    if (!o || o == Py_None) {
        *ns = -1;
        return 0;
    }
    double d = PyFloat_AsDouble(o);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    if (d != d) {
        PyErr_SetString(PyExc_ValueError, "timeout is NaN");
        return -1;
    }
    if (d < 0)
        *ns = -1;
    else if (d > 9e9) /* ~285 years: no limit */
        *ns = -1;
    else
        *ns = (int64_t)(d * 1e9);
    return 0;
}

int skp_try_block(skp_fn fn, void *ctx, int64_t t)
{
    /* a message or room is usually there: take it without the GIL round trip */
    int rc = fn(ctx, 0);
    if (rc != -EAGAIN || t == 0)
        return rc;
    return skp_block(fn, ctx, t);
}

int skp_block(skp_fn fn, void *ctx, int64_t t)
{
    int64_t deadline = t > 0 ? now_ns() + t : 0;
    for (;;) {
        /* in slices: a handler that runs while the C call is not asleep in
         * the kernel (spinning, or between two of its own slices) is not
         * seen by it (SIGNALS in shmkit/sync.h), so Ctrl-C is looked for
         * at least once a slice */
        int64_t slice = t < 0 || t > SKP_JOIN_SLICE_NS ? SKP_JOIN_SLICE_NS : t;
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = fn(ctx, slice);
        Py_END_ALLOW_THREADS
        if (rc == -ETIMEDOUT && (t < 0 || t > slice))
            rc = -EINTR; /* the slice is over, the wait is not */
        if (rc != -EINTR)
            return rc;
        /* a handler ran: let Python's run (SIGINT -> KeyboardInterrupt) */
        if (PyErr_CheckSignals() < 0)
            return SKP_PYERR;
        if (t > 0) {
            int64_t left = deadline - now_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            t = left;
        }
    }
}

int skp_join_wait(skp_fn fn, void *ctx, int64_t t)
{
    if (t == 0)
        return skp_block(fn, ctx, 0);
    int64_t deadline = t > 0 ? now_ns() + t : 0;
    for (;;) {
        int64_t left = t < 0 ? SKP_JOIN_SLICE_NS : deadline - now_ns();
        if (left <= 0)
            return -ETIMEDOUT;
        int rc = skp_block(fn, ctx, left < SKP_JOIN_SLICE_NS ? left : SKP_JOIN_SLICE_NS);
        if (rc != -ETIMEDOUT)
            return rc;
        if (PyErr_CheckSignals() < 0)
            return SKP_PYERR;
    }
}

/* ------------------------------------------------------------------ message views */

static int view_getbuffer(PyObject *self, Py_buffer *b, int flags)
{
    skp_View *v = (skp_View *)self;
    if (!v->valid) {
        PyErr_SetString(PyExc_ValueError, "the message was released");
        return -1;
    }
    if (PyBuffer_FillInfo(b, self, v->ptr, v->len, v->readonly, flags) < 0)
        return -1;
    v->exports++;
    return 0;
}

static void view_releasebuffer(PyObject *self, Py_buffer *b)
{
    (void)b;
    ((skp_View *)self)->exports--;
}

static void view_dealloc(PyObject *self)
{
    skp_View *v = (skp_View *)self;
    if (v->backref && *v->backref == v)
        *v->backref = NULL;
    Py_XDECREF(v->owner);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs view_as_buffer = {view_getbuffer, view_releasebuffer};

PyTypeObject skp_ViewType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._View",
    .tp_basicsize = sizeof(skp_View),
    .tp_dealloc = view_dealloc,
    .tp_as_buffer = &view_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The exporter behind a message memoryview (internal).",
};

PyObject *skp_view_new(PyObject *owner, void *ptr, size_t len, int readonly, skp_View **slot,
                       PyObject **mvref)
{
    skp_View *v = PyObject_New(skp_View, &skp_ViewType);
    if (!v)
        return NULL;
    v->ptr = ptr;
    v->len = (Py_ssize_t)len;
    v->readonly = readonly;
    v->valid = 1;
    v->exports = 0;
    Py_INCREF(owner);
    v->owner = owner;
    v->backref = NULL;
    PyObject *mv = PyMemoryView_FromObject((PyObject *)v);
    Py_DECREF(v); /* the memoryview holds it now (or it is gone) */
    if (!mv)
        return NULL;
    PyObject *w = PyWeakref_NewRef(mv, NULL);
    if (!w) {
        Py_DECREF(mv);
        return NULL;
    }
    v->backref = slot;
    *slot = v;
    *mvref = w;
    return mv;
}

int skp_view_end(PyObject **mvref, skp_View **slot)
{
    if (*mvref) {
        PyObject *mv = PyWeakref_GetObject(*mvref); /* borrowed; None once dead */
        if (mv && mv != Py_None) {
            Py_INCREF(mv);
            PyObject *r = PyObject_CallMethod(mv, "release", NULL);
            Py_DECREF(mv);
            if (!r) {
                if (PyErr_ExceptionMatches(PyExc_BufferError)) {
                    PyErr_Clear();
                    views_alive();
                }
                return -1;
            }
            Py_DECREF(r);
        }
        Py_CLEAR(*mvref);
    }
    skp_View *v = *slot; /* NULL if it died with its last buffer */
    if (v) {
        if (v->exports > 0) { /* a slice of the memoryview, a numpy array of it */
            views_alive();
            return -1;
        }
        v->valid = 0; /* whoever still holds the exporter (mv.obj) gets no new buffer */
        v->backref = NULL;
        *slot = NULL;
    }
    return 0;
}

void skp_view_drop(PyObject **mvref, skp_View **slot)
{
    Py_CLEAR(*mvref);
    if (*slot) {
        (*slot)->valid = 0;
        (*slot)->backref = NULL;
        *slot = NULL;
    }
}

/* ------------------------------------------------------------------ options */

static const char *const kind_names[] = {NULL, "posix", "sysv", "anon", "memfd", "file"};

int skp_kind_of(PyObject *kind)
{
    if (!kind || kind == Py_None)
        return 0;
    if (PyLong_Check(kind)) {
        long k = PyLong_AsLong(kind);
        if (k >= SHMKIT_POSIX && k <= SHMKIT_FILE)
            return (int)k;
    } else if (PyUnicode_Check(kind)) {
        const char *s = PyUnicode_AsUTF8(kind);
        if (!s)
            return -1;
        for (int k = SHMKIT_POSIX; k <= SHMKIT_FILE; k++)
            if (!strcmp(s, kind_names[k]))
                return k;
    }
    PyErr_SetString(PyExc_ValueError, "kind must be 'posix', 'sysv', 'anon', 'memfd' or 'file'");
    return -1;
}

int skp_opts_from(PyObject *name, PyObject *kind, PyObject *mode, PyObject *key, PyObject *ftok,
                  int priv, struct shmkit_opts *o, PyObject *keep)
{
    int k = skp_kind_of(kind);
    if (k < 0)
        return -1;
    const char *n = NULL;
    if (name && name != Py_None) {
        PyObject *b = NULL;
        if (!PyUnicode_FSConverter(name, &b))
            return -1;
        if (PyList_Append(keep, b) < 0) {
            Py_DECREF(b);
            return -1;
        }
        Py_DECREF(b);
        n = PyBytes_AS_STRING(b);
    }
    int sysv = (key && key != Py_None) || (ftok && ftok != Py_None) || priv;
    if (k == 0) { /* inferred: "/name" is POSIX, another path a file, no name anonymous */
        if (sysv)
            k = SHMKIT_SYSV;
        else if (!n)
            k = SHMKIT_ANON;
        else if (n[0] == '/' && !strchr(n + 1, '/'))
            k = SHMKIT_POSIX;
        else
            k = SHMKIT_FILE;
    }
    o->kind = k;
    o->name = k == SHMKIT_SYSV ? NULL : n;
    if (mode && mode != Py_None) {
        long m = PyLong_AsLong(mode);
        if (m == -1 && PyErr_Occurred())
            return -1;
        if (m < 0 || m > 0777) {
            PyErr_SetString(PyExc_ValueError, "mode must be within 0..0o777");
            return -1;
        }
        o->mode = (mode_t)m;
    }
    if (key && key != Py_None) {
        if (PyUnicode_Check(key)) {
            int32_t kv;
            const char *s = PyUnicode_AsUTF8(key);
            if (!s)
                return -1;
            int rc = shmkit_parse_key(s, &kv);
            if (rc < 0) {
                skp_raise(rc);
                return -1;
            }
            o->key = kv;
        } else {
            long long kv = PyLong_AsLongLong(key);
            if (kv == -1 && PyErr_Occurred())
                return -1;
            if (kv < INT32_MIN || kv > 0xffffffffLL) {
                skp_raise(SHMKIT_EBADKEY);
                return -1;
            }
            o->key = (int32_t)(uint32_t)kv;
        }
    }
    if (ftok && ftok != Py_None) {
        PyObject *path = NULL;
        int proj = 0;
        if (!PyArg_ParseTuple(ftok, "O&i;ftok must be (path, proj)", PyUnicode_FSConverter,
                              &path, &proj))
            return -1;
        if (PyList_Append(keep, path) < 0) {
            Py_DECREF(path);
            return -1;
        }
        Py_DECREF(path);
        o->ftok_path = PyBytes_AS_STRING(path);
        o->ftok_proj = proj;
    }
    o->sysv_private = priv;
    return 0;
}

/* ------------------------------------------------------------------ Segment */

void *skp_seg_at(skp_Seg *s, Py_ssize_t off, size_t len, size_t align)
{
    if (!s->seg) {
        skp_closed();
        return NULL;
    }
    if (off < 0 || (size_t)off > (size_t)s->size || len > (size_t)s->size - (size_t)off) {
        skp_raise_msg(-ERANGE, "offset out of the payload");
        return NULL;
    }
    if (((uintptr_t)(s->data + off)) % align) {
        skp_raise_msg(-EINVAL, "offset not aligned for this structure");
        return NULL;
    }
    return s->data + off;
}

struct init_ctx {
    PyObject *fn;
    PyObject *exc_type, *exc_val, *exc_tb;
};

static int seg_init_cb(shmkit_seg *seg, void *arg)
{
    struct init_ctx *c = arg;
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = 0;
    skp_Seg *b = PyObject_New(skp_Seg, &skp_SegType);
    if (!b) {
        rc = -ENOMEM;
        goto fetch;
    }
    b->seg = seg;
    b->data = shmkit_seg_data(seg);
    b->size = (Py_ssize_t)shmkit_seg_size(seg);
    b->readonly = 0;
    b->borrowed = 1;
    b->exports = b->busy = 0;
    b->name = Py_None;
    Py_INCREF(Py_None);
    b->kind = 0;
    b->users = 0;
    b->dep = NULL;
    b->backref = NULL;
    PyObject *r = PyObject_CallOneArg(c->fn, (PyObject *)b);
    /* the borrowed handle dies with the call: locks made on it refuse to work afterwards */
    b->seg = NULL;
    b->data = NULL;
    Py_DECREF(b);
    if (r) {
        Py_DECREF(r);
        PyGILState_Release(g);
        return 0;
    }
    rc = -ECANCELED;
fetch:
    if (PyErr_Occurred() && !c->exc_type)
        PyErr_Fetch(&c->exc_type, &c->exc_val, &c->exc_tb);
    PyErr_Clear();
    PyGILState_Release(g);
    return rc;
}

struct open_ctx {
    shmkit_seg *seg;
    struct shmkit_opts *o;
};

static int open_fn(void *ctx, int64_t t)
{
    (void)t;
    struct open_ctx *c = ctx;
    return shmkit_open(&c->seg, c->o);
}

static int seg_init(PyObject *self, PyObject *args, PyObject *kw)
{
    skp_Seg *s = (skp_Seg *)self;
    static char *kwl[] = {"name", "size", "create", "exclusive", "verify", "readonly", "kind",
                          "raw", "mode", "key", "ftok", "private", "shmid", "persist",
                          "require_seal", "noreserve", "any_owner", "fd", "init", "cow",
                          "follow", "allow_unsealed", "init_wait", NULL};
    PyObject *name = Py_None, *kind = Py_None, *mode = Py_None, *key = Py_None, *ftok = Py_None,
             *init = Py_None, *shmid = Py_None, *init_wait = Py_None;
    Py_ssize_t size = 0;
    int create = 0, excl = 0, verify = 0, ro = 0, raw = 0, priv = 0, persist = 0, req = 0,
        norsv = 0, anyown = 0, fd = -1, cow = 0, follow = 0, unsealed = 0;
    if (s->seg) {
        PyErr_SetString(PyExc_RuntimeError, "Segment already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|OnppppOpOOOpOppppiOpppO", kwl, &name, &size,
                                     &create, &excl, &verify, &ro, &kind, &raw, &mode, &key, &ftok,
                                     &priv, &shmid, &persist, &req, &norsv, &anyown, &fd, &init,
                                     &cow, &follow, &unsealed, &init_wait))
        return -1;
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must be >= 0");
        return -1;
    }
    if (init != Py_None && !PyCallable_Check(init)) {
        PyErr_SetString(PyExc_TypeError, "init must be callable");
        return -1;
    }
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    struct shmkit_opts o;
    memset(&o, 0, sizeof o);
    int rc = -1;
    if (skp_opts_from(name, kind, mode, key, ftok, priv, &o, keep) < 0)
        goto out;
    o.size = (size_t)size;
    o.flags = (create ? SHMKIT_CREATE : 0) | (excl ? SHMKIT_EXCL : 0) |
              (verify ? SHMKIT_VERIFY : 0) | (ro ? SHMKIT_RDONLY : 0) | (raw ? SHMKIT_RAW : 0) |
              (persist ? SHMKIT_PERSIST : 0) | (req ? SHMKIT_REQUIRE_SEAL : 0) |
              (norsv ? SHMKIT_NORESERVE : 0) | (anyown ? SHMKIT_ANY_OWNER : 0) |
              (cow ? SHMKIT_PRIVATE : 0) | (follow ? SHMKIT_FOLLOW : 0) |
              (unsealed ? SHMKIT_ALLOW_UNSEALED : 0);
    if (shmid != Py_None) {
        int id = PyLong_AsLong(shmid);
        if (id == -1 && PyErr_Occurred())
            goto out;
        o.shmid = id;
        o.flags |= SHMKIT_SHMID;
        o.kind = SHMKIT_SYSV;
    }
    if (o.kind == SHMKIT_MEMFD)
        o.fd = create ? 0 : fd;
    if (init_wait != Py_None) {
        double w = PyFloat_AsDouble(init_wait);
        if (w == -1.0 && PyErr_Occurred())
            goto out;
        o.init_wait_ms = w <= 0 ? 1 : w > 4e6 ? 4000000000u : (uint32_t)(w * 1000);
    }
    struct init_ctx ic = {init, NULL, NULL, NULL};
    if (init != Py_None) {
        o.init = seg_init_cb;
        o.init_arg = &ic;
    }
    struct open_ctx oc = {NULL, &o};
    int r = skp_block(open_fn, &oc, -1);
    if (ic.exc_type) { /* the initialiser raised: that is the error */
        PyErr_Restore(ic.exc_type, ic.exc_val, ic.exc_tb);
        goto out;
    }
    if (r == SKP_PYERR)
        goto out;
    if (r < 0) {
        skp_raise(r);
        goto out;
    }
    s->seg = oc.seg;
    s->data = shmkit_seg_data(oc.seg);
    s->size = (Py_ssize_t)shmkit_seg_size(oc.seg);
    s->readonly = ro;
    s->kind = o.kind;
    Py_INCREF(name);
    Py_XSETREF(s->name, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static PyObject *seg_new(PyTypeObject *t, PyObject *a, PyObject *k)
{
    (void)a;
    (void)k;
    skp_Seg *s = (skp_Seg *)t->tp_alloc(t, 0);
    if (s) {
        s->name = Py_None;
        Py_INCREF(Py_None);
    }
    return (PyObject *)s;
}

static int seg_do_close(skp_Seg *s)
{
    if (!s->seg || s->borrowed)
        return 0;
    if (s->dep) {
        skp_raise_msg(-EINVAL, "this segment belongs to its channel: close the channel");
        return -1;
    }
    if (s->exports > 0) {
        views_alive();
        return -1;
    }
    if (s->busy > 0) {
        skp_raise_msg(-EBUSY, "another thread is using this segment");
        return -1;
    }
    if (s->users > 0) {
        skp_raise_msg(-EBUSY, "a channel made on this segment is still open: close it first");
        return -1;
    }
    int rc = shmkit_close(s->seg);
    s->seg = NULL;
    s->data = NULL;
    s->size = 0;
    if (rc < 0) {
        skp_raise(rc);
        return -1;
    }
    return 0;
}

static void seg_dealloc(PyObject *self)
{
    skp_Seg *s = (skp_Seg *)self;
    if (s->dep) { /* a channel's segment: the channel closes it */
        if (s->backref && *s->backref == s)
            *s->backref = NULL;
        Py_CLEAR(s->dep);
    } else if (s->seg && !s->borrowed) { /* exports == users == 0: each holds a reference */
        shmkit_close(s->seg);
    }
    Py_XDECREF(s->name);
    Py_TYPE(self)->tp_free(self);
}

PyObject *skp_seg_of_handle(PyObject *handle, shmkit_seg *seg, PyObject *name, int kind,
                            skp_Seg **slot)
{
    if (*slot) {
        Py_INCREF(*slot);
        return (PyObject *)*slot;
    }
    skp_Seg *s = (skp_Seg *)skp_SegType.tp_alloc(&skp_SegType, 0);
    if (!s)
        return NULL;
    s->seg = seg;
    s->data = shmkit_seg_data(seg);
    s->size = (Py_ssize_t)shmkit_seg_size(seg);
    s->kind = kind;
    s->name = name ? name : Py_None;
    Py_INCREF(s->name);
    Py_INCREF(handle);
    s->dep = handle; /* no cycle: the handle only keeps the borrowed *SLOT */
    s->backref = slot;
    *slot = s;
    return (PyObject *)s;
}

int skp_seg_detach(skp_Seg **slot)
{
    skp_Seg *s = *slot;
    if (!s)
        return 0;
    if (s->exports > 0) {
        views_alive();
        return -1;
    }
    if (s->busy > 0 || s->users > 0) {
        skp_raise_msg(-EBUSY, s->users > 0 ? "a channel made on its segment is still open"
                                           : "another thread is using its segment");
        return -1;
    }
    s->seg = NULL; /* closed: the channel unmaps it now */
    s->data = NULL;
    s->size = 0;
    s->backref = NULL; /* it still holds the handle until it dies; the handle forgets it */
    *slot = NULL;
    return 0;
}

int skp_seg_usable(PyObject *o)
{
    if (!PyObject_TypeCheck(o, &skp_SegType)) {
        PyErr_SetString(PyExc_TypeError, "a shmkit.Segment is needed");
        return -1;
    }
    skp_Seg *s = (skp_Seg *)o;
    if (!s->seg || s->borrowed) {
        skp_closed();
        return -1;
    }
    if (s->readonly) {
        skp_raise_msg(-EBADF, "segment is mapped read-only");
        return -1;
    }
    return 0;
}

static PyObject *seg_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (seg_do_close((skp_Seg *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

#define SEG_OPEN(s)                                                                                \
    do {                                                                                           \
        if (!(s)->seg)                                                                             \
            return skp_closed();                                                                   \
    } while (0)

static PyObject *seg_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    skp_Seg *s = (skp_Seg *)self;
    SEG_OPEN(s);
    int rc = shmkit_seg_remove(s->seg);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static int seal_fn(void *ctx, int64_t t)
{
    (void)t;
    return shmkit_seg_seal(ctx);
}

static int verify_fn(void *ctx, int64_t t)
{
    (void)t;
    return shmkit_seg_verify(ctx);
}

static PyObject *seg_run(skp_Seg *s, skp_fn fn)
{
    SEG_OPEN(s);
    s->busy++;
    int rc = skp_block(fn, s->seg, -1);
    s->busy--;
    if (rc == SKP_PYERR)
        return NULL;
    if (rc < 0)
        return skp_raise(rc);
    return NULL;
}

static PyObject *seg_seal(PyObject *self, PyObject *unused)
{
    (void)unused;
    skp_Seg *s = (skp_Seg *)self;
    if (s->exports > 0 && s->kind == SHMKIT_MEMFD) /* sealing a memfd remaps it read-only */
        return views_alive();
    if (s->dep || s->users > 0) /* its payload changes with every message */
        return skp_raise_msg(-EBUSY, "a channel lives in this segment: nothing to seal");
    if (!seg_run(s, seal_fn) && PyErr_Occurred())
        return NULL;
    if (s->seg) {
        s->data = shmkit_seg_data(s->seg);
        if (s->kind == SHMKIT_MEMFD) /* the kernel refuses writes now: so do the views */
            s->readonly = 1;
    }
    Py_RETURN_NONE;
}

static PyObject *seg_verify(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!seg_run((skp_Seg *)self, verify_fn) && PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static int put(PyObject *d, const char *k, PyObject *v)
{
    if (!v)
        return -1;
    int rc = PyDict_SetItemString(d, k, v);
    Py_DECREF(v);
    return rc;
}

static PyObject *seg_info(PyObject *self, PyObject *unused)
{
    (void)unused;
    skp_Seg *s = (skp_Seg *)self;
    SEG_OPEN(s);
    struct shmkit_info *in = PyMem_Malloc(sizeof *in);
    if (!in)
        return PyErr_NoMemory();
    int rc = shmkit_seg_stat(s->seg, in);
    if (rc < 0) {
        PyMem_Free(in);
        return skp_raise(rc);
    }
    PyObject *d = PyDict_New();
    if (d &&
        (put(d, "kind", PyUnicode_FromString(in->kind >= 1 && in->kind <= 5 ? kind_names[in->kind]
                                                                              : "?")) ||
         put(d, "name", PyUnicode_DecodeFSDefault(in->name)) ||
         put(d, "key", PyLong_FromLong(in->key)) || put(d, "shmid", PyLong_FromLong(in->shmid)) ||
         put(d, "size", PyLong_FromUnsignedLongLong(in->size)) ||
         put(d, "payload_size", PyLong_FromUnsignedLongLong(in->payload_size)) ||
         put(d, "mode", PyLong_FromUnsignedLong(in->mode)) ||
         put(d, "uid", PyLong_FromUnsignedLong(in->uid)) ||
         put(d, "gid", PyLong_FromUnsignedLong(in->gid)) ||
         put(d, "nattch", PyLong_FromLongLong(in->nattch)) ||
         put(d, "has_header", PyBool_FromLong(in->has_header)) ||
         put(d, "layout", PyUnicode_FromString(shmkit_layout_name(in->layout))) ||
         put(d, "creator_pid", PyLong_FromLong(in->creator_pid)) ||
         put(d, "creator_start", PyLong_FromUnsignedLongLong(in->creator_start)) ||
         put(d, "created", PyLong_FromLongLong(in->created)) ||
         put(d, "generation", PyLong_FromUnsignedLongLong(in->generation)) ||
         put(d, "sealed", PyBool_FromLong(in->sealed)) ||
         put(d, "seals", PyLong_FromUnsignedLong(in->seals)) ||
         put(d, "persistent", PyBool_FromLong(in->persistent)))) {
        Py_CLEAR(d);
    }
    PyMem_Free(in);
    return d;
}

static PyObject *seg_read(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"offset", "length", NULL};
    Py_ssize_t off = 0, n = -1;
    skp_Seg *s = (skp_Seg *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|nn", kwl, &off, &n))
        return NULL;
    SEG_OPEN(s);
    if (n < 0)
        n = off >= 0 && off <= s->size ? s->size - off : 0;
    char *p = skp_seg_at(s, off, (size_t)n, 1);
    return p ? PyBytes_FromStringAndSize(p, n) : NULL;
}

static PyObject *seg_write(PyObject *self, PyObject *args)
{
    Py_ssize_t off;
    Py_buffer b;
    skp_Seg *s = (skp_Seg *)self;
    if (!PyArg_ParseTuple(args, "ny*", &off, &b))
        return NULL;
    PyObject *r = NULL;
    char *p = skp_seg_at(s, off, (size_t)b.len, 1);
    if (p) {
        if (s->readonly)
            skp_raise_msg(-EBADF, "segment is mapped read-only");
        else {
            memmove(p, b.buf, (size_t)b.len);
            r = Py_None;
            Py_INCREF(r);
        }
    }
    PyBuffer_Release(&b);
    return r;
}

static PyObject *seg_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((skp_Seg *)self)->seg)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *seg_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (seg_do_close((skp_Seg *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *seg_get_size(PyObject *self, void *c)
{
    (void)c;
    return PyLong_FromSsize_t(((skp_Seg *)self)->size);
}
static PyObject *seg_get_closed(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(!((skp_Seg *)self)->seg);
}
static PyObject *seg_get_name(PyObject *self, void *c)
{
    (void)c;
    PyObject *n = ((skp_Seg *)self)->name;
    Py_INCREF(n);
    return n;
}
static PyObject *seg_get_kind(PyObject *self, void *c)
{
    (void)c;
    int k = ((skp_Seg *)self)->kind;
    if (k < 1 || k > 5)
        Py_RETURN_NONE;
    return PyUnicode_FromString(kind_names[k]);
}
static PyObject *seg_get_created(PyObject *self, void *c)
{
    (void)c;
    skp_Seg *s = (skp_Seg *)self;
    SEG_OPEN(s);
    return PyBool_FromLong(shmkit_seg_created(s->seg) == 1);
}
static PyObject *seg_get_readonly(PyObject *self, void *c)
{
    (void)c;
    return PyBool_FromLong(((skp_Seg *)self)->readonly);
}
static PyObject *seg_get_fd(PyObject *self, void *c)
{
    (void)c;
    skp_Seg *s = (skp_Seg *)self;
    SEG_OPEN(s);
    return PyLong_FromLong(shmkit_seg_fd(s->seg));
}

static int seg_getbuffer(PyObject *self, Py_buffer *b, int flags)
{
    skp_Seg *s = (skp_Seg *)self;
    if (!s->seg) {
        skp_closed();
        return -1;
    }
    if (s->borrowed) {
        PyErr_SetString(PyExc_BufferError,
                        "no buffer of a segment inside its initialiser: use seg.write()");
        return -1;
    }
    if (PyBuffer_FillInfo(b, self, s->data, s->size, s->readonly, flags) < 0)
        return -1;
    s->exports++;
    return 0;
}

static void seg_releasebuffer(PyObject *self, Py_buffer *b)
{
    (void)b;
    ((skp_Seg *)self)->exports--;
}

static Py_ssize_t seg_len(PyObject *self)
{
    return ((skp_Seg *)self)->size;
}

static PyObject *seg_repr(PyObject *self)
{
    skp_Seg *s = (skp_Seg *)self;
    return PyUnicode_FromFormat("<shmkit.Segment %R %s, %zd bytes%s>", s->name,
                                s->kind >= 1 && s->kind <= 5 ? kind_names[s->kind] : "?", s->size,
                                s->seg ? "" : ", closed");
}

static PyMethodDef seg_methods[] = {
    {"close", seg_close, METH_NOARGS,
     "close()\n\nUnmaps the segment (it stays in the system: see remove()). Raises\n"
     "ViewsAliveError while a memoryview or numpy array of it is alive. Idempotent."},
    {"remove", seg_remove, METH_NOARGS,
     "remove()\n\nRemoves the segment's name (shm_unlink, IPC_RMID, unlink) so no one new opens\n"
     "it; mappings stay valid. Never done implicitly."},
    {"seal", seg_seal, METH_NOARGS,
     "seal()\n\nRecords a checksum of the payload in the header (memfd: kernel seals too)."},
    {"verify", seg_verify, METH_NOARGS,
     "verify()\n\nRevalidates the header and a sealed payload. Raises TamperedError,\n"
     "NotSealedError, FormatError."},
    {"info", seg_info, METH_NOARGS, "info() -> dict\n\nWhat the system and the header know."},
    {"read", (PyCFunction)(void (*)(void))seg_read, METH_VARARGS | METH_KEYWORDS,
     "read(offset=0, length=-1) -> bytes\n\nA copy of payload bytes."},
    {"write", seg_write, METH_VARARGS,
     "write(offset, data)\n\nCopies DATA (any bytes-like object) into the payload at OFFSET."},
    {"__enter__", seg_enter, METH_NOARGS, NULL},
    {"__exit__", seg_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef seg_getset[] = {
    {"size", seg_get_size, NULL, "Payload bytes.", NULL},
    {"closed", seg_get_closed, NULL, "True once closed.", NULL},
    {"name", seg_get_name, NULL, "The name (or path) given at open.", NULL},
    {"kind", seg_get_kind, NULL, "'posix', 'sysv', 'anon', 'memfd' or 'file'.", NULL},
    {"created", seg_get_created, NULL, "True if this open created the segment.", NULL},
    {"readonly", seg_get_readonly, NULL, "Mapped read-only.", NULL},
    {"fd", seg_get_fd, NULL, "The backing descriptor (posix, memfd, file) or -1.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyBufferProcs seg_as_buffer = {seg_getbuffer, seg_releasebuffer};
static PySequenceMethods seg_as_seq = {.sq_length = seg_len};

PyTypeObject skp_SegType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit.Segment",
    .tp_basicsize = sizeof(skp_Seg),
    .tp_new = seg_new,
    .tp_init = seg_init,
    .tp_dealloc = seg_dealloc,
    .tp_repr = seg_repr,
    .tp_as_buffer = &seg_as_buffer,
    .tp_as_sequence = &seg_as_seq,
    .tp_methods = seg_methods,
    .tp_getset = seg_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Segment(name=None, size=0, create=False, exclusive=False, verify=False, readonly=False,\n"
        "        kind=None, raw=False, mode=None, key=None, ftok=None, private=False, shmid=None,\n"
        "        persist=False, require_seal=False, noreserve=False, any_owner=False, fd=-1,\n"
        "        init=None, cow=False, follow=False, allow_unsealed=False, init_wait=None)\n\n"
        "A shared memory segment of any kind, opened (create=True: created if missing) as\n"
        "shmkit_open does. The payload is exposed through the buffer protocol: memoryview(seg),\n"
        "numpy.frombuffer(seg, ...) - no copy. close() unmaps (refused while a view lives);\n"
        "remove() removes the name; nothing is ever removed implicitly.\n\n"
        "kind: 'posix' (name '/x'), 'sysv' (key=, ftok=(path, proj), private=True, shmid=),\n"
        "'anon' (shared across fork), 'memfd', 'file' (a path); inferred when None.\n"
        "init: a callable run once on a segment this call creates, before any other process\n"
        "can open it; it gets a temporary Segment (write(), Mutex(seg, init=True), ...).",
};

/* ------------------------------------------------------------------ module functions */

static PyObject *m_strerror(PyObject *m, PyObject *a)
{
    (void)m;
    int c = PyLong_AsLong(a);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(shmkit_strerror(c));
}

static PyObject *m_errname(PyObject *m, PyObject *a)
{
    (void)m;
    int c = PyLong_AsLong(a);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(shmkit_errname(c));
}

static PyObject *m_raise(PyObject *m, PyObject *a)
{
    (void)m;
    int c = PyLong_AsLong(a);
    if (c == -1 && PyErr_Occurred())
        return NULL;
    return skp_raise(c);
}

static PyObject *m_remove(PyObject *m, PyObject *a)
{
    (void)m;
    PyObject *b = NULL;
    if (!PyUnicode_FSConverter(a, &b))
        return NULL;
    int rc = shmkit_posix_remove(PyBytes_AS_STRING(b));
    Py_DECREF(b);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *m_sysv_remove(PyObject *m, PyObject *a)
{
    (void)m;
    int id = PyLong_AsLong(a);
    if (id == -1 && PyErr_Occurred())
        return NULL;
    int rc = shmkit_sysv_remove(id);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *m_owner_alive(PyObject *m, PyObject *args)
{
    (void)m;
    struct shmkit_owner o = {0, 0, 0};
    unsigned long long start = 0;
    if (!PyArg_ParseTuple(args, "i|K", &o.pid, &start))
        return NULL;
    o.start = start;
    if (!start && o.pid > 0 && shmkit_owner_of(o.pid, &o) < 0)
        Py_RETURN_FALSE;
    return PyBool_FromLong(shmkit_owner_alive(&o));
}

static PyObject *m_ring_size_for(PyObject *m, PyObject *a)
{
    (void)m;
    size_t c = PyLong_AsSize_t(a);
    if (c == (size_t)-1 && PyErr_Occurred())
        return NULL;
    return PyLong_FromSize_t(shmkit_ring_size_for(c));
}

static PyObject *m_crc32c(PyObject *m, PyObject *args)
{
    (void)m;
    Py_buffer b;
    unsigned int crc = 0;
    if (!PyArg_ParseTuple(args, "y*|I", &b, &crc))
        return NULL;
    uint32_t r = shmkit_crc32c(crc, b.buf, (size_t)b.len);
    PyBuffer_Release(&b);
    return PyLong_FromUnsignedLong(r);
}

static PyObject *m_parse_size(PyObject *m, PyObject *a)
{
    (void)m;
    const char *s = PyUnicode_AsUTF8(a);
    if (!s)
        return NULL;
    uint64_t v;
    int rc = shmkit_parse_size(s, &v);
    if (rc < 0)
        return skp_raise(rc);
    return PyLong_FromUnsignedLongLong(v);
}

static PyMethodDef module_methods[] = {
    {"strerror", m_strerror, METH_O, "strerror(code) -> str: the message of a library code."},
    {"errname", m_errname, METH_O, "errname(code) -> str: 'SHMKIT_ETAMPERED', 'ENOENT', ..."},
    {"raise_code", m_raise, METH_O, "raise_code(code): raises the exception shmkit maps CODE to."},
    {"remove", m_remove, METH_O, "remove(name): removes a POSIX segment by name (shm_unlink)."},
    {"sysv_remove", m_sysv_remove, METH_O, "sysv_remove(shmid): IPC_RMID."},
    {"owner_alive", m_owner_alive, METH_VARARGS,
     "owner_alive(pid, start=0) -> bool: is the process (pid + start time) alive?"},
    {"ring_size_for", m_ring_size_for, METH_O,
     "ring_size_for(capacity) -> int: payload bytes a ring of CAPACITY data bytes needs."},
    {"crc32c", m_crc32c, METH_VARARGS, "crc32c(data, crc=0) -> int: CRC-32C."},
    {"parse_size", m_parse_size, METH_O, "parse_size('4K') -> 4096."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "shmkit._shmkit", "shmkit's native core (see the shmkit package).", -1,
    module_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__shmkit(void)
{
    static int atfork_done;
    if (!atfork_done) { /* once per process, whatever re-imports the module */
        int e = pthread_atfork(NULL, NULL, fork_child);
        if (e) {
            errno = e;
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        atfork_done = 1;
    }
    PyObject *m = PyModule_Create(&module);
    if (!m)
        return NULL;
    skp_Error = PyErr_NewExceptionWithDoc(
        "shmkit.Error",
        "Base of every exception shmkit raises. An OSError: .code is the library's (negative)\n"
        "code, .name its symbolic name ('SHMKIT_ETAMPERED', 'ENOENT'), .errno its magnitude.",
        PyExc_OSError, NULL);
    if (!skp_Error || PyModule_AddObjectRef(m, "Error", skp_Error) < 0)
        goto fail;
    for (size_t i = 0; i < sizeof excs / sizeof excs[0]; i++) {
        char q[80];
        snprintf(q, sizeof q, "shmkit.%s", excs[i].name);
        PyObject *bases = excs[i].builtin ? PyTuple_Pack(2, skp_Error, *excs[i].builtin)
                                          : PyTuple_Pack(1, skp_Error);
        if (!bases)
            goto fail;
        excs[i].cls = PyErr_NewExceptionWithDoc(q, excs[i].doc, bases, NULL);
        Py_DECREF(bases);
        if (!excs[i].cls || PyModule_AddObjectRef(m, excs[i].name, excs[i].cls) < 0)
            goto fail;
        if (!strcmp(excs[i].name, "ViewsAliveError"))
            skp_ViewsAliveError = excs[i].cls;
        if (!strcmp(excs[i].name, "OwnerDeadError"))
            skp_OwnerDeadError = excs[i].cls;
        if (!strcmp(excs[i].name, "ClosedError"))
            skp_ClosedError = excs[i].cls;
    }
    if (PyType_Ready(&skp_ViewType) < 0 || PyType_Ready(&skp_SegType) < 0 ||
        PyModule_AddObjectRef(m, "Segment", (PyObject *)&skp_SegType) < 0 || skp_add_types(m) < 0 ||
        skp_add_rpc_types(m) < 0)
        goto fail;
#define SKP__ERRCONST(name, n, msg)                                                                \
    if (PyModule_AddIntConstant(m, "E" #name, SHMKIT_E##name) < 0)                                 \
        goto fail;
    SHMKIT_ERRORS(SKP__ERRCONST)
#undef SKP__ERRCONST
    if (PyModule_AddIntConstant(m, "HEADER_SIZE", SHMKIT_HEADER_SIZE) < 0 ||
        PyModule_AddIntConstant(m, "MUTEX_SIZE", sizeof(struct shmkit_mutex)) < 0 ||
        PyModule_AddIntConstant(m, "RWLOCK_SIZE", sizeof(struct shmkit_rwlock)) < 0 ||
        PyModule_AddIntConstant(m, "SEQLOCK_SIZE", sizeof(struct shmkit_seqlock)) < 0 ||
        PyModule_AddIntConstant(m, "RING_MIN_CAP", SHMKIT_RING_MIN_CAP) < 0 ||
        PyModule_AddStringConstant(m, "LIB_VERSION", shmkit_version()) < 0)
        goto fail;
    return m;
fail:
    Py_DECREF(m);
    return NULL;
}
