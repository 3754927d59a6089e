/* t_wait_signal.c - the one EINTR policy (SIGNALS in shmkit/sync.h): a
 * signal handler, installed with or without SA_RESTART, ends every parked
 * wait with -EINTR and nothing taken; calls that do not park (table read)
 * or wait inside pthread (mutex) keep their deadlines however many
 * signals arrive. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MS 1000000LL

static volatile sig_atomic_t hits;

static void on_alarm(int sig)
{
    (void)sig;
    hits++;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* SIGALRM to ON_ALARM (FLAGS: 0 or SA_RESTART), first after FIRST_US, then
 * every EVERY_US (0: once). The waits below get a signal every 100 ms, not
 * one: a handler that runs while the call is not asleep in the kernel (it
 * spins, or checks its peer between two slices - a moment that a busy
 * machine can stretch by preempting it there) is not seen, as SIGNALS in
 * shmkit/sync.h says, and a single signal landing there left a wait with
 * no deadline parked for ever. */
static void alarm_in(int flags, long first_us, long every_us)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, every_us}, {0, first_us}};
    hits = 0;
    setitimer(ITIMER_REAL, &it, NULL);
}

static void alarm_off(void)
{
    struct itimerval it = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &it, NULL);
    signal(SIGALRM, SIG_IGN);
}

static shmkit_seg *anon(size_t size)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = size, .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("anonymous segment");
    return s;
}

/* An empty ring whose consumer parks: -EINTR for either kind of handler,
 * and the ring still works (nothing was consumed). */
static void ring_recv(int flags, const char *how)
{
    shmkit_seg *seg = anon(shmkit_ring_size_for(4096));
    shmkit_ring *c = NULL, *p = NULL;
    is_rc(shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_CONSUMER), 0, "ring (%s)", how);
    is_rc(shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER), 0, "producer (%s)", how);
    char buf[64];
    alarm_in(flags, 50000, 100000); /* again every 100 ms: see park_alarm */
    int64_t t0 = now_ns();
    int rc = shmkit_ring_recv(c, buf, sizeof buf, -1);
    int64_t took = now_ns() - t0;
    alarm_off();
    is_rc(rc, -EINTR, "recv parked forever, handler %s: -EINTR", how);
    ok(hits >= 1 && took < 2000 * MS, "at a signal (%lld ms, %d signals)", (long long)(took / MS),
       (int)hits);
    is_rc(shmkit_ring_send(p, "x", 1, 0), 0, "send after");
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, 0), 1, "the message is received whole");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    shmkit_close(seg);
}

/* A seqlock wait for the next write. */
static void seqlock_wait(int flags, const char *how, int64_t timeout)
{
    struct shmkit_seqlock l;
    shmkit_seqlock_init(&l);
    alarm_in(flags, 50000, 100000);
    int rc = shmkit_seqlock_wait(&l, shmkit_seqlock_read_begin(&l), timeout);
    alarm_off();
    is_rc(rc, -EINTR, "seqlock_wait (%s), handler %s: -EINTR", timeout < 0 ? "forever" : "5 s",
          how);
}

/* A wait queue with a timeout: the raw primitive, -EINTR too. */
static void waitq_wait(void)
{
    struct shmkit_waitq q;
    shmkit_waitq_init(&q);
    alarm_in(SA_RESTART, 50000, 100000);
    int rc = shmkit_waitq_wait(&q, shmkit_waitq_prepare(&q), 5000 * MS);
    alarm_off();
    is_rc(rc, -EINTR, "waitq_wait (5 s), handler with SA_RESTART: -EINTR");
}

/* A writer waiting for a reader (this process holds a read lock). */
static void rwlock_drain(int flags, const char *how)
{
    shmkit_seg *seg = anon(4096);
    struct shmkit_rwlock *l = shmkit_seg_data(seg);
    is_rc(shmkit_rwlock_init(l), 0, "rwlock (%s)", how);
    int ticket = shmkit_rwlock_rdlock(l, -1);
    ok(ticket >= 0, "read lock");
    alarm_in(flags, 50000, 100000);
    int rc = shmkit_rwlock_wrlock(l, -1);
    alarm_off();
    is_rc(rc, -EINTR, "wrlock waiting for a reader, handler %s: -EINTR", how);
    is_rc(shmkit_rwlock_rdunlock(l, ticket), 0, "read unlock");
    is_rc(shmkit_rwlock_wrlock(l, 0), 0, "the write lock was not left taken");
    is_rc(shmkit_rwlock_wrunlock(l), 0, "write unlock");
    shmkit_rwlock_destroy(l);
    shmkit_close(seg);
}

/* Deadlines hold across a storm of signals: a caller that calls again on
 * -EINTR with the time left ends at its deadline, and the calls that do
 * not park ignore the signals and keep theirs. */
static void storm(void)
{
    shmkit_seg *seg = anon(shmkit_ring_size_for(4096));
    shmkit_ring *c = NULL;
    is_rc(shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_CONSUMER), 0, "ring");
    char buf[64];
    alarm_in(0, 2000, 2000); /* every 2 ms */
    int64_t t0 = now_ns(), deadline = t0 + 300 * MS;
    int rc, intr = 0;
    for (;;) {
        int64_t left = deadline - now_ns();
        rc = shmkit_ring_recv(c, buf, sizeof buf, left > 0 ? left : 0);
        if (rc != -EINTR)
            break;
        intr++;
    }
    int64_t took = now_ns() - t0;
    alarm_off();
    ok(rc == -ETIMEDOUT || rc == -EAGAIN, "recv under a storm ends at its deadline (rc %d)", rc);
    ok(intr > 10, "after many -EINTR (%d)", intr);
    ok(took >= 300 * MS && took < 800 * MS, "300 ms deadline kept: %lld ms",
       (long long)(took / MS));
    shmkit_ring_close(c);
    shmkit_close(seg);

    /* a table read never parks: a write left open by a live writer (us)
     * gives -EAGAIN after ~50 ms, signals or not */
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .flags = SHMKIT_CREATE};
    is_rc(shmkit_table_create(&t, &o, 64, 1, 7), 0, "table");
    is_rc(shmkit_table_claim(t, 0), 0, "claim");
    struct shmkit_seqlock *l =
        (struct shmkit_seqlock *)(void *)((char *)shmkit_seg_data(shmkit_table_seg(t)) + 128);
    ok(shmkit_seqlock_write_begin(l) >= 0, "a write left open");
    alarm_in(0, 1000, 1000);
    t0 = now_ns();
    rc = shmkit_table_read(t, 0, buf, sizeof buf, NULL);
    took = now_ns() - t0;
    alarm_off();
    is_rc(rc, -EAGAIN, "table read under a storm: -EAGAIN, not -EINTR");
    ok(took >= 40 * MS && took < 1000 * MS, "after ~50 ms (%lld ms)", (long long)(took / MS));
    shmkit_seqlock_write_end(l);
    is_rc(shmkit_table_read(t, 0, buf, sizeof buf, NULL), 0, "read once the write ended");
    shmkit_table_close(t);
}

int main(void)
{
    tap_plan(38);
    ring_recv(0, "without SA_RESTART");
    ring_recv(SA_RESTART, "with SA_RESTART");
    seqlock_wait(0, "without SA_RESTART", -1);
    seqlock_wait(SA_RESTART, "with SA_RESTART", -1);
    seqlock_wait(SA_RESTART, "with SA_RESTART", 5000 * MS);
    waitq_wait();
    rwlock_drain(0, "without SA_RESTART");
    rwlock_drain(SA_RESTART, "with SA_RESTART");
    storm();
    return tap_done();
}
