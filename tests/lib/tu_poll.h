/* tu_poll.h - what the wake-up tests (t_chan_poll, t_rpc_poll) share:
 * the process's descriptor count (leak checks, also t_seg_memfd's) and a
 * random pause for the lost-wake-up hunts. Header only. */
#ifndef TU_POLL_H
#define TU_POLL_H

#include "tu_ring.h" /* tu_mix */

#include <dirent.h>
#include <sched.h>
#include <stdint.h>
#include <unistd.h>

/* Open descriptors of this process (/proc/self/fd entries), -1 if unknown. */
static inline int tu_nfds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A random pause of up to ~50 us: none, a spin, a yield or a sleep. */
static inline void tu_jitter(uint64_t *rng)
{
    uint64_t r = tu_mix((*rng)++);
    switch (r % 4) {
    case 0:
        break;
    case 1:
        for (volatile unsigned i = 0; i < (r >> 8) % 2000; i++)
            ;
        break;
    case 2:
        sched_yield();
        break;
    default:
        usleep((useconds_t)((r >> 8) % 50));
    }
}

#endif
