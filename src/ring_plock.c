/* ring_plock.c - the lock that serialises the producers of a MULTI ring.
 *
 * One 32-bit word: 0 when free, else the holder's producer slot + 1, with
 * PLOCK_WAITERS set once someone sleeps on it (Drepper's "futexes are
 * tricky" mutex, with the holder's identity in the word). A holder killed
 * between reserve and commit is found by a waiter whose sleep timed out,
 * or by a try (timeout 0) caller that finds the lock held (at most one
 * check per millisecond per handle): the slot's owner record is dead, so
 * it takes the lock over and re-derives the tail from the committed
 * records. Since nothing is visible before a commit's header store, the
 * half-written message just vanishes.
 */
#include "ring.h"

#include <sched.h>

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

int shmkit__ring_plock(shmkit_ring *r, int64_t timeout_ns)
{
    struct ring_ctl *c = r->c;
    uint32_t me = (uint32_t)r->slot + 1, v = 0;
    /* acquire: pairs with the release in punlock */
    if (shmkit__cas_acquire(&c->plock, &v, me))
        return locked(r);
    if (timeout_ns == 0) {
        /* a try loop must not be held forever by a dead holder: check its
         * liveness (it reads /proc) at most once per CHAN_CHECK_NS */
        int64_t now = chan_now();
        if (now - r->last_check < CHAN_CHECK_NS)
            return -EAGAIN;
        r->last_check = now;
        int rc = take_over(r, v, me);
        return rc < 0 ? rc : rc > 0 ? 0 : -EAGAIN;
    }
    int64_t deadline = timeout_ns < 0 ? -1 : chan_now() + timeout_ns;
    /* a short spin, yielding: the holder may be preempted on this core */
    for (int i = 0; i < 20; i++) {
        if (i < 10)
            chan_relax();
        else
            sched_yield();
        v = 0;
        if (shmkit__cas_acquire(&c->plock, &v, me))
            return locked(r);
    }
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
        int64_t slice = SHMKIT_CHAN_SLICE_NS;
        if (deadline >= 0) {
            int64_t left = deadline - chan_now();
            if (left <= 0)
                return -ETIMEDOUT;
            if (left < slice)
                slice = left;
        }
        shmkit__fetch_add_relaxed(&c->prod_waits, 1); /* statistic */
        int rc = shmkit_futex_wait(&c->plock, v, slice);
        if (rc == -EINTR)
            return -EINTR;
        if (rc == -ETIMEDOUT) {
            rc = take_over(r, v, me);
            if (rc < 0)
                return rc;
            if (rc > 0)
                return 0;
        }
    }
}

void shmkit__ring_punlock(shmkit_ring *r)
{
    /* release: our records and tail are visible to the next holder */
    uint32_t old = shmkit__xchg_release(&r->c->plock, 0);
    if (old & PLOCK_WAITERS)
        shmkit_futex_wake(&r->c->plock, 1);
}
