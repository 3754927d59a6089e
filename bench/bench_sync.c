/* bench_sync.c - cost of shmkit's synchronization next to its baselines,
 * measured in the same run: uncontended lock+unlock of every lock type,
 * seqlock snapshot and update of a 64-byte record, wake without waiters,
 * and the wake-to-run latency between two processes (ping-pong).
 *
 *   bench_sync [--quick] [--csv FILE]
 *
 * Prints a table (ns per operation, ratio to the baseline); with --csv,
 * also one line per figure: name,ns_per_op,baseline,ratio (baseline is the
 * name of the figure it is compared with; baselines compare to themselves).
 * Each figure is the median of short timed chunks (see MEASURE).
 * Nothing is asserted. */
#include "shmkit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int quick;
static FILE *csv;

struct fig {
    const char *name;
    double ns;
};
static struct fig figs[64];
static int nfigs;

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static double lookup(const char *name)
{
    for (int i = 0; i < nfigs; i++)
        if (!strcmp(figs[i].name, name))
            return figs[i].ns;
    return 0;
}

/* Records and prints figure NAME against BASE (NULL: it is a baseline). */
static void report(const char *name, double ns, const char *base)
{
    figs[nfigs].name = name;
    figs[nfigs++].ns = ns;
    double b = base ? lookup(base) : ns;
    double ratio = b > 0 ? ns / b : 0;
    printf("  %-34s %10.1f ns   %-28s %6.2fx\n", name, ns, base ? base : "(baseline)", ratio);
    if (csv)
        fprintf(csv, "%s,%.1f,%s,%.3f\n", name, ns, base ? base : name, ratio);
}

/* Time per iteration of BODY: ITERS iterations in chunks of CHUNK; the
 * figure is the median chunk. Short chunks (microseconds) are rarely hit by
 * preemption, and the median ignores the ones that were: on a shared,
 * loaded machine this measures the operation, not the scheduler. */
#define CHUNKS_MAX 4096
static double chunk_t[CHUNKS_MAX];

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MEASURE_C(out, iters, chunk, body)                                                                  \
    do {                                                                                           \
        long chunk_ = (chunk);                                                                     \
        int nch_ = (int)((iters) / chunk_);                                                        \
        if (nch_ > CHUNKS_MAX)                                                                     \
            nch_ = CHUNKS_MAX;                                                                     \
        for (int c_ = 0; c_ < nch_; c_++) {                                                        \
            double t0_ = now_ns();                                                                 \
            for (long i_ = 0; i_ < chunk_; i_++) {                                                 \
                body;                                                                              \
            }                                                                                      \
            chunk_t[c_] = (now_ns() - t0_) / (double)chunk_;                                       \
        }                                                                                          \
        qsort(chunk_t, (size_t)nch_, sizeof(double), cmp_double);                                  \
        (out) = chunk_t[nch_ / 2];                                                                 \
    } while (0)
/* Fast operations in chunks of 1000, system calls in chunks of 10. */
#define MEASURE(out, iters, body) MEASURE_C(out, iters, 1000, body)
#define MEASURE_SYS(out, iters, body) MEASURE_C(out, iters, 10, body)

struct shm {
    pthread_mutex_t plain;
    pthread_mutex_t pshared;
    pthread_rwlock_t prw;
    sem_t sem, ping, pong;
    struct shmkit_mutex mx;
    struct shmkit_rwlock rw;
    struct shmkit_seqlock sl;
    unsigned char rec[64] __attribute__((aligned(64)));
    struct shmkit_waitq q[2];
    uint32_t turn;
    uint32_t futex;
};

static volatile unsigned char sink;

static void uncontended(struct shm *m, const char *lockpath)
{
    long n = quick ? 200000 : 2000000;
    double t;
    printf("uncontended, one process\n");

    pthread_mutex_init(&m->plain, NULL);
    MEASURE(t, n, pthread_mutex_lock(&m->plain); pthread_mutex_unlock(&m->plain));
    report("pthread_mutex lock+unlock", t, NULL);

    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&m->pshared, &a);
    MEASURE(t, n, pthread_mutex_lock(&m->pshared); pthread_mutex_unlock(&m->pshared));
    report("pthread_mutex pshared lock+unlock", t, "pthread_mutex lock+unlock");

    shmkit_mutex_init(&m->mx);
    MEASURE(t, n, shmkit_mutex_lock(&m->mx); shmkit_mutex_unlock(&m->mx));
    report("shmkit_mutex lock+unlock", t, "pthread_mutex lock+unlock");
    MEASURE(t, n, shmkit_mutex_trylock(&m->mx); shmkit_mutex_unlock(&m->mx));
    report("shmkit_mutex trylock+unlock", t, "pthread_mutex lock+unlock");

    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    pthread_rwlockattr_setpshared(&ra, PTHREAD_PROCESS_SHARED);
    pthread_rwlock_init(&m->prw, &ra);
    MEASURE(t, n, pthread_rwlock_wrlock(&m->prw); pthread_rwlock_unlock(&m->prw));
    report("pthread_rwlock pshared wr", t, NULL);
    MEASURE(t, n, pthread_rwlock_rdlock(&m->prw); pthread_rwlock_unlock(&m->prw));
    report("pthread_rwlock pshared rd", t, NULL);
    shmkit_rwlock_init(&m->rw);
    MEASURE(t, n, shmkit_rwlock_wrlock(&m->rw, -1); shmkit_rwlock_wrunlock(&m->rw));
    report("shmkit_rwlock wrlock+unlock", t, "pthread_rwlock pshared wr");
    MEASURE(t, n, shmkit_rwlock_rdunlock(&m->rw, shmkit_rwlock_rdlock(&m->rw, -1)));
    report("shmkit_rwlock rdlock+unlock", t, "pthread_rwlock pshared rd");

    sem_init(&m->sem, 1, 1);
    MEASURE(t, n, sem_wait(&m->sem); sem_post(&m->sem));
    report("sem_wait+sem_post", t, NULL);

    long nf = quick ? 4000 : 40000;
    int fd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    struct flock wl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    struct flock ul = {.l_type = F_UNLCK, .l_whence = SEEK_SET};
    MEASURE_SYS(t, nf, fcntl(fd, F_OFD_SETLKW, &wl); fcntl(fd, F_OFD_SETLK, &ul));
    report("fcntl F_OFD_SETLKW+unlock", t, NULL);
    MEASURE_SYS(t, nf, fcntl(fd, F_SETLKW, &wl); fcntl(fd, F_SETLK, &ul));
    report("fcntl F_SETLKW+unlock", t, "fcntl F_OFD_SETLKW+unlock");
    close(fd);
    shmkit_flock *fl;
    if (shmkit_flock_open(&fl, lockpath, SHMKIT_FLOCK_CREATE) == 0) {
        MEASURE_SYS(t, nf, shmkit_flock_wrlock(fl, 0, 0, -1); shmkit_flock_unlock(fl, 0, 0));
        report("shmkit_flock wrlock+unlock", t, "fcntl F_OFD_SETLKW+unlock");
        MEASURE_SYS(t, nf, shmkit_flock_rdlock(fl, 0, 0, -1); shmkit_flock_unlock(fl, 0, 0));
        report("shmkit_flock rdlock+unlock", t, "fcntl F_OFD_SETLKW+unlock");
        MEASURE_SYS(t, nf, shmkit_flock_wrlock(fl, 0, 0, 1000000); shmkit_flock_unlock(fl, 0, 0));
        report("shmkit_flock timed wrlock+unlock", t, "fcntl F_OFD_SETLKW+unlock");
        shmkit_flock_close(fl);
    }
    unlink(lockpath);

    printf("seqlock, 64-byte record, no writer running\n");
    unsigned char buf[64];
    memset(buf, 1, sizeof buf);
    MEASURE(t, n, memcpy(buf, (const void *)m->rec, 64); __asm__ __volatile__("" ::"r"(buf) : "memory"));
    report("memcpy 64 B (unsynchronised)", t, NULL);
    shmkit_seqlock_init(&m->sl);
    MEASURE(t, n, shmkit_seqlock_read(&m->sl, buf, m->rec, 64); sink = buf[0]);
    report("shmkit_seqlock_read 64 B", t, "memcpy 64 B (unsynchronised)");
    MEASURE(t, n, buf[0] = (unsigned char)i_; shmkit_seqlock_write(&m->sl, m->rec, buf, 64));
    report("shmkit_seqlock_write 64 B", t, "memcpy 64 B (unsynchronised)");
    MEASURE(t, n, shmkit_seqlock_write(&m->sl, m->rec, buf, 64); shmkit_seqlock_read(&m->sl, buf, m->rec, 64));
    report("seqlock write+read 64 B", t, "memcpy 64 B (unsynchronised)");

    printf("wake with nobody waiting\n");
    MEASURE_SYS(t, nf, shmkit_futex_wake(&m->futex, 1));
    report("futex(FUTEX_WAKE) syscall", t, NULL);
    MEASURE(t, n, shmkit_waitq_wake(&m->q[0], 1));
    report("shmkit_waitq_wake, no waiter", t, "futex(FUTEX_WAKE) syscall");
    MEASURE(t, n, sem_post(&m->sem));
    report("sem_post, no waiter", t, "futex(FUTEX_WAKE) syscall");
}

/* ---- ping-pong between two processes ---- */

enum { PP_WAITQ, PP_SEM };

static void waitq_turn(struct shm *m, struct shmkit_waitq *q, uint32_t want)
{
    for (;;) {
        uint32_t s = shmkit_waitq_prepare(q);
        /* acquire: the other side's turn store */
        if (__atomic_load_n(&m->turn, __ATOMIC_ACQUIRE) == want)
            return;
        shmkit_waitq_wait(q, s, -1);
    }
}

static void pp_child(struct shm *m, int kind, long n)
{
    for (long i = 0; i < n; i++) {
        if (kind == PP_SEM) {
            while (sem_wait(&m->ping) < 0 && errno == EINTR)
                ;
            sem_post(&m->pong);
        } else {
            waitq_turn(m, &m->q[0], (uint32_t)(2 * i + 1));
            /* release: hands the turn back */
            __atomic_store_n(&m->turn, (uint32_t)(2 * i + 2), __ATOMIC_RELEASE);
            shmkit_waitq_wake(&m->q[1], 1);
        }
    }
}

/* Nanoseconds per one-way hand-over (half a round trip). */
static double pingpong(struct shm *m, int kind, long n)
{
    double best = 1e30;
    for (int rep = 0; rep < 3; rep++) {
        sem_init(&m->ping, 1, 0);
        sem_init(&m->pong, 1, 0);
        shmkit_waitq_init(&m->q[0]);
        shmkit_waitq_init(&m->q[1]);
        m->turn = 0;
        fflush(stdout);
        pid_t p = fork();
        if (p == 0) {
            pp_child(m, kind, n);
            _exit(0);
        }
        double t0 = now_ns();
        for (long i = 0; i < n; i++) {
            if (kind == PP_SEM) {
                sem_post(&m->ping);
                while (sem_wait(&m->pong) < 0 && errno == EINTR)
                    ;
            } else {
                __atomic_store_n(&m->turn, (uint32_t)(2 * i + 1), __ATOMIC_RELEASE);
                shmkit_waitq_wake(&m->q[0], 1);
                waitq_turn(m, &m->q[1], (uint32_t)(2 * i + 2));
            }
        }
        double t = (now_ns() - t0) / n / 2;
        waitpid(p, NULL, 0);
        if (t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    const char *csvpath = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc)
            csvpath = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--csv FILE]\n", argv[0]);
            return 1;
        }
    }
    if (csvpath && !(csv = fopen(csvpath, "a"))) {
        fprintf(stderr, "bench_sync: %s: %s\n", csvpath, strerror(errno));
        return 2;
    }
    shmkit_seg *seg;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sizeof(struct shm), .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "bench_sync: %s\n", shmkit_strerror(rc));
        return 2;
    }
    struct shm *m = shmkit_seg_data(seg);
    char lockpath[64];
    snprintf(lockpath, sizeof lockpath, "/tmp/shmkit-bench-%ld.lock", (long)getpid());

    printf("bench_sync%s: ns per operation (median of short chunks), ratio to baseline\n",
           quick ? " --quick" : "");
    uncontended(m, lockpath);

    printf("wake-to-run latency between two processes (half a ping-pong round trip)\n");
    long n = quick ? 2000 : 20000;
    report("sem_post/sem_wait ping-pong", pingpong(m, PP_SEM, n), NULL);
    report("shmkit_waitq ping-pong", pingpong(m, PP_WAITQ, n), "sem_post/sem_wait ping-pong");

    shmkit_close(seg);
    if (csv && fclose(csv) != 0)
        return 2;
    return 0;
}
