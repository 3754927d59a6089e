/* t_sync_rwlock.c - the robust reader/writer lock: exclusion between
 * processes, readers in parallel, a writer killed while holding it (the next
 * locker repairs), a reader killed while holding it (reclaimed), a writer
 * killed while waiting for readers, error codes. */
#include "tu_sync.h"

#include <limits.h>
#include <poll.h>

#define PROCS 4
#define INCS 20000
#define WROUNDS 1000 /* writer killed holding */
#define RROUNDS 1000 /* reader killed holding */

struct shm {
    struct shmkit_rwlock rw;
    uint64_t a, b; /* invariant outside a write: a == b */
    uint32_t torn;
    uint32_t readers_seen_parallel;
};

static struct shm *m;

static int worker(void *arg, int i)
{
    for (int k = 0; k < INCS; k++) {
        if (k % 4 == 0) {
            int t = shmkit_rwlock_rdlock(&m->rw, 10000000000);
            if (t < 0)
                return 1;
            /* relaxed atomics: the lock orders them, TSan-free anyway */
            if (__atomic_load_n(&m->a, __ATOMIC_RELAXED) != __atomic_load_n(&m->b, __ATOMIC_RELAXED))
                __atomic_fetch_add(&m->torn, 1, __ATOMIC_RELAXED);
            if (shmkit_rwlock_rdunlock(&m->rw, t) != 0)
                return 2;
        }
        if (shmkit_rwlock_wrlock(&m->rw, 10000000000) != 0)
            return 3;
        m->a++;
        m->b++;
        if (shmkit_rwlock_wrunlock(&m->rw) != 0)
            return 4;
    }
    return 0;
}

struct hold {
    int fd;     /* tell the parent we hold it */
    int writer; /* 1: write lock, 0: read lock */
};

static int die_holding(void *arg, int i)
{
    struct hold *h = arg;
    int rc = h->writer ? shmkit_rwlock_wrlock(&m->rw, 5000000000)
                       : shmkit_rwlock_rdlock(&m->rw, 5000000000);
    if (rc < 0)
        return 1;
    if (h->writer)
        m->a++; /* half of the update */
    if (write(h->fd, "x", 1) != 1)
        return 2;
    for (;;)
        pause();
}

/* Starts a child that takes the lock and waits to be killed; returns its
 * pid once it holds the lock, -1 if it did not within 2 s. */
static pid_t holder(int writer)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    struct hold h = {pfd[1], writer};
    pid_t p = tu_spawn_fn(die_holding, &h, 0);
    close(pfd[1]);
    int ready = tu_ready(pfd[0], 2000);
    if (!ready) {
        kill(p, SIGKILL);
        waitpid(p, NULL, 0);
        return -1;
    }
    return p;
}

static void kill_wait(pid_t p)
{
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

static int try_busy(void *arg, int i)
{
    int want = *(int *)arg;
    return shmkit_rwlock_rdlock(&m->rw, 0) == want && shmkit_rwlock_wrlock(&m->rw, 0) == -EBUSY
               ? 0 : 1;
}

static int writer_waits(void *arg, int i)
{
    shmkit_rwlock_wrlock(&m->rw, 10000000000); /* killed while draining */
    return 1;
}

/* Overwritten bookkeeping gives SHMKIT_ECORRUPT, sticky until init. */
static void corruption(void)
{
    struct shmkit_rwlock *rw = &m->rw;
    int32_t me = (int32_t)getpid();

    /* the magic word */
    is_rc(shmkit_rwlock_init(rw), 0, "init");
    rw->magic ^= 0x1000;
    is_rc(shmkit_rwlock_rdlock(rw, -1), SHMKIT_ECORRUPT, "bad magic: rdlock ECORRUPT");
    is_rc(shmkit_rwlock_wrlock(rw, -1), SHMKIT_ECORRUPT, "bad magic: wrlock ECORRUPT");
    is_rc(shmkit_rwlock_rdunlock(rw, 0), SHMKIT_ECORRUPT, "bad magic: rdunlock ECORRUPT");
    is_rc(shmkit_rwlock_wrunlock(rw), SHMKIT_ECORRUPT, "bad magic: wrunlock ECORRUPT");
    is_rc(shmkit_rwlock_destroy(rw), SHMKIT_ECORRUPT, "bad magic: destroy ECORRUPT");
    rw->magic ^= 0x1000;
    is_rc(shmkit_rwlock_wrlock(rw, 0), 0, "magic restored: write lock");
    shmkit_rwlock_wrunlock(rw);

    /* the internal mutex (its own magic word) */
    memset(rw->wm.u.bytes + sizeof rw->wm.u.bytes - 4, 0, 4);
    is_rc(shmkit_rwlock_wrlock(rw, -1), SHMKIT_ECORRUPT, "internal mutex overwritten: ECORRUPT");
    is_rc(shmkit_rwlock_rdlock(rw, 0), SHMKIT_ECORRUPT, "... rdlock too");

    /* an impossible internal state */
    is_rc(shmkit_rwlock_init(rw), 0, "reinit");
    rw->state = 77;
    is_rc(shmkit_rwlock_rdlock(rw, -1), SHMKIT_ECORRUPT, "garbage state: rdlock ECORRUPT");
    is_rc(shmkit_rwlock_wrlock(rw, 0), SHMKIT_ECORRUPT, "garbage state: wrlock ECORRUPT");
    is_rc(shmkit_rwlock_wrlock(rw, 0), SHMKIT_ECORRUPT, "... again: sticky");
    is_rc(shmkit_rwlock_init(rw), 0, "reinit");
    is_rc(shmkit_rwlock_wrlock(rw, 0), 0, "reinit repairs it");
    shmkit_rwlock_wrunlock(rw);

    /* a taken slot without an owner record: wrlock finds it at once, with
     * or without a timeout; nothing stays held */
    static const int32_t bad_pids[] = {0, -5, INT32_MAX};
    for (int k = 0; k < 3; k++) {
        is_rc(shmkit_rwlock_init(rw), 0, "reinit");
        rw->readers[37].pid = bad_pids[k];
        rw->readers_map = (uint64_t)1 << 37;
        uint64_t t = tu_now_ns();
        is_rc(shmkit_rwlock_wrlock(rw, k == 0 ? -1 : 1000000000), SHMKIT_ECORRUPT,
              "slot 37 taken, record pid %d: wrlock ECORRUPT", (int)bad_pids[k]);
        ok(tu_now_ns() - t < 500000000u, "... without waiting for the reader");
        is_rc(shmkit_rwlock_rdlock(rw, 0), SHMKIT_ECORRUPT, "... then rdlock: ECORRUPT (sticky)");
    }

    /* every slot taken, one record impossible: the reader finds it */
    is_rc(shmkit_rwlock_init(rw), 0, "reinit");
    for (int i = 0; i < SHMKIT_RWLOCK_SLOTS; i++)
        shmkit_owner_self(&rw->readers[i]);
    rw->readers[50].pid = 0;
    rw->readers_map = UINT64_MAX;
    is_rc(shmkit_rwlock_rdlock(rw, 0), SHMKIT_ECORRUPT, "full map, slot 50 without owner: ECORRUPT");
    is_rc(shmkit_rwlock_rdunlock(rw, 3), 0, "a real slot record of ours still unlocks");

    /* a writer died, and a slot record is garbage: ECORRUPT, not OWNERDEAD,
     * and the internal mutex is left usable (consistent), not unrecoverable */
    is_rc(shmkit_rwlock_init(rw), 0, "reinit");
    pid_t h = holder(1);
    ok(h > 0, "writer holds");
    kill_wait(h);
    rw->readers[2].pid = -1;
    rw->readers_map = 1u << 2;
    is_rc(shmkit_rwlock_rdlock(rw, 2000000000), SHMKIT_ECORRUPT,
          "writer died over a garbage slot: ECORRUPT");
    is_rc(shmkit_rwlock_wrlock(rw, 0), SHMKIT_ECORRUPT, "... sticky, not ENOTRECOVERABLE");

    /* the fields a ticket indexes: a reader's own slot, checked first */
    is_rc(shmkit_rwlock_init(rw), 0, "reinit");
    int t = shmkit_rwlock_rdlock(rw, 0);
    ok(t >= 0, "read lock");
    rw->readers[t].pid = me + 1;
    is_rc(shmkit_rwlock_rdunlock(rw, t), -EINVAL, "slot record overwritten: rdunlock EINVAL");
    rw->readers[t].pid = me;
    is_rc(shmkit_rwlock_rdunlock(rw, t), 0, "restored: rdunlock");
    is_rc(shmkit_rwlock_destroy(rw), 0, "destroy");
}

int main(void)
{
    shmkit_seg *seg;
    m = tu_shared(&seg, sizeof *m);

    is_rc(shmkit_rwlock_rdlock(&m->rw, 0), -EINVAL, "zeroed memory is not an rwlock");
    is_rc(shmkit_rwlock_init(&m->rw), 0, "init");
    int t0 = shmkit_rwlock_rdlock(&m->rw, -1), t1 = shmkit_rwlock_rdlock(&m->rw, -1);
    ok(t0 >= 0 && t1 >= 0 && t0 != t1, "two read locks at once (tickets %d, %d)", t0, t1);
    int busy = -EBUSY, free_t = 2;
    pid_t p = tu_spawn_fn(try_busy, &free_t, 0);
    is_int(tu_reap(&p, 1, 5000), 1, "other process: reads too, try-write is EBUSY");
    is_rc(shmkit_rwlock_wrlock(&m->rw, 20000000), -ETIMEDOUT, "write lock times out under readers");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, 99), -EINVAL, "bad ticket: EINVAL");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, SHMKIT_RWLOCK_SLOTS), -EINVAL, "ticket 64: EINVAL");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, -1), -EINVAL, "ticket -1: EINVAL");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, INT_MIN), -EINVAL, "ticket INT_MIN: EINVAL");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, 5), -EINVAL, "ticket not held: EINVAL");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, t0), 0, "read unlock");
    is_rc(shmkit_rwlock_rdunlock(&m->rw, t1), 0, "read unlock");
    is_rc(shmkit_rwlock_wrunlock(&m->rw), -EPERM, "write unlock when not held: EPERM");
    is_rc(shmkit_rwlock_wrlock(&m->rw, 0), 0, "write lock");
    is_rc(shmkit_rwlock_wrlock(&m->rw, 0), -EBUSY, "again by the holder, try: EBUSY");
    is_rc(shmkit_rwlock_wrlock(&m->rw, -1), -EDEADLK, "again by the holder: EDEADLK");
    is_rc(shmkit_rwlock_rdlock(&m->rw, -1), -EDEADLK, "read by the writer: EDEADLK");
    is_rc(shmkit_rwlock_rdlock(&m->rw, 0), -EBUSY, "try-read by the writer: EBUSY");
    p = tu_spawn_fn(try_busy, &busy, 0);
    is_int(tu_reap(&p, 1, 5000), 1, "other process: try-read and try-write are EBUSY");
    is_rc(shmkit_rwlock_consistent(&m->rw), -EINVAL, "consistent when nobody died: EINVAL");
    is_rc(shmkit_rwlock_destroy(&m->rw), -EBUSY, "destroy while write-locked: EBUSY");
    is_rc(shmkit_rwlock_wrunlock(&m->rw), 0, "write unlock");

    /* all slots taken */
    int tk[SHMKIT_RWLOCK_SLOTS], n = 0;
    for (int i = 0; i < SHMKIT_RWLOCK_SLOTS; i++)
        n += (tk[i] = shmkit_rwlock_rdlock(&m->rw, 0)) >= 0;
    is_int(n, SHMKIT_RWLOCK_SLOTS, "%d read locks at once", SHMKIT_RWLOCK_SLOTS);
    is_rc(shmkit_rwlock_rdlock(&m->rw, 5000000), -EAGAIN, "one more: EAGAIN after the timeout");
    is_rc(shmkit_rwlock_rdlock(&m->rw, 0), -EAGAIN, "one more, try: EAGAIN (no slot), not EBUSY");
    shmkit_rwlock_rdunlock(&m->rw, tk[7]);
    tk[7] = shmkit_rwlock_rdlock(&m->rw, 5000000);
    is_int(tk[7], 7, "a freed slot is taken again");
    for (int i = 0; i < SHMKIT_RWLOCK_SLOTS; i++)
        shmkit_rwlock_rdunlock(&m->rw, tk[i]);

    /* exclusion and consistency under load */
    pid_t kids[PROCS];
    uint64_t ns = tu_now_ns();
    for (int i = 0; i < PROCS; i++)
        kids[i] = tu_spawn_fn(worker, NULL, i);
    is_int(tu_reap(kids, PROCS, 60000), PROCS, "%d processes writing and reading finished", PROCS);
    is_int(m->a, (uint64_t)PROCS * INCS, "counter is exactly %d x %d", PROCS, INCS);
    is_int(m->torn, 0, "no reader saw a half-done write");
    tap_diag("%.0f ns per contended write lock (+1/4 read lock)",
             (double)(tu_now_ns() - ns) / (PROCS * INCS));

    /* writer killed while holding: next locker (alternately reader and
     * writer) gets OWNERDEAD, holds the lock exclusively, repairs */
    int good = 0;
    ns = tu_now_ns();
    for (int r = 0; r < WROUNDS; r++) {
        pid_t h = holder(1);
        if (h < 0)
            continue;
        kill_wait(h);
        int rc = (r & 1) ? shmkit_rwlock_rdlock(&m->rw, 2000000000)
                         : shmkit_rwlock_wrlock(&m->rw, 2000000000);
        if (rc != SHMKIT_EOWNERDEAD) {
            tap_diag("round %d: %s", r, shmkit_errname(rc));
            if (rc >= 0)
                (r & 1) ? shmkit_rwlock_rdunlock(&m->rw, rc) : shmkit_rwlock_wrunlock(&m->rw);
            continue;
        }
        int fine = m->a == m->b + 1;
        m->b = m->a;
        fine &= shmkit_rwlock_consistent(&m->rw) == 0;
        fine &= shmkit_rwlock_wrunlock(&m->rw) == 0;
        good += fine;
    }
    is_int(good, WROUNDS, "%d rounds: writer killed holding, next locker repaired", WROUNDS);
    tap_diag("%.2f ms per writer-killed round", (double)(tu_now_ns() - ns) / 1e6 / WROUNDS);

    /* reader killed while holding: a writer gets through */
    good = 0;
    ns = tu_now_ns();
    for (int r = 0; r < RROUNDS; r++) {
        pid_t h = holder(0);
        if (h < 0)
            continue;
        kill_wait(h);
        int rc = shmkit_rwlock_wrlock(&m->rw, 2000000000);
        if (rc != 0) {
            tap_diag("round %d: %s", r, shmkit_errname(rc));
            continue;
        }
        good += shmkit_rwlock_wrunlock(&m->rw) == 0;
    }
    is_int(good, RROUNDS, "%d rounds: reader killed holding, writer got the lock", RROUNDS);
    tap_diag("%.2f ms per reader-killed round", (double)(tu_now_ns() - ns) / 1e6 / RROUNDS);

    /* a reader killed while a writer already waits for it */
    pid_t h = holder(0);
    ok(h > 0, "reader holds");
    p = tu_spawn_fn(writer_waits, NULL, 0);
    usleep(20000);
    ns = tu_now_ns();
    kill_wait(h);
    int st = 0;
    /* the waiting writer now gets the lock; it then returns 1 */
    ok(tu_wait(p, 2000, &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
       "waiting writer got through after the reader died (%.1f ms)", (tu_now_ns() - ns) / 1e6);
    is_rc(shmkit_rwlock_wrlock(&m->rw, 2000000000), SHMKIT_EOWNERDEAD,
          "that writer exited holding: OWNERDEAD");
    shmkit_rwlock_consistent(&m->rw);
    shmkit_rwlock_wrunlock(&m->rw);

    /* a writer killed while waiting for a reader never wrote: no OWNERDEAD */
    t0 = shmkit_rwlock_rdlock(&m->rw, -1);
    p = tu_spawn_fn(writer_waits, NULL, 0);
    usleep(20000);
    kill_wait(p);
    is_rc(shmkit_rwlock_rdunlock(&m->rw, t0), 0, "reader leaves");
    is_rc(shmkit_rwlock_rdlock(&m->rw, 2000000000), 0,
          "after a writer died waiting: reads normally (ticket 0)");
    shmkit_rwlock_rdunlock(&m->rw, 0);
    is_rc(shmkit_rwlock_wrlock(&m->rw, 2000000000), 0, "writes normally");
    shmkit_rwlock_wrunlock(&m->rw);

    /* not repaired: unrecoverable */
    h = holder(1);
    kill_wait(h);
    is_rc(shmkit_rwlock_wrlock(&m->rw, 2000000000), SHMKIT_EOWNERDEAD, "writer died: OWNERDEAD");
    is_rc(shmkit_rwlock_wrunlock(&m->rw), 0, "unlocked without consistent");
    is_rc(shmkit_rwlock_rdlock(&m->rw, 0), SHMKIT_ENOTRECOVERABLE, "read: ENOTRECOVERABLE");
    is_rc(shmkit_rwlock_wrlock(&m->rw, -1), SHMKIT_ENOTRECOVERABLE, "write: ENOTRECOVERABLE");
    is_rc(shmkit_rwlock_init(&m->rw), 0, "reinitialised");
    is_rc(shmkit_rwlock_wrlock(&m->rw, 0), 0, "usable again");
    shmkit_rwlock_wrunlock(&m->rw);
    is_rc(shmkit_rwlock_destroy(&m->rw), 0, "destroy");
    is_rc(shmkit_rwlock_destroy(NULL), 0, "destroy NULL");

    corruption();

    shmkit_close(seg);
    return tap_done();
}
