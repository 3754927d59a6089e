/* sync_internal.h - what the synchronization files share. */
#ifndef SHMKIT_SYNC_INTERNAL_H
#define SHMKIT_SYNC_INTERNAL_H

#include "atomics.h"
#include "internal.h"
#include "wait.h"

/* owner.c: the calling process's identity without a /proc read per call
 * (cached; reset in a fork child). Returns 0 or -errno. */
int shmkit__owner_self_cached(struct shmkit_owner *o);

/* A process identity packed into 62 bits, for a shared word that must name
 * its owner in the same atomic store that takes it (the channels' claim
 * words, chan.h): pid << 40 | start time mod 2^40. A pid is below 2^22
 * (the kernel's PID_MAX_LIMIT); 2^40 clock ticks are 348 years at 100 Hz,
 * so a recycled pid never matches. 0 if the pid does not fit. */
#define SHMKIT__OWNER_ID_MASK ((1ull << 62) - 1)
uint64_t shmkit__owner_id(const struct shmkit_owner *o);
/* Whether the process ID names still runs (reads /proc; 0 for ID 0). */
int shmkit__owner_id_alive(uint64_t id);
static inline int32_t shmkit__owner_id_pid(uint64_t id)
{
    return (int32_t)((id >> 40) & ((1u << 22) - 1));
}

#endif
