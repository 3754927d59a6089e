/*
 * _chan.c - Ring, Bus (publisher) and Subscriber: named channels from Python.
 *
 * Create-or-attach is built on the existing calls: shmkit_open with SHMKIT_CREATE, then the
 * process that created the segment lays the channel out (shmkit_ring_create /
 * shmkit_bus_create) and the others attach, polling while the segment is missing (when
 * asked to wait) or still holds plain bytes (its creator has not laid it out yet). When
 * the one-call shmkit_*_join constructors land, attach_try is the one place to change.
 */
#include "_shmkit.h"

#include <errno.h>
#include <string.h>
#include <time.h>

/* The attach loop's "not there yet, poll again" (never returned to Python). */
#define NOT_YET (-EINPROGRESS)

struct attach {
    struct shmkit_opts o;
    int create;
    shmkit_seg *seg;
    void *h;                                   /* the ring / bus / sub handle */
    int (*make)(struct attach *a);             /* lay out a segment this call created */
    int (*join)(struct attach *a);             /* attach to an existing one */
    uint32_t layout;                           /* SHMKIT_LAYOUT_RING or _BUS */
    size_t cap, slots, msg_max;
    unsigned flags, max_subs;
    int64_t first_corrupt;                     /* when a fresh control block looked corrupt */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One attempt, without the GIL. */
static int attach_try(void *ctx, int64_t t)
{
    (void)t;
    struct attach *a = ctx;
    int rc;
    if (!a->seg && (rc = shmkit_open(&a->seg, &a->o)) < 0)
        return rc;
    if (a->create && shmkit_seg_created(a->seg) == 1)
        return a->make(a);
    rc = a->join(a);
    if (rc == SHMKIT_ELAYOUT) {
        uint64_t p;
        /* plain bytes: its creator has not laid the channel out yet */
        struct shmkit_info *in = malloc(sizeof *in);
        if (!in)
            return -ENOMEM;
        int st = shmkit_seg_stat(a->seg, in);
        int bytes = st == 0 && in->has_header && in->layout == SHMKIT_LAYOUT_BYTES;
        free(in);
        (void)p;
        return bytes ? NOT_YET : rc;
    }
    if (rc == SHMKIT_ECORRUPT) { /* a control block being written: give it 100 ms */
        int64_t now = mono_ns();
        if (!a->first_corrupt)
            a->first_corrupt = now;
        return now - a->first_corrupt < 100000000 ? NOT_YET : rc;
    }
    return rc;
}

/* Attaches (or creates) within TIMEOUT (polling with a backoff from 100 us to 10 ms).
 * 0, a library code, or SKP_PYERR. The segment stays open in a->seg on success. */
static int attach_wait(struct attach *a, int64_t timeout)
{
    int64_t deadline = timeout > 0 ? mono_ns() + timeout : 0, nap = 100000;
    for (;;) {
        int rc = skp_block(attach_try, a, 0);
        if (rc == SKP_PYERR || rc >= 0)
            return rc;
        int retry = rc == NOT_YET || (rc == -ENOENT && !a->seg);
        if (!retry)
            return rc;
        if (timeout == 0)
            return rc == NOT_YET ? -EAGAIN : rc;
        if (timeout > 0 && mono_ns() >= deadline)
            return rc == NOT_YET ? -ETIMEDOUT : rc;
        struct timespec ts = {0, (long)nap};
        Py_BEGIN_ALLOW_THREADS
        nanosleep(&ts, NULL);
        Py_END_ALLOW_THREADS
        if (PyErr_CheckSignals() < 0)
            return SKP_PYERR;
        nap = nap * 2 > 10000000 ? 10000000 : nap * 2;
    }
}

static void attach_fail(struct attach *a)
{
    if (a->seg)
        shmkit_close(a->seg);
    a->seg = NULL;
}

/* Keyword arguments every channel takes to find its segment. */
#define WHERE_KW "kind", "mode", "key", "ftok", "private"
struct where {
    PyObject *kind, *mode, *key, *ftok;
    int priv;
};

/* ================================================================== Ring */

typedef struct {
    PyObject_HEAD
    shmkit_ring *r;
    shmkit_seg *seg;
    int producer;
    int busy;
    int open_msg;   /* reserve or peek outstanding */
    size_t msg_len; /* its length */
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
} RingObj;

static int ring_make(struct attach *a)
{
    return shmkit_ring_create((shmkit_ring **)&a->h, a->seg, a->cap, a->flags & ~SHMKIT_RING_TAKEOVER);
}

static int ring_join(struct attach *a)
{
    return shmkit_ring_attach((shmkit_ring **)&a->h, a->seg, a->flags & ~SHMKIT_RING_MULTI);
}

static size_t cap_for_msg(size_t max_msg)
{
    size_t c = SHMKIT_RING_MIN_CAP;
    while (c / 2 - 16 < max_msg && c < ((size_t)1 << 40))
        c *= 2;
    return c;
}

static int ring_init(PyObject *self, PyObject *args, PyObject *kw)
{
    RingObj *r = (RingObj *)self;
    static char *kwl[] = {"name", "role", "create", "capacity", "max_msg", "multi", "takeover",
                          "timeout", "spin", WHERE_KW, NULL};
    PyObject *name, *timeout = Py_None, *spin = Py_None;
    const char *role = "producer";
    Py_ssize_t cap = 0, max_msg = 0;
    int create = 0, multi = 0, takeover = 0;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (r->r) {
        PyErr_SetString(PyExc_RuntimeError, "Ring already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|s$pnnppOOOOOOp", kwl, &name, &role, &create,
                                     &cap, &max_msg, &multi, &takeover, &timeout, &spin, &w.kind,
                                     &w.mode, &w.key, &w.ftok, &w.priv))
        return -1;
    int producer = !strcmp(role, "producer");
    if (!producer && strcmp(role, "consumer")) {
        PyErr_SetString(PyExc_ValueError, "role must be 'producer' or 'consumer'");
        return -1;
    }
    if (cap < 0 || max_msg < 0) {
        PyErr_SetString(PyExc_ValueError, "capacity and max_msg must be >= 0");
        return -1;
    }
    int64_t tmo;
    if (skp_timeout(timeout, &tmo) < 0)
        return -1;
    if (timeout == Py_None)
        tmo = 0; /* attach: try once unless asked to wait */
    struct attach a;
    memset(&a, 0, sizeof a);
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (skp_opts_from(name, w.kind, w.mode, w.key, w.ftok, w.priv, &a.o, keep) < 0)
        goto out;
    a.cap = cap ? (size_t)cap : cap_for_msg(max_msg ? (size_t)max_msg : 65536 / 2 - 16);
    if (cap && max_msg && (size_t)cap / 2 - 16 < (size_t)max_msg) {
        skp_raise_msg(SHMKIT_ETOOBIG, "capacity too small for max_msg");
        goto out;
    }
    a.create = create;
    a.flags = (producer ? SHMKIT_RING_PRODUCER : SHMKIT_RING_CONSUMER) |
              (multi ? SHMKIT_RING_MULTI : 0) | (takeover ? SHMKIT_RING_TAKEOVER : 0);
    if (create) {
        a.o.flags |= SHMKIT_CREATE;
        a.o.size = shmkit_ring_size_for(a.cap);
        if (!a.o.size) {
            skp_raise_msg(-EINVAL, "capacity must be a power of two >= 256");
            goto out;
        }
    }
    a.make = ring_make;
    a.join = ring_join;
    int e = attach_wait(&a, tmo);
    if (e == SKP_PYERR || e < 0) {
        attach_fail(&a);
        if (e != SKP_PYERR)
            skp_raise(e);
        goto out;
    }
    if (max_msg && shmkit_ring_max_msg(a.h) < (size_t)max_msg) {
        shmkit_ring_close(a.h);
        attach_fail(&a);
        skp_raise_msg(SHMKIT_ETOOBIG, "the existing ring's max_msg is smaller than asked");
        goto out;
    }
    r->r = a.h;
    r->seg = a.seg;
    r->producer = producer;
    if (spin != Py_None) {
        int64_t s;
        if (skp_timeout(spin, &s) == 0)
            shmkit_ring_set_spin(r->r, s);
        else
            PyErr_Clear();
    }
    Py_INCREF(name);
    Py_XSETREF(r->name, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static int ring_end_msg(RingObj *r)
{
    return skp_view_end(&r->mv, &r->view);
}

static int ring_do_close(RingObj *r)
{
    if (!r->r)
        return 0;
    if (r->busy) {
        skp_raise_msg(-EBUSY, "another thread is using this ring");
        return -1;
    }
    if (ring_end_msg(r) < 0)
        return -1;
    shmkit_ring_close(r->r); /* drops an open reservation; a peeked message stays queued */
    shmkit_close(r->seg);
    r->r = NULL;
    r->seg = NULL;
    r->open_msg = 0;
    return 0;
}

static void ring_dealloc(PyObject *self)
{
    RingObj *r = (RingObj *)self;
    /* views hold a reference to the ring: none can be alive here */
    skp_view_drop(&r->mv, &r->view); /* none alive: a view keeps its handle alive */
    if (r->r) {
        shmkit_ring_close(r->r);
        shmkit_close(r->seg);
    }
    Py_XDECREF(r->name);
    Py_TYPE(self)->tp_free(self);
}

#define RING_OPEN(r)                                                                               \
    do {                                                                                           \
        if (!(r)->r)                                                                               \
            return skp_closed();                                                                   \
        if ((r)->busy)                                                                             \
            return skp_raise_msg(-EBUSY, "another thread is using this ring");                    \
    } while (0)

static PyObject *role_error(const char *what)
{
    return skp_raise_msg(-EINVAL, what);
}

struct rcall {
    shmkit_ring *r;
    const void *buf;
    size_t len;
    void *p;
    const void *cp;
};

static int send_fn(void *ctx, int64_t t)
{
    struct rcall *c = ctx;
    return shmkit_ring_send(c->r, c->buf, c->len, t);
}

static int reserve_fn(void *ctx, int64_t t)
{
    struct rcall *c = ctx;
    return shmkit_ring_reserve(c->r, c->len, &c->p, t);
}

static int peek_fn(void *ctx, int64_t t)
{
    struct rcall *c = ctx;
    return shmkit_ring_peek(c->r, &c->cp, &c->len, t);
}

static int ring_blocking(RingObj *r, skp_fn fn, struct rcall *c, int64_t t)
{
    r->busy = 1;
    int rc = skp_try_block(fn, c, t);
    r->busy = 0;
    if (rc == SKP_PYERR)
        return -1;
    if (rc < 0) {
        skp_raise(rc);
        return -1;
    }
    return rc;
}

static PyObject *ring_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"data", "timeout", NULL};
    RingObj *r = (RingObj *)self;
    Py_buffer b;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O", kwl, &b, &timeout))
        return NULL;
    PyObject *res = NULL;
    int64_t t;
    if (!r->r)
        skp_closed();
    else if (r->busy)
        skp_raise_msg(-EBUSY, "another thread is using this ring");
    else if (!r->producer)
        role_error("send on a consumer");
    else if (r->open_msg)
        role_error("a reservation is open: commit or cancel it first");
    else if (skp_timeout(timeout, &t) == 0) {
        struct rcall c = {r->r, b.buf, (size_t)b.len, NULL, NULL};
        if (ring_blocking(r, send_fn, &c, t) >= 0) {
            res = Py_None;
            Py_INCREF(res);
        }
    }
    PyBuffer_Release(&b);
    return res;
}

/* peek with the GIL released; returns 0 with *P and *N set, or -1 with an exception */
static int ring_peek_raw(RingObj *r, PyObject *timeout, const void **p, size_t *n)
{
    int64_t t;
    if (!r->r) {
        skp_closed();
        return -1;
    }
    if (r->busy) {
        skp_raise_msg(-EBUSY, "another thread is using this ring");
        return -1;
    }
    if (r->producer) {
        role_error("receive on a producer");
        return -1;
    }
    if (r->open_msg) {
        role_error("a peeked message is open: release it first");
        return -1;
    }
    if (skp_timeout(timeout, &t) < 0)
        return -1;
    struct rcall c = {r->r, NULL, 0, NULL, NULL};
    if (ring_blocking(r, peek_fn, &c, t) < 0)
        return -1;
    *p = c.cp;
    *n = c.len;
    return 0;
}

static PyObject *ring_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    RingObj *r = (RingObj *)self;
    const void *p;
    size_t n;
    if (ring_peek_raw(r, timeout, &p, &n) < 0)
        return NULL;
    PyObject *b = PyBytes_FromStringAndSize(p, (Py_ssize_t)n);
    if (b) /* released only once copied: a failure leaves it queued */
        shmkit_ring_release(r->r);
    return b;
}

static PyObject *ring_recv_into(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"buffer", "timeout", NULL};
    Py_buffer b;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "w*|O", kwl, &b, &timeout))
        return NULL;
    RingObj *r = (RingObj *)self;
    const void *p;
    size_t n;
    PyObject *res = NULL;
    if (ring_peek_raw(r, timeout, &p, &n) == 0) {
        if (n > (size_t)b.len)
            skp_raise(-EMSGSIZE); /* stays queued */
        else {
            memcpy(b.buf, p, n);
            shmkit_ring_release(r->r);
            res = PyLong_FromSize_t(n);
        }
    }
    PyBuffer_Release(&b);
    return res;
}

static PyObject *ring_reserve(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"size", "timeout", NULL};
    Py_ssize_t n;
    PyObject *timeout = Py_None;
    RingObj *r = (RingObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O", kwl, &n, &timeout))
        return NULL;
    RING_OPEN(r);
    if (!r->producer)
        return role_error("reserve on a consumer");
    if (r->open_msg)
        return role_error("a reservation is open: commit or cancel it first");
    if (n < 0)
        return skp_raise_msg(-EINVAL, "size must be >= 0");
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct rcall c = {r->r, NULL, (size_t)n, NULL, NULL};
    if (ring_blocking(r, reserve_fn, &c, t) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, c.p, (size_t)n, 0, &r->view, &r->mv);
    if (!mv) {
        shmkit_ring_cancel(r->r);
        return NULL;
    }
    r->open_msg = 1;
    r->msg_len = (size_t)n;
    return mv;
}

static PyObject *ring_commit(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"length", NULL};
    PyObject *lo = Py_None;
    RingObj *r = (RingObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &lo))
        return NULL;
    RING_OPEN(r);
    if (!r->producer || !r->open_msg)
        return role_error("nothing reserved");
    size_t n = r->msg_len;
    if (lo != Py_None) {
        Py_ssize_t v = PyLong_AsSsize_t(lo);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v < 0 || (size_t)v > r->msg_len)
            return skp_raise_msg(-EINVAL, "length beyond the reservation");
        n = (size_t)v;
    }
    if (ring_end_msg(r) < 0)
        return NULL;
    r->open_msg = 0;
    int rc = shmkit_ring_commit(r->r, n);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *ring_cancel(PyObject *self, PyObject *unused)
{
    (void)unused;
    RingObj *r = (RingObj *)self;
    RING_OPEN(r);
    if (!r->producer || !r->open_msg)
        return role_error("nothing reserved");
    if (ring_end_msg(r) < 0)
        return NULL;
    r->open_msg = 0;
    shmkit_ring_cancel(r->r);
    Py_RETURN_NONE;
}

static PyObject *ring_peek(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    RingObj *r = (RingObj *)self;
    const void *p;
    size_t n;
    if (ring_peek_raw(r, timeout, &p, &n) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, (void *)p, n, 1, &r->view, &r->mv);
    if (!mv)
        return NULL; /* stays queued: the next peek returns it again */
    r->open_msg = 1;
    r->msg_len = n;
    return mv;
}

static PyObject *ring_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    RingObj *r = (RingObj *)self;
    RING_OPEN(r);
    if (r->producer || !r->open_msg)
        return role_error("nothing peeked");
    if (ring_end_msg(r) < 0)
        return NULL;
    r->open_msg = 0;
    shmkit_ring_release(r->r);
    Py_RETURN_NONE;
}

static PyObject *ring_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (ring_do_close((RingObj *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *ring_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    RingObj *r = (RingObj *)self;
    if (!r->r)
        return skp_closed();
    int rc = shmkit_seg_remove(r->seg);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *stats_dict(shmkit_seg *seg)
{
    struct shmkit_chan_stats st;
    int rc = shmkit_chan_stats(seg, &st);
    if (rc < 0)
        return skp_raise(rc);
    return Py_BuildValue(
        "{s:s,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:i,s:O,s:i,s:O,s:I,s:I,s:I}", "layout",
        shmkit_layout_name(st.layout), "capacity", (unsigned long long)st.capacity, "msg_max",
        (unsigned long long)st.msg_max, "used", (unsigned long long)st.used, "msgs_in",
        (unsigned long long)st.msgs_in, "bytes_in", (unsigned long long)st.bytes_in, "msgs_out",
        (unsigned long long)st.msgs_out, "bytes_out", (unsigned long long)st.bytes_out, "waits",
        (unsigned long long)st.waits, "wakes", (unsigned long long)st.wakes, "overruns",
        (unsigned long long)st.overruns, "takeovers", (unsigned long long)st.takeovers,
        "writer_pid", st.writer_pid, "writer_alive", st.writer_alive ? Py_True : Py_False,
        "reader_pid", st.reader_pid, "reader_alive", st.reader_alive ? Py_True : Py_False,
        "writers", st.writers, "readers", st.readers, "max_readers", st.max_readers);
}

static PyObject *ring_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    RingObj *r = (RingObj *)self;
    if (!r->r)
        return skp_closed();
    return stats_dict(r->seg);
}

static PyObject *ring_iternext(PyObject *self)
{
    PyObject *none = PyTuple_New(0);
    if (!none)
        return NULL;
    PyObject *b = ring_recv(self, none, NULL);
    Py_DECREF(none);
    if (!b && PyErr_ExceptionMatches(skp_ClosedError)) { /* end of stream: StopIteration */
        PyErr_Clear();
        return NULL;
    }
    return b;
}

static PyObject *self_iter(PyObject *self)
{
    Py_INCREF(self);
    return self;
}

static PyObject *ring_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((RingObj *)self)->r)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *ring_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (ring_do_close((RingObj *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *ring_get(PyObject *self, void *what)
{
    RingObj *r = (RingObj *)self;
    const char *w = what;
    if (!strcmp(w, "role"))
        return PyUnicode_FromString(r->producer ? "producer" : "consumer");
    if (!strcmp(w, "closed"))
        return PyBool_FromLong(!r->r);
    if (!strcmp(w, "name")) {
        Py_INCREF(r->name ? r->name : Py_None);
        return r->name ? r->name : Py_None;
    }
    if (!r->r)
        return skp_closed();
    if (!strcmp(w, "capacity"))
        return PyLong_FromSize_t(shmkit_ring_capacity(r->r));
    if (!strcmp(w, "created"))
        return PyBool_FromLong(shmkit_seg_created(r->seg) == 1);
    return PyLong_FromSize_t(shmkit_ring_max_msg(r->r));
}

static PyObject *ring_set_spin(PyObject *self, PyObject *a)
{
    RingObj *r = (RingObj *)self;
    int64_t s;
    if (!r->r)
        return skp_closed();
    if (skp_timeout(a, &s) < 0)
        return NULL;
    shmkit_ring_set_spin(r->r, s);
    Py_RETURN_NONE;
}

#define KW(f) (PyCFunction)(void (*)(void))(f), METH_VARARGS | METH_KEYWORDS

static PyMethodDef ring_methods[] = {
    {"send", KW(ring_send),
     "send(data, timeout=None)\n\nCopies DATA (bytes-like) in as one message. Waits for room up\n"
     "to TIMEOUT seconds (None: no limit, 0: try once)."},
    {"recv", KW(ring_recv), "recv(timeout=None) -> bytes\n\nThe next message (a copy)."},
    {"recv_into", KW(ring_recv_into),
     "recv_into(buffer, timeout=None) -> int\n\nCopies the next message into BUFFER."},
    {"reserve", KW(ring_reserve),
     "reserve(size, timeout=None) -> memoryview\n\nZero-copy send: a writable view of SIZE bytes\n"
     "in the ring; fill it, then commit(). The view raises ValueError after commit/cancel."},
    {"commit", KW(ring_commit), "commit(length=None)\n\nPublishes the reserved message."},
    {"cancel", ring_cancel, METH_NOARGS, "cancel()\n\nDrops the reservation."},
    {"peek", KW(ring_peek),
     "peek(timeout=None) -> memoryview\n\nZero-copy receive: a read-only view of the next message,\n"
     "valid until release() (then it raises ValueError)."},
    {"release", ring_release, METH_NOARGS, "release()\n\nFrees the peeked message."},
    {"close", ring_close, METH_NOARGS,
     "close()\n\nDetaches (the peer sees end of stream: ClosedError / the end of iteration)."},
    {"remove", ring_remove, METH_NOARGS, "remove()\n\nRemoves the segment's name."},
    {"stats", ring_stats, METH_NOARGS, "stats() -> dict\n\nThe ring's counters (shmkit watch)."},
    {"set_spin", ring_set_spin, METH_O, "set_spin(seconds)\n\nSpin time before sleeping."},
    {"__enter__", ring_enter, METH_NOARGS, NULL},
    {"__exit__", ring_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ring_getset[] = {
    {"role", ring_get, NULL, "'producer' or 'consumer'.", "role"},
    {"closed", ring_get, NULL, "True once closed.", "closed"},
    {"name", ring_get, NULL, "The segment's name.", "name"},
    {"capacity", ring_get, NULL, "Data bytes.", "capacity"},
    {"max_msg", ring_get, NULL, "Largest message.", "max_msg"},
    {"created", ring_get, NULL, "True if this process created the ring.", "created"},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject skp_RingType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._Ring",
    .tp_basicsize = sizeof(RingObj),
    .tp_new = PyType_GenericNew,
    .tp_init = ring_init,
    .tp_dealloc = ring_dealloc,
    .tp_iter = self_iter,
    .tp_iternext = ring_iternext,
    .tp_methods = ring_methods,
    .tp_getset = ring_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "Ring(name, role='producer', *, create=False, capacity=0, max_msg=0, multi=False,\n"
        "     takeover=False, timeout=None, spin=None, kind=None, mode=None, key=None,\n"
        "     ftok=None, private=False)\n\n"
        "A shmkit ring (one consumer, one producer or several with multi=True) in a named\n"
        "segment. create=True creates it if missing (capacity: data bytes, a power of two;\n"
        "or max_msg: the largest message; default 64 KiB) and attaches otherwise; timeout:\n"
        "how long to wait for another process to create it (None: try once).\n"
        "Copying: send(data), recv() -> bytes, `for msg in ring:` (ends when every producer\n"
        "closed). Zero-copy: reserve(n) -> memoryview, commit(); peek() -> memoryview,\n"
        "release(). Every wait releases the GIL; Ctrl-C raises KeyboardInterrupt.",
};

/* ================================================================== Bus (publisher) */

typedef struct {
    PyObject_HEAD
    shmkit_bus *b;
    shmkit_seg *seg;
    int busy;
    int open_msg;
    size_t msg_len;
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
} BusObj;

static int bus_make(struct attach *a)
{
    return shmkit_bus_create((shmkit_bus **)&a->h, a->seg, a->slots, a->msg_max, a->max_subs,
                             a->flags);
}

static int bus_join(struct attach *a)
{
    return shmkit_bus_attach((shmkit_bus **)&a->h, a->seg);
}

static int bus_init(PyObject *self, PyObject *args, PyObject *kw)
{
    BusObj *b = (BusObj *)self;
    static char *kwl[] = {"name", "create", "slots", "msg_max", "max_subs", "lossy", "timeout",
                          "spin", WHERE_KW, NULL};
    PyObject *name, *timeout = Py_None, *spin = Py_None;
    Py_ssize_t slots = 64, msg_max = 1024;
    unsigned int max_subs = 16;
    int create = 0, lossy = 0;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (b->b) {
        PyErr_SetString(PyExc_RuntimeError, "Bus already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pnnIpOOOOOOp", kwl, &name, &create, &slots,
                                     &msg_max, &max_subs, &lossy, &timeout, &spin, &w.kind,
                                     &w.mode, &w.key, &w.ftok, &w.priv))
        return -1;
    int64_t tmo;
    if (skp_timeout(timeout, &tmo) < 0)
        return -1;
    if (timeout == Py_None)
        tmo = 0;
    struct attach a;
    memset(&a, 0, sizeof a);
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (skp_opts_from(name, w.kind, w.mode, w.key, w.ftok, w.priv, &a.o, keep) < 0)
        goto out;
    a.create = create;
    if (slots < 0 || msg_max < 0) {
        skp_raise(-EINVAL);
        goto out;
    }
    a.slots = (size_t)slots;
    a.msg_max = (size_t)msg_max;
    a.max_subs = max_subs;
    a.flags = lossy ? SHMKIT_BUS_LOSSY : 0;
    if (create) {
        a.o.flags |= SHMKIT_CREATE;
        a.o.size = shmkit_bus_size_for(a.slots, a.msg_max, a.max_subs);
        if (!a.o.size) {
            skp_raise_msg(-EINVAL, "bad bus geometry (slots a power of two, msg_max, max_subs)");
            goto out;
        }
    }
    a.make = bus_make;
    a.join = bus_join;
    int e = attach_wait(&a, tmo);
    if (e == SKP_PYERR || e < 0) {
        attach_fail(&a);
        if (e != SKP_PYERR)
            skp_raise(e);
        goto out;
    }
    b->b = a.h;
    b->seg = a.seg;
    if (spin != Py_None) {
        int64_t s;
        if (skp_timeout(spin, &s) == 0)
            shmkit_bus_set_spin(b->b, s);
        else
            PyErr_Clear();
    }
    Py_INCREF(name);
    Py_XSETREF(b->name, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static int bus_do_close(BusObj *b)
{
    if (!b->b)
        return 0;
    if (b->busy) {
        skp_raise_msg(-EBUSY, "another thread is using this bus");
        return -1;
    }
    if (skp_view_end(&b->mv, &b->view) < 0)
        return -1;
    shmkit_bus_close(b->b);
    shmkit_close(b->seg);
    b->b = NULL;
    b->seg = NULL;
    b->open_msg = 0;
    return 0;
}

static void bus_dealloc(PyObject *self)
{
    BusObj *b = (BusObj *)self;
    skp_view_drop(&b->mv, &b->view); /* none alive: a view keeps its handle alive */
    if (b->b) {
        shmkit_bus_close(b->b);
        shmkit_close(b->seg);
    }
    Py_XDECREF(b->name);
    Py_TYPE(self)->tp_free(self);
}

#define BUS_OPEN(b)                                                                                \
    do {                                                                                           \
        if (!(b)->b)                                                                               \
            return skp_closed();                                                                   \
        if ((b)->busy)                                                                             \
            return skp_raise_msg(-EBUSY, "another thread is using this bus");                     \
    } while (0)

struct bcall {
    shmkit_bus *b;
    shmkit_sub *s;
    const void *buf;
    size_t len;
    void *p;
    const void *cp;
    uint64_t seq, lost;
    unsigned n;
};

static int bsend_fn(void *ctx, int64_t t)
{
    struct bcall *c = ctx;
    return shmkit_bus_send(c->b, c->buf, c->len, t);
}

static int bloan_fn(void *ctx, int64_t t)
{
    struct bcall *c = ctx;
    return shmkit_bus_loan(c->b, c->len, &c->p, t);
}

static int bwait_fn(void *ctx, int64_t t)
{
    struct bcall *c = ctx;
    return shmkit_bus_wait_subscribers(c->b, c->n, t);
}

static int bus_blocking(int *busy, skp_fn fn, struct bcall *c, int64_t t)
{
    *busy = 1;
    int rc = skp_try_block(fn, c, t);
    *busy = 0;
    if (rc == SKP_PYERR)
        return -1;
    if (rc < 0) {
        skp_raise(rc);
        return -1;
    }
    return rc;
}

static PyObject *bus_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"data", "timeout", NULL};
    BusObj *b = (BusObj *)self;
    Py_buffer buf;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O", kwl, &buf, &timeout))
        return NULL;
    PyObject *res = NULL;
    int64_t t;
    if (!b->b)
        skp_closed();
    else if (b->busy)
        skp_raise_msg(-EBUSY, "another thread is using this bus");
    else if (b->open_msg)
        role_error("a loan is open: publish it first");
    else if (skp_timeout(timeout, &t) == 0) {
        struct bcall c = {b->b, NULL, buf.buf, (size_t)buf.len, NULL, NULL, 0, 0, 0};
        if (bus_blocking(&b->busy, bsend_fn, &c, t) >= 0) {
            res = Py_None;
            Py_INCREF(res);
        }
    }
    PyBuffer_Release(&buf);
    return res;
}

static PyObject *bus_loan(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"size", "timeout", NULL};
    Py_ssize_t n;
    PyObject *timeout = Py_None;
    BusObj *b = (BusObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O", kwl, &n, &timeout))
        return NULL;
    BUS_OPEN(b);
    if (b->open_msg)
        return role_error("a loan is open: publish it first");
    if (n < 0)
        return skp_raise_msg(-EINVAL, "size must be >= 0");
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct bcall c = {b->b, NULL, NULL, (size_t)n, NULL, NULL, 0, 0, 0};
    if (bus_blocking(&b->busy, bloan_fn, &c, t) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, c.p, (size_t)n, 0, &b->view, &b->mv);
    if (!mv) { /* no cancel for a bus loan: publish nothing visible is impossible, so 0 bytes */
        shmkit_bus_publish(b->b, 0, NULL);
        return NULL;
    }
    b->open_msg = 1;
    b->msg_len = (size_t)n;
    return mv;
}

static PyObject *bus_publish(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"length", NULL};
    PyObject *lo = Py_None;
    BusObj *b = (BusObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &lo))
        return NULL;
    BUS_OPEN(b);
    if (!b->open_msg)
        return role_error("nothing loaned");
    size_t n = b->msg_len;
    if (lo != Py_None) {
        Py_ssize_t v = PyLong_AsSsize_t(lo);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v < 0 || (size_t)v > b->msg_len)
            return skp_raise_msg(-EINVAL, "length beyond the loan");
        n = (size_t)v;
    }
    if (skp_view_end(&b->mv, &b->view) < 0)
        return NULL;
    b->open_msg = 0;
    uint64_t seq = 0;
    int rc = shmkit_bus_publish(b->b, n, &seq);
    if (rc < 0)
        return skp_raise(rc);
    return PyLong_FromUnsignedLongLong(seq);
}

static PyObject *bus_wait_subscribers(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"n", "timeout", NULL};
    unsigned int n;
    PyObject *timeout = Py_None;
    BusObj *b = (BusObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "I|O", kwl, &n, &timeout))
        return NULL;
    BUS_OPEN(b);
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct bcall c = {b->b, NULL, NULL, 0, NULL, NULL, 0, 0, n};
    if (bus_blocking(&b->busy, bwait_fn, &c, t) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *bus_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (bus_do_close((BusObj *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *bus_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    BusObj *b = (BusObj *)self;
    if (!b->b)
        return skp_closed();
    int rc = shmkit_seg_remove(b->seg);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *bus_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    BusObj *b = (BusObj *)self;
    if (!b->b)
        return skp_closed();
    return stats_dict(b->seg);
}

static PyObject *bus_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((BusObj *)self)->b)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *bus_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (bus_do_close((BusObj *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *bus_get(PyObject *self, void *what)
{
    BusObj *b = (BusObj *)self;
    if (!strcmp(what, "closed"))
        return PyBool_FromLong(!b->b);
    if (!strcmp(what, "name")) {
        PyObject *n = b->name ? b->name : Py_None;
        Py_INCREF(n);
        return n;
    }
    if (!b->b)
        return skp_closed();
    if (!strcmp(what, "created"))
        return PyBool_FromLong(shmkit_seg_created(b->seg) == 1);
    return PyLong_FromSize_t(shmkit_bus_msg_max(b->b));
}

static PyMethodDef bus_methods[] = {
    {"send", KW(bus_send),
     "send(data, timeout=None)\n\nPublishes a copy of DATA. Back-pressure mode: waits for the\n"
     "slowest live subscriber up to TIMEOUT."},
    {"loan", KW(bus_loan),
     "loan(size, timeout=None) -> memoryview\n\nZero-copy: the next slot as a writable view;\n"
     "fill it, then publish(). The view raises ValueError afterwards."},
    {"publish", KW(bus_publish), "publish(length=None) -> int\n\nPublishes the loan; its sequence."},
    {"wait_subscribers", KW(bus_wait_subscribers),
     "wait_subscribers(n, timeout=None)\n\nWaits until N subscribers are joined."},
    {"close", bus_close, METH_NOARGS,
     "close()\n\nDetaches the publisher (subscribers see end of stream once drained)."},
    {"remove", bus_remove, METH_NOARGS, "remove()\n\nRemoves the segment's name."},
    {"stats", bus_stats, METH_NOARGS, "stats() -> dict"},
    {"__enter__", bus_enter, METH_NOARGS, NULL},
    {"__exit__", bus_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bus_getset[] = {
    {"closed", bus_get, NULL, "True once closed.", "closed"},
    {"name", bus_get, NULL, "The segment's name.", "name"},
    {"msg_max", bus_get, NULL, "Largest message.", "msg_max"},
    {"created", bus_get, NULL, "True if this process created the bus.", "created"},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject skp_BusType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit.Bus",
    .tp_basicsize = sizeof(BusObj),
    .tp_new = PyType_GenericNew,
    .tp_init = bus_init,
    .tp_dealloc = bus_dealloc,
    .tp_methods = bus_methods,
    .tp_getset = bus_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Bus(name, *, create=False, slots=64, msg_max=1024, max_subs=16, lossy=False,\n"
              "    timeout=None, spin=None, kind=None, mode=None, key=None, ftok=None,\n"
              "    private=False)\n\n"
              "The publisher of a shmkit bus: every message goes to every subscriber\n"
              "(shmkit.Subscriber). Back-pressure (default: waits for the slowest live\n"
              "subscriber) or lossy (never waits; slow subscribers skip and count losses).",
};

/* ================================================================== Subscriber */

typedef struct {
    PyObject_HEAD
    shmkit_sub *s;
    shmkit_seg *seg;
    int busy;
    int open_msg;
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
    unsigned long long last_seq;
} SubObj;

static int sub_make(struct attach *a)
{
    (void)a;
    return -EINVAL; /* never: a subscriber does not create */
}

static int sub_join(struct attach *a)
{
    return shmkit_bus_subscribe((shmkit_sub **)&a->h, a->seg);
}

static int sub_init(PyObject *self, PyObject *args, PyObject *kw)
{
    SubObj *s = (SubObj *)self;
    static char *kwl[] = {"name", "timeout", "spin", WHERE_KW, NULL};
    PyObject *name, *timeout = Py_None, *spin = Py_None;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (s->s) {
        PyErr_SetString(PyExc_RuntimeError, "Subscriber already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$OOOOOOp", kwl, &name, &timeout, &spin,
                                     &w.kind, &w.mode, &w.key, &w.ftok, &w.priv))
        return -1;
    int64_t tmo;
    if (skp_timeout(timeout, &tmo) < 0)
        return -1;
    if (timeout == Py_None)
        tmo = 0;
    struct attach a;
    memset(&a, 0, sizeof a);
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (skp_opts_from(name, w.kind, w.mode, w.key, w.ftok, w.priv, &a.o, keep) < 0)
        goto out;
    a.make = sub_make;
    a.join = sub_join;
    int e = attach_wait(&a, tmo);
    if (e == SKP_PYERR || e < 0) {
        attach_fail(&a);
        if (e != SKP_PYERR)
            skp_raise(e);
        goto out;
    }
    s->s = a.h;
    s->seg = a.seg;
    if (spin != Py_None) {
        int64_t v;
        if (skp_timeout(spin, &v) == 0)
            shmkit_sub_set_spin(s->s, v);
        else
            PyErr_Clear();
    }
    Py_INCREF(name);
    Py_XSETREF(s->name, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static int sub_do_close(SubObj *s)
{
    if (!s->s)
        return 0;
    if (s->busy) {
        skp_raise_msg(-EBUSY, "another thread is using this subscriber");
        return -1;
    }
    if (skp_view_end(&s->mv, &s->view) < 0)
        return -1;
    shmkit_bus_unsubscribe(s->s);
    shmkit_close(s->seg);
    s->s = NULL;
    s->seg = NULL;
    s->open_msg = 0;
    return 0;
}

static void sub_dealloc(PyObject *self)
{
    SubObj *s = (SubObj *)self;
    skp_view_drop(&s->mv, &s->view); /* none alive: a view keeps its handle alive */
    if (s->s) {
        shmkit_bus_unsubscribe(s->s);
        shmkit_close(s->seg);
    }
    Py_XDECREF(s->name);
    Py_TYPE(self)->tp_free(self);
}

static int speek_fn(void *ctx, int64_t t)
{
    struct bcall *c = ctx;
    return shmkit_bus_peek(c->s, &c->cp, &c->len, &c->seq, &c->lost, t);
}

/* peek; 0 with C filled, or -1 with an exception */
static int sub_peek_raw(SubObj *s, PyObject *timeout, struct bcall *c)
{
    int64_t t;
    if (!s->s) {
        skp_closed();
        return -1;
    }
    if (s->busy) {
        skp_raise_msg(-EBUSY, "another thread is using this subscriber");
        return -1;
    }
    if (s->open_msg) {
        role_error("a peeked message is open: release it first");
        return -1;
    }
    if (skp_timeout(timeout, &t) < 0)
        return -1;
    memset(c, 0, sizeof *c);
    c->s = s->s;
    return bus_blocking(&s->busy, speek_fn, c, t) < 0 ? -1 : 0;
}

/* recv with its details: (bytes, seq, lost) */
static PyObject *sub_recv_msg(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    SubObj *s = (SubObj *)self;
    uint64_t lost_sum = 0;
    for (;;) {
        struct bcall c;
        if (sub_peek_raw(s, timeout, &c) < 0)
            return NULL;
        lost_sum += c.lost;
        PyObject *b = PyBytes_FromStringAndSize(c.cp, (Py_ssize_t)c.len);
        if (!b) {
            shmkit_bus_release(s->s);
            return NULL;
        }
        int rc = shmkit_bus_release(s->s);
        if (rc == -ESTALE) { /* overwritten while copied (lossy): counted, take the next */
            Py_DECREF(b);
            continue;
        }
        s->last_seq = c.seq;
        return Py_BuildValue("(NKK)", b, (unsigned long long)c.seq, (unsigned long long)lost_sum);
    }
}

static PyObject *sub_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    PyObject *t = sub_recv_msg(self, args, kw);
    if (!t)
        return NULL;
    PyObject *b = PyTuple_GET_ITEM(t, 0);
    Py_INCREF(b);
    Py_DECREF(t);
    return b;
}

static PyObject *sub_peek(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    SubObj *s = (SubObj *)self;
    struct bcall c;
    if (sub_peek_raw(s, timeout, &c) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, (void *)c.cp, c.len, 1, &s->view, &s->mv);
    if (!mv) {
        shmkit_bus_release(s->s);
        return NULL;
    }
    s->open_msg = 1;
    s->last_seq = c.seq;
    return mv;
}

static PyObject *sub_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    SubObj *s = (SubObj *)self;
    if (!s->s)
        return skp_closed();
    if (!s->open_msg)
        return role_error("nothing peeked");
    if (skp_view_end(&s->mv, &s->view) < 0)
        return NULL;
    s->open_msg = 0;
    int rc = shmkit_bus_release(s->s);
    if (rc < 0)
        return skp_raise(rc); /* StaleError: the bytes seen were overwritten */
    Py_RETURN_NONE;
}

static PyObject *sub_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (sub_do_close((SubObj *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *sub_iternext(PyObject *self)
{
    PyObject *none = PyTuple_New(0);
    if (!none)
        return NULL;
    PyObject *b = sub_recv(self, none, NULL);
    Py_DECREF(none);
    if (!b && PyErr_ExceptionMatches(skp_ClosedError)) { /* end of stream: StopIteration */
        PyErr_Clear();
        return NULL;
    }
    return b;
}

static PyObject *sub_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((SubObj *)self)->s)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *sub_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (sub_do_close((SubObj *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *sub_get(PyObject *self, void *what)
{
    SubObj *s = (SubObj *)self;
    if (!strcmp(what, "closed"))
        return PyBool_FromLong(!s->s);
    if (!strcmp(what, "name")) {
        PyObject *n = s->name ? s->name : Py_None;
        Py_INCREF(n);
        return n;
    }
    if (!strcmp(what, "seq"))
        return PyLong_FromUnsignedLongLong(s->last_seq);
    if (!s->s)
        return skp_closed();
    return PyLong_FromUnsignedLongLong(shmkit_sub_lost(s->s));
}

static PyMethodDef sub_methods[] = {
    {"recv", KW(sub_recv), "recv(timeout=None) -> bytes\n\nThe next message (a copy)."},
    {"recv_msg", KW(sub_recv_msg),
     "recv_msg(timeout=None) -> (bytes, seq, lost)\n\nWith its sequence number and the messages\n"
     "lost just before it (lossy bus)."},
    {"peek", KW(sub_peek),
     "peek(timeout=None) -> memoryview\n\nZero-copy: the next message in place, until release()."},
    {"release", sub_release, METH_NOARGS,
     "release()\n\nEnds a peek. StaleError: a lossy publisher overwrote it while it was read."},
    {"close", sub_close, METH_NOARGS, "close()\n\nLeaves the bus."},
    {"__enter__", sub_enter, METH_NOARGS, NULL},
    {"__exit__", sub_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sub_getset[] = {
    {"closed", sub_get, NULL, "True once closed.", "closed"},
    {"name", sub_get, NULL, "The segment's name.", "name"},
    {"lost", sub_get, NULL, "Messages lost since joining.", "lost"},
    {"seq", sub_get, NULL, "Sequence number of the last message received.", "seq"},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject skp_SubType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._Subscriber",
    .tp_basicsize = sizeof(SubObj),
    .tp_new = PyType_GenericNew,
    .tp_init = sub_init,
    .tp_dealloc = sub_dealloc,
    .tp_iter = self_iter,
    .tp_iternext = sub_iternext,
    .tp_methods = sub_methods,
    .tp_getset = sub_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "Subscriber(name, *, timeout=None, spin=None, kind=None, mode=None, key=None,\n"
              "           ftok=None, private=False)\n\n"
              "Joins the bus NAME (timeout: how long to wait for it to exist; None: try once).\n"
              "Its first message is the next one published. recv(), recv_msg(), peek()/\n"
              "release(); `for msg in sub:` ends when the publisher closes.",
};
