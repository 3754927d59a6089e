/*
 * layout.c - what `info` and `watch` show about the structure a segment
 * holds. One small handler per layout, chosen by the header's layout tag;
 * each reads the segment only through the library's read-only stat
 * functions (which bounds-check everything they read).
 */
#include "cli.h"

#include <string.h>

/* Payloads up to this size get a checksum per sample (a change detector). */
#define BYTES_CRC_MAX (64u << 20)

static int bytes_stats(shmkit_seg *seg, struct emit *e, struct layout_state *st, double now)
{
    size_t len = shmkit_seg_size(seg);
    if (len > BYTES_CRC_MAX) {
        emit_str(e, "crc32c", NULL);
        return 0;
    }
    uint32_t crc = shmkit_crc32c(0, shmkit_seg_data(seg), len);
    emit_fmt(e, "crc32c", "0x%08x", crc);
    if (st) {
        if (st->have)
            emit_str(e, "changed", crc != (uint32_t)st->v[0] ? "yes" : "no");
        st->v[0] = crc;
        st->t = now;
        st->have = 1;
    }
    return 0;
}

/* The four geometry words every layout records in the header. */
static int params(shmkit_seg *seg, struct emit *e)
{
    uint64_t p[4];
    for (unsigned i = 0; i < 4; i++) {
        int rc = shmkit_seg_layout_param(seg, i, &p[i]);
        if (rc < 0)
            return rc;
    }
    emit_fmt(e, "params", "%llu %llu %llu %llu", (unsigned long long)p[0],
             (unsigned long long)p[1], (unsigned long long)p[2], (unsigned long long)p[3]);
    return 0;
}

static int channel_stats(shmkit_seg *seg, uint32_t layout, struct emit *e,
                         struct layout_state *st, double now)
{
    (void)layout;
    (void)st;
    (void)now;
    int rc = params(seg, e);
    if (rc < 0)
        return rc;
    /* ring/bus/table statistics join here once the library exposes them */
    emit_str(e, "stats", "not provided by this libshmkit");
    return 0;
}

int layout_stats(shmkit_seg *seg, uint32_t layout, struct emit *e, struct layout_state *st,
                 double now)
{
    switch (layout) {
    case SHMKIT_LAYOUT_BYTES:
        return bytes_stats(seg, e, st, now);
    case SHMKIT_LAYOUT_RING:
    case SHMKIT_LAYOUT_BUS:
    case SHMKIT_LAYOUT_TABLE:
        return channel_stats(seg, layout, e, st, now);
    default:
        return SHMKIT_ELAYOUT;
    }
}
