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

/* A ring's or bus subscriber's descriptor (shmkit_ring_fd, shmkit_sub_fd):
 * an epoll set holding its wake socket and a pidfd of its peer, readable
 * once the peer exits (a dead process sends no wake-up). ON: made. */
struct shmkit__pollfd {
    int on, efd, wfd, pidfd;
    int32_t pid; /* the watched peer (0: none) */
    uint64_t token;
};

/* Makes the descriptor at the first call; then returns it (or -errno). */
int shmkit__pollfd_open(struct shmkit__pollfd *p);

/* Watches PID (0: stop watching), replacing the one watched. */
void shmkit__pollfd_watch(struct shmkit__pollfd *p, int32_t pid);

/* Closes the descriptor, if made. */
void shmkit__pollfd_close(struct shmkit__pollfd *p);

#endif
