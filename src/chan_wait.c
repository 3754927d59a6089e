/* chan_wait.c - spin briefly, then sleep on a futex, waking every slice to
 * ask whether the peer still lives. The other side makes the wake-up system
 * call only when a sleeper announced itself. The futex calls themselves are
 * shmkit_futex_wait / shmkit_futex_wake (src/futex.c). */
#include "chan.h"

#include <limits.h>

/* Announces a sleeper. The seq_cst fence after the announcement pairs with
 * the fence in the wake functions (after the publishing store): of the two
 * store-then-load sequences at least one sees the other's store, so either
 * the waker sees the sleeper or the sleeper's re-poll sees the message. */
static uint32_t announce(const struct chan_waiter *w)
{
    uint32_t ev = 0;
    if (w->flag) {
        shmkit__store_relaxed(w->flag, 1);
    } else {
        /* acquire: what the waker published before bumping is seen by the poll */
        ev = shmkit__load_acquire(w->event);
        /* relaxed, ordered by the fence below: "someone sleeps on the
         * current event value" (the waker clears it when it bumps) */
        shmkit__store_relaxed(w->count, 1);
    }
    shmkit__fence_seq_cst();
    return ev;
}

static void withdraw(const struct chan_waiter *w)
{
    /* several sleepers: the armed flag stays, others may still sleep */
    if (w->flag)
        shmkit__store_relaxed(w->flag, 0); /* a hint only: orders nothing */
}

static int sleep_once(const struct chan_waiter *w, uint32_t ev, int64_t ns)
{
    if (w->flag)
        return shmkit_futex_wait(w->flag, 1, ns);
    return shmkit_futex_wait(w->event, ev, ns);
}

int shmkit__chan_wait(const struct chan_waiter *w, int64_t timeout_ns)
{
    int rc = w->poll(w->ctx);
    if (rc)
        return rc < 0 ? rc : 0;
    if (timeout_ns == 0) {
        /* a try call still reports a dead peer (a try loop would otherwise
         * spin on -EAGAIN forever); the check reads /proc, so it runs at
         * most once per CHAN_CHECK_NS per handle. GONE may also free what
         * we wait for (the bus publisher evicts dead subscribers): poll
         * once more either way. */
        int64_t now = chan_now();
        if (now - *w->last_check < CHAN_CHECK_NS)
            return -EAGAIN;
        *w->last_check = now;
        int gone = w->gone(w->ctx);
        rc = w->poll(w->ctx);
        if (rc)
            return rc < 0 ? rc : 0;
        return gone ? SHMKIT_EPEERDEAD : -EAGAIN;
    }
    int64_t start = chan_now();
    int64_t deadline = timeout_ns < 0 ? -1 : start + timeout_ns;
    int64_t next_check = start + SHMKIT_CHAN_SLICE_NS;

    /* spin: a message that arrives within spin_ns costs no system call */
    int64_t spin_end = w->spin_ns < 0 ? INT64_MAX : start + w->spin_ns;
    for (unsigned i = 1;; i++) {
        chan_relax();
        rc = w->poll(w->ctx);
        if (rc)
            return rc < 0 ? rc : 0;
        if (i % 64)
            continue;
        int64_t now = chan_now();
        if (deadline >= 0 && now >= deadline)
            return -ETIMEDOUT;
        if (now >= spin_end)
            break;
        if (now >= next_check) {
            next_check = now + SHMKIT_CHAN_SLICE_NS;
            if (w->gone(w->ctx)) {
                rc = w->poll(w->ctx); /* drain what the peer left first */
                return rc ? (rc < 0 ? rc : 0) : SHMKIT_EPEERDEAD;
            }
        }
    }

    /* about to sleep: a peer that died while we spun is found now, not a
     * slice later. The check reads /proc (~10 us), so it runs at most once
     * per millisecond per handle; when skipped, the first sleep is short. */
    int64_t first_slice = SHMKIT_CHAN_SLICE_NS, now = chan_now();
    if (now - *w->last_check >= CHAN_CHECK_NS) {
        *w->last_check = now;
        if (w->gone(w->ctx)) {
            rc = w->poll(w->ctx);
            return rc ? (rc < 0 ? rc : 0) : SHMKIT_EPEERDEAD;
        }
    } else {
        first_slice = CHAN_CHECK_NS;
        next_check = now + first_slice;
    }
    /* park, in slices, checking the peer's liveness after each */
    for (;;) {
        uint32_t ev = announce(w);
        rc = w->poll(w->ctx);
        if (rc) {
            withdraw(w);
            return rc < 0 ? rc : 0;
        }
        int64_t slice = first_slice;
        first_slice = SHMKIT_CHAN_SLICE_NS;
        if (deadline >= 0) {
            int64_t left = deadline - chan_now();
            if (left <= 0) {
                withdraw(w);
                return -ETIMEDOUT;
            }
            if (left < slice)
                slice = left;
        }
        if (w->waits)
            shmkit__fetch_add_relaxed(w->waits, 1); /* statistic */
        int s = sleep_once(w, ev, slice);
        withdraw(w);
        rc = w->poll(w->ctx);
        if (rc)
            return rc < 0 ? rc : 0;
        if (s == -EINTR)
            return -EINTR;
        if (s == -ETIMEDOUT || chan_now() >= next_check) {
            next_check = chan_now() + SHMKIT_CHAN_SLICE_NS;
            *w->last_check = chan_now();
            if (w->gone(w->ctx)) {
                rc = w->poll(w->ctx);
                return rc ? (rc < 0 ? rc : 0) : SHMKIT_EPEERDEAD;
            }
        }
        if (s < 0 && s != -ETIMEDOUT && s != -EAGAIN)
            return s;
    }
}

int shmkit__chan_wake_one(uint32_t *flag, const uint32_t *nopark)
{
    /* relaxed: a busy-polling peer never sleeps; a stale value costs at
     * most one slice of latency when the peer switches modes */
    if (nopark && shmkit__load_relaxed(nopark))
        return 0;
    /* seq_cst fence: pairs with the sleeper's fence in announce() */
    shmkit__fence_seq_cst();
    if (!shmkit__load_relaxed(flag))
        return 0;
    /* acq_rel exchange: only one waker makes the system call */
    if (!shmkit__xchg_acq_rel(flag, 0))
        return 0;
    shmkit_futex_wake(flag, 1);
    return 1;
}

int shmkit__chan_wake_all(uint32_t *count, uint32_t *event)
{
    /* seq_cst fence: pairs with the sleepers' fence in announce() */
    shmkit__fence_seq_cst();
    if (!shmkit__load_relaxed(count))
        return 0;
    /* relaxed: a sleeper that arms again after this reads the new event
     * value (bumped below) or sees the message in its poll */
    if (!shmkit__xchg_relaxed(count, 0))
        return 0;
    /* release: a sleeper that reads the new event value sees the message;
     * everyone asleep on the old value is woken, so until someone arms
     * again, later messages need no system call */
    shmkit__fetch_add_release(event, 1);
    shmkit_futex_wake(event, INT_MAX);
    return 1;
}
