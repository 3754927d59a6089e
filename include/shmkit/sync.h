/*
 * shmkit/sync.h - synchronization that survives crashes.
 * Included by <shmkit.h>; do not include it directly.
 *
 * Every structure here lives inside shared memory (a segment's payload) and
 * is used by several processes at once. None of them may hang forever
 * because another process died.
 */
#ifndef SHMKIT_SYNC_H
#define SHMKIT_SYNC_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/sync.h>"
#endif

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------
 * OWNER / LIVENESS RECORD
 *
 * A pid alone is not an identity: pids are reused. A process is identified
 * by its pid plus its start time (clock ticks since boot, field 22 of
 * /proc/PID/stat on Linux). Embed a struct shmkit_owner in any shared
 * structure that needs to know whether its owner still lives.
 * ------------------------------------------------------------------------ */

struct shmkit_owner {
    int32_t pid;    /* 0 = no owner */
    uint32_t pad;
    uint64_t start; /* start time of PID, clock ticks since boot */
};

/* Fills *O with the calling process's identity. Returns 0 or -errno. */
SHMKIT_API int shmkit_owner_self(struct shmkit_owner *o);

/* Identity of process PID. Errors: -ESRCH (no such process), -errno. */
SHMKIT_API int shmkit_owner_of(int32_t pid, struct shmkit_owner *o);

/* 1 if the process recorded in *O (a copy of a shared record) is alive and
 * is the same process (same start time); 0 if it died or its pid was
 * reused; 0 for pid 0. Never fails on hostile values: a negative or huge
 * pid is simply not alive. */
SHMKIT_API int shmkit_owner_alive(const struct shmkit_owner *o);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_SYNC_H */
