/*
 * shmkit/rpc.h - request/response between processes: one server, many
 * clients, each call matched to its answer.
 * Included by <shmkit.h>; do not include it directly.
 *
 * An RPC endpoint lives in one shmkit segment (layout "rpc"): a control
 * block, a bitmap of pending calls, and one slot per client, each with a
 * request area of max_request bytes and a response area of max_response
 * bytes. A client holds its slot through a claim word (as the channels'
 * roles, see PEER DEATH in shmkit/channel.h) and has at most one call in
 * flight; the server holds the endpoint through another claim word.
 *
 *     server                                 client
 *     shmkit_rpc_server_open(&s, &where,     shmkit_rpc_client_open(&c, &where,
 *                            &cfg);                                 &cfg);
 *     struct shmkit_rpc_request q;           char out[64];
 *     shmkit_rpc_recv(s, &q, -1);            n = shmkit_rpc_call(c, "lap 7", 5,
 *     ...read q.len bytes at q.data...                           out, 64, 1e9);
 *     shmkit_rpc_reply_send(s, &q, buf, n);
 *
 * Zero-copy both ways: a client lends its request area
 * (shmkit_rpc_request_loan -> fill -> shmkit_rpc_request_send) and reads
 * the response in place (shmkit_rpc_response_wait -> read ->
 * shmkit_rpc_response_release); the server reads the request in place
 * (shmkit_rpc_recv) and writes the response in place
 * (shmkit_rpc_reply_loan -> fill -> shmkit_rpc_reply_commit).
 *
 * A CALL'S LIFE. Each slot has one state word: idle, requested(seq),
 * taken(seq) (the server owns the request area and writes the response),
 * replied(seq). The client publishes a request with sequence number seq;
 * the server takes it with a compare-and-swap, and answers it with
 * another; the client waits for replied(seq) - so a response can never be
 * matched to the wrong request, and a stale one (a call the client gave
 * up on) is never taken for a new one. A request the server has not taken
 * yet can be withdrawn by its client (a timed-out shmkit_rpc_call does
 * that); one already taken is answered into the void, and the client's
 * next request waits (within its timeout) until the server is done with
 * the old one, so the server never sees a request change under it.
 *
 * FAIRNESS. The server takes the set of pending calls in one sweep and
 * serves it in slot order from a rotating start before it looks again: a
 * client calling back to back is served once per round, never ahead of
 * another client that was waiting. No client can starve another. What the
 * server cannot give is CPU time: a client that is not running cannot
 * call, so with more client processes than cores each one's share of the
 * calls is also the scheduler's doing (bench/README.md, bench_rpc's 64
 * clients: the share of calls, and the share per time spent queued).
 *
 * TIMEOUTS, SIGNALS: as for the channels (shmkit/channel.h): relative
 * nanoseconds, 0 = try once, negative = no limit; spin (cfg.spin_ns,
 * default 50 us for the server, 5 us for a client: a client spinning
 * while the server waits for a core takes that core from it), then sleep
 * on a futex, the other side making the wake-up system call only when
 * someone sleeps; -EINTR when a signal handler ran while asleep (nothing
 * is lost: call again).
 *
 * PEER DEATH. The server dies: every call of every client that is waiting
 * for it, and every later call, returns SHMKIT_EPEERDEAD - a waiting
 * client notices within one SHMKIT_CHAN_SLICE_NS (20 ms; a dead process
 * wakes no one, so parked clients ask every slice, and a spinning client
 * as often), a later call within the spin time. A call that was pending
 * when its server died reports SHMKIT_EPEERDEAD even if a new server has
 * taken the endpoint over meanwhile (the client remembers whose claim its
 * request went to). The server closes (shmkit_rpc_server_close): calls
 * waiting or made later return SHMKIT_ECLOSED until a server attaches
 * again. A new server takes over a dead (or closed) one's endpoint: calls
 * the dead server had taken are dropped (their clients got
 * SHMKIT_EPEERDEAD), calls it had not taken yet are served.
 * A client dies: its slot is reclaimed by the next client that opens (a
 * free slot is preferred, a dead client's slot taken back when none is
 * free); a response to a call it left pending is written into the slot
 * and dropped - the server is not told and never waits for the client.
 * A server never waits for a client: nothing a client does (or fails to
 * do) can block it.
 *
 * POLLABLE WAKE-UPS. shmkit_rpc_server_fd and shmkit_rpc_client_fd give
 * a descriptor that poll/epoll/select (libuv, libevent, GLib) can watch
 * beside sockets and timers: the server's becomes readable when a request
 * may be pending, the client's when the response to its pending call may
 * be there or the server died. The loop's contract: when the descriptor is
 * readable, call shmkit_rpc_recv (shmkit_rpc_response_wait) with timeout
 * 0 until it returns -EAGAIN; that -EAGAIN arms the descriptor, and only
 * then go back to epoll_wait. A request or response sent at any moment
 * after the try call looked - also between its -EAGAIN and the
 * epoll_wait - makes the descriptor readable: the try call arms first
 * (a flag in the segment, then a full fence) and looks again after, the
 * sender publishes first (then a full fence) and looks at the flag after,
 * so at least one of the two sees the other (the futex protocol of the
 * blocking calls, with a datagram instead of FUTEX_WAKE). A sender makes
 * no system call unless the flag says a receiver is armed: with the
 * receiver busy, sending costs what it costs without descriptors. The
 * descriptor may also be readable with nothing to read (a wake-up meant
 * for a call given up): the try call just returns -EAGAIN again.
 *   The mechanism: each receiver binds a datagram socket in the abstract
 * unix namespace (Linux), named by a 64-bit token it publishes in the
 * segment next to its sleep flag; a sender sends one byte to that name
 * from one socket per process (created at the first such wake, kept for
 * the life of the process, close-on-exec; connected to a receiver it
 * wakes twice in a row, which spares the name lookup). Why: an abstract
 * socket has no file to leave behind (a FIFO per receiver would leave one
 * in /dev/shm or /tmp at every crash, for `shmkit ls` and the cleaners to
 * trip over), goes away with its process, and needs no rendezvous (an
 * eventfd handed over SCM_RIGHTS needs a listening socket and an accept in
 * the receiver's loop, and every sender holds one descriptor per receiver
 * it ever woke, to be closed when that receiver dies); pidfd_getfd needs
 * ptrace rights over the receiver, which Yama's ptrace_scope 1 (the
 * Ubuntu and Debian default) refuses to unrelated processes. The cost: a
 * datagram per wake-up where an eventfd costs a write - measured with
 * nobody waiting, 1.8-2.1 us on a connected socket (2.8-3.2 us by name)
 * against 0.5-0.8 us: the socket layer's buffer and queueing, which no choice of
 * call removes - and the receiver's process pays one recv to drain
 * before it arms (not on the wake-up's path). The rest of a wake-up,
 * the sleeper's scheduling, is the same for both: send to epoll_wait
 * returning took 1.16-1.23x an eventfd's with the two processes on
 * different CPUs (1.5x unpinned, in a loaded run), 1.6-1.8x for ring and
 * bus descriptors, epoll sets inside the caller's (bench/README.md).
 * Limits: sender and receiver share a network namespace
 * (as they share a pid namespace, see Liveness in shmkit.h); anyone in it
 * can send to the name, which gives at most a spurious wake-up (the state
 * is in the segment, never in the datagram).
 *   A dead process wakes no one: the client's descriptor is an epoll set
 * holding its socket and, while a call is pending, a pidfd of the server
 * (pidfd_open, Linux 5.3; no ptrace rights needed), readable once the
 * server exits - the try call then returns SHMKIT_EPEERDEAD. The server
 * waits for no one. Descriptors: the server handle owns one, a client
 * handle two (three while it watches a server), each closed by
 * shmkit_rpc_*_close; a process that dies loses them with everything else
 * (no name or file outlives it); a peer's death never leaves one behind
 * in the survivor. The blocking calls keep using the futex; a handle may
 * mix both.
 *
 * HOSTILE BYTES: every index, length, sequence and state read from the
 * segment is copied once and checked; corruption gives SHMKIT_ECORRUPT,
 * never an out-of-bounds access or a hang.
 *
 * THREADS: a handle is used by one thread at a time (open one client
 * handle per thread that calls).
 *
 * FORK: as for channels (FORK in shmkit/channel.h), a handle belongs to the
 * process that opened it; a child opens its own, and closing an inherited
 * one frees the child's copy (memory, descriptors) and nothing else.
 */
#ifndef SHMKIT_RPC_H
#define SHMKIT_RPC_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/rpc.h>"
#endif

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmkit_rpc_server shmkit_rpc_server;
typedef struct shmkit_rpc_client shmkit_rpc_client;

/* Most clients an endpoint has slots for, and the largest request or
 * response. */
#define SHMKIT_RPC_MAX_CLIENTS 4096
#define SHMKIT_RPC_MSG_LIMIT (1u << 30)
/* Clients when cfg.max_clients is 0 at creation. */
#define SHMKIT_RPC_DEFAULT_CLIENTS 64

/* Geometry and policy of an endpoint. Zero-initialise, then set what you
 * need. */
struct shmkit_rpc_config {
    uint64_t max_request;  /* create: the largest request, 1..SHMKIT_RPC_MSG_LIMIT; */
                           /* open: 0, or the endpoint's must be >= it            */
    uint64_t max_response; /* the same for responses                              */
    uint32_t max_clients;  /* create: 1..SHMKIT_RPC_MAX_CLIENTS, 0 = 64;          */
                           /* open: 0 or equal                                    */
    uint32_t pad0_;        /* zero                                                */
    int64_t timeout_ns;    /* open without SHMKIT_CREATE: how long to wait for    */
                           /* another process to create the endpoint (0: try     */
                           /* once; negative: no limit)                           */
    int64_t spin_ns;       /* spin before sleeping: 0 = 50 us (server), 5 us      */
                           /* (client); negative: never                          */
                           /* sleep (busy-poll)                                   */
    uint64_t reserved[4];  /* zero, else -EINVAL                                  */
};

/* Payload bytes an endpoint of this geometry needs (pass as opts.size; the
 * _open calls do it for you). 0 for invalid geometry (a size 0 or above
 * SHMKIT_RPC_MSG_LIMIT, MAX_CLIENTS 0 or above SHMKIT_RPC_MAX_CLIENTS, or a
 * total above 2^62). */
SHMKIT_API size_t shmkit_rpc_size_for(size_t max_request, size_t max_response,
                                      unsigned max_clients);

/* Lays out an endpoint in SEG's payload (overwriting it) and records layout
 * "rpc" in the header: for segments you open yourself (an ANON segment
 * shared across fork, a MEMFD handed over a socket). Nobody is attached
 * afterwards. CFG: max_request, max_response, max_clients as above (the
 * other members are ignored, reserved must be zero). Errors: -EINVAL (NULL,
 * bad geometry, non-zero reserved), SHMKIT_EBADSIZE (payload smaller than
 * shmkit_rpc_size_for), -EBADF (read-only), errors of
 * shmkit_seg_set_layout. */
SHMKIT_API int shmkit_rpc_init(shmkit_seg *seg, const struct shmkit_rpc_config *cfg);

/* Opens or creates the endpoint WHERE describes (a shmkit_opts naming the
 * segment: kind, name, flags, mode; size 0 = shmkit_rpc_size_for(CFG);
 * layout 0 or SHMKIT_LAYOUT_RPC; init NULL - these calls install their
 * own) and attaches as its server (shmkit_rpc_server_open) or as a new
 * client (shmkit_rpc_client_open). With SHMKIT_CREATE in WHERE->flags the
 * first process to come creates and lays it out (one-time initialisation,
 * see INITIALISATION in shmkit.h: nobody sees it half done), the others
 * attach and check CFG against it; either side may come first. Without
 * SHMKIT_CREATE a missing endpoint is waited for up to CFG->timeout_ns.
 * The handle owns the segment: closing the handle closes it (removing it is
 * shmkit_seg_remove on shmkit_rpc_server_seg, or `shmkit rm`).
 * Errors:
 *   -EINVAL            NULL argument, bad CFG (create: no max_request or
 *                      max_response), WHERE with init or another layout,
 *                      RAW, RDONLY
 *   SHMKIT_EGEOMETRY   the existing endpoint is smaller than CFG asks
 *                      (max_request, max_response) or has another
 *                      max_clients (as the join calls of shmkit/channel.h)
 *   -ENOENT            no such endpoint and no SHMKIT_CREATE, CFG->timeout_ns 0
 *   -ETIMEDOUT         ... still none after CFG->timeout_ns (non-zero)
 *   -EINTR             a signal handler ran while it waited for one
 *   -EBUSY             server: a live server holds the endpoint
 *   -EUSERS            client: every slot is held by a live client
 *   SHMKIT_ELAYOUT, SHMKIT_ECORRUPT, SHMKIT_EVERSION  the segment is not
 *                      (or no longer) a valid endpoint
 *   any error of shmkit_open */
SHMKIT_API int shmkit_rpc_server_open(shmkit_rpc_server **srv, const struct shmkit_opts *where,
                                      const struct shmkit_rpc_config *cfg);
SHMKIT_API int shmkit_rpc_client_open(shmkit_rpc_client **cli, const struct shmkit_opts *where,
                                      const struct shmkit_rpc_config *cfg);

/* Attach to the endpoint in SEG (laid out by shmkit_rpc_init or an _open
 * call), which stays the caller's: close it after the handle. A server
 * replacing a dead or closed one takes the endpoint over (see PEER DEATH).
 * Errors: -EINVAL (NULL), SHMKIT_ELAYOUT, SHMKIT_ECORRUPT, SHMKIT_EVERSION,
 * -EBADF (read-only), -EBUSY (server: a live server is attached), -EUSERS
 * (client: no free slot), -ENOMEM, -EOVERFLOW (the caller's pid does not fit
 * a claim word: never on Linux), errors of shmkit_owner_self. */
SHMKIT_API int shmkit_rpc_server_attach(shmkit_rpc_server **srv, shmkit_seg *seg);
SHMKIT_API int shmkit_rpc_client_attach(shmkit_rpc_client **cli, shmkit_seg *seg);

/* Detach and free. Server: waiting and later calls get SHMKIT_ECLOSED
 * (parked clients are woken); requests taken and not answered are dropped.
 * Client: its slot is freed, a request not yet taken is withdrawn. A handle
 * from an _open call closes its segment too. Accept NULL. Return 0. */
SHMKIT_API int shmkit_rpc_server_close(shmkit_rpc_server *srv);
SHMKIT_API int shmkit_rpc_client_close(shmkit_rpc_client *cli);

/* The segment under a handle (NULL for NULL). */
SHMKIT_API shmkit_seg *shmkit_rpc_server_seg(const shmkit_rpc_server *srv);
SHMKIT_API shmkit_seg *shmkit_rpc_client_seg(const shmkit_rpc_client *cli);

/* Spin time before sleeping, as shmkit_ring_set_spin (negative: busy-poll). */
SHMKIT_API void shmkit_rpc_server_set_spin(shmkit_rpc_server *srv, int64_t spin_ns);
SHMKIT_API void shmkit_rpc_client_set_spin(shmkit_rpc_client *cli, int64_t spin_ns);

/* The endpoint's largest request and response, and the client's slot
 * number (0..max_clients-1). 0 (slot: -EINVAL) for NULL. */
SHMKIT_API size_t shmkit_rpc_max_request(const shmkit_rpc_client *cli);
SHMKIT_API size_t shmkit_rpc_max_response(const shmkit_rpc_client *cli);
SHMKIT_API int shmkit_rpc_client_slot(const shmkit_rpc_client *cli);

/* ------------------------------------------------------------------------
 * CLIENT
 * ------------------------------------------------------------------------ */

/* One call: sends LEN bytes of REQ, waits for the response and copies it
 * into RESP (CAP bytes). TIMEOUT_NS covers the whole call. Returns the
 * response length (0..max_response), or:
 *   -EINVAL            NULL handle, REQ NULL with LEN > 0, RESP NULL with
 *                      CAP > 0, a loan or an unreleased response is open
 *   SHMKIT_ETOOBIG     LEN > max_request
 *   -EMSGSIZE          the response is longer than CAP (it is dropped: the
 *                      call is over)
 *   -EAGAIN            TIMEOUT_NS == 0 and no response yet
 *   -ETIMEDOUT         no response within TIMEOUT_NS (the call is given up:
 *                      withdrawn if the server has not taken it, its
 *                      response dropped otherwise)
 *   SHMKIT_EPEERDEAD   the server died (or was replaced) while the call was
 *                      pending, or is dead now (see PEER DEATH)
 *   SHMKIT_ECLOSED     the server closed the endpoint
 *   SHMKIT_ECORRUPT    the slot's state or the response length is invalid
 *   -EINTR             a signal handler ran while asleep; the call is given
 *                      up as for -ETIMEDOUT */
SHMKIT_API int shmkit_rpc_call(shmkit_rpc_client *cli, const void *req, size_t len, void *resp,
                               size_t cap, int64_t timeout_ns);

/* Zero-copy request: lends the slot's request area (*P, 64-byte aligned,
 * LEN bytes; fill it, then shmkit_rpc_request_send). A previous call whose
 * response was not waited for is given up first; if the server is still
 * working on it, the loan waits up to TIMEOUT_NS for it to finish.
 * Errors: -EINVAL (NULL, a loan or an unreleased response open),
 * SHMKIT_ETOOBIG (LEN > max_request), -EAGAIN / -ETIMEDOUT (the server still
 * holds the previous request), SHMKIT_EPEERDEAD / SHMKIT_ECLOSED (the server
 * holding it died / closed), SHMKIT_ECORRUPT, -EINTR. */
SHMKIT_API int shmkit_rpc_request_loan(shmkit_rpc_client *cli, size_t len, void **p,
                                       int64_t timeout_ns);

/* Sends the loaned request with its final length LEN (<= loaned) and wakes
 * the server if it sleeps. Returns 0, or -EINVAL (no loan, LEN too long). */
SHMKIT_API int shmkit_rpc_request_send(shmkit_rpc_client *cli, size_t len);

/* Waits for the response to the request sent last and lends it in place
 * (*P, *LEN) until shmkit_rpc_response_release. A timeout (-EAGAIN,
 * -ETIMEDOUT) or -EINTR leaves the call pending: wait again, or give it up
 * by starting the next request. Errors: -EINVAL (NULL, nothing sent), the
 * waiting errors of shmkit_rpc_call (SHMKIT_EPEERDEAD, SHMKIT_ECLOSED:
 * the call is over; SHMKIT_ECORRUPT). Calling it again before the release
 * returns the same response. */
SHMKIT_API int shmkit_rpc_response_wait(shmkit_rpc_client *cli, const void **p, size_t *len,
                                        int64_t timeout_ns);

/* Ends the loan of the response. Returns 0 or -EINVAL (none lent). */
SHMKIT_API int shmkit_rpc_response_release(shmkit_rpc_client *cli);

/* ------------------------------------------------------------------------
 * SERVER
 * ------------------------------------------------------------------------ */

/* A request lent to the server: valid until it is answered. Several may be
 * held at once (one per client), answered in any order. */
struct shmkit_rpc_request {
    const void *data; /* the request bytes, in the client's slot        */
    size_t len;       /* 0..max_request                                 */
    uint32_t client;  /* slot number                                    */
    uint32_t gen;     /* the slot's claim generation (internal check)   */
    uint64_t seq;     /* the call's number in its slot                  */
    uint64_t claim;   /* the client's claim word when taken (internal)  */
};

/* Waits for the next request (round-robin over the clients, see FAIRNESS)
 * and lends it in *REQ; answer it with shmkit_rpc_reply_send or
 * shmkit_rpc_reply_loan/commit. Errors:
 *   -EINVAL            NULL argument
 *   -EAGAIN            TIMEOUT_NS == 0 and no request
 *   -ETIMEDOUT         no request within TIMEOUT_NS
 *   SHMKIT_ECORRUPT    a pending bit or a slot (state, length) is invalid;
 *                      that client's call ends with SHMKIT_ECORRUPT too
 *   -EINTR             a signal handler ran while asleep
 * A server is never told SHMKIT_EPEERDEAD: clients come and go. */
SHMKIT_API int shmkit_rpc_recv(shmkit_rpc_server *srv, struct shmkit_rpc_request *req,
                               int64_t timeout_ns);

/* Answers REQ with LEN bytes of BUF (copy). Returns 0; SHMKIT_EPEERDEAD
 * when the client was gone before the answer was published (closed, or its
 * slot was reclaimed: the response is dropped; one that leaves later, even
 * without reading it, got 0); -EINVAL (NULL, REQ not taken by this server or already
 * answered); SHMKIT_ETOOBIG (LEN > max_response); SHMKIT_ECORRUPT (the
 * slot's state was overwritten). After 0, SHMKIT_EPEERDEAD and
 * SHMKIT_ECORRUPT, REQ is answered: do not use it again; after -EINVAL or
 * SHMKIT_ETOOBIG it is still held: answer it again. */
SHMKIT_API int shmkit_rpc_reply_send(shmkit_rpc_server *srv, const struct shmkit_rpc_request *req,
                                     const void *buf, size_t len);

/* Zero-copy answer: lends REQ's response area (*P, 64-byte aligned, LEN
 * bytes), then shmkit_rpc_reply_commit publishes FINAL bytes of it
 * (<= LEN). The request bytes stay readable until the commit. loan: 0,
 * -EINVAL, SHMKIT_ETOOBIG. commit: as shmkit_rpc_reply_send. */
SHMKIT_API int shmkit_rpc_reply_loan(shmkit_rpc_server *srv, const struct shmkit_rpc_request *req,
                                     size_t len, void **p);
SHMKIT_API int shmkit_rpc_reply_commit(shmkit_rpc_server *srv,
                                       const struct shmkit_rpc_request *req, size_t len);

/* ------------------------------------------------------------------------
 * DESCRIPTORS FOR EVENT LOOPS (see POLLABLE WAKE-UPS above)
 * ------------------------------------------------------------------------ */

/* The handle's descriptor for poll/epoll/select (made at the first call,
 * the same one after; owned by the handle, closed by its close: do not
 * close it). Readable (POLLIN) when shmkit_rpc_recv /
 * shmkit_rpc_response_wait with timeout 0 may have something, once such a
 * call returned -EAGAIN. Errors: -EINVAL (NULL), -errno of socket, bind,
 * epoll_create1 (-EMFILE: out of descriptors). */
SHMKIT_API int shmkit_rpc_server_fd(shmkit_rpc_server *srv);
SHMKIT_API int shmkit_rpc_client_fd(shmkit_rpc_client *cli);

/* ------------------------------------------------------------------------
 * STATISTICS (for `shmkit info` / `shmkit ls`, from any process)
 * ------------------------------------------------------------------------ */

struct shmkit_rpc_stats {
    uint64_t max_request, max_response;
    uint32_t max_clients;
    uint32_t clients;      /* slots held (attached; a dead client's until reclaimed) */
    uint32_t pending;      /* requests sent and not yet taken by the server        */
    uint32_t serving;      /* requests taken and not yet answered                  */
    int32_t server_pid;    /* 0: no server attached                                */
    int32_t server_alive;
    uint64_t calls;        /* requests sent (sum over the slots)                   */
    uint64_t replies;      /* responses written                                    */
    uint64_t takeovers;    /* servers that replaced a dead one                     */
    uint64_t server_waits; /* times the server went to sleep                       */
    uint64_t lat_samples;  /* calls timed by their clients (see CALL LATENCY)      */
    uint64_t lat_sum_ns;   /* their round trips, summed, in nanoseconds            */
    uint64_t reserved[6];  /* 0 */
};

/* CALL LATENCY: one call in 64 of each client (by its slot's call count)
 * is timed by the client, the only side that knows when it sent and when
 * the answer came: CLOCK_MONOTONIC read before the request is published
 * and when shmkit_rpc_response_wait (or shmkit_rpc_call) first sees the
 * response, so an event loop's delay before it looks is included. The
 * other 63 calls read no clock: the cost on the call path is a mask and a
 * branch. A call that ends without a response (timeout, server death) adds
 * no sample. The round trip is added to two counters in the client's slot,
 * never reset (a later client of the slot adds to them, so they only grow
 * while the endpoint exists); shmkit_rpc_stats sums them over the slots.
 * Average latency over an interval: the difference of lat_sum_ns divided by
 * the difference of lat_samples (`shmkit watch` shows it). Each slot counts
 * its samples in 32 bits: the sum steps back when one slot passes 2^32
 * samples (2^38 calls of its clients); a reader seeing it step back starts
 * over. The counters come from shared memory: the sums saturate at
 * UINT64_MAX rather than wrap, and a pair read while a client updates it
 * may be off by one sample.
 *
 * Reads the statistics of the endpoint in SEG (which may be read-only)
 * after validating its control block; never writes. Errors: -EINVAL (NULL),
 * SHMKIT_ELAYOUT (not an endpoint, or RAW), SHMKIT_ECORRUPT, SHMKIT_EVERSION,
 * the errors of a header read. */
SHMKIT_API int shmkit_rpc_stats(const shmkit_seg *seg, struct shmkit_rpc_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_RPC_H */
