/*
 * race_control.c - a small service over request/response: F1 race control
 * answers "lap times of car N", from an epoll loop that also runs the race.
 *
 * WHAT IT TEACHES
 *   A SERVICE is one server and many clients sharing one named segment (an
 *   RPC endpoint): a client's call is matched to its answer, whoever asks
 *   and however many ask at once, and a client learns if the server died
 *   (SHMKIT_EPEERDEAD) instead of waiting for ever. The server here never
 *   blocks in the library: its descriptor (shmkit_rpc_server_fd) sits in an
 *   epoll set beside a timerfd that advances the race, so one thread both
 *   serves and works - the shape of any program with an event loop (libuv,
 *   GLib, a game loop). The rule: when the descriptor is readable, take
 *   requests with a try call (timeout 0) until it says -EAGAIN; that
 *   -EAGAIN arms the descriptor, so no request can slip in unnoticed.
 *
 * USAGE   race_control serve NAME [SECONDS]   creates the endpoint, runs a race of
 *                                             SECONDS (default 3; a lap every 0.1 s),
 *                                             answers questions, removes NAME at the end
 *         race_control ask NAME CAR           prints CAR's lap times so far
 *         shmkit call NAME <<< 'car 7'        the same question from the command line
 */
#include <shmkit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define SEC 1000000000LL
#define CARS 20
#define MAX_LAPS 100

struct race {
    int laps;                        /* laps completed by every car */
    uint32_t ms[CARS + 1][MAX_LAPS]; /* lap times, cars numbered 1..CARS */
};

/* A lap time that depends on car and lap: about 1:30, the faster cars first. */
static uint32_t lap_time(int car, int lap)
{
    uint32_t h = (uint32_t)(car * 7919 + lap * 104729);
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    return 88000u + (uint32_t)car * 90u + (h >> 8) % 1500u;
}

/* "car N" -> the answer: "car N: 1:29.412 1:30.001 ..." or an error line. */
static size_t answer(const struct race *r, const char *q, size_t qlen, char *out, size_t cap)
{
    char buf[32];
    size_t n = qlen < sizeof buf - 1 ? qlen : sizeof buf - 1;
    memcpy(buf, q, n);
    buf[n] = '\0';
    int car = 0;
    if (sscanf(buf, "car %d", &car) != 1 || car < 1 || car > CARS)
        return (size_t)snprintf(out, cap, "race control: ask 'car N', N from 1 to %d\n", CARS);
    size_t len = (size_t)snprintf(out, cap, "car %d, %d laps:", car, r->laps);
    for (int l = 0; l < r->laps && len + 12 < cap; l++) {
        uint32_t t = r->ms[car][l];
        len += (size_t)snprintf(out + len, cap - len, " %u:%02u.%03u", t / 60000, t / 1000 % 60,
                                t % 1000);
    }
    len += (size_t)snprintf(out + len, cap - len, "\n");
    return len < cap ? len : cap;
}

static int serve(const char *name, double seconds)
{
    struct shmkit_opts where = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_CREATE};
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 2048, .max_clients = 16};
    shmkit_rpc_server *s;
    int rc = shmkit_rpc_server_open(&s, &where, &cfg);
    if (rc < 0) {
        fprintf(stderr, "race_control: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    int fd = shmkit_rpc_server_fd(s);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec lap = {.it_interval = {0, SEC / 10}, .it_value = {0, SEC / 10}};
    struct epoll_event rpc_ev = {.events = EPOLLIN, .data.fd = fd};
    struct epoll_event tim_ev = {.events = EPOLLIN, .data.fd = tfd};
    if (fd < 0 || ep < 0 || tfd < 0 || timerfd_settime(tfd, 0, &lap, NULL) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &rpc_ev) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tim_ev) < 0) {
        perror("race_control: epoll");
        return 1;
    }
    static struct race race;
    int total_laps = (int)(seconds * 10) < MAX_LAPS ? (int)(seconds * 10) : MAX_LAPS;
    long answered = 0;
    printf("race control on %s: %d cars, %d laps\n", name, CARS, total_laps);
    fflush(stdout);
    while (race.laps < total_laps) {
        /* serve everything pending; the -EAGAIN that ends this arms the
         * descriptor for epoll_wait */
        struct shmkit_rpc_request q;
        while ((rc = shmkit_rpc_recv(s, &q, 0)) == 0) {
            void *p;
            if (shmkit_rpc_reply_loan(s, &q, 2048, &p) == 0) {
                size_t n = answer(&race, q.data, q.len, p, 2048);
                shmkit_rpc_reply_commit(s, &q, n);
                answered++;
            }
        }
        if (rc != -EAGAIN)
            fprintf(stderr, "race control: %s\n", shmkit_strerror(rc));
        struct epoll_event ev[2];
        int n = epoll_wait(ep, ev, 2, -1);
        for (int i = 0; i < n; i++) {
            uint64_t ticks;
            if (ev[i].data.fd != tfd || read(tfd, &ticks, 8) != 8)
                continue;
            for (; ticks > 0 && race.laps < total_laps; ticks--) {
                for (int car = 1; car <= CARS; car++)
                    race.ms[car][race.laps] = lap_time(car, race.laps);
                race.laps++;
            }
        }
    }
    printf("chequered flag after %d laps, %ld questions answered\n", race.laps, answered);
    close(tfd);
    close(ep);
    shmkit_seg_remove(shmkit_rpc_server_seg(s));
    shmkit_rpc_server_close(s);
    return 0;
}

static int ask(const char *name, const char *car)
{
    struct shmkit_opts where = {.kind = SHMKIT_POSIX, .name = name};
    struct shmkit_rpc_config cfg = {.timeout_ns = 5 * SEC}; /* the server may start later */
    shmkit_rpc_client *c;
    int rc = shmkit_rpc_client_open(&c, &where, &cfg);
    if (rc < 0) {
        fprintf(stderr, "race_control: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    char q[32], out[2048];
    int qn = snprintf(q, sizeof q, "car %s", car);
    int n = shmkit_rpc_call(c, q, (size_t)qn, out, sizeof out, 5 * SEC);
    shmkit_rpc_client_close(c);
    if (n < 0) {
        fprintf(stderr, "race_control: %s\n", shmkit_strerror(n));
        return 1;
    }
    fwrite(out, 1, (size_t)n, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "serve"))
        return serve(argv[2], argc > 3 ? atof(argv[3]) : 3.0);
    if (argc == 4 && !strcmp(argv[1], "ask"))
        return ask(argv[2], argv[3]);
    fprintf(stderr, "usage: race_control serve NAME [SECONDS]\n"
                    "       race_control ask NAME CAR\n");
    return 2;
}
