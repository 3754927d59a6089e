/*
 * bridge.h - what the files of libshmkit-bridge share (internal: the
 * library is used by shmkit-bridge and its tests, not installed).
 *
 * frame.c     the wire format and its parser (frame.h)
 * config.c    the command line into a struct bridge_cfg
 * local.c     the local buses: created or attached by name
 * pump_out.c  local buses -> network (XPUB), one thread; coalesces messages
 * pump_in.c   network (SUB) -> local buses, the main thread
 * pump_ring.c a ring carried point to point (PUSH/PULL), one thread each way
 * pump_rpc.c  request/response carried to a remote server (DEALER/ROUTER)
 * curve.c     CURVE keys and the ZAP handler that admits listed peers
 * stats.c     counters, the stats file and the statistics table (stats_table.h)
 * bridge.c    start, run, stop
 */
#ifndef SHMKIT_BRIDGE_H
#define SHMKIT_BRIDGE_H

#include "frame.h"
#include "stats_table.h"

#include <shmkit.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdint.h>

#define BRIDGE_MAX_CHANS 64
#define BRIDGE_MAX_EPS 16
#define BRIDGE_MAX_RINGS 16
#define BRIDGE_ORIGINS 8     /* origins remembered per imported topic */

enum bridge_dir { DIR_EXPORT = 1, DIR_IMPORT = 2 };

/* Counters: index into bridge_stats.v. */
enum bridge_ctr {
    C_OUT_MSGS,      /* bus messages handed to the network                   */
    C_OUT_BYTES,     /* their payload bytes                                  */
    C_IN_MSGS,       /* bus messages published into a local bus              */
    C_IN_BYTES,      /* their payload bytes                                  */
    C_BAD_SHORT,     /* refused frames, by reason (same order as BF_*); crc:  */
                     /* refused messages (one bad payload in a frame)        */
    C_BAD_LONG,
    C_BAD_MAGIC,
    C_BAD_VERSION,
    C_BAD_TOPIC,
    C_BAD_HEADER,
    C_BAD_CRC,
    C_DROP_LOOP,     /* our own frame came back                              */
    C_DROP_DUP,      /* a sequence number already seen from that origin      */
    C_DROP_HOPS,     /* crossed BRIDGE_HOPS_MAX bridges                      */
    C_DROP_UNKNOWN,  /* a topic we do not import, or the wrong kind          */
    C_DROP_TOOBIG,   /* longer than the local bus's msg_max                  */
    C_DROP_HWM,      /* network send queue full (the high-water mark)         */
    C_DROP_BUSFULL,  /* local bus still full after --publish-timeout          */
    C_LOCAL_LOST,    /* lost on a lossy local bus before the bridge read it   */
    C_NET_LOST,      /* gaps in an origin's sequence numbers                 */
    C_ORIGINS,       /* new origins seen (a bridge started or restarted)      */
    C_PEERS_OUT,     /* connections accepted on --bind endpoints, open now    */
    C_PEERS_IN,      /* connections made to --connect endpoints, open now     */
    C_CURVE_REFUSED, /* peers the ZAP handler refused                         */
    C_HANDSHAKE_FAILED, /* our connections whose handshake failed (bad key)   */
    C_ERRORS,        /* local channel errors (corrupt, dropped subscriber)    */
    C_RING_OUT_MSGS, /* ring messages sent (then released from the ring)     */
    C_RING_OUT_BYTES,
    C_RING_IN_MSGS,  /* ring messages written into a local ring              */
    C_RING_IN_BYTES,
    C_DROP_STALE,    /* ring: from a sending bridge replaced by a newer one   */
    C_RPC_CALLS,     /* rpc-out: local calls forwarded to the serving bridge  */
    C_RPC_REPLIES,   /* rpc-out: answers written back into callers' slots     */
    C_RPC_FAILED,    /* rpc-out: calls ended with an error for their caller   */
    C_RPC_TIMEOUTS,  /* rpc-out: calls with no response within --rpc-timeout  */
    C_RPC_LINK_DOWN, /* rpc-out: link lost (or unsendable) with calls in flight */
    C_RPC_LATE,      /* rpc-out: responses to no call in flight (dropped)     */
    C_RPC_CAP,       /* rpc-out: times --rpc-inflight calls held others back  */
    C_RPC_SERVED,    /* rpc-in: calls made to the local server                */
    C_RPC_SERVE_ERR, /* rpc-in: of those, failed (the status sent back)       */
    C_RPC_DROPPED,   /* rpc-in: responses the calling bridge was not there for */
    C_OUT_FRAMES,    /* bus frames handed to the network (out_msgs: messages) */
    C_IN_FRAMES,     /* bus frames received that passed the frame checks      */
    C_NCTR
};

struct bridge_stats {
    uint64_t v[C_NCTR]; /* updated with relaxed atomics; read from any thread */
};

static inline void ctr_add(struct bridge_stats *s, int c, uint64_t n)
{
    /* relaxed: counters are read for display only, never to synchronise */
    __atomic_fetch_add(&s->v[c], n, __ATOMIC_RELAXED);
}

static inline void ctr_set(struct bridge_stats *s, int c, uint64_t n)
{
    __atomic_store_n(&s->v[c], n, __ATOMIC_RELAXED);
}

static inline uint64_t ctr_get(const struct bridge_stats *s, int c)
{
    return __atomic_load_n(&s->v[c], __ATOMIC_RELAXED);
}

const char *bridge_ctr_name(int c);

struct bridge_origin {
    uint64_t id, last_seq;
};

/* One local channel and the state of both directions on it. */
struct bridge_chan {
    char name[BRIDGE_TOPIC_MAX + 1];  /* the local bus                      */
    char topic[BRIDGE_TOPIC_MAX + 1]; /* its name on the wire (default: NAME) */
    unsigned tlen;
    int dirs;            /* DIR_EXPORT | DIR_IMPORT */
    shmkit_seg *seg;
    shmkit_bus *pub;     /* import: the bridge publishes the network's messages */
    shmkit_sub *sub;     /* export: the bridge reads what local programs publish */
    size_t msg_max;
    uint64_t seq;        /* export: our sequence number on this topic */
    struct bridge_origin origins[BRIDGE_ORIGINS]; /* import: per-origin last seq */
    unsigned next_origin;
    /* Forwarding (a channel both imported and exported): what the import
     * side published at bus sequence S, so that the export side sends it on
     * with its first origin and sequence instead of as its own. Written by
     * the import thread before shmkit_bus_publish, read by the export thread
     * after peeking S (the bus publish orders the two). */
    struct {
        uint64_t bus_seq, origin, seq, hops;
    } *fwd;
    uint64_t nfwd; /* entries: the bus's slot count (a power of two) */
};

struct bridge_cfg {
    char *binds[BRIDGE_MAX_EPS];
    int nbind;
    char *connects[BRIDGE_MAX_EPS];
    int nconnect;
    char *buses[BRIDGE_MAX_CHANS]; /* --bus: direction from bind/connect */
    int nbus;
    char *exports[BRIDGE_MAX_CHANS];
    int nexport;
    char *imports[BRIDGE_MAX_CHANS];
    int nimport;
    /* geometry of a bus the bridge creates */
    uint64_t slots, msg_max;
    unsigned max_subs;
    int lossy;
    int hwm;                /* messages queued per peer, each way */
    int publish_timeout_ms; /* how long an import waits for room in a full bus */
    int send_timeout_ms;    /* how long an export waits for a full peer queue (0: drop) */
    const char *curve_secret, *curve_allow, *curve_server;
    int insecure;
    char *ring_out[BRIDGE_MAX_RINGS]; /* "NAME[=/TOPIC]@ENDPOINT" */
    int nring_out;
    char *ring_in[BRIDGE_MAX_RINGS];
    int nring_in;
    uint64_t ring_cap; /* data bytes of a ring the bridge creates */
    char *rpc_out[BRIDGE_MAX_RINGS]; /* "NAME[=/TOPIC]@ENDPOINT" */
    int nrpc_out;
    char *rpc_in[BRIDGE_MAX_RINGS];
    int nrpc_in;
    uint64_t rpc_msg_max;  /* request and response bytes of an endpoint we create */
    int rpc_timeout_ms;    /* a forwarded call's limit */
    int rpc_inflight;      /* calls in flight per --rpc-out */
    const char *stats_file;
    double stats_interval;
    const char *stats_name; /* the statistics table; NULL: /shmkit-bridge-PID; "none" */
    uint64_t id; /* origin id; 0 = random */
    int verbose;
};

struct bridge;

/* A ring carried one way: its own thread and socket. */
struct bridge_ring {
    struct bridge *b;
    int dir; /* DIR_EXPORT: local ring -> PUSH; DIR_IMPORT: PULL -> local ring */
    char name[BRIDGE_TOPIC_MAX + 1], topic[BRIDGE_TOPIC_MAX + 1];
    unsigned tlen;
    const char *ep;
    shmkit_seg *seg;
    shmkit_ring *r;
    void *sock, *mon;
    uint64_t seq;
    struct bridge_origin origin; /* import: the current origin and its seq */
    uint64_t retired[8];         /* import: origins replaced by a newer one */
    unsigned nretired;
    pthread_t thread;
    int started;
};

struct bridge_call {
    uint64_t id;
    double deadline;
    struct shmkit_rpc_request q;
};

/* Request/response carried one way: its own thread and socket.
 * DIR_EXPORT (--rpc-out): the bridge serves the local endpoint and its
 * DEALER forwards each call; DIR_IMPORT (--rpc-in): its ROUTER takes the
 * calls and the bridge makes them as a client of the local endpoint. */
struct bridge_rpc {
    struct bridge *b;
    int dir;
    char name[BRIDGE_TOPIC_MAX + 1], topic[BRIDGE_TOPIC_MAX + 1];
    unsigned tlen;
    const char *ep;
    shmkit_seg *seg; /* rpc-out: the endpoint, for re-attaching */
    shmkit_rpc_server *srv;
    shmkit_rpc_client *cli;
    void *sock, *mon;
    uint64_t next_id;
    int links;                 /* rpc-out: connections up (monitor events) */
    struct bridge_call *calls; /* in flight, at most cfg.rpc_inflight */
    int ncalls;
    pthread_t thread;
    int started;
};

/* pump_rpc.c: as the ring's three. */
int bridge_rpc_open(struct bridge_rpc *r);
int bridge_rpc_start(struct bridge_rpc *r);
void bridge_rpc_close(struct bridge_rpc *r);

/* pump_ring.c: opens ring R's local ring and socket (0, or an exit status
 * after printing why), runs it in a thread, stops and closes it. */
int bridge_ring_open(struct bridge_ring *r);
int bridge_ring_start(struct bridge_ring *r);
void bridge_ring_close(struct bridge_ring *r);

/* config.c: parses ARGV into CFG. Returns -1 to go on, else the exit
 * status (after printing help, a version or a usage error). */
int bridge_parse_args(struct bridge_cfg *cfg, int argc, char **argv);
void bridge_usage(FILE *f);

/* Splits a channel argument "NAME" or "NAME=/TOPIC" (the local bus NAME
 * carried on the wire as TOPIC) into LOCAL and TOPIC (each
 * BRIDGE_TOPIC_MAX + 1 bytes). Returns 0, or -1 when either part is not a
 * channel name. */
int bridge_split_name(const char *arg, char *local, char *topic);

/* The ENDPOINT of a checked "NAME@ENDPOINT" ring argument. */
const char *bridge_ring_endpoint(const char *arg);

/* Whether every endpoint in CFG stays on this machine (loopback, ipc,
 * inproc): CURVE may then be off. */
int bridge_all_local(const struct bridge_cfg *cfg);

/* local.c: opens (creating if missing) the bus NAME for C's directions. */
int bridge_local_open(struct bridge_chan *c, const struct bridge_cfg *cfg);
void bridge_local_close(struct bridge_chan *c);

/* curve.c */
struct bridge_curve {
    int on;
    char secret[41], public_[41], server[41]; /* Z85 */
    unsigned char (*allow)[32];
    int nallow;
    void *zap; /* REP socket on inproc://zeromq.zap.01 */
};
int bridge_curve_load(struct bridge_curve *cv, const struct bridge_cfg *cfg, char *err, size_t errlen);
int bridge_curve_server(const struct bridge_curve *cv, void *sock);
int bridge_curve_client(const struct bridge_curve *cv, void *sock);
int bridge_zap_start(struct bridge_curve *cv, void *ctx);
/* Answers one pending ZAP request (call when cv->zap is readable). */
void bridge_zap_serve(struct bridge_curve *cv, struct bridge_stats *st);
void bridge_curve_free(struct bridge_curve *cv);
/* Writes a new key pair to PREFIX.secret (0600) and PREFIX.public. */
int bridge_keygen(const char *prefix);

/* stats.c: writes the counters to PATH (atomically: PATH.tmp, rename). */
int bridge_stats_write(const struct bridge *b, const char *path);
/* stats.c: the live statistics table (stats_table.h): made (or a dead
 * bridge's taken over) and its record claimed, with the links described;
 * 0, or an exit status after printing why (1: a live bridge holds that
 * name). _update rewrites the record; _close removes the table. */
#define BRIDGE_STATS_TABLE_MS 100 /* how often the main loop rewrites the record */
int bridge_stats_table_open(struct bridge *b);
void bridge_stats_table_update(struct bridge *b);
void bridge_stats_table_close(struct bridge *b);

/* The running bridge. */
struct bridge {
    struct bridge_cfg cfg;
    struct bridge_stats st;
    uint64_t id;
    struct bridge_chan chans[2 * BRIDGE_MAX_CHANS]; /* exports + imports */
    int nchan, nexport, nimport;
    void *ctx;
    void *xpub, *xpub_mon; /* export side, owned by the out thread */
    void *sub, *sub_mon;   /* import side, owned by the main thread */
    struct bridge_curve curve;
    struct bridge_ring rings[2 * BRIDGE_MAX_RINGS];
    int nring;
    struct bridge_rpc rpcs[2 * BRIDGE_MAX_RINGS];
    int nrpc;
    volatile sig_atomic_t *stop;
    shmkit_table *stab;           /* the statistics table, NULL: none */
    struct bst_record *srec;      /* its record, links filled in at open */
};

/* pump_out.c: the export thread's body (ARG: struct bridge *). */
void *bridge_pump_out(void *arg);
/* pump_in.c: handles one frame from the network. */
void bridge_pump_in_frame(struct bridge *b, const void *buf, size_t n);
/* One monitor event from MON: adjusts the peer counter C. Returns the
 * event (ZMQ_EVENT_*), 0 when there was none. */
int bridge_monitor_event(struct bridge *b, void *mon, int c);

/* bridge.c */
int bridge_run(struct bridge *b, volatile sig_atomic_t *stop);

#endif
