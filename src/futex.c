/* futex.c - block on a 32-bit word in shared memory: futex(2) on Linux, a
 * polling fallback elsewhere, and the wait queue that skips the wake-up
 * system call when no one sleeps. */
#include "sync_internal.h"

#include <errno.h>
#include <limits.h>
#include <time.h>

#if defined(__linux__) && !defined(SHMKIT_FUTEX_FALLBACK)
#define SHMKIT__HAVE_FUTEX 1
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

/* How many futex system calls this process made (tests check that a wake
 * without waiters makes none). Relaxed: a statistic, orders nothing. */
static uint64_t futex_calls;

uint64_t shmkit_futex_syscalls(void)
{
    return shmkit__load_relaxed(&futex_calls);
}

static int bad_word(const uint32_t *addr)
{
    return !addr || ((uintptr_t)addr & 3u);
}

#ifdef SHMKIT__HAVE_FUTEX

int shmkit_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns)
{
    if (bad_word(addr))
        return -EINVAL;
    struct timespec ts, *tsp = NULL;
    if (timeout_ns >= 0) {
        /* FUTEX_WAIT takes a relative timeout measured on CLOCK_MONOTONIC */
        ts.tv_sec = (time_t)(timeout_ns / 1000000000);
        ts.tv_nsec = (long)(timeout_ns % 1000000000);
        tsp = &ts;
    }
    shmkit__fetch_add_relaxed(&futex_calls, 1);
    /* shared (not FUTEX_PRIVATE_FLAG): waiters and wakers are different
     * processes with different mappings of the word */
    long rc = syscall(SYS_futex, addr, FUTEX_WAIT, expected, tsp, NULL, 0);
    if (rc == 0)
        return 0;
    switch (errno) {
    case EAGAIN:
        return -EAGAIN;
    case ETIMEDOUT:
        return -ETIMEDOUT;
    case EINTR:
        return -EINTR;
    default:
        return -errno;
    }
}

int shmkit_futex_wake(uint32_t *addr, int n)
{
    if (bad_word(addr) || n < 1)
        return -EINVAL;
    shmkit__fetch_add_relaxed(&futex_calls, 1);
    long rc = syscall(SYS_futex, addr, FUTEX_WAKE, n, NULL, NULL, 0);
    return rc < 0 ? -errno : (int)rc;
}

#else /* portable fallback: poll the word */

/* Without futexes there is no portable way to sleep on an address shared
 * by processes that map it at different addresses (a process-shared
 * condition variable would have to live next to every word, which the
 * 4-byte futex word and the 8-byte wait queue leave no room for). So the
 * waiter polls the word with sleeps growing from 1 us to 1 ms, and a wake
 * is a no-op: a change of the word is what ends a wait. Correct, slower to
 * react (<= 1 ms), and never a lost wake-up. */
int shmkit_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns)
{
    if (bad_word(addr))
        return -EINVAL;
    /* acquire: a change we see comes with what the writer published */
    if (shmkit__load_acquire(addr) != expected)
        return -EAGAIN;
    int64_t start = shmkit__now_ns();
    int64_t nap = 1000;
    for (;;) {
        shmkit__fetch_add_relaxed(&futex_calls, 1);
        if (timeout_ns >= 0) {
            int64_t left = timeout_ns - (shmkit__now_ns() - start);
            if (left <= 0)
                return -ETIMEDOUT;
            if (nap > left)
                nap = left;
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)nap};
        /* only a handler that interrupts the sleep is seen (documented):
         * there is no portable way to learn that one ran in between */
        if (nanosleep(&ts, NULL) < 0 && errno == EINTR)
            return -EINTR;
        /* acquire: as above */
        if (shmkit__load_acquire(addr) != expected)
            return 0;
        if (nap < 1000000)
            nap *= 2;
    }
}

int shmkit_futex_wake(uint32_t *addr, int n)
{
    if (bad_word(addr) || n < 1)
        return -EINVAL;
    return 0;
}

#endif

void shmkit_waitq_init(struct shmkit_waitq *q)
{
    if (!q)
        return;
    /* relaxed: initialisation happens before the queue is shared */
    shmkit__store_relaxed(&q->seq, 0);
    shmkit__store_relaxed(&q->waiters, 0);
}

uint32_t shmkit_waitq_prepare(const struct shmkit_waitq *q)
{
    /* acquire: pairs with the waker's seq_cst bump, so the condition the
     * waker set before its wake is visible to the test that follows */
    return shmkit__load_acquire(&q->seq);
}

int shmkit_waitq_wait(struct shmkit_waitq *q, uint32_t seq, int64_t timeout_ns)
{
    if (!q || ((uintptr_t)q & 3u))
        return -EINVAL;
    /* seq_cst increment then seq_cst load of seq: against the waker's
     * seq_cst bump then load of waiters (a store-buffering pair), at least
     * one side sees the other: either the waker sees us and wakes, or we
     * see its bump and do not sleep. */
    shmkit__fetch_add_seq_cst(&q->waiters, 1);
    int rc = 0;
    if (shmkit__load_seq_cst(&q->seq) == seq) {
        rc = shmkit_futex_wait(&q->seq, seq, timeout_ns);
        if (rc == -EAGAIN)
            rc = 0; /* the sequence moved: the caller re-checks */
    }
    /* release: nothing to publish really; leaving is ordered after the wait */
    shmkit__fetch_sub_release(&q->waiters, 1);
    return rc;
}

int shmkit_waitq_wake(struct shmkit_waitq *q, int n)
{
    if (!q || ((uintptr_t)q & 3u) || n < 1)
        return -EINVAL;
    /* seq_cst bump: publishes the caller's condition (release part) and is
     * the store half of the store-buffering pair described in wait */
    shmkit__fetch_add_seq_cst(&q->seq, 1);
    /* seq_cst load: the load half; 0 means every future waiter will see
     * the bump before it sleeps */
    if (shmkit__load_seq_cst(&q->waiters) == 0)
        return 0;
    return shmkit_futex_wake(&q->seq, n);
}
