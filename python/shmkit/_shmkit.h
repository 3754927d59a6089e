/*
 * _shmkit.h - what the files of the CPython extension share: the object types, the error
 * mapping, timeouts and the one blocking-call loop (GIL released, signals checked, retried
 * with the time left).
 */
#ifndef SKP_H
#define SKP_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <shmkit.h>

/* skp_block's "a Python exception is set" result (never a library code). */
#define SKP_PYERR (-2147483647 - 1)

/* Bumped in the child at every fork() (a pthread_atfork handler, installed at import): a
 * handle records it when made, and a different value means the handle was inherited across a
 * fork - the check costs a load and a compare, where getpid() was a system call per call. */
extern unsigned skp_fork_gen;

/* The exception classes, made at import (index: see skp_errclass in _shmkit.c). */
extern PyObject *skp_Error, *skp_ViewsAliveError, *skp_OwnerDeadError, *skp_ClosedError;

/* Raises the exception for CODE (a library code); always returns NULL. */
PyObject *skp_raise(int code);
/* Same, with MSG instead of shmkit_strerror(CODE). */
PyObject *skp_raise_msg(int code, const char *msg);
/* Raises "handle is closed" (-EBADF). */
PyObject *skp_closed(void);

/* TIMEOUT: None -> -1 (no limit), seconds >= 0 -> ns, negative -> -1. 0 or -1 (exception). */
int skp_timeout(PyObject *o, int64_t *ns);

/* Runs FN(CTX, timeout) with the GIL released. -EINTR (a signal handler ran): runs the
 * Python handlers (KeyboardInterrupt...), then calls again with the time left. Returns
 * FN's result, or SKP_PYERR with an exception set. */
typedef int (*skp_fn)(void *ctx, int64_t timeout_ns);
int skp_block(skp_fn fn, void *ctx, int64_t timeout_ns);
/* Same, trying once first with the GIL held (a try call never sleeps): the common case of a
 * channel call that can proceed at once costs no GIL release. */
int skp_try_block(skp_fn fn, void *ctx, int64_t timeout_ns);

/* skp_block for a join call (shmkit_*_join), waited for in slices of at most
 * SKP_JOIN_SLICE_NS: every wait (skp_block, and a join's polling with naps) is made in
 * slices of this length: a signal whose handler ran while the C call was not asleep in the
 * kernel (spinning, between two naps or slices) does not end the call with -EINTR, so
 * Python's handlers (Ctrl-C) run at the end of every slice too. FN's -ETIMEDOUT before the
 * caller's deadline means "not yet": FN must be a wait that can be called again after a
 * timeout with nothing lost or repeated (a receive, a send, a response wait). */
#define SKP_JOIN_SLICE_NS 50000000 /* 50 ms */
int skp_join_wait(skp_fn fn, void *ctx, int64_t timeout_ns);

/* A bounded piece of shared memory lent as a buffer: a ring or bus message, or a loan.
 * valid drops to 0 when the message is released; exports counts live Py_buffers. */
typedef struct skp_View_ {
    PyObject_HEAD
    char *ptr;
    Py_ssize_t len;
    int readonly;
    int valid;
    Py_ssize_t exports;
    PyObject *owner; /* keeps the handle (and its mapping) alive while a view exists */
    struct skp_View_ **backref; /* the handle's pointer to this view, cleared at dealloc */
} skp_View;
extern PyTypeObject skp_ViewType;

/* A view over [PTR, PTR+LEN) owned by OWNER, wrapped in a memoryview (returned, a new
 * reference). The handle keeps no strong reference to either (no cycle through OWNER):
 * *VIEW is a borrowed pointer to the exporter, which clears it when it dies, and *MVREF a
 * weak reference to the memoryview. NULL with an exception on failure. */
PyObject *skp_view_new(PyObject *owner, void *ptr, size_t len, int readonly, skp_View **view,
                       PyObject **mvref);
/* Ends a view made by skp_view_new: releases the memoryview if it still lives, checks that
 * nothing else holds a buffer of the memory (slices, numpy arrays), then invalidates the
 * exporter. 0, or -1 with ViewsAliveError set (nothing released). */
int skp_view_end(PyObject **mvref, skp_View **view);
/* Forgets a view without checks (the handle is being freed: no view can be alive). */
void skp_view_drop(PyObject **mvref, skp_View **view);

/* The Segment object. */
typedef struct skp_Seg_ {
    PyObject_HEAD
    shmkit_seg *seg;   /* NULL once closed                                        */
    char *data;
    Py_ssize_t size;
    int readonly;
    int borrowed;      /* an initialiser's view of a segment being created        */
    Py_ssize_t exports; /* live buffers (memoryview, numpy)                        */
    Py_ssize_t busy;   /* calls in flight without the GIL on this mapping          */
    PyObject *name;
    int kind;
    Py_ssize_t users;  /* channels made on it (from_segment): it stays open for them */
    PyObject *dep;     /* the joined channel that owns SEG (this object is its .segment, */
                       /* closed with it), or NULL                                       */
    struct skp_Seg_ **backref; /* that channel's pointer to this object, cleared at dealloc */
} skp_Seg;
extern PyTypeObject skp_SegType;

/* The Segment object of a joined channel HANDLE (which owns SEG): it keeps HANDLE alive,
 * and *SLOT (in the handle) points to it until it dies; close() on it is refused (the
 * channel closes it). A new reference, or NULL with an exception. */
PyObject *skp_seg_of_handle(PyObject *handle, shmkit_seg *seg, PyObject *name, int kind,
                            skp_Seg **slot);
/* Before a joined channel closes its segment: fails (-1, ViewsAliveError or BusyError) while
 * a buffer of the .segment object, a call on it, or a channel made on it is alive;
 * otherwise marks it closed and forgets it (0). */
int skp_seg_detach(skp_Seg **slot);
/* SEG (a Segment) must be open and mappable read-write to carry a channel: 0, or -1 with
 * an exception. */
int skp_seg_usable(PyObject *seg);

/* Fills OPTS from the keyword arguments common to every constructor; strings it points
 * to live in the objects of KEEP (a list the caller frees after use). 0 or -1. */
int skp_opts_from(PyObject *name, PyObject *kind, PyObject *kw_mode, PyObject *key,
                  PyObject *ftok, int priv, struct shmkit_opts *o, PyObject *keep);
int skp_kind_of(PyObject *kind);

/* Checks SEG is open and that [OFF, OFF+LEN) lies in its payload with ALIGN alignment;
 * returns the address or NULL with an exception. */
void *skp_seg_at(skp_Seg *seg, Py_ssize_t off, size_t len, size_t align);

extern PyTypeObject skp_RingType, skp_BusType, skp_SubType, skp_TableType, skp_MutexType,
    skp_RWLockType, skp_SeqlockType;

int skp_add_types(PyObject *m);
/* RpcServer, RpcClient, Request (_rpc.c). */
extern PyTypeObject skp_RpcServerType, skp_RpcClientType;
int skp_add_rpc_types(PyObject *m);

#endif
