/* t_sync_mutex.c - the robust process-shared mutex: exclusion between
 * processes, the owner-died protocol over 1,000 kill -9 rounds,
 * unrecoverable state, error codes. */
#include "tu_sync.h"

#include <poll.h>

#define PROCS 4
#define INCS 50000
#define ROUNDS 1000

struct shm {
    struct shmkit_mutex mx;
    uint64_t counter;
    uint64_t a, b; /* invariant under the lock: a == b */
};

static struct shm *m;

static int incrementer(void *arg, int i)
{
    for (int k = 0; k < INCS; k++) {
        int rc = shmkit_mutex_lock(&m->mx);
        if (rc != 0)
            return 1;
        m->counter++; /* plain: the mutex orders it */
        if (shmkit_mutex_unlock(&m->mx) != 0)
            return 2;
    }
    return 0;
}

/* Locks, half-updates the state, tells the parent through the pipe, and
 * waits to be killed. */
static int die_holding(void *arg, int i)
{
    int fd = *(int *)arg;
    if (shmkit_mutex_lock(&m->mx) < 0)
        return 1;
    m->a++; /* b not yet: the state is inconsistent now */
    if (write(fd, "x", 1) != 1)
        return 2;
    for (;;)
        pause();
}

static int try_while_held(void *arg, int i)
{
    if (shmkit_mutex_trylock(&m->mx) != -EBUSY)
        return 1;
    uint64_t t0 = tu_now_ns();
    if (shmkit_mutex_timedlock(&m->mx, 30000000) != -ETIMEDOUT)
        return 2;
    uint64_t el = tu_now_ns() - t0;
    if (el < 30000000u || el > 1030000000u)
        return 3;
    if (shmkit_mutex_timedlock(&m->mx, 0) != -ETIMEDOUT)
        return 4;
    if (shmkit_mutex_unlock(&m->mx) != -EPERM)
        return 5;
    return 0;
}

/* A child locks the mutex, half-updates the state and is killed. Returns 1
 * if it held the lock when it died. */
static int kill_holder(void)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t p = tu_spawn_fn(die_holding, &pfd[1], 0);
    close(pfd[1]);
    int ready = tu_ready(pfd[0], 2000);
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    return ready;
}

/* One round: a child dies holding the lock; we must get OWNERDEAD within
 * 2 s, repair, mark consistent, unlock. Returns 1 on success. */
static int kill_round(int expect_repair)
{
    if (!kill_holder())
        return 0;
    int rc = shmkit_mutex_timedlock(&m->mx, 2000000000);
    if (rc != SHMKIT_EOWNERDEAD) {
        tap_diag("lock after kill: %s", shmkit_errname(rc));
        if (rc == 0)
            shmkit_mutex_unlock(&m->mx);
        return 0;
    }
    int good = m->a == m->b + 1;
    if (expect_repair) {
        m->b = m->a; /* the repair */
        good &= shmkit_mutex_consistent(&m->mx) == 0;
    }
    good &= shmkit_mutex_unlock(&m->mx) == 0;
    return good;
}

int main(void)
{
    shmkit_seg *seg;
    m = tu_shared(&seg, sizeof *m);

    is_rc(shmkit_mutex_lock(&m->mx), -EINVAL, "zeroed memory is not a mutex: EINVAL");
    is_rc(shmkit_mutex_init(&m->mx), 0, "init");
    is_rc(shmkit_mutex_init(NULL), -EINVAL, "init NULL");
    is_rc(shmkit_mutex_lock(&m->mx), 0, "lock");
    is_rc(shmkit_mutex_lock(&m->mx), -EDEADLK, "relock by the holder: EDEADLK");
    is_rc(shmkit_mutex_trylock(&m->mx), -EBUSY, "trylock by the holder: EBUSY");
    is_rc(shmkit_mutex_destroy(&m->mx), -EBUSY, "destroy while locked: EBUSY");
    pid_t p = tu_spawn_fn(try_while_held, NULL, 0);
    is_int(tu_reap(&p, 1, 5000), 1, "other process: trylock EBUSY, timedlock ETIMEDOUT on time, unlock EPERM");
    is_rc(shmkit_mutex_unlock(&m->mx), 0, "unlock");
    is_rc(shmkit_mutex_unlock(&m->mx), -EPERM, "unlock when not held: EPERM");
    is_rc(shmkit_mutex_consistent(&m->mx), -EINVAL, "consistent when not after OWNERDEAD: EINVAL");
    is_rc(shmkit_mutex_trylock(&m->mx), 0, "trylock when free");
    is_rc(shmkit_mutex_unlock(&m->mx), 0, "unlock");

    /* exclusion */
    pid_t kids[PROCS];
    uint64_t t0 = tu_now_ns();
    for (int i = 0; i < PROCS; i++)
        kids[i] = tu_spawn_fn(incrementer, NULL, i);
    is_int(tu_reap(kids, PROCS, 60000), PROCS, "%d incrementing processes finished", PROCS);
    is_int(m->counter, (uint64_t)PROCS * INCS, "counter is exactly %d x %d", PROCS, INCS);
    tap_diag("%.0f ns per contended lock+unlock", (double)(tu_now_ns() - t0) / (PROCS * INCS));

    /* owner died, repaired, 1000 times */
    int good = 0;
    t0 = tu_now_ns();
    for (int r = 0; r < ROUNDS; r++)
        good += kill_round(1);
    is_int(good, ROUNDS, "%d rounds: holder killed, next locker got OWNERDEAD, repaired", ROUNDS);
    tap_diag("%.2f ms per round", (double)(tu_now_ns() - t0) / 1e6 / ROUNDS);
    is_rc(shmkit_mutex_lock(&m->mx), 0, "the mutex works normally afterwards");
    ok(m->a == ROUNDS && m->b == ROUNDS, "state repaired in every round (a=%llu b=%llu)",
       (unsigned long long)m->a, (unsigned long long)m->b);
    shmkit_mutex_unlock(&m->mx);

    /* not repaired: unrecoverable */
    ok(kill_round(0), "holder killed; next locker unlocks without consistent");
    is_rc(shmkit_mutex_lock(&m->mx), SHMKIT_ENOTRECOVERABLE, "then lock: ENOTRECOVERABLE");
    is_rc(shmkit_mutex_trylock(&m->mx), SHMKIT_ENOTRECOVERABLE, "trylock: ENOTRECOVERABLE");
    is_rc(shmkit_mutex_timedlock(&m->mx, 1000000), SHMKIT_ENOTRECOVERABLE,
          "timedlock: ENOTRECOVERABLE");
    is_rc(shmkit_mutex_unlock(&m->mx), -EPERM, "unlock: EPERM, not a raw errno");
    is_rc(shmkit_mutex_destroy(&m->mx), 0, "destroy an unrecoverable mutex: 0 (the way out)");
    is_rc(shmkit_mutex_lock(&m->mx), -EINVAL, "then it is no mutex: EINVAL");
    is_rc(shmkit_mutex_init(&m->mx), 0, "reinitialised");
    is_rc(shmkit_mutex_lock(&m->mx), 0, "usable again");
    is_rc(shmkit_mutex_unlock(&m->mx), 0, "unlock");

    /* destroy when the holder died: destroyed, the death not reported */
    ok(kill_holder(), "holder killed");
    is_rc(shmkit_mutex_destroy(&m->mx), 0, "destroy after the holder died: 0");
    is_rc(shmkit_mutex_trylock(&m->mx), -EINVAL, "then it is no mutex: EINVAL");
    is_rc(shmkit_mutex_init(&m->mx), 0, "reinitialised");
    is_rc(shmkit_mutex_lock(&m->mx), 0, "locks cleanly (no OWNERDEAD left over)");
    is_rc(shmkit_mutex_unlock(&m->mx), 0, "unlock");
    is_rc(shmkit_mutex_destroy(&m->mx), 0, "destroy");
    is_rc(shmkit_mutex_lock(&m->mx), -EINVAL, "a destroyed mutex: EINVAL");
    is_rc(shmkit_mutex_destroy(NULL), 0, "destroy NULL");

    shmkit_close(seg);
    return tap_done();
}
