/*
 * bench_ipc.c - shmkit's channels against everything else on the machine,
 * measured in one run between two processes.
 *
 *   bench_ipc [--quick] [--ring-only] [--csv FILE] [--plot FILE] [--boost PROGRAM]
 *   bench_ipc --loop N   (N 64-byte messages sent and received in one process,
 *                         nothing printed: run it under callgrind, see bench/README.md)
 *
 * For every transport: 64-byte ping-pong round trip (p50/p99/p99.9, the
 * two processes pinned to different cores), 64-byte one-way throughput,
 * and where the transport allows, 1 MiB one-way bandwidth. Then the same
 * ping-pong with both processes on one core, the bus publish cost with
 * 1/4/16 subscribers, and the CPU an idle blocked consumer burns.
 * The floor is a bare cache line bounced between the two processes; the
 * naive ring is a minimal single-producer ring (fixed 64-byte slots, no
 * cached indices) that shmkit's ring must beat.
 *
 * Every shared resource is private to the run: anonymous shared memory
 * (gone with the processes), socketpairs, and POSIX/System V queues and a
 * ZeroMQ socket file that are removed at exit, on SIGINT/SIGTERM and on
 * every error path.
 */
#include "shmkit.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SMALL 64
#define BIG (1u << 20)

static int quick;
static int ring_only; /* --ring-only: the floor, shmkit's ring, the naive ring, memcpy */
static int ncpu = 2;
static int cpu_a = 0, cpu_b = 1; /* current placement */
static const char *placement = "cross-core";

/* ------------------------------------------------------------ results */

struct result {
    char transport[40];
    char placement[16];
    char metric[24];
    double value;
    const char *unit;
};
static struct result results[1024];
static int nresults;

static void record(const char *transport, const char *metric, double v, const char *unit)
{
    if (nresults == (int)(sizeof results / sizeof *results))
        return;
    struct result *r = &results[nresults++];
    snprintf(r->transport, sizeof r->transport, "%s", transport);
    snprintf(r->placement, sizeof r->placement, "%s", placement);
    snprintf(r->metric, sizeof r->metric, "%s", metric);
    r->value = v;
    r->unit = unit;
}

static double find(const char *transport, const char *plc, const char *metric)
{
    for (int i = 0; i < nresults; i++)
        if (!strcmp(results[i].transport, transport) && !strcmp(results[i].placement, plc) &&
            !strcmp(results[i].metric, metric))
            return results[i].value;
    return 0;
}

/* ------------------------------------------------------------ cleanup */

static char mq_names[2][64];
static int sysv_id = -1;
static char zmq_path[108];
static pid_t children[32];
static int nchildren;

static void cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (mq_names[i][0]) {
            mq_unlink(mq_names[i]);
            mq_names[i][0] = 0;
        }
    if (sysv_id >= 0) {
        msgctl(sysv_id, IPC_RMID, NULL);
        sysv_id = -1;
    }
    if (zmq_path[0]) {
        unlink(zmq_path);
        zmq_path[0] = 0;
    }
}

static void on_signal(int sig)
{
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            kill(children[i], SIGKILL);
    cleanup();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_ipc: %s: %s\n", what, err < 0 ? shmkit_strerror(err) : strerror(err));
    on_signal(SIGTERM);
}

/* ------------------------------------------------------------ helpers */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu % ncpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

static inline void relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static pid_t spawn(void)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        die("fork", errno);
    if (pid == 0) {
        pin(cpu_b);
        return 0;
    }
    if (nchildren < 32)
        children[nchildren++] = pid;
    return pid;
}

static int reap(pid_t pid, struct rusage *ru)
{
    int st;
    struct rusage dummy;
    if (wait4(pid, &st, 0, ru ? ru : &dummy) < 0)
        return -1;
    for (int i = 0; i < nchildren; i++)
        if (children[i] == pid)
            children[i] = 0;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void *shared_map(size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        die("mmap", errno);
    memset(p, 0, len);
    return p;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void record_rtt(const char *name, uint64_t *lat, size_t n)
{
    qsort(lat, n, sizeof *lat, cmp_u64);
    record(name, "rtt_p50", (double)lat[n / 2], "ns");
    record(name, "rtt_p99", (double)lat[n * 99 / 100], "ns");
    record(name, "rtt_p999", (double)lat[n * 999 / 1000], "ns");
    printf("  %-26s %-10s rtt p50 %8.0f ns  p99 %8.0f ns  p99.9 %8.0f ns\n", name, placement,
           (double)lat[n / 2], (double)lat[n * 99 / 100], (double)lat[n * 999 / 1000]);
}

/* ------------------------------------------------------------ transports
 *
 * A transport moves bytes between side A (the parent, pinned to cpu_a) and
 * side B (the child, cpu_b). setup runs before fork; open runs in each
 * process after it; send/recv move one message (recv returns its length). */

struct xport {
    const char *name;
    size_t big; /* largest message it can carry (0: no 1 MiB run) */
    int (*setup)(void);
    void (*open)(int side);
    int (*send)(int side, const void *buf, size_t len);
    int (*recv)(int side, void *buf, size_t cap);
    void (*teardown)(void);
};

/* -- shmkit ring: two rings, A->B and B->A, in anonymous segments */

static shmkit_seg *ring_seg[2];
static shmkit_ring *ring_tx, *ring_rx;
static int64_t ring_spin;
static size_t ring_cap = 256u << 10; /* 4 MiB for the 1 MiB runs */

static int ring_setup(void)
{
    for (int i = 0; i < 2; i++) {
        struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(ring_cap),
                                .flags = SHMKIT_CREATE};
        int rc = shmkit_open(&ring_seg[i], &o);
        if (rc < 0)
            return rc;
    }
    /* A produces on ring 0 and consumes ring 1; B attaches after fork */
    int rc = shmkit_ring_create(&ring_tx, ring_seg[0], ring_cap, SHMKIT_RING_PRODUCER);
    if (rc == 0)
        rc = shmkit_ring_create(&ring_rx, ring_seg[1], ring_cap, SHMKIT_RING_CONSUMER);
    return rc;
}

static void ring_open(int side)
{
    if (side == 1) {
        /* the handles copied by fork belong to A: B makes its own */
        int rc = shmkit_ring_attach(&ring_rx, ring_seg[0], SHMKIT_RING_CONSUMER | SHMKIT_RING_TAKEOVER);
        if (rc == 0)
            rc = shmkit_ring_attach(&ring_tx, ring_seg[1], SHMKIT_RING_PRODUCER | SHMKIT_RING_TAKEOVER);
        if (rc < 0)
            die("ring attach", rc);
    }
    shmkit_ring_set_spin(ring_tx, ring_spin);
    shmkit_ring_set_spin(ring_rx, ring_spin);
}

static int ring_send(int side, const void *buf, size_t len)
{
    return shmkit_ring_send(ring_tx, buf, len, -1);
}

static int ring_recv(int side, void *buf, size_t cap)
{
    return shmkit_ring_recv(ring_rx, buf, cap, -1);
}

static void ring_teardown(void)
{
    shmkit_ring_close(ring_tx);
    shmkit_ring_close(ring_rx);
    ring_tx = ring_rx = NULL;
    for (int i = 0; i < 2; i++) {
        shmkit_close(ring_seg[i]);
        ring_seg[i] = NULL;
    }
}

/* -- naive spin ring: fixed 64-byte slots, indices re-read every time */

#define NAIVE_SLOTS 4096
struct naive {
    _Alignas(64) _Atomic uint64_t head;
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) unsigned char slot[NAIVE_SLOTS][SMALL];
};
static struct naive *naive[2];

static int naive_setup(void)
{
    naive[0] = shared_map(sizeof(struct naive));
    naive[1] = shared_map(sizeof(struct naive));
    return 0;
}

static void naive_open(int side)
{
}

static int naive_send(int side, const void *buf, size_t len)
{
    struct naive *q = naive[side];
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    while (t - atomic_load_explicit(&q->head, memory_order_acquire) == NAIVE_SLOTS)
        relax();
    memcpy(q->slot[t % NAIVE_SLOTS], buf, len);
    atomic_store_explicit(&q->tail, t + 1, memory_order_release);
    return 0;
}

static int naive_recv(int side, void *buf, size_t cap)
{
    struct naive *q = naive[!side];
    uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
    while (atomic_load_explicit(&q->tail, memory_order_acquire) == h)
        relax();
    memcpy(buf, q->slot[h % NAIVE_SLOTS], SMALL < cap ? SMALL : cap);
    atomic_store_explicit(&q->head, h + 1, memory_order_release);
    return SMALL;
}

static void naive_teardown(void)
{
    munmap(naive[0], sizeof(struct naive));
    munmap(naive[1], sizeof(struct naive));
}

/* -- two lines: the least a 64-byte message costs when the word that says
 * "here it is" cannot share its cache line (a 64-byte payload and any
 * header need two lines). One message in flight per direction: only for
 * the ping-pong, where a side sends again only after its answer came. */
struct line2 {
    _Alignas(64) _Atomic uint64_t seq;
    _Alignas(64) unsigned char data[SMALL];
};
static struct line2 *line2[2];
static uint64_t line2_seen[2];

static int line2_setup(void)
{
    line2[0] = shared_map(sizeof(struct line2));
    line2[1] = shared_map(sizeof(struct line2));
    line2_seen[0] = line2_seen[1] = 0;
    return 0;
}

static int line2_send(int side, const void *buf, size_t len)
{
    struct line2 *q = line2[side];
    memcpy(q->data, buf, len < SMALL ? len : SMALL);
    atomic_store_explicit(&q->seq, atomic_load_explicit(&q->seq, memory_order_relaxed) + 1,
                          memory_order_release);
    return 0;
}

static int line2_recv(int side, void *buf, size_t cap)
{
    struct line2 *q = line2[!side];
    while (atomic_load_explicit(&q->seq, memory_order_acquire) == line2_seen[side])
        relax();
    line2_seen[side]++;
    memcpy(buf, q->data, SMALL < cap ? SMALL : cap);
    return SMALL;
}

static void line2_teardown(void)
{
    munmap(line2[0], sizeof(struct line2));
    munmap(line2[1], sizeof(struct line2));
}

/* -- pipe, unix stream, unix seqpacket */

static int fds[2][2]; /* [direction][end] */
static int sock_type;

static int pipe_setup(void)
{
    if (pipe(fds[0]) < 0 || pipe(fds[1]) < 0)
        return -errno;
    fcntl(fds[0][1], F_SETPIPE_SZ, 1 << 20);
    fcntl(fds[1][1], F_SETPIPE_SZ, 1 << 20);
    return 0;
}

static int sock_setup(void)
{
    int sv[2];
    if (socketpair(AF_UNIX, sock_type, 0, sv) < 0)
        return -errno;
    int sz = 4 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
    fds[0][1] = sv[0]; /* A writes A->B here */
    fds[0][0] = sv[1]; /* B reads */
    fds[1][1] = sv[1]; /* B writes */
    fds[1][0] = sv[0]; /* A reads */
    return 0;
}

static void fd_open(int side)
{
}

static int fd_send(int side, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fds[side][1], p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Stream transports: the receiver knows the size (SMALL or BIG). */
static size_t fd_expect = SMALL;

static int fd_recv(int side, void *buf, size_t cap)
{
    char *p = buf;
    size_t want = sock_type == SOCK_SEQPACKET ? cap : fd_expect, got = 0;
    while (got < want) {
        ssize_t n = read(fds[!side][0], p + got, want - got);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return n < 0 ? -errno : -EPIPE;
        }
        got += (size_t)n;
        if (sock_type == SOCK_SEQPACKET)
            break;
    }
    return (int)got;
}

static void fd_teardown(void)
{
    if (sock_type) {
        close(fds[0][0]);
        close(fds[0][1]);
    } else {
        for (int i = 0; i < 2; i++) {
            close(fds[i][0]);
            close(fds[i][1]);
        }
    }
}

static int pipe_setup_x(void)
{
    sock_type = 0;
    return pipe_setup();
}

static int stream_setup(void)
{
    sock_type = SOCK_STREAM;
    return sock_setup();
}

static int seqpacket_setup(void)
{
    sock_type = SOCK_SEQPACKET;
    return sock_setup();
}

/* -- POSIX message queues */

static mqd_t mq[2];

static int mq_setup(void)
{
    struct mq_attr a = {.mq_maxmsg = 10, .mq_msgsize = SMALL};
    for (int i = 0; i < 2; i++) {
        snprintf(mq_names[i], sizeof mq_names[i], "/shmkit-bench-%d-%d", (int)getpid(), i);
        mq[i] = mq_open(mq_names[i], O_CREAT | O_EXCL | O_RDWR, 0600, &a);
        if (mq[i] == (mqd_t)-1)
            return -errno;
    }
    /* the descriptors survive fork; the names are not needed any more */
    cleanup();
    return 0;
}

static void mq_open_side(int side)
{
}

static int mq_send_x(int side, const void *buf, size_t len)
{
    return mq_send(mq[side], buf, len, 0) < 0 ? -errno : 0;
}

static int mq_recv_x(int side, void *buf, size_t cap)
{
    char tmp[SMALL];
    ssize_t n = mq_receive(mq[!side], cap >= SMALL ? buf : tmp, SMALL, NULL);
    return n < 0 ? -errno : (int)n;
}

static void mq_teardown(void)
{
    mq_close(mq[0]);
    mq_close(mq[1]);
}

/* -- System V message queue (one queue, message type = direction + 1) */

struct sysv_msg {
    long type;
    char data[SMALL];
};

static int sysv_setup(void)
{
    sysv_id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    return sysv_id < 0 ? -errno : 0;
}

static void sysv_open(int side)
{
}

static int sysv_send(int side, const void *buf, size_t len)
{
    struct sysv_msg m = {.type = side + 1};
    memcpy(m.data, buf, len);
    return msgsnd(sysv_id, &m, len, 0) < 0 ? -errno : 0;
}

static int sysv_recv(int side, void *buf, size_t cap)
{
    struct sysv_msg m;
    ssize_t n = msgrcv(sysv_id, &m, SMALL, (!side) + 1, 0);
    if (n < 0)
        return -errno;
    memcpy(buf, m.data, (size_t)n < cap ? (size_t)n : cap);
    return (int)n;
}

static void sysv_teardown(void)
{
    cleanup();
}

/* -- ZeroMQ ipc://, loaded at run time when libzmq is installed */

#define ZMQ_PAIR_ 0
#define ZMQ_SNDHWM_ 23
#define ZMQ_RCVHWM_ 24
static struct {
    void *(*ctx_new)(void);
    int (*ctx_term)(void *);
    void *(*socket)(void *, int);
    int (*close)(void *);
    int (*bind)(void *, const char *);
    int (*connect)(void *, const char *);
    int (*send)(void *, const void *, size_t, int);
    int (*recv)(void *, void *, size_t, int);
    int (*setsockopt)(void *, int, const void *, size_t);
} zmq;
static void *zmq_lib, *zmq_ctx, *zmq_sock;

static int zmq_load(void)
{
    if (zmq_lib)
        return 0;
    zmq_lib = dlopen("libzmq.so.5", RTLD_NOW);
    if (!zmq_lib)
        zmq_lib = dlopen("libzmq.so", RTLD_NOW);
    if (!zmq_lib)
        return -ENOENT;
#define Z(f) *(void **)&zmq.f = dlsym(zmq_lib, "zmq_" #f)
    Z(ctx_new);
    Z(ctx_term);
    Z(socket);
    Z(close);
    Z(bind);
    Z(connect);
    Z(send);
    Z(recv);
    Z(setsockopt);
#undef Z
    return zmq.ctx_new && zmq.send && zmq.recv ? 0 : -ENOENT;
}

static int zmq_setup(void)
{
    if (zmq_load() < 0)
        return -ENOENT;
    snprintf(zmq_path, sizeof zmq_path, "/tmp/shmkit-bench-%d.zmq", (int)getpid());
    return 0;
}

static void zmq_open_side(int side)
{
    /* each process makes its own context after fork (ZeroMQ contexts do
     * not survive fork) */
    char ep[128];
    snprintf(ep, sizeof ep, "ipc://%s", zmq_path);
    zmq_ctx = zmq.ctx_new();
    zmq_sock = zmq.socket(zmq_ctx, ZMQ_PAIR_);
    int hwm = 100000;
    zmq.setsockopt(zmq_sock, ZMQ_SNDHWM_, &hwm, sizeof hwm);
    zmq.setsockopt(zmq_sock, ZMQ_RCVHWM_, &hwm, sizeof hwm);
    if ((side == 0 ? zmq.bind(zmq_sock, ep) : zmq.connect(zmq_sock, ep)) < 0)
        die("zmq bind/connect", errno);
}

static int zmq_send_x(int side, const void *buf, size_t len)
{
    return zmq.send(zmq_sock, buf, len, 0) < 0 ? -errno : 0;
}

static int zmq_recv_x(int side, void *buf, size_t cap)
{
    int n = zmq.recv(zmq_sock, buf, cap, 0);
    return n < 0 ? -errno : n;
}

static void zmq_close_side(void)
{
    if (zmq_sock) {
        int linger = 0;
        zmq.setsockopt(zmq_sock, 17 /* ZMQ_LINGER */, &linger, sizeof linger);
        zmq.close(zmq_sock);
        zmq.ctx_term(zmq_ctx);
        zmq_sock = zmq_ctx = NULL;
    }
}

static void zmq_teardown(void)
{
    zmq_close_side();
    cleanup();
}

/* ------------------------------------------------------------ the floor
 *
 * The cache-line round trip moves under the bench on a VM (the host places
 * the two vCPUs: 110-200 ns one minute, 420-460 ns the next), so a ratio to
 * a floor measured earlier means nothing. Every cross-core measurement is
 * therefore bracketed by short floor probes, immediately before and after
 * it (a probe after one measurement is the one before the next), and its
 * ratios are to those adjacent floors: the median over its slices and both
 * neighbours, with the range. When the two floors around a slice differ by
 * more than 20 %, the transport is flagged FLOOR MOVED. */

struct lat3 {
    double p50, p99, p999;
};

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Sorts V and returns its median. */
static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n ? (n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2) : 0;
}

/* One cache line, each side waits for the other's value: ITERS timed round
 * trips into LAT, sorted. YIELD: sched_yield while waiting (same core). */
static void floor_run(int iters, int yield, uint64_t *lat)
{
    _Atomic uint64_t *line = shared_map(4096);
    int warm = iters / 10 + 10;
    pid_t pid = spawn();
    if (pid == 0) {
        for (uint64_t i = 0; i < (uint64_t)(iters + warm); i++) {
            while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 1)
                yield ? (void)sched_yield() : relax();
            atomic_store_explicit(line, 2 * i + 2, memory_order_release);
        }
        _exit(0);
    }
    for (uint64_t i = 0; i < (uint64_t)(iters + warm); i++) {
        uint64_t t0 = now_ns();
        atomic_store_explicit(line, 2 * i + 1, memory_order_release);
        while (atomic_load_explicit(line, memory_order_acquire) != 2 * i + 2)
            yield ? (void)sched_yield() : relax();
        if (i >= (uint64_t)warm)
            lat[i - (uint64_t)warm] = now_ns() - t0;
    }
    reap(pid, NULL);
    munmap((void *)line, 4096);
    qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
}

static struct lat3 lat3_of(const uint64_t *sorted, size_t n)
{
    struct lat3 v = {(double)sorted[n / 2], (double)sorted[n * 99 / 100],
                     (double)sorted[n * 999 / 1000]};
    return v;
}

static int probe_iters = 20000;      /* 4-10 ms a probe */
static struct lat3 fl_last;
static int fl_fresh;                 /* fl_last was measured after the last measurement */
static double fl_min = 1e18, fl_max; /* every probe's p50 over the run */
static int fl_probes;

/* The floor now: the last probe if nothing ran since, else a new probe. */
static struct lat3 floor_now(void)
{
    if (fl_fresh || strcmp(placement, "cross-core"))
        return fl_last;
    uint64_t *lat = malloc(sizeof *lat * (size_t)probe_iters);
    if (!lat)
        die("malloc", ENOMEM);
    floor_run(probe_iters, 0, lat);
    fl_last = lat3_of(lat, (size_t)probe_iters);
    free(lat);
    fl_fresh = 1;
    fl_probes++;
    if (fl_last.p50 < fl_min)
        fl_min = fl_last.p50;
    if (fl_last.p50 > fl_max)
        fl_max = fl_last.p50;
    return fl_last;
}

/* Marks a measurement: the next floor_now probes again. */
static void measured(void)
{
    fl_fresh = 0;
}

/* A transport's ratios to its adjacent floors. */
struct adj {
    double r50[16], r99[16]; /* p50 / floor p50, p99 / floor p99: two per slice */
    int n;
    double fmin, fmax; /* the adjacent floors' p50 range */
    int moved;
};

static void adj_add(struct adj *a, struct lat3 before, struct lat3 after, struct lat3 v)
{
    struct lat3 f[2] = {before, after};
    for (int i = 0; i < 2 && a->n < 16; i++) {
        a->r50[a->n] = v.p50 / f[i].p50;
        a->r99[a->n] = v.p99 / f[i].p99;
        a->n++;
        if (!a->fmin || f[i].p50 < a->fmin)
            a->fmin = f[i].p50;
        if (f[i].p50 > a->fmax)
            a->fmax = f[i].p50;
    }
    double lo = before.p50 < after.p50 ? before.p50 : after.p50;
    double hi = before.p50 < after.p50 ? after.p50 : before.p50;
    if (hi > 1.2 * lo)
        a->moved = 1;
}

/* For throughput runs: only whether the floor moved around them. */
static void adj_floor_only(struct adj *a, struct lat3 before, struct lat3 after)
{
    struct lat3 one = {1, 1, 1};
    adj_add(a, before, after, one);
}

/* Records and prints a round trip's floor ratios (cross-core only). */
static void adj_report(const char *label, struct adj *a)
{
    if (!a->n)
        return;
    double m50 = median(a->r50, a->n), m99 = median(a->r99, a->n);
    record(label, "floor_ratio_p50", m50, "x");
    record(label, "floor_ratio_p50_lo", a->r50[0], "x");
    record(label, "floor_ratio_p50_hi", a->r50[a->n - 1], "x");
    record(label, "floor_ratio_p99", m99, "x");
    record(label, "floor_ratio_p99_lo", a->r99[0], "x");
    record(label, "floor_ratio_p99_hi", a->r99[a->n - 1], "x");
    record(label, "floor_adj_lo", a->fmin, "ns");
    record(label, "floor_adj_hi", a->fmax, "ns");
    record(label, "floor_moved", a->moved, "flag");
    printf("  %-26s %-10s /floor p50 %.2fx (%.2f..%.2f), p99 %.2fx (%.2f..%.2f); adjacent floors "
           "%.0f..%.0f ns%s\n",
           "", "", m50, a->r50[0], a->r50[a->n - 1], m99, a->r99[0], a->r99[a->n - 1], a->fmin,
           a->fmax, a->moved ? "  FLOOR MOVED" : "");
}

/* ------------------------------------------------------------ runs */

/* Ping-pong of SMALL bytes: ITERS round trips timed one by one into LAT.
 * 0, or -1 (setup failed), -2 (a side failed). */
static size_t pp_len = SMALL; /* the ping-pong's message length (at most SMALL) */

static int pingpong_once(const struct xport *x, int iters, uint64_t *lat)
{
    if (x->setup() < 0)
        return -1;
    unsigned char buf[SMALL] = {1};
    int warm = iters / 10 + 10;
    fd_expect = SMALL;
    pid_t pid = spawn();
    if (pid == 0) {
        x->open(1);
        for (int i = 0; i < iters + warm; i++) {
            if (x->recv(1, buf, sizeof buf) < 0 || x->send(1, buf, pp_len) < 0)
                _exit(1);
        }
        if (x->open == zmq_open_side)
            zmq_close_side();
        _exit(0);
    }
    x->open(0);
    int fail = 0;
    for (int i = 0; i < iters + warm && !fail; i++) {
        uint64_t t0 = now_ns();
        if (x->send(0, buf, pp_len) < 0 || x->recv(0, buf, sizeof buf) < 0)
            fail = 1;
        if (i >= warm)
            lat[i - warm] = now_ns() - t0;
    }
    if (fail)
        kill(pid, SIGKILL);
    int rc = reap(pid, NULL) < 0 || fail ? -2 : 0;
    x->teardown();
    return rc;
}

/* Cross-core: ITERS round trips in slices, each between two floor probes
 * (F T F T F ...); the percentiles are over all of them, the floor ratios
 * per slice against both neighbours. */
static void pingpong(const struct xport *x, const char *label, int iters)
{
    int cross = !strcmp(placement, "cross-core");
    int slices = cross ? (quick ? 2 : 4) : 1, per = iters / slices;
    uint64_t *lat = malloc(sizeof *lat * (size_t)iters), *tmp = malloc(sizeof *tmp * (size_t)per);
    if (!lat || !tmp)
        die("malloc", ENOMEM);
    struct adj a = {0};
    for (int k = 0; k < slices; k++) {
        struct lat3 before = floor_now();
        int rc = pingpong_once(x, per, lat + (size_t)k * per);
        measured();
        if (rc < 0) {
            printf("  %-26s %s\n", label, rc == -1 ? "skipped (setup failed)" : "failed");
            free(lat);
            free(tmp);
            return;
        }
        if (cross) {
            memcpy(tmp, lat + (size_t)k * per, sizeof *tmp * (size_t)per);
            qsort(tmp, (size_t)per, sizeof *tmp, cmp_u64);
            adj_add(&a, before, floor_now(), lat3_of(tmp, (size_t)per));
        }
    }
    record_rtt(label, lat, (size_t)per * slices);
    adj_report(label, &a);
    free(lat);
    free(tmp);
}

/* One way: A sends N messages of LEN bytes, B receives them and answers
 * with one message; the time until that answer gives the rate. */
static double oneway_once(const struct xport *x, const char *label, size_t len, int n)
{
    if (x->setup() < 0) {
        printf("  %-26s skipped (setup failed)\n", label);
        return 0;
    }
    unsigned char *buf = malloc(len);
    if (!buf)
        die("malloc", ENOMEM);
    memset(buf, 0x5a, len);
    fd_expect = len;
    pid_t pid = spawn();
    if (pid == 0) {
        x->open(1);
        for (int i = 0; i < n; i++)
            if (x->recv(1, buf, len) < 0)
                _exit(1);
        fd_expect = SMALL;
        if (x->send(1, buf, SMALL) < 0)
            _exit(1);
        if (x->open == zmq_open_side)
            zmq_close_side();
        _exit(0);
    }
    x->open(0);
    uint64_t t0 = now_ns();
    int fail = 0;
    for (int i = 0; i < n && !fail; i++)
        fail = x->send(0, buf, len) < 0;
    fd_expect = SMALL;
    if (!fail)
        fail = x->recv(0, buf, len) < 0;
    double secs = (now_ns() - t0) / 1e9;
    if (fail)
        kill(pid, SIGKILL);
    double rate = 0;
    if (reap(pid, NULL) < 0 || fail)
        printf("  %-26s failed\n", label);
    else
        rate = len == SMALL ? n / secs : (double)len * n / secs / 1e9;
    free(buf);
    x->teardown();
    return rate;
}

/* 64 B one way through the batch calls: A sends N messages with
 * shmkit_ring_send_many, RING_BATCH at a time; B takes them with
 * shmkit_ring_recv_many (up to RING_BATCH a call) and answers once. */
#define RING_BATCH 32
static double batch_oneway_once(const struct xport *x, const char *label, size_t len, int n)
{
    (void)x;
    if (ring_setup() < 0) {
        printf("  %-26s skipped (setup failed)\n", label);
        return 0;
    }
    static unsigned char bufs[RING_BATCH][SMALL];
    struct iovec v[RING_BATCH];
    size_t lens[RING_BATCH];
    for (int i = 0; i < RING_BATCH; i++)
        v[i] = (struct iovec){bufs[i], len};
    pid_t pid = spawn();
    if (pid == 0) {
        ring_open(1);
        for (int got = 0; got < n;) {
            int k = shmkit_ring_recv_many(ring_rx, v, lens, RING_BATCH, -1);
            if (k <= 0)
                _exit(1);
            got += k;
        }
        if (shmkit_ring_send(ring_tx, bufs[0], SMALL, -1) < 0)
            _exit(1);
        _exit(0);
    }
    ring_open(0);
    uint64_t t0 = now_ns();
    int fail = 0;
    for (int sent = 0; sent < n && !fail;) {
        int want = n - sent < RING_BATCH ? n - sent : RING_BATCH;
        int k = shmkit_ring_send_many(ring_tx, v, (size_t)want, -1);
        fail = k <= 0;
        sent += k;
    }
    if (!fail)
        fail = shmkit_ring_recv(ring_rx, bufs[0], SMALL, -1) < 0;
    double secs = (now_ns() - t0) / 1e9;
    if (fail)
        kill(pid, SIGKILL);
    double rate = 0;
    if (reap(pid, NULL) < 0 || fail)
        printf("  %-26s failed\n", label);
    else
        rate = n / secs;
    ring_teardown();
    return rate;
}

/* Runs are noisy on a shared machine: the median of REPS runs is kept. */
static int reps = 3;

/* REPS runs, each between two floor probes: the median rate, and for 64 B
 * messages also the messages moved per adjacent floor round trip (the rate
 * in the hardware's own unit, so that runs on a slow and on a fast floor
 * compare). */
static void oneway_with(double (*once)(const struct xport *, const char *, size_t, int),
                        const struct xport *x, const char *label, size_t len, int n,
                        const char *metric)
{
    double v[8], per[8];
    int k = 0;
    struct adj a = {0};
    for (int i = 0; i < reps; i++) {
        struct lat3 before = floor_now();
        double r = once(x, label, len, n);
        measured();
        struct lat3 after = floor_now();
        if (r > 0) {
            adj_floor_only(&a, before, after);
            per[k] = r * (before.p50 + after.p50) / 2 / 1e9;
            v[k++] = r;
        }
    }
    if (!k)
        return;
    double med = median(v, k), mper = median(per, k);
    record(label, "floor_moved", a.moved, "flag");
    if (len == SMALL) {
        record(label, metric, med, "msg/s");
        record(label, "msgs_per_floor_rtt", mper, "x");
        printf("  %-26s %-10s %6.2f M msg/s (%zu B; median of %d runs, %.2f..%.2f); %.1f per floor "
               "RTT (%.1f..%.1f)%s\n",
               label, placement, med / 1e6, len, k, v[0] / 1e6, v[k - 1] / 1e6, mper, per[0],
               per[k - 1], a.moved ? "  FLOOR MOVED" : "");
    } else {
        record(label, metric, med, "GB/s");
        printf("  %-26s %-10s %6.2f GB/s (%zu KiB messages; median of %d, %.2f..%.2f)%s\n", label,
               placement, med, len >> 10, k, v[0], v[k - 1], a.moved ? "  FLOOR MOVED" : "");
    }
}

static void oneway(const struct xport *x, const char *label, size_t len, int n, const char *metric)
{
    oneway_with(oneway_once, x, label, len, n, metric);
}

/* The floor's own row: a long run (cross-core, it is also a probe). */
static void floor_pingpong(int iters, int yield)
{
    uint64_t *lat = malloc(sizeof *lat * (size_t)iters);
    if (!lat)
        die("malloc", ENOMEM);
    floor_run(iters, yield, lat);
    record_rtt("floor (cache line)", lat, (size_t)iters);
    if (!yield) {
        fl_last = lat3_of(lat, (size_t)iters);
        fl_fresh = 1;
    }
    free(lat);
}

/* 1 MiB memcpy between two private cache-hot buffers, N times: GB/s. */
static double memcpy_once(int n)
{
    unsigned char *a = malloc(BIG), *b = malloc(BIG);
    if (!a || !b)
        die("malloc", ENOMEM);
    memset(a, 1, BIG);
    memset(b, 2, BIG);
    for (int i = 0; i < 10; i++)
        memcpy(b, a, BIG);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        memcpy(i & 1 ? a : b, i & 1 ? b : a, BIG);
        __asm__ __volatile__("" ::"r"(a), "r"(b) : "memory");
    }
    double secs = (now_ns() - t0) / 1e9;
    free(a);
    free(b);
    return (double)BIG * n / secs / 1e9;
}

/* 1 MiB zero-copy: the producer writes the message in place, the consumer
 * reads it in place (one load per cache line) - no copy on either side. */
static double ring_zerocopy_once(int n)
{
    ring_spin = -1;
    if (ring_setup() < 0)
        die("ring setup", 0);
    pid_t pid = spawn();
    if (pid == 0) {
        ring_open(1);
        volatile uint64_t sink = 0;
        for (int i = 0; i < n; i++) {
            const void *p;
            size_t len;
            if (shmkit_ring_peek(ring_rx, &p, &len, -1) < 0)
                _exit(1);
            const uint64_t *w = p;
            uint64_t s = 0;
            for (size_t k = 0; k < len / 8; k += 8)
                s += w[k];
            sink += s;
            shmkit_ring_release(ring_rx);
        }
        unsigned char ack[SMALL] = {0};
        if (shmkit_ring_send(ring_tx, ack, SMALL, -1) < 0)
            _exit(1);
        _exit(0);
    }
    ring_open(0);
    unsigned char ack[SMALL];
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        void *p;
        if (shmkit_ring_reserve(ring_tx, BIG, &p, -1) < 0)
            die("reserve", 0);
        memset(p, i, BIG);
        shmkit_ring_commit(ring_tx, BIG);
    }
    shmkit_ring_recv(ring_rx, ack, sizeof ack, -1);
    double secs = (now_ns() - t0) / 1e9;
    reap(pid, NULL);
    ring_teardown();
    return (double)BIG * n / secs / 1e9;
}

/* The 1 MiB comparisons the targets name, alternated in one loop so that
 * every ratio is between runs made in the same minute: per round, memcpy,
 * the ring copying (send/recv) through a 4 MiB ring (3 messages) and a
 * 16 MiB ring, zero-copy through the 4 MiB ring, and the unix stream
 * socket; the ratios are taken per round, then their median and range. */
static void big_compare(const struct xport *ring, const struct xport *unix_stream, int nbig)
{
    enum { MC, R4, R16, ZC, US, NV };
    static const char *const lab[NV] = {"memcpy", "shmkit ring busy-poll", "shmkit ring 16 MiB",
                                        "shmkit ring zero-copy", "unix stream"};
    static const char *const what[NV] = {", one process", ", 4 MiB ring", ", 16 MiB ring",
                                         ", 4 MiB ring, written and read in place", ""};
    double v[NV][8], rus[8], rmc[8], r16[8], rzc[8];
    int rounds = reps + 2, k = 0;
    struct adj a = {0};
    ring_spin = -1;
    for (int i = 0; i < rounds; i++) {
        struct lat3 before = floor_now();
        v[MC][k] = memcpy_once(nbig * 4);
        ring_cap = 4u << 20;
        v[R4][k] = oneway_once(ring, lab[R4], BIG, nbig);
        ring_cap = 16u << 20;
        v[R16][k] = oneway_once(ring, lab[R16], BIG, nbig);
        ring_cap = 4u << 20;
        v[ZC][k] = ring_zerocopy_once(nbig);
        v[US][k] = oneway_once(unix_stream, lab[US], BIG, nbig / 4);
        measured();
        adj_floor_only(&a, before, floor_now());
        int ok = 1;
        for (int t = 0; t < NV; t++)
            ok &= v[t][k] > 0;
        if (!ok)
            continue;
        rus[k] = v[R4][k] / v[US][k];
        rmc[k] = v[R4][k] / v[MC][k];
        r16[k] = v[R16][k] / v[MC][k];
        rzc[k] = v[ZC][k] / v[MC][k];
        k++;
    }
    ring_cap = 256u << 10;
    if (!k)
        return;
    for (int t = 0; t < NV; t++) {
        double m = median(v[t], k);
        record(lab[t], t == MC ? "big_copy" : "big_oneway", m, "GB/s");
        printf("  %-26s %-10s %6.2f GB/s (1 MiB messages%s; median of %d rounds, %.2f..%.2f)\n",
               lab[t], placement, m, what[t], k, v[t][0], v[t][k - 1]);
    }
    struct {
        const char *name, *desc;
        double *r;
    } q[] = {{"big_ring_over_unix", "ring (4 MiB) / unix stream", rus},
             {"big_ring_over_memcpy", "ring (4 MiB) / memcpy", rmc},
             {"big_ring16_over_memcpy", "ring (16 MiB) / memcpy", r16},
             {"big_zc_over_memcpy", "zero-copy / memcpy", rzc}};
    for (size_t t = 0; t < sizeof q / sizeof *q; t++) {
        double m = median(q[t].r, k);
        char name[40];
        record("ratio", q[t].name, m, "x");
        snprintf(name, sizeof name, "%s_lo", q[t].name);
        record("ratio", name, q[t].r[0], "x");
        snprintf(name, sizeof name, "%s_hi", q[t].name);
        record("ratio", name, q[t].r[k - 1], "x");
        printf("  %-37s %6.2fx (per round: %.2f..%.2f)\n", q[t].desc, m, q[t].r[0], q[t].r[k - 1]);
    }
    record("ratio", "big_floor_moved", a.moved, "flag");
    if (a.moved)
        printf("  FLOOR MOVED around these rounds (%.0f..%.0f ns)\n", a.fmin, a.fmax);
}

/* Bus: the publisher's cost per 64-byte message with K subscriber
 * processes receiving (blocking) on the other core. Lossy mode: the
 * publisher never waits, so its time is its own. */
static double bus_cost_once(int k, int n, int reading)
{
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_bus_size_for(1024, SMALL, 64),
                            .flags = SHMKIT_CREATE};
    shmkit_bus *b = NULL;
    if (shmkit_open(&seg, &o) < 0 || shmkit_bus_create(&b, seg, 1024, SMALL, 64, SHMKIT_BUS_LOSSY) < 0)
        die("bus", 0);
    pid_t pids[16];
    for (int i = 0; i < k; i++) {
        pids[i] = spawn();
        if (pids[i] == 0) {
            shmkit_sub *s = NULL;
            if (shmkit_bus_subscribe(&s, seg) < 0)
                _exit(1);
            unsigned char buf[SMALL];
            if (!reading) {
                /* joined, not reading: the publish path alone */
                pause();
                _exit(0);
            }
            while (shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, -1) >= 0)
                ;
            _exit(0);
        }
    }
    struct shmkit_chan_stats st;
    do {
        usleep(1000);
        shmkit_chan_stats(seg, &st);
    } while ((int)st.readers < k);
    unsigned char buf[SMALL] = {7};
    for (int i = 0; i < n / 10; i++)
        shmkit_bus_send(b, buf, SMALL, -1);
    uint64_t t0 = now_ns();
    for (int i = 0; i < n; i++) {
        void *p;
        shmkit_bus_loan(b, SMALL, &p, -1);
        memcpy(p, buf, SMALL);
        shmkit_bus_publish(b, SMALL, NULL);
    }
    double ns = (double)(now_ns() - t0) / n;
    shmkit_bus_close(b);
    for (int i = 0; i < k; i++) {
        if (!reading)
            kill(pids[i], SIGKILL);
        reap(pids[i], NULL);
    }
    shmkit_close(seg);
    return ns;
}

static void bus_cost(int k, int n, int reading)
{
    double v[5];
    for (int i = 0; i < reps; i++)
        v[i] = bus_cost_once(k, n, reading);
    qsort(v, (size_t)reps, sizeof *v, cmp_dbl);
    char label[40];
    snprintf(label, sizeof label, "shmkit bus %d sub%s%s", k, k > 1 ? "s" : "",
             reading ? "" : " idle");
    record(label, "publish_cost", v[reps / 2], "ns");
    printf("  %-26s %-10s %6.1f ns per publish (median of %d, %.1f..%.1f)\n", label, placement,
           v[reps / 2], reps, v[0], v[reps - 1]);
}

/* CPU burnt by a consumer blocked (default spin, then futex) for SECS. */
static void idle_cpu(double secs)
{
    ring_spin = 50000;
    if (ring_setup() < 0)
        die("ring setup", 0);
    pid_t pid = spawn();
    if (pid == 0) {
        ring_open(1);
        unsigned char buf[SMALL];
        _exit(shmkit_ring_recv(ring_rx, buf, sizeof buf, -1) >= 0 ? 0 : 1);
    }
    ring_open(0);
    usleep((useconds_t)(secs * 1e6));
    unsigned char buf[SMALL] = {0};
    shmkit_ring_send(ring_tx, buf, SMALL, -1);
    struct rusage ru;
    reap(pid, &ru);
    double cpu = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
                 (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    record("shmkit ring blocking", "idle_cpu", 100.0 * cpu / secs, "%");
    printf("  %-26s %-10s %6.3f %% CPU while idle for %.1f s\n", "shmkit ring blocking",
           placement, 100.0 * cpu / secs, secs);
    ring_teardown();
}

/* Boost.Interprocess runs in its own C++ program; it prints CSV lines
 * "transport,placement,metric,value,unit" that join the table. */
static void run_boost(const char *prog)
{
    if (!prog || access(prog, X_OK) < 0) {
        printf("  %-26s skipped (bench/boost_mq.cpp not built: no g++/libboost-dev)\n",
               "boost message_queue");
        return;
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "%s %s %d %d", prog, quick ? "--quick" : "", cpu_a, cpu_b);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof line, f)) {
        char t[40], p[16], m[24], u[8];
        double v;
        if (sscanf(line, "%39[^,],%15[^,],%23[^,],%lf,%7s", t, p, m, &v, u) != 5) {
            fputs(line, stdout);
            continue;
        }
        const char *save = placement;
        placement = strcmp(p, "same-core") ? "cross-core" : "same-core";
        record(t, m, v, !strcmp(u, "ns") ? "ns" : !strcmp(u, "GB/s") ? "GB/s" : "msg/s");
        placement = save;
        printf("  %-26s %-10s %s %.2f %s\n", t, p, m, v, u);
    }
    pclose(f);
}

/* ------------------------------------------------------------ report */

static const char *const names[] = {
    "floor (cache line)",     "shmkit ring busy-poll", "shmkit ring blocking",
    "shmkit ring spin 0",     "shmkit ring batched",   "shmkit ring 16 MiB",
    "shmkit ring zero-copy",  "naive spin ring",       "pipe",
    "unix stream",            "unix seqpacket",        "posix mq",
    "sysv msg",               "boost message_queue",   "zeromq ipc",
    "2 lines: 64 B + flag",   "shmkit ring 56 B (1 line)", "shmkit ring 8 B",
};

static void fmt(char *out, size_t n, double v, const char *unit)
{
    if (v <= 0)
        snprintf(out, n, "-");
    else if (!strcmp(unit, "msg/s"))
        snprintf(out, n, "%.2fM", v / 1e6);
    else if (!strcmp(unit, "GB/s"))
        snprintf(out, n, "%.2f", v);
    else
        snprintf(out, n, "%.0f", v);
}

static void table(void)
{
    double ring50 = find("shmkit ring busy-poll", "cross-core", "rtt_p50");
    double ringtp = find("shmkit ring busy-poll", "cross-core", "small_oneway");
    printf("\n64-byte round trip (ns), cross-core; one-way 64 B rate; 1 MiB one-way (GB/s)\n");
    printf("%-24s %6s %6s %6s %6s %11s %6s %5s %7s %8s %7s %6s %9s\n", "transport", "p50", "p99",
           "p99.9", "/floor", "(range)", "p99/fl", "moved", "ring-x", "msg/s", "ring-x", "GB/s",
           "same-core");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *t = names[i];
        double p50 = find(t, "cross-core", "rtt_p50"), p99 = find(t, "cross-core", "rtt_p99"),
               p999 = find(t, "cross-core", "rtt_p999"), tp = find(t, "cross-core", "small_oneway"),
               big = find(t, "cross-core", "big_oneway"), same = find(t, "same-core", "rtt_p50"),
               f50 = find(t, "cross-core", "floor_ratio_p50"),
               flo = find(t, "cross-core", "floor_ratio_p50_lo"),
               fhi = find(t, "cross-core", "floor_ratio_p50_hi"),
               f99 = find(t, "cross-core", "floor_ratio_p99"),
               moved = find(t, "cross-core", "floor_moved");
        if (!p50 && !tp && !big)
            continue;
        char a[16], b[16], c[16], d[16], e[24], f[16], g[16], h[16], k[16], l[16], m[16];
        fmt(a, sizeof a, p50, "ns");
        fmt(b, sizeof b, p99, "ns");
        fmt(c, sizeof c, p999, "ns");
        snprintf(d, sizeof d, f50 ? "%.2fx" : "-", f50);
        snprintf(e, sizeof e, f50 ? "%.2f-%.2f" : "-", flo, fhi);
        snprintf(l, sizeof l, f99 ? "%.2fx" : "-", f99);
        snprintf(m, sizeof m, "%s", moved ? "MOVED" : "-");
        /* how many times slower than shmkit's busy-poll ring */
        char r1[16];
        snprintf(r1, sizeof r1, p50 && ring50 ? "%.2fx" : "-", p50 / ring50);
        fmt(f, sizeof f, tp, "msg/s");
        snprintf(g, sizeof g, tp && ringtp ? "%.2fx" : "-", ringtp / tp);
        fmt(h, sizeof h, big, "GB/s");
        fmt(k, sizeof k, same, "ns");
        printf("%-24s %6s %6s %6s %6s %11s %6s %5s %7s %8s %7s %6s %9s\n", t, a, b, c, d, e, l, m,
               r1, f, g, h, k);
    }
    printf("(/floor: p50 over the p50 of the cache-line floor probed right before and after each\n"
           " slice of the run - median over slices and both neighbours, range beside it; p99/fl the\n"
           " same for p99; moved: a floor next to it differed from the other by more than 20 %%;\n"
           " ring-x: that transport's figure relative to shmkit's busy-poll ring - latency ratio,\n"
           " or how many times more messages/s the ring moves)\n");
    printf("floor probes: %d, their p50 ranged %.0f..%.0f ns over the run\n", fl_probes, fl_min,
           fl_max);

    double rus = find("ratio", "cross-core", "big_ring_over_unix"),
           rmc = find("ratio", "cross-core", "big_ring_over_memcpy"),
           r16 = find("ratio", "cross-core", "big_ring16_over_memcpy"),
           rzc = find("ratio", "cross-core", "big_zc_over_memcpy");
    printf("\n1 MiB (rounds alternating the five): ring copying %.2f GB/s (4 MiB ring), %.2f GB/s "
           "(16 MiB ring), zero-copy %.2f GB/s, unix stream %.2f GB/s, memcpy %.2f GB/s\n",
           find("shmkit ring busy-poll", "cross-core", "big_oneway"),
           find("shmkit ring 16 MiB", "cross-core", "big_oneway"),
           find("shmkit ring zero-copy", "cross-core", "big_oneway"),
           find("unix stream", "cross-core", "big_oneway"), find("memcpy", "cross-core", "big_copy"));
    double bt = find("shmkit ring batched", "cross-core", "small_oneway");
    printf("64 B one-way: batched calls (%d a call) %.2fM msg/s, plain send/recv %.2fM msg/s\n",
           RING_BATCH, bt / 1e6, ringtp / 1e6);
    double b1 = find("shmkit bus 1 sub", "cross-core", "publish_cost");
    double b4 = find("shmkit bus 4 subs", "cross-core", "publish_cost");
    double b16 = find("shmkit bus 16 subs", "cross-core", "publish_cost");
    double i1 = find("shmkit bus 1 sub idle", "cross-core", "publish_cost");
    double i16 = find("shmkit bus 16 subs idle", "cross-core", "publish_cost");
    if (b1)
        printf("bus publish cost, subscribers reading: 1 sub %.1f ns, 4 subs %.1f ns, 16 subs %.1f "
               "ns\nbus publish cost, subscribers joined but idle: 1 sub %.1f ns, 16 subs %.1f ns\n",
               b1, b4, b16, i1, i16);

    double blk50 = find("shmkit ring blocking", "cross-core", "rtt_p50");
    double naive_tp = find("naive spin ring", "cross-core", "small_oneway");
    double idle = find("shmkit ring blocking", "cross-core", "idle_cpu");
    int rmoved = find("shmkit ring busy-poll", "cross-core", "floor_moved") > 0;
    int bmoved = find("ratio", "cross-core", "big_floor_moved") > 0;
    printf("\nTargets (issues 4 and 17; every floor ratio against the adjacent floors):\n");
#define TARGET(desc, val, op, lim, moved)                                                          \
    printf("  %-52s %7.2f %s %-5.2f %s%s\n", desc, val, #op, lim,                                  \
           (val) > 0 && (val)op(lim) ? "MET" : "MISSED", (moved) ? " (FLOOR MOVED)" : "")
    TARGET("busy-poll 64 B RTT p50 / adjacent floor p50",
           find("shmkit ring busy-poll", "cross-core", "floor_ratio_p50"), <=, 1.3, rmoved);
    TARGET("busy-poll 64 B RTT p99 / adjacent floor p99",
           find("shmkit ring busy-poll", "cross-core", "floor_ratio_p99"), <=, 1.5, rmoved);
    double l2f = find("2 lines: 64 B + flag", "cross-core", "floor_ratio_p50");
    double r56f = find("shmkit ring 56 B (1 line)", "cross-core", "floor_ratio_p50");
    double r8f = find("shmkit ring 8 B", "cross-core", "floor_ratio_p50");
    if (l2f && r56f && r8f)
        printf("  (where the p50 distance comes from, each to its own adjacent floors: the ring's\n"
               "   8 B message %.2fx, its 56 B message with its header in one line %.2fx; a bare\n"
               "   64 B message and its flag in two lines %.2fx; the 64 B ring over the two bare\n"
               "   lines %.2fx)\n",
               r8f, r56f, l2f, find("shmkit ring busy-poll", "cross-core", "floor_ratio_p50") / l2f);
    TARGET("1 MiB copying (4 MiB ring) / unix stream", rus, >=, 2.0, bmoved);
    TARGET("1 MiB copying (4 MiB ring) / memcpy", rmc, >=, 0.5, bmoved);
    TARGET("1 MiB copying (16 MiB ring) / memcpy", r16, >=, 0.5, bmoved);
    TARGET("1 MiB zero-copy / memcpy", rzc, >=, 0.8, bmoved);
    if (!ring_only) {
        TARGET("blocking RTT p50 / busy-poll (messages flowing)", blk50 / ring50, <=, 1.2, 0);
        TARGET("blocked idle consumer CPU (%)", idle, <, 1.0, 0);
    }
    TARGET("64 B throughput / naive spin ring", ringtp / naive_tp, >=, 1.5, 0);
    if (b1) {
        TARGET("bus publish cost 16 subs / 1 sub (subs reading)", b16 / b1, <=, 1.2, 0);
        TARGET("bus publish cost 16 subs / 1 sub (subs idle)", i16 / i1, <=, 1.2, 0);
    }
    printf("  (64 B throughput >= 1.5x the previous build's ring: not measurable in one run -\n"
           "   alternate `bench_ipc --ring-only` of the two builds, see bench/README.md)\n");
}

static void write_csv(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench_ipc: %s: %s\n", path, strerror(errno));
        return;
    }
    fprintf(f, "transport,placement,metric,value,unit\n");
    for (int i = 0; i < nresults; i++)
        fprintf(f, "%s,%s,%s,%.3f,%s\n", results[i].transport, results[i].placement,
                results[i].metric, results[i].value, results[i].unit);
    fclose(f);
}

/* Data for the plot: transport, p50 RTT (us), 64 B rate (M msg/s). */
static void write_plot(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        double p50 = find(names[i], "cross-core", "rtt_p50");
        double tp = find(names[i], "cross-core", "small_oneway");
        if (p50 || tp)
            fprintf(f, "\"%s\" %.4f %.4f\n", names[i], p50 / 1000, tp / 1e6);
    }
    fclose(f);
}

/* --loop N: N 64-byte messages through shmkit_ring_send and
 * shmkit_ring_recv in one process, one at a time. Timing here would say
 * little on a shared VM; the instruction count does not move with the
 * load: run it under callgrind with two values of N, and the difference
 * over the difference of N is the per-message count (setup excluded). */
static int one_process_loop(long n)
{
    size_t cap = 256u << 10;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(cap),
                            .flags = SHMKIT_CREATE};
    shmkit_seg *s;
    shmkit_ring *p = NULL, *c = NULL;
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        return rc;
    rc = shmkit_ring_create(&p, s, cap, SHMKIT_RING_PRODUCER);
    if (rc == 0)
        rc = shmkit_ring_attach(&c, s, SHMKIT_RING_CONSUMER);
    unsigned char msg[SMALL] = {1}, in[SMALL];
    for (long i = 0; rc == 0 && i < n; i++) {
        rc = shmkit_ring_send(p, msg, sizeof msg, -1);
        if (rc == 0)
            rc = shmkit_ring_recv(c, in, sizeof in, -1) == SMALL ? 0 : SHMKIT_ECORRUPT;
    }
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    shmkit_close(s);
    return rc;
}

int main(int argc, char **argv)
{
    const char *csv = NULL, *plot = NULL, *boost = NULL;
    if (argc == 3 && !strcmp(argv[1], "--loop")) {
        int rc = one_process_loop(atol(argv[2]));
        if (rc < 0)
            fprintf(stderr, "bench_ipc --loop: %s\n", shmkit_strerror(rc));
        return rc < 0;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1, reps = 1;
        else if (!strcmp(argv[i], "--ring-only"))
            ring_only = 1;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv = argv[++i];
        else if (!strcmp(argv[i], "--plot") && i + 1 < argc)
            plot = argv[++i];
        else if (!strcmp(argv[i], "--boost") && i + 1 < argc)
            boost = argv[++i];
        else {
            fprintf(stderr, "usage: bench_ipc [--quick] [--ring-only] [--csv FILE] [--plot FILE] "
                            "[--boost PROG] | --loop N\n");
            return 1;
        }
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    atexit(cleanup);
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0)
        ncpu = CPU_COUNT(&set);
    if (ncpu < 2)
        cpu_b = 0;
    pin(cpu_a);
    int pp = quick ? 20000 : 200000;      /* shared-memory round trips */
    int ppk = quick ? 5000 : 40000;       /* round trips through the kernel */
    int tp = quick ? 200000 : 5000000;    /* shared-memory one-way messages */
    int tpk = quick ? 20000 : 200000;     /* one-way messages through the kernel */
    int nbig = quick ? 100 : 1000;        /* 1 MiB messages */

    struct xport ring = {"shmkit ring busy-poll", BIG, ring_setup, ring_open, ring_send, ring_recv,
                         ring_teardown};
    struct xport nv = {"naive spin ring", 0, naive_setup, naive_open, naive_send, naive_recv,
                       naive_teardown};
    struct xport l2 = {"2 lines: 64 B + flag", 0, line2_setup, naive_open, line2_send, line2_recv,
                       line2_teardown};
    struct xport kern[] = {
        {"pipe", BIG, pipe_setup_x, fd_open, fd_send, fd_recv, fd_teardown},
        {"unix stream", BIG, stream_setup, fd_open, fd_send, fd_recv, fd_teardown},
        {"unix seqpacket", 0, seqpacket_setup, fd_open, fd_send, fd_recv, fd_teardown},
        {"posix mq", 0, mq_setup, mq_open_side, mq_send_x, mq_recv_x, mq_teardown},
        {"sysv msg", 0, sysv_setup, sysv_open, sysv_send, sysv_recv, sysv_teardown},
        {"zeromq ipc", BIG, zmq_setup, zmq_open_side, zmq_send_x, zmq_recv_x, zmq_teardown},
    };

    printf("bench_ipc: %d CPUs usable, processes pinned to CPU %d and %d%s\n", ncpu, cpu_a, cpu_b,
           quick ? " (quick run)" : "");
    printf("\n[64 B ping-pong, cross-core]\n");
    floor_pingpong(pp, 0);
    ring_spin = -1;
    pingpong(&ring, "shmkit ring busy-poll", pp);
    ring_spin = 50000;
    pingpong(&ring, "shmkit ring blocking", pp);
    ring_spin = 0;
    pingpong(&ring, "shmkit ring spin 0", ppk);
    pingpong(&nv, "naive spin ring", pp);
    /* Where the ring's distance to the floor comes from: a 64 B message and
     * its 8 B header span two lines; 56 B and the header fill one. */
    pingpong(&l2, "2 lines: 64 B + flag", pp);
    ring_spin = -1;
    pp_len = SMALL - 8;
    pingpong(&ring, "shmkit ring 56 B (1 line)", pp);
    /* the ring's own path: an 8-byte message and its header in one line */
    pp_len = 8;
    pingpong(&ring, "shmkit ring 8 B", pp);
    pp_len = SMALL;
    for (size_t i = 0; i < sizeof kern / sizeof *kern && !ring_only; i++) {
        if (kern[i].setup == zmq_setup && zmq_load() < 0) {
            printf("  %-26s skipped (libzmq not installed)\n", kern[i].name);
            continue;
        }
        pingpong(&kern[i], kern[i].name, ppk);
    }

    printf("\n[64 B one-way throughput, cross-core]\n");
    ring_spin = -1;
    oneway(&ring, "shmkit ring busy-poll", SMALL, tp, "small_oneway");
    ring_spin = 50000;
    oneway(&ring, "shmkit ring blocking", SMALL, tp, "small_oneway");
    ring_spin = -1;
    oneway_with(batch_oneway_once, &ring, "shmkit ring batched", SMALL, tp, "small_oneway");
    oneway(&nv, "naive spin ring", SMALL, tp, "small_oneway");
    for (size_t i = 0; i < sizeof kern / sizeof *kern && !ring_only; i++)
        if (kern[i].setup != zmq_setup || zmq_load() == 0)
            oneway(&kern[i], kern[i].name, SMALL, tpk, "small_oneway");

    printf("\n[1 MiB one-way, cross-core]\n");
    big_compare(&ring, &kern[1], nbig);
    for (size_t i = 0; i < sizeof kern / sizeof *kern && !ring_only; i++)
        if (kern[i].big && kern[i].setup != stream_setup &&
            (kern[i].setup != zmq_setup || zmq_load() == 0))
            oneway(&kern[i], kern[i].name, BIG, nbig / 4, "big_oneway");

    if (ring_only)
        goto out;
    printf("\n[bus publish cost, lossy, subscribers on the other core]\n");
    for (int reading = 1; reading >= 0; reading--) {
        bus_cost(1, tp / 5, reading);
        bus_cost(4, tp / 5, reading);
        bus_cost(16, tp / 5, reading);
    }

    printf("\n[idle]\n");
    idle_cpu(quick ? 0.5 : 2.0);

    printf("\n[Boost.Interprocess message_queue]\n");
    {
        /* one program run between two probes: its ratios are to those */
        struct lat3 before = floor_now();
        run_boost(boost);
        measured();
        struct lat3 after = floor_now();
        struct lat3 v = {find("boost message_queue", "cross-core", "rtt_p50"),
                         find("boost message_queue", "cross-core", "rtt_p99"), 0};
        struct adj a = {0};
        if (v.p50 > 0) {
            adj_add(&a, before, after, v);
            adj_report("boost message_queue", &a);
        }
    }

    printf("\n[64 B ping-pong, same core]\n");
    cpu_b = cpu_a;
    placement = "same-core";
    floor_pingpong(ppk / 4, 1);
    ring_spin = 0;
    pingpong(&ring, "shmkit ring spin 0", ppk);
    for (size_t i = 0; i < sizeof kern / sizeof *kern; i++)
        if (kern[i].setup != zmq_setup || zmq_load() == 0)
            pingpong(&kern[i], kern[i].name, ppk);

out:
    table();
    if (csv)
        write_csv(csv);
    if (plot)
        write_plot(plot);
    return 0;
}
