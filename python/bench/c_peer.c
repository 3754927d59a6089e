/*
 * c_peer.c - the C side of the Python binding's interoperability tests and benchmarks.
 *
 *   c_peer echo IN OUT N       consumer of ring IN, producer of ring OUT (both made by the
 *                              Python side; waits up to 10 s for them): sends back N messages
 *   c_peer mutex NAME          locks the robust mutex at offset 0 of segment NAME; prints
 *                              "ownerdead" (then repairs: consistent) and "locked", unlocks
 *   c_peer pingpong N          64-byte round trip between two C processes over two rings in
 *                              anonymous segments: prints "ns_per_rt VALUE"
 *   c_peer rpc N               64-byte shmkit_rpc_call round trip between two C processes (an
 *                              endpoint in an anonymous segment): prints "ns_per_rt VALUE"
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SEC 1000000000LL

static int fail(const char *what, int rc)
{
    fprintf(stderr, "c_peer: %s: %s\n", what, shmkit_strerror(rc));
    return 1;
}

static void nap(void)
{
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
}

/* Attaches to the ring NAME with ROLE, waiting up to 10 s for it to be made. */
static int attach(shmkit_ring **r, shmkit_seg **seg, const char *name, unsigned role)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = -ENOENT;
    for (int i = 0; i < 2000; i++, nap()) {
        if (!*seg && (rc = shmkit_open(seg, &o)) < 0)
            continue;
        if ((rc = shmkit_ring_attach(r, *seg, role)) != SHMKIT_ELAYOUT)
            break;
    }
    return rc;
}

static int echo(const char *in, const char *out, long n)
{
    shmkit_seg *si = NULL, *so = NULL;
    shmkit_ring *ri = NULL, *ro = NULL;
    int rc = attach(&ri, &si, in, SHMKIT_RING_CONSUMER);
    if (rc < 0)
        return fail(in, rc);
    if ((rc = attach(&ro, &so, out, SHMKIT_RING_PRODUCER)) < 0)
        return fail(out, rc);
    for (long i = 0; i < n; i++) {
        const void *p;
        size_t len;
        if ((rc = shmkit_ring_peek(ri, &p, &len, 10 * SEC)) < 0)
            return fail("peek", rc);
        if ((rc = shmkit_ring_send(ro, p, len, 10 * SEC)) < 0)
            return fail("send", rc);
        shmkit_ring_release(ri);
    }
    shmkit_ring_close(ri);
    shmkit_ring_close(ro);
    shmkit_close(si);
    shmkit_close(so);
    return 0;
}

static int mutex(const char *name)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    shmkit_seg *seg;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0)
        return fail(name, rc);
    struct shmkit_mutex *m = shmkit_seg_data(seg);
    rc = shmkit_mutex_timedlock(m, 10 * SEC);
    if (rc == SHMKIT_EOWNERDEAD) {
        printf("ownerdead\n");
        rc = shmkit_mutex_consistent(m);
    }
    if (rc < 0)
        return fail("lock", rc);
    printf("locked\n");
    shmkit_mutex_unlock(m);
    shmkit_close(seg);
    return 0;
}

static int64_t now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * SEC + ts.tv_nsec;
}

static int pingpong(long n)
{
    shmkit_seg *s[2];
    shmkit_ring *r[2];
    for (int k = 0; k < 2; k++) {
        struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(1 << 16),
                                .flags = SHMKIT_CREATE};
        int rc = shmkit_open(&s[k], &o);
        if (rc < 0)
            return fail("open", rc);
    }
    int rc;
    if ((rc = shmkit_ring_create(&r[0], s[0], 1 << 16, SHMKIT_RING_PRODUCER)) < 0 ||
        (rc = shmkit_ring_create(&r[1], s[1], 1 << 16, SHMKIT_RING_CONSUMER)) < 0)
        return fail("ring", rc);
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork", -errno);
    char buf[64] = {0};
    if (pid == 0) { /* echo: consumer of 0, producer of 1 (the parent's handles unused) */
        if (shmkit_ring_attach(&r[0], s[0], SHMKIT_RING_CONSUMER) < 0 ||
            shmkit_ring_attach(&r[1], s[1], SHMKIT_RING_PRODUCER) < 0)
            _exit(1);
        for (long i = 0; i < n + 1000; i++) {
            if (shmkit_ring_recv(r[0], buf, sizeof buf, 10 * SEC) < 0 ||
                shmkit_ring_send(r[1], buf, sizeof buf, 10 * SEC) < 0)
                _exit(1);
        }
        _exit(0);
    }
    int64_t t0 = 0;
    for (long i = 0; i < n + 1000; i++) {
        if (i == 1000) /* warm-up done */
            t0 = now();
        if ((rc = shmkit_ring_send(r[0], buf, sizeof buf, 10 * SEC)) < 0 ||
            (rc = shmkit_ring_recv(r[1], buf, sizeof buf, 10 * SEC)) < 0)
            return fail("pingpong", rc);
    }
    int64_t t = now() - t0;
    int st;
    waitpid(pid, &st, 0);
    for (int k = 0; k < 2; k++) {
        shmkit_ring_close(r[k]);
        shmkit_close(s[k]);
    }
    printf("ns_per_rt %.1f\n", (double)t / (double)n);
    return 0;
}

static int rpc(long n)
{
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 64, .max_clients = 1};
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_rpc_size_for(64, 64, 1),
                            .flags = SHMKIT_CREATE};
    shmkit_seg *seg;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0 || (rc = shmkit_rpc_init(seg, &cfg)) < 0)
        return fail("rpc", rc);
    pid_t pid = fork();
    if (pid < 0)
        return fail("fork", -errno);
    if (pid == 0) { /* the echo server */
        shmkit_rpc_server *srv;
        if (shmkit_rpc_server_attach(&srv, seg) < 0)
            _exit(1);
        for (long i = 0; i < n + 1000; i++) {
            struct shmkit_rpc_request q;
            if (shmkit_rpc_recv(srv, &q, 10 * SEC) < 0 ||
                shmkit_rpc_reply_send(srv, &q, q.data, q.len) < 0)
                _exit(1);
        }
        _exit(0);
    }
    shmkit_rpc_client *cli;
    if ((rc = shmkit_rpc_client_attach(&cli, seg)) < 0)
        return fail("client", rc);
    char buf[64] = {0};
    int64_t t0 = 0;
    for (long i = 0; i < n + 1000; i++) {
        if (i == 1000) /* warm-up done */
            t0 = now();
        if ((rc = shmkit_rpc_call(cli, buf, sizeof buf, buf, sizeof buf, 10 * SEC)) != 64)
            return fail("call", rc < 0 ? rc : -EPROTO);
    }
    int64_t t = now() - t0;
    int st;
    waitpid(pid, &st, 0);
    shmkit_rpc_client_close(cli);
    shmkit_close(seg);
    printf("ns_per_rt %.1f\n", (double)t / (double)n);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc == 5 && !strcmp(argv[1], "echo"))
        return echo(argv[2], argv[3], atol(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "mutex"))
        return mutex(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "pingpong"))
        return pingpong(atol(argv[2]));
    if (argc == 3 && !strcmp(argv[1], "rpc"))
        return rpc(atol(argv[2]));
    fprintf(stderr, "usage: c_peer echo IN OUT N | mutex NAME | pingpong N | rpc N\n");
    return 2;
}
