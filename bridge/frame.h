/*
 * frame.h - the bridge's wire format: one ZeroMQ message per shmkit
 * message, read by a parser that trusts nothing it receives.
 *
 * Version 2 (version 1 had no request/response kinds and no status),
 * little-endian, no padding:
 *
 *   off        size  field
 *   0          4     magic "SKBR"
 *   4          1     version (2)
 *   5          1     tlen: topic length, 1..255
 *   6          tlen  topic: the channel's name, "/ticks" (no NUL)
 *   6+tlen     1     kind: 1 bus, 2 ring, 3 request, 4 response
 *   +1         1     hops: bridges crossed before this one (0 at the origin)
 *   +2         2     status: a response's outcome (BRIDGE_RS_*), else zero
 *   +4         8     origin: id of the bridge that first sent the message
 *   +12        8     seq: the origin's sequence number on this topic (>= 1);
 *                    a request's call id, which its response repeats
 *   +20        4     len: payload bytes
 *   +24        4     crc: CRC-32C of the payload
 *   +28        4     hcrc: CRC-32C of every byte before this field
 *   6+tlen+32  len   payload
 *
 * The topic comes first, right after magic, version and length, so that a
 * SUB socket's prefix filter "SKBR\1\6/ticks" selects exactly one topic
 * (the length byte keeps "/ticks" from matching "/ticks2").
 */
#ifndef SHMKIT_BRIDGE_FRAME_H
#define SHMKIT_BRIDGE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define BRIDGE_FRAME_VERSION 2
#define BRIDGE_TOPIC_MAX 255
#define BRIDGE_FIXED 32 /* bytes after the topic, before the payload */
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
    BF_SHORT,   /* shorter than its header, or than its header says       */
    BF_LONG,    /* longer than its header says                            */
    BF_MAGIC,   /* not "SKBR"                                             */
    BF_VERSION, /* a version this bridge does not speak                   */
    BF_TOPIC,   /* topic length 0, or a topic that is not a channel name  */
    BF_HEADER,  /* header checksum, kind, status or seq 0                  */
    BF_CRC,     /* payload checksum                                       */
    BF_NERR
};

struct bridge_frame {
    const char *topic; /* points into the frame; NOT NUL-terminated */
    unsigned tlen;
    unsigned kind;
    unsigned hops;
    unsigned status; /* BRIDGE_RS_*: responses only, else 0 */
    uint64_t origin;
    uint64_t seq;
    const void *payload; /* points into the frame */
    uint32_t len;
};

/* Bytes a frame with a TLEN-byte topic and LEN payload bytes takes. */
static inline size_t bridge_frame_size(size_t tlen, size_t len)
{
    return 6 + tlen + BRIDGE_FIXED + len;
}

/* The subscription prefix of TOPIC (TLEN bytes, 1..255) into BUF (at least
 * BRIDGE_PREFIX_MAX bytes). Returns its length. */
size_t bridge_frame_prefix(void *buf, const char *topic, size_t tlen);

/* Writes the header of a frame into BUF, which holds bridge_frame_size(F->tlen,
 * F->len) bytes with the payload already at BUF + bridge_frame_size(F->tlen, 0)
 * (so the payload is copied once, straight into the outgoing message).
 * F->payload is ignored. Computes both checksums. */
void bridge_frame_seal(void *buf, const struct bridge_frame *f);

/* Parses N bytes at BUF into *F (pointers into BUF). Returns BF_OK or the
 * reason it refused the frame; never reads outside BUF[0..N). */
int bridge_frame_parse(const void *buf, size_t n, struct bridge_frame *f);

/* CRC-32C (Castagnoli) as shmkit_crc32c computes it, with the CPU's crc32
 * instruction where there is one (crc.c). */
uint32_t bridge_crc32c(uint32_t crc, const void *buf, size_t len);

/* The name of a refusal reason, for counters and logs ("short", "crc"). */
const char *bridge_frame_errname(int err);

#endif
