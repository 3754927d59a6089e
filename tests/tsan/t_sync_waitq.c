/* t_sync_waitq.c (ThreadSanitizer) - wait queue ping-pong between threads
 * passing a plain (non-atomic) payload: the queue's orderings must make
 * the hand-over race-free for TSan, and no wake-up may be lost. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>

#include <pthread.h>

#define ROUNDS 20000

static struct shmkit_waitq q[2];
static uint32_t turn;
static uint64_t payload; /* plain: published by the turn store */

static int wait_turn(struct shmkit_waitq *wq, uint32_t want)
{
    for (;;) {
        uint32_t s = shmkit_waitq_prepare(wq);
        /* acquire: pairs with the release store of turn, publishes payload */
        if (__atomic_load_n(&turn, __ATOMIC_ACQUIRE) == want)
            return 0;
        if (shmkit_waitq_wait(wq, s, 5000000000) == -ETIMEDOUT)
            return -1;
    }
}

static void *pong(void *arg)
{
    for (uint32_t t = 1; t < 2 * ROUNDS; t += 2) {
        if (wait_turn(&q[0], t) < 0)
            return (void *)1;
        payload++;
        /* release: publishes payload */
        __atomic_store_n(&turn, t + 1, __ATOMIC_RELEASE);
        shmkit_waitq_wake(&q[1], 1);
    }
    return NULL;
}

int main(void)
{
    pthread_t th;
    pthread_create(&th, NULL, pong, NULL);
    int bad = 0;
    for (uint32_t t = 0; t < 2 * ROUNDS && !bad; t += 2) {
        payload++;
        __atomic_store_n(&turn, t + 1, __ATOMIC_RELEASE);
        shmkit_waitq_wake(&q[0], 1);
        bad = wait_turn(&q[1], t + 2) < 0;
    }
    void *rv;
    pthread_join(th, &rv);
    ok(!bad && rv == NULL, "%d round trips without a lost wake-up", ROUNDS);
    is_int(payload, 2 * ROUNDS, "payload handed over race-free");
    return tap_done();
}
