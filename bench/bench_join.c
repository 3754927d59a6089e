/* bench_join.c - how long two freshly started programs take to talk: from
 * "producer and consumer both started" to "first message received", through
 * a named ring that both open with shmkit_ring_join (SHMKIT_CREATE on both
 * sides: whoever comes first creates), next to the same with a unix stream
 * socket (the consumer: socket, bind, listen, accept; the producer: connect,
 * retried while the consumer is not listening yet, with the same backoff as
 * the join's own wait: 100 us doubling to 10 ms).
 *
 *   bench_join [--quick] [--rounds N] [--csv FILE]
 *
 * One round forks the two processes (the consumer first in even rounds, the
 * producer first in odd ones) and times from just before the first fork to
 * the moment the consumer has the first 64-byte message. Rounds of the two
 * mechanisms alternate, so load changes hit both alike. Prints the median
 * and p90 of each and the ratio ring/socket; with --csv one line per
 * figure: name,median_us,p90_us,ratio_to_socket. Every ring name is
 * removed by its consumer; nothing is asserted. */
#include "shmkit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MSG 64

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void nap_ns(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- ring */

static void ring_side(const char *name, int consumer, int report)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_CREATE};
    struct shmkit_ring_config cfg = {
        .role = consumer ? SHMKIT_ROLE_CONSUMER : SHMKIT_ROLE_PRODUCER, .max_msg = MSG};
    shmkit_ring *r = NULL;
    int rc = shmkit_ring_join(&r, &o, &cfg);
    if (rc < 0) {
        fprintf(stderr, "bench_join: ring join: %s\n", shmkit_strerror(rc));
        _exit(1);
    }
    char buf[MSG] = "hello";
    if (consumer) {
        rc = shmkit_ring_recv(r, buf, sizeof buf, 10000000000);
        int64_t t = now_ns();
        if (rc < 0 || write(report, &t, sizeof t) != sizeof t)
            _exit(1);
        shmkit_seg_remove(shmkit_ring_seg(r));
    } else {
        rc = shmkit_ring_send(r, buf, sizeof buf, 10000000000);
    }
    shmkit_ring_close(r);
    _exit(rc < 0);
}

/* ---------------------------------------------------------------- socket */

static socklen_t sock_addr(struct sockaddr_un *a, const char *name)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    /* abstract namespace: no file to clean up */
    size_t n = strlen(name);
    memcpy(a->sun_path + 1, name, n);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
}

static void sock_side(const char *name, int consumer, int report)
{
    struct sockaddr_un a;
    socklen_t len = sock_addr(&a, name);
    char buf[MSG] = "hello";
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (s < 0)
        _exit(1);
    if (consumer) {
        if (bind(s, (struct sockaddr *)&a, len) < 0 || listen(s, 1) < 0)
            _exit(1);
        int c = accept(s, NULL, NULL);
        size_t got = 0;
        while (c >= 0 && got < sizeof buf) {
            ssize_t n = read(c, buf + got, sizeof buf - got);
            if (n <= 0)
                _exit(1);
            got += (size_t)n;
        }
        int64_t t = now_ns();
        if (c < 0 || write(report, &t, sizeof t) != sizeof t)
            _exit(1);
        close(c);
    } else {
        int64_t backoff = 100000;
        int64_t end = now_ns() + 10000000000;
        while (connect(s, (struct sockaddr *)&a, len) < 0) {
            if ((errno != ECONNREFUSED && errno != ENOENT) || now_ns() > end)
                _exit(1);
            nap_ns(backoff);
            if (backoff < 10000000)
                backoff *= 2;
        }
        if (write(s, buf, sizeof buf) != (ssize_t)sizeof buf)
            _exit(1);
    }
    close(s);
    _exit(0);
}

/* ---------------------------------------------------------------- rounds */

/* One round of SIDE: microseconds from before the first fork to the first
 * message in the consumer, or -1. */
static double round_us(void (*side)(const char *, int, int), const char *name, int consumer_first)
{
    int p[2];
    if (pipe(p) < 0)
        return -1;
    fflush(stdout);
    int64_t t0 = now_ns();
    pid_t pid[2];
    for (int i = 0; i < 2; i++) {
        int consumer = (i == 0) == consumer_first;
        if ((pid[i] = fork()) == 0) {
            close(p[0]);
            side(name, consumer, p[1]);
        }
    }
    close(p[1]);
    int64_t t = 0;
    ssize_t n = read(p[0], &t, sizeof t);
    close(p[0]);
    int bad = n != (ssize_t)sizeof t;
    for (int i = 0; i < 2; i++) {
        int st;
        if (pid[i] < 0 || waitpid(pid[i], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            bad = 1;
    }
    return bad ? -1 : (double)(t - t0) / 1000.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, int n, double q)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

int main(int argc, char **argv)
{
    int rounds = 200;
    const char *csv_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            rounds = 20;
        else if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csv_path = argv[++i];
        else {
            fprintf(stderr, "usage: bench_join [--quick] [--rounds N] [--csv FILE]\n");
            return 2;
        }
    }
    if (rounds < 2)
        rounds = 2;
    double *ring = calloc((size_t)rounds, sizeof *ring);
    double *sock = calloc((size_t)rounds, sizeof *sock);
    if (!ring || !sock)
        return 1;
    int failed = 0;
    for (int i = 0; i < rounds; i++) {
        char name[96];
        snprintf(name, sizeof name, "/shmkit-bench-join-%d-%d", (int)getpid(), i);
        ring[i] = round_us(ring_side, name, i % 2 == 0);
        sock[i] = round_us(sock_side, name + 1, i % 2 == 0);
        if (ring[i] < 0 || sock[i] < 0) {
            shmkit_posix_remove(name); /* a consumer that failed left it */
            failed = 1;
            break;
        }
    }
    if (failed) {
        fprintf(stderr, "bench_join: a round failed\n");
        return 1;
    }
    double rm = pct(ring, rounds, 0.5), r9 = pct(ring, rounds, 0.9);
    double sm = pct(sock, rounds, 0.5), s9 = pct(sock, rounds, 0.9);
    printf("== bench_join: both started -> first 64-byte message received, %d rounds each,\n"
           "   alternating, either process forked first (us)\n",
           rounds);
    printf("  %-44s %9s %9s %8s\n", "", "median", "p90", "ratio");
    printf("  %-44s %9.1f %9.1f %7.2fx\n", "shmkit_ring_join (CREATE on both sides)", rm, r9,
           sm > 0 ? rm / sm : 0);
    printf("  %-44s %9.1f %9.1f %7.2fx\n", "unix socket (bind/listen/accept vs connect)", sm, s9,
           1.0);
    if (csv_path) {
        FILE *f = fopen(csv_path, "w");
        if (!f) {
            perror(csv_path);
            return 1;
        }
        fprintf(f, "name,median_us,p90_us,ratio_to_socket\n");
        fprintf(f, "ring_join,%.1f,%.1f,%.3f\n", rm, r9, sm > 0 ? rm / sm : 0);
        fprintf(f, "unix_socket,%.1f,%.1f,1.000\n", sm, s9);
        fclose(f);
    }
    free(ring);
    free(sock);
    return 0;
}
