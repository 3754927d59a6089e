/* chan_wait.c - spin briefly, then sleep on a futex, waking every slice to
 * ask whether the peer still lives. The other side makes the wake-up system
 * call only when a sleeper announced itself. The sleeping itself is
 * shmkit__park (wait.c), the wake-up shmkit_futex_wake (futex.c). */
#include "chan.h"

#include <limits.h>
#include <stdint.h>

_Static_assert(SHMKIT__CHECK_CHAN_NS == SHMKIT_CHAN_SLICE_NS, "the documented channel slice");

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
        /* ordered by the fence below: "someone sleeps on the current
         * event value" (the waker clears it when it bumps); an or, not a
         * store: an armed descriptor's bit stays */
        shmkit__or_fetch_seq_cst(w->count, CHAN_ARMED_FUTEX);
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

/* A poll's answer as the wait's: ready (> 0) is 0, an error stays. */
static int ready(int rc)
{
    return rc < 0 ? rc : 0;
}

/* POLL, and when it finds nothing, whether the peer closed: then POLL once
 * more (CLOSED's acquire load of the claim word makes everything sent
 * before the close visible), so the end of stream comes after the last
 * message. > 0 ready, 0 not yet, < 0 an error or SHMKIT_ECLOSED. */
static int poll_end(const struct chan_waiter *w)
{
    int rc = w->poll(w->ctx);
    if (rc || !w->closed || !w->closed(w->ctx))
        return rc;
    rc = w->poll(w->ctx);
    return rc ? rc : SHMKIT_ECLOSED;
}

/* The peer died or left: what it published first is still delivered; a
 * peer that left with a clean close is the end of stream, not a death. */
static int peer_gone(const struct chan_waiter *w)
{
    int rc = poll_end(w);
    return rc ? ready(rc) : SHMKIT_EPEERDEAD;
}

/* Timeout 0: a try call still reports a dead peer (a try loop would
 * otherwise spin on -EAGAIN forever); the check reads /proc, so it runs at
 * most once per SHMKIT__CHECK_THROTTLE_NS per handle. GONE may also free
 * what we wait for (the bus publisher evicts dead subscribers): poll once
 * more either way. */
static int try_once(const struct chan_waiter *w)
{
    int64_t now = shmkit__now_ns();
    if (now - *w->last_check < SHMKIT__CHECK_THROTTLE_NS)
        return -EAGAIN;
    *w->last_check = now;
    int gone = w->gone(w->ctx);
    int rc = poll_end(w);
    if (rc)
        return ready(rc);
    return gone ? SHMKIT_EPEERDEAD : -EAGAIN;
}

/* Spins: a message that arrives within spin_ns costs no system call.
 * Returns 1 when the spin ran out (park next), else the wait's result. */
static int spin(const struct chan_waiter *w, int64_t start, int64_t deadline)
{
    int64_t next_check = start + SHMKIT__CHECK_CHAN_NS;
    int64_t spin_end = w->spin_ns < 0 ? INT64_MAX : start + w->spin_ns;
    for (unsigned i = 1;; i++) {
        shmkit__cpu_relax();
        /* the close check once per 64 polls, with the clock read */
        int rc = i % 64 ? w->poll(w->ctx) : poll_end(w);
        if (rc)
            return ready(rc);
        if (i % 64)
            continue;
        int64_t now = shmkit__now_ns();
        if (deadline >= 0 && now >= deadline)
            return -ETIMEDOUT;
        if (now >= spin_end)
            return 1;
        if (now >= next_check) {
            next_check = now + SHMKIT__CHECK_CHAN_NS;
            if (w->gone(w->ctx))
                return peer_gone(w);
        }
    }
}

/* Parks in slices (wait.c), asking after each whether the peer lives. */
static int park(const struct chan_waiter *w, int64_t deadline)
{
    /* a peer that died while we spun is found now, not a slice later; the
     * check runs at most once per throttle period per handle, and when it
     * is skipped the first slice is that short */
    int64_t first = SHMKIT__CHECK_CHAN_NS, now = shmkit__now_ns();
    if (now - *w->last_check >= SHMKIT__CHECK_THROTTLE_NS) {
        *w->last_check = now;
        if (w->gone(w->ctx))
            return peer_gone(w);
    } else {
        first = SHMKIT__CHECK_THROTTLE_NS;
    }
    struct shmkit__park p;
    shmkit__park_init(&p, deadline, SHMKIT__CHECK_CHAN_NS, SHMKIT__CHECK_CHAN_NS, first);
    for (;;) {
        uint32_t ev = announce(w);
        /* after the announcement: a close that did not see us asleep
         * (chan_wake_*) is seen here */
        int rc = poll_end(w);
        if (rc) {
            withdraw(w);
            return ready(rc);
        }
        int s = w->flag ? shmkit__park(&p, w->flag, 1) : shmkit__park(&p, w->event, ev);
        withdraw(w);
        if (w->waits && (s == 0 || s == -EINTR))
            shmkit__fetch_add_relaxed(w->waits, 1); /* statistic */
        rc = poll_end(w);
        if (rc)
            return ready(rc);
        if (s == SHMKIT__PARK_CHECK) {
            *w->last_check = shmkit__now_ns();
            if (w->gone(w->ctx))
                return peer_gone(w);
        } else if (s < 0) {
            return s; /* -ETIMEDOUT, -EINTR (nothing taken), a futex error */
        }
    }
}

/* A try call found nothing: arms the descriptor (the RPC receivers'
 * protocol, rpc_poll.c) - the wake-ups queued so far are read away, the
 * flag announces us as for a futex sleep (and names our socket), the fence
 * pairs with the waker's, and a message that the waker published before
 * it looked at the flag is found by the poll after it. The descriptor
 * turns readable for anything sent later. */
static int arm(const struct chan_waiter *w)
{
    struct shmkit__pollfd *p = w->pfd;
    shmkit__wakefd_drain(p->wfd);
    shmkit__pollfd_watch(p, w->peer ? w->peer(w->ctx) : 0);
    shmkit__store_relaxed(w->token_at, p->token);
    /* release: the token is seen by the waker that takes the flag */
    shmkit__store_release(w->arm, SHMKIT__WAKE_FD);
    if (w->count)
        shmkit__or_fetch_seq_cst(w->count, CHAN_ARMED_FD);
    /* seq_cst fence: pairs with the waker's, before we poll again */
    shmkit__fence_seq_cst();
    int rc = poll_end(w);
    if (!rc)
        return -EAGAIN;
    uint32_t armed = SHMKIT__WAKE_FD;
    /* relaxed: a hint that spares the next sender a wake-up */
    shmkit__cas_relaxed(w->arm, &armed, 0);
    return ready(rc);
}

int shmkit__chan_wait(const struct chan_waiter *w, int64_t timeout_ns)
{
    /* the caller found nothing: a closed peer is reported without waiting */
    int rc = poll_end(w);
    if (rc)
        return ready(rc);
    if (timeout_ns == 0) {
        rc = try_once(w);
        return rc == -EAGAIN && w->pfd && w->pfd->on ? arm(w) : rc;
    }
    int64_t start = shmkit__now_ns();
    int64_t deadline = timeout_ns < 0 || timeout_ns > INT64_MAX - start ? -1 : start + timeout_ns;
    rc = spin(w, start, deadline);
    return rc == 1 ? park(w, deadline) : rc;
}

int shmkit__chan_wake_one(uint32_t *flag, const uint32_t *nopark, const uint64_t *token)
{
    /* relaxed: a busy-polling peer never sleeps; a stale value costs at
     * most one slice of latency when the peer switches modes */
    if (nopark && shmkit__load_relaxed(nopark))
        return 0;
    /* seq_cst fence: pairs with the sleeper's fence in announce() (and
     * the armed receiver's in arm()) */
    shmkit__fence_seq_cst();
    if (!shmkit__load_relaxed(flag))
        return 0;
    /* someone is there: the exchange says whether a futex sleeper or a
     * descriptor (the same path as before until the flag is set) */
    return shmkit__wake(flag, token);
}

unsigned shmkit__chan_wake_all(uint32_t *count, uint32_t *event)
{
    /* seq_cst fence: pairs with the sleepers' fence in announce() */
    shmkit__fence_seq_cst();
    if (!shmkit__load_relaxed(count))
        return 0;
    /* acq_rel: a subscriber's record, armed before its bit, is seen (the
     * caller reads it); a sleeper that arms again after this reads the new
     * event value (bumped below) or sees the message in its poll */
    unsigned old = shmkit__xchg_acq_rel(count, 0);
    if (old & CHAN_ARMED_FUTEX) {
        /* release: a sleeper that reads the new event value sees the
         * message; everyone asleep on the old value is woken, so until
         * someone arms again, later messages need no system call */
        shmkit__fetch_add_release(event, 1);
        shmkit_futex_wake(event, INT_MAX);
    }
    return old;
}
