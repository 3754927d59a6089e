/*
 * frame.h - the bridge's wire format: one ZeroMQ message carries one or
 * more shmkit messages of one topic, read by a parser that trusts nothing
 * it receives.
 *
 * Version 3 (version 2 carried exactly one message per frame; version 1 had
 * no request/response kinds), little-endian, no padding:
 *
 *   off        size      field
 *   0          4         magic "SKBR"
 *   4          1         version (3)
 *   5          1         tlen: topic length, 1..255
 *   6          tlen      topic: the channel's name, "/ticks" (no NUL)
 *   h=6+tlen   1         kind: 1 bus, 2 ring, 3 request, 4 response
 *   h+1        1         hops: bridges crossed before this one (0 at the origin)
 *   h+2        2         status: a response's outcome (BRIDGE_RS_*), else zero
 *   h+4        8         origin: id of the bridge that first sent the messages
 *   h+12       4         count: messages in the frame, 1..BRIDGE_BATCH_MAX
 *                        (kinds other than bus: exactly 1)
 *   h+16       16*count  the table, one entry per message:
 *                          +0  8  seq: the origin's sequence number on this
 *                                 topic (>= 1); a request's call id, which
 *                                 its response repeats
 *                          +8  4  len: payload bytes
 *                          +12 4  crc: CRC-32C of the payload
 *   t=h+16+16*count  4   hcrc: CRC-32C of every byte before this field
 *   t+4        sum(len)  the payloads, in table order, back to back
 *
 * The frame ends exactly where the last payload does. Everything but the
 * payloads is covered by hcrc, checked before any field is used; each
 * payload is checked on its own, so one corrupt message in a frame costs
 * that message only (counted as bad_crc, its sequence number still known).
 *
 * A frame holding more than one message carries at most BRIDGE_BATCH_BYTES
 * payload bytes in all, so a receiver can bound what it accepts whatever
 * its own buses' message sizes; a frame of one message carries up to the
 * bus's message size.
 *
 * The topic comes first, right after magic, version and length, so that a
 * SUB socket's prefix filter "SKBR\3\6/ticks" selects exactly one topic
 * (the length byte keeps "/ticks" from matching "/ticks2").
 */
#ifndef SHMKIT_BRIDGE_FRAME_H
#define SHMKIT_BRIDGE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define BRIDGE_FRAME_VERSION 3
#define BRIDGE_TOPIC_MAX 255
#define BRIDGE_HEAD 16  /* bytes after the topic, before the table */
#define BRIDGE_ENTRY 16 /* bytes of one table entry */
/* bytes after the topic, before the payload, in a frame of one message */
#define BRIDGE_FIXED (BRIDGE_HEAD + BRIDGE_ENTRY + 4)
#define BRIDGE_BATCH_MAX 256      /* messages in one frame */
#define BRIDGE_BATCH_BYTES 65536  /* payload bytes in a frame of several messages */
#define BRIDGE_PREFIX_MAX (6 + BRIDGE_TOPIC_MAX)
#define BRIDGE_HOPS_MAX 16 /* a frame that crossed more bridges is dropped */

enum bridge_kind {
    BRIDGE_KIND_BUS = 1,
    BRIDGE_KIND_RING = 2,
    BRIDGE_KIND_REQUEST = 3,  /* an RPC call, calling bridge -> serving bridge */
    BRIDGE_KIND_RESPONSE = 4, /* its answer (or why there is none), back      */
};

/* A response's status: how the serving bridge's call to the real server
 * ended. Only BRIDGE_RS_OK carries an answer (the payload). */
enum bridge_rpc_status {
    BRIDGE_RS_OK = 0,
    BRIDGE_RS_DEAD,     /* the server died (SHMKIT_EPEERDEAD)                 */
    BRIDGE_RS_CLOSED,   /* the server closed the endpoint (SHMKIT_ECLOSED)    */
    BRIDGE_RS_NOSERVER, /* no endpoint by that name, or no free client slot   */
    BRIDGE_RS_TIMEOUT,  /* no answer within the serving bridge's --rpc-timeout */
    BRIDGE_RS_TOOBIG,   /* request or answer larger than an endpoint takes     */
    BRIDGE_RS_ERROR,    /* anything else (a corrupt endpoint)                 */
    BRIDGE_RS_MAX = BRIDGE_RS_ERROR
};

/* Why a frame was refused; also the index of its drop counter. */
enum bridge_frame_err {
    BF_OK = 0,
    BF_SHORT,   /* shorter than its header, or than its table says         */
    BF_LONG,    /* longer than its table says                              */
    BF_MAGIC,   /* not "SKBR"                                             */
    BF_VERSION, /* a version this bridge does not speak                   */
    BF_TOPIC,   /* topic length 0, or a topic that is not a channel name  */
    BF_HEADER,  /* header checksum; kind, status, count or a seq 0         */
    BF_CRC,     /* a payload's checksum (that message only)               */
    BF_NERR
};

/* A frame: its header, and one of its messages (seq, payload, len). */
struct bridge_frame {
    const char *topic; /* points into the frame; NOT NUL-terminated */
    unsigned tlen;
    unsigned kind;
    unsigned hops;
    unsigned status; /* BRIDGE_RS_*: responses only, else 0 */
    uint64_t origin;
    unsigned count;  /* messages in the frame (parsed), 1 (sealed) */
    /* the current message */
    uint64_t seq;
    const void *payload; /* points into the frame */
    uint32_t len;
    /* bridge_frame_next's place: the next table entry and payload */
    unsigned next;
    const unsigned char *tab, *pl;
};

/* Bytes a frame with a TLEN-byte topic and one LEN-byte message takes;
 * bridge_frame_size(TLEN, 0) is where that message's payload starts. */
static inline size_t bridge_frame_size(size_t tlen, size_t len)
{
    return 6 + tlen + BRIDGE_FIXED + len;
}

/* Bytes before the payloads of a frame of COUNT messages. */
static inline size_t bridge_frame_head_size(size_t tlen, unsigned count)
{
    return 6 + tlen + BRIDGE_HEAD + (size_t)BRIDGE_ENTRY * count + 4;
}

/* The largest frame a receiver whose messages are at most MSG_MAX bytes
 * must accept (BRIDGE_BATCH_BYTES above). */
static inline size_t bridge_frame_max(size_t msg_max)
{
    size_t one = bridge_frame_size(BRIDGE_TOPIC_MAX, msg_max);
    size_t many = bridge_frame_head_size(BRIDGE_TOPIC_MAX, BRIDGE_BATCH_MAX) + BRIDGE_BATCH_BYTES;
    return one > many ? one : many;
}

/* The subscription prefix of TOPIC (TLEN bytes, 1..255) into BUF (at least
 * BRIDGE_PREFIX_MAX bytes). Returns its length. */
size_t bridge_frame_prefix(void *buf, const char *topic, size_t tlen);

/* Writes the header of a one-message frame into BUF, which holds
 * bridge_frame_size(F->tlen, F->len) bytes with the payload already at
 * BUF + bridge_frame_size(F->tlen, 0) (so the payload is copied once,
 * straight into the outgoing message). F->payload and F->count are
 * ignored. Computes both checksums. */
void bridge_frame_seal(void *buf, const struct bridge_frame *f);

/* One message of a frame being built: its table entry. */
struct bridge_frame_entry {
    uint64_t seq;
    uint32_t len, crc; /* crc: bridge_crc32c(0, payload, len) */
};

/* Writes the header and table of a frame of COUNT messages (1..
 * BRIDGE_BATCH_MAX; ENT[i] describes message i, F's topic, kind, hops,
 * status and origin the frame) so that they END at HEAD_END: the caller
 * put the payloads, back to back, at HEAD_END. Returns where the frame
 * starts: HEAD_END - bridge_frame_head_size(F->tlen, COUNT). */
unsigned char *bridge_frame_seal_many(unsigned char *head_end, const struct bridge_frame *f,
                                      const struct bridge_frame_entry *ent, unsigned count);

/* Checks the N bytes at BUF as a frame: magic, version, header checksum,
 * topic, kind, status, count, every seq non-zero, and that the payloads
 * the table lists fill the rest exactly. Fills *F's header fields (pointers
 * into BUF) and readies bridge_frame_next; the payload checksums are not
 * checked yet. Returns BF_OK or the reason it refused the frame; never
 * reads outside BUF[0..N). */
int bridge_frame_open(const void *buf, size_t n, struct bridge_frame *f);

/* The next message of a frame bridge_frame_open accepted, into F->seq,
 * F->payload, F->len. Returns BF_OK, BF_CRC (its payload checksum failed:
 * F->seq is still the one the header checksum covered), or -1 when all
 * F->count were returned. */
int bridge_frame_next(struct bridge_frame *f);

/* bridge_frame_open for a frame that must hold one message (ring, request,
 * response: a bus frame of several messages is BF_HEADER here), then its
 * message with bridge_frame_next. Returns BF_OK or the reason. */
int bridge_frame_parse(const void *buf, size_t n, struct bridge_frame *f);

/* CRC-32C (Castagnoli) as shmkit_crc32c computes it, with the CPU's crc32
 * instruction where there is one (crc.c). */
uint32_t bridge_crc32c(uint32_t crc, const void *buf, size_t len);

/* The name of a refusal reason, for counters and logs ("short", "crc"). */
const char *bridge_frame_errname(int err);

#endif
