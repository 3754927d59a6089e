/* tu_sync.h - helpers the synchronization tests share. */
#ifndef SHMKIT_TU_SYNC_H
#define SHMKIT_TU_SYNC_H

#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

/* An anonymous shared segment of SIZE zeroed bytes, inherited by fork()ed
 * children; bails out if it cannot be made. */
static inline void *tu_shared(shmkit_seg **seg, size_t size)
{
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = size, .flags = SHMKIT_CREATE};
    int rc = shmkit_open(seg, &o);
    if (rc < 0)
        tap_bail("anonymous segment: %s", shmkit_strerror(rc));
    return shmkit_seg_data(*seg);
}

/* Reaps every child in PIDS within TIMEOUT_MS in total; returns how many
 * exited with status 0. Stragglers are killed. */
static inline int tu_reap(const pid_t *pids, int n, int timeout_ms)
{
    int good = 0;
    uint64_t end = tu_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (int i = 0; i < n; i++) {
        int st = 0;
        uint64_t now = tu_now_ns();
        int left = now >= end ? 1 : (int)((end - now) / 1000000u) + 1;
        if (tu_wait(pids[i], left, &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
            good++;
        else
            tap_diag("child %d: status 0x%x", (int)pids[i], st);
    }
    return good;
}

/* fork() that bails on failure; the child runs FN(ARG, I) and _exits with
 * its return value. */
static inline pid_t tu_spawn_fn(int (*fn)(void *, int), void *arg, int i)
{
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        tap_bail("fork: %s", strerror(errno));
    if (p == 0)
        _exit(fn(arg, i));
    return p;
}

#endif
