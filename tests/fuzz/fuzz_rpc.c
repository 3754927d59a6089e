/* fuzz_rpc.c - random bytes as a request/response endpoint's payload
 * (control block, pending bitmap, slot headers and areas): stats, client
 * attach, try calls and loans both ways, server attach (which adopts what
 * a "dead" server left), recv and replies must return codes, never touch
 * memory outside the segment, never wait (every call is a try). The first
 * byte picks the mode (bit 7: keep the geometry line, so that the hostile
 * bytes reach the claim words, the state words, the lengths and the
 * bitmap). */
#include "shmkit.h"

#include <errno.h>
#include <string.h>

#define MAXMSG 64
#define CLIENTS 4

static shmkit_seg *seg;

static void serve(unsigned mode)
{
    shmkit_rpc_server *s = NULL;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return;
    for (int i = 0; i < 8; i++) {
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(s, &q, 0);
        if (rc == -EAGAIN)
            break;
        if (rc < 0)
            continue;
        volatile unsigned sum = 0;
        for (size_t k = 0; k < q.len; k++)
            sum += ((const unsigned char *)q.data)[k];
        (void)sum;
        if (mode & 4) {
            void *p;
            if (shmkit_rpc_reply_loan(s, &q, MAXMSG, &p) == 0) {
                memset(p, 0x5a, MAXMSG);
                shmkit_rpc_reply_commit(s, &q, (size_t)i);
            }
        } else {
            shmkit_rpc_reply_send(s, &q, "answer", 6);
        }
    }
    shmkit_rpc_server_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!seg) {
        struct shmkit_opts o = {.kind = SHMKIT_ANON,
                                .size = shmkit_rpc_size_for(MAXMSG, MAXMSG, CLIENTS),
                                .flags = SHMKIT_CREATE};
        if (shmkit_open(&seg, &o) < 0)
            __builtin_trap();
    }
    if (size < 1)
        return 0;
    unsigned mode = data[0];
    struct shmkit_rpc_config cfg = {
        .max_request = MAXMSG, .max_response = MAXMSG, .max_clients = CLIENTS};
    if (shmkit_rpc_init(seg, &cfg) < 0)
        __builtin_trap();
    size_t n = size - 1 < shmkit_seg_size(seg) ? size - 1 : shmkit_seg_size(seg);
    unsigned char geo[64];
    memcpy(geo, shmkit_seg_data(seg), sizeof geo);
    memcpy(shmkit_seg_data(seg), data + 1, n);
    if (mode & 0x80)
        memcpy(shmkit_seg_data(seg), geo, sizeof geo);

    struct shmkit_rpc_stats st;
    shmkit_rpc_stats(seg, &st);
    if (mode & 8)
        serve(mode); /* first: what the hostile bitmap and slots say */
    shmkit_rpc_client *c = NULL;
    if (shmkit_rpc_client_attach(&c, seg) == 0) {
        char buf[MAXMSG];
        for (int i = 0; i < 4; i++) {
            if (mode & 2) {
                void *p;
                if (shmkit_rpc_request_loan(c, (size_t)i * 9, &p, 0) == 0) {
                    memset(p, i, (size_t)i * 9);
                    shmkit_rpc_request_send(c, (size_t)i * 9);
                }
                if (mode & 16)
                    serve(mode);
                const void *rp;
                size_t rl;
                if (shmkit_rpc_response_wait(c, &rp, &rl, 0) == 0) {
                    volatile unsigned sum = 0;
                    for (size_t k = 0; k < rl; k++)
                        sum += ((const unsigned char *)rp)[k];
                    (void)sum;
                    shmkit_rpc_response_release(c);
                }
            } else {
                shmkit_rpc_call(c, data, size < MAXMSG ? size : MAXMSG, buf, sizeof buf, 0);
                if (mode & 16)
                    serve(mode);
            }
        }
        shmkit_rpc_client_close(c);
    }
    serve(mode);
    return 0;
}
