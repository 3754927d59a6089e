/* t_ring_threads.c - ThreadSanitizer run of the ring (single and multi
 * producer) and the bus (both modes) with threads on an anonymous segment:
 * the ordering of every shared access is checked, not just the results. */
#include "shmkit.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>

#define N 20000

static shmkit_seg *seg;
static int nprod = 1;

static void *produce(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    shmkit_ring *r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER) < 0)
        return (void *)1;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t msg[8] = {id, i, i * 7 + id};
        size_t len = 12 + (i % 5) * 4;
        if (shmkit_ring_send(r, msg, len, 10000000000) < 0)
            return (void *)2;
    }
    shmkit_ring_close(r);
    return NULL;
}

static int ring_round(unsigned flags, int producers)
{
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_CONSUMER | flags) < 0)
        return -1;
    pthread_t t[4];
    nprod = producers;
    for (int i = 0; i < producers; i++)
        pthread_create(&t[i], NULL, produce, (void *)(uintptr_t)i);
    uint32_t next[4] = {0};
    int bad = 0, got = 0;
    while (got < N * producers) {
        uint32_t m[8];
        int rc = shmkit_ring_recv(c, m, sizeof m, 10000000000);
        if (rc < 12 || m[0] >= (uint32_t)producers || m[1] != next[m[0]] ||
            m[2] != m[1] * 7 + m[0]) {
            bad++;
            if (rc < 0)
                break;
        } else {
            next[m[0]]++;
        }
        got++;
    }
    for (int i = 0; i < producers; i++) {
        void *res;
        pthread_join(t[i], &res);
        bad += res != NULL;
    }
    shmkit_ring_close(c);
    return bad;
}

static void *subscribe(void *arg)
{
    shmkit_sub *s = arg;
    uint64_t last = 0, seq, lost = 0, got = 0;
    uint32_t v;
    for (;;) {
        int rc = shmkit_bus_recv(s, &v, sizeof v, &seq, &lost, 10000000000);
        if (rc == SHMKIT_ECLOSED)
            break; /* the publisher closed, all drained */
        if (rc != 4 || seq <= last || v + 1 != seq)
            return (void *)1;
        last = seq;
        got++;
    }
    shmkit_bus_unsubscribe(s);
    return got + lost == N ? NULL : (void *)2;
}

static int bus_round(unsigned flags)
{
    shmkit_bus *b = NULL;
    shmkit_sub *s[2];
    if (shmkit_bus_create(&b, seg, 64, 64, 8, flags) < 0)
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
    is_int(ring_round(0, 1), 0, "ring, 1 producer thread -> 1 consumer thread");
    is_int(ring_round(SHMKIT_RING_MULTI, 3), 0, "MULTI ring, 3 producer threads -> 1 consumer");
    is_int(bus_round(0), 0, "back-pressure bus, 2 subscriber threads");
    is_int(bus_round(SHMKIT_BUS_LOSSY), 0, "lossy bus, 2 subscriber threads");
    shmkit_close(seg);
    return tap_done();
}
