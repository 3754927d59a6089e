/* fuzz_bus.c - random bytes as a bus's payload (control block, subscriber
 * records, slots): stats, subscribe, peek/recv, publish must return codes,
 * never touch memory outside the segment; claim words in any state are
 * tolerated. The first byte picks the mode (bit 7: keep the geometry). */
#include "shmkit.h"

#include <errno.h>
#include <string.h>

#define SLOTS 16
#define MSG 64
#define SUBS 8

static shmkit_seg *seg;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!seg) {
        struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_bus_size_for(SLOTS, MSG, SUBS),
                                .flags = SHMKIT_CREATE};
        if (shmkit_open(&seg, &o) < 0)
            __builtin_trap();
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    shmkit_bus *b = NULL;
    if (shmkit_bus_create(&b, seg, SLOTS, MSG, SUBS, (mode & 1) ? SHMKIT_BUS_LOSSY : 0) < 0)
        __builtin_trap();
    shmkit_bus_close(b);
    size_t n = size - 1 < shmkit_seg_size(seg) ? size - 1 : shmkit_seg_size(seg);
    unsigned char geo[64]; /* magic, version, geometry: the control block's first line */
    memcpy(geo, shmkit_seg_data(seg), sizeof geo);
    memcpy(shmkit_seg_data(seg), data + 1, n);
    /* mode bit 7: keep the valid geometry, so that the hostile bytes reach
     * the claim words, the cursors and the slots */
    if (mode & 0x80)
        memcpy(shmkit_seg_data(seg), geo, sizeof geo);

    struct shmkit_chan_stats st;
    shmkit_chan_stats(seg, &st);

    volatile unsigned sum = 0;
    shmkit_sub *s = NULL;
    if (shmkit_bus_subscribe(&s, seg) == 0) {
        char buf[MSG];
        for (int i = 0; i < 32; i++) {
            const void *p;
            size_t len;
            uint64_t seq, lost = 0;
            int rc;
            if (mode & 2) {
                rc = shmkit_bus_peek(s, &p, &len, &seq, &lost, 0);
                if (rc == 0) {
                    for (size_t k = 0; k < len; k++)
                        sum += ((const unsigned char *)p)[k];
                    shmkit_bus_release(s);
                }
            } else {
                rc = shmkit_bus_recv(s, buf, sizeof buf, &seq, &lost, 0);
            }
            if (rc < 0 && rc != -EMSGSIZE)
                break;
        }
        shmkit_bus_unsubscribe(s);
    }
    b = NULL;
    if (shmkit_bus_attach(&b, seg) == 0) {
        for (unsigned i = 0; i < (mode >> 2) % 40; i++)
            if (shmkit_bus_send(b, data, size < MSG ? size : MSG, 0) < 0)
                break;
        shmkit_bus_close(b);
    }
    (void)sum;
    return 0;
}
