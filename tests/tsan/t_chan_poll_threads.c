/* t_chan_poll_threads.c - ThreadSanitizer run of the ring's and the bus's
 * pollable descriptors with threads on an anonymous segment: receivers
 * that arm in their try calls and wait in epoll_wait, senders that take
 * the armed flag and read the token next to it (ring: consumer and
 * producer both armed; bus: two subscribers' records, scanned by the
 * publisher). Every message arrives in order; a wait of a whole second
 * with a message there (a lost wake-up) fails the round. */
#include "shmkit.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#define N 20000

static shmkit_seg *seg;

static int epoll_of(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};
    if (fd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    return ep;
}

/* 1 if something woke EP within a second. */
static int wait_ep(int ep)
{
    struct epoll_event ev;
    int n;
    do
        n = epoll_wait(ep, &ev, 1, 1000);
    while (n < 0 && errno == EINTR);
    return n > 0;
}

static void *produce(void *arg)
{
    shmkit_ring *p = arg;
    int ep = epoll_of(shmkit_ring_fd(p));
    if (ep < 0)
        return (void *)1;
    for (uint32_t i = 0; i < N;) {
        int rc = shmkit_ring_send(p, &i, sizeof i, 0);
        if (rc == 0) {
            i++;
        } else if (rc != -EAGAIN) {
            return (void *)2;
        } else if (!wait_ep(ep) && shmkit_ring_send(p, &i, sizeof i, 0) == 0) {
            return (void *)3; /* room was there while we slept */
        }
    }
    close(ep);
    shmkit_ring_close(p);
    return NULL;
}

static int ring_round(void)
{
    shmkit_ring *c, *p;
    /* a small ring: the producer fills it and waits for room too */
    if (shmkit_ring_create(&c, seg, 256, SHMKIT_RING_CONSUMER) < 0 ||
        shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        return -1;
    int ep = epoll_of(shmkit_ring_fd(c));
    pthread_t t;
    pthread_create(&t, NULL, produce, p);
    int bad = ep < 0;
    for (uint32_t next = 0; next < N && !bad;) {
        uint32_t v;
        int rc = shmkit_ring_recv(c, &v, sizeof v, 0);
        if (rc == (int)sizeof v)
            bad += v != next++;
        else if (rc != -EAGAIN)
            bad++;
        else if (!wait_ep(ep) && shmkit_ring_recv(c, &v, sizeof v, 0) == (int)sizeof v)
            bad++; /* a message there while we slept */
    }
    void *res;
    pthread_join(t, &res);
    close(ep);
    shmkit_ring_close(c);
    return bad + (res != NULL);
}

static void *subscribe(void *arg)
{
    shmkit_sub *s = arg;
    int ep = epoll_of(shmkit_sub_fd(s));
    if (ep < 0)
        return (void *)1;
    for (uint32_t next = 0;;) {
        uint32_t v;
        int rc = shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0);
        if (rc == (int)sizeof v) {
            if (v != next++)
                return (void *)2;
        } else if (rc == SHMKIT_ECLOSED) {
            close(ep);
            shmkit_bus_unsubscribe(s);
            return next == N ? NULL : (void *)3;
        } else if (rc != -EAGAIN) {
            return (void *)4;
        } else if (!wait_ep(ep) && shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0) >= 0) {
            return (void *)5;
        }
    }
}

static int bus_round(void)
{
    shmkit_bus *b;
    shmkit_sub *s[2];
    if (shmkit_bus_create(&b, seg, 16, 64, 8, 0) < 0)
        return -1;
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        if (shmkit_bus_subscribe(&s[i], seg) < 0)
            return -1;
        pthread_create(&t[i], NULL, subscribe, s[i]);
    }
    int bad = 0;
    for (uint32_t i = 0; i < N; i++)
        bad += shmkit_bus_send(b, &i, 4, 10000000000) < 0;
    shmkit_bus_close(b);
    for (int i = 0; i < 2; i++) {
        void *res;
        pthread_join(t[i], &res);
        bad += res != NULL;
    }
    return bad;
}

int main(void)
{
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = 1 << 16, .flags = SHMKIT_CREATE};
    if (shmkit_open(&seg, &o) < 0)
        tap_bail("anon segment");
    is_int(ring_round(), 0, "ring: consumer and producer threads, both in epoll");
    is_int(bus_round(), 0, "back-pressure bus: 2 subscriber threads in epoll");
    shmkit_close(seg);
    return tap_done();
}
