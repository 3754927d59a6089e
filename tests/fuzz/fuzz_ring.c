/* fuzz_ring.c - random bytes as a ring's payload (control block, indices,
 * records): attach, stats, peek/release and reserve/commit must return
 * codes, never read or write outside the segment; claim words in any state
 * (naming live, dead or impossible owners) are tolerated. The first input
 * byte picks the ring kind, how many messages to try and whether the
 * geometry is kept valid. */
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
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER | SHMKIT_RING_TAKEOVER) == 0) {
        for (unsigned i = 0; i < (mode >> 1) % 32; i++) {
            void *p;
            size_t len = (size_t)(data[(i * 7) % size]) * (i + 1);
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
