/*
 * _table.c - the record table (shmkit_table) from Python, in bytes; the shmkit package's
 * Table adds struct formats and numpy dtypes on top.
 */
#include "_shmkit.h"

#include <errno.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    shmkit_table *t;
    int readonly; /* mapped read-only, or joined as a reader: claim and write give -EBADF */
    int busy;
    PyObject *name;
} TableObj;

struct tjoin {
    shmkit_table *t;
    struct shmkit_opts o;
    struct shmkit_table_config cfg;
};

static int tjoin_fn(void *ctx, int64_t t)
{
    struct tjoin *c = ctx;
    c->cfg.timeout_ns = t;
    return shmkit_table_join(&c->t, &c->o, &c->cfg);
}

static int table_init(PyObject *self, PyObject *args, PyObject *kw)
{
    TableObj *t = (TableObj *)self;
    static char *kwl[] = {"name", "rec_size", "count", "type_id", "create", "readonly",
                          "timeout", "kind", "mode", "key", "ftok", "private", "role", NULL};
    PyObject *name, *timeout = Py_None, *kind = Py_None, *mode = Py_None, *key = Py_None,
                    *ftok = Py_None, *rolo = NULL;
    unsigned int rec_size = 0, count = 0;
    unsigned long long type_id = 0;
    int create = 0, ro = 0, priv = 0;
    if (t->t) {
        PyErr_SetString(PyExc_RuntimeError, "Table already open");
        return -1;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|IIKppOOOOOpO", kwl, &name, &rec_size, &count,
                                     &type_id, &create, &ro, &timeout, &kind, &mode, &key, &ftok,
                                     &priv, &rolo))
        return -1;
    struct tjoin c;
    memset(&c, 0, sizeof c);
    c.cfg.role = SHMKIT_ROLE_WRITER;
    if (rolo && rolo != Py_None) {
        const char *r = PyUnicode_Check(rolo) ? PyUnicode_AsUTF8(rolo) : NULL;
        if (r && !strcmp(r, "reader"))
            c.cfg.role = SHMKIT_ROLE_READER;
        else if (!r || strcmp(r, "writer")) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "role must be 'writer', 'reader' or None");
            return -1;
        }
    }
    int64_t tmo = 0; /* None: try once */
    if (timeout != Py_None && skp_timeout(timeout, &tmo) < 0)
        return -1;
    if (create && ro) {
        skp_raise_msg(-EINVAL, "create and readonly together");
        return -1;
    }
    PyObject *keep = PyList_New(0);
    if (!keep)
        return -1;
    int rc = -1;
    if (skp_opts_from(name, kind, mode, key, ftok, priv, &c.o, keep) < 0)
        goto out;
    if (create || c.o.kind == SHMKIT_ANON || c.o.kind == SHMKIT_MEMFD || c.o.sysv_private)
        c.o.flags |= SHMKIT_CREATE; /* no name to attach by: always created */
    if (ro)
        c.o.flags |= SHMKIT_RDONLY;
    c.cfg.rec_size = rec_size;
    c.cfg.count = count;
    c.cfg.type_id = type_id;
    int e = skp_join_wait(tjoin_fn, &c, tmo);
    if (e == SKP_PYERR)
        goto out;
    if (e < 0) {
        if (e == SHMKIT_EGEOMETRY)
            skp_raise_msg(e, "the table exists with another record size, count or type id");
        else if (e == SHMKIT_EBADSIZE && (c.o.flags & SHMKIT_CREATE) && (!rec_size || !count))
            skp_raise_msg(e, "creating a table needs fmt (or dtype) and count");
        else
            skp_raise(e);
        goto out;
    }
    t->t = c.t;
    t->readonly = ro || c.cfg.role == SHMKIT_ROLE_READER;
    Py_INCREF(name);
    Py_XSETREF(t->name, name);
    rc = 0;
out:
    Py_DECREF(keep);
    return rc;
}

static void table_dealloc(PyObject *self)
{
    TableObj *t = (TableObj *)self;
    shmkit_table_close(t->t);
    Py_XDECREF(t->name);
    Py_TYPE(self)->tp_free(self);
}

#define TABLE_OPEN(t)                                                                              \
    do {                                                                                           \
        if (!(t)->t)                                                                               \
            return skp_closed();                                                                   \
        if ((t)->busy)                                                                             \
            return skp_raise_msg(-EBUSY, "another thread is using this table");                   \
    } while (0)

static int index_of(TableObj *t, PyObject *o, uint32_t *idx)
{
    Py_ssize_t i = PyNumber_AsSsize_t(o, PyExc_OverflowError);
    if (i == -1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return -1;
        PyErr_Clear();
        skp_raise_msg(-ERANGE, "record index out of range");
        return -1;
    }
    uint32_t n = shmkit_table_count(t->t);
    if (i < 0)
        i += n; /* as a sequence: -1 is the last record */
    if (i < 0 || (size_t)i >= n) {
        skp_raise_msg(-ERANGE, "record index out of range");
        return -1;
    }
    *idx = (uint32_t)i;
    return 0;
}

struct tread {
    shmkit_table *t;
    uint32_t idx;
    void *dst;
    size_t len;
    uint64_t version;
};

static int tread_fn(void *ctx, int64_t tmo)
{
    (void)tmo;
    struct tread *c = ctx;
    int rc, tries = 0;
    /* a writer rewriting without pause: retry a while (each try spins ~50 ms at most) */
    while ((rc = shmkit_table_read(c->t, c->idx, c->dst, c->len, &c->version)) == -EAGAIN &&
           ++tries < 20)
        ;
    return rc;
}

static PyObject *table_read_v(PyObject *self, PyObject *args, int with_version)
{
    TableObj *t = (TableObj *)self;
    PyObject *io;
    if (!PyArg_ParseTuple(args, "O", &io))
        return NULL;
    TABLE_OPEN(t);
    uint32_t idx;
    if (index_of(t, io, &idx) < 0)
        return NULL;
    size_t n = shmkit_table_rec_size(t->t);
    PyObject *b = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    if (!b)
        return NULL;
    struct tread c = {t->t, idx, PyBytes_AS_STRING(b), n, 0};
    t->busy = 1;
    int rc = skp_block(tread_fn, &c, 0);
    t->busy = 0;
    if (rc < 0) {
        Py_DECREF(b);
        return rc == SKP_PYERR ? NULL : skp_raise(rc);
    }
    if (!with_version)
        return b;
    return Py_BuildValue("(NK)", b, (unsigned long long)c.version);
}

static PyObject *table_read(PyObject *self, PyObject *args)
{
    return table_read_v(self, args, 0);
}

static PyObject *table_read_version(PyObject *self, PyObject *args)
{
    return table_read_v(self, args, 1);
}

static PyObject *table_write(PyObject *self, PyObject *args)
{
    TableObj *t = (TableObj *)self;
    PyObject *io;
    Py_buffer b;
    if (!PyArg_ParseTuple(args, "Oy*", &io, &b))
        return NULL;
    PyObject *res = NULL;
    uint32_t idx;
    if (!t->t)
        skp_closed();
    else if (index_of(t, io, &idx) == 0) {
        int rc = shmkit_table_write(t->t, idx, b.buf, (size_t)b.len);
        if (rc < 0)
            skp_raise(rc);
        else {
            res = Py_None;
            Py_INCREF(res);
        }
    }
    PyBuffer_Release(&b);
    return res;
}

static PyObject *table_claim(PyObject *self, PyObject *io)
{
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    uint32_t idx;
    if (index_of(t, io, &idx) < 0)
        return NULL;
    int rc = shmkit_table_claim(t->t, idx);
    if (rc < 0)
        return skp_raise(rc);
    return PyBool_FromLong(rc == 1);
}

static PyObject *table_release(PyObject *self, PyObject *io)
{
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    uint32_t idx;
    if (index_of(t, io, &idx) < 0)
        return NULL;
    int rc = shmkit_table_release(t->t, idx);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *table_owner(PyObject *self, PyObject *io)
{
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    uint32_t idx;
    if (index_of(t, io, &idx) < 0)
        return NULL;
    struct shmkit_owner o = {0, 0, 0};
    int rc = shmkit_table_owner(t->t, idx, &o);
    const char *st = rc == 1 ? "alive" : rc == 0 ? "none" : rc == SHMKIT_EPEERDEAD ? "dead" : NULL;
    if (!st)
        return skp_raise(rc);
    return Py_BuildValue("(siK)", st, o.pid, (unsigned long long)o.start);
}

static PyObject *table_stats(PyObject *self, PyObject *unused)
{
    (void)unused;
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    struct shmkit_table_stats st;
    int rc = shmkit_table_stats(t->t, &st);
    if (rc < 0)
        return skp_raise(rc);
    return Py_BuildValue("{s:I,s:I,s:K,s:K,s:K,s:I,s:I,s:I}", "count", st.count, "rec_size",
                         st.rec_size, "type_id", (unsigned long long)st.type_id, "writes",
                         (unsigned long long)st.writes, "read_retries",
                         (unsigned long long)st.read_retries, "owned", st.owned, "dead", st.dead,
                         "writing", st.writing);
}

static PyObject *table_close(PyObject *self, PyObject *unused)
{
    (void)unused;
    TableObj *t = (TableObj *)self;
    if (t->busy)
        return skp_raise_msg(-EBUSY, "another thread is using this table");
    shmkit_table_close(t->t);
    t->t = NULL;
    Py_RETURN_NONE;
}

static PyObject *table_remove(PyObject *self, PyObject *unused)
{
    (void)unused;
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    int rc = shmkit_table_remove(t->t);
    if (rc < 0)
        return skp_raise(rc);
    Py_RETURN_NONE;
}

static PyObject *table_info(PyObject *self, PyObject *unused)
{
    (void)unused;
    TableObj *t = (TableObj *)self;
    TABLE_OPEN(t);
    struct shmkit_info *in = PyMem_Malloc(sizeof *in);
    if (!in)
        return PyErr_NoMemory();
    int rc = shmkit_seg_stat(shmkit_table_seg(t->t), in);
    PyObject *r = rc < 0 ? skp_raise(rc)
                         : Py_BuildValue("{s:i,s:K,s:K,s:L,s:i}", "creator_pid", in->creator_pid,
                                         "creator_start", (unsigned long long)in->creator_start,
                                         "payload_size", (unsigned long long)in->payload_size,
                                         "created", (long long)in->created, "shmid", in->shmid);
    PyMem_Free(in);
    return r;
}

static Py_ssize_t table_len(PyObject *self)
{
    TableObj *t = (TableObj *)self;
    return t->t ? (Py_ssize_t)shmkit_table_count(t->t) : 0;
}

static PyObject *table_get(PyObject *self, void *what)
{
    TableObj *t = (TableObj *)self;
    if (!strcmp(what, "closed"))
        return PyBool_FromLong(!t->t);
    if (!strcmp(what, "name")) {
        PyObject *n = t->name ? t->name : Py_None;
        Py_INCREF(n);
        return n;
    }
    if (!strcmp(what, "readonly"))
        return PyBool_FromLong(t->readonly);
    if (!strcmp(what, "created")) {
        if (!t->t)
            return skp_closed();
        return PyBool_FromLong(shmkit_seg_created(shmkit_table_seg(t->t)) == 1);
    }
    if (!t->t)
        return skp_closed();
    if (!strcmp(what, "count"))
        return PyLong_FromUnsignedLong(shmkit_table_count(t->t));
    if (!strcmp(what, "rec_size"))
        return PyLong_FromUnsignedLong(shmkit_table_rec_size(t->t));
    return PyLong_FromUnsignedLongLong(shmkit_table_type(t->t));
}

static PyObject *table_enter(PyObject *self, PyObject *unused)
{
    (void)unused;
    if (!((TableObj *)self)->t)
        return skp_closed();
    Py_INCREF(self);
    return self;
}

static PyObject *table_exit(PyObject *self, PyObject *args)
{
    (void)args;
    PyObject *r = table_close(self, NULL);
    if (!r)
        return NULL;
    Py_DECREF(r);
    Py_RETURN_FALSE;
}

static PyMethodDef table_methods[] = {
    {"read_bytes", table_read, METH_VARARGS,
     "read_bytes(i) -> bytes\n\nA consistent snapshot of record I (a copy). PeerDeadError: its\n"
     "writer died in the middle of a write; WouldBlockError: no snapshot within ~1 s."},
    {"read_bytes_version", table_read_version, METH_VARARGS,
     "read_bytes_version(i) -> (bytes, version)\n\nThe version changes with every write."},
    {"write_bytes", table_write, METH_VARARGS,
     "write_bytes(i, data)\n\nWrites DATA at the start of record I as one update (claim first)."},
    {"claim", table_claim, METH_O,
     "claim(i) -> bool\n\nBecomes record I's owner (its one writer). True: taken over from an\n"
     "owner that died. BusyError: a live process owns it."},
    {"release", table_release, METH_O, "release(i)\n\nGives record I up."},
    {"owner", table_owner, METH_O,
     "owner(i) -> (state, pid, start)\n\nstate: 'alive', 'none' or 'dead' (died owning it)."},
    {"stats", table_stats, METH_NOARGS, "stats() -> dict"},
    {"info", table_info, METH_NOARGS, "info() -> dict: the creator and the payload size."},
    {"close", table_close, METH_NOARGS,
     "close()\n\nCloses the handle; records claimed stay claimed until this process exits."},
    {"remove", table_remove, METH_NOARGS, "remove()\n\nRemoves the segment's name."},
    {"__enter__", table_enter, METH_NOARGS, NULL},
    {"__exit__", table_exit, METH_VARARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef table_getset[] = {
    {"closed", table_get, NULL, "True once closed.", "closed"},
    {"name", table_get, NULL, "The segment's name.", "name"},
    {"readonly", table_get, NULL, "Read-only (readonly=True, or role='reader').", "readonly"},
    {"created", table_get, NULL, "True if this process created the table.", "created"},
    {"count", table_get, NULL, "Records.", "count"},
    {"rec_size", table_get, NULL, "Bytes per record.", "rec_size"},
    {"type_id", table_get, NULL, "The table's type id.", "type_id"},
    {NULL, NULL, NULL, NULL, NULL},
};

static PySequenceMethods table_as_seq = {.sq_length = table_len};

PyTypeObject skp_TableType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "shmkit._Table",
    .tp_basicsize = sizeof(TableObj),
    .tp_new = PyType_GenericNew,
    .tp_init = table_init,
    .tp_dealloc = table_dealloc,
    .tp_as_sequence = &table_as_seq,
    .tp_methods = table_methods,
    .tp_getset = table_getset,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "_Table(name, rec_size=0, count=0, type_id=0, create=False, readonly=False,\n"
              "       timeout=None, kind=None, mode=None, key=None, ftok=None, private=False,\n"
              "       role='writer')\n\n"
              "The byte-level table under shmkit.Table.",
};
