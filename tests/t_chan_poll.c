/* t_chan_poll.c - the descriptors of shmkit_ring_fd / shmkit_sub_fd in
 * epoll loops between processes: readiness for a message, for room, for
 * the end of stream; the lost-wake-up hunt (ping-pong over two rings, and
 * a bus fanned out to two subscribers answering on rings, every receiver
 * waiting in epoll_wait with random delays on both sides: a stall is a
 * message that is there while its receiver slept in epoll_wait a whole
 * second); a receiver in epoll_wait told of its peer's SIGKILL (the pidfd
 * in its set); descriptor counts flat over open/close and kill -9 cycles.
 * SHMKIT_CHAN_WAKE_PAIRS sets the pairs of each hunt (default 20,000;
 * millions for the long form). Named cases (tu_case.h): --list. */
#include "tu_case.h"
#include "tu_poll.h"
#include "tu_ring.h"
#include "tu_seg.h"
#include "tu_sync.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#define MS 1000000LL
#define CAP 4096u

static shmkit_seg *segs[4];

static void cleanup(void)
{
    for (int i = 0; i < 4; i++)
        shmkit_close(segs[i]);
}

/* N ring segments (segs[0..N-1]), each with its ring made, no role held. */
static void setup_rings(int n)
{
    atexit(cleanup);
    for (int i = 0; i < n; i++) {
        segs[i] = tu_seg_anon(shmkit_ring_size_for(CAP));
        shmkit_ring *r;
        if (shmkit_ring_create(&r, segs[i], CAP, 0) < 0)
            tap_bail("ring create");
        shmkit_ring_close(r);
    }
}

/* segs[3]: a back-pressure bus of 64 slots, no publisher yet. */
static void setup_bus(void)
{
    segs[3] = tu_seg_anon(shmkit_bus_size_for(64, 64, 8));
    shmkit_bus *b;
    if (shmkit_bus_create(&b, segs[3], 64, 64, 8, SHMKIT_BUS_NOROLE) < 0)
        tap_bail("bus create");
    shmkit_bus_close(b);
}

/* The parent's go to a child: a byte down a pipe. */
static int go[2];

static void go_wait(void)
{
    char c;
    while (read(go[0], &c, 1) < 0 && errno == EINTR)
        ;
}

static shmkit_ring *ring(int i, unsigned role)
{
    shmkit_ring *r = NULL;
    for (int k = 0; k < 200; k++) {
        int rc = shmkit_ring_attach(&r, segs[i], role);
        if (rc == 0)
            return r;
        usleep(5000); /* a role a killed peer held: reclaimed once seen dead */
    }
    return NULL;
}

static int readable(int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    return poll(&pf, 1, ms) == 1;
}

/* ---------------------------------------------------------------- basics */

static int late_producer(void *arg, int what)
{
    (void)arg;
    shmkit_ring *p = ring(0, SHMKIT_RING_PRODUCER);
    if (!p)
        return 2;
    go_wait();
    if (shmkit_ring_send(p, "hello", 5, 5000 * MS) < 0)
        return 3;
    go_wait();
    if (what == 1)
        shmkit_ring_close(p); /* end of stream */
    return 0;
}

static void ring_readiness(void)
{
    setup_rings(2);
    shmkit_ring *c = ring(0, SHMKIT_RING_CONSUMER);
    int fd = shmkit_ring_fd(c);
    ok(fd >= 0 && shmkit_ring_fd(c) == fd, "consumer descriptor, the same at the second call");
    char buf[16];
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, 0), -EAGAIN, "empty: the try call arms (-EAGAIN)");
    ok(!readable(fd, 20), "not readable while empty");
    if (pipe(go) < 0)
        tap_bail("pipe");
    pid_t k = tu_spawn_fn(late_producer, NULL, 1);
    ok(!readable(fd, 50), "nor while a producer attaches");
    (void)!write(go[1], "g", 1);
    ok(readable(fd, 5000), "readable once another process sent");
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), 5, "the try call takes the message");
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, 0), -EAGAIN, "then nothing: armed again");
    ok(!readable(fd, 20), "quiet");
    (void)!write(go[1], "g", 1);
    ok(readable(fd, 5000), "readable again at the producer's close");
    int rc = shmkit_ring_recv(c, buf, sizeof buf, 0);
    is_rc(rc, SHMKIT_ECLOSED, "end of stream through the descriptor");
    ok(tu_wait_exit(k) == 0, "producer");
    /* a producer's descriptor: room freed */
    shmkit_ring *p = ring(1, SHMKIT_RING_PRODUCER);
    shmkit_ring *c2 = ring(1, SHMKIT_RING_CONSUMER);
    int pfd = shmkit_ring_fd(p);
    ok(pfd >= 0, "producer descriptor");
    int n = 0;
    while (shmkit_ring_send(p, buf, 16, 0) == 0)
        n++;
    is_rc(shmkit_ring_send(p, buf, 16, 0), -EAGAIN, "full after %d messages: armed", n);
    ok(!readable(pfd, 20), "not readable while full");
    for (int i = 0; i < 4; i++)
        shmkit_ring_recv(c2, buf, sizeof buf, 0);
    ok(readable(pfd, 1000), "readable once the consumer freed room");
    is_rc(shmkit_ring_send(p, buf, 16, 0), 0, "the try send goes through");
    ok(shmkit_ring_fd(NULL) == -EINVAL, "NULL: -EINVAL");
    shmkit_ring_close(c2);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    /* MULTI producers have none */
    shmkit_seg *ms = tu_seg_anon(shmkit_ring_size_for(CAP));
    shmkit_ring *mr;
    shmkit_ring_create(&mr, ms, CAP, SHMKIT_RING_PRODUCER | SHMKIT_RING_MULTI);
    is_rc(shmkit_ring_fd(mr), -EOPNOTSUPP, "a MULTI ring's producer: -EOPNOTSUPP");
    shmkit_ring_close(mr);
    shmkit_close(ms);
}

static int bus_publisher(void *arg, int n)
{
    (void)arg;
    shmkit_bus *b;
    if (shmkit_bus_attach(&b, segs[3]) < 0)
        return 2;
    go_wait();
    for (int i = 0; i < n; i++)
        if (shmkit_bus_send(b, &i, sizeof i, 5000 * MS) < 0)
            return 4;
    go_wait();
    shmkit_bus_close(b);
    return 0;
}

static void bus_readiness(void)
{
    atexit(cleanup);
    setup_bus();
    shmkit_sub *s[2];
    int fd[2];
    for (int i = 0; i < 2; i++) {
        shmkit_bus_subscribe(&s[i], segs[3]);
        fd[i] = shmkit_sub_fd(s[i]);
    }
    ok(fd[0] >= 0 && fd[1] >= 0 && fd[0] != fd[1], "two subscribers, two descriptors");
    int v;
    is_rc(shmkit_bus_recv(s[0], &v, sizeof v, NULL, NULL, 0), -EAGAIN, "subscriber 0 armed");
    is_rc(shmkit_bus_recv(s[1], &v, sizeof v, NULL, NULL, 0), -EAGAIN, "subscriber 1 armed");
    ok(!readable(fd[0], 20) && !readable(fd[1], 0), "neither readable yet");
    if (pipe(go) < 0)
        tap_bail("pipe");
    pid_t k = tu_spawn_fn(bus_publisher, NULL, 1);
    ok(!readable(fd[0], 50) && !readable(fd[1], 0), "nor while a publisher attaches");
    (void)!write(go[1], "g", 1);
    ok(readable(fd[0], 5000) && readable(fd[1], 5000), "both readable once published");
    for (int i = 0; i < 2; i++)
        is_int(shmkit_bus_recv(s[i], &v, sizeof v, NULL, NULL, 0), (int)sizeof v,
               "subscriber %d takes it", i);
    is_rc(shmkit_bus_recv(s[0], &v, sizeof v, NULL, NULL, 0), -EAGAIN, "then nothing: armed");
    (void)!write(go[1], "g", 1);
    ok(readable(fd[0], 5000), "readable at the publisher's close");
    int rc = shmkit_bus_recv(s[0], &v, sizeof v, NULL, NULL, 0);
    is_rc(rc, SHMKIT_ECLOSED, "end of stream through the descriptor");
    ok(tu_wait_exit(k) == 0, "publisher");
    ok(shmkit_sub_fd(NULL) == -EINVAL, "NULL: -EINVAL");
    shmkit_bus_unsubscribe(s[0]);
    shmkit_bus_unsubscribe(s[1]);
}

/* ---------------------------------------------------------------- the hunt */

struct hunt {
    uint64_t stalls, handled, errors;
};
static struct hunt *hunt;

/* A receiver's try call: > 0 a message (its value in *V), -EAGAIN, or
 * another error. IN is a ring or, with IS_SUB, a subscriber. */
static int try_recv(void *in, int is_sub, long *v)
{
    return is_sub ? shmkit_bus_recv(in, v, sizeof *v, NULL, NULL, 0)
                  : shmkit_ring_recv(in, v, sizeof *v, 0);
}

/* Waits in epoll (with a random delay after the try call's -EAGAIN) until
 * the try call gives the next message; a second asleep with the message
 * there is a stall. The value, or < 0 on an error. */
static long await_msg(void *in, int is_sub, int ep, uint64_t *rng)
{
    for (;;) {
        long v;
        int rc = try_recv(in, is_sub, &v);
        if (rc == (int)sizeof v)
            return v;
        if (rc != -EAGAIN)
            return -1;
        tu_jitter(rng); /* between "checked empty" and epoll_wait */
        struct epoll_event ev;
        int n;
        do
            n = epoll_wait(ep, &ev, 1, 1000);
        while (n < 0 && errno == EINTR);
        if (n == 0 && try_recv(in, is_sub, &v) == (int)sizeof v) {
            __atomic_fetch_add(&hunt->stalls, 1, __ATOMIC_RELAXED);
            return v;
        }
    }
}

static int epoll_of(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    return ep;
}

/* Echo: each message from IN (ring segs[in], or the bus with in == 3)
 * goes back on ring segs[out], after a random delay. */
static int echo(void *arg, int in_out)
{
    long pairs = *(long *)arg;
    int in = in_out / 10, out = in_out % 10, is_sub = in == 3;
    void *src;
    shmkit_sub *s = NULL;
    shmkit_ring *r = NULL;
    if (is_sub) {
        if (shmkit_bus_subscribe(&s, segs[3]) < 0)
            return 2;
        src = s;
    } else {
        if (!(r = ring(in, SHMKIT_RING_CONSUMER)))
            return 2;
        src = r;
    }
    shmkit_ring *o = ring(out, SHMKIT_RING_PRODUCER);
    int ep = epoll_of(is_sub ? shmkit_sub_fd(s) : shmkit_ring_fd(r));
    if (!o || ep < 0)
        return 3;
    uint64_t rng = (uint64_t)in_out * 1000003u;
    for (long i = 0; i < pairs; i++) {
        long v = await_msg(src, is_sub, ep, &rng);
        if (v < 0)
            return 4;
        if (v != i)
            __atomic_fetch_add(&hunt->errors, 1, __ATOMIC_RELAXED);
        tu_jitter(&rng);
        if (shmkit_ring_send(o, &v, sizeof v, 5000 * MS) < 0)
            return 5;
        __atomic_fetch_add(&hunt->handled, 1, __ATOMIC_RELAXED);
    }
    close(ep);
    shmkit_ring_close(o);
    return is_sub ? shmkit_bus_unsubscribe(s) : shmkit_ring_close(r);
}

static long hunt_pairs(void)
{
    const char *e = getenv("SHMKIT_CHAN_WAKE_PAIRS");
    return e ? atol(e) : TU_SCALE(20000);
}

static void hunt_ring(void)
{
    setup_rings(2);
    shmkit_seg *hs;
    hunt = tu_shared(&hs, sizeof *hunt);
    long pairs = hunt_pairs();
    pid_t k = tu_spawn_fn(echo, &pairs, 0 * 10 + 1); /* ring 0 in, ring 1 out */
    shmkit_ring *out = ring(0, SHMKIT_RING_PRODUCER), *in = ring(1, SHMKIT_RING_CONSUMER);
    int ep = epoll_of(shmkit_ring_fd(in));
    ok(out && in && ep >= 0, "ping-pong over two rings, each receiver in epoll");
    uint64_t rng = 5, t0 = tu_now_ns();
    long bad = 0;
    for (long i = 0; i < pairs && bad < 10; i++) {
        tu_jitter(&rng);
        if (shmkit_ring_send(out, &i, sizeof i, 5000 * MS) < 0 ||
            await_msg(in, 0, ep, &rng) != i)
            bad++;
    }
    ok(bad == 0, "%ld round trips, each answer the one expected", pairs);
    ok(tu_wait_exit(k) == 0, "the echo process took every message in its epoll loop");
    ok(hunt->stalls == 0 && hunt->errors == 0,
       "0 stalls (%llu) over %ld send/epoll_wait pairs each way",
       (unsigned long long)hunt->stalls, pairs);
    tap_diag("%.1f s", (double)(tu_now_ns() - t0) / 1e9);
    close(ep);
    shmkit_ring_close(out);
    shmkit_ring_close(in);
    shmkit_close(hs);
}

static void hunt_bus(void)
{
    setup_rings(2);
    setup_bus();
    shmkit_seg *hs;
    hunt = tu_shared(&hs, sizeof *hunt);
    long pairs = hunt_pairs() / 2;
    shmkit_bus *b;
    shmkit_bus_attach(&b, segs[3]);
    pid_t k[2] = {tu_spawn_fn(echo, &pairs, 3 * 10 + 0), tu_spawn_fn(echo, &pairs, 3 * 10 + 1)};
    shmkit_ring *in[2] = {ring(0, SHMKIT_RING_CONSUMER), ring(1, SHMKIT_RING_CONSUMER)};
    int ep[2] = {epoll_of(shmkit_ring_fd(in[0])), epoll_of(shmkit_ring_fd(in[1]))};
    ok(shmkit_bus_wait_subscribers(b, 2, 10000 * MS) == 0 && ep[0] >= 0 && ep[1] >= 0,
       "a bus to two subscribers in epoll, answering on rings read in epoll");
    uint64_t rng = 9, t0 = tu_now_ns();
    long bad = 0;
    for (long i = 0; i < pairs && bad < 10; i++) {
        tu_jitter(&rng);
        if (shmkit_bus_send(b, &i, sizeof i, 5000 * MS) < 0)
            bad++;
        for (int j = 0; j < 2; j++)
            if (await_msg(in[j], 0, ep[j], &rng) != i)
                bad++;
    }
    ok(bad == 0, "%ld messages, each answered by both subscribers", pairs);
    ok(tu_reap(k, 2, 60000) == 2, "both subscribers took every message in their epoll loops");
    ok(hunt->stalls == 0 && hunt->errors == 0,
       "0 stalls (%llu) over %ld publish/epoll_wait pairs x 2 and as many answers",
       (unsigned long long)hunt->stalls, pairs);
    tap_diag("%.1f s", (double)(tu_now_ns() - t0) / 1e9);
    for (int j = 0; j < 2; j++) {
        close(ep[j]);
        shmkit_ring_close(in[j]);
    }
    shmkit_bus_close(b);
    shmkit_close(hs);
}

/* ---------------------------------------------------------------- peer death */

/* Takes role WHAT (0 producer of ring 0, 1 consumer of ring 0, 2 the
 * bus's publisher) and waits to be killed. */
static int sitter(void *arg, int what)
{
    (void)arg;
    shmkit_ring *r = NULL;
    shmkit_bus *b = NULL;
    if (what == 2 ? shmkit_bus_attach(&b, segs[3]) < 0
                  : !(r = ring(0, what ? SHMKIT_RING_CONSUMER : SHMKIT_RING_PRODUCER)))
        return 2;
    for (;;)
        pause();
}

/* Waits until the role of WHAT is held (by the sitter). */
static void await_role(int what)
{
    for (int k = 0; k < 1000; k++) {
        struct shmkit_chan_stats st;
        if (shmkit_chan_stats(segs[what == 2 ? 3 : 0], &st) == 0 &&
            (what == 1 ? st.reader_alive : st.writer_alive))
            return;
        usleep(5000);
    }
}

static void death_seen(const char *who, int fd, pid_t k, int (*again)(void *), void *h)
{
    ok(!readable(fd, 50), "%s: not readable while the peer lives", who);
    kill(k, SIGKILL);
    uint64_t t0 = tu_now_ns();
    int rd = readable(fd, 5000);
    ok(rd, "%s: readable once the peer is killed (%.2f ms)", who, (double)(tu_now_ns() - t0) / 1e6);
    int rc = -EAGAIN;
    for (int n = 0; n < 200 && rc == -EAGAIN; n++)
        if ((rc = again(h)) == -EAGAIN)
            usleep(1000);
    is_rc(rc, SHMKIT_EPEERDEAD, "%s: the try call says so", who);
    tu_wait_exit(k);
}

static int cons_try(void *h)
{
    char b[8];
    int rc = shmkit_ring_recv(h, b, sizeof b, 0);
    return rc >= 0 ? 0 : rc;
}

static int prod_try(void *h)
{
    return shmkit_ring_send(h, "12345678", 8, 0);
}

static int sub_try(void *h)
{
    char b[8];
    int rc;
    while ((rc = shmkit_bus_recv(h, b, sizeof b, NULL, NULL, 0)) >= 0)
        ; /* what the dead publisher sent first comes first */
    return rc;
}

static void peer_death(void)
{
    setup_rings(1);
    setup_bus();
    /* a consumer: its producer killed */
    pid_t k = tu_spawn_fn(sitter, NULL, 0);
    await_role(0);
    shmkit_ring *c = ring(0, SHMKIT_RING_CONSUMER);
    int fd = shmkit_ring_fd(c);
    is_rc(cons_try(c), -EAGAIN, "consumer armed");
    death_seen("consumer", fd, k, cons_try, c);
    /* a producer on a full ring: its consumer killed */
    shmkit_ring_close(c);
    shmkit_ring *p = ring(0, SHMKIT_RING_PRODUCER);
    k = tu_spawn_fn(sitter, NULL, 1);
    await_role(1);
    fd = shmkit_ring_fd(p);
    while (prod_try(p) == 0)
        ;
    is_rc(prod_try(p), -EAGAIN, "producer armed on a full ring");
    death_seen("producer", fd, k, prod_try, p);
    shmkit_ring_close(p);
    /* a subscriber: its publisher killed */
    shmkit_sub *s;
    shmkit_bus_subscribe(&s, segs[3]);
    fd = shmkit_sub_fd(s);
    k = tu_spawn_fn(sitter, NULL, 2);
    await_role(2);
    is_rc(sub_try(s), -EAGAIN, "subscriber armed");
    death_seen("subscriber", fd, k, sub_try, s);
    shmkit_bus_unsubscribe(s);
}

/* ---------------------------------------------------------------- leaks */

/* Attaches role WHAT with a descriptor, arms it, then exits (0 when its own
 * count ended where it started) or, with KILLME, waits to be killed. */
static int fd_user(void *arg, int what)
{
    int killme = arg != NULL, before = -1;
    for (int round = 0; round < 5; round++) {
        shmkit_ring *r = NULL;
        shmkit_sub *s = NULL;
        char b[8];
        if (what == 2) {
            if (shmkit_bus_subscribe(&s, segs[3]) < 0 || shmkit_sub_fd(s) < 0)
                return 2;
            shmkit_bus_recv(s, b, sizeof b, NULL, NULL, 0);
        } else {
            r = ring(0, what ? SHMKIT_RING_CONSUMER : SHMKIT_RING_PRODUCER);
            if (!r || shmkit_ring_fd(r) < 0)
                return 3;
            if (what)
                shmkit_ring_recv(r, b, sizeof b, 0);
            else
                shmkit_ring_send(r, b, 8, 0); /* wakes an armed consumer */
        }
        if (killme)
            for (;;)
                pause();
        if (s)
            shmkit_bus_unsubscribe(s);
        shmkit_ring_close(r);
        if (round == 0)
            before = tu_nfds(); /* after the first: the process's sender socket */
    }
    return tu_nfds() == before ? 0 : 10;
}

static void fd_leaks(void)
{
    setup_rings(1);
    setup_bus();
    shmkit_bus *b;
    shmkit_bus_attach(&b, segs[3]);
    int base = tu_nfds(), after1 = -1;
    for (int round = 0; round < 200; round++) {
        shmkit_ring *c = ring(0, SHMKIT_RING_CONSUMER), *p = ring(0, SHMKIT_RING_PRODUCER);
        shmkit_sub *s;
        shmkit_bus_subscribe(&s, segs[3]);
        char m[8] = {0};
        if (!c || !p || shmkit_ring_fd(c) < 0 || shmkit_ring_fd(p) < 0 || shmkit_sub_fd(s) < 0)
            tap_bail("handles");
        shmkit_ring_recv(c, m, sizeof m, 0);          /* arms the consumer */
        shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0); /* and the subscriber */
        shmkit_ring_send(p, m, 8, 0);                 /* datagrams to both */
        shmkit_bus_send(b, m, 8, 0);
        shmkit_ring_recv(c, m, sizeof m, 0);
        shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0);
        shmkit_ring_close(c);
        shmkit_ring_close(p);
        shmkit_bus_unsubscribe(s);
        if (round == 0)
            after1 = tu_nfds();
    }
    int end = tu_nfds();
    ok(end == after1 && end <= base + 1,
       "200 open/close cycles of a consumer, producer and subscriber with descriptors: flat "
       "(start %d, after the first %d, end %d: the one sender socket)",
       base, after1, end);
    /* children exit cleanly with their own counts flat */
    int good = 0;
    for (int what = 0; what < 3; what++)
        good += tu_wait_exit(tu_spawn_fn(fd_user, NULL, what)) == 0;
    ok(good == 3, "consumer, producer, subscriber processes: their counts flat over 5 rounds");
    /* kill -9 cycles: armed peers killed; this process's handles stay */
    shmkit_ring *c = ring(0, SHMKIT_RING_CONSUMER);
    shmkit_sub *s;
    shmkit_bus_subscribe(&s, segs[3]);
    shmkit_ring_fd(c);
    shmkit_sub_fd(s);
    int before = tu_nfds(), rounds = 0;
    for (int round = 0; round < 20; round++) {
        char m[8];
        shmkit_ring_recv(c, m, sizeof m, 0); /* armed, watching the producer */
        shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0);
        pid_t k = tu_spawn_fn(fd_user, (void *)1, 0); /* a producer killed */
        usleep(2000);
        kill(k, SIGKILL);
        tu_wait_exit(k);
        shmkit_ring_recv(c, m, sizeof m, 0);
        k = tu_spawn_fn(fd_user, (void *)1, 2); /* a subscriber killed armed */
        usleep(2000);
        kill(k, SIGKILL);
        tu_wait_exit(k);
        shmkit_bus_send(b, m, 8, 0); /* wakes its dead socket: nothing */
        rounds++;
    }
    char m[8];
    shmkit_ring_recv(c, m, sizeof m, 0);
    ok(tu_nfds() <= before + 2, "%d kill -9 cycles of armed peers: this process's count flat "
                             "(%d -> %d: at most the pidfds of the latest peers)",
       rounds, before, tu_nfds());
    shmkit_ring_close(c);
    shmkit_bus_unsubscribe(s);
    ok(tu_nfds() <= before - 4, "closing the handles closes their descriptors (%d)", tu_nfds());
    shmkit_bus_close(b);
}

static const struct tu_case cases[] = {{"ring_readiness", ring_readiness, 0},
                                       {"bus_readiness", bus_readiness, 0},
                                       {"hunt_ring", hunt_ring, 0},
                                       {"hunt_bus", hunt_bus, 0},
                                       {"peer_death", peer_death, 0},
                                       {"fd_leaks", fd_leaks, 0},
                                       {NULL, NULL, 0}};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
