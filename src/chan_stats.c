/* chan_stats.c - statistics of a ring or bus, read from any process
 * (`shmkit watch`), never writing to the segment. */
#include "chan.h"

#include <string.h>

int shmkit__ring_stats(const struct ring_ctl *c, size_t size, struct shmkit_chan_stats *st)
{
    struct ring_geo g;
    int rc = shmkit__ring_geo(c, size, &g);
    if (rc < 0)
        return rc;
    st->layout = SHMKIT_LAYOUT_RING;
    st->flags = g.flags;
    st->capacity = g.cap;
    st->msg_max = g.max_msg;
    uint64_t t = shmkit__load_acquire(&c->tail);
    uint64_t h = shmkit__load_acquire(&c->head);
    st->used = t - h <= g.cap ? t - h : 0;
    st->msgs_in = chan_load(&c->msgs_in);
    st->bytes_in = chan_load(&c->bytes_in);
    st->msgs_out = chan_load(&c->msgs_out);
    st->bytes_out = chan_load(&c->bytes_out);
    st->waits = chan_load(&c->prod_waits) + chan_load(&c->cons_waits);
    st->wakes = chan_load(&c->prod_wakes) + chan_load(&c->cons_wakes);
    st->overruns = chan_load(&c->full);
    st->takeovers = chan_load(&c->takeovers);
    unsigned n = (g.flags & SHMKIT_RING_MULTI) ? RING_PROD_SLOTS : 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = claim_load(&c->prods[i].claim);
        if (claim_state(w) != CLAIM_ATTACHED)
            continue;
        int alive = claim_held(w);
        st->writers += (uint32_t)alive;
        if (!st->writer_pid || (alive && !st->writer_alive)) {
            st->writer_pid = claim_pid(w);
            st->writer_alive = alive;
        }
    }
    uint64_t w = claim_load(&c->cons_claim);
    if (claim_state(w) == CLAIM_ATTACHED) {
        st->reader_pid = claim_pid(w);
        st->reader_alive = claim_held(w);
        st->readers = (uint32_t)st->reader_alive;
    }
    st->max_readers = 1;
    return 0;
}

int shmkit_chan_stats(const shmkit_seg *seg, struct shmkit_chan_stats *st)
{
    if (!seg || !st)
        return -EINVAL;
    uint32_t layout;
    uint64_t param[4];
    int rc = shmkit__seg_layout(seg, &layout, param); /* one header read */
    if (rc < 0)
        return rc;
    memset(st, 0, sizeof *st);
    const void *p = shmkit_seg_data(seg);
    size_t size = shmkit_seg_size(seg);
    if (layout == SHMKIT_LAYOUT_RING)
        return shmkit__ring_stats(p, size, st);
    if (layout == SHMKIT_LAYOUT_BUS)
        return shmkit__bus_stats(p, size, st);
    return SHMKIT_ELAYOUT;
}
