/* fuzz_ring.c - random bytes as a ring's payload (control block, indices,
 * records): attach, stats, peek/release and reserve/commit must return
 * codes, never read or write outside the segment; claim words in any state
 * (naming live, dead or impossible owners) are tolerated. The first input
 * byte picks the ring kind, how many messages to try and whether the
 * geometry is kept valid; with mode bit 6 the record at the head is made a
 * cut-through one (REC_WIP, of a length and progress word taken from the
 * input), so that recv's copy-out of a message still being written, the
 * batch calls and a producer's withdrawal of a dead writer's record meet
 * every state. */
#include "chan.h"
#include "shmkit.h"

#include <string.h>

#define CAP 4096

static shmkit_seg *seg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!seg) {
        struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(CAP),
                                .flags = SHMKIT_CREATE};
        if (shmkit_open(&seg, &o) < 0)
            __builtin_trap();
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    shmkit_ring *r = NULL;
    /* a valid header and layout parameters, then the hostile payload */
    if (shmkit_ring_create(&r, seg, CAP,
                           SHMKIT_RING_CONSUMER | ((mode & 1) ? SHMKIT_RING_MULTI : 0)) < 0)
        __builtin_trap();
    shmkit_ring_close(r);
    /* create writes only the control block and the first record header:
     * clear the rest so that an input does not see the previous one's */
    size_t n = size - 1 < shmkit_seg_size(seg) ? size - 1 : shmkit_seg_size(seg);
    unsigned char geo[64]; /* magic, version, geometry: the control block's first line */
    memcpy(geo, shmkit_seg_data(seg), sizeof geo);
    memset(shmkit_seg_data(seg), 0, shmkit_seg_size(seg));
    memcpy(shmkit_seg_data(seg), data + 1, n);
    /* mode bit 7: keep the valid geometry, so that the hostile bytes reach
     * the indices, the records, the claim words and the producers' lock */
    if (mode & 0x80)
        memcpy(shmkit_seg_data(seg), geo, sizeof geo);
    if ((mode & 0x40) && size >= 9) {
        /* a REC_WIP record at the head: length and progress from the input */
        struct ring_ctl *ctl = shmkit_seg_data(seg);
        uint32_t len;
        uint64_t head = shmkit__load_relaxed(&ctl->head);
        memcpy(&len, data + size - 4, 4);
        len %= CAP;
        uint64_t w = REC_WIP | len;
        memcpy((unsigned char *)ctl + RING_DATA_OFF + (head & (CAP - 1) & ~(uint64_t)7), &w, 8);
        ctl->wip_pos = head + (uint64_t)data[size - 5] * 64;
    }

    struct shmkit_chan_stats st;
    shmkit_chan_stats(seg, &st);

    volatile unsigned sum = 0;
    r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_CONSUMER | SHMKIT_RING_TAKEOVER) == 0) {
        for (int i = 0; i < 64; i++) {
            const void *p;
            size_t len;
            if (shmkit_ring_peek(r, &p, &len, 0) < 0)
                break;
            for (size_t k = 0; k < len; k++)
                sum += ((const unsigned char *)p)[k];
            shmkit_ring_release(r);
        }
        shmkit_ring_close(r);
    }
    r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_CONSUMER | SHMKIT_RING_TAKEOVER) == 0) {
        /* recv with a (short) wait takes a REC_WIP record and copies it out
         * as far as the progress word says; recv_many takes whole ones */
        static unsigned char buf[CAP];
        struct iovec v[4] = {{buf, 1000}, {buf + 1000, 1000}, {buf + 2000, 1000}, {buf + 3000, 1096}};
        size_t lens[4];
        for (int i = 0; i < 4; i++) {
            int rc = i % 2 ? shmkit_ring_recv_many(r, v, lens, 4, 0)
                           : shmkit_ring_recv(r, buf, sizeof buf, 20000);
            if (rc < 0 && rc != -EMSGSIZE)
                break;
        }
        shmkit_ring_close(r);
    }
    r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER | SHMKIT_RING_TAKEOVER) == 0) {
        /* a batch first: the attach withdrew a REC_WIP record at the tail */
        static unsigned char src[CAP];
        struct iovec v[3] = {{src, data[0] % 200}, {src, size % 300}, {src, 8}};
        shmkit_ring_send_many(r, v, 3, 0);
        for (unsigned i = 0; i < (mode >> 1) % 32; i++) {
            void *p;
            size_t len = (size_t)(data[(i * 7) % size]) * (i + 1);
            if (i % 2) {
                /* send's own path for small messages (the cached head) */
                if (shmkit_ring_send(r, src, len, 0) < 0)
                    break;
                continue;
            }
            if (shmkit_ring_reserve(r, len, &p, 0) < 0)
                break;
            memset(p, 0x5a, len);
            shmkit_ring_commit(r, len);
        }
        shmkit_ring_close(r);
    }
    (void)sum;
    return 0;
}
