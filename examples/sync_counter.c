/*
 * sync_counter.c - shared memory has no synchronization of its own: a counter, four ways,
 * and a reader/writer pair with and without a seqlock.
 *
 * WHAT IT TEACHES
 *   Several processes do `counter++` on the same shared integer. ++ is three steps (load,
 *   add, store): two processes that load the same value both store value+1 and one update is
 *   lost, so without a lock the total comes out short. On a real machine the window between
 *   the load and the store is opened by chance (an interrupt, a preemption); increment() opens
 *   it on purpose with a sched_yield() every 8th time, so the loss shows on every run, on any
 *   number of cores, loaded or not. The locked versions run the very same increment().
 *   The course's answer is an fcntl() lock on a separate, empty lock file: exclusive before
 *   writing, released after; correct, but every increment costs two system calls. A robust
 *   process-shared mutex living in the segment gives the same guarantee with no system call
 *   when there is no contention, and survives a holder that dies (EOWNERDEAD). For a single
 *   counter an atomic add is the right tool.
 *   Then one process rewrites a record {n, 2n, 3n, ...} while another copies it: read with
 *   plain loads the copy is sometimes torn (half old, half new); read through a seqlock it
 *   never is, and the writer never waits for the reader.
 *
 * USAGE   sync_counter [-p PROCS] [-n INCREMENTS]    (default 4 processes x 200000)
 */
#include <shmkit.h>

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORDS 16

struct shared {
    volatile uint64_t counter; /* volatile: every ++ really loads and stores memory */
    uint64_t atomic_counter;
    struct shmkit_mutex mutex;
    struct shmkit_seqlock seq;
    uint64_t rec[WORDS];
    int stop;
    int ready; /* processes at the start line */
    int go;    /* start line: every process starts counting at the same moment */
};

enum method { NONE, FCNTL, MUTEX, ATOMIC };
static const char *method_name[] = {"no lock", "fcntl lock (lock file)", "robust mutex",
                                    "atomic add"};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* counter++ written out. The yield lets another process run between our load and our store,
 * as a preemption would: whatever it adds meanwhile, our store overwrites. */
static void increment(volatile uint64_t *counter, long i)
{
    uint64_t v = *counter; /* load */
    if (i % 8 == 0)
        sched_yield();
    *counter = v + 1; /* add, store */
}

static int worker(struct shared *sh, enum method m, long n, const char *lockpath)
{
    shmkit_flock *fl = NULL;
    /* relaxed: start signals, nothing else rides on them */
    __atomic_fetch_add(&sh->ready, 1, __ATOMIC_RELAXED);
    /* each process opens the lock file itself: the lock belongs to its own open file */
    if (m == FCNTL && shmkit_flock_open(&fl, lockpath, 0) < 0)
        return 1;
    while (!__atomic_load_n(&sh->go, __ATOMIC_RELAXED))
        sched_yield();
    for (long i = 0; i < n; i++) {
        switch (m) {
        case NONE:
            increment(&sh->counter, i); /* nothing keeps the others out of the window */
            break;
        case FCNTL:
            if (shmkit_flock_wrlock(fl, 0, 1, -1) < 0) /* exclusive lock on byte 0 */
                return 1;
            increment(&sh->counter, i);
            shmkit_flock_unlock(fl, 0, 1);
            break;
        case MUTEX: {
            int rc = shmkit_mutex_lock(&sh->mutex);
            if (rc == SHMKIT_EOWNERDEAD) /* a holder died: the counter is whole, say so */
                rc = shmkit_mutex_consistent(&sh->mutex);
            if (rc < 0)
                return 1;
            increment(&sh->counter, i);
            shmkit_mutex_unlock(&sh->mutex);
            break;
        }
        case ATOMIC:
            /* relaxed: only the total matters, nothing is published with it */
            __atomic_fetch_add(&sh->atomic_counter, 1, __ATOMIC_RELAXED);
            break;
        }
    }
    shmkit_flock_close(fl);
    return 0;
}

static int run_counter(struct shared *sh, enum method m, int procs, long n, const char *lockpath)
{
    sh->counter = 0;
    sh->atomic_counter = 0;
    sh->ready = 0;
    sh->go = 0;
    fflush(stdout);
    for (int p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return -1;
        }
        if (pid == 0)
            _exit(worker(sh, m, n, lockpath));
    }
    /* wait until every process is at the start line: on a busy machine a child can take
     * longer to be scheduled than another needs to do all its increments alone */
    while (__atomic_load_n(&sh->ready, __ATOMIC_RELAXED) < procs)
        sched_yield();
    double t0 = now_ms();
    __atomic_store_n(&sh->go, 1, __ATOMIC_RELAXED);
    int failed = 0, st;
    while (wait(&st) > 0)
        failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
    double ms = now_ms() - t0;
    uint64_t total = m == ATOMIC ? sh->atomic_counter : sh->counter;
    uint64_t want = (uint64_t)procs * (uint64_t)n;
    char verdict[48] = "right";
    if (total != want)
        snprintf(verdict, sizeof verdict, "WRONG: %llu lost", (unsigned long long)(want - total));
    printf("%-24s %9llu of %-9llu %-21s %8.1f ms %7.0f ns/increment\n", method_name[m],
           (unsigned long long)total, (unsigned long long)want, verdict, ms, ms * 1e6 / (double)want);
    return failed ? -1 : 0;
}

/* One writer rewrites the record; this process copies it for MS milliseconds. */
static int run_pair(struct shared *sh, int with_seqlock, double ms)
{
    sh->stop = 0;
    sh->go = 0;
    memset(sh->rec, 0, sizeof sh->rec);
    fflush(stdout);
    pid_t w = fork();
    if (w < 0)
        return -1;
    if (w == 0) {
        uint64_t v[WORDS];
        /* relaxed: a start signal, nothing else rides on it */
        __atomic_store_n(&sh->go, 1, __ATOMIC_RELAXED);
        for (uint64_t n = 1; !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED); n++) {
            for (int i = 0; i < WORDS; i++)
                v[i] = n * (uint64_t)(i + 1);
            if (with_seqlock)
                shmkit_seqlock_write(&sh->seq, sh->rec, v, sizeof v);
            else
                shmkit_seqlock_store(sh->rec, v, sizeof v); /* word by word, no lock */
        }
        _exit(0);
    }
    long torn = 0, copies = 0;
    while (!__atomic_load_n(&sh->go, __ATOMIC_RELAXED)) /* the writer is at work */
        sched_yield();
    double t0 = now_ms();
    for (; now_ms() - t0 < ms; copies++) {
        uint64_t v[WORDS];
        if (with_seqlock) {
            uint32_t s;
            do { /* copy, and copy again if a write began or ended meanwhile */
                s = shmkit_seqlock_read_begin(&sh->seq);
                shmkit_seqlock_load(v, sh->rec, sizeof v);
            } while (shmkit_seqlock_read_retry(&sh->seq, s));
        } else {
            shmkit_seqlock_load(v, sh->rec, sizeof v); /* plain copy: may be torn */
        }
        for (int i = 1; i < WORDS; i++)
            if (v[i] != v[0] * (uint64_t)(i + 1)) {
                torn++;
                break;
            }
    }
    /* relaxed: a stop flag, nothing else rides on it */
    __atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
    waitpid(w, NULL, 0);
    printf("%-24s %9ld of %-9ld copies torn %s\n",
           with_seqlock ? "reader with seqlock" : "reader without lock", torn, copies,
           torn ? "(inconsistent snapshots)" : "(every snapshot consistent)");
    return 0;
}

int main(int argc, char **argv)
{
    int procs = 4, c;
    long n = 200000;
    while ((c = getopt(argc, argv, "p:n:h")) != -1) {
        if (c == 'p') {
            procs = atoi(optarg);
        } else if (c == 'n') {
            n = atol(optarg);
        } else {
            fprintf(stderr, "usage: %s [-p PROCS] [-n INCREMENTS]\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    if (procs < 1 || procs > 64 || n < 1 || n > 100000000) {
        fprintf(stderr, "sync_counter: 1..64 processes, 1..1e8 increments\n");
        return 2;
    }
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sizeof(struct shared),
                            .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "sync_counter: %s\n", shmkit_strerror(rc));
        return 1;
    }
    struct shared *sh = shmkit_seg_data(seg);
    shmkit_seqlock_init(&sh->seq);
    rc = shmkit_mutex_init(&sh->mutex);
    char lockpath[] = "/tmp/sync_counter.lock.XXXXXX"; /* an empty file, only for locking */
    int fd = mkstemp(lockpath);
    if (rc < 0 || fd < 0) {
        fprintf(stderr, "sync_counter: setup failed: %s\n", shmkit_strerror(rc < 0 ? rc : -1));
        shmkit_close(seg);
        return 1;
    }
    close(fd);

    printf("%d processes x %ld increments of one shared counter (fcntl: x %ld):\n", procs, n,
           (n + 19) / 20);
    int bad = 0;
    /* two system calls per increment: the fcntl run does a twentieth of the work (compare the
     * ns/increment column) to keep the program short */
    for (int m = NONE; m <= ATOMIC; m++)
        bad |= run_counter(sh, (enum method)m, procs, m == FCNTL ? (n + 19) / 20 : n, lockpath) < 0;
    printf("one writer rewrites a %d-word record, one reader copies it for 200 ms:\n", WORDS);
    bad |= run_pair(sh, 0, 200) < 0;
    bad |= run_pair(sh, 1, 200) < 0;
    unlink(lockpath);
    shmkit_mutex_destroy(&sh->mutex);
    shmkit_close(seg);
    return bad;
}
