/* t_seqlock.c (ThreadSanitizer) - the seqlock torn-read hunt with threads:
 * TSan must see no data race (the copies are relaxed atomics) and the
 * readers no torn snapshot. Kept short: TSan runs ~10x slower. */
#include "shmkit.h"
#include "tap.h"

#include <pthread.h>
#include <sched.h>

#define WORDS 8 /* the 64-byte record of the target */
#define WRITES 50000

struct rec {
    uint64_t k;
    uint64_t w[WORDS - 1];
};

static struct shmkit_seqlock lock;
static struct rec shared;
static int stop;
static uint64_t reads[2], torn[2];

static void fill(struct rec *r, uint64_t k)
{
    r->k = k;
    for (int i = 0; i < WORDS - 1; i++)
        r->w[i] = k * 0x9e3779b97f4a7c15u + (uint64_t)i;
}

static int intact(const struct rec *r)
{
    for (int i = 0; i < WORDS - 1; i++)
        if (r->w[i] != r->k * 0x9e3779b97f4a7c15u + (uint64_t)i)
            return 0;
    return 1;
}

static void *writer(void *arg)
{
    struct rec r;
    for (uint64_t k = 1; k <= WRITES; k++) {
        fill(&r, k);
        shmkit_seqlock_write(&lock, &shared, &r, sizeof r);
        if ((k & 255) == 0)
            sched_yield();
    }
    /* release: the readers stop after the last write */
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *reader(void *arg)
{
    int id = (int)(intptr_t)arg;
    struct rec r;
    uint64_t last = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
        if (id == 0) {
            if (shmkit_seqlock_read(&lock, &r, &shared, sizeof r) != 0)
                torn[id]++;
        } else {
            uint32_t s;
            do {
                s = shmkit_seqlock_read_begin(&lock);
                shmkit_seqlock_load(&r, &shared, sizeof r);
            } while (shmkit_seqlock_read_retry(&lock, s));
        }
        if (!intact(&r) || r.k < last)
            torn[id]++;
        last = r.k;
        reads[id]++;
        sched_yield();
    }
    return NULL;
}

int main(void)
{
    shmkit_seqlock_init(&lock);
    fill(&shared, 0); /* before the threads exist: a valid record 0 */
    pthread_t w, r[2];
    pthread_create(&r[0], NULL, reader, (void *)0);
    pthread_create(&r[1], NULL, reader, (void *)1);
    pthread_create(&w, NULL, writer, NULL);
    pthread_join(w, NULL);
    pthread_join(r[0], NULL);
    pthread_join(r[1], NULL);
    tap_diag("%d writes, %llu + %llu snapshots", WRITES, (unsigned long long)reads[0],
             (unsigned long long)reads[1]);
    ok(reads[0] > 0 && reads[1] > 0, "both readers read");
    is_int(torn[0] + torn[1], 0, "zero torn snapshots");
    struct rec fin;
    is_rc(shmkit_seqlock_read(&lock, &fin, &shared, sizeof fin), 0, "final read");
    is_int(fin.k, WRITES, "final record is the last write");
    return tap_done();
}
