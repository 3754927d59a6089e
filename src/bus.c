/* bus.c - one publisher, many subscribers, fixed slots in a segment.
 *
 * Message number S (S >= 1) goes to slot S & (slots - 1). Each slot starts
 * with the sequence number of the message it holds, stored with release
 * ordering after the bytes: a subscriber whose cursor is C reads slot C
 * when its sequence says C. In lossy mode the publisher first marks the
 * slot SLOT_WRITING (a seqlock), so a subscriber that was lapped either
 * sees a newer sequence before reading (it skips ahead, counting what it
 * lost) or sees the sequence change after reading (the copy is discarded
 * and counted as lost). In back-pressure mode the publisher does not
 * reuse a slot until every live subscriber's cursor is past it; it keeps
 * the minimum cursor cached and rescans the subscribers only when the
 * cache says the slot may still be in use, so publishing costs the same
 * with 1 or 64 subscribers.
 */
#include "chan.h"
#include "segment.h"

#include <stdlib.h>
#include <string.h>

struct shmkit_bus {
    shmkit_seg *seg;
    int own_seg; /* made by shmkit_bus_join: close closes the segment too */
    struct bus_ctl *c;
    struct bus_sub_rec *subs;
    unsigned char *slots;
    struct bus_geo g;
    uint64_t mask;
    uint64_t seq;       /* last published */
    uint64_t min_cache; /* lowest cursor of the live subscribers, as last seen */
    uint64_t loan_len;
    unsigned char *loan;
    int loaned;
    int64_t spin_ns, last_check;
    uint64_t claim; /* our claim word: CLAIM_ATTACHED | our owner id; 0: no role */
};

struct shmkit_sub {
    shmkit_seg *seg;
    int own_seg; /* made by shmkit_sub_join: unsubscribe closes the segment too */
    struct bus_ctl *c;
    struct bus_sub_rec *rec;
    unsigned char *slots;
    struct bus_geo g;
    uint64_t mask;
    uint32_t gen;
    uint64_t cursor;
    uint64_t lost;       /* every message lost since joining (shmkit_sub_lost) */
    uint64_t unreported; /* the part of LOST not yet added to a caller's *lost */
    /* current message (after a successful poll) */
    unsigned char *ptr;
    uint64_t len;
    int peeked;
    int64_t spin_ns, last_check;
    uint64_t id;    /* our owner id (shmkit__owner_id) */
    uint64_t claim; /* our record's word while we are a member */
    struct shmkit__pollfd pfd; /* shmkit_sub_fd's descriptor */
};

static uint64_t slot_size_for(uint64_t msg_max)
{
    return (sizeof(struct bus_slot) + chan_round8(msg_max) + 63u) & ~(uint64_t)63u;
}

size_t shmkit_bus_size_for(size_t slots, size_t msg_max, unsigned max_subs)
{
    if (!chan_is_pow2(slots) || slots < 2 || slots > (1u << 24) || !msg_max ||
        msg_max > (1u << 30) || !max_subs || max_subs > SHMKIT_BUS_MAX_SUBS)
        return 0;
    uint64_t n = sizeof(struct bus_ctl) + (uint64_t)max_subs * sizeof(struct bus_sub_rec) +
                 (uint64_t)slots * slot_size_for(msg_max);
    return n > SIZE_MAX ? 0 : (size_t)n;
}

int shmkit__bus_geo(const struct bus_ctl *c, size_t size, struct bus_geo *g)
{
    if (size < sizeof *c)
        return SHMKIT_ECORRUPT;
    char magic[8];
    memcpy(magic, c->magic, sizeof magic);
    if (memcmp(magic, BUS_MAGIC, 8))
        return SHMKIT_ECORRUPT;
    if (shmkit__load_relaxed(&c->version) != CHAN_VERSION)
        return SHMKIT_EVERSION;
    g->slots = shmkit__load_relaxed(&c->slots);
    g->slot_size = shmkit__load_relaxed(&c->slot_size);
    g->msg_max = shmkit__load_relaxed(&c->msg_max);
    g->subs_off = shmkit__load_relaxed(&c->subs_off);
    g->data_off = shmkit__load_relaxed(&c->data_off);
    g->max_subs = shmkit__load_relaxed(&c->max_subs);
    g->flags = shmkit__load_relaxed(&c->flags);
    size_t need = shmkit_bus_size_for(g->slots, g->msg_max, g->max_subs);
    if (!need || need > size || g->slot_size != slot_size_for(g->msg_max) ||
        g->subs_off != sizeof *c ||
        g->data_off != sizeof *c + (uint64_t)g->max_subs * sizeof(struct bus_sub_rec) ||
        (g->flags & ~(uint32_t)SHMKIT_BUS_LOSSY))
        return SHMKIT_ECORRUPT;
    return 0;
}

/* Validates SEG as a bus; fills the pointers. */
static int bus_map(shmkit_seg *seg, struct bus_ctl **c, struct bus_geo *g)
{
    uint32_t layout;
    uint64_t p[4];
    /* one header read: layout and geometry (a refusal - truncated, an
     * unsealed memfd - is reported as such) */
    int rc = shmkit__seg_layout(seg, &layout, p);
    if (rc < 0)
        return rc;
    if (layout != SHMKIT_LAYOUT_BUS)
        return SHMKIT_ELAYOUT;
    if (!seg->writable)
        return -EBADF;
    *c = shmkit_seg_data(seg);
    rc = shmkit__bus_geo(*c, shmkit_seg_size(seg), g);
    if (rc < 0)
        return rc;
    if (p[0] != g->slots || p[1] != g->msg_max)
        return SHMKIT_ECORRUPT;
    return 0;
}

/* The calling process's owner id, or -errno. */
static int self_id(uint64_t *id)
{
    struct shmkit_owner me;
    int rc = shmkit_owner_self(&me);
    if (rc < 0)
        return rc;
    *id = shmkit__owner_id(&me);
    return *id ? 0 : -EOVERFLOW; /* a pid of 2^22 or more: not on Linux */
}

static struct bus_slot *slot_at(unsigned char *slots, const struct bus_geo *g, uint64_t seq)
{
    return (struct bus_slot *)(slots + (seq & (g->slots - 1)) * g->slot_size);
}

/* ---------------------------------------------------------------- publisher */

int shmkit__bus_open(shmkit_bus **out, shmkit_seg *seg, int role)
{
    shmkit_bus *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->seg = seg;
    int rc = bus_map(seg, &b->c, &b->g);
    if (rc < 0)
        goto free_handle;
    struct bus_ctl *c = b->c;
    b->subs = (struct bus_sub_rec *)((unsigned char *)c + b->g.subs_off);
    b->slots = (unsigned char *)c + b->g.data_off;
    b->mask = b->g.slots - 1;
    b->spin_ns = 50000;
    if (!role) {
        *out = b; /* claim 0: publishes nothing, tells nobody anything */
        return 0;
    }
    uint64_t id;
    rc = self_id(&id);
    if (rc < 0)
        goto free_handle;
    b->claim = claim_make(CLAIM_ATTACHED, id);
    /* the role is ours once the word names us (no window without an owner) */
    uint64_t w;
    do {
        w = claim_load(&c->pub_claim);
        if (claim_held(w)) {
            rc = -EBUSY;
            goto free_handle;
        }
    } while (!claim_cas(&c->pub_claim, w, b->claim));
    if (claim_state(w) == CLAIM_ATTACHED || claim_state(w) == CLAIM_CLAIMING)
        chan_bump(&c->takeovers, 1);
    /* acquire: the slots up to the last published sequence are complete; a
     * message the previous publisher left half written is simply rewritten */
    b->seq = shmkit__load_acquire(&c->pub_seq);
    /* publish stores the slot's sequence, then pub_seq: a publisher killed
     * between the two left one message that subscribers may already have
     * read. Count it as published, or ours would land behind their cursor. */
    uint64_t next = b->seq + 1;
    if (shmkit__load_acquire(&slot_at(b->slots, &b->g, next)->seq) == next) {
        b->seq = next;
        shmkit__store_release(&c->pub_seq, next);
    }
    b->min_cache = b->seq + 1;
    *out = b;
    return 0;
free_handle:
    free(b);
    return rc;
}

int shmkit__bus_init(shmkit_seg *seg, uint64_t slots, uint64_t msg_max, uint32_t max_subs,
                     unsigned flags)
{
    struct bus_ctl *c = shmkit_seg_data(seg);
    /* control block and subscriber table must be zero; slots only need a
     * sequence number of 0 */
    memset(c, 0, sizeof *c + (size_t)max_subs * sizeof(struct bus_sub_rec));
    unsigned char *data =
        (unsigned char *)c + sizeof *c + (size_t)max_subs * sizeof(struct bus_sub_rec);
    for (size_t i = 0; i < slots; i++)
        memset(data + i * slot_size_for(msg_max), 0, sizeof(struct bus_slot));
    memcpy(c->magic, BUS_MAGIC, 8);
    c->version = CHAN_VERSION;
    c->flags = flags;
    c->slots = slots;
    c->slot_size = slot_size_for(msg_max);
    c->msg_max = msg_max;
    c->max_subs = max_subs;
    c->subs_off = sizeof *c;
    c->data_off = sizeof *c + (uint64_t)max_subs * sizeof(struct bus_sub_rec);
    /* release: the control block is complete before the header says "bus"
     * (an attacher reads the header first) */
    shmkit__fence_release();
    uint64_t param[4] = {slots, msg_max, max_subs, flags};
    return shmkit_seg_set_layout(seg, SHMKIT_LAYOUT_BUS, param);
}

int shmkit_bus_create(shmkit_bus **out, shmkit_seg *seg, size_t slots, size_t msg_max,
                      unsigned max_subs, unsigned flags)
{
    if (!out || !seg || (flags & ~(unsigned)(SHMKIT_BUS_LOSSY | SHMKIT_BUS_NOROLE)))
        return -EINVAL;
    size_t need = shmkit_bus_size_for(slots, msg_max, max_subs);
    if (!need)
        return -EINVAL;
    if (shmkit_seg_size(seg) < need)
        return SHMKIT_EBADSIZE;
    if (!seg->writable)
        return -EBADF; /* before the payload is touched */
    int rc = shmkit__bus_init(seg, slots, msg_max, max_subs, flags & SHMKIT_BUS_LOSSY);
    if (rc < 0)
        return rc;
    return shmkit__bus_open(out, seg, !(flags & SHMKIT_BUS_NOROLE));
}

int shmkit_bus_attach(shmkit_bus **out, shmkit_seg *seg)
{
    if (!out || !seg)
        return -EINVAL;
    return shmkit__bus_open(out, seg, 1);
}

/* Wakes the subscribers asleep on the futex and, when one armed its
 * descriptor, every armed record (the scan runs only then). Non-zero if
 * someone was woken. */
static unsigned wake_subs(shmkit_bus *b)
{
    unsigned armed = shmkit__chan_wake_all(&b->c->sub_waiters, &b->c->sub_event);
    if (armed & CHAN_ARMED_FD) {
        for (uint32_t i = 0; i < b->g.max_subs; i++) {
            struct bus_sub_rec *r = &b->subs[i];
            /* relaxed: the exchange above acquired the records armed
             * before their bit; shmkit__wake takes the flag itself */
            if (shmkit__load_relaxed(&r->parked) == SHMKIT__WAKE_FD)
                shmkit__wake(&r->parked, &r->token);
        }
    }
    return armed;
}

int shmkit_bus_close(shmkit_bus *b)
{
    if (!b)
        return 0;
    if (b->claim && claim_ours(b->claim)) { /* not a copy inherited across fork */
        /* release (in claim_cas): our last message is visible before
         * subscribers see us gone */
        claim_cas(&b->c->pub_claim, b->claim, claim_make(CLAIM_DETACHED, 0));
        wake_subs(b);
    }
    int rc = b->own_seg ? shmkit_close(b->seg) : 0;
    free(b);
    return rc;
}

shmkit_seg *shmkit_bus_seg(const shmkit_bus *b)
{
    return b ? b->seg : NULL;
}

shmkit_seg *shmkit_sub_seg(const shmkit_sub *s)
{
    return s ? s->seg : NULL;
}

void shmkit__bus_own_seg(shmkit_bus *b)
{
    b->own_seg = 1;
}

void shmkit__sub_own_seg(shmkit_sub *s)
{
    s->own_seg = 1;
}

size_t shmkit_bus_msg_max(const shmkit_bus *b)
{
    return b ? (size_t)b->g.msg_max : 0;
}

void shmkit_bus_set_spin(shmkit_bus *b, int64_t spin_ns)
{
    if (b)
        b->spin_ns = spin_ns;
}

/* Is the slot for b->seq + 1 free of unread messages? Rescans the
 * subscribers only when the cached minimum cursor says it may not be. */
static int slot_free_poll(void *ctx)
{
    shmkit_bus *b = ctx;
    uint64_t s = b->seq + 1;
    if (s < b->min_cache + b->g.slots)
        return 1;
    uint64_t min = s;
    for (uint32_t i = 0; i < b->g.max_subs; i++) {
        struct bus_sub_rec *r = &b->subs[i];
        /* a joining (CLAIMING) subscriber starts after the newest message */
        if (claim_state(claim_load(&r->claim)) != CLAIM_ATTACHED)
            continue;
        /* acquire: the subscriber has finished reading before its cursor */
        uint64_t cur = shmkit__load_acquire(&r->cursor);
        if (cur > s)
            return SHMKIT_ECORRUPT;
        if (cur < min)
            min = cur;
    }
    b->min_cache = min;
    return s < min + b->g.slots;
}

/* While waiting: drop the dead subscribers that hold the slot. Never
 * reports the publisher's peers as gone: with no subscriber left, it runs. */
static int evict_dead(void *ctx)
{
    shmkit_bus *b = ctx;
    uint64_t s = b->seq + 1;
    for (uint32_t i = 0; i < b->g.max_subs; i++) {
        struct bus_sub_rec *r = &b->subs[i];
        uint64_t w = claim_load(&r->claim);
        if (claim_state(w) != CLAIM_ATTACHED || shmkit__load_relaxed(&r->cursor) + b->g.slots > s)
            continue;
        if (claim_held(w))
            continue;
        if (claim_cas(&r->claim, w, claim_make(CLAIM_DETACHED, 0)))
            chan_bump(&b->c->evicted, 1);
    }
    return 0;
}

/* shmkit_bus_wait_subscribers: the bus and how many members it waits for */
struct sub_quorum {
    shmkit_bus *b;
    unsigned n;
};

/* At least N members? By the state bits first (loads only); only when
 * those say enough, whether the members live (reads /proc). */
static int quorum_poll(void *ctx)
{
    struct sub_quorum *q = ctx;
    shmkit_bus *b = q->b;
    unsigned n = 0;
    for (uint32_t i = 0; i < b->g.max_subs && n < q->n; i++)
        n += claim_state(claim_load(&b->subs[i].claim)) == CLAIM_ATTACHED;
    if (n < q->n)
        return 0;
    n = 0;
    for (uint32_t i = 0; i < b->g.max_subs && n < q->n; i++) {
        uint64_t w = claim_load(&b->subs[i].claim);
        n += claim_state(w) == CLAIM_ATTACHED && claim_held(w);
    }
    return n >= q->n;
}

/* Once a slice: members that died leave (so the quick count is right
 * again). Never reports a peer gone. */
static int quorum_drop_dead(void *ctx)
{
    struct sub_quorum *q = ctx;
    shmkit_bus *b = q->b;
    for (uint32_t i = 0; i < b->g.max_subs; i++) {
        struct bus_sub_rec *r = &b->subs[i];
        uint64_t w = claim_load(&r->claim);
        if (claim_state(w) == CLAIM_ATTACHED && !claim_held(w) &&
            claim_cas(&r->claim, w, claim_make(CLAIM_DETACHED, 0)))
            chan_bump(&b->c->evicted, 1);
    }
    return 0;
}

int shmkit_bus_wait_subscribers(shmkit_bus *b, unsigned n, int64_t timeout_ns)
{
    if (!b || n > b->g.max_subs)
        return -EINVAL;
    struct sub_quorum q = {b, n};
    /* subscribe wakes pub_parked; back-pressure waits share it (a wake
     * meant for the other wait only costs a re-poll) */
    struct chan_waiter w = {.poll = quorum_poll,
                            .gone = quorum_drop_dead,
                            .ctx = &q,
                            .flag = &b->c->pub_parked,
                            .spin_ns = b->spin_ns,
                            .last_check = &b->last_check};
    return shmkit__chan_wait(&w, timeout_ns);
}

int shmkit_bus_loan(shmkit_bus *b, size_t len, void **p, int64_t timeout_ns)
{
    if (!b || !p || b->loaned || !b->claim) /* claim 0: a handle without the role */
        return -EINVAL;
    if (len > b->g.msg_max)
        return SHMKIT_ETOOBIG;
    uint64_t s = b->seq + 1;
    struct bus_slot *sl = slot_at(b->slots, &b->g, s);
    if (b->g.flags & SHMKIT_BUS_LOSSY) {
        /* release: a reader lapped by this mark also sees pub_seq >= s - 1
         * (resync relies on it); the fence after it is the seqlock writer's
         * entry: a reader that sees any byte we write next sees the mark */
        shmkit__store_release(&sl->seq, s | SLOT_WRITING);
        shmkit__fence_release();
    } else {
        int rc = slot_free_poll(b);
        if (rc < 0)
            return rc;
        if (!rc) {
            /* a try loan evicts dead subscribers too (rate-limited, see
             * shmkit__chan_wait): a try loop must not be held by the dead */
            struct chan_waiter w = {.poll = slot_free_poll,
                                    .gone = evict_dead,
                                    .ctx = b,
                                    .flag = &b->c->pub_parked,
                                    .waits = &b->c->pub_waits,
                                    .spin_ns = b->spin_ns,
                                    .last_check = &b->last_check};
            rc = shmkit__chan_wait(&w, timeout_ns);
            if (rc < 0)
                return rc;
        }
    }
    b->loan = (unsigned char *)(sl + 1);
    b->loan_len = len;
    b->loaned = 1;
    *p = b->loan;
    return 0;
}

int shmkit_bus_publish(shmkit_bus *b, size_t len, uint64_t *seq)
{
    if (!b || !b->loaned || len > b->loan_len)
        return -EINVAL;
    uint64_t s = b->seq + 1;
    struct bus_slot *sl = slot_at(b->slots, &b->g, s);
    shmkit__store_relaxed(&sl->len, (uint32_t)len); /* ordered by the next store */
    /* release: the message bytes and length are visible with the sequence */
    shmkit__store_release(&sl->seq, s);
    b->seq = s;
    b->loaned = 0;
    /* release: a subscriber joining now starts after complete messages */
    shmkit__store_release(&b->c->pub_seq, s);
    chan_bump(&b->c->msgs_in, 1);
    chan_bump(&b->c->bytes_in, len);
    if (wake_subs(b))
        chan_bump(&b->c->pub_wakes, 1);
    if (seq)
        *seq = s;
    return 0;
}

int shmkit_bus_send(shmkit_bus *b, const void *buf, size_t len, int64_t timeout_ns)
{
    if (!buf && len)
        return -EINVAL;
    void *p;
    int rc = shmkit_bus_loan(b, len, &p, timeout_ns);
    if (rc < 0)
        return rc;
    if (len)
        memcpy(p, buf, len);
    return shmkit_bus_publish(b, len, NULL);
}

/* ---------------------------------------------------------------- subscriber */

int shmkit_bus_subscribe(shmkit_sub **out, shmkit_seg *seg)
{
    if (!out || !seg)
        return -EINVAL;
    shmkit_sub *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    s->seg = seg;
    int rc = bus_map(seg, &s->c, &s->g);
    if (rc < 0)
        goto free_handle;
    rc = self_id(&s->id);
    if (rc < 0)
        goto free_handle;
    struct bus_ctl *c = s->c;
    struct bus_sub_rec *subs = (struct bus_sub_rec *)((unsigned char *)c + s->g.subs_off);
    s->slots = (unsigned char *)c + s->g.data_off;
    s->mask = s->g.slots - 1;
    s->spin_ns = 50000;
    /* A record is taken with one CAS to CLAIMING | our id: the claim names
     * its owner from the start, so a joiner killed before it finished is
     * recognised as dead and its record reclaimed like a dead member's. */
    uint64_t claiming = claim_make(CLAIM_CLAIMING, s->id);
    rc = -EUSERS;
    for (int pass = 0; pass < 2 && rc == -EUSERS; pass++) {
        for (uint32_t i = 0; i < s->g.max_subs; i++) {
            struct bus_sub_rec *r = &subs[i];
            uint64_t w = claim_load(&r->claim);
            unsigned st = claim_state(w);
            /* first pass: free records; second: records of dead owners
             * (members or joiners) */
            if (pass == 0 ? (st != CLAIM_NEVER && st != CLAIM_DETACHED)
                          : (st == CLAIM_NEVER || st == CLAIM_DETACHED || claim_held(w)))
                continue;
            if (!claim_cas(&r->claim, w, claiming))
                continue;
            if (pass)
                chan_bump(&c->evicted, 1);
            s->rec = r;
            rc = 0;
            break;
        }
    }
    if (rc < 0)
        goto free_handle;
    struct bus_sub_rec *r = s->rec;
    s->gen = shmkit__load_relaxed(&r->gen) + 1;
    shmkit__store_relaxed(&r->gen, s->gen); /* published by the claim store */
    /* acquire: we start right after the last complete message */
    s->cursor = shmkit__load_acquire(&c->pub_seq) + 1;
    shmkit__store_relaxed(&r->cursor, s->cursor); /* published by the claim store */
    s->claim = claim_make(CLAIM_ATTACHED, s->id);
    /* release: cursor and generation are visible with the member's word;
     * a CAS, not a store: a reclaimer that found us dead in between wins */
    if (!claim_cas(&r->claim, claiming, s->claim)) {
        rc = -EUSERS;
        goto free_handle;
    }
    /* a publisher in shmkit_bus_wait_subscribers counts us now */
    shmkit__chan_wake_one(&c->pub_parked, NULL, NULL);
    *out = s;
    return 0;
free_handle:
    free(s);
    return rc;
}

static int still_member(const shmkit_sub *s)
{
    return shmkit__load_relaxed(&s->rec->claim) == s->claim &&
           shmkit__load_relaxed(&s->rec->gen) == s->gen;
}

int shmkit_bus_unsubscribe(shmkit_sub *s)
{
    if (!s)
        return 0;
    if (claim_ours(s->claim)) { /* not a copy inherited across fork */
        uint32_t armed = SHMKIT__WAKE_FD;
        /* relaxed: a hint; a waker that still takes it sends into the void */
        if (s->pfd.on)
            shmkit__cas_relaxed(&s->rec->parked, &armed, 0);
        /* release (in claim_cas): our reads are done before the publisher
         * may reuse slots */
        if (shmkit__load_relaxed(&s->rec->gen) == s->gen)
            claim_cas(&s->rec->claim, s->claim, claim_make(CLAIM_DETACHED, 0));
        if (!(s->g.flags & SHMKIT_BUS_LOSSY))
            shmkit__chan_wake_one(&s->c->pub_parked, NULL, NULL);
    }
    shmkit__pollfd_close(&s->pfd);
    int rc = s->own_seg ? shmkit_close(s->seg) : 0;
    free(s);
    return rc;
}

void shmkit_sub_set_spin(shmkit_sub *s, int64_t spin_ns)
{
    if (s)
        s->spin_ns = spin_ns;
}

uint64_t shmkit_sub_lost(const shmkit_sub *s)
{
    return s ? s->lost : 0;
}

/* N messages are lost to this subscriber: counted once in its total and
 * its record's statistic, and held until a caller's *lost takes them. */
static void note_lost(shmkit_sub *s, uint64_t n)
{
    s->lost += n;
    s->unreported += n;
    chan_bump(&s->rec->lost, n);
}

/* Hands the losses not yet reported to the caller's accumulator, exactly
 * once (kept for a later call when LOST is NULL). */
static void report_lost(shmkit_sub *s, uint64_t *lost)
{
    if (lost) {
        *lost += s->unreported;
        s->unreported = 0;
    }
}

/* Skips the cursor past messages the publisher already overwrote. */
static int resync(shmkit_sub *s)
{
    /* acquire: pairs with the publisher's release of pub_seq */
    uint64_t p = shmkit__load_acquire(&s->c->pub_seq);
    if (p < s->cursor)
        return SHMKIT_ECORRUPT; /* a slot claims a message not yet published */
    /* land halfway into the window so the next read is not lapped at once */
    uint64_t to = p + 1 > s->g.slots / 2 ? p + 1 - s->g.slots / 2 : 1;
    if (to <= s->cursor)
        to = s->cursor + 1;
    note_lost(s, to - s->cursor);
    s->cursor = to;
    return 0;
}

static int sub_poll(void *ctx)
{
    shmkit_sub *s = ctx;
    if (!still_member(s))
        return -ENOLINK;
    for (int tries = 0; tries < 4; tries++) {
        struct bus_slot *sl = slot_at(s->slots, &s->g, s->cursor);
        /* acquire: the message bytes are visible with their sequence */
        uint64_t v = shmkit__load_acquire(&sl->seq);
        uint64_t vs = v & ~SLOT_WRITING;
        if (v == s->cursor) {
            uint64_t len = shmkit__load_relaxed(&sl->len);
            if (len > s->g.msg_max)
                return SHMKIT_ECORRUPT;
            s->len = len;
            s->ptr = (unsigned char *)(sl + 1);
            return 1;
        }
        if (vs <= s->cursor)
            return 0; /* not yet published (or being written right now) */
        if (!(s->g.flags & SHMKIT_BUS_LOSSY))
            return SHMKIT_ECORRUPT; /* back-pressure never laps anyone */
        int rc = resync(s);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int publisher_gone(void *ctx)
{
    shmkit_sub *s = ctx;
    return claim_gone(claim_load(&s->c->pub_claim));
}

/* The publisher closed its handle (cheap: one load). */
static int publisher_closed(void *ctx)
{
    shmkit_sub *s = ctx;
    return claim_left(claim_load(&s->c->pub_claim));
}

/* The publisher, for the descriptor to watch (0: none attached). */
static int32_t publisher_pid(void *ctx)
{
    shmkit_sub *s = ctx;
    uint64_t w = claim_load(&s->c->pub_claim);
    return claim_state(w) == CLAIM_ATTACHED ? claim_pid(w) : 0;
}

int shmkit_sub_fd(shmkit_sub *s)
{
    if (!s)
        return -EINVAL;
    return shmkit__pollfd_open(&s->pfd);
}

static void advance(shmkit_sub *s, uint64_t got, uint64_t bytes)
{
    struct bus_sub_rec *r = s->rec;
    s->cursor++;
    /* release: we are done with the slot; the publisher may reuse it */
    shmkit__store_release(&r->cursor, s->cursor);
    chan_bump(&r->recv, got);
    chan_bump(&r->bytes, bytes);
    if (!(s->g.flags & SHMKIT_BUS_LOSSY))
        shmkit__chan_wake_one(&s->c->pub_parked, NULL, NULL);
}

int shmkit_bus_peek(shmkit_sub *s, const void **p, size_t *len, uint64_t *seq, uint64_t *lost,
                    int64_t timeout_ns)
{
    if (!s || !p || !len)
        return -EINVAL;
    if (!s->peeked) {
        struct chan_waiter w = {.poll = sub_poll,
                                .gone = publisher_gone,
                                .closed = publisher_closed,
                                .ctx = s,
                                .count = &s->c->sub_waiters,
                                .event = &s->c->sub_event,
                                .waits = &s->rec->waits,
                                .spin_ns = s->spin_ns,
                                .last_check = &s->last_check,
                                .pfd = &s->pfd,
                                .arm = &s->rec->parked,
                                .token_at = &s->rec->token,
                                .peer = publisher_pid};
        int rc = shmkit__chan_wait(&w, timeout_ns);
        /* losses found while looking are reported even if nothing came */
        report_lost(s, lost);
        if (rc < 0)
            return rc;
        s->peeked = 1;
    }
    *p = s->ptr;
    *len = (size_t)s->len;
    if (seq)
        *seq = s->cursor;
    report_lost(s, lost);
    return 0;
}

/* Lossy mode: did the publisher overwrite the slot while we read it? */
static int overwritten(const shmkit_sub *s)
{
    if (!(s->g.flags & SHMKIT_BUS_LOSSY))
        return 0;
    const struct bus_slot *sl = slot_at(s->slots, &s->g, s->cursor);
    /* acquire fence: our reads of the message happen before the re-check */
    shmkit__fence_acquire();
    return shmkit__load_relaxed(&sl->seq) != s->cursor;
}

int shmkit_bus_release(shmkit_sub *s)
{
    if (!s || !s->peeked)
        return -EINVAL;
    s->peeked = 0;
    if (overwritten(s)) {
        note_lost(s, 1); /* reported by the next peek or recv */
        advance(s, 0, 0);
        return -ESTALE;
    }
    advance(s, 1, s->len);
    return 0;
}

/* Copying out of a slot the publisher may overwrite (lossy mode) is a
 * seqlock read: the race is intended and the copy is discarded when the
 * sequence moved, so it is kept out of ThreadSanitizer's view. */
#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CHAN_NO_TSAN __attribute__((no_sanitize("thread")))
#define CHAN_TSAN 1
#endif
#endif
#if !defined(CHAN_NO_TSAN) && defined(__SANITIZE_THREAD__)
#define CHAN_NO_TSAN __attribute__((no_sanitize_thread))
#define CHAN_TSAN 1
#endif
#ifndef CHAN_NO_TSAN
#define CHAN_NO_TSAN
#endif

CHAN_NO_TSAN static void racy_copy(void *dst, const void *src, size_t n)
{
#ifdef CHAN_TSAN
    /* not memcpy: TSan intercepts that call whatever the attribute says */
    const volatile unsigned char *s = src;
    unsigned char *d = dst;
    for (size_t i = 0; i < n; i++)
        d[i] = s[i];
#else
    memcpy(dst, src, n);
#endif
}

int shmkit_bus_recv(shmkit_sub *s, void *buf, size_t cap, uint64_t *seq, uint64_t *lost,
                    int64_t timeout_ns)
{
    if (!s || (!buf && cap))
        return -EINVAL;
    for (;;) {
        const void *p;
        size_t len;
        uint64_t sq;
        int rc = shmkit_bus_peek(s, &p, &len, &sq, lost, timeout_ns);
        if (rc < 0)
            return rc;
        if (len > cap) {
            s->peeked = 0;
            note_lost(s, 1);
            report_lost(s, lost);
            advance(s, 0, 0);
            return -EMSGSIZE;
        }
        if (len)
            racy_copy(buf, p, len);
        s->peeked = 0;
        if (overwritten(s)) {
            note_lost(s, 1); /* reported by the peek of the next round */
            advance(s, 0, 0);
            continue; /* the copy is garbage; take the next message */
        }
        advance(s, 1, len);
        if (seq)
            *seq = sq;
        return (int)len;
    }
}

int shmkit__bus_stats(const struct bus_ctl *c, size_t size, struct shmkit_chan_stats *st)
{
    struct bus_geo g;
    int rc = shmkit__bus_geo(c, size, &g);
    if (rc < 0)
        return rc;
    st->layout = SHMKIT_LAYOUT_BUS;
    st->flags = g.flags;
    st->capacity = g.slots;
    st->msg_max = g.msg_max;
    uint64_t pub = shmkit__load_acquire(&c->pub_seq), min = pub + 1;
    st->msgs_in = chan_load(&c->msgs_in);
    st->bytes_in = chan_load(&c->bytes_in);
    st->waits = chan_load(&c->pub_waits);
    st->wakes = chan_load(&c->pub_wakes);
    st->takeovers = chan_load(&c->takeovers) + chan_load(&c->evicted);
    const struct bus_sub_rec *subs =
        (const struct bus_sub_rec *)((const unsigned char *)c + g.subs_off);
    for (uint32_t i = 0; i < g.max_subs; i++) {
        const struct bus_sub_rec *r = &subs[i];
        uint64_t w = claim_load(&r->claim);
        if (claim_state(w) == CLAIM_NEVER)
            continue;
        st->msgs_out += chan_load(&r->recv);
        st->bytes_out += chan_load(&r->bytes);
        st->overruns += chan_load(&r->lost);
        st->waits += chan_load(&r->waits);
        if (claim_state(w) == CLAIM_ATTACHED && claim_held(w)) {
            st->readers++;
            uint64_t cur = chan_load(&r->cursor);
            if (cur < min)
                min = cur;
        }
    }
    st->used = pub + 1 - min;
    st->max_readers = g.max_subs;
    uint64_t w = claim_load(&c->pub_claim);
    if (claim_state(w) == CLAIM_ATTACHED) {
        st->writer_pid = claim_pid(w);
        st->writer_alive = claim_held(w);
        st->writers = (uint32_t)st->writer_alive;
    }
    return 0;
}
