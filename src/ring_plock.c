/* ring_plock.c - the lock that serialises the producers of a MULTI ring.
 *
 * One 32-bit word: 0 when free, else the holder's producer slot + 1, with
 * PLOCK_WAITERS set once someone sleeps on it (Drepper's "futexes are
 * tricky" mutex, with the holder's identity in the word). A holder killed
 * between reserve and commit is found by a waiter whose sleep timed out,
 * or by a try (timeout 0) caller that finds the lock held (at most one
 * check per millisecond per handle): the slot's owner record is dead, so
 * it takes the lock over and re-derives the tail from the committed
 * records. Since nothing is delivered before a commit's header store, the
 * half-written message just vanishes (a cut-through one is withdrawn: see
 * shmkit__ring_recover_tail).
 */
#include "ring.h"

#include <sched.h>

/* Also ring.c's, at a producer's attach: lives here so that the lock, which
 * needs it for a take-over, calls nothing in ring.c. */
int shmkit__ring_recover_tail(shmkit_ring *r)
{
    struct ring_ctl *c = r->c;
    /* acquire: the records before the tail hint are complete */
    uint64_t t = shmkit__load_acquire(&c->tail);
    uint64_t head = shmkit__load_acquire(&c->head);
    if ((t & 7u) || (head & 7u) || (t - head > r->cap && head - t > r->cap))
        return SHMKIT_ECORRUPT;
    /* everything before the head was committed and consumed */
    if (t - head > r->cap)
        t = head;
    /* a producer killed between its header store and its tail store left
     * committed records past the hint: walk them */
    for (;;) {
        uint64_t idx = t & r->mask;
        /* acquire: the record body is visible with its header */
        uint64_t w = shmkit__load_acquire((uint64_t *)(r->data + idx));
        if (!w)
            break;
        uint64_t len = w & 0xffffffffu, step;
        if (w == (REC_WIP | len) && len <= r->max_msg && idx + ring_rec_size(len) <= r->cap) {
            /* a message a dead producer was copying in (cut-through): it
             * was never delivered. Withdraw it - header first, then the
             * generation a consumer copying it out re-checks - before we
             * write anything where it was (the release fence) */
            shmkit__store_relaxed((uint64_t *)(r->data + idx), 0);
            shmkit__store_release(&c->wip_gen, shmkit__load_relaxed(&c->wip_gen) + 1);
            shmkit__fence_release();
            break;
        }
        if (w == (REC_PAD | len) && len + REC_HDR == r->cap - idx && ring_pad_ok(r, len))
            step = r->cap - idx;
        else if (w == (REC_MSG | len) && len <= r->max_msg && idx + ring_rec_size(len) <= r->cap)
            step = ring_rec_size(len);
        else
            return SHMKIT_ECORRUPT;
        if (t + step - head > r->cap)
            return SHMKIT_ECORRUPT;
        t += step;
    }
    r->tail = t;
    r->head_cache = head;
    /* release: a later taker-over starts from records that are complete */
    shmkit__store_release(&c->tail, t);
    return 0;
}

static int locked(shmkit_ring *r)
{
    struct ring_ctl *c = r->c;
    /* acquire: the previous holder's records and tail are visible */
    uint64_t t = shmkit__load_acquire(&c->tail);
    uint64_t h = shmkit__load_acquire(&c->head);
    if ((t & 7u) || (h & 7u) || t - h > r->cap) {
        shmkit__ring_punlock(r);
        return SHMKIT_ECORRUPT;
    }
    r->tail = t;
    r->head_cache = h;
    return 0;
}

/* The holder ID (slot + 1) is dead: take the lock from it. */
static int take_over(shmkit_ring *r, uint32_t seen, uint32_t me)
{
    struct ring_ctl *c = r->c;
    uint32_t id = seen & ~PLOCK_WAITERS;
    if (id < 1 || id > RING_PROD_SLOTS)
        return SHMKIT_ECORRUPT;
    uint64_t *slot = &c->prods[id - 1].claim;
    uint64_t w = claim_load(slot);
    /* we never wait for a lock we hold, and attach never hands out a slot
     * the lock names, so a word naming our own slot is forged: take it */
    if (id != me && claim_held(w))
        return 0;
    /* acquire: the dead holder's stores up to its death are visible */
    if (!shmkit__cas_acquire(&c->plock, &seen, me | PLOCK_WAITERS))
        return 0;
    /* the dead holder's slot is free again (not ours: it stays attached) */
    if (id != me && claim_state(w) != CLAIM_NEVER)
        claim_cas(slot, w, claim_make(CLAIM_DETACHED, 0));
    chan_bump(&c->takeovers, 1);
    int rc = shmkit__ring_recover_tail(r);
    if (rc < 0) {
        shmkit__ring_punlock(r);
        return rc;
    }
    return 1;
}

/* A try (timeout 0) caller that finds the lock held: a try loop must not
 * be held forever by a dead holder, so check the holder's liveness (it
 * reads /proc) at most once per SHMKIT__CHECK_THROTTLE_NS per handle. */
static int try_take(shmkit_ring *r, uint32_t seen, uint32_t me)
{
    int64_t now = shmkit__now_ns();
    if (now - r->last_check < SHMKIT__CHECK_THROTTLE_NS)
        return -EAGAIN;
    r->last_check = now;
    int rc = take_over(r, seen, me);
    return rc < 0 ? rc : rc > 0 ? 0 : -EAGAIN;
}

/* A short spin, yielding: the holder may be preempted on this core. */
static int spin_lock(struct ring_ctl *c, uint32_t me)
{
    for (int i = 0; i < 20; i++) {
        if (i < 10)
            shmkit__cpu_relax();
        else
            sched_yield();
        uint32_t v = 0;
        /* acquire: pairs with the release in punlock */
        if (shmkit__cas_acquire(&c->plock, &v, me))
            return 1;
    }
    return 0;
}

int shmkit__ring_plock(shmkit_ring *r, int64_t timeout_ns)
{
    struct ring_ctl *c = r->c;
    uint32_t me = (uint32_t)r->slot + 1, v = 0;
    /* acquire: pairs with the release in punlock */
    if (shmkit__cas_acquire(&c->plock, &v, me))
        return locked(r);
    if (timeout_ns == 0)
        return try_take(r, v, me);
    struct shmkit__park p;
    shmkit__park_init(&p, shmkit__deadline(timeout_ns), SHMKIT__CHECK_PLOCK_NS,
                      SHMKIT__CHECK_PLOCK_NS, SHMKIT__CHECK_PLOCK_NS);
    if (spin_lock(c, me))
        return locked(r);
    for (;;) {
        v = shmkit__load_relaxed(&c->plock);
        if (v == 0) {
            /* acquire: as above; keep the waiters bit, others may sleep */
            if (shmkit__cas_acquire(&c->plock, &v, me | PLOCK_WAITERS))
                return locked(r);
            continue;
        }
        if (!(v & PLOCK_WAITERS)) {
            /* relaxed: only announces a sleeper; the futex re-checks the word */
            if (!shmkit__cas_relaxed(&c->plock, &v, v | PLOCK_WAITERS))
                continue;
            v |= PLOCK_WAITERS;
        }
        int rc = shmkit__park(&p, &c->plock, v);
        if (rc == SHMKIT__PARK_CHECK) {
            rc = take_over(r, v, me); /* the holder may have died */
            if (rc != 0)
                return rc < 0 ? rc : 0;
            continue;
        }
        if (rc == 0 || rc == -EINTR)
            shmkit__fetch_add_relaxed(&c->prod_waits, 1); /* statistic */
        if (rc < 0)
            return rc; /* -ETIMEDOUT, -EINTR (not taken), a futex error */
    }
}

void shmkit__ring_punlock(shmkit_ring *r)
{
    /* release: our records and tail are visible to the next holder */
    uint32_t old = shmkit__xchg_release(&r->c->plock, 0);
    if (old & PLOCK_WAITERS)
        shmkit_futex_wake(&r->c->plock, 1);
}
