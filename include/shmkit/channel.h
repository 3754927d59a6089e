/*
 * shmkit/channel.h - moving messages between processes: ring and bus.
 * Included by <shmkit.h>; do not include it directly.
 *
 * Both channels live entirely inside a shmkit segment's payload (layout tag
 * "ring" or "bus" in the header, geometry in the header's layout
 * parameters and again in a control block with its own magic at the start
 * of the payload; attach checks that both agree before trusting anything).
 *
 * RING - one producer (or several, with SHMKIT_RING_MULTI), one consumer,
 * variable-size messages, zero-copy on both sides:
 *
 *     producer                              consumer
 *     void *p;                              const void *p; size_t n;
 *     shmkit_ring_reserve(r, 100, &p, -1);  shmkit_ring_peek(r, &p, &n, -1);
 *     ...write up to 100 bytes at p...      ...read n bytes at p...
 *     shmkit_ring_commit(r, 100);           shmkit_ring_release(r);
 *
 * or copying with shmkit_ring_send / shmkit_ring_recv. A message is either
 * wholly visible or not at all: a producer killed between reserve and
 * commit leaves nothing the consumer can see, and the next producer that
 * attaches takes the ring over.
 *
 * BUS - one publisher, up to max_subs subscribers (chosen at creation,
 * 1..4096), each with its own cursor, joining and leaving at any time.
 * Fixed slots of up to msg_max bytes. Two modes: back-pressure (the
 * publisher waits for the slowest live subscriber) and SHMKIT_BUS_LOSSY
 * (the publisher never waits; a subscriber that falls behind skips ahead
 * and is told how many messages it lost).
 *
 * TIMEOUTS (every blocking call): relative nanoseconds; 0 = try once
 * (-EAGAIN if the call cannot proceed, or SHMKIT_ECLOSED / SHMKIT_EPEERDEAD,
 * see below),
 * negative = no limit. A blocking call spins for a short while (see
 * shmkit_ring_set_spin), then sleeps on a futex; the other side makes the
 * wake-up system call only when someone sleeps. While asleep, the caller
 * checks every SHMKIT_CHAN_SLICE_NS whether its peer is still alive.
 *
 * SIGNALS: a blocking call returns -EINTR when a signal handler ran while
 * it slept, with or without SA_RESTART (it sleeps in slices); nothing was
 * sent, received or reserved: call again. The one policy of the library,
 * written out under SIGNALS in shmkit/sync.h.
 *
 * PEER DEATH: every producer, consumer, publisher and subscriber holds its
 * role through a claim word in the segment that names its owner (pid +
 * start time) from the moment the role is taken - one compare-and-swap
 * takes it and records the owner - so a process killed at any point, also
 * in the middle of attaching or subscribing, leaves a claim that is known
 * to be dead: its peer is told (below) and the role is taken back by the
 * next process that asks for it. Of several processes asking for one role
 * at once, one gets it. A call that cannot proceed because
 * its peer died returns SHMKIT_EPEERDEAD instead of waiting
 * forever - a try call (timeout 0) too: it checks the peer's owner record
 * when it cannot proceed, at most once per millisecond per handle (the
 * check reads /proc), so a try loop sees SHMKIT_EPEERDEAD within about a
 * millisecond of the death and -EAGAIN in between. What the dead peer
 * queued is delivered first. A peer that NEVER attached is not dead: a
 * consumer (or subscriber) that attaches before any producer ever did
 * waits for one until its timeout (-EAGAIN / -ETIMEDOUT; with no limit,
 * for ever), and likewise a producer for a consumer that never attached.
 * A dead subscriber is dropped from a back-pressure bus.
 *
 * END OF STREAM: a peer that CLOSES its handle (shmkit_ring_close,
 * shmkit_bus_close) is not dead. Once the other side has received
 * everything sent before the close, its calls that cannot proceed return
 * SHMKIT_ECLOSED at once (try and blocking calls; one parked at the time of
 * the close is woken), with no liveness check and no rate limit. This is
 * for the consumer of a ring whose producers all closed (MULTI: the last
 * producer attached closed; if one of them died instead and nobody took
 * its slot, it is SHMKIT_EPEERDEAD), for a bus subscriber whose publisher
 * closed, and for a ring producer blocked on a full ring whose consumer
 * closed. The state is not sticky: when a new producer (publisher,
 * consumer) attaches, the channel is live again, and the same handle's
 * next call waits for (and receives) what the newcomer sends; only
 * between the close and that attach does it get SHMKIT_ECLOSED. A process
 * that dies (kill -9, crash, exit without close) is SHMKIT_EPEERDEAD.
 *
 * DELIVERY: a message leaves the ring only at shmkit_ring_release (or
 * inside shmkit_ring_recv). A consumer killed after peek and before
 * release leaves the message queued, and the consumer that attaches next
 * receives it again: delivery across a consumer crash is AT LEAST ONCE
 * (deduplicate by a sequence number in the message if it matters). A
 * producer killed before commit loses that message (nothing is visible).
 * A bus subscriber that dies loses its cursor; a new subscriber starts
 * with the next message published.
 *
 * HOSTILE BYTES: every index and length read from the segment is checked;
 * corruption gives SHMKIT_ECORRUPT, never an out-of-bounds access.
 *
 * THREADS: a handle is used by one thread at a time.
 *
 * FORK: a handle belongs to the process that made it. A child inherits the
 * mapping but not the role: it makes its own handle (attach, subscribe or
 * join) and never uses an inherited one - except to close it, which only
 * frees the child's copy: the parent keeps its role, and its peers are told
 * nothing (a clean close in the parent is still end of stream).
 */
#ifndef SHMKIT_CHANNEL_H
#define SHMKIT_CHANNEL_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/channel.h>"
#endif

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h> /* struct iovec: the ring's batch calls */

#ifdef __cplusplus
extern "C" {
#endif

/* How often a sleeping channel call wakes up to check its peer's liveness. */
#define SHMKIT_CHAN_SLICE_NS 20000000 /* 20 ms */

/* ------------------------------------------------------------------------
 * RING
 * ------------------------------------------------------------------------ */

typedef struct shmkit_ring shmkit_ring;

enum shmkit_ring_flags {
    SHMKIT_RING_PRODUCER = 1u << 0, /* attach as (a) producer                      */
    SHMKIT_RING_CONSUMER = 1u << 1, /* attach as the consumer                       */
    SHMKIT_RING_MULTI = 1u << 2,    /* create: several producers (serialised by a  */
                                    /* crash-safe lock in the segment)             */
    SHMKIT_RING_TAKEOVER = 1u << 3  /* attach: replace a live consumer / producer  */
                                    /* (single-producer ring) instead of -EBUSY    */
};

/* Largest message of any ring, whatever its capacity: INT_MAX, so that a
 * length always fits the record header's 32 bits and shmkit_ring_recv's
 * int return value. Longer messages get SHMKIT_ETOOBIG. */
#define SHMKIT_RING_MSG_LIMIT 2147483647u

/* Most producers a SHMKIT_RING_MULTI ring accepts at once. */
#define SHMKIT_RING_MAX_PRODUCERS 32

/* Payload bytes a ring of CAPACITY data bytes needs (control block
 * included); pass it as shmkit_opts.size. 0 if CAPACITY is not a power of
 * two in [SHMKIT_RING_MIN_CAP, 2^40]. */
#define SHMKIT_RING_MIN_CAP 256
SHMKIT_API size_t shmkit_ring_size_for(size_t capacity);

/* Initialises a ring in SEG's payload (overwriting it), records layout
 * "ring" in the header (after the control block is written: an attacher
 * finds the old layout or a whole ring), and attaches the caller with the
 * role in FLAGS. CAPACITY: data bytes, a power of two >=
 * SHMKIT_RING_MIN_CAP; 0 = the largest power of two that fits the payload.
 * FLAGS: at most one of SHMKIT_RING_PRODUCER / SHMKIT_RING_CONSUMER (none:
 * a handle without a role, as SHMKIT_ROLE_NONE under JOINING BY NAME -
 * its data calls give -EINVAL, its close tells nobody anything),
 * optionally SHMKIT_RING_MULTI. shmkit_ring_join does all of this by name.
 * The largest message is shmkit_ring_max_msg() = CAPACITY/2 - 16 bytes,
 * capped at SHMKIT_RING_MSG_LIMIT (INT_MAX; it matters from 2^33 up). Only
 * the control block and the first record header are written, so a huge
 * ring in a SHMKIT_NORESERVE segment stays sparse until it is used.
 * Errors:
 *   -EINVAL           R or SEG NULL, both roles or an unknown flag, CAPACITY
 *                     not a power of two or below SHMKIT_RING_MIN_CAP
 *   SHMKIT_EBADSIZE   the payload is smaller than shmkit_ring_size_for(CAPACITY)
 *   -EBADF            SEG is read-only
 *   -ENOMEM           out of memory for the handle
 *   -EOVERFLOW        as for shmkit_ring_attach
 *   any error of shmkit_seg_set_layout or shmkit_owner_self */
SHMKIT_API int shmkit_ring_create(shmkit_ring **r, shmkit_seg *seg, size_t capacity,
                                  unsigned flags);

/* Attaches to the ring in SEG as producer or consumer (FLAGS; neither: a
 * handle without a role, which only checks the ring), after
 * validating the header's layout and parameters, the control block and the
 * current indices. A producer whose predecessor died takes the ring over
 * (counted in stats.takeovers); a message that predecessor left half
 * written is discarded. Errors:
 *   -EINVAL            R or SEG NULL, both roles, an unknown flag, TAKEOVER
 *                      without a role
 *   SHMKIT_ELAYOUT     SEG does not hold a ring
 *   SHMKIT_ECORRUPT    control block or indices fail validation
 *   SHMKIT_EVERSION    control block of an unknown version (also a ring of
 *                      channel format 1, before claim words, or 2, before
 *                      cut-through records)
 *   -EBUSY             the role is held by a live process (no TAKEOVER), or
 *                      all SHMKIT_RING_MAX_PRODUCERS slots are held by live
 *                      producers (a slot the producers' lock names is not
 *                      handed out: its dead holder's lock is taken over by
 *                      the next producer that needs it, see reserve)
 *   -EBADF             SEG is read-only
 *   -EOVERFLOW         the caller's pid does not fit a claim word (2^22 or
 *                      more: never on Linux)
 *   -ENOMEM, or an error of shmkit_owner_self */
SHMKIT_API int shmkit_ring_attach(shmkit_ring **r, shmkit_seg *seg, unsigned flags);

/* Detaches (the peer then sees SHMKIT_ECLOSED once the ring drains, see
 * END OF STREAM; a parked peer is woken; a handle without a role tells
 * nobody anything) and frees R. A reservation not committed is dropped; a
 * role another process took over (SHMKIT_RING_TAKEOVER) stays with it. The
 * segment stays open, unless R was made by shmkit_ring_join: then it is
 * closed too (not removed). Accepts NULL. Returns 0, or the error of
 * shmkit_close for a joined ring's segment. */
SHMKIT_API int shmkit_ring_close(shmkit_ring *r);

/* Data capacity in bytes, and the largest message it accepts
 * (min(capacity/2 - 16, SHMKIT_RING_MSG_LIMIT)). */
SHMKIT_API size_t shmkit_ring_capacity(const shmkit_ring *r);
SHMKIT_API size_t shmkit_ring_max_msg(const shmkit_ring *r);

/* How long a blocking call spins before it sleeps, in nanoseconds (default
 * 50 us). Negative: never sleep (busy-poll; still honours the timeout). */
SHMKIT_API void shmkit_ring_set_spin(shmkit_ring *r, int64_t spin_ns);

/* ------------------------------------------------------------------------
 * JOINING BY NAME: shmkit_ring_join, shmkit_bus_join, shmkit_sub_join (and
 * shmkit_table_join in shmkit/table.h) - one call, one shape for the three
 * structures: create-or-attach with a role, the geometry used only by the
 * call that creates and checked by the others, waiting for another process
 * to have made it. Every program of a group runs the same call and none
 * needs a retry loop on -ENOENT or SHMKIT_ELAYOUT:
 *
 *     struct shmkit_opts where = { .kind = SHMKIT_POSIX, .name = "/jobs",
 *                                  .flags = SHMKIT_CREATE };
 *     struct shmkit_ring_config cfg = { .role = SHMKIT_ROLE_CONSUMER,
 *                                       .max_msg = 1024 };
 *     shmkit_ring *r;
 *     int rc = shmkit_ring_join(&r, &where, &cfg);  // the producer: same,
 *                                                   // ROLE_PRODUCER
 *
 * WHERE is a struct shmkit_opts of any kind, as for shmkit_open (name or
 * key, mode, flags), with size, layout, init and init_arg left 0 (join
 * sets them; else -EINVAL) and without SHMKIT_RAW.
 *   - With SHMKIT_CREATE: create-or-attach. The call that creates writes
 *     the structure through shmkit_open's initialiser (opts.init, see
 *     INITIALISATION in shmkit.h), so no other process ever opens a
 *     half-made one: POSIX and FILE have no name before it is written; on
 *     System V and the O_EXCL fallback the others wait for the header's
 *     "initialising" flag (up to where->init_wait_ms, 0 = 10 s). Of N
 *     processes racing on one name exactly one creates
 *     (shmkit_seg_created(shmkit_ring_seg(r)) is 1 there, 0 elsewhere);
 *     the others attach. With SHMKIT_EXCL too: create only (-EEXIST).
 *     SHMKIT_ANON and SHMKIT_MEMFD always create (share by fork, or pass
 *     the descriptor: shmkit_fd_send(sock, shmkit_ring_seg(r))).
 *   - Without SHMKIT_CREATE: attach only. While the segment does not exist
 *     (-ENOENT), still holds layout "bytes" (made by hand, its structure
 *     not yet written: the two-step shmkit_open + shmkit_ring_create), or
 *     its creator is still in its initialiser, the call waits, polling
 *     (100 us, doubling up to 10 ms), up to the config's timeout_ns, then
 *     -ETIMEDOUT; timeout_ns 0 tries once and returns the code found
 *     (-ENOENT, SHMKIT_ELAYOUT, -ETIMEDOUT); negative: no limit. A "bytes"
 *     segment is waited for the same way with SHMKIT_CREATE. A signal
 *     handler that ran while it slept: -EINTR (SIGNALS above). A segment
 *     holding another structure (a bus where a ring was asked): at once
 *     SHMKIT_ELAYOUT. A MEMFD descriptor in where->fd is taken (and
 *     closed on failure) as by shmkit_open: one try, no waiting.
 * GEOMETRY: the config's sizes are used only by the call that creates
 * (and must then be valid: -EINVAL). On attach each non-zero field is
 * checked against the existing structure; a mismatch is SHMKIT_EGEOMETRY
 * and nothing was changed (no role taken). Zero fields are not checked.
 * ROLE: the handle takes the config's role as the matching attach call
 * would (-EBUSY if it is held, see PEER DEATH). SHMKIT_ROLE_NONE creates or
 * checks the structure and holds no claim: its data calls return -EINVAL
 * and closing it tells nobody anything (no end of stream, no death). For a
 * parent that sets a ring up for two children: over SHMKIT_ANON they
 * inherit it and call shmkit_ring_attach(shmkit_ring_seg(r), ...); over a
 * name they join it.
 * SPIN: spin_ns is applied to the handle (as *_set_spin; 0 = the default
 * 50 us, negative = never sleep).
 * OWNERSHIP OF THE SEGMENT: a joined handle owns its segment -
 * shmkit_ring_close, shmkit_bus_close and shmkit_bus_unsubscribe close it
 * (a handle made by the *_create / *_attach / subscribe calls does not).
 * Removing the name stays explicit: shmkit_seg_remove(shmkit_ring_seg(r)).
 * A CREATOR KILLED while it initialises leaves no name (POSIX, FILE), or
 * (System V, O_EXCL fallback) a segment marked initialising whose
 * openers get SHMKIT_EPEERDEAD once its creator is seen dead (or
 * -ETIMEDOUT first) and that `shmkit gc` removes. Nothing is left behind
 * on failure: a segment this call created is removed again.
 * Errors of every join call:
 *   -EINVAL            OUT, WHERE or CFG NULL; where->size, layout, init or
 *                      init_arg non-zero, or SHMKIT_RAW; an unknown role,
 *                      flag, non-zero reserved[] or pad0_; with CREATE,
 *                      geometry that is not valid (see each config)
 *   SHMKIT_EGEOMETRY   the existing structure has another geometry
 *   SHMKIT_ELAYOUT     the segment holds another structure (or, timeout 0,
 *                      still "bytes")
 *   -ETIMEDOUT         not there (or not ready) within timeout_ns; or its
 *                      creator still initialising after where->init_wait_ms
 *   -ENOENT            attach only, timeout_ns 0, and no such segment
 *   SHMKIT_EPEERDEAD   its creator died inside its initialiser
 *   -EINTR             a signal handler ran while waiting
 *   the errors of shmkit_open (-EEXIST, -EPERM, -EACCES, -ENOSPC,
 *   SHMKIT_EBADNAME, ...) and of the matching attach call (-EBUSY, -EUSERS,
 *   SHMKIT_ECORRUPT, SHMKIT_EVERSION, -EBADF for a read-only mapping, ...)
 * ------------------------------------------------------------------------ */

struct shmkit_ring_config {
    unsigned role;        /* SHMKIT_ROLE_NONE, _PRODUCER or _CONSUMER              */
    unsigned flags;       /* SHMKIT_RING_MULTI (create; on attach: the ring must  */
                          /* be MULTI), SHMKIT_RING_TAKEOVER (attach, with a role) */
    uint64_t max_msg;     /* create: the largest message; the ring gets the       */
                          /* smallest power-of-two capacity >= SHMKIT_RING_MIN_CAP */
                          /* whose max_msg (capacity/2 - 16) holds it (above      */
                          /* SHMKIT_RING_MSG_LIMIT: SHMKIT_ETOOBIG). Attach: if   */
                          /* non-zero, the ring's max_msg must be >= it           */
    uint64_t capacity;    /* create: data bytes (a power of two) instead of       */
                          /* max_msg; with both, capacity wins and must hold      */
                          /* max_msg (else -EINVAL); one of them is needed.       */
                          /* Attach: non-zero must be equal                       */
    int64_t timeout_ns;   /* see JOINING BY NAME: 0 try once, negative no limit   */
    int64_t spin_ns;      /* as shmkit_ring_set_spin; 0 = the default (50 us)     */
    uint64_t reserved[4]; /* zero, else -EINVAL                                   */
};

/* Joins the ring WHERE names with CFG's role (see JOINING BY NAME above,
 * every point of which applies). On success *R holds a handle that owns
 * its segment; on failure *R is NULL. Errors: those listed under JOINING
 * BY NAME, SHMKIT_ETOOBIG (create: max_msg above SHMKIT_RING_MSG_LIMIT),
 * and those of shmkit_ring_attach. */
SHMKIT_API int shmkit_ring_join(shmkit_ring **r, const struct shmkit_opts *where,
                                const struct shmkit_ring_config *cfg);

/* The segment under R (joined or not; owned by a joined ring: do not close
 * it). For shmkit_seg_remove, shmkit_seg_created, shmkit_fd_send, and for
 * the children of a role-less parent (shmkit_ring_attach). NULL for NULL. */
SHMKIT_API shmkit_seg *shmkit_ring_seg(const shmkit_ring *r);

/* Producer: reserves LEN contiguous bytes and stores their address in *P
 * (8-byte aligned). Write the message there, then shmkit_ring_commit. On a
 * SHMKIT_RING_MULTI ring this holds the producers' lock until commit or
 * cancel; a lock holder that died is taken over by the next producer that
 * finds the lock held - by a blocking call after one sleeping slice, by a
 * try call (TIMEOUT_NS 0) at once (one liveness check per millisecond per
 * handle) - and its uncommitted message vanishes. Errors:
 *   -EINVAL            bad arguments, not a producer, a reservation is open
 *   SHMKIT_ETOOBIG     LEN > shmkit_ring_max_msg()
 *   -EAGAIN            TIMEOUT_NS == 0 and no room, or (MULTI) the lock is
 *                      held by a live producer
 *   -ETIMEDOUT         no room (or no lock) within TIMEOUT_NS
 *   SHMKIT_ECLOSED     no room and the consumer closed (END OF STREAM)
 *   SHMKIT_EPEERDEAD   no room and the consumer died (try calls included,
 *                      see PEER DEATH)
 *   SHMKIT_ECORRUPT    the consumer's index or the lock word is out of range
 *   -EINTR             a signal handler ran while asleep (SIGNALS above) */
SHMKIT_API int shmkit_ring_reserve(shmkit_ring *r, size_t len, void **p, int64_t timeout_ns);

/* Publishes the reserved message with its final length LEN (<= the length
 * reserved). Returns 0, or -EINVAL (nothing reserved, LEN too long). */
SHMKIT_API int shmkit_ring_commit(shmkit_ring *r, size_t len);

/* Drops the open reservation (nothing becomes visible). Returns 0 or
 * -EINVAL (nothing reserved). */
SHMKIT_API int shmkit_ring_cancel(shmkit_ring *r);

/* Consumer: waits for the next message and returns its address and length
 * (<= shmkit_ring_max_msg()) without copying. Valid until
 * shmkit_ring_release. Calling peek again before release returns the same
 * message; so does the next consumer if this one dies before release (see
 * DELIVERY: at least once). Errors:
 *   -EINVAL            bad arguments, not the consumer
 *   -EAGAIN            TIMEOUT_NS == 0 and the ring is empty
 *   -ETIMEDOUT         still empty after TIMEOUT_NS (also when no producer
 *                      ever attached)
 *   SHMKIT_ECLOSED     empty (everything sent was received) and every
 *                      producer that attached closed (END OF STREAM)
 *   SHMKIT_EPEERDEAD   empty and every producer that attached died or left,
 *                      one at least by dying (try calls included, see PEER
 *                      DEATH)
 *   SHMKIT_ECORRUPT    a record header is invalid (length, position)
 *   -EINTR             a signal handler ran while asleep (SIGNALS above) */
SHMKIT_API int shmkit_ring_peek(shmkit_ring *r, const void **p, size_t *len, int64_t timeout_ns);

/* Consumer: frees the message returned by peek. Returns 0 or -EINVAL
 * (nothing peeked). */
SHMKIT_API int shmkit_ring_release(shmkit_ring *r);

/* Copying helpers: reserve+memcpy+commit, and peek+memcpy+release.
 * send returns 0 or an error of reserve. recv returns the message length
 * (0..SHMKIT_RING_MSG_LIMIT, so it always fits the int), -EMSGSIZE if it is
 * longer than CAP (the message stays queued; peek it to learn its length),
 * or an error of peek. */
SHMKIT_API int shmkit_ring_send(shmkit_ring *r, const void *buf, size_t len, int64_t timeout_ns);
SHMKIT_API int shmkit_ring_recv(shmkit_ring *r, void *buf, size_t cap, int64_t timeout_ns);

/* Large messages: a shmkit_ring_send of 64 KiB or more into a ring that
 * holds fewer than three such messages is copied in piece by piece while a
 * shmkit_ring_recv waiting for it (any timeout but 0) copies it out on its
 * own core ("cut-through"; where three fit, it is copied in whole while
 * the consumer copies out the one before). The message is still delivered
 * whole or not at all - a producer killed in the middle leaves nothing
 * delivered, and recv returns SHMKIT_EPEERDEAD (or keeps waiting for the
 * next producer's messages if others are attached). peek, try calls and
 * recv_many wait for the whole message. */

/* Batches: several messages per call, the ring's index published once per
 * batch. MSGS[i] is one message (iov_base, iov_len), like shmkit_ring_send.
 * send_many waits (TIMEOUT_NS) for room for the first message only, then
 * adds the following ones while they fit, and publishes them together;
 * it returns how many it sent (1..N; 0 if N is 0) or, when it sent none,
 * an error of shmkit_ring_send (-EINVAL also for MSGS NULL with N > 0).
 * A later message that does not fit, is too long (SHMKIT_ETOOBIG) or has
 * a NULL iov_base ends the batch before it: the next call sends it or
 * reports it. */
SHMKIT_API int shmkit_ring_send_many(shmkit_ring *r, const struct iovec *msgs, size_t n,
                                     int64_t timeout_ns);

/* recv_many waits (TIMEOUT_NS) for the first message like shmkit_ring_recv,
 * then takes those already queued, up to N: the i-th is copied to
 * BUFS[i].iov_base (room: BUFS[i].iov_len bytes) and its length stored in
 * LENS[i]. The space of the whole batch is released with one index store
 * before it returns (a consumer killed inside the call gets the batch again
 * at the next consumer: DELIVERY). Returns how many it received (1..N; 0 if
 * N is 0) or, when it received none, an error of shmkit_ring_recv
 * (-EMSGSIZE: the first message is longer than BUFS[0].iov_len; it stays
 * queued). A later message that does not fit its buffer ends the batch
 * before it, queued. SHMKIT_ECLOSED and SHMKIT_EPEERDEAD come only from a
 * call that received nothing: a batch ends with the last message there. */
SHMKIT_API int shmkit_ring_recv_many(shmkit_ring *r, const struct iovec *bufs, size_t *lens,
                                     size_t n, int64_t timeout_ns);

/* ------------------------------------------------------------------------
 * BUS
 * ------------------------------------------------------------------------ */

typedef struct shmkit_bus shmkit_bus; /* the publisher's handle */
typedef struct shmkit_sub shmkit_sub; /* a subscriber's handle  */

enum shmkit_bus_flags {
    SHMKIT_BUS_LOSSY = 1u << 0, /* the publisher never waits for subscribers   */
    SHMKIT_BUS_NOROLE = 1u << 1 /* shmkit_bus_create: set the bus up without    */
                                /* becoming its publisher (a role-less handle,  */
                                /* as SHMKIT_ROLE_NONE: closing it tells no one */
                                /* anything; loan/send on it give -EINVAL)      */
};

#define SHMKIT_BUS_MAX_SUBS 4096

/* Payload bytes a bus needs; 0 for invalid geometry (SLOTS not a power of
 * two in [2, 2^24], MSG_MAX 0 or > 2^30, MAX_SUBS 0 or > SHMKIT_BUS_MAX_SUBS). */
SHMKIT_API size_t shmkit_bus_size_for(size_t slots, size_t msg_max, unsigned max_subs);

/* Initialises a bus in SEG's payload (layout "bus") and attaches the caller
 * as its publisher (unless SHMKIT_BUS_NOROLE). SLOTS messages of at most
 * MSG_MAX bytes each are kept; MAX_SUBS subscribers may be joined at once.
 * FLAGS: 0 (back-pressure) or SHMKIT_BUS_LOSSY, optionally or-ed with
 * SHMKIT_BUS_NOROLE. Errors: -EINVAL (NULL, bad geometry or flags),
 * SHMKIT_EBADSIZE (payload < shmkit_bus_size_for), -EBADF (read-only),
 * -ENOMEM, -EOVERFLOW (as shmkit_bus_attach), errors of
 * shmkit_seg_set_layout / shmkit_owner_self. */
SHMKIT_API int shmkit_bus_create(shmkit_bus **b, shmkit_seg *seg, size_t slots, size_t msg_max,
                                 unsigned max_subs, unsigned flags);

/* Attaches as the publisher of an existing bus (after validation); of
 * several processes attaching at once, one wins.
 * Errors: -EINVAL, SHMKIT_ELAYOUT, SHMKIT_ECORRUPT, SHMKIT_EVERSION (also a
 * bus of channel format 1 or 2: 3 changed only the ring), -EBADF, -EBUSY (a live
 * publisher is attached or attaching), -ENOMEM, -EOVERFLOW (the caller's
 * pid does not fit a claim word: 2^22 or more, never on Linux). */
SHMKIT_API int shmkit_bus_attach(shmkit_bus **b, shmkit_seg *seg);

/* Detaches the publisher (subscribers then see SHMKIT_ECLOSED once they
 * have read everything, see END OF STREAM; parked ones are woken; a
 * handle without the role tells nobody anything) and frees B; a joined
 * handle's segment is closed too. Accepts NULL. Returns 0, or the error of
 * shmkit_close for a joined handle's segment. */
SHMKIT_API int shmkit_bus_close(shmkit_bus *b);

/* Publisher: waits until at least N subscribers are joined (live members;
 * a subscriber still joining does not count, one that died is dropped
 * within a slice). For a start-up barrier: messages published before a
 * subscriber joins never reach it. Uses the spin time of
 * shmkit_bus_set_spin. Returns:
 *   0                  N or more subscribers are joined (N == 0: at once)
 *   -EAGAIN            TIMEOUT_NS == 0 and fewer than N are joined
 *   -ETIMEDOUT         fewer than N within TIMEOUT_NS
 *   -EINTR             a signal handler ran while asleep (SIGNALS above)
 *   -EINVAL            B NULL, or N above the bus's max_subs */
SHMKIT_API int shmkit_bus_wait_subscribers(shmkit_bus *b, unsigned n, int64_t timeout_ns);

/* Spin time before sleeping, as shmkit_ring_set_spin (default 50 us). */
SHMKIT_API void shmkit_bus_set_spin(shmkit_bus *b, int64_t spin_ns);
SHMKIT_API void shmkit_sub_set_spin(shmkit_sub *s, int64_t spin_ns);

/* Joining a bus by name (JOINING BY NAME above): one config for both
 * sides. shmkit_bus_join takes role SHMKIT_ROLE_PUBLISHER or
 * SHMKIT_ROLE_NONE (a handle that publishes nothing: loan, publish and
 * send give -EINVAL, close tells nobody anything; wait_subscribers works);
 * shmkit_sub_join takes SHMKIT_ROLE_SUBSCRIBER or SHMKIT_ROLE_NONE and
 * always subscribes. */
struct shmkit_bus_config {
    unsigned role;        /* see above                                            */
    unsigned flags;       /* SHMKIT_BUS_LOSSY (create; on attach: the bus must be */
                          /* lossy)                                               */
    uint64_t slots;       /* create: a power of two in [2, 2^24]; 0 = 256.        */
                          /* Attach: 0 or equal                                   */
    uint64_t msg_max;     /* create: required (1 .. 2^30). Attach: 0, or the      */
                          /* bus's msg_max must be >= it                          */
    uint32_t max_subs;    /* create: 1..SHMKIT_BUS_MAX_SUBS; 0 = 64. Attach: 0 or */
                          /* equal                                                */
    uint32_t pad0_;       /* zero                                                 */
    int64_t timeout_ns;   /* see JOINING BY NAME                                  */
    int64_t spin_ns;      /* as shmkit_bus_set_spin; 0 = the default (50 us)      */
    uint64_t reserved[4]; /* zero, else -EINVAL                                   */
};

/* Joins the bus WHERE names as its publisher (or with no role); *B owns
 * its segment. Errors: those under JOINING BY NAME, those of
 * shmkit_bus_attach (-EBUSY: a live publisher holds the role). */
SHMKIT_API int shmkit_bus_join(shmkit_bus **b, const struct shmkit_opts *where,
                               const struct shmkit_bus_config *cfg);

/* Joins the bus WHERE names as a new subscriber (creating it with CREATE);
 * *S owns its segment (shmkit_bus_unsubscribe closes it). Errors: those
 * under JOINING BY NAME, those of shmkit_bus_subscribe (-EUSERS). */
SHMKIT_API int shmkit_sub_join(shmkit_sub **s, const struct shmkit_opts *where,
                               const struct shmkit_bus_config *cfg);

/* The segment under a publisher's or a subscriber's handle (owned by a
 * joined handle: do not close it); NULL for NULL. */
SHMKIT_API shmkit_seg *shmkit_bus_seg(const shmkit_bus *b);
SHMKIT_API shmkit_seg *shmkit_sub_seg(const shmkit_sub *s);

/* Largest message of the bus. */
SHMKIT_API size_t shmkit_bus_msg_max(const shmkit_bus *b);

/* Publisher, zero-copy: lends the next slot (*P, 8-byte aligned, LEN
 * bytes); fill it, then shmkit_bus_publish. In back-pressure mode waits
 * until the slowest live subscriber has read the slot's previous message.
 * Errors:
 *   -EINVAL            bad arguments, a loan is already open, B holds no
 *                      role (joined with SHMKIT_ROLE_NONE)
 *   SHMKIT_ETOOBIG     LEN > msg_max
 *   -EAGAIN            TIMEOUT_NS == 0 and a live subscriber still holds the
 *                      slot (a try loan drops dead ones too, checking at
 *                      most once per millisecond per handle)
 *   -ETIMEDOUT         still held after TIMEOUT_NS
 *   SHMKIT_ECORRUPT    a subscriber record is out of range
 *   -EINTR             a signal handler ran while asleep (SIGNALS above)
 * Never SHMKIT_EPEERDEAD: with no subscriber left, the publisher runs.
 * (lossy mode returns only -EINVAL / SHMKIT_ETOOBIG) */
SHMKIT_API int shmkit_bus_loan(shmkit_bus *b, size_t len, void **p, int64_t timeout_ns);

/* Publishes the loaned slot with final length LEN (<= loaned); returns its
 * sequence number (>= 1, as uint64 through *SEQ if non-NULL) and 0, or
 * -EINVAL (no loan open, LEN too long). */
SHMKIT_API int shmkit_bus_publish(shmkit_bus *b, size_t len, uint64_t *seq);

/* loan + memcpy + publish. Errors of loan. */
SHMKIT_API int shmkit_bus_send(shmkit_bus *b, const void *buf, size_t len, int64_t timeout_ns);

/* Joins the bus in SEG as a new subscriber; its first message is the next
 * one published. A record being joined holds no slot (a back-pressure
 * publisher does not wait for it). Errors: -EINVAL, SHMKIT_ELAYOUT,
 * SHMKIT_ECORRUPT, SHMKIT_EVERSION, -EBADF (read-only), -EUSERS (max_subs
 * live subscribers joined or joining; records of dead ones - joined, or
 * killed while joining - are reclaimed first), -ENOMEM, -EOVERFLOW (as
 * shmkit_bus_attach). */
SHMKIT_API int shmkit_bus_subscribe(shmkit_sub **s, shmkit_seg *seg);

/* Leaves the bus and frees S (a back-pressure publisher stops waiting for
 * it); a joined handle's segment is closed too. Accepts NULL. Returns 0,
 * or the error of shmkit_close for a joined handle's segment. */
SHMKIT_API int shmkit_bus_unsubscribe(shmkit_sub *s);

/* Subscriber, zero-copy: the next message in place, its length and
 * sequence number.
 * LOSS ACCOUNTING. A message is lost to a subscriber when the publisher
 * overwrote it before it was read (lossy mode: the sequence numbers jump),
 * when it was overwritten while being read (release -ESTALE, or retried
 * inside recv), or when recv skipped it as too long (-EMSGSIZE). Each lost
 * message is counted once in shmkit_sub_lost at once, and added exactly
 * once to the *LOST of the first peek or recv that passes a non-NULL LOST
 * (losses found by a call are added by that call even when it fails; a
 * loss found by release is added by the next peek or recv). Peeking the
 * same message twice adds nothing the second time. So for every
 * subscriber, once it has looked up to sequence number N:
 *     sum of *LOST added + messages received == messages published from
 *     its join up to N ("received": a peek whose release returned 0, or
 *     a recv >= 0), and
 *     shmkit_sub_lost == sum of *LOST added + losses not yet reported.
 * Errors:
 *   -EINVAL            bad arguments
 *   -EAGAIN            TIMEOUT_NS == 0 and nothing new
 *   -ETIMEDOUT         nothing new within TIMEOUT_NS
 *   SHMKIT_ECLOSED     nothing new and the publisher closed (END OF STREAM)
 *   SHMKIT_EPEERDEAD   nothing new and the publisher died (try calls
 *                      included, see PEER DEATH)
 *   SHMKIT_ECORRUPT    a slot header is invalid
 *   -ENOLINK           this subscriber was dropped from the bus (its
 *                      record was reclaimed as dead); unsubscribe
 *   -EINTR             a signal handler ran while asleep (SIGNALS above) */
SHMKIT_API int shmkit_bus_peek(shmkit_sub *s, const void **p, size_t *len, uint64_t *seq,
                               uint64_t *lost, int64_t timeout_ns);

/* Ends a peek. Returns 0, -EINVAL (nothing peeked) or -ESTALE (lossy mode:
 * the publisher overwrote the slot while it was being read; the bytes seen
 * are garbage and the message counts as lost: in shmkit_sub_lost at once,
 * in *LOST of the next peek or recv). */
SHMKIT_API int shmkit_bus_release(shmkit_sub *s);

/* Copying receive: returns the message length (>= 0), or -EMSGSIZE (longer
 * than CAP; the message is skipped, counted as lost and added to *LOST by
 * this call), or an error of peek. Messages overwritten while being copied
 * count as lost (added to *LOST) and the next one is taken. */
SHMKIT_API int shmkit_bus_recv(shmkit_sub *s, void *buf, size_t cap, uint64_t *seq,
                               uint64_t *lost, int64_t timeout_ns);

/* Messages this subscriber lost since it joined (see LOSS ACCOUNTING). */
SHMKIT_API uint64_t shmkit_sub_lost(const shmkit_sub *s);

/* ------------------------------------------------------------------------
 * EVENT LOOPS: shmkit_ring_fd, shmkit_sub_fd give a descriptor that
 * poll/epoll/select (libuv, libevent, GLib) can watch, in any process. The
 * protocol is the RPC one (POLLABLE WAKE-UPS in shmkit/rpc.h, which also
 * says why the mechanism is a datagram socket per receiver): call the try
 * call (timeout 0: shmkit_ring_recv/peek/recv_many, shmkit_bus_recv/peek;
 * for a producer shmkit_ring_send/reserve/send_many) until it returns
 * -EAGAIN, then go back to epoll_wait. The -EAGAIN ARMS the descriptor
 * before it returns (flag, full fence, one more look), so a message sent
 * at any moment after that look - also between the try call and
 * epoll_wait - makes it readable; nothing is lost. The try call reads the
 * descriptor empty before it arms again; it may be readable with nothing
 * to do (a wake-up meant for a message already taken): call, get -EAGAIN,
 * wait again. Readable means "call the try call", never "a message is
 * there".
 *   Ring: the consumer's descriptor turns readable when a message (or the
 * end of stream) comes; a producer's when the consumer freed room, or
 * closed. A producer of a SHMKIT_RING_MULTI ring has none (-EOPNOTSUPP):
 * its try call may find the producers' lock held, and a lock has no
 * descriptor. Bus: a subscriber's descriptor turns readable when the
 * publisher publishes or closes; the publisher has none.
 *   Cost: the sender's path is unchanged while no receiver is armed - the
 * check it always made (a fence, one load of the sleep flag) finds the
 * flag clear, and only a set flag is looked at further: one sendto per
 * wake-up, and then none until the receiver arms again. A bus publisher
 * with armed subscribers reads every subscriber record once per wake-up.
 * A handle with a descriptor is always woken: shmkit_ring_set_spin with a
 * negative spin then no longer tells the peer to skip its check (make the
 * descriptor before the messages flow: one sent while the descriptor is
 * being made may find the old busy-poll hint).
 *   Peer death: a dead process sends no wake-up, so the descriptor is an
 * epoll set holding the receiver's socket and a pidfd of its peer
 * (pidfd_open, Linux 5.3), readable once the peer exits; the try call then
 * returns SHMKIT_EPEERDEAD (within the rate limit of PEER DEATH above:
 * until then it returns -EAGAIN and the descriptor stays readable). The
 * peer is the producer of a single-producer ring, the consumer, the bus's
 * publisher. The death of one of a MULTI ring's producers wakes no one
 * (the others may still send; the last one's death is seen at the loop's
 * next try call, so a loop that must notice it watches a timer too), and
 * neither does a death before Linux 5.3.
 *   Blocking calls keep sleeping on the futex; a handle may mix both.
 * Closing the handle (or unsubscribing) closes its descriptor; the
 * descriptors are close-on-exec. Descriptors: two, three while a peer is
 * watched, and one more per process that wakes someone (kept for the
 * process's life, see shmkit/rpc.h).
 * ------------------------------------------------------------------------ */

/* The handle's descriptor for poll/epoll/select (made at the first call,
 * the same one afterwards; readable as EVENT LOOPS above says, EPOLLIN /
 * POLLIN). Do not read it or close it: the try calls drain it and closing
 * the handle closes it.
 * Errors: -EINVAL (NULL, or a ring handle without a role), -EOPNOTSUPP (a
 * producer of a SHMKIT_RING_MULTI ring), the errors of socket, bind,
 * epoll_create1 (-EMFILE: out of descriptors). */
SHMKIT_API int shmkit_ring_fd(shmkit_ring *r);
SHMKIT_API int shmkit_sub_fd(shmkit_sub *s);

/* ------------------------------------------------------------------------
 * STATISTICS (for `shmkit watch`, from any process)
 * ------------------------------------------------------------------------ */

struct shmkit_chan_stats {
    uint32_t layout;     /* SHMKIT_LAYOUT_RING or SHMKIT_LAYOUT_BUS                  */
    uint32_t flags;      /* ring: SHMKIT_RING_MULTI; bus: SHMKIT_BUS_LOSSY          */
    uint64_t capacity;   /* ring: data bytes; bus: slots                            */
    uint64_t msg_max;    /* largest message                                         */
    uint64_t used;       /* ring: bytes queued; bus: messages the slowest sub lags  */
    uint64_t msgs_in;    /* messages committed / published                          */
    uint64_t bytes_in;
    uint64_t msgs_out;   /* messages released / received (sum over subscribers)     */
    uint64_t bytes_out;
    uint64_t waits;      /* times any side went to sleep                            */
    uint64_t wakes;      /* wake-up system calls made                               */
    uint64_t overruns;   /* ring: times a producer found it full;                   */
                         /* bus: messages lost by subscribers (lossy)               */
    uint64_t takeovers;  /* dead producers/publishers replaced, dead subs dropped  */
    int32_t writer_pid;  /* producer (last one to commit on MULTI) / publisher      */
    int32_t writer_alive;
    int32_t reader_pid;  /* consumer; bus: 0                                        */
    int32_t reader_alive;
    uint32_t writers;    /* producers attached (MULTI ring), else 0/1              */
    uint32_t readers;    /* consumer (0/1) or subscribers joined                    */
    uint32_t max_readers;
    uint32_t pad;
    uint64_t reserved[8]; /* 0; room to grow without changing the size        */
};

/* Reads the statistics of the ring or bus in SEG (which may be opened
 * read-only) after validating its control block. Never writes.
 * Errors: -EINVAL (NULL), SHMKIT_ELAYOUT (neither a ring nor a bus, or a
 * RAW segment), SHMKIT_ECORRUPT, SHMKIT_EVERSION, or the errors of a
 * header read (SHMKIT_ETRUNCATED, SHMKIT_EBADHEADER, ...). Every field not
 * described, reserved[] included, is 0. */
SHMKIT_API int shmkit_chan_stats(const shmkit_seg *seg, struct shmkit_chan_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_CHANNEL_H */
