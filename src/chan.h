/* chan.h - what the ring and bus files share: on-segment layouts, the
 * spin-then-park wait, liveness helpers. Internal. */
#ifndef SHMKIT_CHAN_H
#define SHMKIT_CHAN_H

#include "internal.h"
#include "sync_internal.h"
#include "wakefd.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

/* 2: every role is held through a claim word naming its owner (below);
 * 3: the ring's cut-through record (REC_WIP) and its progress words (the
 * bus did not change, but rings and buses share the number: a channel of
 * format 2 gets SHMKIT_EVERSION) */
#define CHAN_VERSION 3u

/* Claim words. Each role - the ring's consumer and producer slots, the
 * bus's publisher and subscriber records - is held through one 64-bit word
 * that says both its state and its owner, so no claim ever exists without
 * an identifiable owner: a single compare-and-swap takes the role and names
 * the taker, and a word whose owner died is taken back by another (compared
 * whole, so of two reclaimers one wins).
 *   bits 63-62  CLAIM_NEVER (the whole word 0), CLAIM_ATTACHED,
 *               CLAIM_DETACHED (left; the owner bits are 0), CLAIM_CLAIMING
 *               (a bus subscriber joining: owned, its cursor not yet set)
 *   bits 61-0   the owner, shmkit__owner_id (pid and start time)
 * A word whose state bits say attached or claiming is HELD while its owner
 * lives; anything else (a dead owner included) may be taken. */
#define CLAIM_NEVER 0u
#define CLAIM_ATTACHED 1u
#define CLAIM_DETACHED 2u
#define CLAIM_CLAIMING 3u

/* ---- ring control block (payload offset 0); data follows at RING_DATA_OFF ---- */

#define RING_MAGIC "SHMKRNG1"
#define RING_PROD_SLOTS SHMKIT_RING_MAX_PRODUCERS

/* Record header word (8 bytes, before every record): length in the low 32
 * bits (a message is at most SHMKIT_RING_MSG_LIMIT, a filler shorter than
 * the largest record) and exactly one kind bit. REC_WIP marks a large
 * message still being copied in (cut-through, ring.c): the consumer may
 * copy out what ring_ctl.wip_pos says is written, but delivers it only
 * once the header says REC_MSG with the same length and ring_ctl.wip_gen
 * did not move (a producer that takes over from a dead one zeroes a
 * REC_WIP header it finds at the tail and bumps wip_gen before it writes
 * anything there). 0 means "nothing committed here yet": the
 * producer zeroes the word after each record before it commits that record,
 * so the word at the tail is always 0. Records are packed (8-byte aligned):
 * a 64-byte message takes 72 bytes, 1.125 cache lines on average. */
#define REC_MSG (1ull << 32)
#define REC_PAD (1ull << 33)
#define REC_WIP (1ull << 34)
#define REC_HDR 8u

/* Bytes a record of a LEN-byte message takes in the ring. */
static inline uint64_t ring_rec_size(uint64_t len)
{
    return REC_HDR + ((len + 7u) & ~(uint64_t)7u);
}

struct ring_prod_slot {
    uint64_t claim; /* CLAIM_* | owner */
    uint64_t pad[3];
};

struct ring_ctl {
    /* line 0: geometry, written once at create */
    char magic[8];
    uint32_t version;
    uint32_t flags; /* SHMKIT_RING_MULTI */
    uint64_t capacity;
    uint64_t data_off;
    uint64_t max_msg;
    uint8_t pad0[24];
    /* line 1: written by the producer (lock holder) only */
    uint64_t tail; /* end of the committed records (a hint: the headers are the truth) */
    uint64_t msgs_in, bytes_in, prod_waits, prod_wakes, full, takeovers;
    int32_t last_writer;
    uint32_t pad1;
    /* line 2: written by the consumer only */
    uint64_t head; /* start of the oldest record not yet released */
    uint64_t msgs_out, bytes_out, cons_waits, cons_wakes;
    uint8_t pad2[24];
    /* line 3: futex words, written only around sleeping */
    uint32_t cons_parked, prod_parked;
    uint32_t cons_nopark, prod_nopark; /* that side busy-polls: skip the wake check */
    /* the armed side's wake socket (wakefd.c), read by whoever takes a
     * *_parked word that says SHMKIT__WAKE_FD */
    uint64_t cons_token, prod_token;
    uint8_t pad3[32];
    /* line 4: the consumer's claim, producer lock, cut-through progress */
    uint64_t cons_claim; /* CLAIM_* | owner */
    uint32_t plock;      /* MULTI: 0 free, else holder slot + 1, | PLOCK_WAITERS */
    uint32_t pad4a;
    uint64_t wip_pos; /* REC_WIP record: position up to which its bytes are written */
    uint64_t wip_gen; /* bumped when a dead producer's REC_WIP record is withdrawn */
    uint8_t pad4[32];
    /* lines 5..: producer slots (slot 0 only for a single-producer ring) */
    struct ring_prod_slot prods[RING_PROD_SLOTS];
};

#define PLOCK_WAITERS 0x80000000u
#define RING_DATA_OFF ((sizeof(struct ring_ctl) + 63u) & ~(size_t)63u)

_Static_assert(offsetof(struct ring_ctl, tail) == 64, "ring producer line");
_Static_assert(offsetof(struct ring_ctl, head) == 128, "ring consumer line");
_Static_assert(offsetof(struct ring_ctl, cons_parked) == 192, "ring wait line");
_Static_assert(offsetof(struct ring_ctl, cons_token) == 208, "ring wake tokens");
_Static_assert(offsetof(struct ring_ctl, cons_claim) == 256, "ring identity line");
_Static_assert(offsetof(struct ring_ctl, wip_pos) == 272, "ring cut-through words");
_Static_assert(sizeof(struct ring_prod_slot) == 32, "ring producer slot");
_Static_assert(offsetof(struct ring_ctl, prods) == 320, "ring producer slots");

/* ---- bus control block ---- */

#define BUS_MAGIC "SHMKBUS1"

struct bus_ctl {
    /* line 0: geometry */
    char magic[8];
    uint32_t version;
    uint32_t flags; /* SHMKIT_BUS_LOSSY */
    uint64_t slots;
    uint64_t slot_size; /* bytes per slot, header included, multiple of 64 */
    uint64_t msg_max;
    uint64_t subs_off;
    uint64_t data_off;
    uint32_t max_subs;
    uint32_t pad0;
    /* line 1: publisher */
    uint64_t pub_seq; /* last published sequence number (0: none yet) */
    uint64_t msgs_in, bytes_in, pub_waits, pub_wakes, evicted, takeovers;
    uint64_t pad1;
    /* line 2: subscribers' wait: armed bits (CHAN_ARMED_*) + event word
     * (chan_wait.c) */
    uint32_t sub_waiters;
    uint32_t sub_event;
    uint8_t pad2[56];
    /* line 3: the publisher's futex word */
    uint32_t pub_parked;
    uint32_t pad3;
    uint64_t pub_claim; /* CLAIM_* | owner */
    uint8_t pad4[48];
};

/* One subscriber record per cache line. */
struct bus_sub_rec {
    uint64_t claim; /* CLAIM_* | owner; CLAIMING until cursor and gen are set */
    uint32_t gen;   /* bumped at every join: a reclaimed record is noticed */
    uint32_t parked; /* SHMKIT__WAKE_FD while its descriptor is armed */
    uint64_t cursor; /* next sequence number to read */
    uint64_t recv, bytes, lost, waits;
    uint64_t token; /* its wake socket (wakefd.c) */
};

/* Slot header; the message follows (16 bytes in, so 8-aligned). */
struct bus_slot {
    uint64_t seq; /* sequence in the slot; | SLOT_WRITING while being filled */
    uint32_t len;
    uint32_t pad;
};
#define SLOT_WRITING (1ull << 63)

_Static_assert(sizeof(struct bus_ctl) == 256, "bus control block");
_Static_assert(sizeof(struct bus_sub_rec) == 64, "one subscriber per line");
_Static_assert(offsetof(struct bus_ctl, sub_waiters) == 128, "bus wait line");

/* ---- helpers ---- */

static inline uint64_t chan_load(const uint64_t *p)
{
    return shmkit__load_relaxed(p);
}

/* A statistic bumped by its single writer: relaxed, orders nothing. */
static inline void chan_bump(uint64_t *p, uint64_t n)
{
    shmkit__store_relaxed(p, shmkit__load_relaxed(p) + n);
}

static inline int chan_is_pow2(uint64_t v)
{
    return v && !(v & (v - 1));
}

static inline uint64_t chan_round8(uint64_t v)
{
    return (v + 7u) & ~(uint64_t)7u;
}

static inline unsigned claim_state(uint64_t w)
{
    return (unsigned)(w >> 62);
}

static inline uint64_t claim_make(unsigned state, uint64_t id)
{
    return (uint64_t)state << 62 | (id & SHMKIT__OWNER_ID_MASK);
}

static inline int32_t claim_pid(uint64_t w)
{
    return shmkit__owner_id_pid(w & SHMKIT__OWNER_ID_MASK);
}

/* Whether this process made the claim word W: a handle a child inherited
 * across fork() carries its parent's word, and closing it there must not
 * give the parent's role away (the child only frees its copy). */
static inline int claim_ours(uint64_t w)
{
    return claim_pid(w) == (int32_t)getpid();
}

static inline uint64_t claim_load(const uint64_t *p)
{
    /* acquire: what the owner wrote before its claim (a subscriber's
     * cursor, a producer's last commit) is visible with it */
    return shmkit__load_acquire(p);
}

/* Whether W is held by a live owner. Reads /proc: slow paths only. */
static inline int claim_held(uint64_t w)
{
    unsigned st = claim_state(w);
    return (st == CLAIM_ATTACHED || st == CLAIM_CLAIMING) &&
           shmkit__owner_id_alive(w & SHMKIT__OWNER_ID_MASK);
}

/* A word that was claimed once and is no longer held: the role's holder
 * died or left (a peer waiting on it gets SHMKIT_EPEERDEAD, or
 * SHMKIT_ECLOSED when the word says CLAIM_DETACHED: see claim_left). */
static inline int claim_gone(uint64_t w)
{
    return claim_state(w) != CLAIM_NEVER && !claim_held(w);
}

/* A word its holder gave up with a clean close (end of stream). A dead
 * holder's word keeps its CLAIM_ATTACHED state until someone reclaims it;
 * only a MULTI ring's producers' lock take-over and the bus publisher's
 * eviction of dead subscribers turn a dead owner's word into
 * CLAIM_DETACHED, and both are done by a live peer of the same side. No
 * liveness check: one load, for the paths where a receiver finds the
 * channel empty. */
static inline int claim_left(uint64_t w)
{
    return claim_state(w) == CLAIM_DETACHED;
}

/* Replaces the word at P if it still is OLD. */
static inline int claim_cas(uint64_t *p, uint64_t old, uint64_t new_word)
{
    /* acq_rel: the taker sees what the previous owner published, and what
     * it wrote before (a subscriber's cursor) goes out with the new word */
    return shmkit__cas_acq_rel(p, &old, new_word);
}

/* The sleeping half of the spin-then-park protocol, shared by ring and bus.
 * See chan_wait.c. POLL returns > 0 ready, 0 not yet, < 0 error; GONE
 * returns non-zero when the peer died or left (slow: reads /proc, runs once
 * a slice); CLOSED (NULL: never) returns non-zero when the peer closed the
 * channel cleanly (cheap: claim words only, runs whenever POLL finds
 * nothing and after every wake-up), and the wait then ends in
 * SHMKIT_ECLOSED once POLL, asked again, still finds nothing. FLAG is the
 * futex word set to 1 while sleeping (NULL: the bus subscribers' wait
 * queue, see below). */

/* Bits of the bus's sub_waiters word: a subscriber sleeps on the futex
 * (event word), a subscriber's descriptor is armed (its record says so). */
#define CHAN_ARMED_FUTEX 1u
#define CHAN_ARMED_FD 2u

/* A try call (timeout 0) that finds nothing arms the handle's descriptor
 * when PFD is set: ARM (the ring's *_parked word, a bus subscriber's
 * record) becomes SHMKIT__WAKE_FD with the socket's token in *TOKEN_AT
 * (and CHAN_ARMED_FD in COUNT for the bus); PEER names the process whose
 * death must make the descriptor readable (0: none, or several). */
struct chan_waiter {
    int (*poll)(void *ctx);
    int (*gone)(void *ctx);
    int (*closed)(void *ctx);
    void *ctx;
    uint32_t *flag;      /* single sleeper: flag 0/1, cleared by the waker  */
    uint32_t *count;     /* several sleepers: "armed" flag (someone sleeps on  */
    uint32_t *event;     /* the current value of this event word)             */
    uint64_t *waits;     /* statistic, or NULL */
    int64_t spin_ns;     /* < 0: never sleep */
    int64_t *last_check; /* when GONE last ran (per handle), rate-limits it */
    struct shmkit__pollfd *pfd;
    uint32_t *arm;
    uint64_t *token_at;
    int32_t (*peer)(void *ctx);
};
int shmkit__chan_wait(const struct chan_waiter *w, int64_t timeout_ns);

/* The waking half: after publishing with a release store. NOPARK non-NULL
 * and set: the other side busy-polls and never sleeps, skip the fence.
 * TOKEN: the sleeper's wake socket when FLAG says SHMKIT__WAKE_FD (NULL:
 * that side never arms one). Returns 1 if a wake-up system call was made.
 * wake_all wakes the futex sleepers and returns the CHAN_ARMED_* bits it
 * took: with CHAN_ARMED_FD the caller wakes the armed records (bus.c). */
int shmkit__chan_wake_one(uint32_t *flag, const uint32_t *nopark, const uint64_t *token);
unsigned shmkit__chan_wake_all(uint32_t *count, uint32_t *event);

/* Stats readers (chan_stats.c) */
int shmkit__ring_stats(const struct ring_ctl *c, size_t size, struct shmkit_chan_stats *st);
int shmkit__bus_stats(const struct bus_ctl *c, size_t size, struct shmkit_chan_stats *st);

/* Geometry checks shared by attach and stats: copy the immutable fields
 * out of shared memory once and validate them against the payload size. */
struct ring_geo {
    uint64_t cap, data_off, max_msg;
    uint32_t flags;
};
int shmkit__ring_geo(const struct ring_ctl *c, size_t size, struct ring_geo *g);
struct bus_geo {
    uint64_t slots, slot_size, msg_max, subs_off, data_off;
    uint32_t max_subs, flags;
};
int shmkit__bus_geo(const struct bus_ctl *c, size_t size, struct bus_geo *g);

/* bus.c, for join.c: a new bus's control block written and layout "bus"
 * recorded (shmkit_bus_create without the handle; geometry already valid
 * for the payload); a publisher handle on SEG, taking the role if ROLE is
 * non-zero (else a handle that publishes nothing: loan gives -EINVAL);
 * close (unsubscribe) then also closes the segment. */
int shmkit__bus_init(shmkit_seg *seg, uint64_t slots, uint64_t msg_max, uint32_t max_subs,
                     unsigned flags);
int shmkit__bus_open(shmkit_bus **out, shmkit_seg *seg, int role);
void shmkit__bus_own_seg(shmkit_bus *b);
void shmkit__sub_own_seg(shmkit_sub *s);

#endif
