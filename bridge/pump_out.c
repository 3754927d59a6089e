/* pump_out.c - local buses -> network: the export thread. It owns the XPUB
 * socket and its monitor; it reads each exported bus as a subscriber and
 * sends every message as one frame (copied once, from the slot into the
 * outgoing ZeroMQ message). */
#include "bridge.h"

#include <errno.h>
#include <sched.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { BATCH = 64 };

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

/* Moves up to BATCH messages of C to the network. Returns how many were
 * read, or -1 when the bus has no publisher (closed or dead) or failed:
 * the caller then sleeps instead of spinning. */
static int out_chan(struct bridge *b, struct bridge_chan *c, int64_t timeout_ns)
{
    if (!c->sub) {
        resubscribe(b, c);
        return -1;
    }
    int n = 0;
    while (n < BATCH) {
        const void *p;
        size_t len;
        uint64_t seq, lost = 0;
        int rc = shmkit_bus_peek(c->sub, &p, &len, &seq, &lost, n ? 0 : timeout_ns);
        if (lost)
            ctr_add(&b->st, C_LOCAL_LOST, lost);
        if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -EINTR)
            return n;
        if (rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD)
            return n ? n : -1;
        if (rc == -ENOLINK || rc < 0) {
            resubscribe(b, c);
            return -1;
        }
        n++;
        zmq_msg_t m;
        size_t hdr = bridge_frame_size(c->tlen, 0);
        if (zmq_msg_init_size(&m, hdr + len) < 0) {
            shmkit_bus_release(c->sub);
            ctr_add(&b->st, C_DROP_HWM, 1);
            continue;
        }
        unsigned char *f = zmq_msg_data(&m);
        memcpy(f + hdr, p, len);
        /* a lossy bus may have overwritten the slot while we copied: the
         * copy is garbage, and the loss is reported by the next peek */
        if (shmkit_bus_release(c->sub) < 0) {
            zmq_msg_close(&m);
            continue;
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
        /* XPUB drops a message for a peer whose queue is full (--hwm)
         * without telling us: the peer's bridge sees the gap in the
         * sequence numbers and counts it (net_lost) */
        if (zmq_msg_send(&m, b->xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            ctr_add(&b->st, C_DROP_HWM, 1);
            continue;
        }
        ctr_add(&b->st, C_OUT_MSGS, 1);
        ctr_add(&b->st, C_OUT_BYTES, len);
    }
    return n;
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
            int n = out_chan(b, c, 0);
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
            out_chan(b, one, 20 * 1000000LL);
        } else {
            /* several buses, or none with a publisher: poll them every
             * millisecond (10 ms while no bus has a publisher) */
            zmq_pollitem_t it = {.socket = b->xpub_mon, .events = ZMQ_POLLIN};
            zmq_poll(&it, 1, idle_nopub ? 10 : 1);
        }
    }
    return NULL;
}
