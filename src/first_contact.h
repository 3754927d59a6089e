/* first_contact.h - waiting for a named segment another process is still
 * making (first_contact.c); used by the join calls (join.c) and the named
 * RPC endpoints (rpc_open.c). Internal. */
#ifndef SHMKIT_FIRST_CONTACT_H
#define SHMKIT_FIRST_CONTACT_H

#include "internal.h"

/* One try at the segment: opens it with O (the caller's options with
 * init_wait_ms filled in from the deadline), checks what it needs (its
 * layout), and returns 0 with the segment in *OUT or a negative code.
 * -EAGAIN means "there, but not made yet" (tried again); CTX is the
 * caller's. */
typedef int shmkit__contact_try(shmkit_seg **out, const struct shmkit_opts *o, void *ctx);

/* Calls TRY until it succeeds, fails for good, or TIMEOUT_NS runs out (0:
 * one try, negative: no limit). Tried again: -EAGAIN, and when WHERE does
 * not create, -ENOENT (no such name yet) and -ETIMEDOUT (its creator
 * still in its initialiser: TRY's shmkit_open waits for it up to the
 * deadline). A MEMFD descriptor is consumed by the first try: one try.
 * Returns 0, TRY's code (SHMKIT_ELAYOUT for a last -EAGAIN), -ETIMEDOUT
 * when the time ran out, -EINTR when a signal handler ran while it slept
 * (the library's one EINTR policy: SIGNALS in shmkit/sync.h). */
int shmkit__first_contact(shmkit_seg **out, const struct shmkit_opts *where,
                          shmkit__contact_try *try_open, void *ctx, int64_t timeout_ns);

#endif
