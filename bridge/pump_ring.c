/* pump_ring.c - a ring carried point to point, with back-pressure end to
 * end: the sending bridge is the local ring's consumer and releases a
 * message only once its PUSH socket took it (PUSH waits at the high-water
 * mark, so a slow far side fills this ring and then blocks its producer);
 * the receiving bridge is the far ring's producer and reads its PULL
 * socket only when the last message found room.
 *
 * --ring-out NAME@ENDPOINT connects a PUSH to ENDPOINT; --ring-in
 * NAME@ENDPOINT binds a PULL there (the CURVE server). One ring per
 * endpoint; the frames carry kind "ring" and the topic, checked on arrival.
 */
#include "bridge.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { SLICE_MS = 20 };

static int make_ring(shmkit_seg *seg, void *arg)
{
    const struct bridge_ring *r = arg;
    shmkit_ring *h;
    /* no role: the local side's role stays untaken (a role taken and
     * closed here would read as end of stream to the bridge) */
    int rc = shmkit_ring_create(&h, seg, r->b->cfg.ring_cap, 0);
    (void)r;
    return rc < 0 ? rc : shmkit_ring_close(h);
}

static int open_local(struct bridge_ring *r)
{
    int rc = -ENOENT;
    for (int tries = 0; tries < 3 && rc == -ENOENT; tries++) {
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = r->name,
                                .layout = SHMKIT_LAYOUT_RING};
        rc = shmkit_open(&r->seg, &o);
        if (rc != -ENOENT)
            break;
        o.flags = SHMKIT_CREATE | SHMKIT_EXCL;
        o.size = shmkit_ring_size_for(r->b->cfg.ring_cap);
        o.mode = 0600;
        o.init = make_ring;
        o.init_arg = r;
        rc = shmkit_open(&r->seg, &o);
        if (rc == -EEXIST)
            rc = -ENOENT; /* made meanwhile by another process: open it */
    }
    if (rc < 0)
        return rc;
    rc = shmkit_ring_attach(&r->r, r->seg,
                           r->dir == DIR_EXPORT ? SHMKIT_RING_CONSUMER : SHMKIT_RING_PRODUCER);
    if (rc < 0) {
        shmkit_close(r->seg);
        r->seg = NULL;
    }
    return rc;
}

int bridge_ring_open(struct bridge_ring *r)
{
    struct bridge *b = r->b;
    int rc = open_local(r);
    if (rc < 0) {
        fprintf(stderr, "shmkit-bridge: %s: %s\n", r->name, shmkit_strerror(rc));
        return rc == -EBUSY || rc == SHMKIT_ELAYOUT ? 1 : 2;
    }
    r->sock = zmq_socket(b->ctx, r->dir == DIR_EXPORT ? ZMQ_PUSH : ZMQ_PULL);
    if (!r->sock)
        goto zfail;
    int zero = 0, hwm = b->cfg.hwm, ivl = 100, ivlmax = 1000;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(r->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(r->sock, ZMQ_RECONNECT_IVL_MAX, &ivlmax, sizeof ivlmax);
    /* the monitor first: it must see the first connection */
    char mep[80];
    snprintf(mep, sizeof mep, "inproc://shmkit-bridge-mon-ring-%p", (void *)r);
    if (zmq_socket_monitor(r->sock, mep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0 ||
        !(r->mon = zmq_socket(b->ctx, ZMQ_PAIR)) || zmq_connect(r->mon, mep) < 0)
        goto zfail;
    if (r->dir == DIR_IMPORT) {
        int64_t maxin = (int64_t)bridge_frame_size(BRIDGE_TOPIC_MAX, shmkit_ring_max_msg(r->r));
        zmq_setsockopt(r->sock, ZMQ_MAXMSGSIZE, &maxin, sizeof maxin);
        if (bridge_curve_server(&b->curve, r->sock) < 0 || zmq_bind(r->sock, r->ep) < 0)
            goto zfail;
    } else {
        if (bridge_curve_client(&b->curve, r->sock) < 0 || zmq_connect(r->sock, r->ep) < 0)
            goto zfail;
    }
    return 0;
zfail:
    fprintf(stderr, "shmkit-bridge: %s: %s\n", r->ep, zmq_strerror(errno));
    return 2;
}

static void events(struct bridge_ring *r)
{
    zmq_pollitem_t it = {.socket = r->mon, .events = ZMQ_POLLIN};
    while (zmq_poll(&it, 1, 0) > 0 && (it.revents & ZMQ_POLLIN))
        bridge_monitor_event(r->b, r->mon, r->dir == DIR_EXPORT ? C_PEERS_IN : C_PEERS_OUT);
}

/* Local ring -> PUSH. */
static void *ring_out(void *arg)
{
    struct bridge_ring *r = arg;
    struct bridge *b = r->b;
    size_t hdr = bridge_frame_size(r->tlen, 0);
    unsigned k = 0;
    while (!*b->stop) {
        if (!(k++ & 255))
            events(r);
        const void *p;
        size_t len;
        int rc = shmkit_ring_peek(r->r, &p, &len, SLICE_MS * 1000000LL);
        if (rc == -ETIMEDOUT || rc == -EAGAIN || rc == -EINTR) {
            events(r);
            continue;
        }
        if (rc < 0) { /* no producer (closed or dead), or corrupt: wait */
            if (rc == SHMKIT_ECORRUPT)
                ctr_add(&b->st, C_ERRORS, 1);
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            continue;
        }
        zmq_msg_t m;
        if (zmq_msg_init_size(&m, hdr + len) < 0) {
            nanosleep(&(struct timespec){0, 10000000}, NULL);
            continue; /* still peeked: tried again */
        }
        unsigned char *f = zmq_msg_data(&m);
        memcpy(f + hdr, p, len);
        struct bridge_frame fr = {.topic = r->topic, .tlen = r->tlen, .kind = BRIDGE_KIND_RING,
                                  .origin = b->id, .seq = r->seq + 1, .len = (uint32_t)len};
        bridge_frame_seal(f, &fr);
        /* back-pressure: wait for room in the PUSH queue, however long,
         * with the message still in the ring */
        int sent = 0;
        while (!*b->stop) {
            if (zmq_msg_send(&m, r->sock, ZMQ_DONTWAIT) >= 0) {
                sent = 1;
                break;
            }
            if (errno != EAGAIN)
                break;
            zmq_pollitem_t it = {.socket = r->sock, .events = ZMQ_POLLOUT};
            zmq_poll(&it, 1, SLICE_MS);
            events(r);
        }
        if (!sent) {
            zmq_msg_close(&m);
            continue; /* stopping: the message stays in the ring */
        }
        r->seq++;
        shmkit_ring_release(r->r);
        ctr_add(&b->st, C_RING_OUT_MSGS, 1);
        ctr_add(&b->st, C_RING_OUT_BYTES, len);
    }
    return NULL;
}

/* One frame from PULL into the local ring; waits for room (back-pressure). */
static void ring_in_frame(struct bridge_ring *r, const void *buf, size_t n)
{
    struct bridge *b = r->b;
    struct bridge_frame f;
    int err = bridge_frame_parse(buf, n, &f);
    if (err) {
        ctr_add(&b->st, C_BAD_SHORT + err - 1, 1);
        return;
    }
    if (f.kind != BRIDGE_KIND_RING || f.tlen != r->tlen || memcmp(f.topic, r->topic, f.tlen)) {
        ctr_add(&b->st, C_DROP_UNKNOWN, 1);
        return;
    }
    if (f.origin == b->id) {
        ctr_add(&b->st, C_DROP_LOOP, 1);
        return;
    }
    if (f.origin == r->origin.id) {
        if (f.seq <= r->origin.last_seq) {
            ctr_add(&b->st, C_DROP_DUP, 1);
            return;
        }
        if (f.seq - r->origin.last_seq > 1)
            ctr_add(&b->st, C_NET_LOST, f.seq - r->origin.last_seq - 1);
    } else {
        /* A sending bridge that was restarted: the new one connects while
         * the dead one's last bytes may still be arriving on the old
         * connection, and PULL would interleave the two. Whatever the
         * replaced origin still sends is dropped, so the ring stays in
         * order (those messages are lost: at most once). */
        for (unsigned i = 0; i < r->nretired && i < 8; i++)
            if (r->retired[i] == f.origin) {
                ctr_add(&b->st, C_DROP_STALE, 1);
                return;
            }
        if (r->origin.id)
            r->retired[r->nretired++ % 8] = r->origin.id;
        ctr_add(&b->st, C_ORIGINS, 1);
        r->origin.id = f.origin;
    }
    r->origin.last_seq = f.seq;
    if (f.len > shmkit_ring_max_msg(r->r)) {
        ctr_add(&b->st, C_DROP_TOOBIG, 1);
        return;
    }
    while (!*b->stop) {
        int rc = shmkit_ring_send(r->r, f.payload, f.len, SLICE_MS * 1000000LL);
        if (rc == 0) {
            ctr_add(&b->st, C_RING_IN_MSGS, 1);
            ctr_add(&b->st, C_RING_IN_BYTES, f.len);
            return;
        }
        if (rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD)
            nanosleep(&(struct timespec){0, 10000000}, NULL); /* full, no consumer: wait */
        else if (rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN) {
            ctr_add(&b->st, C_ERRORS, 1);
            return;
        }
        events(r);
    }
}

/* PULL -> local ring. */
static void *ring_in(void *arg)
{
    struct bridge_ring *r = arg;
    struct bridge *b = r->b;
    while (!*b->stop) {
        zmq_pollitem_t it[2] = {{.socket = r->sock, .events = ZMQ_POLLIN},
                                {.socket = r->mon, .events = ZMQ_POLLIN}};
        if (zmq_poll(it, 2, SLICE_MS) <= 0)
            continue;
        if (it[1].revents & ZMQ_POLLIN)
            events(r);
        if (!(it[0].revents & ZMQ_POLLIN))
            continue;
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, r->sock, ZMQ_DONTWAIT) >= 0)
            ring_in_frame(r, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
    return NULL;
}

int bridge_ring_start(struct bridge_ring *r)
{
    int rc = pthread_create(&r->thread, NULL, r->dir == DIR_EXPORT ? ring_out : ring_in, r);
    if (rc)
        return -rc;
    r->started = 1;
    return 0;
}

void bridge_ring_close(struct bridge_ring *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    r->started = 0;
    if (r->mon)
        zmq_close(r->mon);
    if (r->sock)
        zmq_close(r->sock);
    shmkit_ring_close(r->r);
    shmkit_close(r->seg);
    r->mon = r->sock = NULL;
    r->r = NULL;
    r->seg = NULL;
}
