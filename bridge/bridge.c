/* bridge.c - a bridge's life: open the local buses, make the sockets, run
 * the export thread and the import loop until told to stop, then undo it
 * all in reverse order. */
#include "bridge.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <zmq.h>

_Static_assert(C_BAD_SHORT + BF_NERR - 2 == C_BAD_CRC, "bad_* counters follow BF_*");

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "shmkit-bridge: %s: %s\n", what, why);
    return 2;
}

/* The channel of ARG ("NAME" or "NAME=/TOPIC", checked by config.c):
 * --export and --import of the same bus and topic make one channel. */
static struct bridge_chan *chan_of(struct bridge *b, const char *arg)
{
    char l[BRIDGE_TOPIC_MAX + 1], t[BRIDGE_TOPIC_MAX + 1];
    bridge_split_name(arg, l, t);
    for (int i = 0; i < b->nchan; i++)
        if (!strcmp(b->chans[i].name, l) && !strcmp(b->chans[i].topic, t))
            return &b->chans[i];
    /* config.c allows at most BRIDGE_MAX_CHANS of each direction */
    struct bridge_chan *c = &b->chans[b->nchan++];
    memset(c, 0, sizeof *c);
    strcpy(c->name, l);
    strcpy(c->topic, t);
    c->tlen = (unsigned)strlen(t);
    return c;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *monitor(struct bridge *b, void *sock, const char *name)
{
    char ep[64];
    snprintf(ep, sizeof ep, "inproc://shmkit-bridge-mon-%s", name);
    int ev = ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED |
             ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
             ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
    if (b->cfg.verbose)
        ev |= ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_CONNECT_RETRIED;
    if (zmq_socket_monitor(sock, ep, ev) < 0)
        return NULL;
    void *m = zmq_socket(b->ctx, ZMQ_PAIR);
    if (m && zmq_connect(m, ep) < 0) {
        zmq_close(m);
        m = NULL;
    }
    return m;
}

static void set_int(void *s, int opt, int v)
{
    zmq_setsockopt(s, opt, &v, sizeof v);
}

/* The export side: one XPUB bound to every --bind endpoint. */
static int make_xpub(struct bridge *b)
{
    b->xpub = zmq_socket(b->ctx, ZMQ_XPUB);
    if (!b->xpub)
        return fail("zmq_socket", zmq_strerror(errno));
    set_int(b->xpub, ZMQ_LINGER, 0);
    set_int(b->xpub, ZMQ_SNDHWM, b->cfg.hwm);
    set_int(b->xpub, ZMQ_RCVHWM, b->cfg.hwm);
    /* subscriptions are a few bytes: refuse anything much bigger from a
     * peer (not smaller than a CURVE handshake's INITIATE, ~300 bytes) */
    int64_t maxin = 4096;
    zmq_setsockopt(b->xpub, ZMQ_MAXMSGSIZE, &maxin, sizeof maxin);
    if (bridge_curve_server(&b->curve, b->xpub) < 0)
        return fail("CURVE", zmq_strerror(errno));
    b->xpub_mon = monitor(b, b->xpub, "out");
    if (!b->xpub_mon)
        return fail("zmq_socket_monitor", zmq_strerror(errno));
    for (int i = 0; i < b->cfg.nbind; i++)
        if (zmq_bind(b->xpub, b->cfg.binds[i]) < 0)
            return fail(b->cfg.binds[i], zmq_strerror(errno));
    return 0;
}

/* The import side: one SUB connected to every --connect endpoint and
 * subscribed to the frames of each imported topic. */
static int make_sub(struct bridge *b)
{
    b->sub = zmq_socket(b->ctx, ZMQ_SUB);
    if (!b->sub)
        return fail("zmq_socket", zmq_strerror(errno));
    set_int(b->sub, ZMQ_LINGER, 0);
    set_int(b->sub, ZMQ_RCVHWM, b->cfg.hwm);
    set_int(b->sub, ZMQ_RECONNECT_IVL, 100);
    set_int(b->sub, ZMQ_RECONNECT_IVL_MAX, 1000);
    size_t mm = 0;
    for (int i = 0; i < b->nchan; i++)
        if ((b->chans[i].dirs & DIR_IMPORT) && b->chans[i].msg_max > mm)
            mm = b->chans[i].msg_max;
    /* a peer announcing a bigger frame is cut off before it is read */
    int64_t maxin = (int64_t)bridge_frame_max(mm);
    zmq_setsockopt(b->sub, ZMQ_MAXMSGSIZE, &maxin, sizeof maxin);
    if (bridge_curve_client(&b->curve, b->sub) < 0)
        return fail("CURVE", zmq_strerror(errno));
    for (int i = 0; i < b->nchan; i++) {
        struct bridge_chan *c = &b->chans[i];
        if (!(c->dirs & DIR_IMPORT))
            continue;
        unsigned char pre[BRIDGE_PREFIX_MAX];
        size_t n = bridge_frame_prefix(pre, c->topic, c->tlen);
        zmq_setsockopt(b->sub, ZMQ_SUBSCRIBE, pre, n);
    }
    b->sub_mon = monitor(b, b->sub, "in");
    if (!b->sub_mon)
        return fail("zmq_socket_monitor", zmq_strerror(errno));
    for (int i = 0; i < b->cfg.nconnect; i++)
        if (zmq_connect(b->sub, b->cfg.connects[i]) < 0)
            return fail(b->cfg.connects[i], zmq_strerror(errno));
    return 0;
}

static void drain_sub(struct bridge *b)
{
    for (int i = 0; i < 256; i++) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, b->sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        /* frames are single-part: a multi-part message (a hostile peer)
         * is judged by its first part, which then fails as too short or
         * too long, and the rest arrives as frames of its own */
        bridge_pump_in_frame(b, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
}

static void write_stats(struct bridge *b)
{
    if (b->cfg.stats_file) {
        int rc = bridge_stats_write(b, b->cfg.stats_file);
        if (rc < 0 && b->cfg.verbose)
            fprintf(stderr, "shmkit-bridge: %s: %s\n", b->cfg.stats_file, strerror(-rc));
    }
}

static void loop(struct bridge *b)
{
    double next = now() + b->cfg.stats_interval;
    double next_table = now() + BRIDGE_STATS_TABLE_MS / 1000.0;
    while (!*b->stop) {
        zmq_pollitem_t it[3];
        int n = 0, isub = -1, imon = -1, izap = -1;
        if (b->sub) {
            isub = n;
            it[n++] = (zmq_pollitem_t){.socket = b->sub, .events = ZMQ_POLLIN};
            imon = n;
            it[n++] = (zmq_pollitem_t){.socket = b->sub_mon, .events = ZMQ_POLLIN};
        }
        if (b->curve.zap) {
            izap = n;
            it[n++] = (zmq_pollitem_t){.socket = b->curve.zap, .events = ZMQ_POLLIN};
        }
        double left = (next < next_table ? next : next_table) - now();
        long ms = left <= 0 ? 0 : left > 0.1 ? 100 : (long)(left * 1000) + 1;
        int rc = n ? zmq_poll(it, n, ms) : (nanosleep(&(struct timespec){0, ms * 1000000}, NULL), 0);
        if (rc > 0) {
            if (isub >= 0 && (it[isub].revents & ZMQ_POLLIN))
                drain_sub(b);
            if (imon >= 0 && (it[imon].revents & ZMQ_POLLIN))
                bridge_monitor_event(b, b->sub_mon, C_PEERS_IN);
            if (izap >= 0 && (it[izap].revents & ZMQ_POLLIN))
                bridge_zap_serve(&b->curve, &b->st);
        }
        if (now() >= next) {
            write_stats(b);
            next = now() + b->cfg.stats_interval;
        }
        if (now() >= next_table) { /* the live table: cheap, so more often */
            bridge_stats_table_update(b);
            next_table = now() + BRIDGE_STATS_TABLE_MS / 1000.0;
        }
    }
}

int bridge_run(struct bridge *b, volatile sig_atomic_t *stop)
{
    int status = 0, have_thread = 0, started = 0;
    pthread_t out;
    b->stop = stop;
    b->id = b->cfg.id;
    while (!b->id)
        if (getrandom(&b->id, sizeof b->id, 0) != sizeof b->id)
            return fail("getrandom", strerror(errno));
    for (int i = 0; i < b->cfg.nexport; i++)
        chan_of(b, b->cfg.exports[i])->dirs |= DIR_EXPORT;
    for (int i = 0; i < b->cfg.nimport; i++)
        chan_of(b, b->cfg.imports[i])->dirs |= DIR_IMPORT;
    /* the keys first: bad input must change nothing, so no bus is made
     * before everything the command line names has been read */
    char err[512];
    if (bridge_curve_load(&b->curve, &b->cfg, err, sizeof err) < 0) {
        fprintf(stderr, "shmkit-bridge: %s\n", err);
        return 1;
    }
    for (int i = 0; i < b->nchan; i++) {
        struct bridge_chan *c = &b->chans[i];
        b->nexport += !!(c->dirs & DIR_EXPORT);
        b->nimport += !!(c->dirs & DIR_IMPORT);
        int rc = bridge_local_open(c, &b->cfg);
        if (rc < 0) {
            fprintf(stderr, "shmkit-bridge: %s: %s\n", c->name, shmkit_strerror(rc));
            status = rc == -EBUSY || rc == SHMKIT_ELAYOUT || rc == -EUSERS ? 1 : 2;
            goto free_curve;
        }
    }
    if ((status = bridge_stats_table_open(b)))
        goto free_curve;
    b->ctx = zmq_ctx_new();
    if (!b->ctx) {
        status = fail("zmq_ctx_new", zmq_strerror(errno));
        goto free_curve;
    }
    if (bridge_zap_start(&b->curve, b->ctx) < 0) {
        status = fail("ZAP handler", zmq_strerror(errno));
        goto close_sockets;
    }
    if ((b->nexport && (status = make_xpub(b))) || (b->nimport && (status = make_sub(b))))
        goto close_sockets;
    for (int d = 0; d < 2; d++) {
        char **v = d ? b->cfg.ring_in : b->cfg.ring_out;
        int n = d ? b->cfg.nring_in : b->cfg.nring_out;
        for (int i = 0; i < n; i++) {
            struct bridge_ring *r = &b->rings[b->nring++];
            char part[2 * BRIDGE_TOPIC_MAX + 3];
            const char *ep = bridge_ring_endpoint(v[i]);
            snprintf(part, sizeof part, "%.*s", (int)(ep - 1 - v[i]), v[i]);
            memset(r, 0, sizeof *r);
            r->b = b;
            r->dir = d ? DIR_IMPORT : DIR_EXPORT;
            r->ep = ep;
            bridge_split_name(part, r->name, r->topic);
            r->tlen = (unsigned)strlen(r->topic);
            if ((status = bridge_ring_open(r)))
                goto close_sockets;
        }
    }
    for (int d = 0; d < 2; d++) {
        char **v = d ? b->cfg.rpc_in : b->cfg.rpc_out;
        int n = d ? b->cfg.nrpc_in : b->cfg.nrpc_out;
        for (int i = 0; i < n; i++) {
            struct bridge_rpc *r = &b->rpcs[b->nrpc++];
            char part[2 * BRIDGE_TOPIC_MAX + 3];
            const char *ep = bridge_ring_endpoint(v[i]);
            snprintf(part, sizeof part, "%.*s", (int)(ep - 1 - v[i]), v[i]);
            memset(r, 0, sizeof *r);
            r->b = b;
            r->dir = d ? DIR_IMPORT : DIR_EXPORT;
            r->ep = ep;
            bridge_split_name(part, r->name, r->topic);
            r->tlen = (unsigned)strlen(r->topic);
            if ((status = bridge_rpc_open(r)))
                goto close_sockets;
        }
    }
    /* signals go to the main thread (its blocking calls return EINTR); the
     * other threads see *stop within their 20 ms sleeps */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = b->nexport ? pthread_create(&out, NULL, bridge_pump_out, b) : 0;
    have_thread = b->nexport && !rc;
    for (int i = 0; i < b->nring && !rc; i++)
        rc = -bridge_ring_start(&b->rings[i]);
    for (int i = 0; i < b->nrpc && !rc; i++)
        rc = -bridge_rpc_start(&b->rpcs[i]);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc) {
        status = fail("pthread_create", strerror(rc));
        goto stop_threads;
    }
    if (b->cfg.verbose)
        fprintf(stderr, "shmkit-bridge: id %016llx, %d exported, %d imported, %d rings, %d rpc\n",
                (unsigned long long)b->id, b->nexport, b->nimport, b->nring, b->nrpc);
    write_stats(b);
    bridge_stats_table_update(b);
    started = 1;
    loop(b);
stop_threads:
    *stop = 1;
    if (have_thread)
        pthread_join(out, NULL);
    for (int i = 0; i < b->nring; i++)
        bridge_ring_close(&b->rings[i]);
    for (int i = 0; i < b->nrpc; i++)
        bridge_rpc_close(&b->rpcs[i]);
    if (!status)
        write_stats(b);
close_sockets:
    *stop = 1;
    for (int i = 0; i < b->nring; i++) {
        if (!started && b->rings[i].seg && shmkit_seg_created(b->rings[i].seg) == 1)
            shmkit_seg_remove(b->rings[i].seg); /* as the buses, below */
        bridge_ring_close(&b->rings[i]);
    }
    for (int i = 0; i < b->nrpc; i++)
        bridge_rpc_close(&b->rpcs[i]);
    if (b->xpub_mon)
        zmq_close(b->xpub_mon);
    if (b->sub_mon)
        zmq_close(b->sub_mon);
    if (b->xpub)
        zmq_close(b->xpub);
    if (b->sub)
        zmq_close(b->sub);
    if (b->curve.zap)
        zmq_close(b->curve.zap);
    b->curve.zap = NULL;
    if (b->ctx)
        zmq_ctx_term(b->ctx);
free_curve:
    bridge_curve_free(&b->curve);
    for (int i = 0; i < b->nchan; i++) {
        /* a start that failed (an endpoint in use, ...) takes back the
         * buses it made: nothing is left behind by a command that did not run */
        if (!started && b->chans[i].seg && shmkit_seg_created(b->chans[i].seg) == 1)
            shmkit_seg_remove(b->chans[i].seg);
        bridge_local_close(&b->chans[i]);
    }
    bridge_stats_table_close(b); /* removed: only a killed bridge leaves it (gc) */
    return status;
}
