/* bench_rpc.c - request/response next to its baselines, in one run:
 *   - 64-byte round trip between two processes: shmkit's own ring pair
 *     (busy-polling), RPC busy-polling, RPC blocking (spin then futex)
 *     while calls flow, RPC with the shortest spin, a unix-socket request/response
 *     and ZeroMQ REQ/REP over ipc:// (when libzmq is installed: loaded
 *     with dlopen, skipped otherwise);
 *   - 64 client processes against one server, spinning 50 us, parking at
 *     once, and with the library's default spin: total calls/s, the worst
 *     client's share of the calls (1.0 = exactly the average), the worst
 *     share per time queued (the server's view: calls taken / time the
 *     client's requests waited to be taken), the worst client's CPU time;
 *     every client counted over one window (bench/README.md);
 *   - wake-up latency of an epoll loop: send -> the receiver's epoll_wait
 *     returns, through shmkit_rpc_server_fd, next to a bare eventfd
 *     write -> epoll_wait between the same two processes;
 *   - the sender's cost when nobody is parked: an RPC call in one process
 *     with and without the pollable descriptors made (does pollability
 *     cost a sender anything?), next to a ring round trip in one process.
 *
 *   bench_rpc [--quick] [--many | --epoll] [--csv FILE]
 *
 * --epoll runs only the epoll wake-up latencies, --many only the 64-client
 * part (BENCH_RPC_SPINS=1,5000,...: with these client spins instead;
 * BENCH_RPC_DETAIL=1: one line per client).
 *
 * Prints a table (ns per operation, ratio to the baseline named on the
 * line); with --csv, one line per figure: name,ns_per_op,baseline,ratio.
 * Round trips are the median of chunks of 100; latencies the median of
 * single samples. Nothing is asserted. */
#include "bench_pin.h"
#include "shmkit.h"

#include <dlfcn.h>
#include <stddef.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int quick, only_many, only_epoll;
static FILE *csv;

struct fig {
    const char *name;
    double ns;
};
static struct fig figs[64];
static int nfigs;
static char names[32][96]; /* figure names made at run time */
static int nnames;

static const char *name_of(const char *prefix, const char *what)
{
    char *n = names[nnames++ % 32];
    snprintf(n, sizeof names[0], what ? "%s: %s" : "%s", prefix, what);
    return n;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double lookup(const char *name)
{
    for (int i = 0; i < nfigs; i++)
        if (!strcmp(figs[i].name, name))
            return figs[i].ns;
    return 0;
}

static void report_unit(const char *name, double v, const char *base, const char *unit)
{
    figs[nfigs].name = name;
    figs[nfigs++].ns = v;
    double b = base ? lookup(base) : v;
    double ratio = b > 0 ? v / b : 0;
    printf("  %-40s %12.1f %-6s %-36s %6.2fx\n", name, v, unit, base ? base : "(baseline)", ratio);
    if (csv)
        fprintf(csv, "%s,%.1f,%s,%.3f\n", name, v, base ? base : name, ratio);
    fflush(stdout);
}

/* A share (1.0: the least is exactly the average): two decimals. */
static void report_share(const char *name, double v)
{
    figs[nfigs].name = name;
    figs[nfigs++].ns = v;
    printf("  %-52s %5.2f x avg\n", name, v);
    if (csv)
        fprintf(csv, "%s,%.3f,%s,%.3f\n", name, v, name, 1.0);
    fflush(stdout);
}

static void report(const char *name, double ns, const char *base)
{
    report_unit(name, ns, base, "ns");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

__attribute__((noreturn)) static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_rpc: %s: %s\n", what, shmkit_strerror(rc));
    exit(2);
}

#define CHUNK 100
static double samples[100000];

/* ------------------------------------------------------------ endpoints */

static shmkit_seg *endpoint(unsigned clients)
{
    shmkit_seg *seg;
    struct shmkit_opts o = {
        .kind = SHMKIT_ANON, .size = shmkit_rpc_size_for(64, 64, clients), .flags = SHMKIT_CREATE};
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 64, .max_clients = clients};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0 || (rc = shmkit_rpc_init(seg, &cfg)) < 0)
        die("endpoint", rc);
    return seg;
}

/* An echo server child: busy-polls with SPIN < 0, else spins SPIN ns.
 * SEEN (if not NULL) is shown each request before it is answered. */
static pid_t echo_server(shmkit_seg *seg, int64_t spin,
                         void (*seen)(const struct shmkit_rpc_request *, void *), void *ctx)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        shmkit_rpc_server *s;
        if (shmkit_rpc_server_attach(&s, seg) < 0)
            _exit(2);
        shmkit_rpc_server_set_spin(s, spin);
        for (;;) {
            struct shmkit_rpc_request q;
            if (shmkit_rpc_recv(s, &q, -1) < 0)
                continue;
            if (seen)
                seen(&q, ctx);
            shmkit_rpc_reply_send(s, &q, q.data, q.len);
        }
    }
    return p;
}

static void stop(pid_t p)
{
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
}

/* Median ns per 64-byte RPC round trip with SPIN on both sides (as
 * shmkit_rpc_*_set_spin: negative busy-polls). */
static double rpc_rtt(int64_t spin, long n)
{
    shmkit_seg *seg = endpoint(4);
    pid_t srv = echo_server(seg, spin, NULL, NULL);
    shmkit_rpc_client *c;
    int rc = shmkit_rpc_client_attach(&c, seg);
    if (rc < 0)
        die("client", rc);
    shmkit_rpc_client_set_spin(c, spin);
    char req[64] = "ping", resp[64];
    for (int i = 0; i < 1000; i++) /* warm up: the server is running */
        shmkit_rpc_call(c, req, 64, resp, 64, -1);
    int nch = (int)(n / CHUNK);
    long bad = 0;
    int last = 0;
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < CHUNK; i++) {
            int r = shmkit_rpc_call(c, req, 64, resp, 64, -1);
            if (r != 64) {
                bad++;
                last = r;
            }
        }
        samples[k] = (now_ns() - t0) / CHUNK;
    }
    if (bad)
        printf("  (%ld calls failed, last %s)\n", bad, shmkit_errname(last));

    shmkit_rpc_client_close(c);
    stop(srv);
    shmkit_close(seg);
    return median(samples, nch);
}

/* ------------------------------------------------------------ ring pair */

static double ring_rtt(long n)
{
    size_t sz = shmkit_ring_size_for(4096);
    shmkit_seg *a, *b;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sz, .flags = SHMKIT_CREATE};
    if (shmkit_open(&a, &o) < 0 || shmkit_open(&b, &o) < 0)
        die("ring segments", -ENOMEM);
    shmkit_ring *req, *resp;
    if (shmkit_ring_create(&req, a, 4096, SHMKIT_RING_PRODUCER) < 0 ||
        shmkit_ring_create(&resp, b, 4096, SHMKIT_RING_CONSUMER) < 0)
        die("rings", -EINVAL);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        shmkit_ring *in, *out;
        if (shmkit_ring_attach(&in, a, SHMKIT_RING_CONSUMER) < 0 ||
            shmkit_ring_attach(&out, b, SHMKIT_RING_PRODUCER) < 0)
            _exit(2);
        shmkit_ring_set_spin(in, -1);
        shmkit_ring_set_spin(out, -1);
        char m[64];
        for (;;) {
            int len = shmkit_ring_recv(in, m, sizeof m, -1);
            if (len < 0)
                _exit(0);
            shmkit_ring_send(out, m, (size_t)len, -1);
        }
    }
    shmkit_ring_set_spin(req, -1);
    shmkit_ring_set_spin(resp, -1);
    char m[64] = "ping", r[64];
    for (int i = 0; i < 1000; i++) {
        shmkit_ring_send(req, m, 64, -1);
        shmkit_ring_recv(resp, r, 64, -1);
    }
    int nch = (int)(n / CHUNK);
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < CHUNK; i++) {
            shmkit_ring_send(req, m, 64, -1);
            shmkit_ring_recv(resp, r, 64, -1);
        }
        samples[k] = (now_ns() - t0) / CHUNK;
    }
    stop(p);
    shmkit_ring_close(req);
    shmkit_ring_close(resp);
    shmkit_close(a);
    shmkit_close(b);
    return median(samples, nch);
}

/* ------------------------------------------------------------ unix socket */

static double unix_rtt(long n)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
        die("socketpair", -errno);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        close(sv[0]);
        char m[64];
        for (;;) {
            ssize_t len = read(sv[1], m, sizeof m);
            if (len <= 0 || write(sv[1], m, (size_t)len) != len)
                _exit(0);
        }
    }
    close(sv[1]);
    char m[64] = "ping", r[64];
    int nch = (int)(n / CHUNK);
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < CHUNK; i++)
            if (write(sv[0], m, 64) != 64 || read(sv[0], r, 64) != 64)
                die("unix socket", -EIO);
        samples[k] = (now_ns() - t0) / CHUNK;
    }
    close(sv[0]);
    waitpid(p, NULL, 0);
    return median(samples, nch);
}

/* ------------------------------------------------------------ ZeroMQ */

#define ZMQ_REQ_ 3
#define ZMQ_REP_ 4
static struct {
    void *(*ctx_new)(void);
    int (*ctx_term)(void *);
    void *(*socket)(void *, int);
    int (*close)(void *);
    int (*bind)(void *, const char *);
    int (*connect)(void *, const char *);
    int (*send)(void *, const void *, size_t, int);
    int (*recv)(void *, void *, size_t, int);
} zmq;

static int zmq_load(void)
{
    void *lib = dlopen("libzmq.so.5", RTLD_NOW);
    if (!lib)
        lib = dlopen("libzmq.so", RTLD_NOW);
    if (!lib)
        return -ENOENT;
#define Z(f) *(void **)&zmq.f = dlsym(lib, "zmq_" #f)
    Z(ctx_new);
    Z(ctx_term);
    Z(socket);
    Z(close);
    Z(bind);
    Z(connect);
    Z(send);
    Z(recv);
#undef Z
    return zmq.ctx_new && zmq.socket && zmq.send && zmq.recv && zmq.bind && zmq.connect ? 0
                                                                                        : -ENOENT;
}

static double zmq_rtt(long n)
{
    char path[96], ep[128];
    snprintf(path, sizeof path, "/tmp/shmkit-bench-rpc-%d.zmq", (int)getpid());
    snprintf(ep, sizeof ep, "ipc://%s", path);
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        /* a context per process: ZeroMQ contexts do not survive fork */
        void *ctx = zmq.ctx_new(), *s = zmq.socket(ctx, ZMQ_REP_);
        if (zmq.bind(s, ep) < 0)
            _exit(2);
        char m[64];
        for (;;) {
            int len = zmq.recv(s, m, sizeof m, 0);
            if (len < 0 || zmq.send(s, m, (size_t)len, 0) < 0)
                _exit(0);
        }
    }
    void *ctx = zmq.ctx_new(), *s = zmq.socket(ctx, ZMQ_REQ_);
    zmq.connect(s, ep);
    char m[64] = "ping", r[64];
    for (int i = 0; i < 200; i++) {
        zmq.send(s, m, 64, 0);
        zmq.recv(s, r, 64, 0);
    }
    int nch = (int)(n / CHUNK);
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < CHUNK; i++) {
            zmq.send(s, m, 64, 0);
            zmq.recv(s, r, 64, 0);
        }
        samples[k] = (now_ns() - t0) / CHUNK;
    }
    stop(p);
    unlink(path);
    return median(samples, nch);
}

/* ------------------------------------------------------------ 64 clients */

/* What each client process counts, in shared memory. Every client is
 * measured over the same window [t_go, t_halt] of the monotonic clock
 * (one clock for every process): a call counts if it completed inside it,
 * whenever its process got to run. */
struct per_client {
    long calls;    /* completed inside the window */
    long failed;   /* calls that returned an error (none expected) */
    double cpu_ns; /* the process's CPU time over the window */
    double out_ns; /* time with a call outstanding, inside the window */
};
struct per_slot {     /* the server's view, by slot */
    long served;      /* requests taken inside the window */
    double queued_ns; /* sum of (taken - published) of those requests */
};
struct many {
    volatile int ready, go, halt;
    volatile double t_go, t_halt;
    struct per_client c[64];
    int slot[64]; /* client i's slot */
    struct per_slot s[64];
};

static double cpu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* The 64-client runs' server counts, per slot, the requests it took
 * inside the window and how long each had been queued (the client stamps
 * the publish time into the request). */
static void count_request(const struct shmkit_rpc_request *q, void *ctx)
{
    struct many *m = ctx;
    double t = now_ns(), sent;
    memcpy(&sent, q->data, sizeof sent);
    if (q->client < 64 && t >= m->t_go && (!m->halt || t <= m->t_halt) && sent >= m->t_go) {
        m->s[q->client].served++;
        m->s[q->client].queued_ns += t - sent;
    }
}

static void many_client(shmkit_seg *seg, int64_t spin, struct many *m, int i)
{
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, seg) < 0)
        _exit(2);
    if (spin)
        shmkit_rpc_client_set_spin(c, spin); /* 0: the library's default */
    m->slot[i] = shmkit_rpc_client_slot(c);
    __atomic_fetch_add(&m->ready, 1, __ATOMIC_ACQ_REL);
    while (!__atomic_load_n(&m->go, __ATOMIC_ACQUIRE))
        usleep(1000);
    char req[64] = "x", resp[64];
    struct per_client me = {0};
    double cpu0 = cpu_now_ns(), t_go = m->t_go;
    while (!__atomic_load_n(&m->halt, __ATOMIC_ACQUIRE)) {
        double t0 = now_ns();
        memcpy(req, &t0, sizeof t0);
        int rc = shmkit_rpc_call(c, req, 64, resp, 64, 1000000000);
        double t1 = now_ns();
        if (t1 > t_go && (!m->halt || t1 <= m->t_halt)) {
            me.out_ns += t1 - (t0 > t_go ? t0 : t_go);
            if (rc == 64)
                me.calls++;
            else
                me.failed++;
        }
    }
    me.cpu_ns = cpu_now_ns() - cpu0;
    m->c[i] = me;
    _exit(0);
}

/* min / average of V[0..N) (1.0: the least is exactly the average). */
static double worst_share(const double *v, int n)
{
    double sum = 0, min = -1;
    for (int i = 0; i < n; i++) {
        sum += v[i];
        if (min < 0 || v[i] < min)
            min = v[i];
    }
    return sum > 0 ? min / (sum / n) : 0;
}

/* 64 client processes with SPIN (as set_spin) against a server spinning
 * 50 us, for SECONDS. Figures named PREFIX + ...: calls/s, the worst
 * client's share of the calls (raw), the server's share to clients that
 * were waiting (calls per second queued), and the CPU time the worst
 * client got. */
static void many_clients(double seconds, int64_t spin, const char *prefix)
{
    enum { N = 64 };
    shmkit_seg *seg = endpoint(N), *ms;
    struct shmkit_opts o = {
        .kind = SHMKIT_ANON, .size = sizeof(struct many), .flags = SHMKIT_CREATE};
    if (shmkit_open(&ms, &o) < 0)
        die("counts", -ENOMEM);
    struct many *m = shmkit_seg_data(ms);
    m->t_go = 1e300; /* nothing counts before go */
    pid_t srv = echo_server(seg, 50000, count_request, m), kids[N];
    for (int i = 0; i < N; i++) {
        fflush(stdout);
        kids[i] = fork();
        if (kids[i] == 0)
            many_client(seg, spin, m, i);
    }
    while (__atomic_load_n(&m->ready, __ATOMIC_ACQUIRE) < N) /* start barrier */
        usleep(1000);
    usleep(100000);
    m->t_go = now_ns() + 20e6; /* every client is polling go by then */
    __atomic_store_n(&m->go, 1, __ATOMIC_RELEASE);
    usleep((useconds_t)(seconds * 1e6) + 20000);
    m->t_halt = now_ns();
    __atomic_store_n(&m->halt, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < N; i++)
        waitpid(kids[i], NULL, 0);
    stop(srv);
    double window = m->t_halt - m->t_go, calls[N], cpu[N], srate[N];
    long total = 0, failed = 0;
    int ns = 0;
    for (int i = 0; i < N; i++) {
        total += m->c[i].calls;
        failed += m->c[i].failed;
        calls[i] = (double)m->c[i].calls;
        cpu[i] = m->c[i].cpu_ns;
        int sl = m->slot[i];
        if (sl >= 0 && sl < N && m->s[sl].queued_ns > 0)
            srate[ns++] = (double)m->s[sl].served / m->s[sl].queued_ns;
    }
    if (failed)
        printf("  (%ld calls failed)\n", failed);
    if (getenv("BENCH_RPC_DETAIL"))
        for (int i = 0; i < N; i++) {
            int sl = m->slot[i];
            printf("    client %2d slot %2d: %7ld calls, cpu %6.1f ms, outstanding %7.1f ms, "
                   "served %7ld, queued %7.1f ms (%.1f us each)\n",
                   i, sl, m->c[i].calls, m->c[i].cpu_ns / 1e6, m->c[i].out_ns / 1e6,
                   m->s[sl].served, m->s[sl].queued_ns / 1e6,
                   m->s[sl].served ? m->s[sl].queued_ns / 1e3 / m->s[sl].served : 0);
        }
    report_unit(name_of(prefix, "calls/s"), (double)total / (window / 1e9), NULL, "/s");
    report_share(name_of(prefix, "worst client's share"), worst_share(calls, N));
    report_share(name_of(prefix, "worst share while queued"), ns == N ? worst_share(srate, N) : 0);
    report_share(name_of(prefix, "worst client's CPU time"), worst_share(cpu, N));
    shmkit_close(ms);
    shmkit_close(seg);
}

/* ------------------------------------------------------------ epoll wake-up */
struct stamp {
    volatile double sent;
    volatile double lat[20000];
    volatile int n;
};

/* Median latency from a send to the receiver's epoll_wait returning:
 * RPC through the server descriptor (RPC 1) or a bare eventfd (RPC 0).
 * The sender waits for the receiver to park again before each send. */
static double epoll_latency(int rpc, int n)
{
    shmkit_seg *seg = endpoint(2), *ss;
    struct shmkit_opts o = {
        .kind = SHMKIT_ANON, .size = sizeof(struct stamp), .flags = SHMKIT_CREATE};
    if (shmkit_open(&ss, &o) < 0)
        die("stamp", -ENOMEM);
    struct stamp *st = shmkit_seg_data(ss);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int back = eventfd(0, EFD_CLOEXEC); /* "I am parked again" is not timed */
    fflush(stdout);
    pin_to(0, 1);
    pid_t p = fork();
    if (p == 0) {
        pin_to(1, 0);
        shmkit_rpc_server *s = NULL;
        int fd = efd;
        if (rpc) {
            if (shmkit_rpc_server_attach(&s, seg) < 0)
                _exit(2);
            fd = shmkit_rpc_server_fd(s);
        }
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        for (int i = 0; i < n; i++) {
            if (rpc) {
                struct shmkit_rpc_request q;
                while (shmkit_rpc_recv(s, &q, 0) == 0) /* drain, then -EAGAIN arms */
                    shmkit_rpc_reply_send(s, &q, q.data, q.len);
            } else {
                uint64_t v;
                while (read(efd, &v, 8) == 8)
                    ;
            }
            uint64_t one = 1;
            if (write(back, &one, 8) != 8) /* armed: the sender may go */
                _exit(3);
            struct epoll_event out;
            while (epoll_wait(ep, &out, 1, -1) != 1)
                ;
            st->lat[i] = now_ns() - st->sent;
        }
        _exit(0);
    }
    shmkit_rpc_client *c = NULL;
    if (rpc && shmkit_rpc_client_attach(&c, seg) < 0)
        die("client", -EINVAL);
    for (int i = 0; i < n; i++) {
        uint64_t v;
        if (read(back, &v, 8) != 8)
            break;
        usleep(50); /* let it reach epoll_wait */
        if (rpc) {
            void *q;
            shmkit_rpc_request_loan(c, 8, &q, -1); /* waits for the previous answer */
            st->sent = now_ns();
            shmkit_rpc_request_send(c, 8);
        } else {
            uint64_t one = 1;
            st->sent = now_ns();
            if (write(efd, &one, 8) != 8)
                break;
        }
    }
    waitpid(p, NULL, 0);
    unpin();
    for (int i = 0; i < n; i++)
        samples[i] = st->lat[i];
    double r = median(samples, n);
    shmkit_rpc_client_close(c);
    close(efd);
    close(back);
    shmkit_close(ss);
    shmkit_close(seg);
    return r;
}

/* What one wake-up costs the sender when nobody waits, by mechanism
 * (WHICH 0: an eventfd write, 1: a datagram sent by name as shmkit sends
 * to a receiver it did not wake last, 2: a datagram on a connected
 * socket, as to the receiver it woke last). Mean ns; the receiver's queue
 * is read away in the same loop, untimed. */
static double wake_syscall(int which, long n)
{
    int rs = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int ss = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int len = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "shmkit-bench-w-%d", (int)getpid());
    socklen_t al = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)len);
    if (rs < 0 || ss < 0 || efd < 0 || bind(rs, (struct sockaddr *)&a, al) < 0 ||
        (which == 2 && connect(ss, (struct sockaddr *)&a, al) < 0))
        die("wake sockets", -errno);
    double sum = 0;
    char b[8];
    uint64_t v = 1;
    for (long i = 0; i < n; i++) {
        double t0 = now_ns();
        if (which == 0) {
            if (write(efd, &v, 8) != 8)
                die("eventfd", -errno);
        } else if (which == 1) {
            struct sockaddr_un to = {.sun_family = AF_UNIX}; /* the name made per send */
            int l = snprintf(to.sun_path + 1, sizeof to.sun_path - 1, "shmkit-bench-w-%d",
                             (int)getpid());
            sendto(ss, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&to,
                   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)l));
        } else {
            send(ss, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
        }
        sum += now_ns() - t0;
        if (which == 0 ? read(efd, &v, 8) != 8 : recv(rs, b, sizeof b, MSG_DONTWAIT) != 1)
            die("drain", -errno);
    }
    close(rs);
    close(ss);
    close(efd);
    return sum / (double)n;
}

/* ------------------------------------------------------------ sender cost */

/* One process, nobody ever parked: ns per RPC call with (FDS 1) or
 * without the pollable descriptors made; or (RING) a ring round trip. */
static double local_cost(int fds, long n)
{
    shmkit_seg *seg = endpoint(2);
    shmkit_rpc_server *s;
    shmkit_rpc_client *c;
    if (shmkit_rpc_server_attach(&s, seg) < 0 || shmkit_rpc_client_attach(&c, seg) < 0)
        die("attach", -EINVAL);
    if (fds) {
        shmkit_rpc_server_fd(s);
        shmkit_rpc_client_fd(c);
    }
    char m[64] = "x";
    int nch = (int)(n / 1000);
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < 1000; i++) {
            void *p;
            shmkit_rpc_request_loan(c, 64, &p, 0);
            memcpy(p, m, 64);
            shmkit_rpc_request_send(c, 64);
            struct shmkit_rpc_request q;
            shmkit_rpc_recv(s, &q, -1);
            shmkit_rpc_reply_send(s, &q, q.data, 64);
            const void *r;
            size_t rl;
            shmkit_rpc_response_wait(c, &r, &rl, -1);
            shmkit_rpc_response_release(c);
        }
        samples[k] = (now_ns() - t0) / 1000;
    }
    shmkit_rpc_client_close(c);
    shmkit_rpc_server_close(s);
    shmkit_close(seg);
    return median(samples, nch);
}

static double local_ring(long n)
{
    size_t sz = shmkit_ring_size_for(4096);
    shmkit_seg *a, *b;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sz, .flags = SHMKIT_CREATE};
    if (shmkit_open(&a, &o) < 0 || shmkit_open(&b, &o) < 0)
        die("ring segments", -ENOMEM);
    shmkit_ring *p1, *c1, *p2, *c2;
    shmkit_ring_create(&p1, a, 4096, SHMKIT_RING_PRODUCER);
    shmkit_ring_attach(&c1, a, SHMKIT_RING_CONSUMER);
    shmkit_ring_create(&p2, b, 4096, SHMKIT_RING_PRODUCER);
    shmkit_ring_attach(&c2, b, SHMKIT_RING_CONSUMER);
    char m[64] = "x", r[64];
    int nch = (int)(n / 1000);
    for (int k = 0; k < nch; k++) {
        double t0 = now_ns();
        for (int i = 0; i < 1000; i++) {
            shmkit_ring_send(p1, m, 64, 0);
            shmkit_ring_recv(c1, r, 64, 0);
            shmkit_ring_send(p2, r, 64, 0);
            shmkit_ring_recv(c2, m, 64, 0);
        }
        samples[k] = (now_ns() - t0) / 1000;
    }
    shmkit_ring_close(p1);
    shmkit_ring_close(c1);
    shmkit_ring_close(p2);
    shmkit_ring_close(c2);
    shmkit_close(a);
    shmkit_close(b);
    return median(samples, nch);
}

/* The epoll rows: latencies unpinned and pinned, then what the sender's
 * system call costs by itself. */
static void epoll_part(int ne, long nw)
{
    report("bare eventfd write -> epoll_wait", epoll_latency(0, ne), NULL);
    report("rpc request -> server fd epoll_wait", epoll_latency(1, ne),
           "bare eventfd write -> epoll_wait");
    pinned = 1;
    report("pinned: eventfd write -> epoll_wait", epoll_latency(0, ne), NULL);
    report("pinned: rpc request -> server fd", epoll_latency(1, ne),
           "pinned: eventfd write -> epoll_wait");
    pinned = 0;
    printf("the sender's wake-up system call alone, nobody waiting (mean)\n");
    report("eventfd write", wake_syscall(0, nw), NULL);
    report("datagram sendto by name", wake_syscall(1, nw), "eventfd write");
    report("datagram send, connected", wake_syscall(2, nw), "eventfd write");
}

int main(int argc, char **argv)
{
    const char *csvpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--many"))
            only_many = 1;
        else if (!strcmp(argv[i], "--epoll"))
            only_epoll = 1;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csvpath = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--many | --epoll] [--csv FILE]\n", argv[0]);
            return 1;
        }
    }
    if (only_epoll) {
        epoll_part(quick ? 500 : 5000, quick ? 2000 : 40000);
        return 0;
    }
    if (only_many) {
        /* BENCH_RPC_SPINS=1,5000,...: the client spins to try */
        const char *sp = getenv("BENCH_RPC_SPINS");
        for (char *e; sp && *sp; sp = *e ? e + 1 : e) {
            long v = strtol(sp, &e, 10);
            char nm[64];
            snprintf(nm, sizeof nm, "64 clients spin %ld ns", v);
            many_clients(quick ? 0.5 : 3, v, name_of(nm, NULL));
        }
        if (!getenv("BENCH_RPC_SPINS")) {
            many_clients(quick ? 0.5 : 3, 50000, "64 clients spinning 50 us");
            many_clients(quick ? 0.5 : 3, 1, "64 clients parking at once");
            many_clients(quick ? 0.5 : 3, 0, "64 clients, default spin (5 us)");
        }
        return 0;
    }
    if (csvpath && !(csv = fopen(csvpath, "a"))) {
        fprintf(stderr, "bench_rpc: %s: %s\n", csvpath, strerror(errno));
        return 2;
    }
    long n = quick ? 20000 : 400000;
    printf("bench_rpc%s: 64-byte requests and responses; ns per round trip (median of chunks of "
           "%d), ratio to the baseline\n",
           quick ? " --quick" : "", CHUNK);
    printf("round trip between two processes\n");
    report("ring pair, busy-poll", ring_rtt(n), NULL);
    report("rpc, busy-poll", rpc_rtt(-1, n), "ring pair, busy-poll");
    report("rpc, blocking (spin 50 us, then futex)", rpc_rtt(50000, n), "rpc, busy-poll");
    /* spin 1 ns still polls 64 times (chan_wait.c) before it parks */
    report("rpc, spin 1 ns (64 polls, then futex)", rpc_rtt(1, n / 4), "rpc, busy-poll");
    report("unix socket SEQPACKET request/response", unix_rtt(n / 4), "rpc, busy-poll");
    if (zmq_load() == 0)
        report("ZeroMQ REQ/REP ipc://", zmq_rtt(n / 10), "rpc, busy-poll");
    else
        printf("  ZeroMQ REQ/REP ipc://: libzmq not installed, skipped (bench/setup-deps)\n");
    printf("64 client processes against one server (spin 50 us), all counted over one window\n");
    many_clients(quick ? 0.5 : 3, 50000, "64 clients spinning 50 us");
    many_clients(quick ? 0.5 : 3, 1, "64 clients parking at once");
    many_clients(quick ? 0.5 : 3, 0, "64 clients, default spin (5 us)");
    printf("epoll wake-up latency: send -> the receiver's epoll_wait returns\n");
    int ne = quick ? 500 : 5000;
    epoll_part(ne, n / 10);
    printf("cost when nobody is parked (one process, no waiting)\n");
    report("ring round trip (two rings)", local_ring(n), NULL);
    report("rpc call, no descriptors", local_cost(0, n), "ring round trip (two rings)");
    report("rpc call, descriptors made", local_cost(1, n), "rpc call, no descriptors");
    if (csv && fclose(csv) != 0)
        return 2;
    return 0;
}
