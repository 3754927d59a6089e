/* pump_rpc.c - request/response carried to a remote server and back.
 *
 * --rpc-out NAME@ENDPOINT: this bridge is the server of the local endpoint
 * NAME (created if missing) and its DEALER connects to ENDPOINT. Each call
 * taken there gets an id (the frame's seq), goes out as a request frame
 * and stays taken until the response with its id comes back; then the
 * answer is written into the caller's slot. At most --rpc-inflight calls
 * are out at once; more wait in the endpoint (callers' own timeouts apply).
 *
 * --rpc-in NAME@ENDPOINT: this bridge's ROUTER binds ENDPOINT (the CURVE
 * server) and makes each request's call as a client of the local endpoint
 * NAME, one at a time, and sends the answer - or why there is none (the
 * response's status) - back to the DEALER it came from.
 *
 * A call that cannot be answered (the remote server died or closed, the
 * link broke or was never up, no response within --rpc-timeout) must not
 * leave its caller waiting, but a server can only answer with bytes: the
 * bridge closes its endpoint and attaches again at once. Every call it had
 * taken - all those in flight, which the failure may have cost anyway -
 * ends with SHMKIT_ECLOSED for its caller. No call is sent twice: a call in
 * flight across a reconnect is failed, never resent (at most once), and a
 * response that arrives for a call no longer in flight is dropped
 * (rpc_late).
 */
#include "bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

enum { SLICE_MS = 20 };

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int open_server(struct bridge_rpc *r)
{
    const struct bridge_cfg *cfg = &r->b->cfg;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = r->name, .flags = SHMKIT_CREATE,
                            .mode = 0600};
    struct shmkit_rpc_config rc = {.max_request = cfg->rpc_msg_max,
                                   .max_response = cfg->rpc_msg_max};
    return shmkit_rpc_server_open(&r->srv, &o, &rc);
}

int bridge_rpc_open(struct bridge_rpc *r)
{
    struct bridge *b = r->b;
    if (r->dir == DIR_EXPORT) {
        int rc = open_server(r);
        /* a second mapping of the endpoint, kept while the bridge runs: a
         * re-attach (fail_all) is then quick, and quick matters, since a
         * call made while no server is attached fails too */
        if (rc == 0) {
            struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = r->name,
                                    .layout = SHMKIT_LAYOUT_RPC};
            rc = shmkit_open(&r->seg, &o);
        }
        if (rc < 0) {
            fprintf(stderr, "shmkit-bridge: %s: %s\n", r->name, shmkit_strerror(rc));
            return rc == -EBUSY || rc == SHMKIT_ELAYOUT || rc == SHMKIT_EBADSIZE ? 1 : 2;
        }
        r->calls = calloc((size_t)b->cfg.rpc_inflight, sizeof *r->calls);
        if (!r->calls) {
            fprintf(stderr, "shmkit-bridge: %s: out of memory\n", r->name);
            return 2;
        }
    }
    r->sock = zmq_socket(b->ctx, r->dir == DIR_EXPORT ? ZMQ_DEALER : ZMQ_ROUTER);
    if (!r->sock)
        goto zfail;
    int zero = 0, one = 1, hwm = b->cfg.hwm, ivl = 100, ivlmax = 1000;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(r->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    zmq_setsockopt(r->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(r->sock, ZMQ_RECONNECT_IVL_MAX, &ivlmax, sizeof ivlmax);
    /* a request, or a response of the calling side, is never queued for a
     * link that is not up (it would be delivered after a reconnect, when
     * its caller may long have been told it failed): the send fails and
     * the call with it */
    if (r->dir == DIR_EXPORT)
        zmq_setsockopt(r->sock, ZMQ_IMMEDIATE, &one, sizeof one);
    else /* a response to a peer that is gone or full: an error, counted */
        zmq_setsockopt(r->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    int64_t maxin = (int64_t)bridge_frame_size(BRIDGE_TOPIC_MAX, b->cfg.rpc_msg_max);
    zmq_setsockopt(r->sock, ZMQ_MAXMSGSIZE, &maxin, sizeof maxin);
    char mep[80];
    snprintf(mep, sizeof mep, "inproc://shmkit-bridge-mon-rpc-%p", (void *)r);
    if (zmq_socket_monitor(r->sock, mep,
                           ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |
                               ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) < 0 ||
        !(r->mon = zmq_socket(b->ctx, ZMQ_PAIR)) || zmq_connect(r->mon, mep) < 0)
        goto zfail;
    if (r->dir == DIR_IMPORT) {
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

/* ------------------------------------------------------------ the calling side */

/* Ends every call in flight with SHMKIT_ECLOSED for its caller (see the
 * top of this file) and serves the endpoint again. */
static void fail_all(struct bridge_rpc *r)
{
    struct bridge *b = r->b;
    ctr_add(&b->st, C_RPC_FAILED, (uint64_t)r->ncalls);
    r->ncalls = 0;
    shmkit_rpc_server_close(r->srv);
    r->srv = NULL;
    int rc;
    /* -EBUSY: another process took the endpoint meanwhile; keep trying */
    while ((rc = shmkit_rpc_server_attach(&r->srv, r->seg)) < 0 && !*b->stop) {
        ctr_add(&b->st, C_ERRORS, 1);
        if (b->cfg.verbose)
            fprintf(stderr, "shmkit-bridge: %s: %s\n", r->name, shmkit_strerror(rc));
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
}

/* Sends the call Q as a request frame. 0, or -1 when it could not go out. */
static int forward(struct bridge_rpc *r, const struct shmkit_rpc_request *q)
{
    struct bridge *b = r->b;
    size_t hdr = bridge_frame_size(r->tlen, 0);
    zmq_msg_t m;
    if (zmq_msg_init_size(&m, hdr + q->len) < 0)
        return -1;
    unsigned char *f = zmq_msg_data(&m);
    if (q->len)
        memcpy(f + hdr, q->data, q->len);
    struct bridge_frame fr = {.topic = r->topic, .tlen = r->tlen, .kind = BRIDGE_KIND_REQUEST,
                              .origin = b->id, .seq = ++r->next_id, .len = (uint32_t)q->len};
    bridge_frame_seal(f, &fr);
    if (zmq_msg_send(&m, r->sock, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&m);
        return -1;
    }
    struct bridge_call *c = &r->calls[r->ncalls++];
    c->id = fr.seq;
    c->q = *q;
    c->deadline = now() + b->cfg.rpc_timeout_ms / 1000.0;
    ctr_add(&b->st, C_RPC_CALLS, 1);
    return 0;
}

/* Takes the calls waiting in the endpoint, up to the cap. */
static void take_calls(struct bridge_rpc *r)
{
    struct bridge *b = r->b;
    while (!*b->stop) {
        if (r->ncalls >= b->cfg.rpc_inflight) {
            ctr_add(&b->st, C_RPC_CAP, 1);
            return;
        }
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(r->srv, &q, 0);
        if (rc == -EAGAIN || rc == -EINTR)
            return;
        if (rc < 0) { /* a corrupt slot: that caller was told */
            ctr_add(&b->st, C_ERRORS, 1);
            return;
        }
        if (!r->links || forward(r, &q) < 0) {
            /* no link up (or its queue is full): this call fails now rather
             * than wait for a link; the ones in flight go with it */
            ctr_add(&b->st, C_RPC_LINK_DOWN, 1);
            r->calls[r->ncalls++] = (struct bridge_call){.q = q};
            fail_all(r);
            return;
        }
    }
}

static void response(struct bridge_rpc *r, const void *buf, size_t n)
{
    struct bridge *b = r->b;
    struct bridge_frame f;
    int err = bridge_frame_parse(buf, n, &f);
    if (err) {
        ctr_add(&b->st, C_BAD_SHORT + err - 1, 1);
        return;
    }
    if (f.kind != BRIDGE_KIND_RESPONSE || f.tlen != r->tlen || memcmp(f.topic, r->topic, f.tlen) ||
        f.origin != b->id) {
        ctr_add(&b->st, C_DROP_UNKNOWN, 1);
        return;
    }
    int i = 0;
    while (i < r->ncalls && r->calls[i].id != f.seq)
        i++;
    if (i == r->ncalls) {
        ctr_add(&b->st, C_RPC_LATE, 1);
        return;
    }
    struct shmkit_rpc_request q = r->calls[i].q;
    r->calls[i] = r->calls[--r->ncalls];
    if (f.status != BRIDGE_RS_OK) {
        if (b->cfg.verbose)
            fprintf(stderr, "shmkit-bridge: %s: call %llu failed remotely (status %u)\n", r->name,
                    (unsigned long long)f.seq, f.status);
        r->calls[r->ncalls++] = (struct bridge_call){.id = f.seq, .q = q};
        fail_all(r);
        return;
    }
    int rc = shmkit_rpc_reply_send(r->srv, &q, f.payload, f.len);
    /* SHMKIT_EPEERDEAD: the caller closed or died - possibly right after
     * reading the answer (reply_send looks at its claim after publishing),
     * so the answer is counted as handed over either way */
    if (rc == 0 || rc == SHMKIT_EPEERDEAD)
        ctr_add(&b->st, C_RPC_REPLIES, 1);
    else if (rc == SHMKIT_ETOOBIG) { /* larger than our endpoint takes */
        r->calls[r->ncalls++] = (struct bridge_call){.id = f.seq, .q = q};
        fail_all(r);
    } else if (rc != SHMKIT_EPEERDEAD)
        ctr_add(&b->st, C_ERRORS, 1);
}

static void *rpc_out(void *arg)
{
    struct bridge_rpc *r = arg;
    struct bridge *b = r->b;
    while (!*b->stop) {
        if (!r->srv) { /* fail_all could not re-attach before a stop */
            nanosleep(&(struct timespec){0, 20000000}, NULL);
            continue;
        }
        int fd = r->ncalls < b->cfg.rpc_inflight ? shmkit_rpc_server_fd(r->srv) : -1;
        zmq_pollitem_t it[3] = {{.socket = r->sock, .events = ZMQ_POLLIN},
                                {.socket = r->mon, .events = ZMQ_POLLIN},
                                {.fd = fd, .events = ZMQ_POLLIN}};
        zmq_poll(it, fd >= 0 ? 3 : 2, SLICE_MS);
        if (it[1].revents & ZMQ_POLLIN) {
            int ev = bridge_monitor_event(b, r->mon, C_PEERS_IN);
            if (ev == ZMQ_EVENT_CONNECTED)
                r->links++;
            if (ev == ZMQ_EVENT_DISCONNECTED) {
                /* nothing is forwarded until a new connection: libzmq may
                 * report the disconnect before the socket drops the dead
                 * pipe, and a request sent into it would be lost */
                r->links -= r->links > 0;
                if (r->ncalls) {
                    ctr_add(&b->st, C_RPC_LINK_DOWN, 1);
                    fail_all(r);
                }
            }
        }
        for (int k = 0; k < 256; k++) {
            zmq_msg_t m;
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, r->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&m);
                break;
            }
            response(r, zmq_msg_data(&m), zmq_msg_size(&m));
            zmq_msg_close(&m);
        }
        if (r->ncalls) {
            double t = now();
            for (int i = 0; i < r->ncalls; i++)
                if (t > r->calls[i].deadline) {
                    ctr_add(&b->st, C_RPC_TIMEOUTS, 1);
                    fail_all(r);
                    break;
                }
        }
        /* the descriptor is armed only by a try that found nothing: always
         * look, whether or not it woke us */
        take_calls(r);
    }
    return NULL;
}

/* ------------------------------------------------------------ the serving side */

static int status_of(int rc)
{
    switch (rc) {
    case SHMKIT_EPEERDEAD:
        return BRIDGE_RS_DEAD;
    case SHMKIT_ECLOSED:
        return BRIDGE_RS_CLOSED;
    case -ENOENT:
    case -EUSERS:
        return BRIDGE_RS_NOSERVER;
    case -ETIMEDOUT:
    case -EAGAIN:
        return BRIDGE_RS_TIMEOUT;
    case SHMKIT_ETOOBIG:
    case SHMKIT_EBADSIZE:
        return BRIDGE_RS_TOOBIG;
    default:
        return BRIDGE_RS_ERROR;
    }
}

/* Makes the call F as a client of the local endpoint; the answer (or the
 * status) goes back to IDENTITY. */
static void serve(struct bridge_rpc *r, zmq_msg_t *identity, const struct bridge_frame *f)
{
    struct bridge *b = r->b;
    int64_t to = (int64_t)b->cfg.rpc_timeout_ms * 1000000;
    int rc = 0;
    if (!r->cli) {
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = r->name};
        struct shmkit_rpc_config cfg = {0};
        rc = shmkit_rpc_client_open(&r->cli, &o, &cfg);
    }
    void *p;
    const void *resp = NULL;
    size_t rlen = 0;
    if (rc == 0 && (rc = shmkit_rpc_request_loan(r->cli, f->len, &p, to)) == 0) {
        if (f->len)
            memcpy(p, f->payload, f->len);
        shmkit_rpc_request_send(r->cli, f->len);
        rc = shmkit_rpc_response_wait(r->cli, &resp, &rlen, to);
    }
    ctr_add(&b->st, C_RPC_SERVED, 1);
    if (rc == 0 && rlen > b->cfg.rpc_msg_max) {
        shmkit_rpc_response_release(r->cli);
        rc = SHMKIT_ETOOBIG;
    }
    struct bridge_frame fr = {.topic = r->topic, .tlen = r->tlen, .kind = BRIDGE_KIND_RESPONSE,
                              .origin = f->origin, .seq = f->seq,
                              .status = rc ? (unsigned)status_of(rc) : BRIDGE_RS_OK,
                              .len = rc ? 0 : (uint32_t)rlen};
    size_t hdr = bridge_frame_size(r->tlen, 0);
    zmq_msg_t m;
    int ok = zmq_msg_init_size(&m, hdr + fr.len) == 0;
    if (ok) {
        if (fr.len)
            memcpy((unsigned char *)zmq_msg_data(&m) + hdr, resp, fr.len);
        bridge_frame_seal(zmq_msg_data(&m), &fr);
    }
    if (rc == 0)
        shmkit_rpc_response_release(r->cli);
    if (rc) {
        ctr_add(&b->st, C_RPC_SERVE_ERR, 1);
        if (b->cfg.verbose)
            fprintf(stderr, "shmkit-bridge: %s: call: %s\n", r->name, shmkit_strerror(rc));
        /* a handle that saw its server die or close, or its endpoint go,
         * is opened afresh for the next call (a new server may be there) */
        if (rc != -ETIMEDOUT && rc != -EAGAIN && rc != SHMKIT_ETOOBIG) {
            shmkit_rpc_client_close(r->cli);
            r->cli = NULL;
        }
    }
    if (!ok)
        return;
    if (zmq_msg_send(identity, r->sock, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_msg_send(&m, r->sock, ZMQ_DONTWAIT) < 0) {
        ctr_add(&b->st, C_RPC_DROPPED, 1); /* that bridge is gone, or full */
        zmq_msg_close(&m);
    }
}

static void *rpc_in(void *arg)
{
    struct bridge_rpc *r = arg;
    struct bridge *b = r->b;
    while (!*b->stop) {
        zmq_pollitem_t it[2] = {{.socket = r->sock, .events = ZMQ_POLLIN},
                                {.socket = r->mon, .events = ZMQ_POLLIN}};
        if (zmq_poll(it, 2, SLICE_MS) <= 0)
            continue;
        if (it[1].revents & ZMQ_POLLIN)
            bridge_monitor_event(b, r->mon, C_PEERS_OUT);
        if (!(it[0].revents & ZMQ_POLLIN))
            continue;
        /* [identity][frame]: anything else is a hostile peer's, counted
         * as too short (one part) or too long (more parts) */
        zmq_msg_t id, m;
        zmq_msg_init(&id);
        zmq_msg_init(&m);
        if (zmq_msg_recv(&id, r->sock, ZMQ_DONTWAIT) < 0) {
        } else if (!zmq_msg_more(&id) || zmq_msg_recv(&m, r->sock, 0) < 0) {
            ctr_add(&b->st, C_BAD_SHORT, 1);
        } else if (zmq_msg_more(&m)) {
            ctr_add(&b->st, C_BAD_LONG, 1);
            while (zmq_msg_more(&m) && zmq_msg_recv(&m, r->sock, 0) >= 0)
                ;
        } else {
            struct bridge_frame f;
            int err = bridge_frame_parse(zmq_msg_data(&m), zmq_msg_size(&m), &f);
            if (err)
                ctr_add(&b->st, C_BAD_SHORT + err - 1, 1);
            else if (f.kind != BRIDGE_KIND_REQUEST || f.tlen != r->tlen ||
                     memcmp(f.topic, r->topic, f.tlen))
                ctr_add(&b->st, C_DROP_UNKNOWN, 1);
            else if (f.origin == b->id)
                ctr_add(&b->st, C_DROP_LOOP, 1);
            else
                serve(r, &id, &f);
        }
        zmq_msg_close(&id);
        zmq_msg_close(&m);
    }
    return NULL;
}

int bridge_rpc_start(struct bridge_rpc *r)
{
    int rc = pthread_create(&r->thread, NULL, r->dir == DIR_EXPORT ? rpc_out : rpc_in, r);
    if (rc)
        return -rc;
    r->started = 1;
    return 0;
}

void bridge_rpc_close(struct bridge_rpc *r)
{
    if (r->started)
        pthread_join(r->thread, NULL);
    r->started = 0;
    if (r->mon)
        zmq_close(r->mon);
    if (r->sock)
        zmq_close(r->sock);
    /* calls still in flight end with SHMKIT_ECLOSED for their callers */
    if (r->srv)
        ctr_add(&r->b->st, C_RPC_FAILED, (uint64_t)r->ncalls);
    shmkit_rpc_server_close(r->srv);
    shmkit_close(r->seg);
    shmkit_rpc_client_close(r->cli);
    free(r->calls);
    r->mon = r->sock = NULL;
    r->srv = NULL;
    r->seg = NULL;
    r->cli = NULL;
    r->calls = NULL;
    r->ncalls = 0;
}
