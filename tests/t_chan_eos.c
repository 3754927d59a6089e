/* t_chan_eos.c - end of stream is not death (issue 12): a ring producer or
 * bus publisher that closes reaches the other side as SHMKIT_ECLOSED once
 * everything it sent was received (try and blocking calls, a parked
 * receiver woken by the close), a killed one as SHMKIT_EPEERDEAD; a new
 * producer makes the channel live again. And shmkit_bus_wait_subscribers.
 * Named cases (tu_case.h): --list. */
#include "tu_case.h"
#include "tu_ring.h"
#include "tu_seg.h"
#include "tu_sync.h"

#include <string.h>

#define N_MSGS 10
#define LONG_NS 5000000000ll

/* Written by a child just before it closes: when the close happened. */
struct shared {
    uint64_t closed_at;
};

static shmkit_seg *shseg;
static struct shared *sh;

static shmkit_seg *ring_seg(unsigned flags, shmkit_ring **c)
{
    shmkit_seg *seg = tu_seg_anon(shmkit_ring_size_for(4096));
    int rc = shmkit_ring_create(c, seg, 4096, SHMKIT_RING_CONSUMER | flags);
    if (rc < 0)
        tap_bail("ring create: %s", shmkit_strerror(rc));
    return seg;
}

static shmkit_ring *producer(shmkit_seg *seg)
{
    shmkit_ring *p = NULL;
    int rc = shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER);
    if (rc < 0)
        tap_bail("producer attach: %s", shmkit_strerror(rc));
    return p;
}

/* Receives every message queued, by try calls only; returns how many came
 * in order (message I holds I). */
static int ring_drain(shmkit_ring *c)
{
    int n = 0, v;
    while (shmkit_ring_recv(c, &v, sizeof v, 0) == (int)sizeof v && v == n)
        n++;
    return n;
}

static void send_n(shmkit_ring *p, int from, int n)
{
    for (int i = from; i < from + n; i++)
        if (shmkit_ring_send(p, &i, sizeof i, 0) != 0)
            tap_bail("ring send %d", i);
}

/* After everything was received: try and blocking calls say ECLOSED, the
 * blocking one at once. */
static void ring_says_closed(shmkit_ring *c, const char *what)
{
    char buf[16];
    const void *m;
    size_t len;
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, 0), SHMKIT_ECLOSED, "%s: then a try recv: ECLOSED",
          what);
    is_rc(shmkit_ring_peek(c, &m, &len, 0), SHMKIT_ECLOSED, "%s: a try peek too", what);
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, LONG_NS), SHMKIT_ECLOSED,
          "%s: a blocking recv: ECLOSED", what);
    ok(tu_now_ns() - t0 < 100000000u, "%s: ... at once (%.2f ms)", what, (tu_now_ns() - t0) / 1e6);
}

static void ring_spsc(void)
{
    shmkit_ring *c;
    shmkit_seg *seg = ring_seg(0, &c);
    shmkit_ring *p = producer(seg);
    send_n(p, 0, N_MSGS);
    shmkit_ring_close(p);
    /* no sleep: the close needs no liveness check to be seen */
    is_int(ring_drain(c), N_MSGS, "spsc: the %d messages queued at close come first", N_MSGS);
    ring_says_closed(c, "spsc");
    /* a new producer: live again */
    p = producer(seg);
    int v = -1;
    is_rc(shmkit_ring_recv(c, &v, sizeof v, 0), -EAGAIN, "spsc: new producer: EAGAIN, not ECLOSED");
    send_n(p, 7, 1);
    is_int(shmkit_ring_recv(c, &v, sizeof v, LONG_NS), sizeof v, "spsc: ... and its message comes");
    is_int(v, 7, "spsc: ... intact");
    shmkit_ring_close(p);
    ring_says_closed(c, "spsc, second producer closed");
    /* the other direction: a producer blocked on a full ring whose
     * consumer closes */
    p = producer(seg);
    char big[1024] = {0};
    while (shmkit_ring_send(p, big, sizeof big, 0) == 0)
        ;
    shmkit_ring_close(c);
    is_rc(shmkit_ring_send(p, big, sizeof big, 0), SHMKIT_ECLOSED,
          "spsc: consumer closed, ring full: a try send gets ECLOSED");
    is_rc(shmkit_ring_send(p, big, sizeof big, LONG_NS), SHMKIT_ECLOSED, "... a blocking one too");
    shmkit_ring_close(p);
    shmkit_close(seg);
}

static void ring_multi(void)
{
    shmkit_ring *c;
    shmkit_seg *seg = ring_seg(SHMKIT_RING_MULTI, &c);
    shmkit_ring *p1 = producer(seg), *p2 = producer(seg);
    send_n(p1, 0, N_MSGS / 2);
    send_n(p2, N_MSGS / 2, N_MSGS / 2);
    shmkit_ring_close(p1);
    is_int(ring_drain(c), N_MSGS, "multi: all %d messages of both producers", N_MSGS);
    int v;
    is_rc(shmkit_ring_recv(c, &v, sizeof v, 0), -EAGAIN,
          "multi: one producer of two closed: still EAGAIN");
    send_n(p2, 100, 1);
    shmkit_ring_close(p2);
    is_int(shmkit_ring_recv(c, &v, sizeof v, 0), sizeof v,
           "multi: the last producer's last message");
    is_int(v, 100, "multi: ... intact");
    ring_says_closed(c, "multi, last producer closed");
    shmkit_ring *p3 = producer(seg);
    is_rc(shmkit_ring_recv(c, &v, sizeof v, 0), -EAGAIN, "multi: a new producer: live again");
    shmkit_ring_close(p3);
    shmkit_ring_close(c);
    shmkit_close(seg);
}

/* A child producer sends one message, then closes after DELAY_MS while the
 * parent is parked in recv; it stays alive (the close, not a death). */
static void ring_parked(void)
{
    shmkit_ring *c;
    shmkit_seg *seg = ring_seg(0, &c);
    shmkit_ring_set_spin(c, 1000);
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *p = producer(seg);
        int v = 42;
        shmkit_ring_send(p, &v, sizeof v, 0);
        usleep(200000);
        __atomic_store_n(&sh->closed_at, tu_now_ns(), __ATOMIC_SEQ_CST);
        shmkit_ring_close(p);
        (void)!write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    int v = 0;
    is_int(shmkit_ring_recv(c, &v, sizeof v, LONG_NS), sizeof v, "parked: the child's message");
    is_rc(shmkit_ring_recv(c, &v, sizeof v, LONG_NS), SHMKIT_ECLOSED,
          "parked: the child's close ends the parked recv with ECLOSED");
    uint64_t lag = tu_now_ns() - __atomic_load_n(&sh->closed_at, __ATOMIC_SEQ_CST);
    ok(lag < SHMKIT_CHAN_SLICE_NS / 2,
       "parked: woken by the close, %.2f ms after it (a slice: %d ms)", lag / 1e6,
       (int)(SHMKIT_CHAN_SLICE_NS / 1000000));
    ok(tu_ready(pfd[0], 5000) && kill(pid, 0) == 0, "parked: the child closed and still lives");
    kill(pid, SIGKILL);
    int st;
    tu_wait(pid, 5000, &st);
    shmkit_ring_close(c);
    shmkit_close(seg);
}

/* A producer (publisher) killed with SIGKILL is a death, not a close. */
static void ring_killed(void)
{
    shmkit_ring *c;
    shmkit_seg *seg = ring_seg(0, &c);
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *p = producer(seg);
        send_n(p, 0, 3);
        (void)!write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    ok(tu_ready(pfd[0], 5000), "killed: child producer sent");
    kill(pid, SIGKILL);
    int st;
    tu_wait(pid, 5000, &st);
    is_int(ring_drain(c), 3, "killed: its messages come first");
    int v;
    is_rc(shmkit_ring_recv(c, &v, sizeof v, LONG_NS), SHMKIT_EPEERDEAD,
          "killed: then EPEERDEAD, not ECLOSED");
    shmkit_ring_close(c);
    shmkit_close(seg);
}

/* ---------------------------------------------------------------- bus */

#define SLOTS 16

static shmkit_seg *bus_seg(unsigned flags, shmkit_bus **b)
{
    shmkit_seg *seg = tu_seg_anon(shmkit_bus_size_for(SLOTS, 64, 4));
    int rc = shmkit_bus_create(b, seg, SLOTS, 64, 4, flags);
    if (rc < 0)
        tap_bail("bus create: %s", shmkit_strerror(rc));
    return seg;
}

static shmkit_sub *subscriber(shmkit_seg *seg)
{
    shmkit_sub *s = NULL;
    int rc = shmkit_bus_subscribe(&s, seg);
    if (rc < 0)
        tap_bail("subscribe: %s", shmkit_strerror(rc));
    return s;
}

static void bus_drain_then_closed(unsigned flags)
{
    const char *mode = flags & SHMKIT_BUS_LOSSY ? "lossy" : "back-pressure";
    shmkit_bus *b;
    shmkit_seg *seg = bus_seg(flags, &b);
    shmkit_sub *s = subscriber(seg);
    for (int i = 0; i < N_MSGS; i++)
        shmkit_bus_send(b, &i, sizeof i, 0);
    shmkit_bus_close(b);
    int n = 0, v;
    while (shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0) == (int)sizeof v && v == n)
        n++;
    is_int(n, N_MSGS, "bus %s: the %d messages queued at close come first", mode, N_MSGS);
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), SHMKIT_ECLOSED,
          "bus %s: then a try recv: ECLOSED", mode);
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, LONG_NS), SHMKIT_ECLOSED,
          "bus %s: a blocking recv: ECLOSED", mode);
    ok(tu_now_ns() - t0 < 100000000u, "bus %s: ... at once", mode);
    is_rc(shmkit_bus_attach(&b, seg), 0, "bus %s: a new publisher", mode);
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), -EAGAIN, "bus %s: live again: EAGAIN",
          mode);
    int w = 77;
    shmkit_bus_send(b, &w, sizeof w, 0);
    is_int(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, LONG_NS), sizeof v,
           "bus %s: its message comes", mode);
    is_int(v, 77, "bus %s: ... intact", mode);
    shmkit_bus_close(b);
    shmkit_bus_unsubscribe(s);
    shmkit_close(seg);
}

static void bus_bp(void)
{
    bus_drain_then_closed(0);
}

static void bus_lossy(void)
{
    bus_drain_then_closed(SHMKIT_BUS_LOSSY);
}

/* A child publisher: WHAT 'c' closes after 200 ms while the parent's
 * subscriber is parked, 'k' sends two messages and waits to be killed. */
static pid_t bus_child(shmkit_seg *seg, int what, int *rfd)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_bus *b = NULL;
        if (shmkit_bus_attach(&b, seg) < 0)
            _exit(1);
        if (what == 'k')
            for (int i = 0; i < 2; i++)
                shmkit_bus_send(b, &i, sizeof i, 0);
        (void)!write(pfd[1], "x", 1);
        if (what == 'c') {
            usleep(200000);
            __atomic_store_n(&sh->closed_at, tu_now_ns(), __ATOMIC_SEQ_CST);
            shmkit_bus_close(b);
        }
        pause();
        _exit(0);
    }
    close(pfd[1]);
    *rfd = pfd[0];
    return pid;
}

static void bus_parked_and_killed(void)
{
    shmkit_bus *b;
    shmkit_seg *seg = bus_seg(0, &b);
    shmkit_sub *s = subscriber(seg);
    shmkit_sub_set_spin(s, 1000);
    shmkit_bus_close(b);
    int fd, v, st;
    pid_t pid = bus_child(seg, 'c', &fd);
    ok(tu_ready(fd, 5000), "bus parked: child publisher attached");
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, LONG_NS), SHMKIT_ECLOSED,
          "bus parked: the child's close ends the parked recv with ECLOSED");
    uint64_t lag = tu_now_ns() - __atomic_load_n(&sh->closed_at, __ATOMIC_SEQ_CST);
    ok(lag < SHMKIT_CHAN_SLICE_NS / 2, "bus parked: woken by the close, %.2f ms after it",
       lag / 1e6);
    kill(pid, SIGKILL);
    tu_wait(pid, 5000, &st);
    pid = bus_child(seg, 'k', &fd);
    ok(tu_ready(fd, 5000), "bus killed: child publisher sent");
    kill(pid, SIGKILL);
    tu_wait(pid, 5000, &st);
    int n = 0;
    while (shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0) == (int)sizeof v)
        n++;
    is_int(n, 2, "bus killed: its messages come first");
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, LONG_NS), SHMKIT_EPEERDEAD,
          "bus killed: then EPEERDEAD, not ECLOSED");
    shmkit_bus_unsubscribe(s);
    shmkit_close(seg);
}

/* Three subscribers join late (children, 60 ms apart). */
static void bus_wait_subscribers(void)
{
    shmkit_bus *b;
    shmkit_seg *seg = bus_seg(0, &b);
    is_rc(shmkit_bus_wait_subscribers(b, 0, 0), 0, "wait_subscribers: 0 of them at once");
    is_rc(shmkit_bus_wait_subscribers(b, 5, 0), -EINVAL, "wait_subscribers: more than max_subs");
    is_rc(shmkit_bus_wait_subscribers(NULL, 1, 0), -EINVAL, "wait_subscribers: NULL");
    is_rc(shmkit_bus_wait_subscribers(b, 1, 0), -EAGAIN, "wait_subscribers: try, none: EAGAIN");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_bus_wait_subscribers(b, 1, 30000000), -ETIMEDOUT,
          "wait_subscribers: none within 30 ms: ETIMEDOUT");
    ok(tu_now_ns() - t0 >= 30000000u, "wait_subscribers: ... after the 30 ms");
    pid_t kids[3];
    t0 = tu_now_ns();
    for (int i = 0; i < 3; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            usleep(60000 * (unsigned)(i + 1));
            shmkit_sub *s = NULL;
            if (shmkit_bus_subscribe(&s, seg) < 0)
                _exit(1);
            pause();
            _exit(0);
        }
    }
    is_rc(shmkit_bus_wait_subscribers(b, 3, LONG_NS), 0, "wait_subscribers: 3 joined late");
    uint64_t took = tu_now_ns() - t0;
    struct shmkit_chan_stats st;
    is_rc(shmkit_chan_stats(seg, &st), 0, "stats");
    is_int(st.readers, 3, "wait_subscribers: 3 live subscribers when it returned");
    ok(took >= 180000000u && took < 2000000000u,
       "wait_subscribers: returned after the third joined (%.1f ms)", took / 1e6);
    kill(kids[2], SIGKILL);
    int status;
    tu_wait(kids[2], 5000, &status);
    t0 = tu_now_ns();
    is_rc(shmkit_bus_wait_subscribers(b, 3, 100000000), -ETIMEDOUT,
          "wait_subscribers: one of them killed: 3 no more (ETIMEDOUT)");
    is_rc(shmkit_bus_wait_subscribers(b, 2, 0), 0, "wait_subscribers: 2 still are");
    for (int i = 0; i < 2; i++) {
        kill(kids[i], SIGKILL);
        tu_wait(kids[i], 5000, &status);
    }
    shmkit_bus_close(b);
    shmkit_close(seg);
}

/* A child that closes handles it inherited across fork() frees its copies
 * only: the parent's producer, consumer, publisher and subscriber keep
 * their roles, and nobody is told the stream ended. */
static void fork_close(void)
{
    shmkit_ring *c;
    shmkit_seg *seg = ring_seg(0, &c);
    shmkit_ring *p = producer(seg);
    shmkit_bus *b;
    shmkit_seg *bseg = bus_seg(0, &b);
    shmkit_sub *s = subscriber(bseg);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring_close(p);
        shmkit_ring_close(c);
        shmkit_bus_close(b);
        shmkit_bus_unsubscribe(s);
        _exit(0);
    }
    is_int(tu_wait_exit(pid), 0, "fork: the child closed its inherited handles");
    int v;
    is_rc(shmkit_ring_recv(c, &v, sizeof v, 0), -EAGAIN,
          "fork: the parent's consumer is not told the stream ended (EAGAIN)");
    send_n(p, 0, 1);
    is_int(shmkit_ring_recv(c, &v, sizeof v, LONG_NS), sizeof v,
           "fork: the parent's producer still sends, its consumer still receives");
    shmkit_ring *other = NULL;
    is_rc(shmkit_ring_attach(&other, seg, SHMKIT_RING_PRODUCER), -EBUSY,
          "fork: the producer role is still the parent's (another attach: EBUSY)");
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), -EAGAIN,
          "fork: the parent's subscriber is not told the bus ended (EAGAIN)");
    int w = 5;
    is_rc(shmkit_bus_send(b, &w, sizeof w, 0), 0, "fork: the parent's publisher still sends");
    is_int(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, LONG_NS), sizeof v,
           "fork: ... and its subscriber, still joined, receives it");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    shmkit_close(seg);
    shmkit_bus_close(b);
    shmkit_bus_unsubscribe(s);
    shmkit_close(bseg);
}

static const struct tu_case cases[] = {
    {"fork-close", fork_close, 0},
    {"ring-spsc", ring_spsc, 0},
    {"ring-multi", ring_multi, 0},
    {"ring-parked", ring_parked, 0},
    {"ring-killed", ring_killed, 0},
    {"bus-bp", bus_bp, 0},
    {"bus-lossy", bus_lossy, 0},
    {"bus-parked-killed", bus_parked_and_killed, 0},
    {"bus-wait-subscribers", bus_wait_subscribers, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    sh = tu_shared(&shseg, sizeof *sh);
    return tu_run_cases(argc, argv, cases);
}
