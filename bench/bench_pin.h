/* bench_pin.h - pinning the two processes of an epoll wake-up latency run
 * (bench_rpc.c, bench_poll.c). Pinned runs put the sender on CPU 0 and
 * the receiver on CPU 1 (when there are two), so every wake-up crosses
 * CPUs; unpinned, the median depends on where the scheduler put the
 * receiver (the RPC ratio ranged 1.0x-1.9x over eight unpinned runs on
 * 2026-12-02), so both are printed. Set `pinned`, call pin_to(0, 1)
 * before the fork, pin_to(1, 0) in the child, unpin() after. */
#ifndef BENCH_PIN_H
#define BENCH_PIN_H

#include <sched.h>

static cpu_set_t pin_saved;
static int pinned;

static void pin_to(int cpu, int save)
{
    if (!pinned)
        return;
    if (save)
        sched_getaffinity(0, sizeof pin_saved, &pin_saved);
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (cpu < CPU_COUNT(&pin_saved))
        sched_setaffinity(0, sizeof set, &set);
}

static void unpin(void)
{
    if (pinned)
        sched_setaffinity(0, sizeof pin_saved, &pin_saved);
}

#endif
