/* t_ring_ct_threads.c - ThreadSanitizer run of the ring's newer paths with
 * threads on an anonymous segment: cut-through (a large send's progress
 * word, read by a recv copying the message out while it is copied in) and
 * the batch calls (several records published by one header store, the
 * head published once per batch), mixed with the plain calls, on a single
 * and a MULTI ring. The ordering of every shared access is checked, not
 * just the results. */
#include "shmkit.h"
#include "tap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CAP (1u << 20)
#define BIGMSG (400u << 10) /* above the cut-through threshold (a third of the ring) */
#define N 3000

static shmkit_seg *seg;

/* Message I of producer ID: its length, and its bytes derived from both. */
static size_t msg_len(uint32_t id, uint32_t i)
{
    return i % 90 == 7 ? BIGMSG - (i % 13) * 8 : 8 + (i * 13 + id) % 120;
}

static void msg_fill(unsigned char *b, size_t len, uint32_t id, uint32_t i)
{
    memcpy(b, &id, 4);
    memcpy(b + 4, &i, 4);
    for (size_t k = 8; k < len; k++)
        b[k] = (unsigned char)(k * 31 + i * 7 + id);
}

static int msg_ok(const unsigned char *b, size_t len, uint32_t *id, uint32_t *i)
{
    if (len < 8)
        return 0;
    memcpy(id, b, 4);
    memcpy(i, b + 4, 4);
    if (len != msg_len(*id, *i))
        return 0;
    for (size_t k = 8; k < len; k++)
        if (b[k] != (unsigned char)(k * 31 + *i * 7 + *id))
            return 0;
    return 1;
}

static void *produce(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    shmkit_ring *r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER) < 0)
        return (void *)1;
    unsigned char *buf = malloc(8 * BIGMSG);
    if (!buf)
        return (void *)2;
    for (uint32_t i = 0; i < N;) {
        /* a batch of up to 4 (the large ones alone), or a plain send */
        struct iovec v[4];
        uint32_t n = 0;
        while (n < 4 && i + n < N && (n == 0 || msg_len(id, i + n) < 1024)) {
            size_t len = msg_len(id, i + n);
            msg_fill(buf + (size_t)n * BIGMSG, len, id, i + n);
            v[n] = (struct iovec){buf + (size_t)n * BIGMSG, len};
            n++;
            if (len >= 1024 || (i + n) % 3 == 0)
                break;
        }
        int k;
        if (n == 1 && i % 2)
            k = shmkit_ring_send(r, v[0].iov_base, v[0].iov_len, 10000000000) == 0 ? 1 : -1;
        else
            k = shmkit_ring_send_many(r, v, n, 10000000000);
        if (k <= 0)
            return (void *)3;
        i += (uint32_t)k;
    }
    free(buf);
    shmkit_ring_close(r);
    return NULL;
}

static int round_(unsigned flags, int producers)
{
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, CAP, SHMKIT_RING_CONSUMER | flags) < 0)
        return -1;
    pthread_t t[3];
    for (int i = 0; i < producers; i++)
        pthread_create(&t[i], NULL, produce, (void *)(uintptr_t)i);
    unsigned char *buf = malloc(4 * BIGMSG);
    uint32_t next[3] = {0};
    int bad = 0, got = 0;
    for (int call = 0; got < N * producers; call++) {
        struct iovec v[4];
        size_t lens[4];
        for (int k = 0; k < 4; k++)
            v[k] = (struct iovec){buf + (size_t)k * BIGMSG, BIGMSG};
        int k;
        if (call % 2) {
            int rc = shmkit_ring_recv(c, v[0].iov_base, BIGMSG, 10000000000);
            k = rc < 0 ? rc : 1;
            lens[0] = (size_t)rc;
        } else {
            k = shmkit_ring_recv_many(c, v, lens, 4, 10000000000);
        }
        if (k <= 0) {
            bad++;
            break;
        }
        for (int j = 0; j < k; j++) {
            uint32_t id, i;
            if (!msg_ok(v[j].iov_base, lens[j], &id, &i) || id >= (uint32_t)producers ||
                i != next[id])
                bad++;
            else
                next[id]++;
        }
        got += k;
    }
    for (int i = 0; i < producers; i++) {
        void *res;
        pthread_join(t[i], &res);
        bad += res != NULL;
    }
    free(buf);
    shmkit_ring_close(c);
    return bad;
}

int main(void)
{
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(CAP),
                            .flags = SHMKIT_CREATE};
    if (shmkit_open(&seg, &o) < 0)
        tap_bail("anon segment");
    is_int(round_(0, 1), 0, "cut-through and batches: 1 producer thread -> 1 consumer thread");
    is_int(round_(SHMKIT_RING_MULTI, 3), 0, "... MULTI ring, 3 producer threads -> 1 consumer");
    shmkit_close(seg);
    return tap_done();
}
