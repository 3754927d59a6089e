/* first_contact.c - the one loop that waits for a named segment another
 * process has not made yet, or is still making: try, nap with a growing
 * backoff, try again, up to a deadline. The join calls (join.c) and the
 * named RPC endpoints (rpc_open.c) both come through here. */
#include "first_contact.h"
#include "wait.h"

#include <errno.h>
#include <time.h>

/* Polling for a segment another process has not made yet: 100 us, doubled
 * up to 10 ms - a peer starting at the same moment is found within about
 * its creation time, a late one costs a few wake-ups a second. */
#define BACKOFF_FIRST_NS 100000
#define BACKOFF_MAX_NS 10000000

/* How long shmkit_open may wait for a creator still in its initialiser
 * (System V, the O_EXCL fallback) when this call does not create: what is
 * left of the deadline, at least 1 ms; no deadline: shmkit_open's default,
 * and the loop tries again. */
static uint32_t init_wait_for(int64_t deadline)
{
    if (deadline < 0)
        return 0;
    int64_t ms = shmkit__time_left(deadline) / 1000000;
    return ms < 1 ? 1 : ms > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

/* Sleeps NS; -EINTR if a signal handler ran meanwhile (nanosleep is never
 * restarted: the library's one EINTR policy, SIGNALS in shmkit/sync.h). */
static int nap(int64_t ns)
{
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    return nanosleep(&ts, NULL) < 0 && errno == EINTR ? -EINTR : 0;
}

int shmkit__first_contact(shmkit_seg **out, const struct shmkit_opts *where,
                          shmkit__contact_try *try_open, void *ctx, int64_t timeout_ns)
{
    int create = !!(where->flags & SHMKIT_CREATE);
    int64_t deadline = shmkit__deadline(timeout_ns);
    int64_t backoff = BACKOFF_FIRST_NS;
    for (;;) {
        struct shmkit_opts o = *where;
        if (!create && !o.init_wait_ms)
            o.init_wait_ms = init_wait_for(deadline);
        int rc = try_open(out, &o, ctx);
        int later = rc == -EAGAIN || (!create && (rc == -ENOENT || rc == -ETIMEDOUT));
        if (rc == 0 || !later || where->kind == SHMKIT_MEMFD || timeout_ns == 0)
            return rc == -EAGAIN ? SHMKIT_ELAYOUT : rc; /* one try: the code found */
        int64_t left = shmkit__time_left(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        if ((rc = nap(left > 0 && left < backoff ? left : backoff)) < 0)
            return rc;
        if (backoff < BACKOFF_MAX_NS)
            backoff *= 2;
    }
}
