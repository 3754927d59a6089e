/* rpc_open.c - a request/response endpoint's geometry, its layout in a
 * segment, attaching as server or client, the named create-or-attach, and
 * its statistics. The calls themselves are rpc.c (client) and rpc_srv.c
 * (server). */
#include "first_contact.h"
#include "rpc.h"
#include "segment.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

/* Default spins before sleeping. The server is one process: 50 us, as a
 * channel. A client only waits for another process's work, and an
 * endpoint may have many more clients than there are cores: a client that
 * spins while the server is not running takes a core from it (64 clients
 * on 2 cores spinning 50 us: 17,000-23,000 calls/s in 6 of 10 runs,
 * against 28,000-73,000 with spins of 5 us or 1 ns; bench/README.md). 5 us still
 * covers a round trip to a running server (about 0.2 us). */
#define RPC_SERVER_SPIN_NS 50000
#define RPC_CLIENT_SPIN_NS 5000

/* Sizes of one geometry; 0 when it is invalid. */
static uint64_t geo_for(uint64_t max_req, uint64_t max_resp, uint64_t max_clients,
                        struct rpc_geo *g)
{
    if (!max_req || max_req > SHMKIT_RPC_MSG_LIMIT || !max_resp ||
        max_resp > SHMKIT_RPC_MSG_LIMIT || !max_clients || max_clients > SHMKIT_RPC_MAX_CLIENTS)
        return 0;
    g->max_req = max_req;
    g->max_resp = max_resp;
    g->max_clients = (uint32_t)max_clients;
    g->words = (uint32_t)((max_clients + 63u) / 64u);
    g->bitmap_off = RPC_CTL_SIZE;
    g->slots_off = RPC_CTL_SIZE + rpc_round64((uint64_t)g->words * 8u);
    g->slot_size = RPC_SLOT_HDR + rpc_round64(max_req) + rpc_round64(max_resp);
    /* at most 4096 * (128 + 2^31 + 64): no overflow */
    return g->slots_off + g->slot_size * max_clients;
}

size_t shmkit_rpc_size_for(size_t max_request, size_t max_response, unsigned max_clients)
{
    struct rpc_geo g;
    uint64_t n = geo_for(max_request, max_response, max_clients, &g);
    return n > SIZE_MAX ? 0 : (size_t)n;
}

int shmkit__rpc_geo(const struct rpc_ctl *c, size_t size, const uint64_t *p, struct rpc_geo *g)
{
    if (size < RPC_CTL_SIZE)
        return SHMKIT_ECORRUPT;
    char magic[8];
    memcpy(magic, c->magic, sizeof magic);
    if (memcmp(magic, RPC_MAGIC, 8))
        return SHMKIT_ECORRUPT;
    if (shmkit__load_relaxed(&c->version) != RPC_VERSION)
        return SHMKIT_EVERSION;
    /* copied once: every later use reads the copy */
    uint64_t req = shmkit__load_relaxed(&c->max_req), resp = shmkit__load_relaxed(&c->max_resp);
    uint32_t n = shmkit__load_relaxed(&c->max_clients);
    uint64_t need = geo_for(req, resp, n, g);
    if (!need || need > size || shmkit__load_relaxed(&c->flags) ||
        shmkit__load_relaxed(&c->bitmap_off) != g->bitmap_off ||
        shmkit__load_relaxed(&c->slots_off) != g->slots_off ||
        shmkit__load_relaxed(&c->slot_size) != g->slot_size)
        return SHMKIT_ECORRUPT;
    if (p && (p[0] != req || p[1] != resp || p[2] != n || p[3] != RPC_VERSION))
        return SHMKIT_ECORRUPT;
    return 0;
}

int shmkit__rpc_check(const shmkit_seg *seg, int writable, struct rpc_geo *g)
{
    uint32_t layout;
    uint64_t p[4];
    int rc = shmkit__seg_layout(seg, &layout, p);
    if (rc < 0)
        return rc;
    if (layout != SHMKIT_LAYOUT_RPC)
        return SHMKIT_ELAYOUT;
    if (writable && !seg->writable)
        return -EBADF;
    return shmkit__rpc_geo(shmkit_seg_data(seg), shmkit_seg_size(seg), p, g);
}

int shmkit__rpc_self_claim(uint64_t *claim)
{
    struct shmkit_owner me;
    int rc = shmkit_owner_self(&me);
    if (rc < 0)
        return rc;
    uint64_t id = shmkit__owner_id(&me);
    if (!id)
        return -EOVERFLOW; /* a pid of 2^22 or more: not on Linux */
    *claim = claim_make(CLAIM_ATTACHED, id);
    return 0;
}

static int cfg_ok(const struct shmkit_rpc_config *cfg)
{
    return cfg && !cfg->pad0_ && shmkit__all_zero(cfg->reserved, sizeof cfg->reserved);
}

/* The control block of a fresh endpoint (the header's layout already says
 * rpc): everything else is zero. */
static void format(struct rpc_ctl *c, const struct rpc_geo *g, uint64_t need)
{
    memset(c, 0, need);
    memcpy(c->magic, RPC_MAGIC, 8);
    c->version = RPC_VERSION;
    c->max_req = g->max_req;
    c->max_resp = g->max_resp;
    c->max_clients = g->max_clients;
    c->bitmap_off = g->bitmap_off;
    c->slots_off = g->slots_off;
    c->slot_size = g->slot_size;
    /* release: the control block is complete before anyone attaches
     * (attachers read it after opening the segment, itself a barrier) */
    shmkit__fence_release();
}

int shmkit_rpc_init(shmkit_seg *seg, const struct shmkit_rpc_config *cfg)
{
    struct rpc_geo g;
    if (!seg || !cfg_ok(cfg))
        return -EINVAL;
    uint64_t need = geo_for(cfg->max_request, cfg->max_response,
                            cfg->max_clients ? cfg->max_clients : SHMKIT_RPC_DEFAULT_CLIENTS, &g);
    if (!need)
        return -EINVAL;
    if (shmkit_seg_size(seg) < need)
        return SHMKIT_EBADSIZE;
    uint64_t param[4] = {g.max_req, g.max_resp, g.max_clients, RPC_VERSION};
    int rc = shmkit_seg_set_layout(seg, SHMKIT_LAYOUT_RPC, param);
    if (rc < 0)
        return rc;
    format(shmkit_seg_data(seg), &g, need);
    return 0;
}

/* ---------------------------------------------------------------- server */

/* A new server ends the calls its dead predecessor had taken (their
 * clients were told SHMKIT_EPEERDEAD) and marks every request still
 * waiting as pending again (its bit may have been swept by the dead one). */
static void adopt(shmkit_rpc_server *s)
{
    for (uint32_t i = 0; i < s->g.max_clients; i++) {
        struct rpc_slot *sl = rpc_slot_at(s->slots, &s->g, i);
        uint64_t st = shmkit__load_acquire(&sl->state);
        if (rpc_phase(st) == RPC_TAKEN) {
            shmkit__store_relaxed(&sl->resp_len, RPC_RESP_DEAD);
            /* release (in the CAS): the marker goes with the state */
            if (shmkit__cas_release(&sl->state, &st, rpc_state(rpc_seq(st), RPC_DONE)))
                shmkit__wake(&sl->cli_parked, &sl->cli_token);
        } else if (rpc_phase(st) == RPC_REQ) {
            shmkit__or_fetch_seq_cst(&s->bitmap[i / 64], 1ull << (i % 64));
        }
    }
}

int shmkit_rpc_server_attach(shmkit_rpc_server **out, shmkit_seg *seg)
{
    if (!out || !seg)
        return -EINVAL;
    *out = NULL;
    struct rpc_geo g;
    int rc = shmkit__rpc_check(seg, 1, &g);
    if (rc < 0)
        return rc;
    shmkit_rpc_server *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->local = calloc(g.words, sizeof *s->local);
    if (!s->local) {
        rc = -ENOMEM;
        goto free_handle;
    }
    s->seg = seg;
    s->g = g;
    s->c = shmkit_seg_data(seg);
    s->bitmap = (uint64_t *)((unsigned char *)s->c + g.bitmap_off);
    s->slots = (unsigned char *)s->c + g.slots_off;
    s->spin_ns = RPC_SERVER_SPIN_NS;
    s->wfd = -1;
    rc = shmkit__rpc_self_claim(&s->claim);
    if (rc < 0)
        goto free_handle;
    uint64_t w;
    do {
        w = claim_load(&s->c->srv_claim);
        if (claim_held(w)) {
            rc = -EBUSY;
            goto free_handle;
        }
    } while (!claim_cas(&s->c->srv_claim, w, s->claim));
    if (claim_state(w) == CLAIM_ATTACHED || claim_state(w) == CLAIM_CLAIMING)
        chan_bump(&s->c->takeovers, 1);
    adopt(s);
    shmkit_rpc_server_set_spin(s, s->spin_ns);
    *out = s;
    return 0;
free_handle:
    free(s->local);
    free(s);
    return rc;
}

/* A copy a child inherited across fork (its claim names the parent): only
 * the child's descriptors and memory go; the role, the slots and the epoll
 * set (shared with the parent) are left alone. */
static void close_fd(int fd)
{
    if (fd >= 0)
        close(fd);
}

int shmkit_rpc_server_close(shmkit_rpc_server *s)
{
    if (!s)
        return 0;
    if (!claim_ours(s->claim)) {
        close_fd(s->wfd);
        shmkit_seg *seg = s->own_seg ? s->seg : NULL;
        free(s->local);
        free(s);
        return seg ? shmkit_close(seg) : 0;
    }
    struct rpc_ctl *c = s->c;
    /* release (in the CAS): the responses we wrote go out before clients
     * see us gone; a role a new server took over stays with it */
    int ours = claim_cas(&c->srv_claim, s->claim, claim_make(CLAIM_DETACHED, 0));
    shmkit__store_relaxed(&c->srv_nopark, 0);
    for (uint32_t i = 0; ours && i < s->g.max_clients; i++) {
        struct rpc_slot *sl = rpc_slot_at(s->slots, &s->g, i);
        uint64_t st = shmkit__load_acquire(&sl->state);
        if (rpc_phase(st) == RPC_TAKEN) {
            shmkit__store_relaxed(&sl->resp_len, RPC_RESP_CLOSED);
            /* release: the marker goes with the state */
            shmkit__cas_release(&sl->state, &st, rpc_state(rpc_seq(st), RPC_DONE));
        }
        /* a parked client sees the close at once */
        shmkit__wake(&sl->cli_parked, &sl->cli_token);
    }
    shmkit__rpc_server_fd_close(s);
    shmkit_seg *seg = s->own_seg ? s->seg : NULL;
    free(s->local);
    free(s);
    shmkit_close(seg);
    return 0;
}

/* ---------------------------------------------------------------- client */

/* Takes a slot: a never used or cleanly left one first (no /proc read) -
 * one whose last request the server is not still holding before one
 * whose first loan would have to wait for it - then one whose client
 * died. */
static int claim_slot(shmkit_rpc_client *cl)
{
    unsigned char *slots = (unsigned char *)cl->c + cl->g.slots_off;
    for (int pass = 0; pass < 3; pass++) {
        for (uint32_t i = 0; i < cl->g.max_clients; i++) {
            struct rpc_slot *sl = rpc_slot_at(slots, &cl->g, i);
            uint64_t w = claim_load(&sl->claim);
            unsigned st = claim_state(w);
            int free_now = st == CLAIM_NEVER || st == CLAIM_DETACHED;
            int taken = rpc_phase(shmkit__load_relaxed(&sl->state)) == RPC_TAKEN;
            if (pass == 0 ? !free_now || taken : pass == 1 ? !free_now : claim_held(w))
                continue;
            if (!claim_cas(&sl->claim, w, cl->claim))
                continue;
            cl->idx = i;
            cl->s = sl;
            return 0;
        }
    }
    return -EUSERS;
}

int shmkit_rpc_client_attach(shmkit_rpc_client **out, shmkit_seg *seg)
{
    if (!out || !seg)
        return -EINVAL;
    *out = NULL;
    struct rpc_geo g;
    int rc = shmkit__rpc_check(seg, 1, &g);
    if (rc < 0)
        return rc;
    shmkit_rpc_client *cl = calloc(1, sizeof *cl);
    if (!cl)
        return -ENOMEM;
    cl->seg = seg;
    cl->g = g;
    cl->c = shmkit_seg_data(seg);
    cl->spin_ns = RPC_CLIENT_SPIN_NS;
    cl->wfd = cl->efd = cl->pidfd = -1;
    rc = shmkit__rpc_self_claim(&cl->claim);
    if (rc < 0)
        goto free_handle;
    rc = claim_slot(cl);
    if (rc < 0)
        goto free_handle;
    struct rpc_slot *sl = cl->s;
    cl->req_area = (unsigned char *)sl + RPC_SLOT_HDR;
    cl->resp_area = cl->req_area + rpc_round64(g.max_req);
    /* relaxed: a statistic-like generation only the owner writes */
    shmkit__store_relaxed(&sl->gen, shmkit__load_relaxed(&sl->gen) + 1);
    /* what the previous owner left: a request the server has not taken is
     * withdrawn; one it has taken makes our first loan wait for it */
    uint64_t st = shmkit__load_acquire(&sl->state);
    if (rpc_phase(st) == RPC_REQ &&
        !shmkit__cas_acq_rel(&sl->state, &st, rpc_state(rpc_seq(st), RPC_IDLE)))
        st = shmkit__load_acquire(&sl->state);
    cl->seq = rpc_seq(st);
    shmkit_rpc_client_set_spin(cl, cl->spin_ns);
    *out = cl;
    return 0;
free_handle:
    free(cl);
    return rc;
}

int shmkit_rpc_client_close(shmkit_rpc_client *cl)
{
    if (!cl)
        return 0;
    if (!claim_ours(cl->claim)) { /* inherited across fork: see server_close */
        close_fd(cl->wfd);
        close_fd(cl->efd);
        close_fd(cl->pidfd);
        shmkit_seg *seg = cl->own_seg ? cl->seg : NULL;
        free(cl);
        return seg ? shmkit_close(seg) : 0;
    }
    struct rpc_slot *sl = cl->s;
    uint64_t st = rpc_state(cl->seq, RPC_REQ);
    /* acq_rel: a request the server has not taken is withdrawn (one it
     * took is answered into the slot and dropped) */
    shmkit__cas_acq_rel(&sl->state, &st, rpc_state(cl->seq, RPC_IDLE));
    shmkit__store_relaxed(&sl->cli_nopark, 0);
    shmkit__rpc_client_fd_close(cl);
    /* release (in the CAS): the slot is free once everything above is */
    claim_cas(&sl->claim, cl->claim, claim_make(CLAIM_DETACHED, 0));
    shmkit_seg *seg = cl->own_seg ? cl->seg : NULL;
    free(cl);
    shmkit_close(seg);
    return 0;
}

/* ---------------------------------------------------------------- named */

static int setup(shmkit_seg *seg, void *arg)
{
    const struct shmkit_rpc_config *cfg = arg;
    struct rpc_geo g;
    uint64_t need = geo_for(cfg->max_request, cfg->max_response,
                            cfg->max_clients ? cfg->max_clients : SHMKIT_RPC_DEFAULT_CLIENTS, &g);
    if (!need || shmkit_seg_size(seg) < need)
        return SHMKIT_EBADSIZE;
    format(shmkit_seg_data(seg), &g, need);
    return 0;
}

/* What a named open asks of each try (shmkit__contact_try). */
struct endpoint_req {
    const uint64_t *param; /* the layout parameters, when creating */
    size_t asked;          /* the caller's where->size */
};

/* One try: the endpoint, opened or created (laid out by setup) with O. */
static int open_once(shmkit_seg **out, const struct shmkit_opts *o, void *ctx)
{
    const struct endpoint_req *q = ctx;
    int create = !!(o->flags & SHMKIT_CREATE);
    int rc = shmkit__open_layout(out, o, create ? q->param : NULL);
    if (rc == SHMKIT_EBADSIZE && create && o->size > 1 && !q->asked) {
        /* it exists and is smaller than what we would have made (a
         * creator with fewer clients): attach to it as it is - with
         * CREATE still, so the ownership rules of shmkit_open apply;
         * should it vanish meanwhile, a 1-byte create fails in setup */
        struct shmkit_opts one = *o;
        one.size = 1;
        rc = shmkit__open_layout(out, &one, q->param);
    }
    return rc;
}

/* Opens (or creates, laid out) the endpoint WHERE names, checked against
 * CFG; waits up to cfg->timeout_ns for another process to make it
 * (first_contact.c, as the join calls). */
static int open_endpoint(shmkit_seg **out, const struct shmkit_opts *where,
                         const struct shmkit_rpc_config *cfg)
{
    if (!out || !where || !cfg_ok(cfg) || where->init ||
        (where->layout && where->layout != SHMKIT_LAYOUT_RPC) ||
        (where->flags & (SHMKIT_RAW | SHMKIT_RDONLY)))
        return -EINVAL;
    struct shmkit_opts o = *where;
    o.layout = SHMKIT_LAYOUT_RPC;
    uint64_t param[4] = {0, 0, 0, RPC_VERSION};
    if (o.flags & SHMKIT_CREATE) {
        struct rpc_geo g;
        unsigned n = cfg->max_clients ? cfg->max_clients : SHMKIT_RPC_DEFAULT_CLIENTS;
        uint64_t need = geo_for(cfg->max_request, cfg->max_response, n, &g);
        if (!need || need > SIZE_MAX)
            return -EINVAL;
        if (!o.size)
            o.size = (size_t)need;
        param[0] = g.max_req;
        param[1] = g.max_resp;
        param[2] = g.max_clients;
        o.init = setup;
        o.init_arg = (void *)cfg;
    }
    struct endpoint_req q = {param, where->size};
    shmkit_seg *seg = NULL;
    int rc = shmkit__first_contact(&seg, &o, open_once, &q, cfg->timeout_ns);
    if (rc < 0)
        return rc;
    struct rpc_geo g;
    rc = shmkit__rpc_check(seg, 1, &g);
    if (rc == 0 && (g.max_req < cfg->max_request || g.max_resp < cfg->max_response ||
                    (cfg->max_clients && cfg->max_clients != g.max_clients)))
        rc = SHMKIT_EGEOMETRY;
    if (rc < 0) {
        shmkit_close(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

int shmkit_rpc_server_open(shmkit_rpc_server **out, const struct shmkit_opts *where,
                           const struct shmkit_rpc_config *cfg)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    shmkit_seg *seg;
    int rc = open_endpoint(&seg, where, cfg);
    if (rc < 0)
        return rc;
    rc = shmkit_rpc_server_attach(out, seg);
    if (rc < 0) {
        shmkit_close(seg);
        return rc;
    }
    (*out)->own_seg = 1;
    if (cfg->spin_ns)
        shmkit_rpc_server_set_spin(*out, cfg->spin_ns);
    return 0;
}

int shmkit_rpc_client_open(shmkit_rpc_client **out, const struct shmkit_opts *where,
                           const struct shmkit_rpc_config *cfg)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    shmkit_seg *seg;
    int rc = open_endpoint(&seg, where, cfg);
    if (rc < 0)
        return rc;
    rc = shmkit_rpc_client_attach(out, seg);
    if (rc < 0) {
        shmkit_close(seg);
        return rc;
    }
    (*out)->own_seg = 1;
    if (cfg->spin_ns)
        shmkit_rpc_client_set_spin(*out, cfg->spin_ns);
    return 0;
}

shmkit_seg *shmkit_rpc_server_seg(const shmkit_rpc_server *s)
{
    return s ? s->seg : NULL;
}

shmkit_seg *shmkit_rpc_client_seg(const shmkit_rpc_client *cl)
{
    return cl ? cl->seg : NULL;
}

/* ---------------------------------------------------------------- stats */

int shmkit_rpc_stats(const shmkit_seg *seg, struct shmkit_rpc_stats *st)
{
    if (!seg || !st)
        return -EINVAL;
    struct rpc_geo g;
    int rc = shmkit__rpc_check(seg, 0, &g);
    if (rc < 0)
        return rc;
    memset(st, 0, sizeof *st);
    const struct rpc_ctl *c = shmkit_seg_data(seg);
    st->max_request = g.max_req;
    st->max_response = g.max_resp;
    st->max_clients = g.max_clients;
    uint64_t w = claim_load(&c->srv_claim);
    if (claim_state(w) == CLAIM_ATTACHED) {
        st->server_pid = claim_pid(w);
        st->server_alive = claim_held(w);
    }
    st->takeovers = chan_load(&c->takeovers);
    st->server_waits = chan_load(&c->srv_waits);
    st->replies = chan_load(&c->replies);
    unsigned char *slots = (unsigned char *)c + g.slots_off;
    for (uint32_t i = 0; i < g.max_clients; i++) {
        struct rpc_slot *sl = rpc_slot_at(slots, &g, i);
        unsigned cs = claim_state(claim_load(&sl->claim));
        st->clients += cs == CLAIM_ATTACHED || cs == CLAIM_CLAIMING;
        uint64_t sw = shmkit__load_relaxed(&sl->state);
        unsigned ph = rpc_phase(sw);
        st->pending += ph == RPC_REQ;
        st->serving += ph == RPC_TAKEN;
        st->calls += rpc_seq(sw);
        shmkit__rpc_lat_add(sl, st);
    }
    return 0;
}
