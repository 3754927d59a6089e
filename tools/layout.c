/*
 * layout.c - what `info` and `watch` show about the structure a segment
 * holds. One small handler per layout, chosen by the header's layout tag;
 * each reads the segment only through the library's read-only statistics
 * (shmkit_chan_stats, shmkit_table_stats, shmkit_rpc_stats), which validate the control
 * blocks before reading them, or (plain bytes) through payload.c.
 */
#include "cli.h"

#include <errno.h>
#include <string.h>

/* Payloads up to this size get a checksum per sample (a change detector):
 * the bound on what info and watch read of plain bytes. */
#define BYTES_CRC_MAX (64u << 20)

/* Per-second rate of counter V (slot I of the previous sample), or -1 on the
 * first sample. */
static double rate(struct layout_state *st, unsigned i, uint64_t v, double now)
{
    double r = -1;
    if (st && st->have && now > st->t && v >= st->v[i])
        r = (double)(v - st->v[i]) / (now - st->t);
    if (st)
        st->v[i] = v;
    return r;
}

static void emit_rate(struct emit *e, const char *key, double r, const char *unit)
{
    if (r < 0)
        return; /* the first sample has nothing to compare with */
    emit_fmt(e, key, "%.1f%s", r, unit);
}

static const char *alive_word(int32_t pid, int32_t alive)
{
    return pid <= 0 ? "none" : alive ? "alive" : "dead";
}

static int bytes_stats(shmkit_seg *seg, struct emit *e, struct layout_state *st)
{
    size_t len = shmkit_seg_size(seg);
    if (len > BYTES_CRC_MAX) {
        emit_str(e, "crc32c", NULL);
        return 0;
    }
    /* read with pread, holes skipped: a sparse segment is not filled in */
    struct payload p;
    uint32_t crc;
    payload_init(&p, seg, 0);
    int rc = payload_crc(&p, &crc);
    if (rc < 0) {
        emit_str(e, "crc32c", NULL);
        return rc == -ENODATA ? SHMKIT_ETRUNCATED : rc;
    }
    emit_fmt(e, "crc32c", "0x%08x", crc);
    if (st) {
        if (st->have)
            emit_str(e, "changed", crc != (uint32_t)st->v[0] ? "yes" : "no");
        st->v[0] = crc;
    }
    return 0;
}

static int chan_stats(shmkit_seg *seg, uint32_t layout, struct emit *e, struct layout_state *st,
                      double now)
{
    struct shmkit_chan_stats cs;
    char h1[16], h2[16];
    int rc = shmkit_chan_stats(seg, &cs);
    if (rc < 0)
        return rc;
    int ring = layout == SHMKIT_LAYOUT_RING;
    if (ring) {
        emit_str(e, "mode", (cs.flags & SHMKIT_RING_MULTI) ? "multi-producer" : "single-producer");
        emit_fmt(e, "capacity", "%s (largest message %s)", fmt_human(cs.capacity, h1, sizeof h1),
                 fmt_human(cs.msg_max, h2, sizeof h2));
        emit_fmt(e, "fill", "%llu bytes (%.1f%%)", (unsigned long long)cs.used,
                 cs.capacity ? 100.0 * (double)cs.used / (double)cs.capacity : 0.0);
    } else {
        emit_str(e, "mode", (cs.flags & SHMKIT_BUS_LOSSY) ? "lossy" : "back-pressure");
        emit_num(e, "slots", (long long)cs.capacity);
        emit_num(e, "max_msg_bytes", (long long)cs.msg_max);
        emit_fmt(e, "subscribers", "%u of %u", cs.readers, cs.max_readers);
        emit_num(e, "lag", (long long)cs.used);
    }
    emit_num(e, ring ? "msgs_in" : "published", (long long)cs.msgs_in);
    emit_num(e, "bytes_in", (long long)cs.bytes_in);
    emit_num(e, ring ? "msgs_out" : "received", (long long)cs.msgs_out);
    emit_num(e, "bytes_out", (long long)cs.bytes_out);
    emit_num(e, "waits", (long long)cs.waits);
    emit_num(e, "wakes", (long long)cs.wakes);
    emit_num(e, ring ? "full" : "lost", (long long)cs.overruns);
    emit_num(e, "takeovers", (long long)cs.takeovers);
    emit_fmt(e, ring ? "producer" : "publisher", "%d (%s)", cs.writer_pid,
             alive_word(cs.writer_pid, cs.writer_alive));
    if (ring) {
        emit_fmt(e, "consumer", "%d (%s)", cs.reader_pid,
                 alive_word(cs.reader_pid, cs.reader_alive));
        if (cs.flags & SHMKIT_RING_MULTI)
            emit_num(e, "producers", cs.writers);
    }
    /* rates between samples (watch) */
    double in = rate(st, 0, cs.msgs_in, now), out = rate(st, 1, cs.msgs_out, now);
    double bin = rate(st, 2, cs.bytes_in, now);
    emit_rate(e, ring ? "in_rate" : "publish_rate", in, " msg/s");
    emit_rate(e, ring ? "out_rate" : "receive_rate", out, " msg/s");
    emit_rate(e, "in_bandwidth", bin >= 0 ? bin / 1e6 : -1, " MB/s");
    return 0;
}

static void emit_table(struct emit *e, const struct shmkit_table_stats *ts_, struct layout_state *st, double now)
{
    const struct shmkit_table_stats ts = *ts_;
    emit_num(e, "records", ts.count);
    emit_num(e, "record_size", ts.rec_size);
    emit_fmt(e, "type_id", "0x%llx", (unsigned long long)ts.type_id);
    emit_num(e, "owned", ts.owned);
    emit_num(e, "dead_owners", ts.dead);
    emit_num(e, "writing", ts.writing);
    emit_num(e, "writes", (long long)ts.writes);
    emit_num(e, "read_retries", (long long)ts.read_retries);
    emit_rate(e, "write_rate", rate(st, 0, ts.writes, now), " writes/s");
}

static int table_stats(const struct target *t, struct emit *e, struct layout_state *st, double now)
{
    struct shmkit_opts o;
    shmkit_table *tab = NULL;
    struct shmkit_table_stats ts;
    int rc = target_opts(t, SHMKIT_RDONLY, &o);
    if (rc < 0)
        return rc;
    rc = shmkit_table_open(&tab, &o, 0);
    if (rc < 0)
        return rc;
    rc = shmkit_table_stats(tab, &ts);
    if (rc == 0)
        emit_table(e, &ts, st, now);
    if (rc == 0 && ts.type_id == BRIDGE_STATS_TYPE)
        rc = bridge_stats(tab, e, st, now); /* a running shmkit-bridge's counters */
    shmkit_table_close(tab);
    return rc;
}

/* "12.3 us" into BUF. */
static const char *fmt_ns(double ns, char *buf, size_t len)
{
    if (ns < 1e3)
        snprintf(buf, len, "%.0f ns", ns);
    else if (ns < 1e6)
        snprintf(buf, len, "%.1f us", ns / 1e3);
    else
        snprintf(buf, len, "%.2f ms", ns / 1e6);
    return buf;
}

/* The clients' sampled call latency (shmkit_rpc_stats, CALL LATENCY): info
 * its average since the endpoint was made, watch the average over the last
 * interval ("-" when no call was timed in it, or a counter stepped back). */
static void emit_latency(struct emit *e, const struct shmkit_rpc_stats *rs, struct layout_state *st)
{
    char buf[32];
    emit_num(e, "lat_samples", rs->lat_samples > INT64_MAX ? INT64_MAX : (long long)rs->lat_samples);
    if (!st) {
        emit_str(e, "latency", rs->lat_samples ? fmt_ns((double)rs->lat_sum_ns /
                                                             (double)rs->lat_samples, buf, sizeof buf)
                                               : NULL);
        return;
    }
    uint64_t n = rs->lat_samples - st->v[1], sum = rs->lat_sum_ns - st->v[2];
    int fresh = st->have && rs->lat_samples > st->v[1] && rs->lat_sum_ns >= st->v[2];
    emit_str(e, "latency", fresh ? fmt_ns((double)sum / (double)n, buf, sizeof buf) : NULL);
    st->v[1] = rs->lat_samples;
    st->v[2] = rs->lat_sum_ns;
}

static int rpc_stats(shmkit_seg *seg, struct emit *e, struct layout_state *st, double now)
{
    struct shmkit_rpc_stats rs;
    char h1[16], h2[16];
    int rc = shmkit_rpc_stats(seg, &rs);
    if (rc < 0)
        return rc;
    emit_fmt(e, "clients", "%u of %u", rs.clients, rs.max_clients);
    emit_fmt(e, "largest", "request %s, response %s", fmt_human(rs.max_request, h1, sizeof h1),
             fmt_human(rs.max_response, h2, sizeof h2));
    emit_num(e, "pending", rs.pending);
    emit_num(e, "serving", rs.serving);
    emit_fmt(e, "server", "%d (%s)", rs.server_pid, alive_word(rs.server_pid, rs.server_alive));
    emit_num(e, "calls", (long long)rs.calls);
    emit_num(e, "replies", (long long)rs.replies);
    emit_num(e, "server_waits", (long long)rs.server_waits);
    emit_num(e, "takeovers", (long long)rs.takeovers);
    emit_rate(e, "call_rate", rate(st, 0, rs.replies, now), " calls/s");
    emit_latency(e, &rs, st);
    return 0;
}

int layout_stats(const struct target *t, shmkit_seg *seg, uint32_t layout, struct emit *e,
                 struct layout_state *st, double now)
{
    int rc;
    if (st && st->have && st->layout != layout)
        st->have = 0; /* re-initialised as another layout: rates restart */
    switch (layout) {
    case SHMKIT_LAYOUT_BYTES:
        rc = bytes_stats(seg, e, st);
        break;
    case SHMKIT_LAYOUT_RING:
    case SHMKIT_LAYOUT_BUS:
        rc = chan_stats(seg, layout, e, st, now);
        break;
    case SHMKIT_LAYOUT_TABLE:
        rc = table_stats(t, e, st, now);
        break;
    case SHMKIT_LAYOUT_RPC:
        rc = rpc_stats(seg, e, st, now);
        break;
    default:
        rc = SHMKIT_ELAYOUT;
    }
    if (!st && rc == 0 && t->type == T_NAME &&
        (layout == SHMKIT_LAYOUT_RING || layout == SHMKIT_LAYOUT_BUS || layout == SHMKIT_LAYOUT_RPC))
        bridge_carriers(e, t->name); /* info only: it reads every bridge's table */
    if (st && rc == 0) {
        st->t = now;
        st->layout = layout;
        st->have = 1;
    }
    return rc;
}

/* ---- ls: one line per segment ---- */

static void detail_chan(shmkit_seg *seg, uint32_t layout, struct seg_row *r)
{
    struct shmkit_chan_stats cs;
    char h1[16];
    int rc = shmkit_chan_stats(seg, &cs);
    if (rc < 0) {
        snprintf(r->detail, sizeof r->detail, "%s", shmkit_strerror(rc));
        return;
    }
    if (layout == SHMKIT_LAYOUT_RING)
        snprintf(r->detail, sizeof r->detail, "fill %.1f%% of %s, producer %s",
                 cs.capacity ? 100.0 * (double)cs.used / (double)cs.capacity : 0.0,
                 fmt_human(cs.capacity, h1, sizeof h1), alive_word(cs.writer_pid, cs.writer_alive));
    else
        snprintf(r->detail, sizeof r->detail, "subscribers %u/%u, lag %llu, publisher %s",
                 cs.readers, cs.max_readers, (unsigned long long)cs.used,
                 alive_word(cs.writer_pid, cs.writer_alive));
}

static void detail_table(const struct target *t, struct seg_row *r)
{
    struct shmkit_opts o;
    shmkit_table *tab = NULL;
    struct shmkit_table_stats ts;
    int rc = target_opts(t, SHMKIT_RDONLY, &o);
    if (rc == 0 && (rc = shmkit_table_open(&tab, &o, 0)) == 0) {
        rc = shmkit_table_stats(tab, &ts);
        if (rc == 0 && ts.type_id == BRIDGE_STATS_TYPE)
            rc = bridge_detail(tab, r->detail, sizeof r->detail);
        else if (rc == 0)
            snprintf(r->detail, sizeof r->detail, "records %u, owned %u%s", ts.count, ts.owned,
                     ts.dead ? ", dead owners" : "");
        shmkit_table_close(tab);
    }
    if (rc < 0)
        snprintf(r->detail, sizeof r->detail, "%s", shmkit_strerror(rc));
}

static void detail_rpc(shmkit_seg *seg, struct seg_row *r)
{
    struct shmkit_rpc_stats rs;
    int rc = shmkit_rpc_stats(seg, &rs);
    if (rc < 0) {
        snprintf(r->detail, sizeof r->detail, "%s", shmkit_strerror(rc));
        return;
    }
    r->clients = rs.clients;
    r->pending = rs.pending;
    snprintf(r->detail, sizeof r->detail, "clients %u/%u, pending %u, server %s", rs.clients,
             rs.max_clients, rs.pending, alive_word(rs.server_pid, rs.server_alive));
}

void layout_detail(struct seg_row *r)
{
    uint32_t layout = r->hdr.layout;
    if (r->hdr_rc != 0 || r->status == ST_DEST ||
        (layout != SHMKIT_LAYOUT_RING && layout != SHMKIT_LAYOUT_BUS &&
         layout != SHMKIT_LAYOUT_TABLE && layout != SHMKIT_LAYOUT_RPC))
        return;
    struct target t;
    target_of_row(&t, r);
    if (layout == SHMKIT_LAYOUT_TABLE) {
        detail_table(&t, r); /* the table opens its own segment */
        return;
    }
    shmkit_seg *seg = NULL;
    int raw = 0;
    if (open_target(&t, SHMKIT_RDONLY, &seg, &raw) < 0)
        return; /* gone, or not ours to read: unknown */
    if (layout == SHMKIT_LAYOUT_RPC)
        detail_rpc(seg, r);
    else
        detail_chan(seg, layout, r);
    shmkit_close(seg);
}
