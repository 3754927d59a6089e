/* sync_internal.h - what the synchronization files share. */
#ifndef SHMKIT_SYNC_INTERNAL_H
#define SHMKIT_SYNC_INTERNAL_H

#include "internal.h"

/* owner.c: the calling process's identity without a /proc read per call
 * (cached; reset in a fork child). Returns 0 or -errno. */
int shmkit__owner_self_cached(struct shmkit_owner *o);

/* Monotonic clock in nanoseconds. */
int64_t shmkit__now_ns(void);

/* A deadline TIMEOUT_NS from now (-1 for a negative timeout = never) and the
 * time left until it (-1 = forever, 0 = passed). */
int64_t shmkit__deadline(int64_t timeout_ns);
int64_t shmkit__time_left(int64_t deadline);

/* A short pause inside a spin loop. */
static inline void shmkit__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#endif
