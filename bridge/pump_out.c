/* pump_out.c - local buses -> network: the export thread. It owns the XPUB
 * socket and its monitor; it reads each exported bus as a subscriber and
 * sends what it finds there in frames of up to BRIDGE_BATCH_MAX messages:
 * a frame goes out as soon as the bus has nothing more to read right now
 * (a lone message never waits for company), or when it is full. Libzmq's
 * cost is per ZeroMQ message (about a microsecond between the two
 * bridges), so small messages coalesced cost a fraction of that each.
 * Small messages are copied twice (slot -> batch -> outgoing message, a
 * few kilobytes at a time); a message of BIG bytes or more goes alone,
 * copied once, from the slot into the outgoing message. */
#include "bridge.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum {
    READ_MAX = 1024, /* messages read from one bus before the others get a turn */
    BIG = 16384      /* a message this long is sent alone: coalescing saves nothing */
};

/* The frame being filled: payloads after room for the largest header. */
struct batch {
    unsigned char *buf; /* HEAD_ROOM + BRIDGE_BATCH_BYTES */
    size_t used;        /* payload bytes */
    unsigned count;
    uint64_t origin;
    unsigned hops;
    struct bridge_frame_entry ent[BRIDGE_BATCH_MAX];
};
#define HEAD_ROOM bridge_frame_head_size(BRIDGE_TOPIC_MAX, BRIDGE_BATCH_MAX)

/* The first origin, sequence and hop count of the message the import side
 * published at bus sequence SEQ (a forwarded channel). The import thread
 * writes the entry right after its publish, so it may lag the message by a
 * few instructions: wait for it briefly. 0 when it never came. */
static int fwd_lookup(struct bridge_chan *c, uint64_t seq, uint64_t *origin, uint64_t *oseq,
                      uint64_t *hops)
{
    __typeof__(c->fwd) e = &c->fwd[seq & (c->nfwd - 1)];
    for (int i = 0; i < 10000; i++) {
        /* acquire: the fields below were written before the tag (pump_in.c) */
        if (__atomic_load_n(&e->bus_seq, __ATOMIC_ACQUIRE) == seq) {
            *origin = __atomic_load_n(&e->origin, __ATOMIC_RELAXED);
            *oseq = __atomic_load_n(&e->seq, __ATOMIC_RELAXED);
            *hops = __atomic_load_n(&e->hops, __ATOMIC_RELAXED);
            /* acquire: the fields were read before the tag is read again */
            __atomic_thread_fence(__ATOMIC_ACQUIRE);
            if (__atomic_load_n(&e->bus_seq, __ATOMIC_RELAXED) == seq)
                return 1;
        }
        sched_yield();
    }
    return 0;
}

static void resubscribe(struct bridge *b, struct bridge_chan *c)
{
    ctr_add(&b->st, C_ERRORS, 1);
    shmkit_bus_unsubscribe(c->sub);
    c->sub = NULL;
    if (shmkit_bus_subscribe(&c->sub, c->seg) < 0)
        c->sub = NULL; /* tried again on the next round */
}

static void service(struct bridge *b);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sends frame M. XPUB drops a frame for a peer whose queue is full (--hwm)
 * without telling us: that peer's bridge sees the gap in the sequence
 * numbers and counts it (net_lost). With --send-timeout the socket refuses
 * instead (XPUB_NODROP, set in bridge_pump_out) while any peer's queue is
 * full, and the frame waits for room, a slice (ZMQ_SNDTIMEO) at a time so
 * that subscriptions are read and a stop is seen; after the timeout it is
 * dropped for every peer. 0, or -1 when it was not sent. */
static int xsend(struct bridge *b, zmq_msg_t *m)
{
    if (zmq_msg_send(m, b->xpub, ZMQ_DONTWAIT) >= 0)
        return 0;
    if (errno != EAGAIN || b->cfg.send_timeout_ms <= 0)
        return -1;
    double end = now() + b->cfg.send_timeout_ms / 1e3;
    while (!*b->stop) {
        if (zmq_msg_send(m, b->xpub, 0) >= 0)
            return 0;
        if ((errno != EAGAIN && errno != EINTR) || now() >= end)
            return -1;
        service(b);
    }
    return -1;
}

/* Sends the batch as one frame of C's topic, and empties it. */
static void flush(struct bridge *b, struct bridge_chan *c, struct batch *bt)
{
    if (!bt->count)
        return;
    size_t head = bridge_frame_head_size(c->tlen, bt->count);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, head + bt->used) < 0) {
        ctr_add(&b->st, C_DROP_HWM, bt->count);
    } else {
        unsigned char *f = zmq_msg_data(&m);
        memcpy(f + head, bt->buf + HEAD_ROOM, bt->used);
        struct bridge_frame fr = {.topic = c->topic, .tlen = c->tlen, .kind = BRIDGE_KIND_BUS,
                                  .hops = bt->hops, .origin = bt->origin};
        bridge_frame_seal_many(f + head, &fr, bt->ent, bt->count);
        if (xsend(b, &m) < 0) {
            zmq_msg_close(&m);
            ctr_add(&b->st, C_DROP_HWM, bt->count);
        } else {
            ctr_add(&b->st, C_OUT_FRAMES, 1);
            ctr_add(&b->st, C_OUT_MSGS, bt->count);
            ctr_add(&b->st, C_OUT_BYTES, bt->used);
        }
    }
    bt->count = 0;
    bt->used = 0;
}

/* A message of BIG bytes or more, alone in its frame, copied once. The
 * slot is released here. */
static void send_alone(struct bridge *b, struct bridge_chan *c, const void *p, size_t len,
                       uint64_t seq)
{
    zmq_msg_t m;
    size_t hdr = bridge_frame_size(c->tlen, 0);
    if (zmq_msg_init_size(&m, hdr + len) < 0) {
        shmkit_bus_release(c->sub);
        ctr_add(&b->st, C_DROP_HWM, 1);
        return;
    }
    unsigned char *f = zmq_msg_data(&m);
    memcpy(f + hdr, p, len);
    /* a lossy bus may have overwritten the slot while we copied: the
     * copy is garbage, and the loss is reported by the next peek */
    if (shmkit_bus_release(c->sub) < 0) {
        zmq_msg_close(&m);
        return;
    }
    struct bridge_frame fr = {.topic = c->topic, .tlen = c->tlen, .kind = BRIDGE_KIND_BUS,
                              .len = (uint32_t)len};
    uint64_t origin, oseq, hops;
    if (c->fwd && fwd_lookup(c, seq, &origin, &oseq, &hops)) {
        fr.origin = origin;
        fr.seq = oseq;
        fr.hops = (unsigned)hops + 1;
    } else {
        fr.origin = b->id;
        fr.seq = ++c->seq;
        fr.hops = 0;
    }
    bridge_frame_seal(f, &fr);
    if (xsend(b, &m) < 0) {
        zmq_msg_close(&m);
        ctr_add(&b->st, C_DROP_HWM, 1);
        return;
    }
    ctr_add(&b->st, C_OUT_FRAMES, 1);
    ctr_add(&b->st, C_OUT_MSGS, 1);
    ctr_add(&b->st, C_OUT_BYTES, len);
}

/* Moves up to READ_MAX messages of C to the network, the last frame sent
 * before it returns. Returns how many were read, or -1 when the bus has
 * no publisher (closed or dead) or failed: the caller then sleeps instead
 * of spinning. */
static int out_chan(struct bridge *b, struct bridge_chan *c, struct batch *bt, int64_t timeout_ns)
{
    if (!c->sub) {
        resubscribe(b, c);
        return -1;
    }
    int n = 0, ret = -2; /* -2: READ_MAX read */
    while (n < READ_MAX) {
        const void *p;
        size_t len;
        uint64_t seq, lost = 0;
        int rc = shmkit_bus_peek(c->sub, &p, &len, &seq, &lost, n ? 0 : timeout_ns);
        if (lost)
            ctr_add(&b->st, C_LOCAL_LOST, lost);
        if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EINTR) {
            ret = n;
            break;
        }
        if (rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD) {
            ret = n ? n : -1;
            break;
        }
        if (rc == -ENOLINK || rc < 0) {
            flush(b, c, bt);
            resubscribe(b, c);
            return -1;
        }
        n++;
        if (len >= BIG) {
            flush(b, c, bt); /* in bus order */
            send_alone(b, c, p, len, seq);
            continue;
        }
        uint64_t origin = b->id, oseq = 0, hops = 0;
        int fwd = c->fwd && fwd_lookup(c, seq, &origin, &oseq, &hops);
        hops += fwd;
        /* one origin and hop count per frame, at most BRIDGE_BATCH_BYTES */
        if (bt->count && (bt->origin != origin || bt->hops != hops ||
                          bt->used + len > BRIDGE_BATCH_BYTES))
            flush(b, c, bt);
        unsigned char *dst = bt->buf + HEAD_ROOM + bt->used;
        memcpy(dst, p, len);
        /* a lossy bus may have overwritten the slot while we copied: the
         * copy is garbage, and the loss is reported by the next peek */
        if (shmkit_bus_release(c->sub) < 0)
            continue;
        if (!fwd)
            oseq = ++c->seq;
        bt->origin = origin;
        bt->hops = (unsigned)hops;
        bt->ent[bt->count++] = (struct bridge_frame_entry){
            .seq = oseq, .len = (uint32_t)len, .crc = bridge_crc32c(0, dst, len)};
        bt->used += len;
        if (bt->count == BRIDGE_BATCH_MAX)
            flush(b, c, bt);
    }
    flush(b, c, bt);
    return ret == -2 ? n : ret;
}

/* Subscription messages (read and dropped: XPUB queues them until read)
 * and connection events. */
static void service(struct bridge *b)
{
    char buf[BRIDGE_PREFIX_MAX + 1];
    for (int i = 0; i < 256 && zmq_recv(b->xpub, buf, sizeof buf, ZMQ_DONTWAIT) >= 0; i++) {
    }
    zmq_pollitem_t it = {.socket = b->xpub_mon, .events = ZMQ_POLLIN};
    while (zmq_poll(&it, 1, 0) > 0 && (it.revents & ZMQ_POLLIN))
        bridge_monitor_event(b, b->xpub_mon, C_PEERS_OUT);
}

void *bridge_pump_out(void *arg)
{
    struct bridge *b = arg;
    struct batch *bt = calloc(1, sizeof *bt); /* 4 KiB of table: not on the stack */
    if (bt)
        bt->buf = malloc(HEAD_ROOM + BRIDGE_BATCH_BYTES);
    if (!bt || !bt->buf) {
        free(bt);
        fprintf(stderr, "shmkit-bridge: export: out of memory\n");
        ctr_add(&b->st, C_ERRORS, 1);
        return NULL;
    }
    if (b->cfg.send_timeout_ms > 0) {
        int one_ = 1, slice = b->cfg.send_timeout_ms < 20 ? b->cfg.send_timeout_ms : 20;
        zmq_setsockopt(b->xpub, ZMQ_XPUB_NODROP, &one_, sizeof one_);
        zmq_setsockopt(b->xpub, ZMQ_SNDTIMEO, &slice, sizeof slice);
    }
    struct bridge_chan *one = NULL;
    if (b->nexport == 1)
        for (int i = 0; i < b->nchan; i++)
            if (b->chans[i].dirs & DIR_EXPORT)
                one = &b->chans[i];
    unsigned rounds = 0;
    while (!*b->stop) {
        int work = 0, idle_nopub = 1;
        for (int i = 0; i < b->nchan; i++) {
            struct bridge_chan *c = &b->chans[i];
            if (!(c->dirs & DIR_EXPORT))
                continue;
            int n = out_chan(b, c, bt, 0);
            if (n > 0)
                work += n;
            if (n >= 0)
                idle_nopub = 0;
        }
        if (work && (++rounds & 63))
            continue;
        service(b);
        if (work)
            continue;
        if (one && !idle_nopub) {
            /* one bus: sleep in the bus itself, woken by the next publish */
            out_chan(b, one, bt, 20 * 1000000LL);
        } else {
            /* several buses, or none with a publisher: poll them every
             * millisecond (10 ms while no bus has a publisher) */
            zmq_pollitem_t it = {.socket = b->xpub_mon, .events = ZMQ_POLLIN};
            zmq_poll(&it, 1, idle_nopub ? 10 : 1);
        }
    }
    free(bt->buf);
    free(bt);
    return NULL;
}
