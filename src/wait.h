/* wait.h - time, deadlines, the spin pause, and the one parking loop every
 * blocking call of the library sleeps through (see wait.c). Internal. */
#ifndef SHMKIT_WAIT_H
#define SHMKIT_WAIT_H

#include <stdint.h>
#include <time.h>

/* How often a parked caller wakes to ask whether the process it waits for
 * still lives (a /proc read, ~10 us each). */
#define SHMKIT__CHECK_CHAN_NS 20000000        /* channels: SHMKIT_CHAN_SLICE_NS (channel.h) */
#define SHMKIT__CHECK_PLOCK_NS 20000000       /* a MULTI ring's producer lock, same slice */
#define SHMKIT__CHECK_SEQLOCK_NS 100000000    /* shmkit_seqlock_wait while a write is open */
#define SHMKIT__CHECK_RWLOCK_FIRST_NS 1000000 /* rwlock waits for readers: 1 ms, */
#define SHMKIT__CHECK_RWLOCK_MAX_NS 50000000  /* doubling up to 50 ms */
/* Outside the sleeping slices (try calls, the check before a first sleep,
 * a try lock) a handle asks about its peer at most once per this. */
#define SHMKIT__CHECK_THROTTLE_NS 1000000
/* shmkit_table_read spins and yields, never parks: it gives up after this. */
#define SHMKIT__TABLE_READ_GIVEUP_NS 50000000

/* Monotonic clock in nanoseconds (a wall-clock step moves no deadline). */
static inline int64_t shmkit__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The deadline TIMEOUT_NS from now: -1 (never) for a negative timeout or
 * one that would overflow. */
static inline int64_t shmkit__deadline(int64_t timeout_ns)
{
    if (timeout_ns < 0)
        return -1;
    int64_t now = shmkit__now_ns();
    return timeout_ns > INT64_MAX - now ? -1 : now + timeout_ns;
}

/* Time left until DEADLINE: -1 forever, 0 passed. */
static inline int64_t shmkit__time_left(int64_t deadline)
{
    if (deadline < 0)
        return -1;
    int64_t left = deadline - shmkit__now_ns();
    return left > 0 ? left : 0;
}

/* A short pause inside a spin loop (lets the sibling hyperthread run). */
static inline void shmkit__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* One park: sleep on a futex word until a deadline, waking every PERIOD to
 * check the liveness of whoever we wait for. The caller owns the loop:
 *
 *     struct shmkit__park p;
 *     shmkit__park_init(&p, shmkit__deadline(timeout_ns), PERIOD, PERIOD_MAX);
 *     for (;;) {
 *         v = load the word; if (condition) break;
 *         rc = shmkit__park(&p, &word, v);
 *         if (rc == SHMKIT__PARK_CHECK) { if (owner dead) fail; continue; }
 *         if (rc < 0) fail with rc;    -ETIMEDOUT, -EINTR, ...
 *     }
 */
struct shmkit__park {
    int64_t deadline;   /* -1: none */
    int64_t period;     /* the current liveness check period */
    int64_t period_max; /* doubled at each check up to this (= period: fixed) */
    int64_t first;      /* the first check comes this long after the first park */
    int64_t next_check; /* when the next check is due; -1 until the first park */
};

/* The first check comes FIRST_CHECK_IN (usually PERIOD) after the first
 * shmkit__park. Reads no clock: a lock or channel call that never has to
 * wait pays nothing for being ready to. */
void shmkit__park_init(struct shmkit__park *p, int64_t deadline, int64_t period, int64_t period_max,
                       int64_t first_check_in);

#define SHMKIT__PARK_CHECK 1
/* Sleeps while *WORD == VAL, at most until the deadline or the next check.
 * Returns 0 (woken, the word changed, or the sleep ran out: re-check the
 * condition), SHMKIT__PARK_CHECK (a check is due now, before any sleep;
 * the next one is scheduled), -ETIMEDOUT (the deadline passed, found
 * before sleeping), -EINTR (a signal handler ran while asleep: every sleep
 * has a timeout, so with or without SA_RESTART) or another futex error. */
int shmkit__park(struct shmkit__park *p, uint32_t *word, uint32_t val);

#endif
