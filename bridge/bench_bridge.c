/* bench_bridge.c - the bridge against raw ZeroMQ over the same TCP
 * loopback path (issue 15's benchmark; `make bench-bridge`).
 *
 *   throughput: local bus -> shmkit-bridge -> tcp -> shmkit-bridge -> local
 *               bus, vs an XPUB socket -> tcp -> SUB socket; 64 B and
 *               64 KiB messages. Like with like: both lossless. The raw
 *               XPUB refuses at its high-water mark (1000, XPUB_NODROP)
 *               and its sender waits in zmq_msg_send; the exporting bridge
 *               waits likewise (--send-timeout 60000: XPUB_NODROP, --hwm
 *               1000), the importing one for room in the far bus
 *               (--publish-timeout 60000), and the publisher for the
 *               exporting bridge (a back-pressure bus). The rate compared
 *               is what the final receiver got per second (first to last
 *               message); the share lost is printed (0 expected). Then the
 *               bridges once more with their default options, where a full
 *               peer queue drops (--send-timeout 0: the lossy bus across
 *               the network): its delivered rate and loss, for reference,
 *               not compared (a raw sender that drops finishes at once:
 *               no steady rate to set against it)
 *   latency:    ping-pong of 64 B messages: a bus round trip through two
 *               bridges (ping out through both, pong back through both),
 *               vs a PUB/SUB round trip on two socket pairs
 *   rpc:        a 64 B call answered with 64 B: shmkit_rpc_call on the
 *               endpoint a --rpc-out bridge serves -> tcp -> a --rpc-in
 *               bridge -> the real server (a thread here) and back, vs a
 *               ZeroMQ REQ -> tcp -> REP round trip (the same bytes)
 *
 * Usage: bench_bridge [--quick] [--rpc-only] [--throughput-only] [--rtt-only] [--csv FILE]
 *                     [--bridge PATH] [--msgs N]
 * Built as BUILD/bench/bench_bridge, so `make bench` (bench/run) runs it
 * with the other benchmarks; `make bench-bridge` runs it alone. The bridge
 * is BUILD/bin/shmkit-bridge (found from this program's own path) unless
 * --bridge says otherwise. N: 64-byte messages (default 1 M; 64 KiB: N/50).
 */
#include "frame.h"

#include <shmkit.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void remove_buses(void);

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_bridge: %s: %s\n", what, rc < 0 ? shmkit_strerror(rc) : zmq_strerror(errno));
    remove_buses(); /* what it made goes, also on failure */
    exit(2);
}

#define MAX_NAMES 24
static char names[MAX_NAMES][64];
static int nnames;

/* The next free name slot (every segment the bench makes is listed, so
 * that it is removed at exit). */
static char *next_name(void)
{
    if (nnames == MAX_NAMES) {
        fprintf(stderr, "bench_bridge: more than %d segments\n", MAX_NAMES);
        exit(1);
    }
    return names[nnames++];
}

static int make_bus(shmkit_seg *seg, void *arg)
{
    (void)arg;
    shmkit_bus *b;
    int rc = shmkit_bus_create(&b, seg, 1024, 65536, 4, SHMKIT_BUS_NOROLE);
    return rc < 0 ? rc : shmkit_bus_close(b);
}

static const char *bus(const char *tag)
{
    char *n = next_name();
    snprintf(n, 64, "/shmkit-bench-br-%d-%s", (int)getpid(), tag);
    shmkit_seg *seg;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = n, .flags = SHMKIT_CREATE | SHMKIT_EXCL,
                            .size = shmkit_bus_size_for(1024, 65536, 4), .init = make_bus};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0)
        die(n, rc);
    shmkit_close(seg);
    return n;
}

static void remove_buses(void)
{
    for (int i = 0; i < nnames; i++)
        shmkit_posix_remove(names[i]);
}

static pid_t spawn(const char *bin, char *const argv[])
{
    pid_t pid;
    int rc = posix_spawn(&pid, bin, NULL, NULL, argv, environ);
    if (rc) {
        fprintf(stderr, "bench_bridge: %s: %s\n", bin, strerror(rc));
        remove_buses();
        exit(2);
    }
    return pid;
}

static void reap(pid_t p)
{
    kill(p, SIGTERM);
    waitpid(p, NULL, 0);
}

struct rx {
    void *ctx; /* raw: the SUB side */
    const char *ep;
    shmkit_seg *seg; /* bridged: the far bus */
    uint64_t want;
    size_t size;
    uint64_t got;
    double t0, t1;
    volatile int ready;
};

static void *rx_zmq(void *arg)
{
    struct rx *r = arg;
    void *s = zmq_socket(r->ctx, ZMQ_SUB);
    int hwm = 1000, tmo = 1000;
    zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(s, r->ep);
    r->ready = 1;
    zmq_msg_t m;
    zmq_msg_init(&m);
    while (r->got < r->want) {
        if (zmq_msg_recv(&m, s, 0) < 0) {
            if (r->got || errno != EAGAIN)
                break;
            continue;
        }
        if (!r->got++)
            r->t0 = now();
        r->t1 = now();
    }
    zmq_msg_close(&m);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(s);
    return NULL;
}

static void *rx_bus(void *arg)
{
    struct rx *r = arg;
    shmkit_sub *s;
    if (shmkit_bus_subscribe(&s, r->seg) < 0)
        return NULL;
    r->ready = 1;
    double start = now();
    while (r->got < r->want) {
        const void *p;
        size_t len;
        int rc = shmkit_bus_peek(s, &p, &len, NULL, NULL, r->got ? 1000000000LL : 20000000000LL);
        if ((rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD) && now() - start < 20) {
            usleep(1000); /* no publisher (the bridge) yet */
            continue;
        }
        if (rc < 0)
            break;
        shmkit_bus_release(s);
        if (!r->got++)
            r->t0 = now();
        r->t1 = now();
    }
    shmkit_bus_unsubscribe(s);
    return NULL;
}

static double rate(const struct rx *r)
{
    return r->got > 1 ? (double)(r->got - 1) / (r->t1 - r->t0) : 0;
}

static void raw_throughput(int port, size_t size, uint64_t n, double *out, double *loss)
{
    void *ctx = zmq_ctx_new();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    /* an XPUB that refuses instead of dropping at the high-water mark:
     * the sender goes at the receiver's pace, the best raw ZeroMQ can do
     * without loss */
    void *pub = zmq_socket(ctx, ZMQ_XPUB);
    int hwm = 1000, one = 1;
    zmq_setsockopt(pub, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(pub, ZMQ_XPUB_NODROP, &one, sizeof one);
    if (zmq_bind(pub, ep) < 0)
        die(ep, 0);
    struct rx r = {.ctx = ctx, .ep = ep, .want = n, .size = size};
    pthread_t t;
    pthread_create(&t, NULL, rx_zmq, &r);
    while (!r.ready)
        usleep(1000);
    usleep(300000); /* the subscription reaches the PUB */
    char *buf = calloc(1, size);
    for (uint64_t i = 0; i < n; i++) {
        /* what the bridge does too: one message, the payload copied in */
        zmq_msg_t m;
        zmq_msg_init_size(&m, size);
        memcpy(zmq_msg_data(&m), buf, size);
        memcpy(zmq_msg_data(&m), &i, sizeof i);
        /* waits for room (XPUB's POLLOUT is always set: polling spins) */
        if (zmq_msg_send(&m, pub, 0) < 0)
            zmq_msg_close(&m);
    }
    pthread_join(t, NULL);
    free(buf);
    int zero = 0;
    zmq_setsockopt(pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_close(pub);
    zmq_ctx_term(ctx);
    *out = rate(&r);
    *loss = 1.0 - (double)r.got / (double)n;
}

/* Counter KEY of the stats file PATH; -1 if it is not there. */
static long long stat_of(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char line[256];
    size_t k = strlen(key);
    long long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, k) && line[k] == '=')
            v = atoll(line + k + 1);
    if (f)
        fclose(f);
    return v;
}

/* Where the bridges of the last bridged_throughput lost what they lost. */
static long long lost_net, lost_busfull, lost_hwm;

static void bridged_throughput(const char *bin, int port, size_t size, uint64_t n, int lossless,
                               double *out, double *loss)
{
    char sta[64], stb[64];
    snprintf(sta, sizeof sta, "/tmp/bench_bridge-%d-a.stats", (int)getpid());
    snprintf(stb, sizeof stb, "/tmp/bench_bridge-%d-b.stats", (int)getpid());
    char ep[64], imp[200];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    char tag[16];
    snprintf(tag, sizeof tag, "ta%zu%c", size, lossless ? 'w' : 'd');
    const char *a = bus(tag);
    tag[1] = 'b';
    const char *b = bus(tag);
    snprintf(imp, sizeof imp, "%s=%s", b, a);
    /* lossless: wait (60 s at most) where the defaults drop */
    char *wait = lossless ? "60000" : "0";
    pid_t pa = spawn(bin, (char *[]){(char *)bin, "--bus", (char *)a, "--bind", ep, "--stats-file",
                                     sta, lossless ? "--send-timeout" : NULL, wait, NULL});
    pid_t pb = spawn(bin, (char *[]){(char *)bin, "--connect", ep, "--bus", imp, "--stats-file", stb,
                                     "--publish-timeout", lossless ? wait : "100", NULL});
    shmkit_seg *sa, *sb;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = a};
    if (shmkit_open(&sa, &o) < 0)
        die(a, -1);
    o.name = b;
    if (shmkit_open(&sb, &o) < 0)
        die(b, -1);
    struct rx r = {.seg = sb, .want = n, .size = size};
    pthread_t t;
    pthread_create(&t, NULL, rx_bus, &r);
    shmkit_bus *pub;
    int rc;
    while ((rc = shmkit_bus_attach(&pub, sa)) == -EBUSY)
        usleep(1000);
    if (rc < 0)
        die("attach", rc);
    if ((rc = shmkit_bus_wait_subscribers(pub, 1, 10000000000LL)) < 0)
        die("bridge A did not subscribe", rc);
    while (!r.ready)
        usleep(1000);
    usleep(700000); /* bridge B connected and subscribed */
    /* the same work per message as the raw sender: the payload copied in */
    char *buf = calloc(1, size);
    for (uint64_t i = 0; i < n; i++) {
        void *p;
        if ((rc = shmkit_bus_loan(pub, size, &p, -1)) < 0)
            die("loan", rc);
        memcpy(p, buf, size);
        memcpy(p, &i, sizeof i);
        shmkit_bus_publish(pub, size, NULL);
    }
    free(buf);
    pthread_join(t, NULL);
    shmkit_bus_close(pub);
    shmkit_close(sa);
    shmkit_close(sb);
    reap(pa); /* SIGTERM: each writes its counters a last time */
    reap(pb);
    lost_net = stat_of(stb, "net_lost");
    lost_busfull = stat_of(stb, "drop_busfull");
    lost_hwm = stat_of(sta, "drop_hwm");
    unlink(sta);
    unlink(stb);
    *out = rate(&r);
    *loss = 1.0 - (double)r.got / (double)n;
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

struct echo {
    void *ctx;
    const char *in, *out; /* raw: endpoints; bridged: bus names */
    volatile int stop, ready;
};

static void *echo_zmq(void *arg)
{
    struct echo *e = arg;
    void *s = zmq_socket(e->ctx, ZMQ_SUB), *p = zmq_socket(e->ctx, ZMQ_PUB);
    int tmo = 100, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(p, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(s, e->in);
    zmq_bind(p, e->out);
    e->ready = 1;
    char buf[64];
    while (!e->stop) {
        int n = zmq_recv(s, buf, sizeof buf, 0);
        if (n > 0)
            zmq_send(p, buf, (size_t)n, 0);
    }
    zmq_close(s);
    zmq_close(p);
    return NULL;
}

static void *echo_bus(void *arg)
{
    struct echo *e = arg;
    shmkit_seg *si, *so;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = e->in};
    if (shmkit_open(&si, &o) < 0)
        return NULL;
    o.name = e->out;
    if (shmkit_open(&so, &o) < 0)
        return NULL;
    shmkit_sub *s;
    shmkit_bus *p;
    shmkit_bus_subscribe(&s, si);
    while (shmkit_bus_attach(&p, so) == -EBUSY)
        usleep(1000);
    e->ready = 1;
    char buf[64];
    while (!e->stop) {
        int n = shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 100000000);
        if (n == SHMKIT_ECLOSED)
            usleep(1000); /* no publisher (the bridge) yet */
        if (n >= 0)
            shmkit_bus_send(p, buf, (size_t)n, -1);
    }
    shmkit_bus_unsubscribe(s);
    shmkit_bus_close(p);
    shmkit_close(si);
    shmkit_close(so);
    return NULL;
}

/* K round trips; the median and 99th percentile in *MED, *P99 (us). SEND
 * and RECV move one 64-byte message; RECV returns < 0 after 1 s. */
struct rtt_ops {
    int (*send)(void *ctx, uint64_t i);
    int (*recv)(void *ctx, uint64_t *i);
    void *ctx;
};

static int rtt(const struct rtt_ops *op, int k, double *med, double *p99)
{
    /* warm up until one comes back (connections and subscriptions made) */
    uint64_t got = 0;
    int up = 0;
    for (int i = 0; i < 100 && !up; i++) {
        op->send(op->ctx, 1u << 30);
        while (op->recv(op->ctx, &got) == 0)
            if (got == 1u << 30) {
                up = 1;
                break;
            }
    }
    if (!up)
        return -1;
    double *v = calloc((size_t)k, sizeof *v);
    int n = 0;
    for (int i = 0; i < k; i++) {
        double t = now();
        op->send(op->ctx, (uint64_t)i);
        int r;
        while ((r = op->recv(op->ctx, &got)) == 0 && got != (uint64_t)i) {
        }
        if (r < 0)
            continue; /* lost: not counted */
        v[n++] = (now() - t) * 1e6;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *med = n ? v[n / 2] : 0;
    *p99 = n ? v[n * 99 / 100] : 0;
    free(v);
    return n;
}

struct zpair {
    void *pub, *sub;
};
static int zsend(void *c, uint64_t i)
{
    struct zpair *z = c;
    char b[64] = {0};
    memcpy(b, &i, 8);
    return zmq_send(z->pub, b, 64, 0) < 0 ? -1 : 0;
}
static int zrecv(void *c, uint64_t *i)
{
    struct zpair *z = c;
    char b[64];
    if (zmq_recv(z->sub, b, 64, 0) < 8)
        return -1;
    memcpy(i, b, 8);
    return 0;
}

struct bpair {
    shmkit_bus *pub;
    shmkit_sub *sub;
};
static int bsend(void *c, uint64_t i)
{
    struct bpair *z = c;
    char b[64] = {0};
    memcpy(b, &i, 8);
    return shmkit_bus_send(z->pub, b, 64, -1);
}
static int brecv(void *c, uint64_t *i)
{
    struct bpair *z = c;
    char b[64];
    double t = now();
    int rc;
    while ((rc = shmkit_bus_recv(z->sub, b, 64, NULL, NULL, 1000000000LL)) == SHMKIT_ECLOSED &&
           now() - t < 1)
        usleep(1000); /* no publisher (the bridge) yet */
    if (rc < 8)
        return -1;
    memcpy(i, b, 8);
    return 0;
}

static int raw_latency(int port, int k, double *med, double *p99)
{
    void *ctx = zmq_ctx_new();
    char ping[64], pong[64];
    snprintf(ping, sizeof ping, "tcp://127.0.0.1:%d", port);
    snprintf(pong, sizeof pong, "tcp://127.0.0.1:%d", port + 1);
    struct zpair z = {zmq_socket(ctx, ZMQ_PUB), zmq_socket(ctx, ZMQ_SUB)};
    int tmo = 1000, zero = 0;
    zmq_setsockopt(z.sub, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(z.sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_setsockopt(z.pub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(z.sub, ZMQ_LINGER, &zero, sizeof zero);
    zmq_bind(z.pub, ping);
    struct echo e = {.ctx = ctx, .in = ping, .out = pong};
    pthread_t t;
    pthread_create(&t, NULL, echo_zmq, &e);
    while (!e.ready)
        usleep(1000);
    zmq_connect(z.sub, pong);
    struct rtt_ops op = {zsend, zrecv, &z};
    int n = rtt(&op, k, med, p99);
    e.stop = 1;
    pthread_join(t, NULL);
    zmq_close(z.pub);
    zmq_close(z.sub);
    zmq_ctx_term(ctx);
    return n;
}

static int bridged_latency(const char *bin, int port, int k, double *med, double *p99)
{
    char e1[64], e2[64], pingb[200], ponga[200];
    snprintf(e1, sizeof e1, "tcp://127.0.0.1:%d", port);
    snprintf(e2, sizeof e2, "tcp://127.0.0.1:%d", port + 1);
    const char *pinga = bus("pinga"), *pingb_ = bus("pingb"), *pongb = bus("pongb"),
               *ponga_ = bus("ponga");
    snprintf(pingb, sizeof pingb, "%s=%s", pingb_, pinga);
    snprintf(ponga, sizeof ponga, "%s=%s", ponga_, pongb);
    pid_t pa = spawn(bin, (char *[]){(char *)bin, "--export", (char *)pinga, "--bind", e1,
                                     "--import", ponga, "--connect", e2, NULL});
    pid_t pb = spawn(bin, (char *[]){(char *)bin, "--import", pingb, "--connect", e1,
                                     "--export", (char *)pongb, "--bind", e2, NULL});
    struct echo e = {.in = pingb_, .out = pongb};
    pthread_t t;
    pthread_create(&t, NULL, echo_bus, &e);
    shmkit_seg *sa, *sr;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = pinga};
    if (shmkit_open(&sa, &o) < 0)
        die(pinga, -1);
    o.name = ponga_;
    if (shmkit_open(&sr, &o) < 0)
        die(ponga_, -1);
    struct bpair z;
    shmkit_bus_subscribe(&z.sub, sr);
    while (shmkit_bus_attach(&z.pub, sa) == -EBUSY)
        usleep(1000);
    while (!e.ready)
        usleep(1000);
    struct rtt_ops op = {bsend, brecv, &z};
    int n = rtt(&op, k, med, p99);
    e.stop = 1;
    pthread_join(t, NULL);
    shmkit_bus_close(z.pub);
    shmkit_bus_unsubscribe(z.sub);
    shmkit_close(sa);
    shmkit_close(sr);
    reap(pa);
    reap(pb);
    return n;
}

static int zreq(void *c, uint64_t i)
{
    char b[64] = {0};
    memcpy(b, &i, 8);
    return zmq_send(c, b, 64, 0) < 0 ? -1 : 0;
}
static int zrep(void *c, uint64_t *i)
{
    char b[64];
    if (zmq_recv(c, b, 64, 0) < 8)
        return -1;
    memcpy(i, b, 8);
    return 0;
}

static void *rep_zmq(void *arg)
{
    struct echo *e = arg;
    void *s = zmq_socket(e->ctx, ZMQ_REP);
    int tmo = 100, zero = 0;
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_bind(s, e->in);
    e->ready = 1;
    char buf[64];
    while (!e->stop) {
        int n = zmq_recv(s, buf, sizeof buf, 0);
        if (n > 0)
            zmq_send(s, buf, (size_t)n, 0);
    }
    zmq_close(s);
    return NULL;
}

/* ZeroMQ REQ/REP, 64 B each way (REQ is strictly send-recv: no warm-up
 * retries, so the first call waits for the connection). */
static int raw_rpc(int port, int k, double *med, double *p99)
{
    void *ctx = zmq_ctx_new();
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    struct echo e = {.ctx = ctx, .in = ep};
    pthread_t t;
    pthread_create(&t, NULL, rep_zmq, &e);
    while (!e.ready)
        usleep(1000);
    void *q = zmq_socket(ctx, ZMQ_REQ);
    int zero = 0;
    zmq_setsockopt(q, ZMQ_LINGER, &zero, sizeof zero);
    zmq_connect(q, ep);
    uint64_t got;
    zreq(q, 1u << 30);
    zrep(q, &got);
    double *v = calloc((size_t)k, sizeof *v);
    int n = 0;
    for (int i = 0; i < k; i++) {
        double t0 = now();
        if (zreq(q, (uint64_t)i) < 0 || zrep(q, &got) < 0 || got != (uint64_t)i)
            break;
        v[n++] = (now() - t0) * 1e6;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *med = n ? v[n / 2] : 0;
    *p99 = n ? v[n * 99 / 100] : 0;
    free(v);
    e.stop = 1;
    pthread_join(t, NULL);
    zmq_close(q);
    zmq_ctx_term(ctx);
    return n;
}

struct rpc_srv {
    const char *name;
    volatile int stop, ready;
};

static void *serve_rpc(void *arg)
{
    struct rpc_srv *e = arg;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = e->name, .flags = SHMKIT_CREATE};
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 64};
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_open(&s, &o, &cfg) < 0)
        return NULL;
    e->ready = 1;
    while (!e->stop) {
        struct shmkit_rpc_request q;
        if (shmkit_rpc_recv(s, &q, 100000000) == 0)
            shmkit_rpc_reply_send(s, &q, q.data, q.len);
    }
    shmkit_rpc_server_close(s);
    return NULL;
}

/* shmkit_rpc_call through a --rpc-out and a --rpc-in bridge, 64 B each way. */
static int bridged_rpc(const char *bin, int port, int k, double *med, double *p99)
{
    char ep[64], out[200], in[200];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    char *srv = next_name(), *cli = next_name();
    snprintf(srv, 64, "/shmkit-bench-br-%d-rpcs", (int)getpid());
    snprintf(cli, 64, "/shmkit-bench-br-%d-rpcc", (int)getpid());
    struct rpc_srv e = {.name = srv};
    pthread_t t;
    pthread_create(&t, NULL, serve_rpc, &e);
    while (!e.ready)
        usleep(1000);
    snprintf(in, sizeof in, "%s@%s", srv, ep);
    snprintf(out, sizeof out, "%s=%s@%s", cli, srv, ep);
    pid_t pb = spawn(bin, (char *[]){(char *)bin, "--rpc-in", in, NULL});
    pid_t pa = spawn(bin, (char *[]){(char *)bin, "--rpc-out", out, NULL});
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = cli};
    struct shmkit_rpc_config cfg = {.timeout_ns = 5000000000LL};
    shmkit_rpc_client *c;
    int rc = shmkit_rpc_client_open(&c, &o, &cfg);
    if (rc < 0)
        die(cli, rc);
    char req[64] = {0}, resp[64];
    /* warm up: until the bridges are connected, calls fail at once */
    for (int i = 0; i < 500 && shmkit_rpc_call(c, req, 64, resp, 64, 1000000000LL) != 64; i++)
        usleep(10000);
    double *v = calloc((size_t)k, sizeof *v);
    int n = 0;
    for (int i = 0; i < k; i++) {
        memcpy(req, &i, sizeof i);
        double t0 = now();
        int r = shmkit_rpc_call(c, req, 64, resp, 64, 1000000000LL);
        if (r != 64 || memcmp(req, resp, 64))
            continue; /* failed: not counted */
        v[n++] = (now() - t0) * 1e6;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_d);
    *med = n ? v[n / 2] : 0;
    *p99 = n ? v[n * 99 / 100] : 0;
    free(v);
    shmkit_rpc_client_close(c);
    reap(pa);
    reap(pb);
    e.stop = 1;
    pthread_join(t, NULL);
    return n;
}

int main(int argc, char **argv)
{
    static char self[4096];
    const char *bin = NULL, *csv = NULL;
    uint64_t n64 = 1000000;
    int k = 2000, rpc_only = 0, tp_only = 0, rtt_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) {
            n64 = 50000;
            k = 200;
        } else if (!strcmp(argv[i], "--rpc-only")) {
            rpc_only = 1;
        } else if (!strcmp(argv[i], "--throughput-only")) {
            tp_only = 1;
        } else if (!strcmp(argv[i], "--rtt-only")) {
            rtt_only = 1;
        } else if (!strcmp(argv[i], "--csv") && i + 1 < argc) {
            csv = argv[++i];
        } else if (!strcmp(argv[i], "--bridge") && i + 1 < argc) {
            bin = argv[++i];
        } else if (!strcmp(argv[i], "--msgs") && i + 1 < argc) {
            n64 = strtoull(argv[++i], NULL, 0);
        } else {
            fprintf(stderr, "usage: bench_bridge [--quick] [--rpc-only] [--throughput-only] [--rtt-only] "
                            "[--csv FILE] [--bridge PATH] [--msgs N]\n");
            return 1;
        }
    }
    if (!bin) { /* BUILD/bench/bench_bridge -> BUILD/bin/shmkit-bridge */
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 64);
        char *slash = n > 0 ? (self[n] = 0, strrchr(self, '/')) : NULL;
        if (!slash) {
            fprintf(stderr, "bench_bridge: where is shmkit-bridge? (--bridge PATH)\n");
            return 1;
        }
        strcpy(slash, "/../bin/shmkit-bridge");
        bin = self;
    }
    if (access(bin, X_OK) < 0) {
        fprintf(stderr, "bench_bridge: %s: %s\n", bin, strerror(errno));
        return 1;
    }
    FILE *cf = NULL;
    if (csv && !(cf = fopen(csv, "w"))) {
        fprintf(stderr, "bench_bridge: %s: %s\n", csv, strerror(errno));
        return 1;
    }
    if (cf)
        fprintf(cf, "case,raw,bridged,ratio,raw_lost_pct,bridged_lost_pct\n");
    setvbuf(stdout, NULL, _IOLBF, 0);
    int port = 30000 + (int)(getpid() % 20000);
    uint64_t n64k = n64 / 50;
    char when[64];
    time_t tt = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", gmtime(&tt));
    double la[3] = {0};
    getloadavg(la, 3);
    printf("bench_bridge %s, load average %.2f %.2f %.2f, %ld CPUs\n", when, la[0], la[1], la[2],
           sysconf(_SC_NPROCESSORS_ONLN));
    struct {
        size_t size;
        uint64_t n;
    } cases[] = {{64, n64}, {65536, n64k}};
    for (int i = 0; i < 2 && !rpc_only && !rtt_only; i++) {
        double raw, rl, br, bl, bd, bdl;
        size_t sz = cases[i].size;
        raw_throughput(port++, sz, cases[i].n, &raw, &rl);
        bridged_throughput(bin, port++, sz, cases[i].n, 1, &br, &bl);
        long long ln = lost_net, lb = lost_busfull, lh = lost_hwm;
        bridged_throughput(bin, port++, sz, cases[i].n, 0, &bd, &bdl);
        printf("throughput %6zu B, %llu sent, delivered msg/s at the final receiver:\n"
               "  both lossless: raw ZeroMQ %10.0f msg/s (%4.1f%% lost), through two bridges "
               "%10.0f msg/s (%4.1f%% lost): ratio %.2f (%.0f vs %.0f MB/s)\n"
               "    (bridges: net_lost %lld, drop_busfull %lld, drop_hwm %lld)\n"
               "  two bridges with default options (a full peer queue drops): %10.0f msg/s "
               "(%4.1f%% lost)\n"
               "    (lost at the exporting bridge's full peer queue: %lld counted as gaps, "
               "net_lost, and %lld after the last frame that arrived; at the far bus, "
               "drop_busfull: %lld)\n",
               sz, (unsigned long long)cases[i].n, raw, rl * 100, br, bl * 100,
               raw > 0 ? br / raw : 0, raw * (double)sz / 1e6, br * (double)sz / 1e6, ln, lb, lh,
               bd, bdl * 100, lost_net,
               (long long)(bdl * (double)cases[i].n + 0.5) - lost_net - lost_busfull, lost_busfull);
        if (cf) {
            fprintf(cf, "throughput_%zu_msgs_per_s,%.0f,%.0f,%.3f,%.1f,%.1f\n", sz, raw, br,
                    raw > 0 ? br / raw : 0, rl * 100, bl * 100);
            fprintf(cf, "throughput_%zu_msgs_per_s_bridges_may_drop,,%.0f,,,%.1f\n", sz, bd,
                    bdl * 100);
        }
    }
    double rm, r99, bm, b99;
    int rn, bn;
    if (rpc_only)
        goto rpc;
    if (tp_only) {
        if (cf)
            fclose(cf);
        remove_buses();
        return 0;
    }
    rn = raw_latency(port, k, &rm, &r99);
    port += 2;
    bn = bridged_latency(bin, port, k, &bm, &b99);
    port += 2;
    printf("round trip 64 B: raw ZeroMQ median %.1f us (p99 %.1f, %d/%d), through two bridges "
           "each way median %.1f us (p99 %.1f, %d/%d): ratio %.2f, +%.1f us\n",
           rm, r99, rn, k, bm, b99, bn, k, rm > 0 ? bm / rm : 0, bm - rm);
    if (cf) {
        fprintf(cf, "rtt_64_median_us,%.1f,%.1f,%.3f,,\n", rm, bm, rm > 0 ? bm / rm : 0);
        fprintf(cf, "rtt_64_p99_us,%.1f,%.1f,%.3f,,\n", r99, b99, r99 > 0 ? b99 / r99 : 0);
    }
    if (rtt_only) {
        if (cf)
            fclose(cf);
        remove_buses();
        return 0;
    }
rpc:
    rn = raw_rpc(port++, k, &rm, &r99);
    bn = bridged_rpc(bin, port++, k, &bm, &b99);
    printf("rpc 64 B: raw ZeroMQ REQ/REP median %.1f us (p99 %.1f, %d/%d), shmkit_rpc_call "
           "through two bridges median %.1f us (p99 %.1f, %d/%d): ratio %.2f, +%.1f us\n",
           rm, r99, rn, k, bm, b99, bn, k, rm > 0 ? bm / rm : 0, bm - rm);
    if (cf) {
        fprintf(cf, "rpc_64_median_us,%.1f,%.1f,%.3f,,\n", rm, bm, rm > 0 ? bm / rm : 0);
        fprintf(cf, "rpc_64_p99_us,%.1f,%.1f,%.3f,,\n", r99, b99, r99 > 0 ? b99 / r99 : 0);
        fclose(cf);
    }
    remove_buses();
    return 0;
}
