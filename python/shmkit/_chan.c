/*
 * _chan.c - Ring, Bus (publisher) and Subscriber: channels from Python.
 *
 * By name, every constructor is one join call (shmkit_ring_join, shmkit_bus_join,
 * shmkit_sub_join: create-or-attach with a role, the geometry used by the call that creates
 * and checked by the others, waiting for another process to have made it), run with the GIL
 * released. A joined handle owns its segment; its .segment object lends it (for children of
 * an anonymous or memfd channel) and is closed with it. from_segment() makes a handle on a
 * Segment the caller opened (ANON across fork, a MEMFD descriptor received from elsewhere):
 * that Segment then stays open as long as the handle.
 */
#include "_shmkit.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Keyword arguments every channel takes to find its segment. */
#define WHERE_KW "kind", "mode", "key", "ftok", "private"
struct where {
    PyObject *kind, *mode, *key, *ftok;
    int priv;
};

/* Where a channel handle's segment comes from. */
struct chanseg {
    skp_Seg *useg; /* from_segment: the caller's Segment (strong; counted in its users)   */
    skp_Seg *segw; /* joined: the .segment object handed out (borrowed; it holds the handle) */
    int kind;      /* the segment's kind (SHMKIT_POSIX, ...) */
    unsigned gen;  /* skp_fork_gen when the handle was made: the process whose role it holds */
};

/* A handle with a role inherited across fork(): the role (its claim word) is the parent's,
 * and the library would act on it - the child closing it would end the parent's stream, or
 * drop its subscription. So the child may neither use the role nor give it up: its calls
 * raise, its close only forgets the handle (the mapping goes with the child). */
static int chan_inherited(const struct chanseg *cs, unsigned role)
{
    return role != SHMKIT_ROLE_NONE && cs->gen != skp_fork_gen;
}

static PyObject *inherited_error(void)
{
    return skp_raise_msg(-EBADF, "a handle inherited across fork: its role is the parent's "
                                 "(take one here with from_segment or by name)");
}

/* Lets the caller's Segment SEG carry a channel until chanseg_drop. */
static void chanseg_use(struct chanseg *cs, PyObject *seg)
{
    Py_INCREF(seg);
    cs->useg = (skp_Seg *)seg;
    cs->useg->users++;
    cs->kind = cs->useg->kind;
}

static void chanseg_drop(struct chanseg *cs)
{
    if (cs->useg) {
        cs->useg->users--;
        Py_CLEAR(cs->useg);
    }
}

/* The .segment attribute of a channel HANDLE whose library handle's segment is SEG. */
static PyObject *chanseg_get(PyObject *handle, struct chanseg *cs, shmkit_seg *seg,
                             PyObject *name)
{
    if (cs->useg) {
        Py_INCREF(cs->useg);
        return (PyObject *)cs->useg;
    }
    return skp_seg_of_handle(handle, seg, name, cs->kind, &cs->segw);
}

/* ------------------------------------------------------------------ joining by name */

enum { J_RING, J_BUS, J_SUB };

struct jcall {
    int what; /* J_RING, J_BUS or J_SUB */
    struct shmkit_opts o;
    struct shmkit_ring_config rc;
    struct shmkit_bus_config bc;
    void *h;
};

static int join_fn(void *ctx, int64_t t)
{
    struct jcall *c = ctx;
    switch (c->what) {
    case J_RING:
        c->rc.timeout_ns = t;
        return shmkit_ring_join((shmkit_ring **)&c->h, &c->o, &c->rc);
    case J_BUS:
        c->bc.timeout_ns = t;
        return shmkit_bus_join((shmkit_bus **)&c->h, &c->o, &c->bc);
    default:
        c->bc.timeout_ns = t;
        return shmkit_sub_join((shmkit_sub **)&c->h, &c->o, &c->bc);
    }
}

/* Fills C->o from the constructor's arguments. ANON, MEMFD and System V IPC_PRIVATE always
 * create (there is no name to attach by), so CREATE is implied for them. 0 or -1. */
static int join_where(struct jcall *c, PyObject *name, struct where *w, int create,
                      PyObject *keep)
{
    if (skp_opts_from(name, w->kind, w->mode, w->key, w->ftok, w->priv, &c->o, keep) < 0)
        return -1;
    if (create || c->o.kind == SHMKIT_ANON || c->o.kind == SHMKIT_MEMFD || c->o.sysv_private)
        c->o.flags |= SHMKIT_CREATE;
    return 0;
}

/* Joins within TMO (GIL released, Ctrl-C honoured). DFLT: a geometry field the binding filled
 * with its own default (not asked for by the caller): a default applies only to a structure
 * this call creates, so when the existing one differs (SHMKIT_EGEOMETRY: nothing changed) it
 * is taken as it is - the field zeroed (unchecked), attaching only. 0, a library code, or
 * SKP_PYERR. */
static int join_run(struct jcall *c, int64_t tmo, uint64_t *dflt)
{
    int rc = skp_join_wait(join_fn, c, tmo);
    if (rc == SHMKIT_EGEOMETRY && dflt) {
        *dflt = 0;
        c->o.flags &= ~(unsigned)SHMKIT_CREATE;
        rc = skp_block(join_fn, c, 0);
    }
    return rc;
}

/* The constructors' timeout: None = try once (0), else as every blocking call. */
static int join_timeout(PyObject *timeout, int64_t *t)
{
    if (timeout == Py_None) {
        *t = 0;
        return 0;
    }
    return skp_timeout(timeout, t);
}

/* Raises CODE from a join; a geometry error says what was compared. */
static void join_raise(int code, const char *what)
{
    if (code == SHMKIT_EGEOMETRY)
        skp_raise_msg(code, what);
    else if (code != SKP_PYERR)
        skp_raise(code);
}

/* ROLE (None or one of NAMES) -> the enum shmkit_role value in VALS; 0 or -1. */
static int role_parse(PyObject *role, const char *const *names, const unsigned *vals,
                      unsigned *out, const char *msg)
{
    if (role == Py_None) {
        *out = SHMKIT_ROLE_NONE;
        return 0;
    }
    if (PyUnicode_Check(role)) {
        const char *s = PyUnicode_AsUTF8(role);
        if (!s)
            return -1;
        for (int i = 0; names[i]; i++)
            if (!strcmp(s, names[i])) {
                *out = vals[i];
                return 0;
            }
    }
    PyErr_SetString(PyExc_ValueError, msg);
    return -1;
}

/* SPIN (None: the library's default; seconds; negative: never sleep) -> ns for *_set_spin;
 * 1 if one was given, 0 if not, -1 with an exception. */
static int spin_arg(PyObject *spin, int64_t *ns)
{
    if (spin == Py_None)
        return 0;
    return skp_timeout(spin, ns) < 0 ? -1 : 1;
}

/* PyArg "O&" converters for geometry: a non-negative int (ValueError otherwise), into an
 * unsigned long long (size_arg) or an unsigned int (count_arg). */
static int size_arg(PyObject *o, void *out)
{
    unsigned long long v = PyLong_Check(o) ? PyLong_AsUnsignedLongLong(o) : 0;
    if (!PyLong_Check(o))
        PyErr_Format(PyExc_TypeError, "a size must be an int, not %.80s", Py_TYPE(o)->tp_name);
    else if (v == (unsigned long long)-1 && PyErr_Occurred() &&
             PyErr_ExceptionMatches(PyExc_OverflowError)) {
        PyErr_Clear();
        PyErr_SetString(PyExc_ValueError, "a size must be >= 0 and fit 64 bits");
    }
    if (PyErr_Occurred())
        return 0;
    *(unsigned long long *)out = v;
    return 1;
}

static int count_arg(PyObject *o, void *out)
{
    unsigned long long v;
    if (!size_arg(o, &v))
        return 0;
    if (v > 0xffffffffull) {
        PyErr_SetString(PyExc_ValueError, "a count must fit 32 bits");
        return 0;
    }
    *(unsigned int *)out = (unsigned int)v;
    return 1;
}

/* ================================================================== Ring */

typedef struct {
    PyObject_HEAD
    shmkit_ring *r;
    struct chanseg cs;
    unsigned role;  /* SHMKIT_ROLE_NONE, _PRODUCER or _CONSUMER */
    int busy;
    int open_msg;   /* reserve or peek outstanding */
    size_t msg_len; /* its length */
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
} RingObj;

#define RING_DEFAULT_CAP 65536 /* a ring created without capacity or max_msg */

static const char *const ring_role_names[] = {"producer", "consumer", NULL};
static const unsigned ring_role_vals[] = {SHMKIT_ROLE_PRODUCER, SHMKIT_ROLE_CONSUMER};
#define RING_ROLE_MSG "role must be 'producer', 'consumer' or None (set up only)"

static int ring_init(PyObject *self, PyObject *args, PyObject *kw)
{
    RingObj *r = (RingObj *)self;
    static char *kwl[] = {"name", "role", "create", "capacity", "max_msg", "multi", "takeover",
                          "timeout", "spin", WHERE_KW, NULL};
    PyObject *name, *rolo = NULL, *timeout = Py_None, *spin = Py_None;
    unsigned long long cap = 0, max_msg = 0;
    int create = 0, multi = 0, takeover = 0;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (r->r) {
        PyErr_SetString(PyExc_RuntimeError, "Ring already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pO&O&ppOOOOOOp", kwl, &name, &rolo, &create,
                                     size_arg, &cap, size_arg, &max_msg, &multi, &takeover,
                                     &timeout, &spin, &w.kind, &w.mode, &w.key, &w.ftok, &w.priv))
        return -1;
    struct jcall c;
    memset(&c, 0, sizeof c);
    c.what = J_RING;
    if (!rolo)
        c.rc.role = SHMKIT_ROLE_PRODUCER;
    else if (role_parse(rolo, ring_role_names, ring_role_vals, &c.rc.role, RING_ROLE_MSG) < 0)
        return -1;
    int64_t tmo, spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || join_timeout(timeout, &tmo) < 0)
        return -1;
    if (takeover && c.rc.role == SHMKIT_ROLE_NONE) {
        skp_raise_msg(-EINVAL, "takeover needs a role");
        return -1;
    }
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (join_where(&c, name, &w, create, keep) < 0)
        goto out;
    c.rc.capacity = cap;
    c.rc.max_msg = max_msg;
    c.rc.flags = (multi ? SHMKIT_RING_MULTI : 0) | (takeover ? SHMKIT_RING_TAKEOVER : 0);
    uint64_t *dflt = NULL;
    if ((c.o.flags & SHMKIT_CREATE) && !cap && !max_msg) {
        c.rc.capacity = RING_DEFAULT_CAP;
        dflt = &c.rc.capacity;
    }
    int e = join_run(&c, tmo, dflt);
    if (e < 0) {
        join_raise(e, "the ring exists with another geometry (capacity, a max_msg below the one "
                      "asked, or not multi)");
        goto out;
    }
    r->r = c.h;
    r->cs.kind = c.o.kind;
    r->cs.gen = skp_fork_gen;
    r->role = c.rc.role;
    if (has_spin)
        shmkit_ring_set_spin(r->r, spin_ns);
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
    if (ring_end_msg(r) < 0 || skp_seg_detach(&r->cs.segw) < 0)
        return -1;
    /* drops an open reservation; a peeked message stays queued; a joined ring's segment is
     * closed with it */
    if (!chan_inherited(&r->cs, r->role))
        shmkit_ring_close(r->r);
    r->r = NULL;
    r->open_msg = 0;
    chanseg_drop(&r->cs);
    return 0;
}

static void ring_dealloc(PyObject *self)
{
    RingObj *r = (RingObj *)self;
    /* no view and no .segment object can be alive here: each holds a reference */
    skp_view_drop(&r->mv, &r->view);
    if (!chan_inherited(&r->cs, r->role))
        shmkit_ring_close(r->r);
    chanseg_drop(&r->cs);
    Py_XDECREF(r->name);
    Py_TYPE(self)->tp_free(self);
}

/* Ring.from_segment(segment, role='producer', *, create=False, capacity=0, max_msg=0,
 * multi=False, takeover=False, spin=None) */
static PyObject *ring_from_segment(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"segment", "role", "create", "capacity", "max_msg", "multi",
                          "takeover", "spin", NULL};
    PyObject *sego, *rolo = NULL, *spin = Py_None;
    unsigned long long cap = 0, max_msg = 0;
    int create = 0, multi = 0, takeover = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pO&O&ppO", kwl, &sego, &rolo, &create, size_arg,
                                     &cap, size_arg, &max_msg, &multi, &takeover, &spin))
        return NULL;
    unsigned role = SHMKIT_ROLE_PRODUCER;
    if (rolo && role_parse(rolo, ring_role_names, ring_role_vals, &role, RING_ROLE_MSG) < 0)
        return NULL;
    int64_t spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || skp_seg_usable(sego) < 0)
        return NULL;
    shmkit_seg *seg = ((skp_Seg *)sego)->seg;
    unsigned flags = (role == SHMKIT_ROLE_PRODUCER   ? SHMKIT_RING_PRODUCER
                      : role == SHMKIT_ROLE_CONSUMER ? SHMKIT_RING_CONSUMER
                                                     : 0);
    shmkit_ring *h = NULL;
    int rc;
    if (create) {
        if (!cap && max_msg) { /* the smallest ring that holds it, as shmkit_ring_join */
            cap = SHMKIT_RING_MIN_CAP;
            while (cap / 2 - 16 < max_msg && cap < (1ull << 40))
                cap *= 2;
        }
        if (cap && max_msg && cap / 2 - 16 < max_msg)
            return skp_raise_msg(-EINVAL, "capacity too small for max_msg");
        rc = shmkit_ring_create(&h, seg, (size_t)cap, flags | (multi ? SHMKIT_RING_MULTI : 0));
    } else {
        rc = shmkit_ring_attach(&h, seg, flags | (takeover ? SHMKIT_RING_TAKEOVER : 0));
        struct shmkit_chan_stats st;
        if (rc == 0 && ((cap && shmkit_ring_capacity(h) != cap) ||
                        (max_msg && shmkit_ring_max_msg(h) < max_msg) ||
                        (multi && (shmkit_chan_stats(seg, &st) < 0 ||
                                   !(st.flags & SHMKIT_RING_MULTI))))) {
            shmkit_ring_close(h);
            return skp_raise_msg(SHMKIT_EGEOMETRY, "the ring has another geometry");
        }
    }
    if (rc < 0)
        return skp_raise(rc);
    PyObject *empty = PyTuple_New(0);
    RingObj *r = empty ? (RingObj *)((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, empty, NULL)
                       : NULL;
    Py_XDECREF(empty);
    if (!r) {
        shmkit_ring_close(h);
        return NULL;
    }
    r->r = h;
    r->role = role;
    r->cs.gen = skp_fork_gen;
    chanseg_use(&r->cs, sego);
    if (has_spin)
        shmkit_ring_set_spin(h, spin_ns);
    r->name = ((skp_Seg *)sego)->name;
    Py_INCREF(r->name);
    return (PyObject *)r;
}

#define RING_OPEN(r)                                                                               \
    do {                                                                                           \
        if (!(r)->r)                                                                               \
            return skp_closed();                                                                   \
        if ((r)->busy)                                                                             \
            return skp_raise_msg(-EBUSY, "another thread is using this ring");                    \
        if (chan_inherited(&(r)->cs, (r)->role))                                                   \
            return inherited_error();                                                              \
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
    if (chan_inherited(&r->cs, r->role)) {
        inherited_error();
        return -1;
    }
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
    else if (r->role != SHMKIT_ROLE_PRODUCER)
        role_error(r->role ? "send on a consumer" : "send on a ring without a role");
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
    if (r->role != SHMKIT_ROLE_CONSUMER) {
        role_error(r->role ? "receive on a producer" : "receive on a ring without a role");
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
    if (r->role != SHMKIT_ROLE_PRODUCER)
        return role_error(r->role ? "reserve on a consumer" : "reserve on a ring without a role");
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
    if (r->role != SHMKIT_ROLE_PRODUCER || !r->open_msg)
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
    if (r->role != SHMKIT_ROLE_PRODUCER || !r->open_msg)
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
    if (r->role != SHMKIT_ROLE_CONSUMER || !r->open_msg)
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
    int rc = shmkit_seg_remove(shmkit_ring_seg(r->r));
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
    return stats_dict(shmkit_ring_seg(r->r));
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
    if (!strcmp(w, "role")) {
        if (r->role == SHMKIT_ROLE_NONE)
            Py_RETURN_NONE;
        return PyUnicode_FromString(r->role == SHMKIT_ROLE_PRODUCER ? "producer" : "consumer");
    }
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
        return PyBool_FromLong(shmkit_seg_created(shmkit_ring_seg(r->r)) == 1);
    if (!strcmp(w, "segment"))
        return chanseg_get(self, &r->cs, shmkit_ring_seg(r->r), r->name);
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
    {"from_segment", (PyCFunction)(void (*)(void))ring_from_segment,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Ring.from_segment(segment, role='producer', *, create=False, capacity=0, max_msg=0,\n"
     "                  multi=False, takeover=False, spin=None) -> Ring\n\n"
     "A ring in SEGMENT, an open shmkit.Segment: the .segment of a ring set up by a parent\n"
     "(kind='anon', inherited across os.fork()), or a memfd received as a descriptor\n"
     "(Segment(kind='memfd', fd=...)). Attaches with ROLE (None: only checks the ring), or\n"
     "with create=True lays a new ring out in the whole payload (capacity 0 and no max_msg:\n"
     "the largest that fits). On attach, capacity / max_msg / multi are checked\n"
     "(GeometryError). SEGMENT stays open while the ring is (its close() raises BusyError)."},
    {"__enter__", ring_enter, METH_NOARGS, NULL},
    {"__exit__", ring_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef ring_getset[] = {
    {"role", ring_get, NULL, "'producer', 'consumer' or None (set up only).", "role"},
    {"segment", ring_get, NULL,
     "The Segment the ring lives in (closed with the ring: for Ring.from_segment in a forked\n"
     "child, .fd to pass a memfd ring on, .remove(), .info()).",
     "segment"},
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
        "A shmkit ring (one consumer, one producer or several with multi=True), joined by\n"
        "name with one call (shmkit_ring_join), whichever process comes first.\n"
        "role: 'producer', 'consumer', or None: set the ring up (or check it) without taking\n"
        "a role - for a parent whose children take the roles (Ring.from_segment).\n"
        "create=True creates it if missing and attaches otherwise; kind='anon' or 'memfd'\n"
        "(or private=True) always creates (share it by fork or by descriptor: .segment).\n"
        "Geometry, used by the process that creates and checked by the others\n"
        "(GeometryError): capacity (data bytes, a power of two) or max_msg (the largest\n"
        "message; the smallest ring that holds it); neither: 64 KiB when this call creates,\n"
        "the existing ring's otherwise; multi (several producers). takeover: replace a live\n"
        "holder of the role. timeout: how long to wait for another process to make the ring\n"
        "(None or 0: try once; negative: no limit). spin: seconds to spin before sleeping in\n"
        "a wait (negative: never sleep).\n"
        "Copying: send(data), recv() -> bytes, `for msg in ring:` (ends when every producer\n"
        "closed). Zero-copy: reserve(n) -> memoryview, commit(); peek() -> memoryview,\n"
        "release(). Every wait releases the GIL; Ctrl-C raises KeyboardInterrupt.",
};

/* ================================================================== Bus (publisher) */

typedef struct {
    PyObject_HEAD
    shmkit_bus *b;
    struct chanseg cs;
    unsigned role; /* SHMKIT_ROLE_PUBLISHER or _NONE */
    int busy;
    int open_msg;
    size_t msg_len;
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
} BusObj;

static const char *const bus_role_names[] = {"publisher", NULL};
static const unsigned bus_role_vals[] = {SHMKIT_ROLE_PUBLISHER};
#define BUS_ROLE_MSG "role must be 'publisher' or None (set up only)"

#define BUS_DEFAULT_MSG 1024 /* a bus created without msg_max */
#define BUS_GEO_MSG                                                                                \
    "the bus exists with another geometry (slots, max_subs, a msg_max below the one asked, or "  \
    "not lossy)"

/* The bus config of a constructor's geometry arguments; DFLT receives the field the binding
 * defaulted (msg_max, when this call may create and none was given), else NULL. */
static void bus_cfg(struct jcall *c, unsigned long long slots, unsigned long long msg_max,
                    unsigned int max_subs, int lossy, uint64_t **dflt)
{
    c->bc.slots = slots;       /* 0: the library's default (256) when creating */
    c->bc.msg_max = msg_max;
    c->bc.max_subs = max_subs; /* 0: the library's default (64) when creating */
    c->bc.flags = lossy ? SHMKIT_BUS_LOSSY : 0;
    *dflt = NULL;
    if ((c->o.flags & SHMKIT_CREATE) && !msg_max) {
        c->bc.msg_max = BUS_DEFAULT_MSG;
        *dflt = &c->bc.msg_max;
    }
}

/* An attached bus against the non-zero geometry asked (as shmkit_bus_join checks it). */
static int bus_geometry_ok(shmkit_seg *seg, unsigned long long slots, unsigned long long msg_max,
                           unsigned int max_subs, int lossy)
{
    struct shmkit_chan_stats st;
    if (shmkit_chan_stats(seg, &st) < 0)
        return 0;
    return !((slots && st.capacity != slots) || (msg_max && st.msg_max < msg_max) ||
             (max_subs && st.max_readers != max_subs) ||
             (lossy && !(st.flags & SHMKIT_BUS_LOSSY)));
}

static int bus_init(PyObject *self, PyObject *args, PyObject *kw)
{
    BusObj *b = (BusObj *)self;
    static char *kwl[] = {"name", "role", "create", "slots", "msg_max", "max_subs", "lossy",
                          "timeout", "spin", WHERE_KW, NULL};
    PyObject *name, *rolo = NULL, *timeout = Py_None, *spin = Py_None;
    unsigned long long slots = 0, msg_max = 0;
    unsigned int max_subs = 0;
    int create = 0, lossy = 0;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (b->b) {
        PyErr_SetString(PyExc_RuntimeError, "Bus already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pO&O&O&pOOOOOOp", kwl, &name, &rolo, &create,
                                     size_arg, &slots, size_arg, &msg_max, count_arg, &max_subs,
                                     &lossy, &timeout, &spin, &w.kind, &w.mode, &w.key, &w.ftok,
                                     &w.priv))
        return -1;
    struct jcall c;
    memset(&c, 0, sizeof c);
    c.what = J_BUS;
    c.bc.role = SHMKIT_ROLE_PUBLISHER;
    if (rolo && role_parse(rolo, bus_role_names, bus_role_vals, &c.bc.role, BUS_ROLE_MSG) < 0)
        return -1;
    int64_t tmo, spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || join_timeout(timeout, &tmo) < 0)
        return -1;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (join_where(&c, name, &w, create, keep) < 0)
        goto out;
    uint64_t *dflt;
    bus_cfg(&c, slots, msg_max, max_subs, lossy, &dflt);
    int e = join_run(&c, tmo, dflt);
    if (e < 0) {
        join_raise(e, BUS_GEO_MSG);
        goto out;
    }
    b->b = c.h;
    b->cs.kind = c.o.kind;
    b->cs.gen = skp_fork_gen;
    b->role = c.bc.role;
    if (has_spin)
        shmkit_bus_set_spin(b->b, spin_ns);
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
    if (skp_view_end(&b->mv, &b->view) < 0 || skp_seg_detach(&b->cs.segw) < 0)
        return -1;
    if (!chan_inherited(&b->cs, b->role))
        shmkit_bus_close(b->b); /* a joined bus's segment is closed with it */
    b->b = NULL;
    b->open_msg = 0;
    chanseg_drop(&b->cs);
    return 0;
}

static void bus_dealloc(PyObject *self)
{
    BusObj *b = (BusObj *)self;
    skp_view_drop(&b->mv, &b->view); /* none alive: a view keeps its handle alive */
    if (!chan_inherited(&b->cs, b->role))
        shmkit_bus_close(b->b);
    chanseg_drop(&b->cs);
    Py_XDECREF(b->name);
    Py_TYPE(self)->tp_free(self);
}

/* Bus.from_segment(segment, role='publisher', *, create=False, slots=0, msg_max=0,
 * max_subs=0, lossy=False, spin=None) */
static PyObject *bus_from_segment(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"segment", "role", "create", "slots", "msg_max", "max_subs", "lossy",
                          "spin", NULL};
    PyObject *sego, *rolo = NULL, *spin = Py_None;
    unsigned long long slots = 0, msg_max = 0;
    unsigned int max_subs = 0;
    int create = 0, lossy = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O$pO&O&O&pO", kwl, &sego, &rolo, &create,
                                     size_arg, &slots, size_arg, &msg_max, count_arg, &max_subs,
                                     &lossy, &spin))
        return NULL;
    unsigned role = SHMKIT_ROLE_PUBLISHER;
    if (rolo && role_parse(rolo, bus_role_names, bus_role_vals, &role, BUS_ROLE_MSG) < 0)
        return NULL;
    int64_t spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || skp_seg_usable(sego) < 0)
        return NULL;
    shmkit_seg *seg = ((skp_Seg *)sego)->seg;
    shmkit_bus *h = NULL;
    int rc;
    if (create) {
        rc = shmkit_bus_create(&h, seg, slots ? (size_t)slots : 256,
                               msg_max ? (size_t)msg_max : BUS_DEFAULT_MSG,
                               max_subs ? max_subs : 64,
                               (lossy ? SHMKIT_BUS_LOSSY : 0) |
                                   (role == SHMKIT_ROLE_NONE ? SHMKIT_BUS_NOROLE : 0));
    } else if (role == SHMKIT_ROLE_NONE) {
        return skp_raise_msg(-EINVAL, "a bus handle without a role is made by create=True (or "
                                      "by Bus(name, None)); children take the publisher role");
    } else {
        rc = shmkit_bus_attach(&h, seg);
        if (rc == 0 && !bus_geometry_ok(seg, slots, msg_max, max_subs, lossy)) {
            shmkit_bus_close(h);
            return skp_raise_msg(SHMKIT_EGEOMETRY, BUS_GEO_MSG);
        }
    }
    if (rc < 0)
        return skp_raise(rc);
    PyObject *empty = PyTuple_New(0);
    BusObj *b = empty ? (BusObj *)((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, empty, NULL)
                      : NULL;
    Py_XDECREF(empty);
    if (!b) {
        shmkit_bus_close(h);
        return NULL;
    }
    b->b = h;
    b->role = role;
    b->cs.gen = skp_fork_gen;
    chanseg_use(&b->cs, sego);
    if (has_spin)
        shmkit_bus_set_spin(h, spin_ns);
    b->name = ((skp_Seg *)sego)->name;
    Py_INCREF(b->name);
    return (PyObject *)b;
}

#define BUS_OPEN(b)                                                                                \
    do {                                                                                           \
        if (!(b)->b)                                                                               \
            return skp_closed();                                                                   \
        if ((b)->busy)                                                                             \
            return skp_raise_msg(-EBUSY, "another thread is using this bus");                     \
        if (chan_inherited(&(b)->cs, (b)->role))                                                   \
            return inherited_error();                                                              \
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
    else if (b->role != SHMKIT_ROLE_PUBLISHER)
        role_error("send on a bus without a role");
    else if (chan_inherited(&b->cs, b->role))
        inherited_error();
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
    if (b->role != SHMKIT_ROLE_PUBLISHER)
        return role_error("loan on a bus without a role");
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
    int rc = shmkit_seg_remove(shmkit_bus_seg(b->b));
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
    return stats_dict(shmkit_bus_seg(b->b));
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
    if (!strcmp(what, "role")) {
        if (b->role == SHMKIT_ROLE_NONE)
            Py_RETURN_NONE;
        return PyUnicode_FromString("publisher");
    }
    if (!b->b)
        return skp_closed();
    if (!strcmp(what, "created"))
        return PyBool_FromLong(shmkit_seg_created(shmkit_bus_seg(b->b)) == 1);
    if (!strcmp(what, "segment"))
        return chanseg_get(self, &b->cs, shmkit_bus_seg(b->b), b->name);
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
    {"from_segment", (PyCFunction)(void (*)(void))bus_from_segment,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Bus.from_segment(segment, role='publisher', *, create=False, slots=0, msg_max=0,\n"
     "                 max_subs=0, lossy=False, spin=None) -> Bus\n\n"
     "The publisher of the bus in SEGMENT, an open shmkit.Segment (a parent's bus .segment\n"
     "inherited across os.fork(), a memfd received as a descriptor). create=True lays a new\n"
     "bus out in it (role None: without becoming its publisher; 0 = 256 slots, 1024-byte\n"
     "messages, 64 subscribers). On attach the non-zero geometry is checked (GeometryError).\n"
     "SEGMENT stays open while the bus is."},
    {"__enter__", bus_enter, METH_NOARGS, NULL},
    {"__exit__", bus_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef bus_getset[] = {
    {"closed", bus_get, NULL, "True once closed.", "closed"},
    {"name", bus_get, NULL, "The segment's name.", "name"},
    {"msg_max", bus_get, NULL, "Largest message.", "msg_max"},
    {"created", bus_get, NULL, "True if this process created the bus.", "created"},
    {"role", bus_get, NULL, "'publisher', or None (set up only).", "role"},
    {"segment", bus_get, NULL,
     "The Segment the bus lives in (closed with the bus: for Bus.from_segment and\n"
     "Subscriber.from_segment in forked children, .fd to pass a memfd bus on).",
     "segment"},
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
    .tp_doc = "Bus(name, role='publisher', *, create=False, slots=0, msg_max=0, max_subs=0,\n"
              "    lossy=False, timeout=None, spin=None, kind=None, mode=None, key=None,\n"
              "    ftok=None, private=False)\n\n"
              "The publisher of a shmkit bus: every message goes to every subscriber\n"
              "(shmkit.Subscriber). Back-pressure (default: waits for the slowest live\n"
              "subscriber) or lossy (never waits; slow subscribers skip and count losses).\n"
              "Joined by name with one call (shmkit_bus_join), whichever process comes first:\n"
              "create=True creates it if missing (kind='anon', 'memfd' or private=True always\n"
              "creates: share it by fork or by descriptor, .segment, Bus.from_segment).\n"
              "role None: set the bus up (or check it) without publishing; wait_subscribers()\n"
              "still works. Geometry, used by the process that creates and checked by the others\n"
              "when non-zero (GeometryError): slots (a power of two; 0 = 256), msg_max (0 = 1024\n"
              "when creating; on attach the bus's must be at least this), max_subs (0 = 64),\n"
              "lossy. timeout: how long to wait for another process to make it (None or 0: try\n"
              "once; negative: no limit).",
};

/* ================================================================== Subscriber */

typedef struct {
    PyObject_HEAD
    shmkit_sub *s;
    struct chanseg cs;
    int busy;
    int open_msg;
    PyObject *mv;   /* a weak reference to the message's memoryview */
    skp_View *view; /* its exporter (borrowed: it clears this when it dies) */
    PyObject *name;
    unsigned long long last_seq;
} SubObj;

static int sub_init(PyObject *self, PyObject *args, PyObject *kw)
{
    SubObj *s = (SubObj *)self;
    static char *kwl[] = {"name", "create", "slots", "msg_max", "max_subs", "lossy", "timeout",
                          "spin", WHERE_KW, NULL};
    PyObject *name, *timeout = Py_None, *spin = Py_None;
    unsigned long long slots = 0, msg_max = 0;
    unsigned int max_subs = 0;
    int create = 0, lossy = 0;
    struct where w = {Py_None, Py_None, Py_None, Py_None, 0};
    if (s->s) {
        PyErr_SetString(PyExc_RuntimeError, "Subscriber already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$pO&O&O&pOOOOOOp", kwl, &name, &create,
                                     size_arg, &slots, size_arg, &msg_max, count_arg,
                                     &max_subs, &lossy, &timeout, &spin, &w.kind,
                                     &w.mode, &w.key, &w.ftok, &w.priv))
        return -1;
    struct jcall c;
    memset(&c, 0, sizeof c);
    c.what = J_SUB;
    c.bc.role = SHMKIT_ROLE_SUBSCRIBER;
    int64_t tmo, spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || join_timeout(timeout, &tmo) < 0)
        return -1;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (join_where(&c, name, &w, create, keep) < 0)
        goto out;
    uint64_t *dflt;
    bus_cfg(&c, slots, msg_max, max_subs, lossy, &dflt);
    int e = join_run(&c, tmo, dflt);
    if (e < 0) {
        join_raise(e, BUS_GEO_MSG);
        goto out;
    }
    s->s = c.h;
    s->cs.kind = c.o.kind;
    s->cs.gen = skp_fork_gen;
    if (has_spin)
        shmkit_sub_set_spin(s->s, spin_ns);
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
    if (skp_view_end(&s->mv, &s->view) < 0 || skp_seg_detach(&s->cs.segw) < 0)
        return -1;
    if (!chan_inherited(&s->cs, SHMKIT_ROLE_SUBSCRIBER))
        shmkit_bus_unsubscribe(s->s); /* a joined subscriber's segment is closed with it */
    s->s = NULL;
    s->open_msg = 0;
    chanseg_drop(&s->cs);
    return 0;
}

static void sub_dealloc(PyObject *self)
{
    SubObj *s = (SubObj *)self;
    skp_view_drop(&s->mv, &s->view); /* none alive: a view keeps its handle alive */
    if (!chan_inherited(&s->cs, SHMKIT_ROLE_SUBSCRIBER))
        shmkit_bus_unsubscribe(s->s);
    chanseg_drop(&s->cs);
    Py_XDECREF(s->name);
    Py_TYPE(self)->tp_free(self);
}

/* Subscriber.from_segment(segment, *, spin=None) */
static PyObject *sub_from_segment(PyObject *cls, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"segment", "spin", NULL};
    PyObject *sego, *spin = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|$O", kwl, &sego, &spin))
        return NULL;
    int64_t spin_ns = 0;
    int has_spin = spin_arg(spin, &spin_ns);
    if (has_spin < 0 || skp_seg_usable(sego) < 0)
        return NULL;
    shmkit_sub *h = NULL;
    int rc = shmkit_bus_subscribe(&h, ((skp_Seg *)sego)->seg);
    if (rc < 0)
        return skp_raise(rc);
    PyObject *empty = PyTuple_New(0);
    SubObj *s = empty ? (SubObj *)((PyTypeObject *)cls)->tp_new((PyTypeObject *)cls, empty, NULL)
                      : NULL;
    Py_XDECREF(empty);
    if (!s) {
        shmkit_bus_unsubscribe(h);
        return NULL;
    }
    s->s = h;
    s->cs.gen = skp_fork_gen;
    chanseg_use(&s->cs, sego);
    if (has_spin)
        shmkit_sub_set_spin(h, spin_ns);
    s->name = ((skp_Seg *)sego)->name;
    Py_INCREF(s->name);
    return (PyObject *)s;
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
    if (chan_inherited(&s->cs, SHMKIT_ROLE_SUBSCRIBER)) {
        inherited_error();
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
    if (chan_inherited(&s->cs, SHMKIT_ROLE_SUBSCRIBER))
        return inherited_error();
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
    if (!strcmp(what, "segment"))
        return chanseg_get(self, &s->cs, shmkit_sub_seg(s->s), s->name);
    if (!strcmp(what, "created"))
        return PyBool_FromLong(shmkit_seg_created(shmkit_sub_seg(s->s)) == 1);
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
    {"from_segment", (PyCFunction)(void (*)(void))sub_from_segment,
     METH_CLASS | METH_VARARGS | METH_KEYWORDS,
     "Subscriber.from_segment(segment, *, spin=None) -> Subscriber\n\n"
     "Joins the bus in SEGMENT, an open shmkit.Segment (a parent's bus .segment inherited\n"
     "across os.fork(), a memfd received as a descriptor). SEGMENT stays open while the\n"
     "subscriber is."},
    {"__enter__", sub_enter, METH_NOARGS, NULL},
    {"__exit__", sub_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef sub_getset[] = {
    {"closed", sub_get, NULL, "True once closed.", "closed"},
    {"name", sub_get, NULL, "The segment's name.", "name"},
    {"lost", sub_get, NULL, "Messages lost since joining.", "lost"},
    {"seq", sub_get, NULL, "Sequence number of the last message received.", "seq"},
    {"created", sub_get, NULL, "True if this process created the bus.", "created"},
    {"segment", sub_get, NULL, "The Segment the bus lives in (closed with the subscriber).",
     "segment"},
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
    .tp_doc = "Subscriber(name, *, create=False, slots=0, msg_max=0, max_subs=0, lossy=False,\n"
              "           timeout=None, spin=None, kind=None, mode=None, key=None, ftok=None,\n"
              "           private=False)\n\n"
              "Joins the bus NAME as a new subscriber with one call (shmkit_sub_join): with\n"
              "create=True it creates the bus if missing, with the geometry of Bus (slots,\n"
              "msg_max, max_subs, lossy: used when creating, checked when non-zero otherwise:\n"
              "GeometryError). timeout: how long to wait for another process to make it (None\n"
              "or 0: try once; negative: no limit).\n"
              "Its first message is the next one published. recv(), recv_msg(), peek()/\n"
              "release(); `for msg in sub:` ends when the publisher closes.",
};
