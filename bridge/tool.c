/* tool.c - bridge-tool: the helper processes of the bridge tests (not
 * installed). Each subcommand prints one "key=value ..." line.
 *
 *   pub NAME N SIZE [RATE]     publish N self-checking messages (seq + CRC)
 *                              on bus NAME (made if missing) once a subscriber
 *                              joined; RATE msgs/s (0: as fast as allowed)
 *   sub NAME N IDLE_MS [READY] receive until N messages or IDLE_MS without
 *                              one; check each; touch READY once subscribed
 *   hostile EP TOPIC ID        bind a PUB at EP, wait for a subscriber, send
 *                              malformed frames for TOPIC (ID: the target
 *                              bridge's origin id, for a looped frame)
 *   junk EP BYTES              bind a PUB at EP and send BYTES random bytes
 *                              in random frames after a valid prefix
 *   tcp HOST PORT BYTES        connect with plain TCP, write random bytes
 *   stall EP TOPIC SECS        subscribe to TOPIC at EP and never read
 *   rpub NAME N SIZE           send N self-checking messages into ring NAME
 *                              (made if missing, 1 MiB), blocking when full
 *   rsub NAME N IDLE_MS [READY [DELAY_US]]  receive from ring NAME until N
 *                              messages or IDLE_MS without one, check each;
 *                              DELAY_US: sleep that long after each (a slow
 *                              consumer)
 *   rpcserve NAME READY        serve RPC endpoint NAME (made if missing, 64 KiB
 *                              each way): answer "ok:" + the request; touch
 *                              READY once serving; until killed
 *   rpccall NAME N PROCS [TIMEOUT_MS [MAXFAIL]]  PROCS processes each make N
 *                              calls (each stops after MAXFAIL failed) of 64
 *                              bytes on NAME and check every answer; prints
 *                              ok, wrong, and the calls that failed by error
 *                              (closed, peerdead, timedout, other)
 *   rpcjunk EP TOPIC           connect a DEALER to the --rpc-in bridge at EP,
 *                              send it a frame with a bad magic, a two-part
 *                              message, a bus frame and a response frame for
 *                              TOPIC, then a good request "ping"; prints the
 *                              answer's status and bytes
 */
#include "frame.h"
#include "testmsg.h"

#include <shmkit.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bridge-tool: %s: %s\n", what, rc < 0 ? shmkit_strerror(rc) : zmq_strerror(errno));
    exit(2);
}

static int make_bus(shmkit_seg *seg, void *arg)
{
    (void)arg;
    shmkit_bus *b;
    int rc = shmkit_bus_create(&b, seg, 1024, 65536, 16, 0);
    return rc < 0 ? rc : shmkit_bus_close(b);
}

static shmkit_seg *open_bus(const char *name)
{
    shmkit_seg *seg;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .layout = SHMKIT_LAYOUT_BUS};
    int rc = shmkit_open(&seg, &o);
    if (rc == -ENOENT) {
        o.flags = SHMKIT_CREATE;
        o.size = shmkit_bus_size_for(1024, 65536, 16);
        o.init = make_bus;
        rc = shmkit_open(&seg, &o);
    }
    if (rc < 0)
        die(name, rc);
    return seg;
}

static int check(const unsigned char *p, size_t len, uint64_t *seq)
{
    uint32_t crc;
    if (len < 12)
        return 0;
    memcpy(seq, p, 8);
    memcpy(&crc, p + 8, 4);
    return crc == shmkit_crc32c(0, p + 12, len - 12);
}

static unsigned ring_role;

static int make_ring(shmkit_seg *seg, void *arg)
{
    (void)arg;
    shmkit_ring *r;
    int rc = shmkit_ring_create(&r, seg, 1u << 20, ring_role);
    return rc < 0 ? rc : shmkit_ring_close(r);
}

static shmkit_ring *open_ring(const char *name, shmkit_seg **seg, unsigned role)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .layout = SHMKIT_LAYOUT_RING};
    int rc = shmkit_open(seg, &o);
    if (rc == -ENOENT) {
        o.flags = SHMKIT_CREATE;
        o.size = shmkit_ring_size_for(1u << 20);
        o.init = make_ring;
        ring_role = role == SHMKIT_RING_PRODUCER ? SHMKIT_RING_CONSUMER : SHMKIT_RING_PRODUCER;
        rc = shmkit_open(seg, &o);
    }
    if (rc < 0)
        die(name, rc);
    shmkit_ring *r;
    for (int i = 0; (rc = shmkit_ring_attach(&r, *seg, role)) == -EBUSY && i < 500; i++)
        usleep(10000);
    if (rc < 0)
        die("ring attach", rc);
    return r;
}

static int cmd_rpub(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    uint64_t n = strtoull(argv[3], NULL, 0);
    size_t size = strtoull(argv[4], NULL, 0);
    if (size < 12)
        size = 12;
    shmkit_seg *seg;
    shmkit_ring *r = open_ring(argv[2], &seg, SHMKIT_RING_PRODUCER);
    double t0 = now();
    for (uint64_t s = 1; s <= n; s++) {
        void *p;
        int rc;
        /* ECLOSED: full and no consumer (yet): the bridge comes */
        while ((rc = shmkit_ring_reserve(r, size, &p, 1000000000LL)) == -EINTR ||
               rc == -ETIMEDOUT || rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD)
            if (rc != -ETIMEDOUT && rc != -EINTR)
                usleep(1000);
        if (rc < 0)
            die("reserve", rc);
        bridge_testmsg_fill(p, size, s);
        shmkit_ring_commit(r, size);
    }
    printf("sent=%llu seconds=%.3f\n", (unsigned long long)n, now() - t0);
    shmkit_ring_close(r);
    shmkit_close(seg);
    return 0;
}

static int cmd_rsub(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    uint64_t want = strtoull(argv[3], NULL, 0);
    double idle = atof(argv[4]) / 1000;
    useconds_t delay = argc > 6 ? (useconds_t)atoi(argv[6]) : 0;
    shmkit_seg *seg;
    shmkit_ring *r = open_ring(argv[2], &seg, SHMKIT_RING_CONSUMER);
    if (argc > 5)
        close(open(argv[5], O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    static unsigned char buf[1 << 20];
    uint64_t got = 0, bad = 0, first = 0, last = 0, gaps = 0, back = 0;
    double t1 = now(), start = t1;
    while (got < want) {
        int rc = shmkit_ring_recv(r, buf, sizeof buf, 20000000);
        if (rc < 0) {
            if (rc != -ETIMEDOUT && rc != SHMKIT_ECLOSED && rc != SHMKIT_EPEERDEAD && rc != -EINTR)
                break;
            if (rc != -ETIMEDOUT)
                usleep(1000);
            if (now() - t1 > (got ? idle : 120))
                break;
            continue;
        }
        uint64_t seq;
        if (!check(buf, (size_t)rc, &seq)) {
            bad++;
            continue;
        }
        t1 = now();
        if (!got++)
            first = seq;
        else if (seq <= last)
            back++;
        else if (seq > last + 1)
            gaps += seq - last - 1;
        if (seq > last)
            last = seq;
        if (delay)
            usleep(delay);
    }
    printf("received=%llu corrupt=%llu first=%llu last=%llu gaps=%llu backwards=%llu seconds=%.3f\n",
           (unsigned long long)got, (unsigned long long)bad, (unsigned long long)first,
           (unsigned long long)last, (unsigned long long)gaps, (unsigned long long)back,
           t1 - start);
    shmkit_ring_close(r);
    shmkit_close(seg);
    return 0;
}

static int cmd_pub(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    uint64_t n = strtoull(argv[3], NULL, 0);
    size_t size = strtoull(argv[4], NULL, 0);
    double rate = argc > 5 ? atof(argv[5]) : 0;
    if (size < 12)
        size = 12;
    shmkit_seg *seg = open_bus(argv[2]);
    shmkit_bus *b;
    int rc;
    for (int i = 0; (rc = shmkit_bus_attach(&b, seg)) == -EBUSY && i < 500; i++)
        usleep(10000);
    if (rc < 0)
        die("attach", rc);
    if ((rc = shmkit_bus_wait_subscribers(b, 1, 10000000000LL)) < 0)
        die("wait_subscribers", rc);
    double t0 = now();
    for (uint64_t s = 1; s <= n; s++) {
        void *p;
        while ((rc = shmkit_bus_loan(b, size, &p, -1)) == -EINTR) {
        }
        if (rc < 0)
            die("loan", rc);
        bridge_testmsg_fill(p, size, s);
        shmkit_bus_publish(b, size, NULL);
        if (rate > 0) {
            double due = t0 + (double)s / rate;
            double d = due - now();
            if (d > 0.001) /* sleep only when well ahead: usleep's floor is ~60 us */
                usleep((useconds_t)(d * 1e6));
        }
    }
    printf("published=%llu seconds=%.3f\n", (unsigned long long)n, now() - t0);
    shmkit_bus_close(b);
    shmkit_close(seg);
    return 0;
}

static int cmd_sub(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    uint64_t want = strtoull(argv[3], NULL, 0);
    int64_t idle = (int64_t)atoll(argv[4]) * 1000000;
    shmkit_seg *seg = open_bus(argv[2]);
    shmkit_sub *s;
    int rc = shmkit_bus_subscribe(&s, seg);
    if (rc < 0)
        die("subscribe", rc);
    if (argc > 5)
        close(open(argv[5], O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
    static unsigned char buf[1 << 20];
    uint64_t got = 0, bad = 0, first = 0, last = 0, gaps = 0, back = 0, lost = 0;
    double t0 = 0, t1 = 0;
    while (got < want) {
        uint64_t l = 0;
        /* before the first message: wait as long as the test allows */
        rc = shmkit_bus_recv(s, buf, sizeof buf, NULL, &l, got ? idle : 120000000000LL);
        lost += l;
        if (rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD) {
            usleep(1000); /* the publisher (the bridge) may come back */
            if (got && now() - t1 > idle / 1e9)
                break;
            continue;
        }
        if (rc < 0)
            break;
        uint64_t seq;
        if (!check(buf, (size_t)rc, &seq)) {
            bad++;
            continue;
        }
        t1 = now();
        if (!got++) {
            first = seq;
            t0 = t1;
        } else if (seq <= last) {
            back++;
        } else if (seq > last + 1) {
            gaps += seq - last - 1;
        }
        if (seq > last)
            last = seq;
    }
    printf("received=%llu corrupt=%llu first=%llu last=%llu gaps=%llu backwards=%llu "
           "buslost=%llu seconds=%.3f\n",
           (unsigned long long)got, (unsigned long long)bad, (unsigned long long)first,
           (unsigned long long)last, (unsigned long long)gaps, (unsigned long long)back,
           (unsigned long long)lost, t1 - t0);
    shmkit_bus_unsubscribe(s);
    shmkit_close(seg);
    return 0;
}

static void *bound_pub(void *ctx, const char *ep)
{
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    if (zmq_bind(s, ep) < 0)
        die(ep, 0);
    /* the first subscription: the bridge is connected and listening */
    char sub[300];
    if (zmq_recv(s, sub, sizeof sub, 0) < 0)
        die("recv subscription", 0);
    usleep(100000);
    return s;
}

static size_t frame(unsigned char *buf, const char *topic, unsigned kind, unsigned hops,
                    uint64_t origin, uint64_t seq, size_t len)
{
    struct bridge_frame f = {.topic = topic, .tlen = (unsigned)strlen(topic), .kind = kind,
                             .hops = hops, .origin = origin, .seq = seq, .len = (uint32_t)len};
    size_t h = bridge_frame_size(f.tlen, 0);
    bridge_testmsg_fill(buf + h, len < 12 ? 12 : len, seq);
    bridge_frame_seal(buf, &f);
    return h + len;
}

static int cmd_hostile(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    const char *t = argv[3];
    uint64_t id = strtoull(argv[4], NULL, 16);
    void *ctx = zmq_ctx_new();
    void *s = bound_pub(ctx, argv[2]);
    static unsigned char b[1 << 20];
    size_t tl = strlen(t), h = bridge_frame_size(tl, 0), n;
    const uint64_t me = 0x5eed;
    int sent = 0;
#define SEND(buf, len) (zmq_send(s, buf, len, 0), sent++)
    /* short: the prefix alone; the prefix and 10 bytes; a payload cut by one */
    n = bridge_frame_prefix(b, t, tl);
    SEND(b, n);
    SEND(b, n + 10);
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 1, 100);
    SEND(b, n - 1);
    /* long: one byte more than the header says */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 2, 100);
    b[n] = 0;
    SEND(b, n + 1);
    /* header: its checksum broken */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 3, 100);
    b[h - 1] ^= 1;
    SEND(b, n);
    /* crc: one payload bit flipped */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 4, 100);
    b[h + 50] ^= 0x10;
    SEND(b, n);
    /* unknown: a ring frame on a bus topic */
    n = frame(b, t, BRIDGE_KIND_RING, 0, me, 5, 100);
    SEND(b, n);
    /* loop: the target's own origin */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, id, 6, 100);
    SEND(b, n);
    /* hops: crossed too many bridges */
    n = frame(b, t, BRIDGE_KIND_BUS, BRIDGE_HOPS_MAX, me, 7, 100);
    SEND(b, n);
    /* a good one (delivered), then the same again (dup) */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 10, 100);
    SEND(b, n);
    SEND(b, n);
    /* toobig: one byte more than the bus's msg_max (64 KiB) */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 11, 65537);
    SEND(b, n);
    /* multi-part: a prefix then a valid frame: short, then delivered */
    n = bridge_frame_prefix(b, t, tl);
    zmq_send(s, b, n, ZMQ_SNDMORE);
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 12, 100);
    SEND(b, n);
    sent++;
    /* and a good one last: the bridge still delivers */
    n = frame(b, t, BRIDGE_KIND_BUS, 0, me, 13, 100);
    SEND(b, n);
    usleep(300000);
    printf("sent=%d\n", sent);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

static int cmd_junk(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    const char *t = argv[3];
    long total = atol(argv[4]);
    void *ctx = zmq_ctx_new();
    void *s = bound_pub(ctx, argv[2]);
    static unsigned char b[1 << 16];
    size_t tl = strlen(t);
    long frames = 0;
    for (long done = 0; done < total; frames++) {
        size_t n = bridge_frame_prefix(b, t, tl);
        uint16_t r;
        getrandom(&r, sizeof r, 0);
        size_t extra = r % 300;
        getrandom(b + n, extra, 0);
        zmq_send(s, b, n + extra, 0);
        done += (long)(n + extra);
        if (!(frames % 500))
            usleep(20000); /* stay under the bridge's high-water mark */
    }
    usleep(300000);
    printf("frames=%ld\n", frames);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

static int cmd_tcp(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[3]))};
    inet_pton(AF_INET, argv[2], &a.sin_addr);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        perror("bridge-tool: connect");
        return 2;
    }
    long total = atol(argv[4]), done = 0;
    unsigned char b[4096];
    while (done < total) {
        getrandom(b, sizeof b, 0);
        ssize_t w = write(fd, b, sizeof b);
        if (w <= 0)
            break; /* the bridge hung up on us: fine */
        done += w;
    }
    close(fd);
    printf("written=%ld\n", done);
    return 0;
}

static int cmd_stall(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_SUB);
    int small = 4096, zero = 0, one = 1;
    zmq_setsockopt(s, ZMQ_RCVBUF, &small, sizeof small);
    zmq_setsockopt(s, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    unsigned char pre[BRIDGE_PREFIX_MAX];
    size_t n = bridge_frame_prefix(pre, argv[3], strlen(argv[3]));
    zmq_setsockopt(s, ZMQ_SUBSCRIBE, pre, n);
    if (zmq_connect(s, argv[2]) < 0)
        die(argv[2], 0);
    sleep((unsigned)atoi(argv[4]));
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

static int cmd_rpcserve(int argc, char **argv)
{
    if (argc < 4)
        return 1;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = argv[2], .flags = SHMKIT_CREATE,
                            .mode = 0600};
    struct shmkit_rpc_config cfg = {.max_request = 65536, .max_response = 65536};
    shmkit_rpc_server *s;
    int rc = shmkit_rpc_server_open(&s, &o, &cfg);
    if (rc < 0)
        die("rpc_server_open", rc);
    FILE *f = fopen(argv[3], "w");
    if (f)
        fclose(f);
    static char out[65536];
    for (;;) {
        struct shmkit_rpc_request q;
        rc = shmkit_rpc_recv(s, &q, -1);
        if (rc == -EINTR)
            continue;
        if (rc < 0)
            die("rpc_recv", rc);
        size_t n = q.len + 3 > sizeof out ? sizeof out - 3 : q.len;
        memcpy(out, "ok:", 3);
        memcpy(out + 3, q.data, n);
        shmkit_rpc_reply_send(s, &q, out, n + 3);
    }
}

/* One process's calls: its answers are checked byte for byte. Counts:
 * ok, wrong answers, then the failed calls by error. */
enum { RC_OK, RC_WRONG, RC_CLOSED, RC_DEAD, RC_TIMEDOUT, RC_OTHER, RC_N };

static void rpc_calls(const char *name, long n, int64_t to, long maxfail, int fd)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    struct shmkit_rpc_config cfg = {.timeout_ns = 1000000000};
    shmkit_rpc_client *c;
    long res[RC_N] = {0};
    int rc = shmkit_rpc_client_open(&c, &o, &cfg);
    if (rc < 0)
        res[RC_OTHER] = n;
    for (long i = 0; i < n && rc == 0 && i - res[RC_OK] - res[RC_WRONG] < maxfail; i++) {
        char req[64], resp[128], id[40];
        int idn = snprintf(id, sizeof id, "pid %ld call %ld ", (long)getpid(), i);
        memset(req, 'x', sizeof req);
        memcpy(req, id, (size_t)idn);
        int k = shmkit_rpc_call(c, req, 64, resp, sizeof resp, to);
        if (k == SHMKIT_ECLOSED)
            res[RC_CLOSED]++;
        else if (k == SHMKIT_EPEERDEAD)
            res[RC_DEAD]++;
        else if (k == -ETIMEDOUT)
            res[RC_TIMEDOUT]++;
        else if (k < 0)
            res[RC_OTHER]++;
        else if (k == 67 && !memcmp(resp, "ok:", 3) && !memcmp(resp + 3, req, 64))
            res[RC_OK]++;
        else
            res[RC_WRONG]++;
    }
    shmkit_rpc_client_close(c);
    if (write(fd, res, sizeof res) != sizeof res)
        _exit(1);
}

static int cmd_rpccall(int argc, char **argv)
{
    if (argc < 5)
        return 1;
    long n = atol(argv[3]);
    int procs = atoi(argv[4]);
    int64_t to = (argc > 5 ? atol(argv[5]) : 5000) * 1000000LL;
    long maxfail = argc > 6 ? atol(argv[6]) : n;
    int p[2];
    if (pipe(p) < 0)
        die("pipe", -errno);
    double t0 = now();
    for (int i = 0; i < procs; i++)
        if (fork() == 0) {
            close(p[0]);
            rpc_calls(argv[2], n, to, maxfail, p[1]);
            _exit(0);
        }
    close(p[1]);
    long tot[RC_N] = {0}, r[RC_N];
    while (read(p[0], r, sizeof r) == sizeof r)
        for (int k = 0; k < RC_N; k++)
            tot[k] += r[k];
    while (wait(NULL) > 0)
        ;
    printf("ok=%ld wrong=%ld closed=%ld peerdead=%ld timedout=%ld other=%ld failed=%ld "
           "secs=%.3f\n",
           tot[RC_OK], tot[RC_WRONG], tot[RC_CLOSED], tot[RC_DEAD], tot[RC_TIMEDOUT], tot[RC_OTHER],
           tot[RC_CLOSED] + tot[RC_DEAD] + tot[RC_TIMEDOUT] + tot[RC_OTHER], now() - t0);
    return 0;
}

static int cmd_rpcjunk(int argc, char **argv)
{
    if (argc < 4)
        return 1;
    const char *t = argv[3];
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, tmo = 5000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_RCVTIMEO, &tmo, sizeof tmo);
    if (zmq_connect(s, argv[2]) < 0)
        die(argv[2], 0);
    static unsigned char b[4096];
    size_t n = frame(b, t, BRIDGE_KIND_REQUEST, 0, 0x5eed, 1, 16);
    b[0] = 'X'; /* bad magic */
    zmq_send(s, b, n, 0);
    n = frame(b, t, BRIDGE_KIND_REQUEST, 0, 0x5eed, 2, 16);
    zmq_send(s, b, n, ZMQ_SNDMORE); /* two parts: too long */
    zmq_send(s, b, n, 0);
    n = frame(b, t, BRIDGE_KIND_BUS, 0, 0x5eed, 3, 16);
    zmq_send(s, b, n, 0);
    n = frame(b, t, BRIDGE_KIND_RESPONSE, 0, 0x5eed, 4, 16);
    zmq_send(s, b, n, 0);
    struct bridge_frame f = {.topic = t, .tlen = (unsigned)strlen(t),
                             .kind = BRIDGE_KIND_REQUEST, .origin = 0x5eed, .seq = 5, .len = 4};
    size_t h = bridge_frame_size(f.tlen, 0);
    memcpy(b + h, "ping", 4);
    bridge_frame_seal(b, &f);
    zmq_send(s, b, h + 4, 0);
    static unsigned char r[1 << 17];
    int k = zmq_recv(s, r, sizeof r, 0);
    struct bridge_frame g;
    if (k < 0 || bridge_frame_parse(r, (size_t)k, &g) != BF_OK || g.seq != 5)
        printf("answer=none\n");
    else
        printf("answer=%u:%.*s\n", g.status, (int)g.len, (const char *)g.payload);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *c = argc > 1 ? argv[1] : "";
    int rc = !strcmp(c, "pub")       ? cmd_pub(argc, argv)
             : !strcmp(c, "sub")     ? cmd_sub(argc, argv)
             : !strcmp(c, "hostile") ? cmd_hostile(argc, argv)
             : !strcmp(c, "junk")    ? cmd_junk(argc, argv)
             : !strcmp(c, "tcp")     ? cmd_tcp(argc, argv)
             : !strcmp(c, "stall")   ? cmd_stall(argc, argv)
             : !strcmp(c, "rpub")    ? cmd_rpub(argc, argv)
             : !strcmp(c, "rsub")    ? cmd_rsub(argc, argv)
             : !strcmp(c, "rpcserve") ? cmd_rpcserve(argc, argv)
             : !strcmp(c, "rpccall") ? cmd_rpccall(argc, argv)
             : !strcmp(c, "rpcjunk") ? cmd_rpcjunk(argc, argv)
                                     : 1;
    if (rc == 1)
        fprintf(stderr, "usage: bridge-tool pub|sub|hostile|junk|tcp|stall ... (see tool.c)\n");
    return rc;
}
