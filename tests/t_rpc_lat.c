/* t_rpc_lat.c - the clients' sampled call latency (CALL LATENCY in
 * shmkit/rpc.h): one call in 64 of a slot is timed, copying and zero-copy
 * calls alike, calls that end without a response add nothing, a later
 * client of the slot adds to what the first one counted, several clients
 * are summed, and hostile counters in the slots saturate the sums instead
 * of wrapping. No timing is asserted but a lower bound the server forces
 * (it sleeps before it answers). Named cases (tu_case.h): --list. */
#include "tu_case.h"
#include "tu_rpc.h"
#include "tu_ring.h"
#include "tu_seg.h"
#include "tu_sync.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MS 1000000LL
#define SLEEP_NS 200000L /* the server's pause before each answer */

static shmkit_seg *seg;

static void cleanup(void)
{
    shmkit_close(seg);
}

/* An ANON endpoint of 64-byte requests and responses, shared across fork. */
static void setup(unsigned clients)
{
    atexit(cleanup);
    seg = tu_rpc_anon(clients);
}

/* Answers N requests (echo), each after SLEEP_NS (ARG non-NULL) or at once. */
static int server(void *arg, int n)
{
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return 2;
    for (int k = 0; k < n; k++) {
        struct shmkit_rpc_request q;
        if (shmkit_rpc_recv(s, &q, 10000 * MS) < 0)
            return 3;
        if (arg)
            nanosleep(&(struct timespec){0, SLEEP_NS}, NULL);
        int rc = shmkit_rpc_reply_send(s, &q, q.data, q.len);
        if (rc < 0 && rc != SHMKIT_EPEERDEAD)
            return 4;
    }
    shmkit_rpc_server_close(s);
    return 0;
}

static struct shmkit_rpc_stats stats(void)
{
    struct shmkit_rpc_stats st;
    if (shmkit_rpc_stats(seg, &st) < 0)
        tap_bail("rpc stats");
    return st;
}

static int calls(shmkit_rpc_client *c, int n, int zero_copy)
{
    int good = 0;
    for (int i = 0; i < n; i++) {
        char req[8] = "latency", resp[64];
        if (!zero_copy) {
            good += shmkit_rpc_call(c, req, sizeof req, resp, sizeof resp, 10000 * MS) == 8;
            continue;
        }
        void *p;
        const void *rp;
        size_t rl;
        if (shmkit_rpc_request_loan(c, sizeof req, &p, 10000 * MS) < 0)
            continue;
        memcpy(p, req, sizeof req);
        shmkit_rpc_request_send(c, sizeof req);
        if (shmkit_rpc_response_wait(c, &rp, &rl, 10000 * MS) == 0) {
            good += rl == 8;
            shmkit_rpc_response_release(c);
        }
    }
    return good;
}

static void sampled(void)
{
    setup(4);
    pid_t srv = tu_spawn_fn(server, "slow", 64 * 5);
    shmkit_rpc_client *c;
    ok(shmkit_rpc_client_attach(&c, seg) == 0, "client attached");
    struct shmkit_rpc_stats st = stats();
    ok(st.lat_samples == 0 && st.lat_sum_ns == 0, "a new endpoint: no samples");
    ok(calls(c, 63, 0) == 63, "63 copying calls answered");
    ok(stats().lat_samples == 0, "63 calls: none timed yet");
    ok(calls(c, 1, 0) == 1 && stats().lat_samples == 1, "the 64th call is timed");
    ok(calls(c, 64 * 2, 1) == 128 && stats().lat_samples == 3, "128 zero-copy calls: 2 more samples");
    ok(calls(c, 64 * 2 - 1, 0) == 127 && stats().lat_samples == 4, "127 more copying calls: 4 samples in 319 calls");
    st = stats();
    ok(st.lat_sum_ns >= (uint64_t)SLEEP_NS * st.lat_samples,
       "each sample covers at least the server's %ld ns pause (average %llu ns)", SLEEP_NS,
       st.lat_samples ? (unsigned long long)(st.lat_sum_ns / st.lat_samples) : 0ull);
    ok(st.calls == 319 && st.replies == 319, "calls and replies counted as before (%llu)",
       (unsigned long long)st.calls);
    ok(calls(c, 1, 0) == 1 && stats().lat_samples == 5, "call 320: the 5th sample");
    ok(tu_wait_exit(srv) == 0, "server answered every call");
    shmkit_rpc_client_close(c);
}

/* A timed call that gets no response adds no sample; the slot's next
 * client goes on counting. */
static void unanswered(void)
{
    setup(2);
    shmkit_rpc_client *c;
    ok(shmkit_rpc_client_attach(&c, seg) == 0, "client attached");
    char req[8] = "x", resp[64];
    int timed_out = 0;
    for (int i = 0; i < 64; i++)
        timed_out += shmkit_rpc_call(c, req, 1, resp, sizeof resp, 1 * MS) == -ETIMEDOUT;
    ok(timed_out == 64, "no server: 64 calls time out");
    struct shmkit_rpc_stats st = stats();
    ok(st.lat_samples == 0 && st.lat_sum_ns == 0, "the timed one (64th) added no sample");
    shmkit_rpc_client_close(c);

    pid_t srv = tu_spawn_fn(server, NULL, 64);
    ok(shmkit_rpc_client_attach(&c, seg) == 0 && shmkit_rpc_client_slot(c) == 0,
       "a new client takes the same slot");
    ok(calls(c, 64, 0) == 64, "64 calls answered");
    ok(stats().lat_samples == 1, "its 64th call (the slot's 128th) is timed: 1 sample");
    ok(tu_wait_exit(srv) == 0, "server done");
    shmkit_rpc_client_close(c);
}

/* Several clients: the sums cover every slot. */
static int client_proc(void *arg, int n)
{
    (void)arg;
    shmkit_rpc_client *c;
    if (shmkit_rpc_client_attach(&c, seg) < 0)
        return 2;
    int good = calls(c, n, n & 1);
    shmkit_rpc_client_close(c);
    return good == n ? 0 : 3;
}

static void many_clients(void)
{
    setup(8);
    pid_t srv = tu_spawn_fn(server, NULL, 8 * 192);
    pid_t cli[8];
    for (int i = 0; i < 8; i++)
        cli[i] = tu_spawn_fn(client_proc, NULL, 192);
    int good = 0;
    for (int i = 0; i < 8; i++)
        good += tu_wait_exit(cli[i]) == 0;
    ok(good == 8, "8 client processes made 192 calls each");
    ok(tu_wait_exit(srv) == 0, "server answered all");
    struct shmkit_rpc_stats st = stats();
    ok(st.lat_samples == 8 * 3, "3 samples per client, summed over the slots: %llu",
       (unsigned long long)st.lat_samples);
    ok(st.lat_sum_ns > 0, "their latency summed");
}

/* Counters scribbled by a hostile process: the sums saturate, no crash. */
static void hostile(void)
{
    setup(4);
    unsigned char *base = shmkit_seg_data(seg);
    size_t slots_off = 256 + 64, slot_size = 64 + 64 + 64;
    for (unsigned i = 0; i < 4; i++) {
        unsigned char *sl = base + slots_off + i * slot_size;
        uint32_t n = UINT32_MAX;
        uint64_t sum = UINT64_MAX - 1;
        memcpy(sl + 52, &n, 4);   /* lat_samples */
        memcpy(sl + 56, &sum, 8); /* lat_sum_ns */
    }
    struct shmkit_rpc_stats st;
    ok(shmkit_rpc_stats(seg, &st) == 0, "stats of scribbled latency counters: 0");
    ok(st.lat_samples == 4ull * UINT32_MAX, "samples summed in 64 bits (%llu)",
       (unsigned long long)st.lat_samples);
    ok(st.lat_sum_ns == UINT64_MAX, "the sum saturates at UINT64_MAX instead of wrapping");
    ok(st.clients == 0 && st.pending == 0 && st.calls == 0, "nothing else changed");
}

static const struct tu_case cases[] = {{"sampled", sampled, 0},
                                       {"unanswered", unanswered, 0},
                                       {"many_clients", many_clients, 0},
                                       {"hostile", hostile, 0},
                                       {NULL, NULL, 0}};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
