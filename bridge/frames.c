/* frames.c - bridge-frames: sends hand-made multi-message frames (frame
 * version 3) to an importing bridge, for tests/t_bridge_batch.t. Not
 * installed.
 *
 *   bridge-frames EP TOPIC    bind an XPUB at EP, wait for the bridge's
 *                             subscription, send the frames below on TOPIC
 *                             (origin 0xba7c), print "sent=N"
 *
 * The payloads are bridge-tool's self-checking messages (application seq,
 * CRC-32C, pattern; 40 bytes), numbered as the frames' seq, so that
 * `bridge-tool sub` checks what was delivered:
 *   1. seq 1..3, one frame
 *   2. seq 4..8, seq 6's payload corrupt under a good header checksum
 *   3. seq 9..264: BRIDGE_BATCH_MAX messages in one frame
 *   4. seq 265..266 in a frame of version 2 (refused whole)
 *   5. seq 267, 267 again, 268 (the repeat: a duplicate)
 *   6. seq 269 alone
 * Delivered: 266 (1-5, 7-264, 267, 268, 269); the bridge counts bad_crc 1,
 * bad_version 1, drop_dup 1, net_lost 2 (265, 266: the gap the refused
 * frame left).
 */
#include "frame.h"
#include "testmsg.h"

#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

enum { LEN = 40 };

static unsigned char buf[1 << 16];
static struct bridge_frame_entry ent[BRIDGE_BATCH_MAX];

/* Builds a frame of the messages SEQ[0..N) on TOPIC; CORRUPT: the index of
 * a message whose payload is changed after its CRC was taken (-1: none).
 * Sends it on S. */
static void send_frame(void *s, const char *topic, const uint64_t *seq, unsigned n, int corrupt,
                       int version)
{
    struct bridge_frame f = {.topic = topic, .tlen = (unsigned)strlen(topic),
                             .kind = BRIDGE_KIND_BUS, .origin = 0xba7c};
    unsigned char *pl = buf + bridge_frame_head_size(BRIDGE_TOPIC_MAX, BRIDGE_BATCH_MAX);
    for (unsigned i = 0; i < n; i++) {
        unsigned char *p = pl + (size_t)LEN * i;
        bridge_testmsg_fill(p, LEN, seq[i]);
        ent[i] = (struct bridge_frame_entry){seq[i], LEN, bridge_crc32c(0, p, LEN)};
        if ((int)i == corrupt)
            p[LEN - 1] ^= 0x20;
    }
    unsigned char *start = bridge_frame_seal_many(pl, &f, ent, n);
    start[4] = (unsigned char)version;
    if (zmq_send(s, start, (size_t)(pl - start) + (size_t)LEN * n, 0) < 0) {
        fprintf(stderr, "bridge-frames: send: %s\n", zmq_strerror(errno));
        exit(2);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: bridge-frames ENDPOINT TOPIC\n");
        return 1;
    }
    const char *t = argv[2];
    void *ctx = zmq_ctx_new();
    void *s = zmq_socket(ctx, ZMQ_XPUB);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    char sub[300];
    if (zmq_bind(s, argv[1]) < 0 || zmq_recv(s, sub, sizeof sub, 0) < 0) {
        fprintf(stderr, "bridge-frames: %s: %s\n", argv[1], zmq_strerror(errno));
        return 2;
    }
    usleep(100000); /* the subscription is in force */
    static uint64_t q[BRIDGE_BATCH_MAX];
    int sent = 0;
    send_frame(s, t, (uint64_t[]){1, 2, 3}, 3, -1, BRIDGE_FRAME_VERSION), sent++;
    send_frame(s, t, (uint64_t[]){4, 5, 6, 7, 8}, 5, 2, BRIDGE_FRAME_VERSION), sent++;
    for (unsigned i = 0; i < BRIDGE_BATCH_MAX; i++)
        q[i] = 9 + i;
    send_frame(s, t, q, BRIDGE_BATCH_MAX, -1, BRIDGE_FRAME_VERSION), sent++;
    send_frame(s, t, (uint64_t[]){265, 266}, 2, -1, 2), sent++;
    send_frame(s, t, (uint64_t[]){267, 267, 268}, 3, -1, BRIDGE_FRAME_VERSION), sent++;
    send_frame(s, t, (uint64_t[]){269}, 1, -1, BRIDGE_FRAME_VERSION), sent++;
    usleep(300000);
    printf("sent=%d\n", sent);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}
