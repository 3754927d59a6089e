/* ring.c - single-consumer ring of variable-size records in a segment;
 * one producer, or several serialised by the crash-safe lock of
 * ring_plock.c.
 *
 * Positions are absolute 64-bit byte counters; index = position & mask.
 * A record is an 8-byte header word (length | REC_MSG, or REC_PAD for the
 * filler that skips the end of the buffer) followed by the message, the
 * whole rounded up to 8 bytes (ring_rec_size). The header word doubles
 * as the commit flag: the producer writes a record, zeroes the header word
 * that follows it, then stores the record's header with release ordering.
 * So the word at the tail is always 0, the consumer polls the header at its
 * head - also when the ring is empty: the line it polls is the one that
 * brings it the message, and no shared tail index has to travel - and a
 * producer that dies before its header store leaves nothing visible. The
 * shared tail is only a hint for a producer taking over and for the
 * statistics; a taker-over walks the committed headers from there.
 *
 * Cut-through: a message of RING_CT_MIN bytes or more sent with
 * shmkit_ring_send into a ring that holds fewer than RING_CT_RECS of it
 * is published as a REC_WIP record before its bytes are copied in, and the
 * producer publishes its progress (ring_ctl.wip_pos) every RING_CT_CHUNK
 * bytes, so the consumer's shmkit_ring_recv copies it out on the other
 * core while it is still being copied in. The message is delivered only
 * when its header says REC_MSG; a producer killed in the middle leaves a
 * REC_WIP record that the next producer withdraws (ring_plock.c).
 */
#include "chan.h"
#include "ring.h"
#include "segment.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* The 64-byte path is mostly call overhead: its helpers are inlined into
 * every caller (send/recv and the zero-copy calls). */
#define RING_INLINE static inline __attribute__((always_inline))

/* Cut-through from 64 KiB messages up, progress every 32 KiB, and only in
 * a ring that holds fewer than three of the message. Where three fit,
 * whole messages already overlap (the producer copies the next in while
 * the consumer copies one out) and they win where the two cores share a
 * cache: a consumer reading each piece right behind the producer takes
 * lines still in the other core's cache, 0.57-0.82x as fast as whole
 * messages read later; where the cores do not share one the cut-through
 * gains 1.4-1.6x (measured: bench/README.md, issue 17's third pass). */
#define RING_CT_MIN (64u << 10)
#define RING_CT_CHUNK (32u << 10)
#define RING_CT_RECS 3u

/* Messages below this size are copied by small_copy, not memcpy. */
#define RING_SMALL 128u

/* Copies LEN (< RING_SMALL) bytes in 16-byte moves, the last one ending
 * at LEN (it may overlap the one before). For 64 bytes it runs about as
 * many instructions as libc's memcpy, but it is no call through the PLT:
 * a two-process test moved 1.12-1.19x as many 64-byte messages a second
 * with it (bench_ipc's own row 1.02x); from 128 bytes up memcpy's wider
 * moves win (bench/README.md, issue 17's fourth pass). */
RING_INLINE void small_copy(unsigned char *d, const unsigned char *s, size_t len)
{
    if (len >= 16) {
        for (size_t i = 0; i + 16 < len; i += 16)
            __builtin_memcpy(d + i, s + i, 16);
        __builtin_memcpy(d + len - 16, s + len - 16, 16);
    } else if (len >= 8) {
        __builtin_memcpy(d, s, 8);
        __builtin_memcpy(d + len - 8, s + len - 8, 8);
    } else {
        for (size_t i = 0; i < len; i++)
            d[i] = s[i];
    }
}

/* A message's copy: inline below RING_SMALL. */
RING_INLINE void copy_msg(void *d, const void *s, size_t len)
{
    if (len < RING_SMALL)
        small_copy(d, s, len);
    else
        memcpy(d, s, len);
}

/* Whether a send of LEN bytes goes through the cut-through. */
static inline int ct_wanted(const shmkit_ring *r, uint64_t len)
{
    return len >= RING_CT_MIN && RING_CT_RECS * (ring_rec_size(len) + REC_HDR) > r->cap;
}

size_t shmkit_ring_size_for(size_t capacity)
{
    if (!chan_is_pow2(capacity) || capacity < SHMKIT_RING_MIN_CAP ||
        (uint64_t)capacity > (1ull << 40))
        return 0;
    return RING_DATA_OFF + capacity;
}

/* The largest message of a ring of CAP bytes: half the ring less a record
 * header and a filler's worth, and never above SHMKIT_RING_MSG_LIMIT (the
 * record header holds the length in 32 bits and shmkit_ring_recv returns
 * it as an int). */
static uint64_t max_msg_for(uint64_t cap)
{
    uint64_t m = cap / 2 - 16;
    return m > SHMKIT_RING_MSG_LIMIT ? SHMKIT_RING_MSG_LIMIT : m;
}

uint64_t shmkit__ring_max_msg_for(uint64_t capacity)
{
    return max_msg_for(capacity);
}

int shmkit__ring_geo(const struct ring_ctl *c, size_t size, struct ring_geo *g)
{
    if (size < RING_DATA_OFF)
        return SHMKIT_ECORRUPT;
    char magic[8];
    memcpy(magic, c->magic, sizeof magic);
    if (memcmp(magic, RING_MAGIC, 8))
        return SHMKIT_ECORRUPT;
    uint32_t ver = shmkit__load_relaxed(&c->version);
    if (ver != CHAN_VERSION)
        return SHMKIT_EVERSION;
    g->cap = shmkit__load_relaxed(&c->capacity);
    g->data_off = shmkit__load_relaxed(&c->data_off);
    g->max_msg = shmkit__load_relaxed(&c->max_msg);
    g->flags = shmkit__load_relaxed(&c->flags);
    if (!shmkit_ring_size_for(g->cap) || g->data_off != RING_DATA_OFF ||
        g->cap > size - RING_DATA_OFF || g->max_msg != max_msg_for(g->cap) ||
        (g->flags & ~(uint32_t)SHMKIT_RING_MULTI))
        return SHMKIT_ECORRUPT;
    return 0;
}

/* ---------------------------------------------------------------- setup */

/* One role, or none (a handle that only sets the ring up or checks it). */
static int valid_role(unsigned flags)
{
    unsigned role = flags & (SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER);
    return role != (SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER);
}

/* Takes the role held through the claim word at P: free, or held by a
 * dead owner, or (TAKEOVER) by anyone. *OLD: the word taken over. */
static int claim_role(const shmkit_ring *r, uint64_t *p, int takeover, uint64_t *old)
{
    uint64_t w;
    do {
        w = claim_load(p);
        if (!takeover && claim_held(w))
            return -EBUSY;
    } while (!claim_cas(p, w, r->claim));
    *old = w;
    return 0;
}

static int attach_consumer(shmkit_ring *r, unsigned flags)
{
    struct ring_ctl *c = r->c;
    uint64_t old;
    int rc = claim_role(r, &c->cons_claim, !!(flags & SHMKIT_RING_TAKEOVER), &old);
    if (rc < 0)
        return rc;
    /* head and tail as they stand: the head must be aligned and within one
     * capacity of the tail hint */
    uint64_t head = shmkit__load_acquire(&c->head);
    uint64_t tail = shmkit__load_acquire(&c->tail);
    /* the tail is a hint that may lag the head (a producer killed between
     * its header store and its tail store), but never by more than a lap */
    if ((head & 7u) || (tail - head > r->cap && head - tail > r->cap)) {
        claim_cas(&c->cons_claim, r->claim, old); /* give the role back */
        return SHMKIT_ECORRUPT;
    }
    r->head = head;
    return 0;
}

static int attach_producer(shmkit_ring *r, unsigned flags)
{
    struct ring_ctl *c = r->c;
    if (!r->multi) {
        uint64_t *p = &c->prods[0].claim, old;
        int rc = claim_role(r, p, !!(flags & SHMKIT_RING_TAKEOVER), &old);
        if (rc < 0)
            return rc;
        if (claim_state(old) == CLAIM_ATTACHED || claim_state(old) == CLAIM_CLAIMING)
            chan_bump(&c->takeovers, 1);
        r->slot = 0;
        rc = shmkit__ring_recover_tail(r);
        if (rc < 0)
            claim_cas(p, r->claim, old); /* give the role back */
        return rc;
    }
    for (unsigned i = 0; i < RING_PROD_SLOTS; i++) {
        uint64_t *p = &c->prods[i].claim;
        uint64_t w = claim_load(p);
        if (claim_held(w))
            continue;
        /* a slot the producers' lock names stays with its dead holder
         * until a locker takes the lock over (ring_plock.c): given to a
         * live producer first, the lock would look held by that producer
         * for as long as it does not send. Read after the liveness check:
         * a dead owner cannot lock any more. */
        if ((shmkit__load_acquire(&c->plock) & ~PLOCK_WAITERS) == i + 1)
            continue;
        if (!claim_cas(p, w, r->claim))
            continue;
        r->slot = (int)i;
        return 0;
    }
    return -EBUSY;
}

static int ring_open(shmkit_ring **out, shmkit_seg *seg, unsigned flags)
{
    uint32_t layout;
    uint64_t p[4];
    /* one header read: layout and geometry (a refusal - truncated, an
     * unsealed memfd - is reported as such) */
    int rc = shmkit__seg_layout(seg, &layout, p);
    if (rc < 0)
        return rc;
    if (layout != SHMKIT_LAYOUT_RING)
        return SHMKIT_ELAYOUT;
    if (!seg->writable)
        return -EBADF;
    shmkit_ring *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    r->seg = seg;
    r->c = shmkit_seg_data(seg);
    struct ring_geo g;
    rc = shmkit__ring_geo(r->c, shmkit_seg_size(seg), &g);
    if (rc < 0)
        goto free_handle;
    if (p[0] != g.cap || p[1] != g.flags) {
        rc = SHMKIT_ECORRUPT;
        goto free_handle;
    }
    r->cap = g.cap;
    r->mask = g.cap - 1;
    r->max_msg = g.max_msg;
    r->multi = !!(g.flags & SHMKIT_RING_MULTI);
    r->data = (unsigned char *)r->c + g.data_off;
    r->spin_ns = 50000;
    r->role = flags & (SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER);
    r->slot = -1;
    rc = shmkit_owner_self(&r->self);
    if (rc < 0)
        goto free_handle;
    uint64_t id = shmkit__owner_id(&r->self);
    if (!id) {
        rc = -EOVERFLOW; /* a pid of 2^22 or more: not on Linux */
        goto free_handle;
    }
    r->claim = claim_make(CLAIM_ATTACHED, id);
    rc = r->role == SHMKIT_RING_CONSUMER   ? attach_consumer(r, flags)
         : r->role == SHMKIT_RING_PRODUCER ? attach_producer(r, flags)
                                           : 0; /* no role: nothing claimed */
    if (rc < 0)
        goto free_handle;
    shmkit_ring_set_spin(r, r->spin_ns);
    *out = r;
    return 0;
free_handle:
    free(r);
    return rc;
}

int shmkit__ring_init(shmkit_seg *seg, uint64_t capacity, unsigned flags)
{
    struct ring_ctl *c = shmkit_seg_data(seg);
    /* only the control block and the first record header need to be zero:
     * every commit zeroes the word after its record before publishing it,
     * and nothing past the last committed record is ever read. Not zeroing
     * the data area keeps a huge (sparse) ring from being touched whole. */
    memset(c, 0, RING_DATA_OFF + REC_HDR);
    memcpy(c->magic, RING_MAGIC, 8);
    c->version = CHAN_VERSION;
    c->flags = flags & SHMKIT_RING_MULTI;
    c->capacity = capacity;
    c->data_off = RING_DATA_OFF;
    c->max_msg = max_msg_for(capacity);
    /* release: the control block is complete before the header says
     * "ring" (an attacher reads the header first; until then it finds the
     * old layout and is refused, or waits in shmkit_ring_join) */
    shmkit__fence_release();
    uint64_t param[4] = {capacity, flags & SHMKIT_RING_MULTI, RING_DATA_OFF, CHAN_VERSION};
    return shmkit_seg_set_layout(seg, SHMKIT_LAYOUT_RING, param);
}

int shmkit_ring_create(shmkit_ring **out, shmkit_seg *seg, size_t capacity, unsigned flags)
{
    if (!out || !seg || !valid_role(flags) ||
        (flags & ~(unsigned)(SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI)))
        return -EINVAL;
    size_t size = shmkit_seg_size(seg);
    if (capacity == 0) {
        if (size < RING_DATA_OFF + SHMKIT_RING_MIN_CAP)
            return SHMKIT_EBADSIZE;
        capacity = SHMKIT_RING_MIN_CAP;
        while (capacity <= (1ull << 39) && RING_DATA_OFF + capacity * 2 <= size)
            capacity *= 2;
    }
    size_t need = shmkit_ring_size_for(capacity);
    if (!need)
        return -EINVAL;
    if (size < need)
        return SHMKIT_EBADSIZE;
    if (!seg->writable)
        return -EBADF; /* before the payload is touched */
    int rc = shmkit__ring_init(seg, capacity, flags);
    if (rc < 0)
        return rc;
    return ring_open(out, seg, flags & ~(unsigned)SHMKIT_RING_MULTI);
}

int shmkit_ring_attach(shmkit_ring **out, shmkit_seg *seg, unsigned flags)
{
    if (!out || !seg || !valid_role(flags) ||
        (flags & ~(unsigned)(SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER | SHMKIT_RING_TAKEOVER)))
        return -EINVAL;
    if ((flags & SHMKIT_RING_TAKEOVER) &&
        !(flags & (SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER)))
        return -EINVAL; /* nothing to take over */
    return ring_open(out, seg, flags);
}

int shmkit_ring_close(shmkit_ring *r)
{
    if (!r)
        return 0;
    struct ring_ctl *c = r->c;
    /* only a role still ours is left: one taken over stays with its taker */
    uint64_t left = claim_make(CLAIM_DETACHED, 0);
    if (!r->role || !claim_ours(r->claim)) {
        /* held nothing, or a copy inherited across fork: the role is the
         * parent's and nobody is told anything */
    } else if (r->role == SHMKIT_RING_PRODUCER) {
        if (r->reserved)
            shmkit_ring_cancel(r);
        /* release (in claim_cas): our last commit happens before the
         * consumer sees us gone */
        claim_cas(&c->prods[r->slot].claim, r->claim, left);
        shmkit__store_relaxed(&c->prod_nopark, 0);
        shmkit__chan_wake_one(&c->cons_parked, NULL, &c->cons_token);
    } else {
        claim_cas(&c->cons_claim, r->claim, left);
        shmkit__store_relaxed(&c->cons_nopark, 0);
        shmkit__chan_wake_one(&c->prod_parked, NULL, &c->prod_token);
    }
    if (r->pfd.on && claim_ours(r->claim)) {
        uint32_t armed = SHMKIT__WAKE_FD;
        /* relaxed: a hint; a waker that still takes it sends into the void */
        shmkit__cas_relaxed(r->role == SHMKIT_RING_PRODUCER ? &c->prod_parked : &c->cons_parked,
                            &armed, 0);
    }
    shmkit__pollfd_close(&r->pfd);
    int rc = r->own_seg ? shmkit_close(r->seg) : 0;
    free(r);
    return rc;
}

shmkit_seg *shmkit_ring_seg(const shmkit_ring *r)
{
    return r ? r->seg : NULL;
}

size_t shmkit_ring_capacity(const shmkit_ring *r)
{
    return r ? (size_t)r->cap : 0;
}

size_t shmkit_ring_max_msg(const shmkit_ring *r)
{
    return r ? (size_t)r->max_msg : 0;
}

void shmkit_ring_set_spin(shmkit_ring *r, int64_t spin_ns)
{
    if (!r)
        return;
    r->spin_ns = spin_ns;
    if (!r->role)
        return; /* no side of its own to advertise */
    uint32_t *np = r->role == SHMKIT_RING_PRODUCER ? &r->c->prod_nopark : &r->c->cons_nopark;
    /* relaxed: a hint for the other side's wake check (see chan_wait.c);
     * a handle with a descriptor is always woken */
    if (!r->multi || r->role == SHMKIT_RING_CONSUMER)
        shmkit__store_relaxed(np, spin_ns < 0 && !r->pfd.on);
}

/* ---------------------------------------------------------------- liveness */

static int consumer_gone(void *ctx)
{
    shmkit_ring *r = ctx;
    return claim_gone(claim_load(&r->c->cons_claim));
}

/* Every producer slot ever claimed is no longer held (its owner closed or
 * died, also in the middle of attaching). */
static int producers_gone(void *ctx)
{
    shmkit_ring *r = ctx;
    unsigned n = r->multi ? RING_PROD_SLOTS : 1, seen = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = claim_load(&r->c->prods[i].claim);
        if (claim_held(w))
            return 0;
        seen |= claim_state(w) != CLAIM_NEVER;
    }
    return seen;
}

/* The consumer closed its handle (cheap: one load). */
static int consumer_closed(void *ctx)
{
    shmkit_ring *r = ctx;
    return claim_left(claim_load(&r->c->cons_claim));
}

/* Every producer that ever attached has closed its handle: no slot is
 * attached (by the state bits: a dead producer's slot still says attached,
 * and producers_gone finds it), one at least was left. Loads only; stops
 * at the first attached slot. */
static int producers_closed(void *ctx)
{
    shmkit_ring *r = ctx;
    unsigned n = r->multi ? RING_PROD_SLOTS : 1, seen = 0;
    for (unsigned i = 0; i < n; i++) {
        uint64_t w = claim_load(&r->c->prods[i].claim);
        unsigned st = claim_state(w);
        if (st == CLAIM_ATTACHED || st == CLAIM_CLAIMING)
            return 0;
        seen |= st == CLAIM_DETACHED;
    }
    return seen;
}

/* The peer a descriptor watches (chan_waiter.peer): the consumer, the
 * producer of a single-producer ring; 0 when it holds no claim - or for
 * the several producers of a MULTI ring (see EVENT LOOPS, channel.h). */
static int32_t claim_peer(uint64_t w)
{
    return claim_state(w) == CLAIM_ATTACHED ? claim_pid(w) : 0;
}

static int32_t consumer_pid(void *ctx)
{
    shmkit_ring *r = ctx;
    return claim_peer(claim_load(&r->c->cons_claim));
}

static int32_t producer_pid(void *ctx)
{
    shmkit_ring *r = ctx;
    return r->multi ? 0 : claim_peer(claim_load(&r->c->prods[0].claim));
}

int shmkit_ring_fd(shmkit_ring *r)
{
    if (!r || !r->role)
        return -EINVAL;
    if (r->multi && r->role == SHMKIT_RING_PRODUCER)
        return -EOPNOTSUPP; /* the room wait belongs to the lock holder */
    int fd = shmkit__pollfd_open(&r->pfd);
    if (fd >= 0)
        shmkit_ring_set_spin(r, r->spin_ns); /* the busy-poll hint goes */
    return fd;
}

/* ---------------------------------------------------------------- producer */

/* Room for the open reservation? > 0 yes, 0 not yet, < 0 corrupt. */
static inline int room_poll(void *ctx)
{
    shmkit_ring *r = ctx;
    uint64_t used = r->tail - r->head_cache;
    if (used <= r->cap && r->need <= r->cap - used)
        return 1;
    /* acquire: the consumer finished reading the bytes before its head */
    uint64_t h = shmkit__load_acquire(&r->c->head);
    if ((h & 7u) || r->tail - h > r->cap)
        return SHMKIT_ECORRUPT;
    r->head_cache = h;
    return r->need <= r->cap - (r->tail - h);
}

/* The other side's wake-up check, inlined: a busy-polling peer (nopark
 * set) costs one load of a line nobody writes, and no call. */
RING_INLINE int wake_peer(uint32_t *flag, const uint32_t *nopark, const uint64_t *token)
{
    /* relaxed: as in shmkit__chan_wake_one */
    if (shmkit__load_relaxed(nopark))
        return 0;
    return shmkit__chan_wake_one(flag, NULL, token);
}

/* reserve and commit without their argument checks, inlined into both the
 * zero-copy calls and send (the 64-byte path is mostly call overhead) */
RING_INLINE int do_reserve(shmkit_ring *r, size_t len, void **p, int64_t timeout_ns)
{
    /* only a timed call needs the clock (a try call never waits) */
    int64_t deadline = timeout_ns > 0 ? shmkit__deadline(timeout_ns) : -1;
    int rc;
    if (r->multi) {
        rc = shmkit__ring_plock(r, timeout_ns);
        if (rc < 0)
            return rc;
    }
    uint64_t rec = ring_rec_size(len);
    uint64_t idx = r->tail & r->mask;
    r->pad = idx + rec > r->cap ? r->cap - idx : 0;
    /* the record, the filler before it and the zeroed word after it */
    r->need = r->pad + rec + REC_HDR;
    rc = room_poll(r);
    if (rc < 0)
        goto unlock;
    if (!rc) {
        chan_bump(&r->c->full, 1);
        int64_t left = timeout_ns == 0 ? 0 : shmkit__time_left(deadline);
        if (left == 0 && timeout_ns != 0) {
            rc = -ETIMEDOUT;
            goto unlock;
        }
        struct chan_waiter w = {.poll = room_poll,
                                .gone = consumer_gone,
                                .closed = consumer_closed,
                                .ctx = r,
                                .flag = &r->c->prod_parked,
                                .waits = &r->c->prod_waits,
                                .spin_ns = r->spin_ns,
                                .last_check = &r->last_check,
                                .pfd = &r->pfd,
                                .arm = &r->c->prod_parked,
                                .token_at = &r->c->prod_token,
                                .peer = consumer_pid};
        rc = shmkit__chan_wait(&w, left);
        if (rc < 0)
            goto unlock;
    }
    r->resv = len;
    r->reserved = 1;
    *p = r->data + ((r->tail + r->pad) & r->mask) + REC_HDR;
    return 0;
unlock:
    if (r->multi)
        shmkit__ring_punlock(r);
    return rc;
}

int shmkit_ring_reserve(shmkit_ring *r, size_t len, void **p, int64_t timeout_ns)
{
    if (!r || !p || r->role != SHMKIT_RING_PRODUCER || r->reserved)
        return -EINVAL;
    if (len > r->max_msg)
        return SHMKIT_ETOOBIG;
    return do_reserve(r, len, p, timeout_ns);
}

/* After a commit's header store: the tail hint moves to END (past MSGS
 * messages of BYTES bytes), the consumer is woken if it sleeps. */
RING_INLINE void publish_tail(shmkit_ring *r, uint64_t end, uint64_t msgs, uint64_t bytes)
{
    struct ring_ctl *c = r->c;
    r->tail = end;
    /* statistics and the tail hint share a line the consumer never reads
     * on its fast path (only takers-over and stats readers do) */
    chan_bump(&c->msgs_in, msgs);
    chan_bump(&c->bytes_in, bytes);
    /* release: the consumer (and a producer taking over from this hint)
     * finds the record complete once it sees the new tail */
    shmkit__store_release(&c->tail, end);
    if (wake_peer(&c->cons_parked, &c->cons_nopark, &c->cons_token))
        chan_bump(&c->prod_wakes, 1);
}

/* Publishes the reserved record of LEN bytes - and the records a batch
 * stored after it, up to END - with one release store of its header. */
RING_INLINE void do_commit_to(shmkit_ring *r, size_t len, uint64_t end, uint64_t msgs,
                              uint64_t bytes)
{
    struct ring_ctl *c = r->c;
    uint64_t start = r->tail + r->pad;
    uint64_t *hdr = (uint64_t *)(r->data + (start & r->mask));
    /* relaxed: the word after the records must read 0 before the first
     * record's header is visible; the release store below orders it */
    shmkit__store_relaxed((uint64_t *)(r->data + (end & r->mask)), 0);
    if (r->pad) {
        /* relaxed: reachable only through the filler, stored with release */
        shmkit__store_relaxed(hdr, REC_MSG | len);
        /* release: the record at the start of the buffer is complete */
        shmkit__store_release((uint64_t *)(r->data + (r->tail & r->mask)),
                              REC_PAD | (r->pad - REC_HDR));
    } else {
        /* release: the message bytes and the zeroed next word are visible
         * before the consumer sees this header */
        shmkit__store_release(hdr, REC_MSG | len);
    }
    r->reserved = 0;
    publish_tail(r, end, msgs, bytes);
    if (r->multi) {
        if (shmkit__load_relaxed(&c->last_writer) != r->self.pid)
            shmkit__store_relaxed(&c->last_writer, r->self.pid); /* statistic */
        shmkit__ring_punlock(r);
    }
}

RING_INLINE void do_commit(shmkit_ring *r, size_t len)
{
    do_commit_to(r, len, r->tail + r->pad + ring_rec_size(len), 1, len);
}

int shmkit_ring_commit(shmkit_ring *r, size_t len)
{
    if (!r || !r->reserved || len > r->resv)
        return -EINVAL;
    do_commit(r, len);
    return 0;
}

int shmkit_ring_cancel(shmkit_ring *r)
{
    if (!r || !r->reserved)
        return -EINVAL;
    r->reserved = 0;
    if (r->multi)
        shmkit__ring_punlock(r);
    return 0;
}

/* Cut-through: publishes the reserved record as REC_WIP, then copies the
 * message in RING_CT_CHUNK pieces, publishing the progress after each; the
 * commit that follows turns it into REC_MSG. A filler in front of it is
 * published here too (the consumer has to get past it to start). */
static void ct_fill(shmkit_ring *r, void *p, const void *buf, size_t len)
{
    struct ring_ctl *c = r->c;
    uint64_t start = r->tail + r->pad;
    uint64_t *hdr = (uint64_t *)(r->data + (start & r->mask));
    /* relaxed: published by the header store below */
    shmkit__store_relaxed(&c->wip_pos, start + REC_HDR);
    if (r->pad) {
        shmkit__store_relaxed(hdr, REC_WIP | len);
        /* release: the REC_WIP header and progress are visible with it */
        shmkit__store_release((uint64_t *)(r->data + (r->tail & r->mask)),
                              REC_PAD | (r->pad - REC_HDR));
        /* the commit then stores only the record's header */
        r->tail = start;
        r->pad = 0;
    } else {
        /* release: the progress word is reset before the record shows */
        shmkit__store_release(hdr, REC_WIP | len);
    }
    if (wake_peer(&c->cons_parked, &c->cons_nopark, &c->cons_token))
        chan_bump(&c->prod_wakes, 1);
    unsigned char *d = p;
    const unsigned char *s = buf;
    for (size_t off = 0; off < len;) {
        size_t n = len - off < RING_CT_CHUNK ? len - off : RING_CT_CHUNK;
        memcpy(d + off, s + off, n);
        off += n;
        if (off == len)
            break; /* the commit publishes the last piece */
        /* release: the bytes before the new position are written */
        shmkit__store_release(&c->wip_pos, start + REC_HDR + off);
        if (wake_peer(&c->cons_parked, &c->cons_nopark, &c->cons_token))
            chan_bump(&c->prod_wakes, 1);
    }
}

/* send's general case: the multi-producer lock, a filler, a wait for
 * room, the cut-through */
static __attribute__((noinline)) int send_slow(shmkit_ring *r, const void *buf, size_t len,
                                               int64_t timeout_ns)
{
    void *p = NULL;
    int rc = do_reserve(r, len, &p, timeout_ns);
    if (rc < 0)
        return rc;
    if (ct_wanted(r, len))
        ct_fill(r, p, buf, len);
    else if (len)
        memcpy(p, buf, len);
    do_commit(r, len);
    return 0;
}

int shmkit_ring_send(shmkit_ring *r, const void *buf, size_t len, int64_t timeout_ns)
{
    if (!r || (!buf && len) || r->role != SHMKIT_RING_PRODUCER || r->reserved)
        return -EINVAL;
    if (len > r->max_msg)
        return SHMKIT_ETOOBIG;
    /* The fast path: one producer, a message below the cut-through's size
     * that needs no filler, and room by the cached head (room_poll's test
     * with need = the record and the word after it, which is at most half
     * the ring) - reserve and commit without their general cases. */
    uint64_t rec = ring_rec_size(len), idx = r->tail & r->mask;
    if (!r->multi && len < RING_CT_MIN && idx + rec <= r->cap &&
        r->tail - r->head_cache <= r->cap - rec - REC_HDR) {
        unsigned char *d = r->data + idx;
        copy_msg(d + REC_HDR, buf, len);
        uint64_t end = r->tail + rec;
        /* relaxed: the word after the record must read 0 before its header
         * is visible; the release store below orders it */
        shmkit__store_relaxed((uint64_t *)(r->data + (end & r->mask)), 0);
        /* release: the message bytes and the zeroed next word are visible
         * before the consumer sees this header */
        shmkit__store_release((uint64_t *)d, REC_MSG | len);
        publish_tail(r, end, 1, len);
        return 0;
    }
    return send_slow(r, buf, len, timeout_ns);
}

/* ---------------------------------------------------------------- consumer */

/* Is a message at the head? > 0 yes (r->cur_* set), 0 no, < 0 corrupt. */
static inline int msg_poll(void *ctx)
{
    shmkit_ring *r = ctx;
    /* no tail index: the header at the head is 0 until the producer
     * commits a record there, and the line it is in brings the message */
    for (int hop = 0; hop < 2; hop++) {
        uint64_t idx = r->head & r->mask;
        /* acquire: the record's bytes are visible with its header */
        uint64_t w = shmkit__load_acquire((uint64_t *)(r->data + idx));
        if (!w) {
            /* empty: keep the line after the header coming too, so that a
             * message longer than one line arrives in one transfer time,
             * not two in a row (a hint: it reads nothing) */
            __builtin_prefetch(r->data + ((idx + 64u) & r->mask), 0, 3);
            return 0;
        }
        uint64_t len = w & 0xffffffffu;
        if (w == (REC_PAD | len)) {
            /* a filler runs exactly to the end and is shorter than the
             * largest record it can precede */
            if (len + REC_HDR != r->cap - idx || !ring_pad_ok(r, len) || hop)
                return SHMKIT_ECORRUPT;
            r->head += r->cap - idx;
            r->skipped += r->cap - idx;
            continue;
        }
        int wip = w == (REC_WIP | len);
        if ((w != (REC_MSG | len) && !wip) || len > r->max_msg ||
            idx + ring_rec_size(len) > r->cap)
            return SHMKIT_ECORRUPT;
        /* a message still being copied in: only recv takes it (and copies
         * it out as it comes, see ct_copy) */
        if (wip && !r->want_wip)
            return 0;
        r->cur_len = len;
        r->cur_ptr = r->data + idx + REC_HDR;
        r->cur_wip = wip;
        return 1;
    }
    return SHMKIT_ECORRUPT;
}

/* peek without its argument checks: a message already there is taken
 * without setting up a wait */
RING_INLINE int do_peek(shmkit_ring *r, int64_t timeout_ns)
{
    if (!r->peeked) {
        int rc = msg_poll(r);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            r->peeked = 1;
            return 0;
        }
        struct chan_waiter w = {.poll = msg_poll,
                                .gone = producers_gone,
                                .closed = producers_closed,
                                .ctx = r,
                                .flag = &r->c->cons_parked,
                                .waits = &r->c->cons_waits,
                                .spin_ns = r->spin_ns,
                                .last_check = &r->last_check,
                                .pfd = &r->pfd,
                                .arm = &r->c->cons_parked,
                                .token_at = &r->c->cons_token,
                                .peer = producer_pid};
        rc = shmkit__chan_wait(&w, timeout_ns);
        if (rc < 0)
            return rc;
        r->peeked = 1;
    }
    return 0;
}

int shmkit_ring_peek(shmkit_ring *r, const void **p, size_t *len, int64_t timeout_ns)
{
    if (!r || !p || !len || r->role != SHMKIT_RING_CONSUMER)
        return -EINVAL;
    r->want_wip = 0;
    int rc = do_peek(r, timeout_ns);
    if (rc < 0)
        return rc;
    *p = r->cur_ptr;
    *len = (size_t)r->cur_len;
    return 0;
}

/* Publishes the consumer's head (already advanced past MSGS messages of
 * BYTES bytes in all). */
RING_INLINE void do_release_to(shmkit_ring *r, uint64_t msgs, uint64_t bytes)
{
    struct ring_ctl *c = r->c;
    /* release: we are done reading everything before the new head */
    shmkit__store_release(&c->head, r->head);
    chan_bump(&c->msgs_out, msgs);
    chan_bump(&c->bytes_out, bytes);
    if (wake_peer(&c->prod_parked, &c->prod_nopark, &c->prod_token))
        chan_bump(&c->cons_wakes, 1);
}

RING_INLINE void do_release(shmkit_ring *r)
{
    r->head += ring_rec_size(r->cur_len);
    r->peeked = 0;
    do_release_to(r, 1, r->cur_len);
}

int shmkit_ring_release(shmkit_ring *r)
{
    if (!r || !r->peeked)
        return -EINVAL;
    do_release(r);
    return 0;
}

/* ct_copy's wait: more of the record written, or its header changed. */
static int ct_poll(void *ctx)
{
    shmkit_ring *r = ctx;
    /* acquire: the bytes before the position are written */
    uint64_t pos = shmkit__load_acquire(&r->c->wip_pos);
    if (pos > r->ct_start + REC_HDR + r->ct_done && pos - r->ct_start <= REC_HDR + r->cur_len)
        return 1;
    uint64_t w = shmkit__load_acquire((uint64_t *)(r->data + (r->ct_start & r->mask)));
    return w != (REC_WIP | r->cur_len);
}

/* Copies out the REC_WIP record at the head (msg_poll set r->cur_*) as
 * its producer copies it in. 0: the whole message is in BUF and committed;
 * 1: the record changed under us (withdrawn after its producer died), poll
 * again; < 0 an error of the wait (the message stays queued). */
static int ct_copy(shmkit_ring *r, unsigned char *buf, int64_t deadline)
{
    struct ring_ctl *c = r->c;
    uint64_t len = r->cur_len, wip = REC_WIP | len;
    const uint64_t *hdr = (const uint64_t *)(r->cur_ptr - REC_HDR);
    r->ct_start = r->head;
    r->ct_done = 0;
    /* acquire, then the header again: a record withdrawn before we read
     * the generation is seen withdrawn now (the withdrawer zeroes the
     * header before its release store of the generation) */
    uint64_t gen = shmkit__load_acquire(&c->wip_gen);
    if (shmkit__load_acquire(hdr) != wip)
        return 1;
    for (;;) {
        /* acquire: the bytes before the position are written. Out of
         * range (shared memory is untrusted): clamped to the record */
        uint64_t pos = shmkit__load_acquire(&c->wip_pos), avail = 0;
        if (pos > r->ct_start + REC_HDR)
            avail = pos - r->ct_start - REC_HDR;
        if (avail > len)
            avail = len;
        if (avail > r->ct_done) {
            memcpy(buf + r->ct_done, r->cur_ptr + r->ct_done, avail - r->ct_done);
            r->ct_done = avail;
        }
        /* the copies above are done before the checks below: if the
         * generation still holds, what we copied was this record's */
        shmkit__fence_acquire();
        uint64_t w = shmkit__load_acquire(hdr);
        if (shmkit__load_relaxed(&c->wip_gen) != gen)
            return 1;
        if (w == (REC_MSG | len)) {
            /* committed: the rest is there, and nobody can withdraw it */
            memcpy(buf + r->ct_done, r->cur_ptr + r->ct_done, len - r->ct_done);
            return 0;
        }
        if (w != wip)
            return 1;
        int64_t left = deadline < 0 ? -1 : shmkit__time_left(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        struct chan_waiter wt = {.poll = ct_poll,
                                 .gone = producers_gone,
                                 .closed = producers_closed,
                                 .ctx = r,
                                 .flag = &c->cons_parked,
                                 .waits = &c->cons_waits,
                                 .spin_ns = r->spin_ns,
                                 .last_check = &r->last_check};
        int rc = shmkit__chan_wait(&wt, left);
        if (rc < 0)
            return rc;
    }
}

/* recv when no whole message that fits is at the head: waits, copies out a
 * message still being copied in, reports -EMSGSIZE and corruption. Kept
 * out of line so that its set-up (the waiters, the deadline, the
 * cut-through's state) costs the fast path in shmkit_ring_recv nothing. */
static __attribute__((noinline)) int recv_slow(shmkit_ring *r, void *buf, size_t cap,
                                               int64_t timeout_ns)
{
    /* a try call takes only whole messages; a waiting one also a message
     * still being copied in (cut-through), within the same deadline */
    r->want_wip = timeout_ns != 0;
    int64_t deadline = timeout_ns > 0 ? shmkit__deadline(timeout_ns) : -1;
    for (;;) {
        int64_t left = timeout_ns <= 0 ? timeout_ns : shmkit__time_left(deadline);
        if (timeout_ns > 0 && left == 0)
            return -ETIMEDOUT;
        int rc = do_peek(r, left);
        if (rc < 0)
            return rc;
        size_t len = (size_t)r->cur_len;
        if (len > cap) {
            r->peeked = !r->cur_wip;
            return -EMSGSIZE;
        }
        if (r->cur_wip) {
            r->peeked = 0; /* not a message yet: never released as one */
            rc = ct_copy(r, buf, deadline);
            if (rc < 0)
                return rc;
            if (rc > 0)
                continue;
            r->peeked = 1;
        } else if (len) {
            memcpy(buf, r->cur_ptr, len);
        }
        do_release(r);
        return (int)len;
    }
}

int shmkit_ring_recv(shmkit_ring *r, void *buf, size_t cap, int64_t timeout_ns)
{
    if (!r || (!buf && cap) || r->role != SHMKIT_RING_CONSUMER)
        return -EINVAL;
    /* The fast path: a whole message that fits is at the head. One header
     * load and one compare say so (a filler, a REC_WIP record and an empty
     * slot all differ from REC_MSG | len); the bounds are msg_poll's. */
    if (!r->peeked) {
        uint64_t idx = r->head & r->mask;
        /* acquire: the record's bytes are visible with its header */
        uint64_t w = shmkit__load_acquire((uint64_t *)(r->data + idx));
        uint64_t len = w & 0xffffffffu, rec = ring_rec_size(len);
        if (w == (REC_MSG | len) && len <= cap && len <= r->max_msg && idx + rec <= r->cap) {
            copy_msg(buf, r->data + idx + REC_HDR, len);
            r->head += rec;
            do_release_to(r, 1, len);
            return (int)len;
        }
    }
    return recv_slow(r, buf, cap, timeout_ns);
}

/* ---------------------------------------------------------------- batches */

int shmkit_ring_send_many(shmkit_ring *r, const struct iovec *msgs, size_t n, int64_t timeout_ns)
{
    if (!r || (!msgs && n) || r->role != SHMKIT_RING_PRODUCER || r->reserved)
        return -EINVAL;
    if (!n)
        return 0;
    if (n > INT_MAX)
        n = INT_MAX;
    size_t len = msgs[0].iov_len;
    if (!msgs[0].iov_base && len)
        return -EINVAL;
    if (len > r->max_msg)
        return SHMKIT_ETOOBIG;
    /* the first message waits for room (and the lock) like send */
    void *p = NULL;
    int rc = do_reserve(r, len, &p, timeout_ns);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(p, msgs[0].iov_base, len);
    struct ring_ctl *c = r->c;
    uint64_t first = r->tail + r->pad;
    uint64_t t = first + ring_rec_size(len), bytes = len;
    size_t i = 1;
    /* the others follow while they fit, each header stored relaxed: they
     * become visible together, with the first header (below) */
    for (; i < n; i++) {
        uint64_t l = msgs[i].iov_len, rec = ring_rec_size(l);
        if ((!msgs[i].iov_base && l) || l > r->max_msg)
            break; /* the next call reports it */
        uint64_t idx = t & r->mask, pad = idx + rec > r->cap ? r->cap - idx : 0;
        uint64_t need = pad + rec + REC_HDR;
        if (t - r->head_cache + need > r->cap) {
            /* acquire: as in room_poll */
            uint64_t h = shmkit__load_acquire(&c->head);
            if ((h & 7u) || t - h > r->cap || t - h + need > r->cap)
                break; /* no room now (a bad head: the next call reports it) */
            r->head_cache = h;
        }
        if (pad) {
            shmkit__store_relaxed((uint64_t *)(r->data + idx), REC_PAD | (pad - REC_HDR));
            t += pad;
            idx = 0;
        }
        copy_msg(r->data + idx + REC_HDR, msgs[i].iov_base, l);
        shmkit__store_relaxed((uint64_t *)(r->data + idx), REC_MSG | l);
        t += rec;
        bytes += l;
    }
    /* commit the first record: it zeroes the word after the last one and
     * publishes them all with its release store; then the batch's tail */
    do_commit_to(r, len, t, (uint64_t)i, bytes);
    return (int)i;
}

int shmkit_ring_recv_many(shmkit_ring *r, const struct iovec *bufs, size_t *lens, size_t n,
                          int64_t timeout_ns)
{
    if (!r || ((!bufs || !lens) && n) || r->role != SHMKIT_RING_CONSUMER)
        return -EINVAL;
    if (!n)
        return 0;
    if (n > INT_MAX)
        n = INT_MAX;
    r->want_wip = 0;
    /* the first message waits like peek (a message already peeked is it) */
    int rc = do_peek(r, timeout_ns);
    if (rc < 0)
        return rc;
    uint64_t bytes = 0;
    size_t i = 0;
    for (;;) {
        size_t len = (size_t)r->cur_len;
        if (len > bufs[i].iov_len || (!bufs[i].iov_base && len)) {
            if (!i)
                return -EMSGSIZE; /* stays peeked, as with recv */
            break;                /* stays queued; the next call reports it */
        }
        copy_msg(bufs[i].iov_base, r->cur_ptr, len);
        lens[i++] = len;
        bytes += len;
        /* released locally; the head is published once, below */
        r->head += ring_rec_size(len);
        r->peeked = 0;
        if (i == n || msg_poll(r) <= 0)
            break; /* none there (or a bad record: the next call reports it) */
    }
    r->peeked = 0;
    do_release_to(r, (uint64_t)i, bytes);
    return (int)i;
}
