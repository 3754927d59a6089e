/* rpc.c - the client's side of a request/response endpoint: lend the
 * request area, publish the request, wait for its response (spin, then
 * park on the slot's futex word through the channels' wait layer,
 * chan_wait.c), give a call up. The slot's state word (rpc.h) decides who
 * owns which area at any moment. */
#include "rpc.h"

#include <string.h>

void shmkit_rpc_client_set_spin(shmkit_rpc_client *cl, int64_t spin_ns)
{
    if (!cl)
        return;
    cl->spin_ns = spin_ns;
    /* relaxed: a hint for the server's wake check (see chan_wait.c) */
    shmkit__store_relaxed(&cl->s->cli_nopark, spin_ns < 0);
}

size_t shmkit_rpc_max_request(const shmkit_rpc_client *cl)
{
    return cl ? (size_t)cl->g.max_req : 0;
}

size_t shmkit_rpc_max_response(const shmkit_rpc_client *cl)
{
    return cl ? (size_t)cl->g.max_resp : 0;
}

int shmkit_rpc_client_slot(const shmkit_rpc_client *cl)
{
    return cl ? (int)cl->idx : -EINVAL;
}

/* ---------------------------------------------------------------- the server */

/* Whether the server our request went to is no longer there. A request
 * sent while no server was attached belongs to whichever attaches next. */
static int srv_replaced(shmkit_rpc_client *cl, uint64_t w)
{
    if (w == cl->srv_seen)
        return 0;
    if (claim_state(cl->srv_seen) != CLAIM_ATTACHED) {
        cl->srv_seen = w;
        return 0;
    }
    return claim_state(w) == CLAIM_DETACHED ? SHMKIT_ECLOSED : SHMKIT_EPEERDEAD;
}

/* chan_waiter.gone: the server died or was replaced (reads /proc). */
static int srv_gone(void *ctx)
{
    shmkit_rpc_client *cl = ctx;
    uint64_t w = claim_load(&cl->c->srv_claim);
    return srv_replaced(cl, w) || claim_gone(w);
}

/* chan_waiter.closed: the server closed (one load). */
static int srv_closed(void *ctx)
{
    shmkit_rpc_client *cl = ctx;
    return claim_left(claim_load(&cl->c->srv_claim));
}

/* ---------------------------------------------------------------- request */

/* The server is done with our previous request? > 0 yes, < 0 corrupt. */
static int not_taken_poll(void *ctx)
{
    shmkit_rpc_client *cl = ctx;
    uint64_t st = shmkit__load_acquire(&cl->s->state);
    if (rpc_seq(st) != cl->seq)
        return SHMKIT_ECORRUPT;
    return rpc_phase(st) != RPC_TAKEN;
}

/* Makes the areas ours: a pending request is withdrawn, one the server
 * took is waited for (its response is dropped). */
static int reclaim_areas(shmkit_rpc_client *cl, int64_t timeout_ns)
{
    struct rpc_slot *sl = cl->s;
    for (;;) {
        uint64_t st = shmkit__load_acquire(&sl->state);
        if (rpc_seq(st) != cl->seq)
            return SHMKIT_ECORRUPT; /* only we start new sequence numbers */
        switch (rpc_phase(st)) {
        case RPC_IDLE:
        case RPC_DONE:
            cl->sent = 0;
            return 0;
        case RPC_REQ:
            /* acq_rel: the server cannot take it after this */
            if (shmkit__cas_acq_rel(&sl->state, &st, rpc_state(cl->seq, RPC_IDLE))) {
                cl->sent = 0;
                return 0;
            }
            continue;
        default: {
            cl->srv_seen = claim_load(&cl->c->srv_claim);
            struct chan_waiter w = {.poll = not_taken_poll,
                                    .gone = srv_gone,
                                    .ctx = cl,
                                    .flag = &sl->cli_parked,
                                    .spin_ns = cl->spin_ns,
                                    .last_check = &cl->last_check};
            int rc = shmkit__chan_wait(&w, timeout_ns);
            if (rc < 0)
                return rc;
        }
        }
    }
}

int shmkit_rpc_request_loan(shmkit_rpc_client *cl, size_t len, void **p, int64_t timeout_ns)
{
    if (!cl || !p || cl->loaned || cl->lent)
        return -EINVAL;
    if (len > cl->g.max_req)
        return SHMKIT_ETOOBIG;
    int rc = reclaim_areas(cl, timeout_ns);
    if (rc < 0)
        return rc;
    cl->loaned = (uint64_t)len + 1;
    *p = cl->req_area;
    return 0;
}

int shmkit_rpc_request_send(shmkit_rpc_client *cl, size_t len)
{
    if (!cl || !cl->loaned || len > cl->loaned - 1)
        return -EINVAL;
    struct rpc_slot *sl = cl->s;
    struct rpc_ctl *c = cl->c;
    cl->loaned = 0;
    cl->seq++;
    /* one call in RPC_LAT_EVERY is timed: a mask and a rarely taken branch */
    if (__builtin_expect(!(cl->seq & (RPC_LAT_EVERY - 1)), 0))
        cl->lat_t0 = shmkit__now_ns();
    shmkit__store_relaxed(&sl->req_len, (uint64_t)len);
    cl->srv_seen = claim_load(&c->srv_claim);
    /* release: the request bytes and length are complete before the
     * server can see the state (it takes the request with an acquire CAS) */
    shmkit__store_release(&sl->state, rpc_state(cl->seq, RPC_REQ));
    /* seq_cst RMW: the pending bit; with the fence in shmkit__wake it is
     * visible to a server that announced sleep and polls the bitmap */
    uint64_t *bitmap = (uint64_t *)((unsigned char *)c + cl->g.bitmap_off);
    shmkit__or_fetch_seq_cst(&bitmap[cl->idx / 64], 1ull << (cl->idx % 64));
    cl->sent = 1;
    /* relaxed: a busy-polling server never sleeps (as the ring's wake_peer) */
    if (!shmkit__load_relaxed(&c->srv_nopark))
        shmkit__wake(&c->srv_parked, &c->srv_token);
    return 0;
}

/* ---------------------------------------------------------------- response */

/* The timed call's round trip, into the slot's two counters. */
static void lat_record(shmkit_rpc_client *cl)
{
    struct rpc_slot *sl = cl->s;
    int64_t ns = shmkit__now_ns() - cl->lat_t0;
    if (ns < 0)
        return;
    /* relaxed: statistics with a single writer (this client); readers
     * (shmkit_rpc_stats) may see one updated before the other */
    shmkit__store_relaxed(&sl->lat_sum_ns, shmkit__load_relaxed(&sl->lat_sum_ns) + (uint64_t)ns);
    shmkit__store_relaxed(&sl->lat_samples, shmkit__load_relaxed(&sl->lat_samples) + 1);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

void shmkit__rpc_lat_add(const struct rpc_slot *sl, struct shmkit_rpc_stats *st)
{
    /* relaxed: statistics (see lat_record) */
    st->lat_samples = add_sat(st->lat_samples, shmkit__load_relaxed(&sl->lat_samples));
    st->lat_sum_ns = add_sat(st->lat_sum_ns, shmkit__load_relaxed(&sl->lat_sum_ns));
}

/* The response to request cl->seq? > 0 yes (cl->cur_len set), 0 not yet,
 * < 0 the call ended otherwise. */
static int resp_poll(void *ctx)
{
    shmkit_rpc_client *cl = ctx;
    uint64_t st = shmkit__load_acquire(&cl->s->state);
    if (st == rpc_state(cl->seq, RPC_DONE)) {
        /* ordered by the acquire above (the server stores it before its
         * release CAS) */
        uint64_t len = shmkit__load_relaxed(&cl->s->resp_len);
        if (len == RPC_RESP_DEAD)
            return SHMKIT_EPEERDEAD;
        if (len == RPC_RESP_CLOSED)
            return SHMKIT_ECLOSED;
        if (len > cl->g.max_resp)
            return SHMKIT_ECORRUPT; /* RPC_RESP_CORRUPT included */
        cl->cur_len = len;
        return 1;
    }
    unsigned ph = rpc_phase(st);
    if (rpc_seq(st) != cl->seq || (ph != RPC_REQ && ph != RPC_TAKEN))
        return SHMKIT_ECORRUPT;
    /* one load of a line that changes only when servers come and go */
    return srv_replaced(cl, claim_load(&cl->c->srv_claim));
}

int shmkit_rpc_response_wait(shmkit_rpc_client *cl, const void **p, size_t *len,
                             int64_t timeout_ns)
{
    if (!cl || !p || !len || (!cl->sent && !cl->lent) || cl->loaned)
        return -EINVAL;
    if (!cl->lent) {
        int rc = resp_poll(cl);
        if (rc == 0 && timeout_ns == 0 && cl->efd >= 0) {
            /* an event loop's try: arm the descriptor, then look once more
             * (below: the response, or the server's death) */
            shmkit__rpc_client_arm(cl);
            rc = resp_poll(cl);
        }
        if (rc == 0) {
            struct chan_waiter w = {.poll = resp_poll,
                                    .gone = srv_gone,
                                    .closed = srv_closed,
                                    .ctx = cl,
                                    .flag = &cl->s->cli_parked,
                                    .spin_ns = cl->spin_ns,
                                    .last_check = &cl->last_check};
            rc = shmkit__chan_wait(&w, timeout_ns);
        }
        if (rc < 0) {
            /* the call is over unless it may still be answered */
            if (rc != -EAGAIN && rc != -ETIMEDOUT && rc != -EINTR)
                cl->sent = 0;
            /* a dead server's pidfd stays readable: stop watching it */
            if (rc == SHMKIT_EPEERDEAD && cl->efd >= 0)
                shmkit__rpc_client_unwatch(cl);
            return rc;
        }
        cl->lent = 1;
        cl->sent = 0;
        if (__builtin_expect(!(cl->seq & (RPC_LAT_EVERY - 1)), 0))
            lat_record(cl);
    }
    *p = cl->resp_area;
    *len = (size_t)cl->cur_len;
    return 0;
}

int shmkit_rpc_response_release(shmkit_rpc_client *cl)
{
    if (!cl || !cl->lent)
        return -EINVAL;
    cl->lent = 0;
    return 0;
}

/* Gives up the call in flight: withdrawn if the server has not taken it;
 * if it has, the next loan waits for it. */
static void give_up(shmkit_rpc_client *cl)
{
    uint64_t st = rpc_state(cl->seq, RPC_REQ);
    /* acq_rel: as in reclaim_areas */
    shmkit__cas_acq_rel(&cl->s->state, &st, rpc_state(cl->seq, RPC_IDLE));
    cl->sent = 0;
}

int shmkit_rpc_call(shmkit_rpc_client *cl, const void *req, size_t len, void *resp, size_t cap,
                    int64_t timeout_ns)
{
    if (!cl || (!req && len) || (!resp && cap) || cl->loaned || cl->lent)
        return -EINVAL;
    if (len > cl->g.max_req)
        return SHMKIT_ETOOBIG;
    int64_t deadline = timeout_ns > 0 ? shmkit__deadline(timeout_ns) : -1;
    void *p;
    int rc = shmkit_rpc_request_loan(cl, len, &p, timeout_ns);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(p, req, len);
    shmkit_rpc_request_send(cl, len);
    int64_t left = timeout_ns > 0 ? shmkit__time_left(deadline) : timeout_ns;
    if (timeout_ns > 0 && left == 0)
        left = 1; /* the loan used it all: still look once, briefly */
    const void *r;
    size_t n;
    rc = shmkit_rpc_response_wait(cl, &r, &n, left);
    if (rc < 0) {
        give_up(cl);
        return rc;
    }
    if (n > cap) {
        shmkit_rpc_response_release(cl);
        return -EMSGSIZE;
    }
    if (n)
        memcpy(resp, r, n);
    shmkit_rpc_response_release(cl);
    return n > INT32_MAX ? SHMKIT_ECORRUPT : (int)n;
}
