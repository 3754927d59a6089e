/* t_rpc_threads.c - ThreadSanitizer run of request/response: a server
 * thread (zero-copy replies on every other request) and four client
 * threads (copying calls and loans both ways, some given up with a try
 * call), then a server closing while clients wait. The ordering of every
 * shared access of the slot protocol is checked, not just the answers. */
#include "shmkit.h"
#include "tap.h"

#include <pthread.h>
#include <string.h>

#define N 5000
#define NCLI 4
#define SEC 1000000000LL

static shmkit_seg *seg;
static shmkit_rpc_server *srv;
static int stop;

static void *serve(void *arg)
{
    (void)arg;
    long bad = 0;
    for (uint64_t k = 0; !__atomic_load_n(&stop, __ATOMIC_ACQUIRE); k++) {
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(srv, &q, SEC / 100);
        if (rc == -ETIMEDOUT)
            continue;
        if (rc < 0) {
            bad++;
            continue;
        }
        /* answer: the request's words, each plus one */
        uint32_t w[16];
        size_t n = q.len / 4;
        memcpy(w, q.data, n * 4);
        for (size_t i = 0; i < n; i++)
            w[i]++;
        if (k & 1) {
            void *p;
            if (shmkit_rpc_reply_loan(srv, &q, n * 4, &p) < 0) {
                bad++;
                continue;
            }
            memcpy(p, w, n * 4);
            rc = shmkit_rpc_reply_commit(srv, &q, n * 4);
        } else {
            rc = shmkit_rpc_reply_send(srv, &q, w, n * 4);
        }
        bad += rc < 0;
    }
    return (void *)bad;
}

static void *call(void *arg)
{
    uint32_t id = (uint32_t)(uintptr_t)arg;
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, seg) < 0)
        return (void *)1000000;
    long bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t req[4] = {id, i, i * 7 + id, 42}, resp[16];
        if (i % 97 == 5) {
            /* given up at once: withdrawn or answered into the void */
            shmkit_rpc_call(c, req, sizeof req, resp, sizeof resp, 0);
            continue;
        }
        if (i & 1) {
            int rc = shmkit_rpc_call(c, req, sizeof req, resp, sizeof resp, 10 * SEC);
            bad += rc != (int)sizeof req || resp[0] != id + 1 || resp[1] != i + 1 ||
                   resp[2] != i * 7 + id + 1;
            continue;
        }
        void *p;
        if (shmkit_rpc_request_loan(c, sizeof req, &p, 10 * SEC) < 0) {
            bad++;
            continue;
        }
        memcpy(p, req, sizeof req);
        shmkit_rpc_request_send(c, sizeof req);
        const void *rp;
        size_t rl;
        if (shmkit_rpc_response_wait(c, &rp, &rl, 10 * SEC) < 0) {
            bad++;
            continue;
        }
        memcpy(resp, rp, rl < sizeof resp ? rl : sizeof resp);
        bad += rl != sizeof req || resp[1] != i + 1;
        shmkit_rpc_response_release(c);
    }
    shmkit_rpc_client_close(c);
    return (void *)bad;
}

static void *wait_closed(void *arg)
{
    (void)arg;
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, seg) < 0)
        return (void *)1;
    char r[8];
    int rc = shmkit_rpc_call(c, "x", 1, r, sizeof r, 10 * SEC);
    shmkit_rpc_client_close(c);
    return (void *)(long)(rc != SHMKIT_ECLOSED);
}

int main(void)
{
    tap_plan(3);
    struct shmkit_opts o = {.kind = SHMKIT_ANON,
                            .size = shmkit_rpc_size_for(64, 64, 8),
                            .flags = SHMKIT_CREATE};
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 64, .max_clients = 8};
    if (shmkit_open(&seg, &o) < 0 || shmkit_rpc_init(seg, &cfg) < 0 ||
        shmkit_rpc_server_attach(&srv, seg) < 0)
        tap_bail("setup");
    pthread_t s, c[NCLI];
    pthread_create(&s, NULL, serve, NULL);
    for (int i = 0; i < NCLI; i++)
        pthread_create(&c[i], NULL, call, (void *)(uintptr_t)i);
    long bad = 0;
    for (int i = 0; i < NCLI; i++) {
        void *r;
        pthread_join(c[i], &r);
        bad += (long)r;
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    void *sr;
    pthread_join(s, &sr);
    ok(bad == 0, "%d client threads x %d calls (copying, loans, given up): every answer right (%ld bad)",
       NCLI, N, bad);
    ok((long)sr == 0, "server thread: no error");
    /* a server closing while a client waits: SHMKIT_ECLOSED */
    pthread_t w;
    pthread_create(&w, NULL, wait_closed, NULL);
    struct shmkit_rpc_request q;
    shmkit_rpc_recv(srv, &q, 10 * SEC);
    shmkit_rpc_server_close(srv);
    void *wr;
    pthread_join(w, &wr);
    ok((long)wr == 0, "a waiting call sees the server's close");
    shmkit_close(seg);
    return tap_done();
}
