/* pump_in.c - network -> local buses: every frame the SUB socket receives
 * is checked (frame.c), then screened (loop, hops, duplicates, gaps), then
 * published into the local bus of its topic. Runs in the main thread. */
#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zmq.h>

static struct bridge_chan *find_import(struct bridge *b, const char *t, unsigned n)
{
    for (int i = 0; i < b->nchan; i++) {
        struct bridge_chan *c = &b->chans[i];
        if ((c->dirs & DIR_IMPORT) && c->tlen == n && !memcmp(c->topic, t, n))
            return c;
    }
    return NULL;
}

/* 1 when SEQ from ORIGIN is new (counting the gap before it), 0 when it
 * was seen already (or is older). */
static int track(struct bridge *b, struct bridge_chan *c, uint64_t origin, uint64_t seq)
{
    for (int i = 0; i < BRIDGE_ORIGINS; i++) {
        struct bridge_origin *o = &c->origins[i];
        if (o->id != origin)
            continue;
        if (seq <= o->last_seq)
            return 0;
        if (seq - o->last_seq > 1)
            ctr_add(&b->st, C_NET_LOST, seq - o->last_seq - 1);
        o->last_seq = seq;
        return 1;
    }
    /* a new origin (or one forgotten): its history before SEQ is unknown,
     * so no gap is counted */
    ctr_add(&b->st, C_ORIGINS, 1);
    struct bridge_origin *o = &c->origins[c->next_origin++ % BRIDGE_ORIGINS];
    o->id = origin;
    o->last_seq = seq;
    return 1;
}

/* Publishes one checked message of frame F into C's bus. */
static void publish(struct bridge *b, struct bridge_chan *c, const struct bridge_frame *f)
{
    if (f->len > c->msg_max) {
        ctr_add(&b->st, C_DROP_TOOBIG, 1);
        return;
    }
    void *p;
    int rc = shmkit_bus_loan(c->pub, f->len, &p, (int64_t)b->cfg.publish_timeout_ms * 1000000);
    if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EINTR) {
        ctr_add(&b->st, C_DROP_BUSFULL, 1);
        return;
    }
    if (rc < 0) {
        ctr_add(&b->st, C_ERRORS, 1);
        return;
    }
    memcpy(p, f->payload, f->len);
    uint64_t seq;
    shmkit_bus_publish(c->pub, f->len, &seq);
    if (c->fwd) {
        __typeof__(c->fwd) e = &c->fwd[seq & (c->nfwd - 1)];
        __atomic_store_n(&e->bus_seq, 0, __ATOMIC_RELAXED);
        /* release: a reader that sees the tag 0 above no later than the
         * fields below keeps away from a half-written entry */
        __atomic_thread_fence(__ATOMIC_RELEASE);
        __atomic_store_n(&e->origin, f->origin, __ATOMIC_RELAXED);
        __atomic_store_n(&e->seq, f->seq, __ATOMIC_RELAXED);
        __atomic_store_n(&e->hops, f->hops, __ATOMIC_RELAXED);
        /* release: the fields are visible before the tag that names them */
        __atomic_store_n(&e->bus_seq, seq, __ATOMIC_RELEASE);
    }
    ctr_add(&b->st, C_IN_MSGS, 1);
    ctr_add(&b->st, C_IN_BYTES, f->len);
}

/* Counters: a frame refused as a whole counts once under its reason (its
 * messages, if it had any, show later as the origin's gap: net_lost); a
 * frame refused for its topic, kind, origin or hops counts each of its
 * messages; after that every message is judged on its own. */
void bridge_pump_in_frame(struct bridge *b, const void *buf, size_t n)
{
    struct bridge_frame f;
    int err = bridge_frame_open(buf, n, &f);
    if (err) {
        ctr_add(&b->st, C_BAD_SHORT + err - 1, 1);
        if (b->cfg.verbose)
            fprintf(stderr, "shmkit-bridge: refused a %zu-byte frame: %s\n", n,
                    bridge_frame_errname(err));
        return;
    }
    ctr_add(&b->st, C_IN_FRAMES, 1);
    struct bridge_chan *c = find_import(b, f.topic, f.tlen);
    if (!c || f.kind != BRIDGE_KIND_BUS) {
        ctr_add(&b->st, C_DROP_UNKNOWN, f.count);
        return;
    }
    if (f.origin == b->id) {
        ctr_add(&b->st, C_DROP_LOOP, f.count);
        return;
    }
    if (f.hops >= BRIDGE_HOPS_MAX) {
        ctr_add(&b->st, C_DROP_HOPS, f.count);
        return;
    }
    while ((err = bridge_frame_next(&f)) >= 0) {
        /* a corrupt payload under a good header checksum: its sequence
         * number is known, so it counts as bad_crc only, not as a gap too */
        int fresh = track(b, c, f.origin, f.seq);
        if (err) {
            ctr_add(&b->st, C_BAD_CRC, 1);
            if (b->cfg.verbose)
                fprintf(stderr, "shmkit-bridge: refused message %llu of a %u-message frame: crc\n",
                        (unsigned long long)f.seq, f.count);
        } else if (!fresh) {
            ctr_add(&b->st, C_DROP_DUP, 1);
        } else {
            publish(b, c, &f);
        }
    }
}

int bridge_monitor_event(struct bridge *b, void *mon, int c)
{
    zmq_msg_t m;
    zmq_msg_init(&m);
    if (zmq_msg_recv(&m, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return 0;
    }
    uint16_t ev = 0;
    uint32_t val = 0;
    if (zmq_msg_size(&m) >= 6) {
        memcpy(&ev, zmq_msg_data(&m), 2);
        memcpy(&val, (char *)zmq_msg_data(&m) + 2, 4);
    }
    char ep[256] = "";
    int more = zmq_msg_more(&m);
    zmq_msg_close(&m);
    if (more) {
        int k = zmq_recv(mon, ep, sizeof ep - 1, 0);
        ep[k < 0 ? 0 : k < (int)sizeof ep - 1 ? k : (int)sizeof ep - 1] = 0;
    }
    switch (ev) {
    case ZMQ_EVENT_ACCEPTED:
    case ZMQ_EVENT_CONNECTED:
        ctr_add(&b->st, c, 1);
        break;
    case ZMQ_EVENT_DISCONNECTED:
        ctr_add(&b->st, c, (uint64_t)-1);
        break;
    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
    case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        if (c == C_PEERS_IN)
            ctr_add(&b->st, C_HANDSHAKE_FAILED, 1);
        break;
    default:
        break;
    }
    if (b->cfg.verbose && ev != ZMQ_EVENT_MONITOR_STOPPED)
        fprintf(stderr, "shmkit-bridge: %s: event 0x%x (%u)\n", ep, ev, val);
    return ev;
}
