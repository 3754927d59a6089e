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

/* Fills *O with the calling process's identity. Returns 0 or the errors
 * of shmkit_owner_of (-EINVAL for a NULL O). */
SHMKIT_API int shmkit_owner_self(struct shmkit_owner *o);

/* Fills *O with the identity of process PID (read from /proc/PID/stat on
 * Linux; elsewhere only the pid, start time 0). *O is unchanged on error.
 * Returns:
 *   0        done
 *   -EINVAL  O is NULL or PID <= 0
 *   -ESRCH   no such process (also: /proc is not mounted, or hides PID)
 *   -EIO     /proc/PID/stat could not be parsed (no start time in it)
 *   -errno   other failures of open(2)/read(2) on it, e.g. -EMFILE */
SHMKIT_API int shmkit_owner_of(int32_t pid, struct shmkit_owner *o);

/* 1 if the process recorded in *O (a copy of a shared record) is alive and
 * is the same process (same start time); 0 if it died or its pid was
 * reused; 0 for pid 0. Never fails on hostile values: a negative or huge
 * pid is simply not alive.
 * Death is only concluded when kill(PID, 0) agrees (ESRCH): a process that
 * /proc does not show the caller (hidepid=, out of descriptors) counts as
 * alive, with its start time unchecked, so a reused pid then looks alive
 * too: a wait on it ends at its timeout rather than taking a live
 * process's lock or channel role. A peer in another pid namespace is not
 * seen at all and looks dead (see CAVEATS in shmkit.h). */
SHMKIT_API int shmkit_owner_alive(const struct shmkit_owner *o);

/* ------------------------------------------------------------------------
 * FUTEX WAIT / WAKE
 *
 * Blocking without burning CPU, across processes. On Linux these are thin
 * wrappers around futex(2) on a 32-bit word in shared memory (shared, not
 * FUTEX_PRIVATE, futexes: the word may be mapped at different addresses
 * in different processes). Elsewhere (or when the library is built with
 * -DSHMKIT_FUTEX_FALLBACK) the same calls poll the word with short,
 * growing sleeps (capped at 1 ms): correct, slower to react, and a wake
 * is a no-op. All of it lives in src/futex.c.
 *
 * TIMEOUTS everywhere in this header are relative, in nanoseconds: -1 (any
 * negative value) waits forever, 0 does not block at all. They are
 * measured on CLOCK_MONOTONIC, with one exception: waits for a robust
 * mutex (shmkit_mutex_timedlock, and the rwlock's wait for its internal
 * mutex) use CLOCK_REALTIME unless the C library is glibc 2.30 or later;
 * see shmkit_mutex_timedlock.
 *
 * SIGNALS - one policy for every shmkit call that sleeps (EINTR):
 * a call that parks returns -EINTR when a signal handler ran while it
 * slept. Nothing was consumed, sent, or taken: call again (what read(2)
 * does; an event loop that stops on SIGINT checks its flag and leaves).
 * The calls are the channels' blocking send, reserve, recv, peek, publish
 * and their MULTI producer lock (shmkit/channel.h), shmkit_seqlock_wait,
 * shmkit_rwlock_rdlock and shmkit_rwlock_wrlock while they wait for
 * readers or a reader slot, shmkit_waitq_wait and shmkit_futex_wait.
 * All but the last two sleep in slices (they wake to check whether the
 * process they wait for still lives), so a handler installed with or
 * without SA_RESTART ends the wait all the same; shmkit_futex_wait and
 * shmkit_waitq_wait with no timeout follow futex(2): after an SA_RESTART
 * handler the kernel resumes the sleep (see shmkit_futex_wait). A signal
 * that arrives while the call is not asleep in the kernel - it spins, or
 * checks its peer between two slices - is not seen (nothing tells a library
 * that a handler ran); its handler's flag is seen at the next return. So a
 * program that must stop a wait with no deadline on a signal either gives
 * the call a timeout or signals until the call returns. A deadline is absolute: the
 * time a handler took is not added to it, however many signals arrive.
 * Exceptions: waits inside pthread (shmkit_mutex_lock/timedlock, and an
 * rwlock's wait for its internal mutex, i.e. for another writer) cannot
 * be interrupted and never return -EINTR; shmkit_seqlock_read and
 * shmkit_table_read never sleep (they spin and yield).
 * ------------------------------------------------------------------------ */

/* Blocks while *ADDR == EXPECTED, until woken by shmkit_futex_wake, the
 * timeout passes, or a signal arrives. ADDR must be 4-byte aligned.
 * Returns:
 *   0           woken (or a spurious wake-up: always re-check your condition)
 *   -EAGAIN     *ADDR did not hold EXPECTED when the call was made
 *   -ETIMEDOUT  TIMEOUT_NS passed (0 returns -ETIMEDOUT at once if
 *               *ADDR == EXPECTED)
 *   -EINTR      a signal handler ran during the wait. Exactly when, on
 *               Linux: with TIMEOUT_NS >= 0, for any handler; with no
 *               timeout (negative), only for a handler installed
 *               without SA_RESTART: after an SA_RESTART handler the
 *               kernel restarts the wait, and the call returns only when
 *               woken. So a stop-flag handler must be installed without
 *               SA_RESTART (note: signal(3) in glibc sets it), or the
 *               wait must have a timeout. Signals without a handler
 *               (ignored, or stop/continue) never end the wait. The
 *               polling fallback returns -EINTR when a handler, with or
 *               without SA_RESTART, interrupts one of its sleeps; a
 *               signal delivered between two sleeps goes unnoticed.
 *   -EINVAL     ADDR is NULL or misaligned
 *   -EFAULT     ADDR is not mapped */
SHMKIT_API int shmkit_futex_wait(uint32_t *addr, uint32_t expected, int64_t timeout_ns);

/* Wakes up to N (>= 1; INT_MAX for all) waiters blocked on ADDR.
 * Always makes the system call; use a wait queue (below) to skip it when
 * no one waits. Returns the number woken (>= 0), -EINVAL (NULL,
 * misaligned, N < 1) or -EFAULT. The fallback returns 0. */
SHMKIT_API int shmkit_futex_wake(uint32_t *addr, int n);

/* Test and diagnostics hook: the number of futex system calls (wait and
 * wake) this process made through shmkit so far. Never fails. */
SHMKIT_API uint64_t shmkit_futex_syscalls(void);

/* ------------------------------------------------------------------------
 * WAIT QUEUE - "wake only when someone waits"
 *
 * An 8-byte structure in shared memory: a sequence word that every wake
 * bumps and a count of the processes asleep on it. A wake with no waiter
 * is one atomic add and one load, no system call. Zero-filled memory is a
 * valid, empty queue (shmkit_waitq_init just zeroes it).
 *
 * Protocol (the order matters: it is what makes lost wake-ups impossible):
 *
 *   waiter:                                 waker:
 *     for (;;) {                              make the condition true
 *         uint32_t s = shmkit_waitq_prepare(q);   (e.g. publish a message)
 *         if (condition) break;               shmkit_waitq_wake(q, 1);
 *         rc = shmkit_waitq_wait(q, s, t);
 *         if (rc == -ETIMEDOUT) ...;
 *     }
 *
 * The waker's wake comes after its condition store; the waiter reads the
 * sequence before it tests the condition. If the wake happens between the
 * test and the sleep, the sequence has moved and the wait returns at once.
 * A waiter killed while asleep leaves the count high: harmless, later
 * wakes only make a system call they did not need.
 * ------------------------------------------------------------------------ */

struct shmkit_waitq {
    uint32_t seq;     /* bumped by every wake (the futex word) */
    uint32_t waiters; /* processes inside shmkit_waitq_wait  */
};

/* Empties *Q (all zero). Only while no one uses it. */
SHMKIT_API void shmkit_waitq_init(struct shmkit_waitq *q);

/* Reads the sequence (acquire: what the waker published before its wake is
 * visible after this call). Pass the value to shmkit_waitq_wait. */
SHMKIT_API uint32_t shmkit_waitq_prepare(const struct shmkit_waitq *q);

/* Sleeps until a wake that happened after shmkit_waitq_prepare returned
 * SEQ, or the timeout. Returns at once if such a wake already happened.
 * Returns:
 *   0           woken, the sequence moved, or a spurious wake-up:
 *               re-check the condition
 *   -ETIMEDOUT  TIMEOUT_NS passed without a wake
 *   -EINTR      a signal handler ran while asleep (as for
 *               shmkit_futex_wait; see SIGNALS above)
 *   -EINVAL     Q is NULL or misaligned
 *   -EFAULT     Q is not mapped */
SHMKIT_API int shmkit_waitq_wait(struct shmkit_waitq *q, uint32_t seq, int64_t timeout_ns);

/* Bumps the sequence and wakes up to N waiters (N >= 1, INT_MAX for all).
 * Makes no system call when no one waits. Returns the number woken (0 when
 * no one waited), -EINVAL (Q NULL, N < 1) or -EFAULT. */
SHMKIT_API int shmkit_waitq_wake(struct shmkit_waitq *q, int n);

/* ------------------------------------------------------------------------
 * SEQLOCK - one writer, any number of readers, readers never block it
 *
 * A 24-byte structure next to the data it guards (both in shared memory).
 * The sequence is even while the data is stable and odd while a write is in
 * progress; a reader copies the data and retries if the sequence was odd
 * or moved. The writer's identity (pid + start time) is recorded, so a
 * reader facing a sequence that stays odd can tell "slow writer" from
 * "writer died in the middle of a write" instead of spinning forever.
 *
 * ONE WRITER: at most one thread writes at a time (per lock). Writers from
 * different processes, one after another, are fine; concurrent writers
 * must serialize among themselves (e.g. with a shmkit_mutex).
 *
 * The data must only be accessed through shmkit_seqlock_load/store (or the
 * read/write helpers): they copy with relaxed atomic accesses, so the
 * race a seqlock lives with is not undefined behaviour in C11 and
 * ThreadSanitizer stays quiet. Zero-filled memory is a valid seqlock
 * (sequence 0, no writer yet).
 *
 * Snapshot:                         Update:
 *   struct rec r;                     shmkit_seqlock_write(&lk, &shared,
 *   rc = shmkit_seqlock_read(&lk,                          &r, sizeof r);
 *            &r, &shared, sizeof r);
 *
 * Or by hand, for a reader that only needs a few fields:
 *   uint32_t s;
 *   do {
 *       s = shmkit_seqlock_read_begin(&lk);
 *       shmkit_seqlock_load(&x, &shared.x, sizeof x);
 *   } while (shmkit_seqlock_read_retry(&lk, s));
 * (this loop spins as long as a dead writer left the sequence odd; check
 * shmkit_seqlock_writer_alive() now and then, as shmkit_seqlock_read does.)
 * ------------------------------------------------------------------------ */

struct shmkit_seqlock {
    uint32_t seq;               /* even: stable, odd: write in progress */
    uint32_t waiters;           /* readers asleep in shmkit_seqlock_wait */
    struct shmkit_owner writer; /* last process that began a write       */
};

/* Zeroes *LOCK. Only while no one uses it. */
SHMKIT_API void shmkit_seqlock_init(struct shmkit_seqlock *lock);

/* Starts a read: returns the sequence to hand to shmkit_seqlock_read_retry
 * (acquire: data the writer published before this sequence is visible).
 * An odd value means a write is in progress; the retry will say so. */
SHMKIT_API uint32_t shmkit_seqlock_read_begin(const struct shmkit_seqlock *lock);

/* Ends a read: 1 if the copy made since read_begin returned SEQ may be torn
 * (SEQ was odd or a write happened since) and must be redone, 0 if it is a
 * consistent snapshot. */
SHMKIT_API int shmkit_seqlock_read_retry(const struct shmkit_seqlock *lock, uint32_t seq);

/* Starts a write (makes the sequence odd, records the writer).
 * Returns:
 *   0                 the write is started
 *   1                 started, taking over from a writer that died in the
 *                     middle of a write: the data may be torn; rewrite all
 *                     of it before shmkit_seqlock_write_end
 *   SHMKIT_EPROTO     another live writer is in the middle of a write (the
 *                     single-writer rule was broken); nothing changed
 *   -EINVAL           LOCK is NULL */
SHMKIT_API int shmkit_seqlock_write_begin(struct shmkit_seqlock *lock);

/* Ends a write (makes the sequence even again, release: publishes every
 * store since write_begin) and wakes readers blocked in
 * shmkit_seqlock_wait, with no system call when there are none. Only
 * after a successful write_begin. */
SHMKIT_API void shmkit_seqlock_write_end(struct shmkit_seqlock *lock);

/* Copies N bytes from SRC (shared, guarded by LOCK) to DST (private) as one
 * consistent snapshot, retrying while a write is in progress.
 * Returns:
 *   0                 DST holds a consistent copy
 *   SHMKIT_EPEERDEAD  the writer died in the middle of a write; DST holds
 *                     an unspecified (possibly torn) copy
 *   -EINVAL           LOCK, DST or SRC NULL with N > 0 */
SHMKIT_API int shmkit_seqlock_read(const struct shmkit_seqlock *lock, void *dst, const void *src,
                                   size_t n);

/* Copies N bytes from SRC (private) to DST (shared, guarded by LOCK) as one
 * write. Returns 0, 1 (took over from a dead writer; the record is whole
 * again now) or the errors of shmkit_seqlock_write_begin. */
SHMKIT_API int shmkit_seqlock_write(struct shmkit_seqlock *lock, void *dst, const void *src,
                                    size_t n);

/* The copy loops the read and write helpers use, for hand-written read and
 * write sections: copy N bytes with relaxed atomic accesses on the shared
 * side (load: SRC is shared; store: DST is shared). Any alignment. */
SHMKIT_API void shmkit_seqlock_load(void *dst, const void *src, size_t n);
SHMKIT_API void shmkit_seqlock_store(void *dst, const void *src, size_t n);

/* 1 if no write is in progress or its writer is still alive; 0 if the
 * sequence is odd and the process that began the write is gone. */
SHMKIT_API int shmkit_seqlock_writer_alive(const struct shmkit_seqlock *lock);

/* Blocks until a write that began after the snapshot with sequence SEQ has
 * ended (the sequence is even and differs from SEQ). Makes readers that
 * poll for changes cheap: the writer wakes them only if they sleep.
 * Returns 0, -ETIMEDOUT, -EINTR (a signal handler ran while it slept,
 * with or without SA_RESTART: see SIGNALS above), SHMKIT_EPEERDEAD (the
 * writer died in the middle of a write; checked at once and then every
 * 100 ms while the sequence stays odd) or -EINVAL (LOCK NULL). */
SHMKIT_API int shmkit_seqlock_wait(struct shmkit_seqlock *lock, uint32_t seq, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * ROBUST MUTEX
 *
 * A pthread mutex with PTHREAD_PROCESS_SHARED and PTHREAD_MUTEX_ROBUST (and
 * error checking) living inside shared memory. If its holder dies, the
 * kernel hands it to the next locker together with the news.
 *
 * THE OWNER-DIED PROTOCOL
 *   A lock call returns SHMKIT_EOWNERDEAD when the previous holder died
 *   while holding the mutex. The caller now HOLDS the mutex. The protected
 *   state may be half-updated: repair it (or reinitialise it), then call
 *   shmkit_mutex_consistent(), then unlock as usual. If the caller unlocks
 *   without calling consistent (it could not repair), the mutex becomes
 *   unrecoverable: every later lock call returns SHMKIT_ENOTRECOVERABLE and
 *   the only way out is to reinitialise it (shmkit_mutex_init) when no one
 *   uses it.
 *
 *     int rc = shmkit_mutex_lock(&shared->lock);
 *     if (rc == SHMKIT_EOWNERDEAD) {
 *         repair(shared);                      // e.g. recount, roll back
 *         rc = shmkit_mutex_consistent(&shared->lock);
 *     }
 *     if (rc < 0)
 *         return rc;                           // ENOTRECOVERABLE, ...
 *     shared->counter++;
 *     shmkit_mutex_unlock(&shared->lock);
 *
 * The mutex is not recursive: locking it again from the thread that holds
 * it returns -EDEADLK. It must be unlocked by the thread that locked it.
 * The mutex memory itself is trusted to the pthread library: a mutex
 * scribbled over by a buggy process cannot be fully validated (a magic
 * word catches uninitialised memory).
 *
 * Every function here reports the owner-died states with shmkit's codes
 * (SHMKIT_EOWNERDEAD, SHMKIT_ENOTRECOVERABLE), never as -EOWNERDEAD or
 * -ENOTRECOVERABLE. Cost: lock+unlock is that of a glibc robust mutex
 * (dearer than a plain process-shared one: glibc keeps the robust mutexes
 * a thread holds on a list for the kernel) plus one load of the magic.
 *
 * PTHREAD ABI: a pthread_mutex_t means something only to the C library,
 * word size and layout that initialised it, so the magic word records
 * them (the C library, sizeof(void *), sizeof(pthread_mutex_t)), as LMDB's
 * lock format does. A mutex initialised by another ABI - a 32-bit process
 * against a 64-bit one, glibc against musl, or a shmkit 0.1.0 build from
 * before the magic recorded any of it - is never used: every call below but
 * shmkit_mutex_init returns SHMKIT_EVERSION for it (and so do the rwlock
 * calls, whose internal mutex it is). Initialise it again, with no one
 * using it, from the ABI that will use it.
 * ------------------------------------------------------------------------ */

struct shmkit_mutex {
    union {
        unsigned char bytes[64]; /* a pthread_mutex_t, then a magic word */
        uint64_t align_;
    } u;
};

/* Initialises *M as an unlocked robust process-shared mutex. Call once,
 * by the process that creates the segment, before anyone else uses it
 * (calling it on a mutex in use is undefined, as for pthread).
 * Returns 0, -EINVAL (M NULL), -ENOMEM, -EAGAIN, -ENOTSUP (the system has
 * no robust or process-shared mutexes). */
SHMKIT_API int shmkit_mutex_init(struct shmkit_mutex *m);

/* Locks M, waiting as long as it takes.
 * Returns:
 *   0                       locked
 *   SHMKIT_EOWNERDEAD       locked; the previous holder died (see protocol)
 *   SHMKIT_ENOTRECOVERABLE  not locked; the mutex is unrecoverable
 *   -EDEADLK                the calling thread already holds it
 *   -EINVAL                 M is NULL or not initialised by shmkit_mutex_init */
SHMKIT_API int shmkit_mutex_lock(struct shmkit_mutex *m);

/* Like shmkit_mutex_lock, without waiting: -EBUSY if another thread holds
 * it (-EDEADLK is reported as -EBUSY too when the caller holds it). */
SHMKIT_API int shmkit_mutex_trylock(struct shmkit_mutex *m);

/* Like shmkit_mutex_lock, giving up after TIMEOUT_NS (-1 = forever, 0 =
 * try once): -ETIMEDOUT when it did, also with 0 when another thread holds
 * it (-EDEADLK stays -EDEADLK here).
 * The clock: with glibc 2.30 or later the deadline is measured on
 * CLOCK_MONOTONIC (pthread_mutex_clocklock). With any other C library, or
 * an older glibc, it is an absolute CLOCK_REALTIME deadline
 * (pthread_mutex_timedlock): a wall-clock step while waiting stretches or
 * cuts the wait. */
SHMKIT_API int shmkit_mutex_timedlock(struct shmkit_mutex *m, int64_t timeout_ns);

/* Unlocks M. Returns 0, -EPERM (the caller does not hold it) or -EINVAL
 * (M NULL or not initialised). Unlocking after SHMKIT_EOWNERDEAD without
 * shmkit_mutex_consistent makes M unrecoverable (see the protocol). */
SHMKIT_API int shmkit_mutex_unlock(struct shmkit_mutex *m);

/* Marks the state protected by M repaired after SHMKIT_EOWNERDEAD; the
 * caller still holds M. Returns 0, -EINVAL (M not initialised, or not in
 * the owner-died state, or the caller does not hold it). */
SHMKIT_API int shmkit_mutex_consistent(struct shmkit_mutex *m);

/* Destroys M (clears the magic; M may be initialised again). No one may
 * use M during or after the call. Destroys, and returns 0 for, an unlocked
 * mutex, a mutex whose holder died (nobody holds it any more: it is taken
 * over, released and destroyed without looking at the state it guarded,
 * and without reporting SHMKIT_EOWNERDEAD) and an unrecoverable one (the
 * way out of SHMKIT_ENOTRECOVERABLE: destroy, then shmkit_mutex_init).
 * Returns:
 *   0        destroyed (also for M NULL)
 *   -EBUSY   a live thread holds M, the caller included; nothing changed
 *   -EINVAL  M was not initialised by shmkit_mutex_init (or destroyed) */
SHMKIT_API int shmkit_mutex_destroy(struct shmkit_mutex *m);

/* ------------------------------------------------------------------------
 * READER/WRITER LOCK THAT SURVIVES A DEAD HOLDER
 *
 * pthread rwlocks are not robust, so this one is built from:
 *   - a robust mutex (above) that writers hold for the whole write and
 *     readers hold only while they register. A writer that dies is
 *     therefore detected by the kernel at once, exactly as for the mutex.
 *   - a fixed table of SHMKIT_RWLOCK_SLOTS reader slots, each an owner
 *     record (pid + start time), and a 64-bit map of the taken ones. A
 *     reader fills a free slot and sets its bit while it holds the mutex
 *     (a few hundred nanoseconds), then reads without it, and clears its
 *     bit (one atomic operation, no mutex) when it is done.
 *   - a futex word that leaving readers bump (with a system call only when
 *     someone sleeps on it): a writer, holding the mutex, sleeps there until
 *     the map is empty. While it waits it checks, after 1 ms and then
 *     every 2, 4, ... up to 50 ms, whether the owners of the taken slots
 *     still live, and frees the slots of the dead.
 * Writers are preferred: once a writer holds the mutex no new reader gets
 * in. Readers never modify the protected state, so a reader that dies is
 * cleaned up silently; a writer that dies triggers the owner-died
 * protocol of the mutex for the next locker, reader or writer.
 *
 * Not recursive: a thread that holds a read lock must not take it again
 * while a writer may be waiting (deadlock), nor upgrade it.
 * ------------------------------------------------------------------------ */

#define SHMKIT_RWLOCK_SLOTS 64

/* Fields are private; the structure is public so it can be placed in a
 * segment (sizeof is part of the ABI). */
struct shmkit_rwlock {
    struct shmkit_mutex wm;    /* writers; reader registration          */
    uint64_t readers_map;      /* bit I set: reader slot I is taken      */
    uint32_t rseq;             /* futex word, bumped when a reader leaves
                                  while someone waits                    */
    uint32_t waiting;          /* threads sleeping on rseq               */
    uint32_t state;            /* what the holder of wm is doing         */
    uint32_t magic;
    int32_t wpid, wtid;        /* process and thread holding it to write */
    struct shmkit_owner readers[SHMKIT_RWLOCK_SLOTS];
};

/* Initialises *L, unlocked. Once, before anyone uses it.
 * Returns 0 or the errors of shmkit_mutex_init. */
SHMKIT_API int shmkit_rwlock_init(struct shmkit_rwlock *l);

/* Takes a shared (read) lock, waiting at most TIMEOUT_NS (-1 forever, 0
 * try once).
 * Returns:
 *   >= 0                    a read TICKET (slot number): pass it to
 *                           shmkit_rwlock_rdunlock
 *   SHMKIT_EOWNERDEAD       a writer died while holding the lock: the
 *                           caller now holds it EXCLUSIVELY (as a writer),
 *                           must repair the state, call
 *                           shmkit_rwlock_consistent and release it with
 *                           shmkit_rwlock_wrunlock
 *   SHMKIT_ENOTRECOVERABLE  a dead writer's state was never repaired
 *   -ETIMEDOUT              not locked within TIMEOUT_NS
 *   -EINTR                  a signal handler ran while the call slept
 *                           waiting for a free reader slot (see SIGNALS
 *                           above); not while it waits for a writer
 *   -EBUSY                  TIMEOUT_NS == 0 and a writer holds or waits
 *                           (the calling thread included: see -EDEADLK)
 *   -EAGAIN                 all reader slots stay taken by live readers
 *                           (with a timeout >= 0, 0 included; with no
 *                           timeout the call waits for a slot)
 *   -EDEADLK                the calling thread holds the write lock and
 *                           TIMEOUT_NS != 0 (with 0, like a trylock, the
 *                           answer is -EBUSY)
 *   -EINVAL                 L is NULL or not initialised (magic word 0)
 *   SHMKIT_ECORRUPT         the lock's shared memory was overwritten: a
 *                           magic word that is neither 0 nor the lock's,
 *                           an internal mutex that is not one, an
 *                           impossible internal state, or a taken reader
 *                           slot without a valid owner record. Nothing is
 *                           held. Sticky: every later lock call returns it
 *                           until shmkit_rwlock_init (when no one uses it)
 * Shared memory is not trusted: every index and record of the lock is
 * checked before use, so a corrupted lock gives SHMKIT_ECORRUPT (or, when
 * the damage is inside the pthread mutex itself, whatever pthread makes of
 * it), never an access outside the structure. Slot records are validated
 * when a writer waits for readers and when a reader finds every slot
 * taken. */
SHMKIT_API int shmkit_rwlock_rdlock(struct shmkit_rwlock *l, int64_t timeout_ns);

/* Releases the read lock identified by TICKET.
 * Returns 0, -EINVAL (L NULL or not initialised; TICKET outside
 * 0..SHMKIT_RWLOCK_SLOTS-1, checked before it indexes anything; or the
 * slot is not taken by this process) or SHMKIT_ECORRUPT (bad magic). */
SHMKIT_API int shmkit_rwlock_rdunlock(struct shmkit_rwlock *l, int ticket);

/* Takes the exclusive (write) lock, waiting at most TIMEOUT_NS for other
 * writers and for the readers to drain (dead readers are reclaimed).
 * Returns 0, SHMKIT_EOWNERDEAD (held; repair, consistent, wrunlock),
 * SHMKIT_ENOTRECOVERABLE, -ETIMEDOUT, -EINTR (a signal handler ran while
 * it slept waiting for the readers to drain: not held; see SIGNALS above;
 * the wait for another writer is not interrupted), -EBUSY (TIMEOUT_NS == 0 and the lock
 * is held, by the caller too, or readers remain), -EDEADLK (the caller
 * already holds it and TIMEOUT_NS != 0), -EINVAL (L NULL or not
 * initialised), SHMKIT_ECORRUPT (as for shmkit_rwlock_rdlock). */
SHMKIT_API int shmkit_rwlock_wrlock(struct shmkit_rwlock *l, int64_t timeout_ns);

/* Releases the write lock. Returns 0, -EPERM (caller does not hold it),
 * -EINVAL (L NULL or not initialised), SHMKIT_ECORRUPT (bad magic, or the
 * internal mutex is not one). Releasing after SHMKIT_EOWNERDEAD without
 * shmkit_rwlock_consistent makes the lock unrecoverable. */
SHMKIT_API int shmkit_rwlock_wrunlock(struct shmkit_rwlock *l);

/* After SHMKIT_EOWNERDEAD: marks the state repaired. Returns 0, -EINVAL
 * (L NULL or not initialised, or no owner-died state held by the caller)
 * or SHMKIT_ECORRUPT (bad magic, or the internal mutex disagrees). */
SHMKIT_API int shmkit_rwlock_consistent(struct shmkit_rwlock *l);

/* Destroys an unlocked L. Returns 0 (also for NULL), -EBUSY (held, or a
 * reader slot is taken), -EINVAL (not initialised), SHMKIT_ECORRUPT (bad
 * magic; shmkit_rwlock_init is the way out). A lock whose writer died,
 * or that is unrecoverable, is destroyed as shmkit_mutex_destroy does. */
SHMKIT_API int shmkit_rwlock_destroy(struct shmkit_rwlock *l);

/* ------------------------------------------------------------------------
 * FCNTL LOCK - reader/writer locking through a lock file
 *
 * The classic answer: every party opens the same file (any path they all
 * know; it need not be the segment) and takes a shared (read) or
 * exclusive (write) record lock on a byte range. The kernel releases the
 * locks of a process that dies, whatever killed it. On Linux the locks are
 * open-file-description locks (F_OFD_SETLK/F_OFD_SETLKW): they belong to
 * the handle, so two handles in one process (or two threads with their own
 * handles) exclude each other, and closing an unrelated descriptor of the
 * same file does not drop them. Where OFD locks are missing, classic
 * per-process POSIX locks (F_SETLK/F_SETLKW) are used instead.
 *
 * Timed waits poll with F_OFD_SETLK and sleeps growing from 50 us to 10 ms
 * (no signals, no timers): a timed waiter may take up to ~10 ms longer to
 * notice a release than a blocking one.
 * ------------------------------------------------------------------------ */

typedef struct shmkit_flock shmkit_flock;

enum shmkit_flock_flags {
    SHMKIT_FLOCK_CREATE = 1u << 0, /* create the lock file (mode 0600) if missing */
    SHMKIT_FLOCK_FOLLOW = 1u << 1  /* follow a symlink at PATH (refused by default) */
};

/* Opens the lock file PATH (read-write if allowed, else read-only: then
 * only shared locks work) and stores a handle in *OUT.
 * The path is not trusted: the open never blocks (a FIFO gives -EINVAL at
 * once, also one the caller may only read), a symlink as the last
 * component is refused with -ELOOP unless SHMKIT_FLOCK_FOLLOW, and
 * SHMKIT_FLOCK_CREATE creates with O_EXCL and otherwise opens the existing
 * file without O_CREAT, so a dangling symlink never makes its target (not
 * even with FOLLOW: then -ENOENT) and the kernel's protected_regular keeps
 * guarding sticky directories. A lock file is shared by design: one that
 * another user made is used as it is (that user can hold its locks too),
 * so keep lock files in a directory only the intended users can write.
 * Errors: -EINVAL (NULL, empty path, unknown flags; PATH is a FIFO or a
 * device), -ENOENT (missing and no SHMKIT_FLOCK_CREATE), -ELOOP
 * (a symlink, without SHMKIT_FLOCK_FOLLOW), -ENXIO (a socket, refused by
 * open(2) itself), -EAGAIN (a file lease held for over ~100 ms), -EACCES,
 * -EISDIR, -ENOMEM, other -errno from open(2). */
SHMKIT_API int shmkit_flock_open(shmkit_flock **out, const char *path, unsigned flags);

/* Closes the handle, releasing every lock it holds. Accepts NULL.
 * Returns 0 or -errno from close(2). */
SHMKIT_API int shmkit_flock_close(shmkit_flock *l);

/* Takes a shared (rdlock) or exclusive (wrlock) lock on LEN bytes at
 * START (LEN 0 = to the end of the file, however it grows), waiting at
 * most TIMEOUT_NS (-1 forever, 0 try once). A lock the handle already
 * holds on the range is converted (shared <-> exclusive).
 * Returns 0, -EBUSY (TIMEOUT_NS == 0 and a conflicting lock is held),
 * -ETIMEDOUT, -EINTR (a signal interrupted a blocking wait), -EDEADLK
 * (the kernel found a deadlock; classic locks only), -EBADF (wrlock on a
 * handle opened read-only), -EINVAL (NULL, negative START or LEN),
 * -ENOLCK, other -errno from fcntl(2). */
SHMKIT_API int shmkit_flock_rdlock(shmkit_flock *l, int64_t start, int64_t len, int64_t timeout_ns);
SHMKIT_API int shmkit_flock_wrlock(shmkit_flock *l, int64_t start, int64_t len, int64_t timeout_ns);

/* Releases the handle's locks on LEN bytes at START (0 = to the end).
 * Returns 0, -EINVAL, other -errno from fcntl(2). */
SHMKIT_API int shmkit_flock_unlock(shmkit_flock *l, int64_t start, int64_t len);

/* The lock file's descriptor (the handle keeps ownership). -1 for NULL. */
SHMKIT_API int shmkit_flock_fd(const shmkit_flock *l);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_SYNC_H */
