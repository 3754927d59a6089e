/* wait.c - the one parking loop step (wait.h): every blocking call of the
 * library sleeps here, in slices no longer than its liveness check period,
 * so a dead peer is noticed and a signal ends the wait the same way
 * everywhere (the EINTR policy of include/shmkit/sync.h). */
#include "wait.h"

#include "internal.h"

#include <errno.h>

void shmkit__park_init(struct shmkit__park *p, int64_t deadline, int64_t period, int64_t period_max,
                       int64_t first_check_in)
{
    p->deadline = deadline;
    p->period = period;
    p->period_max = period_max < period ? period : period_max;
    p->first = first_check_in;
    p->next_check = -1;
}

int shmkit__park(struct shmkit__park *p, uint32_t *word, uint32_t val)
{
    int64_t now = shmkit__now_ns();
    if (p->next_check < 0)
        p->next_check = now + p->first;
    if (now >= p->next_check) {
        /* a due check comes before the deadline: a dead peer is reported
         * as dead, not as a timeout */
        if (p->period < p->period_max)
            p->period = p->period > p->period_max / 2 ? p->period_max : p->period * 2;
        p->next_check = now + p->period;
        return SHMKIT__PARK_CHECK;
    }
    int64_t t = p->next_check - now;
    if (p->deadline >= 0) {
        if (now >= p->deadline)
            return -ETIMEDOUT;
        if (p->deadline - now < t)
            t = p->deadline - now;
    }
    int rc = shmkit_futex_wait(word, val, t);
    /* -EAGAIN: the word already moved; -ETIMEDOUT: the slice ran out (the
     * deadline or the check is found by the next call) */
    if (rc == -EAGAIN || rc == -ETIMEDOUT)
        return 0;
    return rc;
}
