/* bench_poll.c - what the pollable descriptors of rings and buses cost
 * (shmkit_ring_fd, shmkit_sub_fd), in one run:
 *   - wake-up latency of an epoll loop: send -> the receiver's epoll_wait
 *     returns, for a ring consumer and a bus subscriber, next to a bare
 *     eventfd write -> epoll_wait between the same two processes;
 *   - the sender's cost per 64-byte message when no receiver is armed: a
 *     ring send (and a bus send) with the receiver's descriptor made but
 *     not armed, next to a plain one. One process, sends timed alone (the
 *     receiver drains untimed between chunks), the two channels' chunks
 *     interleaved.
 *
 *   bench_poll [--quick] [--csv FILE]
 *
 * Prints a table (ns per operation, ratio to the baseline named on the
 * line); with --csv, one line per figure: name,ns_per_op,baseline,ratio.
 * Latencies are the median of single samples, costs the median of chunks.
 * Nothing is asserted. */
#include "bench_pin.h"
#include "shmkit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int quick;
static FILE *csv;

struct fig {
    const char *name;
    double ns;
};
static struct fig figs[32];
static int nfigs;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void report(const char *name, double v, const char *base)
{
    double b = v;
    for (int i = 0; base && i < nfigs; i++)
        if (!strcmp(figs[i].name, base))
            b = figs[i].ns;
    figs[nfigs].name = name;
    figs[nfigs++].ns = v;
    double ratio = b > 0 ? v / b : 0;
    printf("  %-44s %10.1f ns  %-36s %6.2fx\n", name, v, base ? base : "(baseline)", ratio);
    if (csv)
        fprintf(csv, "%s,%.1f,%s,%.3f\n", name, v, base ? base : name, ratio);
    fflush(stdout);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double samples[20000];

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return v[n / 2];
}

__attribute__((noreturn)) static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_poll: %s: %s\n", what, shmkit_strerror(rc));
    exit(2);
}

static shmkit_seg *anon(size_t size)
{
    shmkit_seg *s;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = size, .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        die("segment", rc);
    return s;
}

/* ------------------------------------------------------------ latency */

enum kind { EVENTFD, RING, BUS };

struct stamp {
    double sent;
    double lat[20000];
};

/* A child waits in epoll_wait on its descriptor (KIND), the parent sends
 * once it is armed; the child stamps when epoll_wait returned. Median ns. */
static double epoll_latency(enum kind kind, int n)
{
    shmkit_seg *seg = kind == RING  ? anon(shmkit_ring_size_for(1 << 16))
                      : kind == BUS ? anon(shmkit_bus_size_for(64, 64, 4))
                                    : NULL;
    shmkit_seg *ss = anon(sizeof(struct stamp));
    struct stamp *st = shmkit_seg_data(ss);
    shmkit_ring *r = NULL;
    shmkit_bus *b = NULL;
    int rc = 0;
    if (kind == RING)
        rc = shmkit_ring_create(&r, seg, 1 << 16, 0); /* no role: each side attaches */
    else if (kind == BUS)
        rc = shmkit_bus_create(&b, seg, 64, 64, 4, 0);
    if (rc < 0)
        die("create", rc);
    int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    int back = eventfd(0, EFD_CLOEXEC); /* "I am armed again" is not timed */
    fflush(stdout);
    pin_to(0, 1);
    pid_t p = fork();
    if (p == 0) {
        pin_to(1, 0);
        shmkit_ring *c = NULL;
        shmkit_sub *s = NULL;
        int fd = efd;
        if (kind == RING) {
            if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
                _exit(2);
            fd = shmkit_ring_fd(c);
        } else if (kind == BUS) {
            if (shmkit_bus_subscribe(&s, seg) < 0)
                _exit(2);
            fd = shmkit_sub_fd(s);
        }
        int ep = epoll_create1(0);
        struct epoll_event ev = {.events = EPOLLIN};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        char m[64];
        for (int i = 0; i < n; i++) {
            if (kind == RING) {
                while (shmkit_ring_recv(c, m, sizeof m, 0) >= 0) /* drain, then -EAGAIN arms */
                    ;
            } else if (kind == BUS) {
                while (shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0) >= 0)
                    ;
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
    shmkit_ring *pr = NULL;
    if (kind == RING && shmkit_ring_attach(&pr, seg, SHMKIT_RING_PRODUCER) < 0)
        die("producer", -EINVAL);
    if (kind == BUS && shmkit_bus_wait_subscribers(b, 1, -1) < 0)
        die("subscriber", -EINVAL);
    char m[64] = "x";
    for (int i = 0; i < n; i++) {
        uint64_t v;
        if (read(back, &v, 8) != 8)
            break;
        usleep(50); /* let it reach epoll_wait */
        st->sent = now_ns();
        if (kind == RING)
            shmkit_ring_send(pr, m, sizeof m, -1);
        else if (kind == BUS)
            shmkit_bus_send(b, m, sizeof m, -1);
        else if (write(efd, &v, 8) != 8)
            break;
    }
    waitpid(p, NULL, 0);
    unpin();
    for (int i = 0; i < n; i++)
        samples[i] = st->lat[i];
    double res = median(samples, n);
    shmkit_ring_close(pr);
    shmkit_ring_close(r);
    shmkit_bus_close(b);
    close(efd);
    close(back);
    shmkit_close(ss);
    shmkit_close(seg);
    return res;
}

/* ------------------------------------------------------------ sender cost */

#define BATCH 1000

/* A channel in this process: a sender and its receiver (FD: the
 * receiver's descriptor made). */
struct chan {
    shmkit_seg *seg;
    shmkit_ring *p, *c;
    shmkit_bus *b;
    shmkit_sub *s;
};

static void chan_open(struct chan *ch, enum kind kind, int fd)
{
    memset(ch, 0, sizeof *ch);
    int rc;
    if (kind == RING) {
        ch->seg = anon(shmkit_ring_size_for(1 << 17));
        rc = shmkit_ring_create(&ch->p, ch->seg, 1 << 17, SHMKIT_RING_PRODUCER);
        if (rc == 0)
            rc = shmkit_ring_attach(&ch->c, ch->seg, SHMKIT_RING_CONSUMER);
        if (rc == 0 && fd)
            rc = shmkit_ring_fd(ch->c);
    } else {
        ch->seg = anon(shmkit_bus_size_for(1024, 64, 4));
        rc = shmkit_bus_create(&ch->b, ch->seg, 1024, 64, 4, 0);
        if (rc == 0)
            rc = shmkit_bus_subscribe(&ch->s, ch->seg);
        if (rc == 0 && fd)
            rc = shmkit_sub_fd(ch->s);
    }
    if (rc < 0)
        die("set-up", rc);
}

/* ns per send of a chunk of BATCH; the receiver then drains it (untimed)
 * and never finds the channel empty, so it is never armed. */
static double chunk(struct chan *ch)
{
    char m[64] = "x";
    double t0 = now_ns();
    if (ch->p)
        for (int i = 0; i < BATCH; i++)
            shmkit_ring_send(ch->p, m, sizeof m, 0);
    else
        for (int i = 0; i < BATCH; i++)
            shmkit_bus_send(ch->b, m, sizeof m, 0);
    double ns = (now_ns() - t0) / BATCH;
    if (ch->c)
        for (int i = 0; i < BATCH; i++)
            shmkit_ring_recv(ch->c, m, sizeof m, 0);
    else
        for (int i = 0; i < BATCH; i++)
            shmkit_bus_recv(ch->s, m, sizeof m, NULL, NULL, 0);
    return ns;
}

static void chan_close(struct chan *ch)
{
    shmkit_ring_close(ch->c);
    shmkit_ring_close(ch->p);
    shmkit_bus_unsubscribe(ch->s);
    shmkit_bus_close(ch->b);
    shmkit_close(ch->seg);
}

/* The plain channel and the one with a descriptor, chunks interleaved so
 * that the shared machine's noise falls on both alike: medians in
 * *PLAIN, *FD. */
static void send_cost(enum kind kind, long n, double *plain, double *fd)
{
    static double other[20000];
    struct chan a, b;
    chan_open(&a, kind, 0);
    chan_open(&b, kind, 1);
    int nch = (int)(n / BATCH);
    for (int k = 0; k < nch; k++) {
        samples[k] = chunk(&a);
        other[k] = chunk(&b);
    }
    chan_close(&a);
    chan_close(&b);
    *plain = median(samples, nch);
    *fd = median(other, nch);
}

int main(int argc, char **argv)
{
    const char *csvpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csvpath = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--csv FILE]\n", argv[0]);
            return 1;
        }
    }
    if (csvpath && !(csv = fopen(csvpath, "a"))) {
        fprintf(stderr, "bench_poll: %s: %s\n", csvpath, strerror(errno));
        return 2;
    }
    int ne = quick ? 500 : 5000;
    long n = quick ? 200000 : 5000000;
    printf("bench_poll%s: ring and bus descriptors in epoll loops; ratio to the baseline\n",
           quick ? " --quick" : "");
    printf("epoll wake-up latency between two processes: send -> epoll_wait returns (median)\n");
    for (pinned = 0; pinned < 2; pinned++) {
        const char *base =
            pinned ? "pinned: eventfd write -> epoll_wait" : "bare eventfd write -> epoll_wait";
        report(base, epoll_latency(EVENTFD, ne), NULL);
        report(pinned ? "pinned: ring send -> consumer fd" : "ring send -> consumer fd epoll_wait",
               epoll_latency(RING, ne), base);
        report(pinned ? "pinned: bus send -> subscriber fd"
                      : "bus send -> subscriber fd epoll_wait",
               epoll_latency(BUS, ne), base);
    }
    pinned = 0;
    printf("sender cost per 64-byte message, no receiver armed (median of chunks of %d)\n", BATCH);
    double plain, fd;
    send_cost(RING, n, &plain, &fd);
    report("ring send, plain", plain, NULL);
    report("ring send, consumer fd made, not armed", fd, "ring send, plain");
    send_cost(BUS, n, &plain, &fd);
    report("bus send, plain", plain, NULL);
    report("bus send, subscriber fd made, not armed", fd, "bus send, plain");
    if (csv && fclose(csv) != 0)
        return 2;
    return 0;
}
