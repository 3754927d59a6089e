/* seqlock.c - one writer, many readers that never block it; a dead writer
 * is detected instead of spun on forever. */
#include "sync_internal.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <string.h>

/* 8-byte words of the guarded data, which may hold any type. */
typedef uint64_t __attribute__((may_alias)) word_t;

/* A read that sees the same odd sequence this many times in a row starts
 * asking whether the writer still lives (a /proc read, ~5 us). */
#define STUCK_ROUNDS 1024

void shmkit_seqlock_init(struct shmkit_seqlock *lock)
{
    if (lock)
        memset(lock, 0, sizeof *lock); /* before the lock is shared */
}

static inline uint32_t rd_begin(const struct shmkit_seqlock *lock)
{
    /* acquire: the data stores published by the write_end that wrote this
     * sequence are visible to the copy that follows */
    return shmkit__load_acquire(&lock->seq);
}

static inline int rd_retry(const struct shmkit_seqlock *lock, uint32_t seq)
{
    /* acquire fence: the relaxed data loads above are ordered before the
     * sequence re-read; if any of them saw a store of a newer write, the
     * writer's release fence in write_begin makes its odd sequence visible
     * here */
    shmkit__seq_fence_acquire();
    return (seq & 1u) || shmkit__load_relaxed(&lock->seq) != seq;
}

uint32_t shmkit_seqlock_read_begin(const struct shmkit_seqlock *lock)
{
    return rd_begin(lock);
}

int shmkit_seqlock_read_retry(const struct shmkit_seqlock *lock, uint32_t seq)
{
    return rd_retry(lock, seq);
}

void shmkit_seqlock_load(void *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    /* relaxed (acquire under TSan): ordering comes from the sequence and
     * the fences */
    while (n && ((uintptr_t)s & 7u)) {
        *d++ = shmkit__seq_data_load(s++);
        n--;
    }
    for (; n >= 8; n -= 8, s += 8, d += 8) {
        uint64_t w = shmkit__seq_data_load((const word_t *)(const void *)s);
        memcpy(d, &w, 8);
    }
    while (n--)
        *d++ = shmkit__seq_data_load(s++);
}

void shmkit_seqlock_store(void *dst, const void *src, size_t n)
{
    const unsigned char *s = src;
    unsigned char *d = dst;
    /* relaxed (release under TSan): ordering comes from the sequence and
     * the fences */
    while (n && ((uintptr_t)d & 7u)) {
        shmkit__seq_data_store(d++, *s++);
        n--;
    }
    for (; n >= 8; n -= 8, s += 8, d += 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        shmkit__seq_data_store((word_t *)(void *)d, w);
    }
    while (n--)
        shmkit__seq_data_store(d++, *s++);
}

int shmkit_seqlock_writer_alive(const struct shmkit_seqlock *lock)
{
    if (!lock)
        return 0;
    /* relaxed: a hint; callers re-read the sequence after asking */
    if (!(shmkit__load_relaxed(&lock->seq) & 1u))
        return 1;
    return shmkit_owner_alive(&lock->writer);
}

/* 1 if SEQ (odd, seen STUCK_ROUNDS times) is still current and its writer
 * is gone. */
static int writer_died(const struct shmkit_seqlock *lock, uint32_t seq)
{
    if (shmkit_owner_alive(&lock->writer))
        return 0;
    /* acquire: the writer record we judged belongs to this sequence or an
     * older one; if the sequence moved, a new writer is at work */
    return shmkit__load_acquire(&lock->seq) == seq;
}

int shmkit_seqlock_read(const struct shmkit_seqlock *lock, void *dst, const void *src, size_t n)
{
    if (!lock || (n && (!dst || !src)))
        return -EINVAL;
    uint32_t stuck_seq = 0;
    unsigned stuck = 0, tries = 0;
    for (;;) {
        uint32_t s = rd_begin(lock);
        if (!(s & 1u)) {
            shmkit_seqlock_load(dst, src, n);
            if (!rd_retry(lock, s))
                return 0;
        } else if (s == stuck_seq) {
            if (++stuck % STUCK_ROUNDS == 0 && writer_died(lock, s))
                return SHMKIT_EPEERDEAD;
        } else {
            stuck_seq = s;
            stuck = 0;
        }
        /* spin briefly, then let the writer (maybe on our core) run */
        if (++tries < 64)
            shmkit__cpu_relax();
        else
            sched_yield();
    }
}

int shmkit_seqlock_write_begin(struct shmkit_seqlock *lock)
{
    if (!lock)
        return -EINVAL;
    struct shmkit_owner me;
    if (shmkit__owner_self_cached(&me) < 0) {
        me.pid = 0; /* unknown identity: readers will treat it as dead */
        me.start = 0;
    }
    /* relaxed: only the single writer stores the sequence */
    uint32_t s = shmkit__load_relaxed(&lock->seq);
    int rc = 0;
    if (s & 1u) {
        /* a write never ended: its writer died, or the single-writer rule
         * is broken (another live writer, or a thread of ours, is at it) */
        int32_t wpid = shmkit__load_relaxed(&lock->writer.pid);
        if (wpid == me.pid || shmkit_owner_alive(&lock->writer))
            return SHMKIT_EPROTO;
        rc = 1; /* take over: the sequence stays odd until our write_end */
    } else {
        shmkit__store_relaxed(&lock->seq, s + 1);
    }
    /* relaxed: the record is a hint read only for liveness checks */
    if (shmkit__load_relaxed(&lock->writer.pid) != me.pid ||
        shmkit__load_relaxed(&lock->writer.start) != me.start) {
        shmkit__store_relaxed(&lock->writer.start, me.start);
        shmkit__store_relaxed(&lock->writer.pid, me.pid);
    }
    /* release fence: the odd sequence is visible before any data store that
     * follows (a reader that sees new data then sees the write started) */
    shmkit__seq_fence_release();
    return rc;
}

void shmkit_seqlock_write_end(struct shmkit_seqlock *lock)
{
    uint32_t s = shmkit__load_relaxed(&lock->seq);
    /* seq_cst store (release part): publishes the data with the even
     * sequence; (seq_cst part) ordered before the waiters load below, the
     * store-buffering pair with shmkit_seqlock_wait */
    shmkit__store_seq_cst(&lock->seq, s + 1);
    if (shmkit__load_seq_cst(&lock->waiters) != 0)
        shmkit_futex_wake(&lock->seq, INT_MAX);
}

int shmkit_seqlock_write(struct shmkit_seqlock *lock, void *dst, const void *src, size_t n)
{
    if (!lock || (n && (!dst || !src)))
        return -EINVAL;
    int rc = shmkit_seqlock_write_begin(lock);
    if (rc < 0)
        return rc;
    shmkit_seqlock_store(dst, src, n);
    shmkit_seqlock_write_end(lock);
    return rc;
}

int shmkit_seqlock_wait(struct shmkit_seqlock *lock, uint32_t seq, int64_t timeout_ns)
{
    if (!lock)
        return -EINVAL;
    struct shmkit__park p;
    /* the first check at once: a write already abandoned is reported now */
    shmkit__park_init(&p, shmkit__deadline(timeout_ns), SHMKIT__CHECK_SEQLOCK_NS,
                      SHMKIT__CHECK_SEQLOCK_NS, 0);
    int rc = 0;
    /* seq_cst: the store-buffering pair with write_end (see there) */
    shmkit__fetch_add_seq_cst(&lock->waiters, 1);
    for (;;) {
        uint32_t cur = shmkit__load_seq_cst(&lock->seq);
        if (!(cur & 1u) && cur != seq)
            break;
        rc = shmkit__park(&p, &lock->seq, cur);
        if (rc == SHMKIT__PARK_CHECK) {
            rc = 0;
            if ((cur & 1u) && writer_died(lock, cur)) {
                rc = SHMKIT_EPEERDEAD;
                break;
            }
            continue;
        }
        if (rc < 0)
            break; /* -ETIMEDOUT, -EINTR, a futex error */
    }
    /* release: leaving orders nothing the writer needs; kept symmetric */
    shmkit__fetch_sub_release(&lock->waiters, 1);
    return rc;
}
