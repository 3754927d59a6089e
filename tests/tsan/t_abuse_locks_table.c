/* t_abuse_locks_table.c - ThreadSanitizer run of what tests/tsan did not
 * cover yet: the robust mutex and the rwlock guarding plain data, and the
 * table (one writer thread per record, reader threads taking snapshots),
 * each on its own handle. TSan checks that every plain access is ordered
 * by the library's synchronization; the test checks the invariants. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>

#define ITERS 20000
#define THREADS 4

struct locked {
    struct shmkit_mutex mx;
    struct shmkit_rwlock rw;
    uint64_t counter;  /* under mx */
    uint64_t a, b;     /* under rw: a == b outside a write */
};

static struct locked *L;
static _Atomic int bad;

static void *mutex_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < ITERS; i++) {
        if (shmkit_mutex_lock(&L->mx) != 0) {
            bad++;
            break;
        }
        L->counter++;
        shmkit_mutex_unlock(&L->mx);
    }
    return NULL;
}

static void *rw_worker(void *arg)
{
    int writer = (int)(uintptr_t)arg % 2 == 0;
    for (int i = 0; i < ITERS / 4; i++) {
        if (writer) {
            if (shmkit_rwlock_wrlock(&L->rw, -1) != 0) {
                bad++;
                break;
            }
            L->a++;
            L->b++;
            shmkit_rwlock_wrunlock(&L->rw);
        } else {
            int t = shmkit_rwlock_rdlock(&L->rw, -1);
            if (t < 0) {
                bad++;
                break;
            }
            if (L->a != L->b)
                bad++;
            shmkit_rwlock_rdunlock(&L->rw, t);
        }
    }
    return NULL;
}

#define REC_WORDS 16
static char tname[96];

static void *table_writer(void *arg)
{
    uint32_t idx = (uint32_t)(uintptr_t)arg;
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tname};
    if (shmkit_table_open(&t, &o, 0) != 0 || shmkit_table_claim(t, idx) < 0) {
        bad++;
        shmkit_table_close(t);
        return NULL;
    }
    uint64_t rec[REC_WORDS];
    for (uint64_t k = 1; k <= ITERS / 2; k++) {
        for (int i = 0; i < REC_WORDS; i++)
            rec[i] = k;
        if (shmkit_table_write(t, idx, rec, sizeof rec) != 0)
            bad++;
    }
    shmkit_table_close(t);
    return NULL;
}

static void *table_reader(void *arg)
{
    (void)arg;
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tname, .flags = SHMKIT_RDONLY};
    if (shmkit_table_open(&t, &o, 0) != 0) {
        bad++;
        return NULL;
    }
    uint64_t rec[REC_WORDS];
    for (int k = 0; k < ITERS / 2; k++) {
        int rc = shmkit_table_read(t, (uint32_t)(k & 1), rec, sizeof rec, NULL);
        if (rc == -EAGAIN)
            continue;
        if (rc != 0) {
            bad++;
            continue;
        }
        for (int i = 1; i < REC_WORDS; i++)
            if (rec[i] != rec[0])
                bad++;
    }
    shmkit_table_close(t);
    return NULL;
}

static void run(void *(*fn)(void *), int n)
{
    pthread_t th[THREADS];
    for (int i = 0; i < n; i++)
        pthread_create(&th[i], NULL, fn, (void *)(uintptr_t)i);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
}

int main(void)
{
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sizeof(struct locked),
                            .flags = SHMKIT_CREATE};
    if (shmkit_open(&seg, &o) != 0)
        tap_bail("anon segment");
    L = shmkit_seg_data(seg);
    if (shmkit_mutex_init(&L->mx) != 0 || shmkit_rwlock_init(&L->rw) != 0)
        tap_bail("init");
    run(mutex_worker, THREADS);
    is_int(L->counter, (uint64_t)THREADS * ITERS, "mutex: %d threads x %d increments", THREADS,
           ITERS);
    run(rw_worker, THREADS);
    ok(L->a == L->b && L->a == (uint64_t)(THREADS / 2) * (ITERS / 4),
       "rwlock: 2 writers, 2 readers, no reader saw a half-done write");
    shmkit_close(seg);

    shmkit_table *t = NULL;
    struct shmkit_opts to = {.kind = SHMKIT_POSIX, .name = tu_name(tname, sizeof tname, "tsantab")};
    if (shmkit_table_create(&t, &to, REC_WORDS * 8, 2, 0) != 0)
        tap_bail("table");
    pthread_t w[2], r[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&w[i], NULL, table_writer, (void *)(uintptr_t)i);
    for (int i = 0; i < 2; i++)
        pthread_create(&r[i], NULL, table_reader, NULL);
    for (int i = 0; i < 2; i++) {
        pthread_join(w[i], NULL);
        pthread_join(r[i], NULL);
    }
    shmkit_table_remove(t);
    shmkit_table_close(t);
    is_int(bad, 0, "no errors, no torn snapshots, no broken invariant");
    return tap_done();
}
