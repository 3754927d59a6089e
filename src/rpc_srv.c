/* rpc_srv.c - the server's side of a request/response endpoint: sweep the
 * pending bitmap, serve the sweep round-robin, take a request with a CAS,
 * answer it in place and wake its client if it sleeps. The server never
 * waits for a client. */
#include "rpc.h"

#include <string.h>

void shmkit_rpc_server_set_spin(shmkit_rpc_server *s, int64_t spin_ns)
{
    if (!s)
        return;
    s->spin_ns = spin_ns;
    /* relaxed: a hint for the clients' wake check (see chan_wait.c) */
    shmkit__store_relaxed(&s->c->srv_nopark, spin_ns < 0);
}

/* Anything in the current sweep or in the shared bitmap? */
static int pending_poll(void *ctx)
{
    shmkit_rpc_server *s = ctx;
    for (uint32_t i = 0; i < s->g.words; i++)
        if (s->local[i] || shmkit__load_relaxed(&s->bitmap[i]))
            return 1;
    return 0;
}

/* chan_waiter.gone: a server waits for clients for ever */
static int never_gone(void *ctx)
{
    (void)ctx;
    return 0;
}

/* Takes the shared bitmap as the next sweep. 1 if anything was pending. */
static int sweep(shmkit_rpc_server *s)
{
    int any = 0;
    for (uint32_t i = 0; i < s->g.words; i++) {
        if (!shmkit__load_relaxed(&s->bitmap[i]))
            continue;
        /* acq_rel exchange: takes the bits; the requests' states are
         * read with their own acquire */
        s->local[i] = shmkit__xchg_acq_rel(&s->bitmap[i], 0);
        any |= s->local[i] != 0;
    }
    /* the sweep starts where the previous one did, plus one: over many
     * sweeps every slot is first as often as any other */
    s->next = s->cursor;
    s->cursor = s->cursor + 1 >= s->g.max_clients ? 0 : s->cursor + 1;
    return any;
}

/* The next slot of the sweep from s->next on (wrapping), or -1 if the
 * sweep is empty; its bit is cleared. A word at a time: the 64-byte path
 * must not walk bits. */
static int64_t next_in_sweep(shmkit_rpc_server *s)
{
    uint32_t words = s->g.words, start = s->next;
    for (uint32_t k = 0; k <= words; k++) {
        uint32_t w = (start / 64 + k) % words;
        uint64_t bits = s->local[w];
        if (k == 0)
            bits &= ~0ull << (start % 64); /* from START on in its word */
        else if (k == words)
            bits &= start % 64 ? ~(~0ull << (start % 64)) : 0; /* the wrapped part */
        if (!bits)
            continue;
        uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);
        s->local[w] &= ~(1ull << (i % 64));
        s->next = i + 1 >= words * 64 ? 0 : i + 1;
        return i;
    }
    return -1;
}

/* Tries to take the request of slot I. 1 taken, 0 nothing there
 * (withdrawn, or a stale bit), < 0 corrupt. */
static int take(shmkit_rpc_server *s, uint32_t i, struct shmkit_rpc_request *req)
{
    if (i >= s->g.max_clients)
        return SHMKIT_ECORRUPT; /* a bit beyond the last slot */
    struct rpc_slot *sl = rpc_slot_at(s->slots, &s->g, i);
    uint64_t st = shmkit__load_acquire(&sl->state);
    if (rpc_phase(st) != RPC_REQ)
        return 0;
    uint64_t seq = rpc_seq(st);
    /* acq_rel: the request bytes are visible; the client can no longer
     * withdraw or rewrite them */
    if (!shmkit__cas_acq_rel(&sl->state, &st, rpc_state(seq, RPC_TAKEN)))
        return 0;
    uint64_t len = shmkit__load_relaxed(&sl->req_len);
    if (len > s->g.max_req) {
        /* the client's call ends with SHMKIT_ECORRUPT */
        shmkit__store_relaxed(&sl->resp_len, RPC_RESP_CORRUPT);
        st = rpc_state(seq, RPC_TAKEN);
        shmkit__cas_release(&sl->state, &st, rpc_state(seq, RPC_DONE));
        shmkit__wake(&sl->cli_parked, &sl->cli_token);
        return SHMKIT_ECORRUPT;
    }
    req->data = (unsigned char *)sl + RPC_SLOT_HDR;
    req->len = (size_t)len;
    req->client = i;
    req->gen = shmkit__load_relaxed(&sl->gen);
    req->seq = seq;
    req->claim = claim_load(&sl->claim);
    return 1;
}

int shmkit_rpc_recv(shmkit_rpc_server *s, struct shmkit_rpc_request *req, int64_t timeout_ns)
{
    if (!s || !req)
        return -EINVAL;
    int64_t deadline = timeout_ns > 0 ? shmkit__deadline(timeout_ns) : -1;
    for (;;) {
        int64_t i;
        while ((i = next_in_sweep(s)) >= 0) {
            int rc = take(s, (uint32_t)i, req);
            if (rc)
                return rc < 0 ? rc : 0;
        }
        if (sweep(s))
            continue;
        int64_t left = timeout_ns > 0 ? shmkit__time_left(deadline) : timeout_ns;
        if (timeout_ns > 0 && left == 0)
            return -ETIMEDOUT;
        if (timeout_ns == 0 && s->wfd >= 0) {
            /* an event loop's try: arm the descriptor, then look once more
             * (a request sent before the arm is seen here, one sent after
             * it makes the descriptor readable) */
            shmkit__rpc_server_arm(s);
            if (pending_poll(s))
                continue;
            return -EAGAIN;
        }
        struct chan_waiter w = {.poll = pending_poll,
                                .gone = never_gone,
                                .ctx = s,
                                .flag = &s->c->srv_parked,
                                .waits = &s->c->srv_waits,
                                .spin_ns = s->spin_ns,
                                .last_check = &s->last_check};
        int rc = shmkit__chan_wait(&w, left);
        if (rc < 0)
            return rc;
    }
}

/* REQ's slot, if REQ is a request this server holds (state TAKEN(seq)). */
static struct rpc_slot *held(shmkit_rpc_server *s, const struct shmkit_rpc_request *req)
{
    if (req->client >= s->g.max_clients)
        return NULL;
    struct rpc_slot *sl = rpc_slot_at(s->slots, &s->g, req->client);
    if (shmkit__load_relaxed(&sl->state) != rpc_state(req->seq, RPC_TAKEN))
        return NULL;
    return sl;
}

int shmkit_rpc_reply_loan(shmkit_rpc_server *s, const struct shmkit_rpc_request *req, size_t len,
                          void **p)
{
    if (!s || !req || !p)
        return -EINVAL;
    struct rpc_slot *sl = held(s, req);
    if (!sl)
        return -EINVAL;
    if (len > s->g.max_resp)
        return SHMKIT_ETOOBIG;
    *p = (unsigned char *)sl + RPC_SLOT_HDR + rpc_round64(s->g.max_req);
    s->loaned = 1;
    s->loan_client = req->client;
    s->loan_len = len;
    return 0;
}

/* Publishes LEN response bytes already in REQ's slot. */
static int answer(shmkit_rpc_server *s, struct rpc_slot *sl, const struct shmkit_rpc_request *req,
                  size_t len)
{
    shmkit__store_relaxed(&sl->resp_len, (uint64_t)len);
    chan_bump(&s->c->replies, 1);
    /* who holds the slot, read BEFORE the answer goes out: a client that
     * reads the answer and closes at once must not make a delivered
     * answer look dropped */
    uint64_t holder = claim_load(&sl->claim);
    uint64_t st = rpc_state(req->seq, RPC_TAKEN);
    /* release: the response bytes and length are visible with DONE */
    if (!shmkit__cas_release(&sl->state, &st, rpc_state(req->seq, RPC_DONE)))
        return SHMKIT_ECORRUPT; /* only we leave TAKEN while we serve */
    /* relaxed as in the ring's wake_peer: a busy-polling client never
     * sleeps */
    if (!shmkit__load_relaxed(&sl->cli_nopark))
        shmkit__wake(&sl->cli_parked, &sl->cli_token);
    /* the client that asked had closed or its slot was taken back before
     * the answer was published: dropped */
    if (holder != req->claim)
        return SHMKIT_EPEERDEAD;
    return 0;
}

int shmkit_rpc_reply_commit(shmkit_rpc_server *s, const struct shmkit_rpc_request *req,
                            size_t len)
{
    if (!s || !req || !s->loaned || s->loan_client != req->client || len > s->loan_len)
        return -EINVAL;
    struct rpc_slot *sl = held(s, req);
    if (!sl)
        return -EINVAL;
    s->loaned = 0;
    return answer(s, sl, req, len);
}

int shmkit_rpc_reply_send(shmkit_rpc_server *s, const struct shmkit_rpc_request *req,
                          const void *buf, size_t len)
{
    if (!s || !req || (!buf && len))
        return -EINVAL;
    struct rpc_slot *sl = held(s, req);
    if (!sl)
        return -EINVAL;
    if (len > s->g.max_resp)
        return SHMKIT_ETOOBIG;
    if (len)
        memcpy((unsigned char *)sl + RPC_SLOT_HDR + rpc_round64(s->g.max_req), buf, len);
    if (s->loaned && s->loan_client == req->client)
        s->loaned = 0;
    return answer(s, sl, req, len);
}
