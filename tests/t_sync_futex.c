/* t_sync_futex.c - futex wait/wake and the wait queue: timeouts on time,
 * no system call for a wake without waiters, no lost wake-up between
 * processes, the seqlock's change wait. */
#include "tu_sync.h"

#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>

struct shm {
    uint32_t word;
    uint32_t pad;
    struct shmkit_waitq q[2];
    uint32_t turn; /* ping-pong: whose turn, counts up */
    uint32_t flag;
    struct shmkit_seqlock sl;
    uint64_t data;
    uint32_t seen; /* the sequence the seqlock waiter starts from */
    uint32_t intr_word; /* waited on while SIGALRM interrupts */
    uint32_t intr_hits; /* SIGALRM handler runs (the handler writes it) */
};

#define PINGS 20000

/* The polling fallback wakes nobody: a sleeper notices the change itself. */
#ifdef SHMKIT_FUTEX_FALLBACK
#define WOKEN 0
#else
#define WOKEN 1
#endif

/* State letter of process PID from /proc/PID/stat, '?' if unknown. */
static char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return '?';
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : '?';
}

#ifndef SHMKIT_FUTEX_FALLBACK
static struct shm *sig_m;

static void on_alarm(int sig)
{
    (void)sig;
    /* relaxed: a lock-free atomic is async-signal-safe; the child polls it */
    __atomic_fetch_add(&sig_m->intr_hits, 1, __ATOMIC_RELAXED);
}

/* Installs on_alarm for SIGALRM, with or without SA_RESTART, and fires it
 * every 20 ms (periodic: a first one that lands before the wait even began,
 * on a loaded machine, is followed by one that lands during it). */
static void alarm_every_20ms(int restart)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {.it_value = {.tv_sec = 0, .tv_usec = 20000},
                           .it_interval = {.tv_sec = 0, .tv_usec = 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
}

static void alarm_off(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_DFL);
}

/* Child: waits until the parent sleeps (in its futex wait) and its handler
 * has run twice more since, then wakes it. */
static int late_waker(void *arg, int i)
{
    struct shm *m = arg;
    int k = 0;
    while (k++ < 5000 && proc_state(getppid()) != 'S')
        usleep(1000);
    /* relaxed: a counter; the parent's wait is what we synchronise with */
    uint32_t h = __atomic_load_n(&m->intr_hits, __ATOMIC_RELAXED);
    while (k++ < 10000 && __atomic_load_n(&m->intr_hits, __ATOMIC_RELAXED) < h + 2)
        usleep(1000);
    /* release: the parent's wait ends with the new value */
    __atomic_store_n(&m->intr_word, 1, __ATOMIC_RELEASE);
    return shmkit_futex_wake(&m->intr_word, 1) < 0;
}
#endif

/* Waits on queue Q until *WORD != OLD or the timeout: the waiter protocol. */
static int wait_change(struct shmkit_waitq *q, uint32_t *word, uint32_t old, int64_t timeout)
{
    for (;;) {
        uint32_t s = shmkit_waitq_prepare(q);
        /* acquire: pairs with the release store of the other side */
        if (__atomic_load_n(word, __ATOMIC_ACQUIRE) != old)
            return 0;
        int rc = shmkit_waitq_wait(q, s, timeout);
        if (rc < 0)
            return rc;
    }
}

/* Child of the ping-pong: waits for odd turns, answers with even ones. */
static int pong(void *arg, int i)
{
    struct shm *m = arg;
    for (uint32_t t = 1; t < 2 * PINGS; t += 2) {
        if (wait_change(&m->q[0], &m->turn, t - 1, 5000000000) < 0)
            return 1;
        if (__atomic_load_n(&m->turn, __ATOMIC_ACQUIRE) != t)
            return 2;
        __atomic_store_n(&m->turn, t + 1, __ATOMIC_RELEASE);
        if (shmkit_waitq_wake(&m->q[1], 1) < 0)
            return 3;
    }
    return 0;
}

static int waiter(void *arg, int i)
{
    struct shm *m = arg;
    return wait_change(&m->q[0], &m->flag, 0, 5000000000) == 0 ? 0 : 1;
}

static int seq_waiter(void *arg, int i)
{
    struct shm *m = arg;
    /* taken by the parent before the fork: the write may come before this
     * child even runs, and must still count as "after" */
    int rc = shmkit_seqlock_wait(&m->sl, m->seen, 5000000000);
    uint64_t v;
    if (rc != 0 || shmkit_seqlock_read(&m->sl, &v, &m->data, sizeof v) != 0)
        return 1;
    return v == 42 ? 0 : 2;
}

int main(void)
{
    shmkit_seg *seg;
    struct shm *m = tu_shared(&seg, sizeof *m);

    /* raw futex */
    is_rc(shmkit_futex_wait(&m->word, 1, -1), -EAGAIN, "wait on a word that differs: EAGAIN");
    is_rc(shmkit_futex_wait(NULL, 0, 0), -EINVAL, "NULL word: EINVAL");
    is_rc(shmkit_futex_wait((uint32_t *)((char *)&m->word + 1), 0, 0), -EINVAL,
          "misaligned word: EINVAL");
    is_rc(shmkit_futex_wake(&m->word, 0), -EINVAL, "wake of 0 waiters: EINVAL");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_futex_wait(&m->word, 0, 0), -ETIMEDOUT, "timeout 0: ETIMEDOUT at once");
    ok(tu_now_ns() - t0 < 100000000u, "timeout 0 returned within 100 ms");
    t0 = tu_now_ns();
    is_rc(shmkit_futex_wait(&m->word, 0, 50000000), -ETIMEDOUT, "50 ms timeout: ETIMEDOUT");
    uint64_t el = tu_now_ns() - t0;
    ok(el >= 50000000u && el < 1050000000u, "returned after %.1f ms (>= 50, < 1050)", el / 1e6);
    is_int(shmkit_futex_wake(&m->word, 1), 0, "raw wake with no waiter wakes 0");

    /* signals: when a handler ends a wait with EINTR, and when not (the
     * polling fallback misses a signal that lands between two of its
     * sleeps, so there these would be timing tests: Linux only) */
#ifndef SHMKIT_FUTEX_FALLBACK
    sig_m = m;
    alarm_every_20ms(0);
    int rc = shmkit_futex_wait(&m->intr_word, 0, -1);
    alarm_off();
    is_rc(rc, -EINTR, "no timeout, handler without SA_RESTART: EINTR");
    alarm_every_20ms(1);
    rc = shmkit_futex_wait(&m->intr_word, 0, 5000000000);
    alarm_off();
    is_rc(rc, -EINTR, "5 s timeout, handler with SA_RESTART: EINTR all the same");
    m->intr_hits = 0;
    pid_t w = tu_spawn_fn(late_waker, m, 0);
    alarm_every_20ms(1);
    rc = shmkit_futex_wait(&m->intr_word, 0, -1);
    alarm_off();
    uint32_t hits = __atomic_load_n(&m->intr_hits, __ATOMIC_RELAXED);
    is_rc(rc, 0, "no timeout, SA_RESTART handler: the kernel restarts the wait, woken later");
    ok(hits >= 2, "... through %u runs of the handler", (unsigned)hits);
    is_int(tu_reap(&w, 1, 10000), 1, "waker child done");
#endif

    /* wait queue: no syscall without waiters */
    uint64_t c0 = shmkit_futex_syscalls();
    int sum = 0;
    for (int i = 0; i < 1000; i++)
        sum += shmkit_waitq_wake(&m->q[0], 1);
    is_int(sum, 0, "1000 wakes with no waiter woke nobody");
    is_int(shmkit_futex_syscalls() - c0, 0, "... and made no futex system call");
    is_int(m->q[0].seq, 1000, "... but each bumped the sequence");
    shmkit_waitq_init(&m->q[0]);

    uint32_t s = shmkit_waitq_prepare(&m->q[0]);
    t0 = tu_now_ns();
    is_rc(shmkit_waitq_wait(&m->q[0], s, 30000000), -ETIMEDOUT, "waitq 30 ms timeout");
    el = tu_now_ns() - t0;
    ok(el >= 30000000u && el < 1030000000u, "returned after %.1f ms", el / 1e6);
    is_int(m->q[0].waiters, 0, "waiter count back to 0 after the timeout");
    shmkit_waitq_wake(&m->q[0], 1);
    is_rc(shmkit_waitq_wait(&m->q[0], s, -1), 0, "a wake after prepare: wait returns at once");
    is_rc(shmkit_waitq_wait(NULL, 0, 0), -EINVAL, "NULL queue: EINVAL");
    is_rc(shmkit_waitq_wake(&m->q[0], 0), -EINVAL, "wake 0: EINVAL");

    /* a sleeping waiter in another process is woken */
    shmkit_waitq_init(&m->q[0]);
    pid_t p = tu_spawn_fn(waiter, m, 0);
    /* wait (up to 5 s, the machine may be loaded) until it is registered
     * and asleep in the kernel: state S after the waiter count went up */
    int asleep = 0;
    for (int i = 0; i < 5000 && !asleep; i++) {
        usleep(1000);
        asleep = __atomic_load_n(&m->q[0].waiters, __ATOMIC_ACQUIRE) == 1 && proc_state(p) == 'S';
    }
    ok(asleep, "child is asleep on the queue");
    c0 = shmkit_futex_syscalls();
    __atomic_store_n(&m->flag, 1, __ATOMIC_RELEASE);
    is_int(shmkit_waitq_wake(&m->q[0], 1), WOKEN, "wake with a sleeper wakes %d", WOKEN);
    is_int(shmkit_futex_syscalls() - c0, WOKEN, "... with %d system call", WOKEN);
    is_int(tu_reap(&p, 1, 5000), 1, "child saw the flag and exited");

    /* ping-pong: any lost wake-up hangs (and the 5 s timeouts fail it) */
    shmkit_waitq_init(&m->q[0]);
    shmkit_waitq_init(&m->q[1]);
    m->turn = 0;
    p = tu_spawn_fn(pong, m, 0);
    int bad = 0;
    t0 = tu_now_ns();
    for (uint32_t t = 0; t < 2 * PINGS && !bad; t += 2) {
        __atomic_store_n(&m->turn, t + 1, __ATOMIC_RELEASE);
        if (shmkit_waitq_wake(&m->q[0], 1) < 0 ||
            wait_change(&m->q[1], &m->turn, t + 1, 5000000000) < 0)
            bad = 1;
    }
    el = tu_now_ns() - t0;
    ok(!bad, "%d round trips between processes, no lost wake-up", PINGS);
    is_int(tu_reap(&p, 1, 10000), 1, "pong child finished cleanly");
    tap_diag("%.2f us per round trip", el / 1e3 / PINGS);

    /* seqlock change wait */
    shmkit_seqlock_init(&m->sl);
    m->seen = shmkit_seqlock_read_begin(&m->sl);
    p = tu_spawn_fn(seq_waiter, m, 0);
    usleep(20000);
    uint64_t v = 42;
    is_rc(shmkit_seqlock_write(&m->sl, &m->data, &v, sizeof v), 0, "seqlock write");
    is_int(tu_reap(&p, 1, 5000), 1, "seqlock waiter woke and read the new value");
    s = shmkit_seqlock_read_begin(&m->sl);
    t0 = tu_now_ns();
    is_rc(shmkit_seqlock_wait(&m->sl, s, 20000000), -ETIMEDOUT, "seqlock wait times out");
    ok(tu_now_ns() - t0 >= 20000000u, "... not early");

    shmkit_close(seg);
    return tap_done();
}
