/*
 * _rpc.c - request/response from Python: RpcServer, RpcClient and the Request a server holds.
 *
 * Both handles open by name with one call (shmkit_rpc_server_open / _client_open, GIL
 * released). A server's recv() lends a Request whose .data is a read-only view of the request
 * in the client's slot, valid until the request is answered (reply, or reply_loan + commit).
 * A client's call() copies both ways; request()/commit() and response()/release() lend the
 * slot's areas instead. Every view is ended (released, or the call refused with
 * ViewsAliveError while a slice or numpy array of it lives) before the library may reuse its
 * memory, so a stale view raises instead of reading someone else's bytes.
 *
 * A view's exporter holds the Request (or client) that lent it, which holds the server: the
 * mapping outlives every view, and no reference cycle forms (the handles know their views
 * by weak reference only).
 */
#include "_shmkit.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define RPC_DEFAULT_MSG 4096 /* max_request / max_response of an endpoint created without */

typedef struct ReqObj_ ReqObj;

typedef struct {
    PyObject_HEAD
    shmkit_rpc_server *s; /* NULL once closed */
    unsigned gen;         /* skp_fork_gen at open: another value = inherited across fork */
    int busy;             /* a call without the GIL is in flight */
    ReqObj *reqs;         /* requests taken and not answered (borrowed: each unlinks itself) */
    ReqObj *loan;         /* the request whose reply loan is open, or NULL */
    PyObject *name;
} SrvObj;

struct ReqObj_ {
    PyObject_HEAD
    SrvObj *srv; /* strong */
    struct shmkit_rpc_request q;
    int done;        /* answered, or its server closed */
    PyObject *mv;    /* weak reference to the .data memoryview */
    skp_View *view;  /* its exporter (borrowed, cleared when it dies) */
    PyObject *lmv;   /* the reply loan's memoryview (weak) */
    skp_View *lview;
    size_t loan_len;
    ReqObj *next, **pprev;
};

typedef struct {
    PyObject_HEAD
    shmkit_rpc_client *c;
    unsigned gen;
    int busy;
    int loaned;      /* request() lent the request area */
    size_t loan_len;
    int lent;        /* response() lent the response area */
    PyObject *rqmv;  /* the request loan's memoryview (weak) */
    skp_View *rqview;
    PyObject *rsmv;  /* the response's memoryview (weak) */
    skp_View *rsview;
    PyObject *name;
} CliObj;

static PyTypeObject ReqType;

static PyObject *inherited(void)
{
    return skp_raise_msg(-EBADF, "an RPC handle inherited across fork: its server or client "
                                 "slot is the parent's (open one here)");
}

static PyObject *busy_err(void)
{
    return skp_raise_msg(-EBUSY, "another thread is using this handle");
}

/* ------------------------------------------------------------------ opening */

struct ocall {
    int server;
    struct shmkit_opts o;
    struct shmkit_rpc_config cfg;
    void *h;
};

static int open_fn(void *ctx, int64_t t)
{
    struct ocall *c = ctx;
    c->cfg.timeout_ns = t;
    return c->server ? shmkit_rpc_server_open((shmkit_rpc_server **)&c->h, &c->o, &c->cfg)
                     : shmkit_rpc_client_open((shmkit_rpc_client **)&c->h, &c->o, &c->cfg);
}

static int size_conv(PyObject *o, void *out)
{
    unsigned long long v = PyLong_AsUnsignedLongLong(o);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_ValueError, "a size must be >= 0 and fit 64 bits");
        }
        return 0;
    }
    *(unsigned long long *)out = v;
    return 1;
}

/* Opens the server or client of CTOR's arguments into *H. 0 or -1 with an exception. */
static int rpc_open(int server, PyObject *args, PyObject *kw, void **h, PyObject **namep)
{
    static char *kwl[] = {"name",    "create", "max_request", "max_response", "max_clients",
                          "timeout", "spin",   "kind",        "mode",         "key",
                          "ftok",    "private", NULL};
    PyObject *name, *timeout = Py_None, *spin = Py_None, *kind = Py_None, *mode = Py_None,
                    *key = Py_None, *ftok = Py_None;
    int create = server, priv = 0;
    unsigned long long mreq = 0, mresp = 0, mcli = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|p$O&O&O&OOOOOOp", kwl, &name, &create,
                                     size_conv, &mreq, size_conv, &mresp, size_conv, &mcli,
                                     &timeout, &spin, &kind, &mode, &key, &ftok, &priv))
        return -1;
    if (mcli > SHMKIT_RPC_MAX_CLIENTS)
        return skp_raise_msg(-EINVAL, "max_clients above 4096"), -1;
    int64_t tmo = 0, spin_ns = 0;
    if (timeout != Py_None && skp_timeout(timeout, &tmo) < 0)
        return -1;
    if (spin != Py_None && skp_timeout(spin, &spin_ns) < 0)
        return -1;
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    struct ocall c;
    memset(&c, 0, sizeof c);
    c.server = server;
    int rc = -1;
    if (skp_opts_from(name, kind, mode, key, ftok, priv, &c.o, keep) < 0)
        goto out;
    if (create)
        c.o.flags |= SHMKIT_CREATE;
    c.cfg.max_request = mreq;
    c.cfg.max_response = mresp;
    c.cfg.max_clients = (uint32_t)mcli;
    c.cfg.spin_ns = spin != Py_None ? (spin_ns < 0 ? -1 : spin_ns ? spin_ns : 1) : 0;
    /* a size the caller did not give: the binding's default applies to an endpoint this
     * call creates, an existing one is taken as it is */
    int dreq = create && !mreq, dresp = create && !mresp;
    if (dreq)
        c.cfg.max_request = RPC_DEFAULT_MSG;
    if (dresp)
        c.cfg.max_response = RPC_DEFAULT_MSG;
    int e = skp_join_wait(open_fn, &c, tmo);
    if (e == SHMKIT_EGEOMETRY && (dreq || dresp)) {
        if (dreq)
            c.cfg.max_request = 0;
        if (dresp)
            c.cfg.max_response = 0;
        c.o.flags &= ~(unsigned)SHMKIT_CREATE;
        e = skp_block(open_fn, &c, 0);
    }
    if (e < 0) {
        if (e == SHMKIT_EGEOMETRY)
            skp_raise_msg(e, "the endpoint exists with smaller max_request / max_response or "
                             "another max_clients");
        else if (e != SKP_PYERR)
            skp_raise(e);
        goto out;
    }
    *h = c.h;
    Py_INCREF(name);
    Py_XSETREF(*namep, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static PyObject *stats_of(shmkit_seg *seg)
{
    struct shmkit_rpc_stats st;
    int rc = shmkit_rpc_stats(seg, &st);
    if (rc < 0)
        return skp_raise(rc);
    return Py_BuildValue("{s:K,s:K,s:I,s:I,s:I,s:I,s:i,s:O,s:K,s:K,s:K,s:K,s:K,s:K}", "max_request",
                         (unsigned long long)st.max_request, "max_response",
                         (unsigned long long)st.max_response, "max_clients", st.max_clients,
                         "clients", st.clients, "pending", st.pending, "serving", st.serving,
                         "server_pid", st.server_pid, "server_alive",
                         st.server_alive ? Py_True : Py_False, "calls",
                         (unsigned long long)st.calls, "replies",
                         (unsigned long long)st.replies, "takeovers",
                         (unsigned long long)st.takeovers, "server_waits",
                         (unsigned long long)st.server_waits, "lat_samples",
                         (unsigned long long)st.lat_samples, "lat_sum_ns",
                         (unsigned long long)st.lat_sum_ns);
}

/* ================================================================== Request */

static void req_unlink(ReqObj *q)
{
    if (q->pprev) {
        *q->pprev = q->next;
        if (q->next)
            q->next->pprev = q->pprev;
        q->next = NULL;
        q->pprev = NULL;
    }
}

/* Ends Q's views before its memory may change hands: 0, or -1 (ViewsAliveError). */
static int req_end_views(ReqObj *q)
{
    return skp_view_end(&q->mv, &q->view) < 0 || skp_view_end(&q->lmv, &q->lview) < 0 ? -1 : 0;
}

static void req_dealloc(PyObject *self)
{
    ReqObj *q = (ReqObj *)self;
    /* no view can be alive: each holds this object */
    skp_view_drop(&q->mv, &q->view);
    skp_view_drop(&q->lmv, &q->lview);
    req_unlink(q);
    if (q->srv && q->srv->loan == q)
        q->srv->loan = NULL;
    Py_XDECREF(q->srv);
    Py_TYPE(self)->tp_free(self);
}

static PyObject *req_answered(void)
{
    return skp_raise_msg(-EINVAL, "the request was answered (or its server closed)");
}

static PyObject *req_get_data(PyObject *self, void *unused)
{
    (void)unused;
    ReqObj *q = (ReqObj *)self;
    if (q->done)
        return req_answered();
    if (q->mv) {
        PyObject *mv = PyWeakref_GetObject(q->mv);
        if (mv && mv != Py_None) {
            Py_INCREF(mv);
            return mv;
        }
        Py_CLEAR(q->mv);
    }
    if (q->view) { /* the memoryview died, a slice of it lives: a new one, same exporter */
        PyObject *mv = PyMemoryView_FromObject((PyObject *)q->view);
        if (!mv)
            return NULL;
        q->mv = PyWeakref_NewRef(mv, NULL);
        if (!q->mv) {
            Py_DECREF(mv);
            return NULL;
        }
        return mv;
    }
    return skp_view_new(self, (void *)q->q.data, q->q.len, 1, &q->view, &q->mv);
}

static PyObject *req_get(PyObject *self, void *what)
{
    ReqObj *q = (ReqObj *)self;
    if (!strcmp(what, "client"))
        return PyLong_FromUnsignedLong(q->q.client);
    if (!strcmp(what, "answered"))
        return PyBool_FromLong(q->done);
    Py_INCREF(q->srv);
    return (PyObject *)q->srv;
}

static Py_ssize_t req_len(PyObject *self)
{
    return (Py_ssize_t)((ReqObj *)self)->q.len;
}

static PyObject *req_bytes(PyObject *self, PyObject *unused)
{
    (void)unused;
    ReqObj *q = (ReqObj *)self;
    if (q->done)
        return req_answered();
    return PyBytes_FromStringAndSize(q->q.data, (Py_ssize_t)q->q.len);
}

static PyObject *req_repr(PyObject *self)
{
    ReqObj *q = (ReqObj *)self;
    return PyUnicode_FromFormat("<shmkit.Request client %u, %zu bytes%s>", q->q.client, q->q.len,
                                q->done ? ", answered" : "");
}

static PyGetSetDef req_getset[] = {
    {"data", req_get_data, NULL,
     "A read-only memoryview of the request bytes, in the client's slot (no copy); valid until\n"
     "the request is answered, then it raises ValueError (bytes(req) copies).",
     NULL},
    {"client", req_get, NULL, "The client's slot number.", "client"},
    {"answered", req_get, NULL, "True once answered (or its server closed).", "answered"},
    {"server", req_get, NULL, "The RpcServer that took it.", "server"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef req_methods[] = {
    {"__bytes__", req_bytes, METH_NOARGS, "A copy of the request bytes."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods req_as_seq = {.sq_length = req_len};

static PyTypeObject ReqType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit.Request",
    .tp_basicsize = sizeof(ReqObj),
    .tp_dealloc = req_dealloc,
    .tp_repr = req_repr,
    .tp_getset = req_getset,
    .tp_methods = req_methods,
    .tp_as_sequence = &req_as_seq,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A request an RpcServer took with recv(): .data (a read-only memoryview, no copy),\n"
              ".client (slot number), len(req), bytes(req). Answer it with server.reply(req,\n"
              "data) or server.reply_loan(req, n) + server.commit(req). Several may be held\n"
              "at once and answered in any order. A request dropped unanswered leaves its\n"
              "client waiting until its timeout (or until it gives up).",
};

/* ================================================================== RpcServer */

#define SRV_OPEN(s)                                                                                \
    do {                                                                                           \
        if (!(s)->s)                                                                               \
            return skp_closed();                                                                   \
        if ((s)->busy)                                                                             \
            return busy_err();                                                                     \
        if ((s)->gen != skp_fork_gen)                                                              \
            return inherited();                                                                    \
    } while (0)

static int srv_init(PyObject *self, PyObject *args, PyObject *kw)
{
    SrvObj *s = (SrvObj *)self;
    if (s->s) {
        PyErr_SetString(PyExc_RuntimeError, "RpcServer already open");
        return -1;
    }
    void *h = NULL;
    if (rpc_open(1, args, kw, &h, &s->name) < 0)
        return -1;
    s->s = h;
    s->gen = skp_fork_gen;
    return 0;
}

static int srv_do_close(SrvObj *s)
{
    if (!s->s)
        return 0;
    if (s->busy) {
        busy_err();
        return -1;
    }
    for (ReqObj *q = s->reqs; q; q = q->next)
        if (req_end_views(q) < 0)
            return -1;
    while (s->reqs) {
        ReqObj *q = s->reqs;
        q->done = 1;
        req_unlink(q);
    }
    s->loan = NULL;
    /* an inherited handle is the parent's server: the child only forgets it */
    if (s->gen == skp_fork_gen)
        shmkit_rpc_server_close(s->s);
    s->s = NULL;
    return 0;
}

static void srv_dealloc(PyObject *self)
{
    SrvObj *s = (SrvObj *)self;
    /* no request can be alive here: each holds this object */
    if (s->s && s->gen == skp_fork_gen)
        shmkit_rpc_server_close(s->s);
    Py_XDECREF(s->name);
    Py_TYPE(self)->tp_free(self);
}

static int recv_fn(void *ctx, int64_t t)
{
    void **a = ctx;
    return shmkit_rpc_recv(a[0], a[1], t);
}

static PyObject *srv_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    SrvObj *s = (SrvObj *)self;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    SRV_OPEN(s);
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    ReqObj *q = PyObject_New(ReqObj, &ReqType);
    if (!q)
        return NULL;
    q->srv = NULL;
    q->done = 1;
    q->mv = q->lmv = NULL;
    q->view = q->lview = NULL;
    q->loan_len = 0;
    q->next = NULL;
    q->pprev = NULL;
    memset(&q->q, 0, sizeof q->q);
    void *a[2] = {s->s, &q->q};
    s->busy = 1;
    int rc = skp_try_block(recv_fn, a, t);
    s->busy = 0;
    if (rc < 0) {
        Py_DECREF(q);
        return rc == SKP_PYERR ? NULL : skp_raise(rc);
    }
    Py_INCREF(s);
    q->srv = s;
    q->done = 0;
    q->next = s->reqs;
    if (q->next)
        q->next->pprev = &q->next;
    q->pprev = &s->reqs;
    s->reqs = q;
    return (PyObject *)q;
}

/* REQ (an argument) as one of S's requests not answered yet; NULL with an exception. */
static ReqObj *held_req(SrvObj *s, PyObject *req)
{
    if (!PyObject_TypeCheck(req, &ReqType)) {
        PyErr_Format(PyExc_TypeError, "a Request, not %.80s", Py_TYPE(req)->tp_name);
        return NULL;
    }
    ReqObj *q = (ReqObj *)req;
    if (q->srv != s) {
        skp_raise_msg(-EINVAL, "a request of another server");
        return NULL;
    }
    if (q->done) {
        req_answered();
        return NULL;
    }
    return q;
}

/* After an answer attempt with result RC: the request is over unless RC says it is still
 * held (-EINVAL, SHMKIT_ETOOBIG). Returns None or raises. */
static PyObject *answered(SrvObj *s, ReqObj *q, int rc)
{
    if (rc != -EINVAL && rc != SHMKIT_ETOOBIG) {
        q->done = 1;
        req_unlink(q);
        if (s->loan == q)
            s->loan = NULL;
    }
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *srv_reply(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"request", "data", NULL};
    SrvObj *s = (SrvObj *)self;
    PyObject *req;
    Py_buffer b;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "Oy*", kwl, &req, &b))
        return NULL;
    PyObject *res = NULL;
    ReqObj *q;
    if (!s->s)
        skp_closed();
    else if (s->busy)
        busy_err();
    else if (s->gen != skp_fork_gen)
        inherited();
    else if ((q = held_req(s, req)) != NULL) {
        /* DATA may be a view of the request itself (an echo): copy it out, and drop our
         * buffer of it, before the views end (the client may reuse the slot after) */
        int overlap = q->q.len && (const char *)b.buf < (const char *)q->q.data + q->q.len &&
                      (const char *)b.buf + b.len > (const char *)q->q.data;
        PyObject *copy = NULL;
        if (overlap) {
            copy = PyBytes_FromStringAndSize(b.buf, b.len);
            PyBuffer_Release(&b);
            b.obj = NULL;
            if (!copy)
                return NULL;
        }
        const void *src = copy ? PyBytes_AS_STRING(copy) : b.buf;
        size_t n = copy ? (size_t)PyBytes_GET_SIZE(copy) : (size_t)b.len;
        if (req_end_views(q) == 0)
            res = answered(s, q, shmkit_rpc_reply_send(s->s, &q->q, src, n));
        Py_XDECREF(copy);
    }
    if (b.obj)
        PyBuffer_Release(&b);
    return res;
}

static PyObject *srv_reply_loan(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"request", "size", NULL};
    SrvObj *s = (SrvObj *)self;
    PyObject *req;
    Py_ssize_t n;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "On", kwl, &req, &n))
        return NULL;
    SRV_OPEN(s);
    ReqObj *q = held_req(s, req);
    if (!q)
        return NULL;
    if (n < 0)
        return skp_raise_msg(-EINVAL, "size must be >= 0");
    if (s->loan)
        return skp_raise_msg(-EINVAL, "a reply loan is open: commit it first");
    void *p;
    int rc = shmkit_rpc_reply_loan(s->s, &q->q, (size_t)n, &p);
    if (rc < 0)
        return skp_raise(rc);
    PyObject *mv = skp_view_new((PyObject *)q, p, (size_t)n, 0, &q->lview, &q->lmv);
    if (!mv)
        return NULL; /* the library's loan is replaced by the next one */
    s->loan = q;
    q->loan_len = (size_t)n;
    return mv;
}

static PyObject *srv_commit(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"request", "length", NULL};
    SrvObj *s = (SrvObj *)self;
    PyObject *req, *lo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwl, &req, &lo))
        return NULL;
    SRV_OPEN(s);
    ReqObj *q = held_req(s, req);
    if (!q)
        return NULL;
    if (s->loan != q)
        return skp_raise_msg(-EINVAL, "no reply loan open for this request");
    size_t n = q->loan_len;
    if (lo != Py_None) {
        Py_ssize_t v = PyLong_AsSsize_t(lo);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v < 0 || (size_t)v > q->loan_len)
            return skp_raise_msg(-EINVAL, "length beyond the loan");
        n = (size_t)v;
    }
    if (req_end_views(q) < 0)
        return NULL;
    return answered(s, q, shmkit_rpc_reply_commit(s->s, &q->q, n));
}

static PyObject *srv_fileno(PyObject *self, PyObject *unused)
{
    (void)unused;
    SrvObj *s = (SrvObj *)self;
    SRV_OPEN(s);
    int fd = shmkit_rpc_server_fd(s->s);
    return fd < 0 ? skp_raise(fd) : PyLong_FromLong(fd);
}

static PyObject *srv_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (srv_do_close((SrvObj *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *srv_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    SrvObj *s = (SrvObj *)self;
    if (!s->s)
        return skp_closed();
    int rc = shmkit_seg_remove(shmkit_rpc_server_seg(s->s));
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *srv_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    SrvObj *s = (SrvObj *)self;
    if (!s->s)
        return skp_closed();
    return stats_of(shmkit_rpc_server_seg(s->s));
}

static PyObject *srv_set_spin(PyObject *self, PyObject *a)
{
    SrvObj *s = (SrvObj *)self;
    int64_t ns;
    if (!s->s)
        return skp_closed();
    if (skp_timeout(a, &ns) < 0)
        return NULL;
    shmkit_rpc_server_set_spin(s->s, ns);
    Py_RETURN_NONE;
}

static PyObject *srv_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((SrvObj *)self)->s)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *srv_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (srv_do_close((SrvObj *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *srv_get(PyObject *self, void *what)
{
    SrvObj *s = (SrvObj *)self;
    if (!strcmp(what, "closed"))
        return PyBool_FromLong(!s->s);
    if (!strcmp(what, "name")) {
        PyObject *n = s->name ? s->name : Py_None;
        Py_INCREF(n);
        return n;
    }
    if (!s->s)
        return skp_closed();
    if (!strcmp(what, "created"))
        return PyBool_FromLong(shmkit_seg_created(shmkit_rpc_server_seg(s->s)) == 1);
    if (!strcmp(what, "pending")) {
        Py_ssize_t n = 0;
        for (ReqObj *q = s->reqs; q; q = q->next)
            n++;
        return PyLong_FromSsize_t(n);
    }
    struct shmkit_rpc_stats st;
    int rc = shmkit_rpc_stats(shmkit_rpc_server_seg(s->s), &st);
    if (rc < 0)
        return skp_raise(rc);
    if (!strcmp(what, "max_request"))
        return PyLong_FromUnsignedLongLong(st.max_request);
    if (!strcmp(what, "max_response"))
        return PyLong_FromUnsignedLongLong(st.max_response);
    return PyLong_FromUnsignedLong(st.max_clients);
}

#define KW(f) (PyCFunction)(void (*)(void))(f), METH_VARARGS | METH_KEYWORDS

static PyMethodDef srv_methods[] = {
    {"recv", KW(srv_recv),
     "recv(timeout=None) -> Request\n\nThe next request (round-robin over the clients). Waits up\n"
     "to TIMEOUT seconds (None: no limit; 0: try once, WouldBlockError if none - the call an\n"
     "event loop makes when fileno() is readable, until it raises WouldBlockError)."},
    {"reply", KW(srv_reply),
     "reply(request, data)\n\nAnswers REQUEST with a copy of DATA (bytes-like). Raises\n"
     "PeerDeadError if its client is gone (closed or died: the answer is dropped; a server\n"
     "loop goes on), TooBigError above max_response (the request is still held)."},
    {"reply_loan", KW(srv_reply_loan),
     "reply_loan(request, size) -> memoryview\n\nZero-copy answer: a writable view of SIZE bytes\n"
     "of REQUEST's response area; fill it, then commit(request). request.data stays readable\n"
     "until the commit."},
    {"commit", KW(srv_commit),
     "commit(request, length=None)\n\nPublishes the loaned answer (LENGTH bytes of it; None: all)."},
    {"fileno", srv_fileno, METH_NOARGS,
     "fileno() -> int\n\nA descriptor for select/poll/selectors/asyncio, readable when a request\n"
     "may be pending - once recv(timeout=0) raised WouldBlockError (that arms it). Owned by\n"
     "the server: do not close it."},
    {"close", srv_close, METH_NOARGS,
     "close()\n\nDetaches: pending and later calls get ClosedError until a server opens again.\n"
     "Requests held unanswered are dropped (their views must be released first)."},
    {"remove", srv_remove, METH_NOARGS, "remove()\n\nRemoves the endpoint's name."},
    {"stats", srv_stats, METH_NOARGS, "stats() -> dict\n\nThe endpoint's counters (shmkit info)."},
    {"set_spin", srv_set_spin, METH_O, "set_spin(seconds)\n\nSpin time before sleeping."},
    {"__enter__", srv_enter, METH_NOARGS, NULL},
    {"__exit__", srv_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef srv_getset[] = {
    {"closed", srv_get, NULL, "True once closed.", "closed"},
    {"name", srv_get, NULL, "The endpoint's name.", "name"},
    {"created", srv_get, NULL, "True if this process created the endpoint.", "created"},
    {"held", srv_get, NULL, "Requests taken and not answered yet.", "pending"},
    {"max_request", srv_get, NULL, "The largest request.", "max_request"},
    {"max_response", srv_get, NULL, "The largest response.", "max_response"},
    {"max_clients", srv_get, NULL, "Client slots.", "max_clients"},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject skp_RpcServerType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._RpcServer",
    .tp_basicsize = sizeof(SrvObj),
    .tp_new = PyType_GenericNew,
    .tp_init = srv_init,
    .tp_dealloc = srv_dealloc,
    .tp_methods = srv_methods,
    .tp_getset = srv_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "RpcServer(name, create=True, *, max_request=0, max_response=0, max_clients=0,\n"
        "          timeout=None, spin=None, kind=None, mode=None, key=None, ftok=None,\n"
        "          private=False)\n\n"
        "The server of a request/response endpoint (shmkit_rpc_server_open): one server, many\n"
        "clients (C or Python), each call matched to its answer. create=True (the default)\n"
        "creates the endpoint if missing - with max_request / max_response (default 4096\n"
        "each) and max_clients (default 64) - and attaches otherwise (the sizes asked for are\n"
        "checked: GeometryError); create=False waits up to TIMEOUT seconds for another process\n"
        "to make it (None or 0: try once). BusyError if a live server holds it; a dead one's\n"
        "is taken over.\n"
        "recv(timeout) -> Request, reply(req, data) (or reply_loan + commit), serve(handler)\n"
        "for the loop; fileno() for event loops. Every wait releases the GIL; Ctrl-C raises\n"
        "KeyboardInterrupt.",
};

/* ================================================================== RpcClient */

#define CLI_OPEN(c)                                                                                \
    do {                                                                                           \
        if (!(c)->c)                                                                               \
            return skp_closed();                                                                   \
        if ((c)->busy)                                                                             \
            return busy_err();                                                                     \
        if ((c)->gen != skp_fork_gen)                                                              \
            return inherited();                                                                    \
    } while (0)

static int cli_init(PyObject *self, PyObject *args, PyObject *kw)
{
    CliObj *c = (CliObj *)self;
    if (c->c) {
        PyErr_SetString(PyExc_RuntimeError, "RpcClient already open");
        return -1;
    }
    void *h = NULL;
    if (rpc_open(0, args, kw, &h, &c->name) < 0)
        return -1;
    c->c = h;
    c->gen = skp_fork_gen;
    return 0;
}

static int cli_end_views(CliObj *c)
{
    return skp_view_end(&c->rqmv, &c->rqview) < 0 || skp_view_end(&c->rsmv, &c->rsview) < 0 ? -1
                                                                                           : 0;
}

static int cli_do_close(CliObj *c)
{
    if (!c->c)
        return 0;
    if (c->busy) {
        busy_err();
        return -1;
    }
    if (cli_end_views(c) < 0)
        return -1;
    if (c->gen == skp_fork_gen)
        shmkit_rpc_client_close(c->c);
    c->c = NULL;
    c->loaned = c->lent = 0;
    return 0;
}

static void cli_dealloc(PyObject *self)
{
    CliObj *c = (CliObj *)self;
    skp_view_drop(&c->rqmv, &c->rqview);
    skp_view_drop(&c->rsmv, &c->rsview);
    if (c->c && c->gen == skp_fork_gen)
        shmkit_rpc_client_close(c->c);
    Py_XDECREF(c->name);
    Py_TYPE(self)->tp_free(self);
}

struct ccall {
    shmkit_rpc_client *c;
    size_t len;
    void *p;
    const void *rp;
    size_t rlen;
};

static int loan_fn(void *ctx, int64_t t)
{
    struct ccall *k = ctx;
    return shmkit_rpc_request_loan(k->c, k->len, &k->p, t);
}

static int resp_fn(void *ctx, int64_t t)
{
    struct ccall *k = ctx;
    return shmkit_rpc_response_wait(k->c, &k->rp, &k->rlen, t);
}

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs FN with the GIL released (after a try with it when TRY), the handle marked busy.
 * 0, or -1 with an exception. */
static int cli_run(CliObj *c, skp_fn fn, struct ccall *k, int64_t t, int try)
{
    c->busy = 1;
    int rc = try ? skp_try_block(fn, k, t) : skp_block(fn, k, t);
    c->busy = 0;
    if (rc == SKP_PYERR)
        return -1;
    if (rc < 0) {
        skp_raise(rc);
        return -1;
    }
    return 0;
}

static PyObject *cli_state_err(CliObj *c)
{
    return skp_raise_msg(-EINVAL, c->loaned ? "a request loan is open: commit it first"
                                            : "a response is lent: release() it first");
}

/* Loans LEN bytes within T and copies BUF in and sends it. 0 or -1. */
static int cli_send_copy(CliObj *c, const void *buf, size_t len, int64_t t)
{
    struct ccall k = {c->c, len, NULL, NULL, 0};
    if (cli_run(c, loan_fn, &k, t, 1) < 0)
        return -1;
    if (len)
        memcpy(k.p, buf, len);
    shmkit_rpc_request_send(c->c, len);
    return 0;
}

static PyObject *cli_call(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"data", "timeout", NULL};
    CliObj *c = (CliObj *)self;
    Py_buffer b;
    PyObject *timeout = Py_None, *res = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O", kwl, &b, &timeout))
        return NULL;
    int64_t t;
    if (!c->c)
        skp_closed();
    else if (c->busy)
        busy_err();
    else if (c->gen != skp_fork_gen)
        inherited();
    else if (c->loaned || c->lent)
        cli_state_err(c);
    else if (skp_timeout(timeout, &t) == 0) {
        /* loan, copy, send, wait: a signal whose handler returns resumes the wait for the
         * same call (shmkit_rpc_call would have given it up and asked again) */
        int64_t deadline = t > 0 ? mono_ns() + t : 0;
        if (cli_send_copy(c, b.buf, (size_t)b.len, t) == 0) {
            if (t > 0) {
                t = deadline - mono_ns();
                if (t <= 0)
                    t = 1; /* the loan used it all: still look once, briefly */
            }
            struct ccall k = {c->c, 0, NULL, NULL, 0};
            if (cli_run(c, resp_fn, &k, t, 0) == 0) {
                res = PyBytes_FromStringAndSize(k.rp, (Py_ssize_t)k.rlen);
                shmkit_rpc_response_release(c->c);
            }
        }
    }
    PyBuffer_Release(&b);
    return res;
}

static PyObject *cli_send(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"data", "timeout", NULL};
    CliObj *c = (CliObj *)self;
    Py_buffer b;
    PyObject *timeout = Py_None, *res = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|O", kwl, &b, &timeout))
        return NULL;
    int64_t t;
    if (!c->c)
        skp_closed();
    else if (c->busy)
        busy_err();
    else if (c->gen != skp_fork_gen)
        inherited();
    else if (c->loaned || c->lent)
        cli_state_err(c);
    else if (skp_timeout(timeout, &t) == 0 && cli_send_copy(c, b.buf, (size_t)b.len, t) == 0) {
        res = Py_None;
        Py_INCREF(res);
    }
    PyBuffer_Release(&b);
    return res;
}

static PyObject *cli_request(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"size", "timeout", NULL};
    CliObj *c = (CliObj *)self;
    Py_ssize_t n;
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "n|O", kwl, &n, &timeout))
        return NULL;
    CLI_OPEN(c);
    if (c->loaned || c->lent)
        return cli_state_err(c);
    if (n < 0)
        return skp_raise_msg(-EINVAL, "size must be >= 0");
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return NULL;
    struct ccall k = {c->c, (size_t)n, NULL, NULL, 0};
    if (cli_run(c, loan_fn, &k, t, 1) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, k.p, (size_t)n, 0, &c->rqview, &c->rqmv);
    if (!mv) { /* give the loan back: an empty request would be sent; keep it lent instead */
        c->loaned = 1;
        c->loan_len = (size_t)n;
        return NULL;
    }
    c->loaned = 1;
    c->loan_len = (size_t)n;
    return mv;
}

static PyObject *cli_commit(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"length", NULL};
    CliObj *c = (CliObj *)self;
    PyObject *lo = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &lo))
        return NULL;
    CLI_OPEN(c);
    if (!c->loaned)
        return skp_raise_msg(-EINVAL, "no request loan open");
    size_t n = c->loan_len;
    if (lo != Py_None) {
        Py_ssize_t v = PyLong_AsSsize_t(lo);
        if (v == -1 && PyErr_Occurred())
            return NULL;
        if (v < 0 || (size_t)v > c->loan_len)
            return skp_raise_msg(-EINVAL, "length beyond the loan");
        n = (size_t)v;
    }
    if (skp_view_end(&c->rqmv, &c->rqview) < 0)
        return NULL;
    c->loaned = 0;
    int rc = shmkit_rpc_request_send(c->c, n);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

/* Waits for the response (GIL released); 0 with K set, or -1. */
static int cli_wait(CliObj *c, PyObject *timeout, struct ccall *k)
{
    if (!c->c) {
        skp_closed();
        return -1;
    }
    if (c->busy) {
        busy_err();
        return -1;
    }
    if (c->gen != skp_fork_gen) {
        inherited();
        return -1;
    }
    if (c->loaned || c->lent) {
        cli_state_err(c);
        return -1;
    }
    int64_t t;
    if (skp_timeout(timeout, &t) < 0)
        return -1;
    k->c = c->c;
    return cli_run(c, resp_fn, k, t, 1);
}

static PyObject *cli_response(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    CliObj *c = (CliObj *)self;
    struct ccall k = {NULL, 0, NULL, NULL, 0};
    if (cli_wait(c, timeout, &k) < 0)
        return NULL;
    PyObject *mv = skp_view_new(self, (void *)k.rp, k.rlen, 1, &c->rsview, &c->rsmv);
    if (!mv) {
        shmkit_rpc_response_release(c->c);
        return NULL;
    }
    c->lent = 1;
    return mv;
}

static PyObject *cli_recv(PyObject *self, PyObject *args, PyObject *kw)
{
    static char *kwl[] = {"timeout", NULL};
    PyObject *timeout = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwl, &timeout))
        return NULL;
    CliObj *c = (CliObj *)self;
    struct ccall k = {NULL, 0, NULL, NULL, 0};
    if (cli_wait(c, timeout, &k) < 0)
        return NULL;
    PyObject *b = PyBytes_FromStringAndSize(k.rp, (Py_ssize_t)k.rlen);
    if (b)
        shmkit_rpc_response_release(c->c); /* a failed copy keeps it: ask again */
    return b;
}

static PyObject *cli_release(PyObject *self, PyObject *unused)
{
    (void)unused;
    CliObj *c = (CliObj *)self;
    CLI_OPEN(c);
    if (!c->lent)
        return skp_raise_msg(-EINVAL, "no response lent");
    if (skp_view_end(&c->rsmv, &c->rsview) < 0)
        return NULL;
    c->lent = 0;
    shmkit_rpc_response_release(c->c);
    Py_RETURN_NONE;
}

static PyObject *cli_fileno(PyObject *self, PyObject *unused)
{
    (void)unused;
    CliObj *c = (CliObj *)self;
    CLI_OPEN(c);
    int fd = shmkit_rpc_client_fd(c->c);
    return fd < 0 ? skp_raise(fd) : PyLong_FromLong(fd);
}

static PyObject *cli_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (cli_do_close((CliObj *)self) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *cli_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    CliObj *c = (CliObj *)self;
    if (!c->c)
        return skp_closed();
    int rc = shmkit_seg_remove(shmkit_rpc_client_seg(c->c));
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *cli_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    CliObj *c = (CliObj *)self;
    if (!c->c)
        return skp_closed();
    return stats_of(shmkit_rpc_client_seg(c->c));
}

static PyObject *cli_set_spin(PyObject *self, PyObject *a)
{
    CliObj *c = (CliObj *)self;
    int64_t ns;
    if (!c->c)
        return skp_closed();
    if (skp_timeout(a, &ns) < 0)
        return NULL;
    shmkit_rpc_client_set_spin(c->c, ns);
    Py_RETURN_NONE;
}

static PyObject *cli_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((CliObj *)self)->c)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *cli_exit(PyObject *self, PyObject *args)
{
    (void)args;
    if (cli_do_close((CliObj *)self) < 0)
        return NULL;
    Py_RETURN_FALSE;
}

static PyObject *cli_get(PyObject *self, void *what)
{
    CliObj *c = (CliObj *)self;
    if (!strcmp(what, "closed"))
        return PyBool_FromLong(!c->c);
    if (!strcmp(what, "name")) {
        PyObject *n = c->name ? c->name : Py_None;
        Py_INCREF(n);
        return n;
    }
    if (!c->c)
        return skp_closed();
    if (!strcmp(what, "slot"))
        return PyLong_FromLong(shmkit_rpc_client_slot(c->c));
    if (!strcmp(what, "max_request"))
        return PyLong_FromSize_t(shmkit_rpc_max_request(c->c));
    return PyLong_FromSize_t(shmkit_rpc_max_response(c->c));
}

static PyMethodDef cli_methods[] = {
    {"call", KW(cli_call),
     "call(data, timeout=None) -> bytes\n\nSends DATA (bytes-like, up to max_request) and returns\n"
     "the response. TIMEOUT (seconds; None: no limit) covers the whole call: TimedOutError,\n"
     "PeerDeadError if the server died (noticed within ~20 ms), ClosedError if it closed."},
    {"send", KW(cli_send),
     "send(data, timeout=None)\n\nStarts a call with a copy of DATA; recv() or response() waits\n"
     "for its answer (the next send gives it up)."},
    {"request", KW(cli_request),
     "request(size, timeout=None) -> memoryview\n\nZero-copy request: a writable view of SIZE\n"
     "bytes of this client's request area; fill it, then commit(). The view raises ValueError\n"
     "after the commit."},
    {"commit", KW(cli_commit),
     "commit(length=None)\n\nSends the loaned request (LENGTH bytes of it; None: all)."},
    {"recv", KW(cli_recv),
     "recv(timeout=None) -> bytes\n\nThe response to the call sent last (a copy). timeout=0:\n"
     "try once (WouldBlockError: not yet; the event loop's call when fileno() is readable)."},
    {"response", KW(cli_response),
     "response(timeout=None) -> memoryview\n\nThe response in place (read-only, no copy), valid\n"
     "until release(); as recv() otherwise."},
    {"release", cli_release, METH_NOARGS, "release()\n\nEnds the loan of the response."},
    {"fileno", cli_fileno, METH_NOARGS,
     "fileno() -> int\n\nA descriptor for select/poll/selectors/asyncio, readable when the\n"
     "response to the pending call may be there or the server died - once recv(timeout=0)\n"
     "raised WouldBlockError (that arms it). Owned by the client: do not close it."},
    {"close", cli_close, METH_NOARGS,
     "close()\n\nFrees the slot (a request not yet taken is withdrawn)."},
    {"remove", cli_remove, METH_NOARGS, "remove()\n\nRemoves the endpoint's name."},
    {"stats", cli_stats, METH_NOARGS, "stats() -> dict\n\nThe endpoint's counters."},
    {"set_spin", cli_set_spin, METH_O, "set_spin(seconds)\n\nSpin time before sleeping."},
    {"__enter__", cli_enter, METH_NOARGS, NULL},
    {"__exit__", cli_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef cli_getset[] = {
    {"closed", cli_get, NULL, "True once closed.", "closed"},
    {"name", cli_get, NULL, "The endpoint's name.", "name"},
    {"slot", cli_get, NULL, "This client's slot number.", "slot"},
    {"max_request", cli_get, NULL, "The largest request.", "max_request"},
    {"max_response", cli_get, NULL, "The largest response.", "max_response"},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject skp_RpcClientType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit.RpcClient",
    .tp_basicsize = sizeof(CliObj),
    .tp_new = PyType_GenericNew,
    .tp_init = cli_init,
    .tp_dealloc = cli_dealloc,
    .tp_methods = cli_methods,
    .tp_getset = cli_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc =
        "RpcClient(name, create=False, *, max_request=0, max_response=0, max_clients=0,\n"
        "          timeout=None, spin=None, kind=None, mode=None, key=None, ftok=None,\n"
        "          private=False)\n\n"
        "A client of a request/response endpoint (shmkit_rpc_client_open), served by a C or\n"
        "Python server. Waits up to TIMEOUT seconds for the endpoint to be made (None or 0:\n"
        "try once: NotFoundError; none within TIMEOUT: TimedOutError); create=True makes it if missing (then sizes as\n"
        "RpcServer's). max_request / max_response given: the endpoint's must be at least\n"
        "that (GeometryError). BusyError if every slot is held by a live client.\n"
        "call(data, timeout) -> bytes; zero-copy: request(n) + commit(), response() +\n"
        "release(); send() + recv() / fileno() for event loops. A call pending when the server\n"
        "dies raises PeerDeadError. Every wait releases the GIL; Ctrl-C raises\n"
        "KeyboardInterrupt.",
};

int skp_add_rpc_types(PyObject *m)
{
    if (PyType_Ready(&ReqType) < 0 || PyType_Ready(&skp_RpcServerType) < 0 ||
        PyType_Ready(&skp_RpcClientType) < 0 ||
        PyModule_AddObjectRef(m, "Request", (PyObject *)&ReqType) < 0 ||
        PyModule_AddObjectRef(m, "_RpcServer", (PyObject *)&skp_RpcServerType) < 0 ||
        PyModule_AddObjectRef(m, "RpcClient", (PyObject *)&skp_RpcClientType) < 0)
        return -1;
    return 0;
}
