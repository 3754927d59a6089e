/* t_rpc_poll.c - the descriptors of shmkit_rpc_server_fd / client_fd in
 * epoll loops between processes: a server loop that also watches a
 * timerfd; the lost-wake-up hunt (send / epoll_wait pairs with random
 * delays on both sides, in both directions: a stall is a request or
 * response that is there while its receiver sleeps in epoll_wait for a
 * whole second); a client in epoll_wait told of its server's SIGKILL (the
 * pidfd in its set); descriptor counts flat over open/close cycles and
 * kill -9 cycles, in both processes; a child's wake-ups through the
 * sending socket it shares with its parent. SHMKIT_RPC_WAKE_PAIRS sets the pairs
 * of the hunt (default 20,000; millions for the long form). Named cases
 * (tu_case.h): --list. */
#include "tu_case.h"
#include "tu_poll.h"
#include "tu_rpc.h"
#include "tu_ring.h"
#include "tu_seg.h"
#include "tu_sync.h"

#include <dirent.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>

#define MS 1000000LL

static shmkit_seg *seg;

static void cleanup(void)
{
    shmkit_close(seg);
}

static void setup(unsigned clients)
{
    atexit(cleanup);
    seg = tu_rpc_anon(clients);
}

/* epoll_wait for FD's readiness up to 1 s: 1 ready, 0 timed out. */
static int wait_fd(int ep)
{
    struct epoll_event ev;
    int n;
    do
        n = epoll_wait(ep, &ev, 1, 1000);
    while (n < 0 && errno == EINTR);
    return n > 0;
}

struct hunt {
    uint64_t stalls_srv, stalls_cli, served, errors;
};
static struct hunt *hunt;

/* The hunt's client: each call sent, then its response awaited through
 * the client descriptor in an epoll loop. */
static int hunt_client(void *arg, int id)
{
    long pairs = *(long *)arg;
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, seg) < 0)
        return 2;
    int fd = shmkit_rpc_client_fd(c);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (fd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return 3;
    uint64_t rng = (uint64_t)id * 1000003u;
    for (long i = 0; i < pairs; i++) {
        void *p;
        if (shmkit_rpc_request_loan(c, 8, &p, 5000 * MS) < 0)
            return 4;
        memcpy(p, &i, 8);
        tu_jitter(&rng);
        shmkit_rpc_request_send(c, 8);
        for (;;) {
            const void *rp;
            size_t rl;
            int rc = shmkit_rpc_response_wait(c, &rp, &rl, 0);
            if (rc == 0) {
                long got;
                memcpy(&got, rp, 8);
                shmkit_rpc_response_release(c);
                if (rl != 8 || got != i)
                    __atomic_fetch_add(&hunt->errors, 1, __ATOMIC_RELAXED);
                break;
            }
            if (rc != -EAGAIN)
                return 5;
            tu_jitter(&rng); /* between "checked empty" and epoll_wait */
            if (!wait_fd(ep)) {
                /* asleep a whole second: is the response there? */
                if (shmkit_rpc_response_wait(c, &rp, &rl, 0) == 0) {
                    __atomic_fetch_add(&hunt->stalls_cli, 1, __ATOMIC_RELAXED);
                    shmkit_rpc_response_release(c);
                    break;
                }
            }
        }
    }
    close(ep);
    shmkit_rpc_client_close(c);
    return 0;
}

/* The hunt's server: an epoll loop on the server descriptor and a timerfd
 * (a loop does more than wait for requests), random delays between the
 * try call's -EAGAIN and epoll_wait and before each reply. */
static int hunt_server(void *arg, int total)
{
    (void)arg;
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return 2;
    int fd = shmkit_rpc_server_fd(s);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    /* first tick at once, then every 2 s: a tick must not rescue a lost
     * wake-up before the 1 s stall bound */
    struct itimerspec its = {.it_interval = {2, 0}, .it_value = {0, 5 * MS}};
    timerfd_settime(tfd, 0, &its, NULL);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    struct epoll_event tev = {.events = EPOLLIN, .data.fd = tfd};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
    uint64_t rng = 77, ticks = 0;
    long served = 0;
    int64_t last_progress = (int64_t)tu_now_ns();
    while (served < total) {
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(s, &q, 0);
        if (rc == 0) {
            tu_jitter(&rng);
            shmkit_rpc_reply_send(s, &q, q.data, q.len);
            served++;
            last_progress = (int64_t)tu_now_ns();
            continue;
        }
        if (rc != -EAGAIN)
            return 3;
        tu_jitter(&rng);
        struct epoll_event out[2];
        int n = epoll_wait(ep, out, 2, 1000);
        for (int k = 0; k < n; k++)
            if (out[k].data.fd == tfd) {
                uint64_t t;
                if (read(tfd, &t, 8) == 8)
                    ticks += t;
            }
        /* no request for a whole second: one pending then is a stall */
        if ((int64_t)tu_now_ns() - last_progress > 1000 * MS) {
            struct shmkit_rpc_stats st;
            if (shmkit_rpc_stats(seg, &st) == 0 && st.pending)
                __atomic_fetch_add(&hunt->stalls_srv, 1, __ATOMIC_RELAXED);
            last_progress = (int64_t)tu_now_ns();
        }
    }
    __atomic_store_n(&hunt->served, (uint64_t)served, __ATOMIC_RELAXED);
    close(tfd);
    close(ep);
    shmkit_rpc_server_close(s);
    return ticks > 0 ? 0 : 4;
}

static void lost_wakeup_hunt(void)
{
    enum { NC = 2 };
    setup(NC);
    shmkit_seg *hs;
    hunt = tu_shared(&hs, sizeof *hunt);
    const char *e = getenv("SHMKIT_RPC_WAKE_PAIRS");
    long pairs = e ? atol(e) : TU_SCALE(20000);
    pid_t srv = tu_spawn_fn(hunt_server, NULL, (int)(pairs * NC));
    pid_t kids[NC];
    uint64_t t0 = tu_now_ns();
    for (int i = 0; i < NC; i++)
        kids[i] = tu_spawn_fn(hunt_client, &pairs, i + 1);
    int good = tu_reap(kids, NC, 3600 * 1000);
    ok(good == NC, "%d clients x %ld calls, each response awaited in epoll", NC, pairs);
    ok(tu_wait_exit(srv) == 0, "server: every request taken in its epoll loop (timer ticking beside)");
    ok(hunt->served == (uint64_t)(pairs * NC) && hunt->errors == 0, "%llu served, %llu wrong",
       (unsigned long long)hunt->served, (unsigned long long)hunt->errors);
    ok(hunt->stalls_srv == 0 && hunt->stalls_cli == 0,
       "0 stalls (server %llu, clients %llu) over %ld send/epoll_wait pairs each way",
       (unsigned long long)hunt->stalls_srv, (unsigned long long)hunt->stalls_cli, pairs * NC);
    tap_diag("%.1f s", (double)(tu_now_ns() - t0) / 1e9);
    shmkit_close(hs);
}

/* A server that takes one request and never answers. */
static int mute_server(void *arg, int unused)
{
    (void)arg;
    (void)unused;
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return 2;
    struct shmkit_rpc_request q;
    if (shmkit_rpc_recv(s, &q, 30000 * MS) < 0)
        return 3;
    for (;;)
        pause();
}

static void server_death_in_epoll(void)
{
    setup(2);
    shmkit_rpc_client *c;
    shmkit_rpc_client_attach(&c, seg);
    pid_t srv = tu_spawn_fn(mute_server, NULL, 0);
    for (int k = 0; k < 1000; k++) {
        struct shmkit_rpc_stats st;
        if (shmkit_rpc_stats(seg, &st) == 0 && st.server_pid == srv)
            break;
        usleep(5000);
    }
    int fd = shmkit_rpc_client_fd(c);
    ok(fd >= 0, "client descriptor");
    void *p;
    shmkit_rpc_request_loan(c, 1, &p, 0);
    shmkit_rpc_request_send(c, 1);
    const void *rp;
    size_t rl;
    int rc = shmkit_rpc_response_wait(c, &rp, &rl, 0);
    ok(rc == -EAGAIN, "nothing yet: armed (-EAGAIN)");
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    ok(poll(&pf, 1, 100) == 0, "not readable while the server lives");
    kill(srv, SIGKILL);
    uint64_t t0 = tu_now_ns();
    int ready = poll(&pf, 1, 5000) == 1;
    double dt = (double)(tu_now_ns() - t0) / 1e6;
    ok(ready, "readable once the server is killed (%.2f ms)", dt);
    for (int k = 0; k < 200 && rc == -EAGAIN; k++) {
        rc = shmkit_rpc_response_wait(c, &rp, &rl, 0);
        if (rc == -EAGAIN)
            usleep(1000);
    }
    ok(rc == SHMKIT_EPEERDEAD, "the try call says SHMKIT_EPEERDEAD (%s)", shmkit_errname(rc));
    ok(poll(&pf, 1, 0) == 0, "and the descriptor is quiet again");
    tu_wait_exit(srv);
    shmkit_rpc_client_close(c);
}

/* Opens and closes handles with descriptors; with DIE set, a second
 * server is attached and killed by the parent. Returns 0 when its own
 * descriptor count ended where it started. */
static int fd_cycler(void *arg, int rounds)
{
    (void)arg;
    int before = -1;
    for (int r = 0; r < rounds; r++) {
        shmkit_rpc_client *c;
        if (shmkit_rpc_client_attach(&c, seg) < 0)
            return 2;
        if (shmkit_rpc_client_fd(c) < 0)
            return 3;
        char b[8];
        shmkit_rpc_call(c, "x", 1, b, sizeof b, 5000 * MS); /* wakes the server's socket */
        shmkit_rpc_client_close(c);
        if (r == 0)
            before = tu_nfds(); /* after the first: the process's sender socket exists */
    }
    return tu_nfds() == before ? 0 : 10;
}

static int echo_fd_server(void *arg, int n)
{
    (void)arg;
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return 2;
    int fd = shmkit_rpc_server_fd(s);
    for (int k = 0; k < n;) {
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(s, &q, 0);
        if (rc == 0) {
            shmkit_rpc_reply_send(s, &q, q.data, q.len);
            k++;
            continue;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        poll(&pf, 1, 1000);
    }
    for (;;)
        pause();
}

static void fd_leaks(void)
{
    setup(4);
    int base = tu_nfds();
    /* this process: open/close cycles of both kinds of handles */
    int after1 = -1;
    for (int r = 0; r < 200; r++) {
        shmkit_rpc_server *s;
        shmkit_rpc_client *c;
        if (shmkit_rpc_server_attach(&s, seg) < 0 || shmkit_rpc_client_attach(&c, seg) < 0)
            tap_bail("attach");
        shmkit_rpc_server_fd(s);
        shmkit_rpc_client_fd(c);
        void *p;
        shmkit_rpc_request_loan(c, 1, &p, 0);
        shmkit_rpc_request_send(c, 1);
        struct shmkit_rpc_request q;
        shmkit_rpc_recv(s, &q, 0);
        const void *rp;
        size_t rl;
        shmkit_rpc_response_wait(c, &rp, &rl, 0); /* arms the client */
        shmkit_rpc_reply_send(s, &q, "y", 1);     /* sends it a datagram */
        shmkit_rpc_server_close(s);
        shmkit_rpc_client_close(c);
        if (r == 0)
            after1 = tu_nfds();
    }
    int end = tu_nfds();
    ok(end == after1 && end <= base + 1,
       "200 open/close cycles: descriptors flat (start %d, after the first %d, end %d: the one "
       "sender socket)",
       base, after1, end);
    /* kill -9 cycles: servers with descriptors killed while clients in
     * another process call through theirs, and the other way round */
    int cyc = 0, good = 0;
    int parent_before = tu_nfds();
    for (int r = 0; r < 20; r++) {
        pid_t srv = tu_spawn_fn(echo_fd_server, NULL, 5);
        pid_t cli = tu_spawn_fn(fd_cycler, NULL, 5);
        good += tu_wait_exit(cli) == 0;
        kill(srv, SIGKILL);
        tu_wait_exit(srv);
        cyc++;
    }
    ok(good == cyc, "%d kill -9 cycles: each client process's descriptor count flat (%d)", cyc, good);
    ok(tu_nfds() == parent_before, "the parent's count flat across the cycles (%d -> %d)", parent_before,
       tu_nfds());
    /* and a client killed while armed leaves the server's count flat */
    shmkit_rpc_server *s;
    shmkit_rpc_server_attach(&s, seg);
    shmkit_rpc_server_fd(s);
    int srv_before = tu_nfds();
    for (int r = 0; r < 20; r++) {
        pid_t v = fork();
        if (v == 0) {
            shmkit_rpc_client *c;
            if (shmkit_rpc_client_attach(&c, seg) < 0)
                _exit(2);
            shmkit_rpc_client_fd(c);
            void *p;
            shmkit_rpc_request_loan(c, 1, &p, 0);
            shmkit_rpc_request_send(c, 1);
            for (;;)
                pause();
        }
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(s, &q, 5000 * MS);
        kill(v, SIGKILL);
        tu_wait_exit(v);
        if (rc == 0)
            shmkit_rpc_reply_send(s, &q, "z", 1);
    }
    ok(tu_nfds() == srv_before, "20 armed clients killed: the server's descriptors flat");
    shmkit_rpc_server_close(s);
}

/* One request from C to S, S armed before: 1 if S's descriptor turned
 * readable and S took and answered it. */
static int wake_once(shmkit_rpc_server *s, shmkit_rpc_client *c)
{
    struct shmkit_rpc_request q;
    if (shmkit_rpc_recv(s, &q, 0) != -EAGAIN) /* arms */
        return 0;
    void *p;
    if (shmkit_rpc_request_loan(c, 1, &p, 0) < 0 || shmkit_rpc_request_send(c, 1) < 0)
        return 0;
    struct pollfd pf = {.fd = shmkit_rpc_server_fd(s), .events = POLLIN};
    if (poll(&pf, 1, 2000) != 1 || shmkit_rpc_recv(s, &q, 0) < 0 ||
        shmkit_rpc_reply_send(s, &q, "r", 1) < 0)
        return 0;
    const void *rp;
    size_t rl;
    return shmkit_rpc_response_wait(c, &rp, &rl, 2000 * MS) == 0 &&
           shmkit_rpc_response_release(c) == 0;
}

/* The child's side of shared_sender: two calls to the parent's second
 * server (armed by the parent in between), its descriptor count the same
 * after them. */
static int sender_child(void *arg, int n)
{
    shmkit_seg *other = arg;
    (void)n;
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, other) < 0)
        return 2;
    int before = tu_nfds();
    char b[8];
    for (int k = 0; k < 2; k++)
        if (shmkit_rpc_call(c, "x", 1, b, sizeof b, 5000 * MS) != 1)
            return 3;
    int after = tu_nfds();
    shmkit_rpc_client_close(c);
    return after == before ? 0 : 4;
}

/* A process's sending socket is connected to the receiver it woke twice
 * in a row (wakefd.c). A child after fork shares that socket: when it
 * wakes another receiver twice, it must not reconnect the shared one -
 * the parent's next wake-up would go to the child's receiver and its own
 * would sleep through it. */
static void shared_sender(void)
{
    setup(4);
    shmkit_seg *other = tu_rpc_anon(4);
    shmkit_rpc_server *a, *b;
    shmkit_rpc_client *c;
    if (shmkit_rpc_server_attach(&a, seg) < 0 || shmkit_rpc_server_attach(&b, other) < 0 ||
        shmkit_rpc_client_attach(&c, seg) < 0 || shmkit_rpc_server_fd(a) < 0 ||
        shmkit_rpc_server_fd(b) < 0)
        tap_bail("handles");
    shmkit_rpc_client_set_spin(c, 1);
    int woke = 0;
    for (int k = 0; k < 3; k++) /* by name, then connected */
        woke += wake_once(a, c);
    ok(woke == 3, "server A woken 3 times in a row (%d)", woke);
    pid_t kid = tu_spawn_fn(sender_child, other, 0);
    int served = 0;
    struct shmkit_rpc_request q;
    for (int k = 0; served < 2 && k < 100; k++) {
        int rc = shmkit_rpc_recv(b, &q, 0);
        if (rc == 0) {
            shmkit_rpc_reply_send(b, &q, "y", 1);
            served++;
            continue;
        }
        struct pollfd pf = {.fd = shmkit_rpc_server_fd(b), .events = POLLIN};
        if (rc != -EAGAIN || poll(&pf, 1, 5000) != 1) /* -EAGAIN: armed */
            break;
    }
    ok(served == 2, "the child's two calls to server B served, through the socket it shares (%d)",
       served);
    ok(tu_wait_exit(kid) == 0, "the child's calls answered, its descriptor count unchanged");
    woke = 0;
    for (int k = 0; k < 3; k++)
        woke += wake_once(a, c);
    ok(woke == 3, "server A still woken after the child's wake-ups (%d)", woke);
    shmkit_rpc_client_close(c);
    shmkit_rpc_server_close(a);
    shmkit_rpc_server_close(b);
    shmkit_close(other);
}

static const struct tu_case cases[] = {{"lost_wakeup_hunt", lost_wakeup_hunt, 0},
                                       {"server_death_in_epoll", server_death_in_epoll, 0},
                                       {"fd_leaks", fd_leaks, 0},
                                       {"shared_sender", shared_sender, 0},
                                       {NULL, NULL, 0}};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
