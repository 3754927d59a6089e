/* rwlock.c - reader/writer lock in shared memory that survives a dead
 * holder: a robust mutex for writers (and reader registration), a bitmap of
 * reader slots holding owner records, a futex for writers waiting on
 * readers. See the RWLOCK section of include/shmkit/sync.h. */
#include "sync_internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RW_MAGIC 0x72776c6bu /* "rwlk" */

/* What the holder of the internal mutex is doing; tells the next locker,
 * after the kernel reported the holder dead, whether user state is at risk. */
enum {
    ST_FREE = 0,     /* nobody, or a reader between lock and unlock of wm */
    ST_REGISTER = 1, /* a reader is taking a slot: nothing user-visible   */
    ST_DRAIN = 2,    /* a writer waits for readers: it never wrote        */
    ST_WRITE = 3,    /* a writer holds the lock: state may be half-written */
    ST_DEAD = 4,     /* held after a dead writer; not yet consistent      */
    ST_CORRUPT = 5   /* bookkeeping found overwritten: SHMKIT_ECORRUPT for
                        every locker until shmkit_rwlock_init             */
};

/* No pid is above Linux's PID_MAX_LIMIT; a slot record claiming one (or a
 * pid <= 0) was not written by a reader. */
#define PID_LIMIT (1 << 22)

/* Liveness checks of reader slots while waiting: first after 1 ms, the
 * period doubling up to 50 ms (SHMKIT__CHECK_RWLOCK_*, wait.h). */

/* The calling thread's (pid, tid), cached per thread; the pid half notices
 * a fork (the owner cache is reset in the child). */
static _Thread_local int32_t tl_pid, tl_tid;

static int self_ids(int32_t *pid, int32_t *tid, struct shmkit_owner *me)
{
    int rc = shmkit__owner_self_cached(me);
    if (rc < 0) {
        /* no /proc: a start time of 0 means "pid only" to owner_alive */
        me->pid = (int32_t)getpid();
        me->pad = 0;
        me->start = 0;
    }
    if (tl_pid != me->pid) {
        tl_tid = (int32_t)syscall(SYS_gettid);
        tl_pid = me->pid;
    }
    *pid = tl_pid;
    *tid = tl_tid;
    return 0;
}

/* 0 if L is an initialised lock; -EINVAL for NULL or a zero magic (never
 * initialised, or destroyed); SHMKIT_ECORRUPT for any other magic. */
static int check(const struct shmkit_rwlock *l)
{
    if (!l)
        return -EINVAL;
    /* acquire: pairs with init's release: everything else is initialised */
    uint32_t mg = shmkit__load_acquire(&l->magic);
    return mg == RW_MAGIC ? 0 : mg == 0 ? -EINVAL : SHMKIT_ECORRUPT;
}

/* The internal mutex's result in rwlock terms: our magic was right, so a
 * mutex that is not one (-EINVAL) means the memory was overwritten. */
static int wm_rc(int rc)
{
    return rc == -EINVAL ? SHMKIT_ECORRUPT : rc;
}

/* Called holding wm (DEAD: handed over by a dead holder, not yet
 * consistent) after finding the bookkeeping impossible: marks the lock
 * corrupt for every later locker and releases wm. */
static int corrupt(struct shmkit_rwlock *l, int dead)
{
    /* relaxed: state is written under wm only; the unlock publishes it */
    shmkit__store_relaxed(&l->state, ST_CORRUPT);
    if (dead)
        shmkit_mutex_consistent(&l->wm); /* else the unlock would make it
                                            unrecoverable, hiding ECORRUPT */
    shmkit_mutex_unlock(&l->wm);
    return SHMKIT_ECORRUPT;
}

/* Whether every taken slot in MAP holds a plausible owner record. A reader
 * writes its record before it sets its bit (both under wm), so a set bit
 * over an empty or impossible record means the memory was overwritten.
 * Called holding wm. Never reads outside the table: I comes from a bit of
 * a 64-bit map and SHMKIT_RWLOCK_SLOTS is 64. */
static int slots_sane(const struct shmkit_rwlock *l, uint64_t map)
{
    _Static_assert(SHMKIT_RWLOCK_SLOTS == 64, "one map bit per slot");
    while (map) {
        int i = __builtin_ctzll(map);
        map &= map - 1;
        /* relaxed: the map was read with acquire, which ordered the record */
        int32_t pid = shmkit__load_relaxed(&l->readers[i].pid);
        if (pid <= 0 || pid > PID_LIMIT)
            return 0;
    }
    return 1;
}

int shmkit_rwlock_init(struct shmkit_rwlock *l)
{
    if (!l)
        return -EINVAL;
    memset(l, 0, sizeof *l);
    int rc = shmkit_mutex_init(&l->wm);
    if (rc < 0)
        return rc;
    /* release: publishes the initialised lock before the magic */
    shmkit__store_release(&l->magic, RW_MAGIC);
    return 0;
}

int shmkit_rwlock_destroy(struct shmkit_rwlock *l)
{
    if (!l)
        return 0;
    int rc = check(l);
    if (rc < 0)
        return rc;
    /* relaxed: a snapshot; destroying a lock in use is the caller's bug */
    if (shmkit__load_relaxed(&l->readers_map) != 0)
        return -EBUSY;
    rc = wm_rc(shmkit_mutex_destroy(&l->wm));
    if (rc < 0)
        return rc;
    shmkit__store_relaxed(&l->magic, 0);
    return 0;
}

/* Locks the internal mutex before DEADLINE (-1 forever; TRY: once).
 * Returns 0, SHMKIT_EOWNERDEAD only when user state is at risk (the dead
 * holder was writing), SHMKIT_ECORRUPT (not held) or another error;
 * internal-only deaths are repaired here. */
static int wm_lock(struct shmkit_rwlock *l, int64_t deadline, int try)
{
    int rc;
    if (try) {
        /* a reader registering holds wm for a moment: do not call that busy */
        for (int i = 0;; i++) {
            rc = shmkit_mutex_trylock(&l->wm);
            /* relaxed: a hint whether the holder is a registering reader */
            if (rc != -EBUSY || i == 100 || shmkit__load_relaxed(&l->state) != ST_REGISTER)
                break;
            shmkit__cpu_relax();
        }
    } else {
        rc = shmkit_mutex_timedlock(&l->wm, shmkit__time_left(deadline));
    }
    if (rc != 0 && rc != SHMKIT_EOWNERDEAD)
        return wm_rc(rc);
    /* relaxed: state is only written under wm, which we now hold */
    uint32_t st = shmkit__load_relaxed(&l->state);
    if (rc == 0) {
        /* every holder that releases wm normally leaves ST_FREE behind */
        return st == ST_FREE ? 0 : corrupt(l, 0);
    }
    if (st == ST_WRITE || st == ST_DEAD) {
        shmkit__store_relaxed(&l->state, ST_DEAD);
        return SHMKIT_EOWNERDEAD;
    }
    if (st > ST_DEAD) /* ST_CORRUPT, or garbage */
        return corrupt(l, 1);
    /* a reader died registering (its slot is reclaimed as dead later) or a
     * writer died before it was granted the lock: user state untouched */
    shmkit__store_relaxed(&l->state, ST_FREE);
    shmkit__store_relaxed(&l->waiting, 0);
    return shmkit_mutex_consistent(&l->wm);
}

/* Frees the slots in the reader map whose owners are dead. Called with wm
 * held (no reader registers meanwhile). Stores the map left in *LEFT.
 * Returns 0, or SHMKIT_ECORRUPT (a taken slot has no plausible owner). */
static int reclaim_dead(struct shmkit_rwlock *l, uint64_t *left)
{
    /* acquire: slot records written before the bits were set */
    uint64_t map = shmkit__load_acquire(&l->readers_map);
    if (!slots_sane(l, map))
        return SHMKIT_ECORRUPT;
    for (unsigned i = 0; i < SHMKIT_RWLOCK_SLOTS; i++) {
        uint64_t bit = (uint64_t)1 << i;
        if ((map & bit) && !shmkit_owner_alive(&l->readers[i]))
            /* seq_cst: same pair as a reader's own release (see rdunlock) */
            map = shmkit__and_fetch_seq_cst(&l->readers_map, ~bit);
    }
    *left = map;
    return 0;
}

/* Waits, holding wm, until the reader map is empty, reclaiming the slots
 * of dead readers. 0, -ETIMEDOUT, -EINTR, -EBUSY (TRY) or SHMKIT_ECORRUPT. */
static int drain(struct shmkit_rwlock *l, int64_t deadline, int try)
{
    /* seq_cst: the waiting count vs a leaving reader's map update is a
     * store-buffering pair: one of us sees the other */
    uint64_t map = shmkit__load_seq_cst(&l->readers_map);
    if (map == 0)
        return 0;
    /* no reader registers while we hold wm: checking the records of the
     * slots taken now covers every slot we will wait for */
    if (!slots_sane(l, map))
        return SHMKIT_ECORRUPT;
    int rc = 0;
    if (try) {
        rc = reclaim_dead(l, &map);
        return rc < 0 ? rc : map ? -EBUSY : 0;
    }
    struct shmkit__park p;
    shmkit__park_init(&p, deadline, SHMKIT__CHECK_RWLOCK_FIRST_NS, SHMKIT__CHECK_RWLOCK_MAX_NS,
                      SHMKIT__CHECK_RWLOCK_FIRST_NS);
    shmkit__fetch_add_seq_cst(&l->waiting, 1);
    for (;;) {
        /* acquire: a bump means a reader left; its map update is visible */
        uint32_t s = shmkit__load_acquire(&l->rseq);
        if (shmkit__load_seq_cst(&l->readers_map) == 0)
            break;
        rc = shmkit__park(&p, &l->rseq, s);
        if (rc == SHMKIT__PARK_CHECK) {
            rc = reclaim_dead(l, &map);
            if (rc < 0 || map == 0)
                break;
            continue;
        }
        if (rc < 0)
            break; /* -ETIMEDOUT, -EINTR: the caller gives wm back */
    }
    shmkit__fetch_sub_seq_cst(&l->waiting, 1);
    return rc;
}

static int write_locked(struct shmkit_rwlock *l, int dead)
{
    int32_t pid, tid;
    struct shmkit_owner me;
    self_ids(&pid, &tid, &me);
    /* relaxed: read and written by wm holders only */
    shmkit__store_relaxed(&l->wpid, pid);
    shmkit__store_relaxed(&l->wtid, tid);
    shmkit__store_relaxed(&l->state, dead ? ST_DEAD : ST_WRITE);
    return dead ? SHMKIT_EOWNERDEAD : 0;
}

/* After wm_lock returned SHMKIT_EOWNERDEAD: the dead writer had drained
 * the readers and none could register since; only slots of readers that
 * died registering may remain. Returns SHMKIT_EOWNERDEAD (held as a
 * writer) or SHMKIT_ECORRUPT (released). */
static int take_over(struct shmkit_rwlock *l)
{
    uint64_t map;
    if (reclaim_dead(l, &map) < 0)
        return corrupt(l, 1);
    return write_locked(l, 1);
}

int shmkit_rwlock_wrlock(struct shmkit_rwlock *l, int64_t timeout_ns)
{
    int rc = check(l);
    if (rc < 0)
        return rc;
    int try = timeout_ns == 0;
    int64_t deadline = shmkit__deadline(timeout_ns);
    rc = wm_lock(l, deadline, try);
    if (rc == -ETIMEDOUT && try)
        rc = -EBUSY;
    if (rc == SHMKIT_EOWNERDEAD)
        return take_over(l);
    if (rc < 0)
        return rc;
    shmkit__store_relaxed(&l->state, ST_DRAIN);
    rc = drain(l, deadline, try);
    if (rc == SHMKIT_ECORRUPT)
        return corrupt(l, 0);
    if (rc < 0) {
        shmkit__store_relaxed(&l->state, ST_FREE);
        shmkit_mutex_unlock(&l->wm);
        return rc;
    }
    return write_locked(l, 0);
}

static int holds_write(struct shmkit_rwlock *l)
{
    int32_t pid, tid;
    struct shmkit_owner me;
    if (self_ids(&pid, &tid, &me) < 0)
        return 0;
    /* relaxed: if we hold it, we wrote these ourselves */
    uint32_t st = shmkit__load_relaxed(&l->state);
    return (st == ST_WRITE || st == ST_DEAD) && shmkit__load_relaxed(&l->wpid) == pid &&
           shmkit__load_relaxed(&l->wtid) == tid;
}

int shmkit_rwlock_wrunlock(struct shmkit_rwlock *l)
{
    int rc = check(l);
    if (rc < 0)
        return rc;
    if (!holds_write(l))
        return -EPERM;
    shmkit__store_relaxed(&l->wpid, 0);
    shmkit__store_relaxed(&l->wtid, 0);
    /* ST_DEAD stays: unlocking without consistent makes wm unrecoverable */
    if (shmkit__load_relaxed(&l->state) == ST_WRITE)
        shmkit__store_relaxed(&l->state, ST_FREE);
    return wm_rc(shmkit_mutex_unlock(&l->wm));
}

int shmkit_rwlock_consistent(struct shmkit_rwlock *l)
{
    int rc = check(l);
    if (rc < 0)
        return rc;
    if (!holds_write(l) || shmkit__load_relaxed(&l->state) != ST_DEAD)
        return -EINVAL;
    /* -EINVAL here: state says owner-died, the mutex disagrees */
    rc = wm_rc(shmkit_mutex_consistent(&l->wm));
    if (rc == 0)
        shmkit__store_relaxed(&l->state, ST_WRITE);
    return rc;
}

int shmkit_rwlock_rdlock(struct shmkit_rwlock *l, int64_t timeout_ns)
{
    int rc = check(l);
    if (rc < 0)
        return rc;
    int32_t pid, tid;
    struct shmkit_owner me;
    rc = self_ids(&pid, &tid, &me);
    if (rc < 0)
        return rc;
    int try = timeout_ns == 0;
    int64_t deadline = shmkit__deadline(timeout_ns);
    struct shmkit__park p;
    shmkit__park_init(&p, deadline, SHMKIT__CHECK_RWLOCK_FIRST_NS, SHMKIT__CHECK_RWLOCK_MAX_NS,
                      SHMKIT__CHECK_RWLOCK_FIRST_NS);
    for (;;) {
        rc = wm_lock(l, deadline, try);
        if (rc == -ETIMEDOUT && try)
            rc = -EBUSY;
        if (rc == SHMKIT_EOWNERDEAD)
            return take_over(l); /* held exclusively: the caller repairs */
        if (rc < 0)
            return rc;
        shmkit__store_relaxed(&l->state, ST_REGISTER);
        /* relaxed: bits are only set under wm, which we hold */
        uint64_t map = shmkit__load_relaxed(&l->readers_map);
        if (map == UINT64_MAX && reclaim_dead(l, &map) < 0)
            return corrupt(l, 0);
        if (map != UINT64_MAX) {
            int slot = __builtin_ctzll(~map);
            struct shmkit_owner *o = &l->readers[slot];
            /* relaxed: the slot's bit is clear, so nobody else reads these
             * until the seq_cst bit set below publishes them */
            shmkit__store_relaxed(&o->start, me.start);
            shmkit__store_relaxed(&o->pid, me.pid);
            shmkit__or_fetch_seq_cst(&l->readers_map, (uint64_t)1 << slot);
            shmkit__store_relaxed(&l->state, ST_FREE);
            shmkit_mutex_unlock(&l->wm);
            return slot;
        }
        /* every slot taken by a live reader: wait for one to leave */
        shmkit__store_relaxed(&l->state, ST_FREE);
        shmkit__fetch_add_seq_cst(&l->waiting, 1);
        /* acquire: pairs with a leaving reader's bump */
        uint32_t s = shmkit__load_acquire(&l->rseq);
        shmkit_mutex_unlock(&l->wm);
        /* a due check needs no sleep: the next round reclaims dead slots */
        rc = shmkit__park(&p, &l->rseq, s);
        shmkit__fetch_sub_seq_cst(&l->waiting, 1);
        if (rc == -ETIMEDOUT)
            return -EAGAIN; /* no slot; -EBUSY is for a writer in the way */
        if (rc < 0)
            return rc; /* -EINTR: nothing taken */
    }
}

int shmkit_rwlock_rdunlock(struct shmkit_rwlock *l, int ticket)
{
    int rc = check(l);
    if (rc < 0)
        return rc;
    /* the ticket indexes the slot table: checked before any use */
    if (ticket < 0 || ticket >= SHMKIT_RWLOCK_SLOTS)
        return -EINVAL;
    int32_t pid, tid;
    struct shmkit_owner me;
    if (self_ids(&pid, &tid, &me) < 0)
        return -EINVAL;
    uint64_t bit = (uint64_t)1 << ticket;
    /* relaxed: our own slot; set by us under wm */
    if (!(shmkit__load_relaxed(&l->readers_map) & bit) ||
        shmkit__load_relaxed(&l->readers[ticket].pid) != pid)
        return -EINVAL;
    /* seq_cst: clearing our bit, then reading the waiting count, against a
     * writer's waiting increment then map read: one of us sees the other.
     * The bit alone frees the slot; the stale owner record is harmless
     * because only records of set bits are ever looked at. */
    shmkit__and_fetch_seq_cst(&l->readers_map, ~bit);
    if (shmkit__load_seq_cst(&l->waiting) != 0) {
        /* release: the bump tells the waiter the map changed */
        shmkit__fetch_add_release(&l->rseq, 1);
        shmkit_futex_wake(&l->rseq, INT_MAX);
    }
    return 0;
}
