/* wakefd.h - pollable wake-ups (wakefd.c). Internal. */
#ifndef SHMKIT_WAKEFD_H
#define SHMKIT_WAKEFD_H

#include <stdint.h>

/* Values of a sleep flag (the futex word of chan_wait.c): nobody sleeps
 * (0), a sleeper in shmkit__park on the word (1), a receiver armed for its
 * descriptor (2). */
#define SHMKIT__WAKE_FUTEX 1u
#define SHMKIT__WAKE_FD 2u

/* A receiver's socket, bound to a fresh abstract address; its token in
 * *TOKEN. The descriptor (or -errno). */
int shmkit__wakefd_open(uint64_t *token);

/* Reads away the wake-ups queued on FD (before arming again). */
void shmkit__wakefd_drain(int fd);

/* The waking half, after publishing with a release store: wakes whoever
 * FLAG says sleeps - a futex sleeper, or the socket named by *TOKEN.
 * No system call when nobody does. 1 if one was made. */
int shmkit__wake(uint32_t *flag, const uint64_t *token);

#endif
