/* t_sync_flock.c - fcntl lock-file locks: shared/exclusive, try and
 * timeout, byte ranges, exclusion between processes, and a holder killed
 * while a waiter blocks (the kernel releases, the waiter proceeds). */
#include "tu_sync.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>

#define PROCS 4
#define INCS 2000

struct shm {
    uint64_t counter;
};

static struct shm *m;
static char path[128];

static int incrementer(void *arg, int i)
{
    shmkit_flock *l;
    if (shmkit_flock_open(&l, path, 0) != 0)
        return 1;
    for (int k = 0; k < INCS; k++) {
        /* alternate blocking and timed waits: both paths must exclude */
        if (shmkit_flock_wrlock(l, 0, 0, (k & 1) ? -1 : 10000000000) != 0)
            return 2;
        /* relaxed atomics: the lock file orders them; keeps the increment
         * a single instruction pair like a plain one */
        uint64_t v = __atomic_load_n(&m->counter, __ATOMIC_RELAXED);
        __atomic_store_n(&m->counter, v + 1, __ATOMIC_RELAXED);
        if (shmkit_flock_unlock(l, 0, 0) != 0)
            return 3;
    }
    shmkit_flock_close(l);
    return 0;
}

static int die_holding(void *arg, int i)
{
    int fd = *(int *)arg;
    shmkit_flock *l;
    if (shmkit_flock_open(&l, path, 0) != 0 || shmkit_flock_wrlock(l, 0, 0, -1) != 0)
        return 1;
    if (write(fd, "x", 1) != 1)
        return 2;
    for (;;)
        pause();
}

static int waiter(void *arg, int timed)
{
    shmkit_flock *l;
    if (shmkit_flock_open(&l, path, 0) != 0)
        return 1;
    int rc = shmkit_flock_wrlock(l, 0, 0, timed ? 10000000000 : -1);
    shmkit_flock_close(l);
    return rc == 0 ? 0 : 2;
}

static pid_t holder(void)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t p = tu_spawn_fn(die_holding, &pfd[1], 0);
    close(pfd[1]);
    int ready = tu_ready(pfd[0], 2000);
    if (!ready)
        tap_bail("holder did not lock");
    return p;
}

int main(void)
{
    shmkit_seg *seg;
    m = tu_shared(&seg, sizeof *m);
    snprintf(path, sizeof path, "/tmp/shmkit-t-flock-%ld.lock", (long)getpid());
    unlink(path);

    shmkit_flock *a = NULL, *b = NULL;
    is_rc(shmkit_flock_open(&a, NULL, 0), -EINVAL, "NULL path: EINVAL");
    is_rc(shmkit_flock_open(&a, "", 0), -EINVAL, "empty path: EINVAL");
    is_rc(shmkit_flock_open(&a, path, 0x80), -EINVAL, "unknown flag: EINVAL");
    is_rc(shmkit_flock_open(&a, path, 0), -ENOENT, "missing file without CREATE: ENOENT");
    is_rc(shmkit_flock_open(&a, "/tmp", 0), -EISDIR, "a directory: EISDIR");
    is_rc(shmkit_flock_open(&a, path, SHMKIT_FLOCK_CREATE), 0, "create the lock file");
    is_rc(shmkit_flock_open(&b, path, 0), 0, "second handle on it");
    ok(shmkit_flock_fd(a) >= 0 && shmkit_flock_fd(NULL) == -1, "descriptor accessor");

    /* two handles of one process exclude each other (OFD locks) */
    is_rc(shmkit_flock_wrlock(a, 0, 0, -1), 0, "exclusive lock");
    is_rc(shmkit_flock_wrlock(b, 0, 0, 0), -EBUSY, "other handle, try exclusive: EBUSY");
    is_rc(shmkit_flock_rdlock(b, 0, 0, 0), -EBUSY, "other handle, try shared: EBUSY");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_flock_rdlock(b, 0, 0, 30000000), -ETIMEDOUT, "30 ms timeout: ETIMEDOUT");
    uint64_t el = tu_now_ns() - t0;
    ok(el >= 30000000u && el < 1030000000u, "after %.1f ms", el / 1e6);
    is_rc(shmkit_flock_rdlock(b, 100, 10, 0), -EBUSY, "range inside the whole-file lock: EBUSY");
    is_rc(shmkit_flock_unlock(a, 0, 0), 0, "unlock");
    is_rc(shmkit_flock_rdlock(b, 0, 0, 0), 0, "shared lock");
    is_rc(shmkit_flock_rdlock(a, 0, 0, 0), 0, "second shared lock from the other handle");
    is_rc(shmkit_flock_wrlock(a, 0, 0, 0), -EBUSY, "upgrade while the other shares: EBUSY");
    is_rc(shmkit_flock_unlock(b, 0, 0), 0, "other handle releases");
    is_rc(shmkit_flock_wrlock(a, 0, 0, 0), 0, "now the upgrade works");
    is_rc(shmkit_flock_unlock(a, 0, 0), 0, "unlock");
    is_rc(shmkit_flock_wrlock(a, 0, 10, 0), 0, "bytes 0..9 exclusive");
    is_rc(shmkit_flock_wrlock(b, 10, 10, 0), 0, "bytes 10..19 exclusive on the other handle");
    is_rc(shmkit_flock_wrlock(b, 9, 2, 0), -EBUSY, "bytes 9..10 overlap: EBUSY");
    is_rc(shmkit_flock_wrlock(a, -1, 1, 0), -EINVAL, "negative start: EINVAL");
    is_rc(shmkit_flock_unlock(NULL, 0, 0), -EINVAL, "unlock NULL: EINVAL");
    is_rc(shmkit_flock_close(b), 0, "closing a handle releases its locks");
    b = NULL;
    is_rc(shmkit_flock_wrlock(a, 0, 0, 0), 0, "whole file exclusive after the close");
    is_rc(shmkit_flock_unlock(a, 0, 0), 0, "unlock");

    /* exclusion between processes */
    pid_t kids[PROCS];
    t0 = tu_now_ns();
    for (int i = 0; i < PROCS; i++)
        kids[i] = tu_spawn_fn(incrementer, NULL, i);
    is_int(tu_reap(kids, PROCS, 60000), PROCS, "%d processes finished", PROCS);
    is_int(m->counter, (uint64_t)PROCS * INCS, "counter is exactly %d x %d", PROCS, INCS);
    tap_diag("%.2f us per contended lock+unlock", (double)(tu_now_ns() - t0) / 1e3 / (PROCS * INCS));

    /* holder killed while waiters block (one blocking, one timed) */
    pid_t h = holder();
    pid_t w[2] = {tu_spawn_fn(waiter, NULL, 0), tu_spawn_fn(waiter, NULL, 1)};
    usleep(50000);
    int st;
    ok(waitpid(w[0], &st, WNOHANG) == 0 && waitpid(w[1], &st, WNOHANG) == 0,
       "both waiters block while the holder lives");
    t0 = tu_now_ns();
    kill(h, SIGKILL);
    waitpid(h, NULL, 0);
    is_int(tu_reap(w, 2, 5000), 2, "holder killed: both waiters got the lock (%.1f ms)",
           (tu_now_ns() - t0) / 1e6);

    /* a read-only lock file: shared locks only */
    if (geteuid() != 0) {
        chmod(path, 0400);
        shmkit_flock *ro;
        is_rc(shmkit_flock_open(&ro, path, 0), 0, "read-only file opens");
        is_rc(shmkit_flock_rdlock(ro, 0, 0, 0), 0, "shared lock on it");
        is_rc(shmkit_flock_wrlock(ro, 0, 0, 0), -EBADF, "exclusive: EBADF");
        shmkit_flock_close(ro);
    }

    is_rc(shmkit_flock_close(a), 0, "close");
    is_rc(shmkit_flock_close(NULL), 0, "close NULL");
    unlink(path);
    shmkit_close(seg);
    return tap_done();
}
