/* rpc.h - the on-segment layout of a request/response endpoint and the
 * handles behind shmkit_rpc_server / shmkit_rpc_client, shared by rpc.c
 * (the calls), rpc_srv.c (the server) and rpc_open.c (create-or-attach,
 * statistics). Internal. */
#ifndef SHMKIT_RPC_INTERNAL_H
#define SHMKIT_RPC_INTERNAL_H

#include "chan.h"
#include "wakefd.h"

#define RPC_MAGIC "SHMKRPC1"
#define RPC_VERSION 1u

/* The slot's state word: the call's sequence number << 2 | its phase.
 *   IDLE   the client owns both areas (no call, or one withdrawn)
 *   REQ    request SEQ published, waiting for the server
 *   TAKEN  the server took request SEQ: it owns the request area (reads)
 *          and the response area (writes)
 *   DONE   response SEQ published: the client owns both areas again
 * Client: IDLE/DONE -> REQ (store), REQ -> IDLE (withdraw, CAS).
 * Server: REQ -> TAKEN, TAKEN -> DONE (CAS). A new or closing server also
 * ends TAKEN calls with DONE and a marker length (below). */
#define RPC_IDLE 0u
#define RPC_REQ 1u
#define RPC_TAKEN 2u
#define RPC_DONE 3u

static inline uint64_t rpc_state(uint64_t seq, unsigned phase)
{
    return seq << 2 | phase;
}
static inline unsigned rpc_phase(uint64_t st)
{
    return (unsigned)(st & 3u);
}
static inline uint64_t rpc_seq(uint64_t st)
{
    return st >> 2;
}

/* resp_len values that are no length: the call ended without a response */
#define RPC_RESP_DEAD UINT64_MAX           /* its server died (a new one ended it) */
#define RPC_RESP_CLOSED (UINT64_MAX - 1)   /* its server closed */
#define RPC_RESP_CORRUPT (UINT64_MAX - 2)  /* the server found the request invalid */

struct rpc_ctl {
    /* line 0: geometry, written once at create */
    char magic[8];
    uint32_t version;
    uint32_t flags; /* 0 */
    uint64_t max_req, max_resp;
    uint32_t max_clients;
    uint32_t pad0;
    uint64_t bitmap_off, slots_off, slot_size;
    /* line 1: the server's claim; read by every waiting client's poll, so
     * nothing that changes per call lives here */
    uint64_t srv_claim; /* CLAIM_* | owner */
    uint64_t takeovers;
    uint8_t pad1[48];
    /* line 2: the server's futex word, written only around sleeping */
    uint32_t srv_parked; /* 0, SHMKIT__WAKE_FUTEX or SHMKIT__WAKE_FD (wakefd.h) */
    uint32_t srv_nopark; /* the server busy-polls: clients skip the wake check */
    uint64_t srv_waits;
    uint64_t srv_token; /* the server's wake socket (SHMKIT__WAKE_FD) */
    uint8_t pad2[40];
    /* line 3: the server's statistics (nobody polls this line) */
    uint64_t replies;
    uint8_t pad3[56];
};

/* One client slot: one header line - everything a call moves between the
 * two processes besides the bytes: state, lengths, sleep flag - then the
 * request area, then the response area (each rounded up to 64 bytes). The
 * line changes hands twice per call anyway (the state word), so the
 * lengths and the flag travel with it for free. lat_samples and lat_sum_ns
 * (the padding of format 1, zero in a new endpoint) are the sampled call
 * latency: written only by the slot's client, relaxed, never reset (a new
 * client of the slot adds to them); statistics, never used to index. */
struct rpc_slot {
    uint64_t claim;    /* CLAIM_* | owner */
    uint64_t state;    /* rpc_state(seq, phase); seq counts the slot's requests */
    uint64_t req_len;  /* the client's */
    uint64_t resp_len; /* the server's */
    uint64_t cli_token; /* the client's wake socket (SHMKIT__WAKE_FD) */
    uint32_t gen;      /* bumped by every client that claims the slot */
    uint32_t cli_parked; /* as srv_parked */
    uint32_t cli_nopark;
    uint32_t lat_samples; /* calls timed (wraps at 2^32) */
    uint64_t lat_sum_ns;  /* their round trips, summed */
};

/* One call in RPC_LAT_EVERY (by the slot's sequence number) is timed: the
 * client reads CLOCK_MONOTONIC before it publishes the request and once it
 * sees the response; the other calls read no clock. A power of two. */
#define RPC_LAT_EVERY 64u

#define RPC_CTL_SIZE 256u
#define RPC_SLOT_HDR 64u

_Static_assert(sizeof(struct rpc_ctl) == RPC_CTL_SIZE, "rpc control block");
_Static_assert(offsetof(struct rpc_ctl, srv_claim) == 64, "rpc server line");
_Static_assert(offsetof(struct rpc_ctl, srv_parked) == 128, "rpc wait line");
_Static_assert(sizeof(struct rpc_slot) == RPC_SLOT_HDR, "rpc slot header");

static inline uint64_t rpc_round64(uint64_t v)
{
    return (v + 63u) & ~(uint64_t)63u;
}

/* The geometry, copied out of the control block once and checked. */
struct rpc_geo {
    uint64_t max_req, max_resp, bitmap_off, slots_off, slot_size;
    uint32_t max_clients, words;
};
/* Validates the control block at C against a payload of SIZE bytes and
 * the header's layout parameters P (NULL: not checked). 0,
 * SHMKIT_ECORRUPT or SHMKIT_EVERSION. */
int shmkit__rpc_geo(const struct rpc_ctl *c, size_t size, const uint64_t *p, struct rpc_geo *g);

/* Attach-time checks of SEG: layout, parameters, control block. */
int shmkit__rpc_check(const shmkit_seg *seg, int writable, struct rpc_geo *g);

struct shmkit_rpc_server {
    shmkit_seg *seg;
    int own_seg; /* opened by shmkit_rpc_server_open: closed with the handle */
    struct rpc_ctl *c;
    struct rpc_geo g;
    uint64_t *bitmap;
    unsigned char *slots;
    uint64_t claim; /* our claim word */
    int64_t spin_ns, last_check;
    uint64_t *local;  /* the sweep being served (g.words words) */
    uint32_t cursor;  /* where the next sweep starts (rotates: fairness) */
    uint32_t next;    /* the next slot of the current sweep */
    int loaned;       /* a reply loan is open */
    int wfd;          /* wake socket (shmkit_rpc_server_fd), -1: none */
    uint64_t token;
    uint32_t loan_client;
    uint64_t loan_len;
};

struct shmkit_rpc_client {
    shmkit_seg *seg;
    int own_seg;
    struct rpc_ctl *c;
    struct rpc_geo g;
    struct rpc_slot *s;
    unsigned char *req_area, *resp_area;
    uint32_t idx;
    uint64_t claim;
    uint64_t seq;      /* the last request's sequence number */
    uint64_t srv_seen; /* the server's claim word when it was sent */
    uint64_t cur_len;  /* the response being looked at */
    int64_t spin_ns, last_check;
    uint64_t loaned;   /* a request loan is open: its length + 1 */
    int64_t lat_t0;    /* when the timed request (seq % RPC_LAT_EVERY == 0) was sent */
    int sent;          /* a request is out and its response not yet seen */
    int lent;          /* the response is lent (response_wait .. release) */
    int wfd, efd, pidfd; /* wake socket, the epoll set handed out, the */
    int32_t watch_pid;   /* server's pidfd in it (-1: none) and its pid */
    uint64_t token;
};

static inline struct rpc_slot *rpc_slot_at(unsigned char *slots, const struct rpc_geo *g,
                                           uint32_t i)
{
    return (struct rpc_slot *)(slots + (uint64_t)i * g->slot_size);
}

/* rpc_poll.c: arm the handle's descriptor (drain, publish the token, set
 * the flag to SHMKIT__WAKE_FD, fence). The caller polls once more after. */
void shmkit__rpc_server_arm(shmkit_rpc_server *s);
void shmkit__rpc_client_arm(shmkit_rpc_client *cl);
void shmkit__rpc_server_fd_close(shmkit_rpc_server *s);
void shmkit__rpc_client_fd_close(shmkit_rpc_client *cl);
void shmkit__rpc_client_unwatch(shmkit_rpc_client *cl);

/* rpc.c: adds slot SL's latency samples to *ST (saturating: the counters
 * are read from shared memory). */
struct shmkit_rpc_stats;
void shmkit__rpc_lat_add(const struct rpc_slot *sl, struct shmkit_rpc_stats *st);

/* The owner id of the calling process as a claim word, or a negative code. */
int shmkit__rpc_self_claim(uint64_t *claim);

#endif
