/* t_rpc_basic.c - request/response: calls of every size up to the
 * maximum, zero-copy loans both ways, timeouts and withdrawn calls, a
 * server that closes, the named create-or-attach (either side first, a
 * client waiting for its server), geometry checks, strict round-robin
 * fairness, misuse, and hostile slot state. Named cases (tu_case.h):
 * --list. */
#include "tu_case.h"
#include "tu_ring.h"
#include "tu_seg.h"
#include "tu_sync.h"

#include <stdlib.h>
#include <string.h>

#define MS 1000000LL

static shmkit_seg *seg;
static char name[96];

static void cleanup(void)
{
    if (name[0])
        shmkit_posix_remove(name);
    shmkit_close(seg);
}

/* An ANON endpoint shared with children across fork. */
static void setup(uint64_t max_req, uint64_t max_resp, unsigned clients)
{
    atexit(cleanup);
    seg = tu_seg_anon(shmkit_rpc_size_for(max_req, max_resp, clients));
    struct shmkit_rpc_config cfg = {
        .max_request = max_req, .max_response = max_resp, .max_clients = clients};
    if (shmkit_rpc_init(seg, &cfg) < 0)
        tap_bail("rpc init");
}

/* The server every case forks: answers each request with its bytes
 * reversed and a 4-byte length in front, until N requests were served
 * (N < 0: until killed). Zero-copy replies on odd requests. */
static int echo_server(void *arg, int n)
{
    (void)arg;
    shmkit_rpc_server *s;
    if (shmkit_rpc_server_attach(&s, seg) < 0)
        return 2;
    for (int k = 0; n < 0 || k < n; k++) {
        struct shmkit_rpc_request q;
        int rc = shmkit_rpc_recv(s, &q, 10000 * MS);
        if (rc < 0)
            return 3;
        size_t out = q.len + 4 > 65536 ? 65536 : q.len + 4;
        unsigned char *p;
        if (k & 1) {
            if (shmkit_rpc_reply_loan(s, &q, out, (void **)&p) < 0)
                return 4;
        } else {
            static unsigned char buf[65536];
            p = buf;
        }
        uint32_t l = (uint32_t)q.len;
        memcpy(p, &l, 4);
        const unsigned char *in = q.data;
        for (size_t i = 0; i + 4 < out; i++)
            p[4 + i] = in[q.len - 1 - i];
        rc = k & 1 ? shmkit_rpc_reply_commit(s, &q, out) : shmkit_rpc_reply_send(s, &q, p, out);
        if (rc < 0 && rc != SHMKIT_EPEERDEAD)
            return 5;
    }
    shmkit_rpc_server_close(s);
    return 0;
}

static int check_echo(const unsigned char *req, size_t len, const unsigned char *resp, int n)
{
    uint32_t l;
    if (n < 4)
        return 0;
    memcpy(&l, resp, 4);
    if (l != len || (size_t)n != (len + 4 > 65536 ? 65536 : len + 4))
        return 0;
    for (int i = 0; i + 4 < n; i++)
        if (resp[4 + i] != req[len - 1 - i])
            return 0;
    return 1;
}

static void calls_sizes(void)
{
    setup(65536, 65536, 4);
    int sizes[] = {0, 1, 7, 8, 63, 64, 65, 100, 4095, 4096, 4097, 65531, 65532, 65536};
    int n = (int)(sizeof sizes / sizeof *sizes);
    pid_t srv = tu_spawn_fn(echo_server, NULL, n * 2);
    shmkit_rpc_client *c;
    ok(shmkit_rpc_client_attach(&c, seg) == 0, "client attached");
    ok(shmkit_rpc_max_request(c) == 65536 && shmkit_rpc_max_response(c) == 65536,
       "max request and response");
    static unsigned char req[65536], resp[65536];
    int good = 0, loans = 0;
    for (int i = 0; i < n; i++) {
        size_t len = (size_t)sizes[i];
        tu_msg_fill(req, len, 1, (uint64_t)i); /* any bytes */
        for (size_t k = 0; k < len; k++)
            req[k] = (unsigned char)(tu_mix(k + (uint64_t)i) >> 7);
        int r = shmkit_rpc_call(c, req, len, resp, sizeof resp, 30000 * MS);
        good += check_echo(req, len, resp, r);
        /* the same with loans both ways */
        void *p;
        if (shmkit_rpc_request_loan(c, len, &p, 30000 * MS) == 0) {
            ok(((uintptr_t)p & 63) == 0 || len, "request area aligned");
            memcpy(p, req, len);
            shmkit_rpc_request_send(c, len);
            const void *rp;
            size_t rl;
            if (shmkit_rpc_response_wait(c, &rp, &rl, 30000 * MS) == 0) {
                loans += check_echo(req, len, rp, (int)rl);
                const void *rp2;
                size_t rl2;
                /* looking again before the release: the same response */
                loans -= shmkit_rpc_response_wait(c, &rp2, &rl2, 0) != 0 || rp2 != rp || rl2 != rl;
                shmkit_rpc_response_release(c);
            }
        }
    }
    ok(good == n, "copying calls of %d sizes 0..64 KiB answered right (%d)", n, good);
    ok(loans == n, "zero-copy calls answered right (%d)", loans);
    ok(shmkit_rpc_call(c, req, 65537, resp, sizeof resp, 0) == SHMKIT_ETOOBIG,
       "a request above max_request: SHMKIT_ETOOBIG");
    ok(tu_wait_exit(srv) == 0, "server served every call and closed");
    struct shmkit_rpc_stats st;
    ok(shmkit_rpc_stats(seg, &st) == 0 && st.calls == (uint64_t)n * 2 &&
           st.replies == (uint64_t)n * 2 && st.clients == 1 && st.pending == 0 &&
           st.max_clients == 4 && st.server_pid == 0,
       "stats: %llu calls, %llu replies, %u clients", (unsigned long long)st.calls,
       (unsigned long long)st.replies, st.clients);
    shmkit_rpc_client_close(c);
}

static void small_response(void)
{
    setup(64, 64, 2);
    pid_t srv = tu_spawn_fn(echo_server, NULL, 2);
    shmkit_rpc_client *c;
    shmkit_rpc_client_attach(&c, seg);
    char resp[8];
    ok(shmkit_rpc_call(c, "0123456789", 10, resp, sizeof resp, 30000 * MS) == -EMSGSIZE,
       "a response longer than the buffer: -EMSGSIZE");
    int rc = shmkit_rpc_call(c, "abc", 3, resp, sizeof resp, 30000 * MS);
    ok(rc == 7 && !memcmp(resp + 4, "cba", 3), "the next call is answered normally (%d: %s)", rc,
       rc < 0 ? shmkit_errname(rc) : "length");
    ok(tu_wait_exit(srv) == 0, "server done");
    shmkit_rpc_client_close(c);
}

static void timeouts(void)
{
    setup(64, 64, 2);
    shmkit_rpc_client *c;
    shmkit_rpc_client_attach(&c, seg);
    char resp[64];
    ok(shmkit_rpc_call(c, "x", 1, resp, sizeof resp, 0) == -EAGAIN,
       "try call with no server ever: -EAGAIN");
    uint64_t t0 = tu_now_ns();
    int rc = shmkit_rpc_call(c, "x", 1, resp, sizeof resp, 50 * MS);
    uint64_t dt = tu_now_ns() - t0;
    ok(rc == -ETIMEDOUT, "timed call with no server: -ETIMEDOUT (%s)", shmkit_errname(rc));
    tap_diag("timed out after %.1f ms (asked 50)", (double)dt / 1e6);
    struct shmkit_rpc_stats st;
    ok(shmkit_rpc_stats(seg, &st) == 0 && st.pending == 0 && st.serving == 0,
       "a timed-out call is withdrawn (pending %u)", st.pending);
    /* a server that comes now does not see the withdrawn calls */
    shmkit_rpc_server *s;
    ok(shmkit_rpc_server_attach(&s, seg) == 0, "server attached");
    struct shmkit_rpc_request q;
    ok(shmkit_rpc_recv(s, &q, 0) == -EAGAIN, "nothing pending: -EAGAIN");
    ok(shmkit_rpc_recv(s, &q, 20 * MS) == -ETIMEDOUT, "nothing within 20 ms: -ETIMEDOUT");
    /* response_wait that times out leaves the call pending */
    void *p;
    ok(shmkit_rpc_request_loan(c, 5, &p, 0) == 0, "loan");
    memcpy(p, "hello", 5);
    ok(shmkit_rpc_request_send(c, 5) == 0, "sent");
    const void *rp;
    size_t rl;
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == -EAGAIN, "no response yet: -EAGAIN");
    ok(shmkit_rpc_recv(s, &q, 0) == 0 && q.len == 5 && !memcmp(q.data, "hello", 5) &&
           q.client == (uint32_t)shmkit_rpc_client_slot(c),
       "the server takes it (slot %u)", q.client);
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 10 * MS) == -ETIMEDOUT,
       "not answered yet: -ETIMEDOUT, still pending");
    ok(shmkit_rpc_reply_send(s, &q, "world!", 6) == 0, "answered");
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == 0 && rl == 6 && !memcmp(rp, "world!", 6),
       "the waiting call gets its answer");
    shmkit_rpc_response_release(c);
    /* a call given up after the server took it: the next loan waits for
     * the server, the stale answer is never taken for the new call */
    ok(shmkit_rpc_call(c, "one", 3, NULL, 0, 0) == -EAGAIN, "try call: -EAGAIN");
    ok(shmkit_rpc_recv(s, &q, 0) == -EAGAIN, "a try call that got no answer is withdrawn");
    shmkit_rpc_request_loan(c, 3, &p, 0);
    memcpy(p, "one", 3);
    shmkit_rpc_request_send(c, 3);
    ok(shmkit_rpc_recv(s, &q, 0) == 0 && q.len == 3, "server took 'one'");
    ok(shmkit_rpc_request_loan(c, 3, &p, 0) == -EAGAIN,
       "next loan while the server holds the old request: -EAGAIN");
    ok(shmkit_rpc_reply_send(s, &q, "ONE", 3) == 0, "server answers the given-up call");
    ok(shmkit_rpc_request_loan(c, 3, &p, 0) == 0, "now the loan is granted");
    memcpy(p, "two", 3);
    shmkit_rpc_request_send(c, 3);
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == -EAGAIN,
       "the stale 'ONE' is not the answer to 'two'");
    ok(shmkit_rpc_recv(s, &q, 0) == 0 && q.len == 3 && !memcmp(q.data, "two", 3), "'two' taken");
    shmkit_rpc_reply_send(s, &q, "TWO", 3);
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == 0 && rl == 3 && !memcmp(rp, "TWO", 3),
       "'TWO' answers 'two'");
    shmkit_rpc_response_release(c);
    shmkit_rpc_server_close(s);
    shmkit_rpc_client_close(c);
}

static void server_close(void)
{
    setup(64, 64, 2);
    shmkit_rpc_server *s;
    shmkit_rpc_client *c;
    shmkit_rpc_server_attach(&s, seg);
    shmkit_rpc_client_attach(&c, seg);
    pid_t kid = fork();
    if (kid == 0) {
        shmkit_rpc_client *c2;
        if (shmkit_rpc_client_attach(&c2, seg) < 0)
            _exit(2);
        char r[64];
        int rc = shmkit_rpc_call(c2, "q", 1, r, sizeof r, 10000 * MS);
        _exit(rc == SHMKIT_ECLOSED ? 0 : 10);
    }
    struct shmkit_rpc_request q;
    ok(shmkit_rpc_recv(s, &q, 30000 * MS) == 0, "the child's call arrived");
    /* taken and not answered: closing drops it with SHMKIT_ECLOSED */
    ok(shmkit_rpc_server_close(s) == 0, "server closed");
    ok(tu_wait_exit(kid) == 0, "the waiting call got SHMKIT_ECLOSED");
    char r[64];
    ok(shmkit_rpc_call(c, "q", 1, r, sizeof r, 1000 * MS) == SHMKIT_ECLOSED,
       "a later call: SHMKIT_ECLOSED at once");
    ok(shmkit_rpc_server_attach(&s, seg) == 0, "a new server attaches");
    kid = fork();
    if (kid == 0) {
        struct shmkit_rpc_request q2;
        shmkit_rpc_server *s2 = s;
        if (shmkit_rpc_recv(s2, &q2, 30000 * MS) < 0)
            _exit(2);
        _exit(shmkit_rpc_reply_send(s2, &q2, "A", 1) == 0 ? 0 : 3);
    }
    ok(shmkit_rpc_call(c, "q", 1, r, sizeof r, 30000 * MS) == 1 && r[0] == 'A',
       "calls flow again");
    ok(tu_wait_exit(kid) == 0, "served");
    shmkit_rpc_server *s3;
    ok(shmkit_rpc_server_attach(&s3, seg) == -EBUSY, "a second live server: -EBUSY");
    shmkit_rpc_server_close(s);
    shmkit_rpc_client_close(c);
}

static int named_server(void *arg, int n)
{
    const struct shmkit_opts *o = arg;
    struct shmkit_rpc_config cfg = {.max_request = 128, .max_response = 128, .max_clients = 8};
    shmkit_rpc_server *s;
    int rc = shmkit_rpc_server_open(&s, o, &cfg);
    if (rc < 0)
        return 2;
    for (int k = 0; k < n; k++) {
        struct shmkit_rpc_request q;
        if (shmkit_rpc_recv(s, &q, 10000 * MS) < 0)
            return 3;
        shmkit_rpc_reply_send(s, &q, q.data, q.len);
    }
    shmkit_rpc_server_close(s);
    return 0;
}

static void named(void)
{
    atexit(cleanup);
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "rpcn")};
    struct shmkit_rpc_config cfg = {.max_request = 100, .max_response = 128, .timeout_ns = 0};
    shmkit_rpc_client *c;
    ok(shmkit_rpc_client_open(&c, &o, &cfg) == -ENOENT, "no endpoint, no CREATE, try: -ENOENT");
    cfg.timeout_ns = 20 * MS;
    ok(shmkit_rpc_client_open(&c, &o, &cfg) == -ETIMEDOUT,
       "no endpoint within the timeout: -ETIMEDOUT");
    /* the client comes first and waits for the server to create it */
    cfg.timeout_ns = 10000 * MS;
    struct shmkit_opts so = o;
    so.flags = SHMKIT_CREATE;
    pid_t srv = fork();
    if (srv == 0) {
        usleep(50000);
        _exit(named_server(&so, 2));
    }
    int rc = shmkit_rpc_client_open(&c, &o, &cfg);
    ok(rc == 0, "client waited for the server's endpoint (%s)", shmkit_errname(rc));
    char r[128];
    ok(rc == 0 && shmkit_rpc_call(c, "ping", 4, r, sizeof r, 30000 * MS) == 4 && !memcmp(r, "ping", 4),
       "call through the named endpoint");
    shmkit_seg *cs = shmkit_rpc_client_seg(c);
    struct shmkit_info info;
    ok(shmkit_seg_stat(cs, &info) == 0 && info.layout == SHMKIT_LAYOUT_RPC &&
           !strcmp(shmkit_layout_name(info.layout), "rpc"),
       "the header says layout rpc");
    /* a second client with CREATE attaches to the existing one */
    shmkit_rpc_client *c2;
    struct shmkit_rpc_config big = {.max_request = 129, .max_response = 1};
    ok(shmkit_rpc_client_open(&c2, &so, &big) == SHMKIT_EGEOMETRY,
       "asking more than the endpoint's max_request: SHMKIT_EGEOMETRY");
    struct shmkit_rpc_config other = {.max_request = 1, .max_response = 1, .max_clients = 9};
    ok(shmkit_rpc_client_open(&c2, &so, &other) == SHMKIT_EGEOMETRY,
       "another max_clients: SHMKIT_EGEOMETRY");
    struct shmkit_rpc_config fits = {.max_request = 128, .max_response = 64};
    ok(shmkit_rpc_client_open(&c2, &so, &fits) == 0 &&
           shmkit_rpc_client_slot(c2) != shmkit_rpc_client_slot(c),
       "a second client with CREATE attaches, own slot");
    ok(shmkit_rpc_call(c2, "pong", 4, r, sizeof r, 30000 * MS) == 4, "its call is answered");
    ok(tu_wait_exit(srv) == 0, "server done");
    struct shmkit_opts bad = so;
    bad.layout = SHMKIT_LAYOUT_RING;
    shmkit_rpc_server *s;
    ok(shmkit_rpc_server_open(&s, &bad, &cfg) == -EINVAL, "another layout asked: -EINVAL");
    struct shmkit_rpc_config res = cfg;
    res.reserved[2] = 1;
    ok(shmkit_rpc_server_open(&s, &so, &res) == -EINVAL, "non-zero reserved: -EINVAL");
    shmkit_rpc_client_close(c);
    shmkit_rpc_client_close(c2);
    /* a ring is not an endpoint */
    shmkit_seg *rs = tu_seg_anon(shmkit_ring_size_for(1024));
    shmkit_ring *ring;
    shmkit_ring_create(&ring, rs, 1024, SHMKIT_RING_PRODUCER);
    ok(shmkit_rpc_client_attach(&c, rs) == SHMKIT_ELAYOUT, "a ring: SHMKIT_ELAYOUT");
    shmkit_ring_close(ring);
    shmkit_close(rs);
}

/* N clients in this process, each calling again as soon as it is
 * answered: the server's order is strict round-robin. */
static void round_robin(int n, int rounds)
{
    setup(16, 16, (unsigned)n);
    shmkit_rpc_server *s;
    shmkit_rpc_server_attach(&s, seg);
    shmkit_rpc_client *c[130];
    int count[130] = {0};
    for (int i = 0; i < n; i++) {
        shmkit_rpc_client_attach(&c[i], seg);
        void *p;
        shmkit_rpc_request_loan(c[i], 1, &p, 0);
        shmkit_rpc_request_send(c[i], 1); /* sent, left pending */
    }
    int ok_all = 1, last = -1, repeats = 0;
    for (int k = 0; k < n * rounds; k++) {
        struct shmkit_rpc_request q;
        if (shmkit_rpc_recv(s, &q, 0) < 0) {
            ok_all = 0;
            break;
        }
        int who = -1;
        for (int i = 0; i < n; i++)
            if ((uint32_t)shmkit_rpc_client_slot(c[i]) == q.client)
                who = i;
        if (who < 0) {
            ok_all = 0;
            break;
        }
        repeats += who == last;
        last = who;
        count[who]++;
        shmkit_rpc_reply_send(s, &q, "a", 1);
        /* the busiest client possible: calls again at once (the next
         * loan gives up the answered call) */
        void *p;
        shmkit_rpc_request_loan(c[who], 1, &p, 0);
        shmkit_rpc_request_send(c[who], 1);
    }
    int min = count[0], max = count[0];
    for (int i = 1; i < n; i++) {
        min = count[i] < min ? count[i] : min;
        max = count[i] > max ? count[i] : max;
    }
    ok(ok_all, "every request taken");
    ok(min == rounds && max == rounds, "each of %d clients served exactly %d times (min %d max %d)",
       n, rounds, min, max);
    ok(repeats == 0, "no client served twice in a row while others waited (%d)", repeats);
    for (int i = 0; i < n; i++)
        shmkit_rpc_client_close(c[i]);
    shmkit_rpc_server_close(s);
}

static void fairness(void)
{
    round_robin(8, 50);
}

/* 130 slots: three bitmap words, the sweep wrapping across them */
static void fairness_words(void)
{
    round_robin(130, 10);
}

static void misuse(void)
{
    setup(64, 64, 1);
    struct shmkit_rpc_config cfg = {.max_request = 1, .max_response = 1};
    ok(shmkit_rpc_size_for(0, 1, 1) == 0 && shmkit_rpc_size_for(1, 0, 1) == 0 &&
           shmkit_rpc_size_for(1, 1, 0) == 0 && shmkit_rpc_size_for(1, 1, 4097) == 0 &&
           shmkit_rpc_size_for((1u << 30) + 1, 1, 1) == 0 && shmkit_rpc_size_for(1, 1, 4096) > 0,
       "size_for refuses bad geometry");
    ok(shmkit_rpc_init(NULL, &cfg) == -EINVAL && shmkit_rpc_init(seg, NULL) == -EINVAL,
       "init NULL: -EINVAL");
    struct shmkit_rpc_config huge = {.max_request = 1 << 20, .max_response = 1};
    ok(shmkit_rpc_init(seg, &huge) == SHMKIT_EBADSIZE, "init in too small a segment: EBADSIZE");
    shmkit_rpc_client *c, *c2;
    shmkit_rpc_server *s;
    ok(shmkit_rpc_client_attach(NULL, seg) == -EINVAL && shmkit_rpc_server_attach(&s, NULL) == -EINVAL,
       "attach NULL: -EINVAL");
    ok(shmkit_rpc_client_attach(&c, seg) == 0, "the one slot");
    ok(shmkit_rpc_client_attach(&c2, seg) == -EUSERS, "no second slot: -EUSERS");
    ok(shmkit_rpc_request_send(c, 1) == -EINVAL, "send without a loan: -EINVAL");
    const void *rp;
    size_t rl;
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == -EINVAL, "wait with nothing sent: -EINVAL");
    ok(shmkit_rpc_response_release(c) == -EINVAL, "release with nothing lent: -EINVAL");
    void *p;
    ok(shmkit_rpc_request_loan(c, 65, &p, 0) == SHMKIT_ETOOBIG, "loan above max: ETOOBIG");
    ok(shmkit_rpc_request_loan(c, 10, &p, 0) == 0, "loan");
    ok(shmkit_rpc_request_loan(c, 10, &p, 0) == -EINVAL, "second loan: -EINVAL");
    ok(shmkit_rpc_call(c, "a", 1, NULL, 0, 0) == -EINVAL, "call with a loan open: -EINVAL");
    ok(shmkit_rpc_request_send(c, 11) == -EINVAL, "send longer than loaned: -EINVAL");
    ok(shmkit_rpc_request_send(c, 10) == 0, "send");
    shmkit_rpc_server_attach(&s, seg);
    struct shmkit_rpc_request q, fake;
    ok(shmkit_rpc_recv(s, NULL, 0) == -EINVAL, "recv NULL: -EINVAL");
    ok(shmkit_rpc_recv(s, &q, 0) == 0, "recv");
    fake = q;
    fake.seq++;
    ok(shmkit_rpc_reply_send(s, &fake, "x", 1) == -EINVAL, "reply to a request not taken: -EINVAL");
    fake = q;
    fake.client = 7;
    ok(shmkit_rpc_reply_send(s, &fake, "x", 1) == -EINVAL, "reply to a slot out of range: -EINVAL");
    ok(shmkit_rpc_reply_send(s, &q, "x", 65) == SHMKIT_ETOOBIG, "reply above max: ETOOBIG");
    ok(shmkit_rpc_reply_commit(s, &q, 1) == -EINVAL, "commit without a loan: -EINVAL");
    ok(shmkit_rpc_reply_loan(s, &q, 64, &p) == 0, "reply loan");
    ok(shmkit_rpc_reply_commit(s, &q, 65) == -EINVAL, "commit longer than loaned: -EINVAL");
    ok(shmkit_rpc_reply_commit(s, &q, 0) == 0, "commit an empty response");
    ok(shmkit_rpc_reply_send(s, &q, "x", 1) == -EINVAL, "answering twice: -EINVAL");
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == 0 && rl == 0, "an empty response arrives");
    shmkit_rpc_response_release(c);
    ok(shmkit_rpc_client_close(NULL) == 0 && shmkit_rpc_server_close(NULL) == 0, "close NULL");
    ok(shmkit_rpc_server_seg(s) == seg && shmkit_rpc_client_seg(NULL) == NULL, "seg accessors");
    shmkit_rpc_client_close(c);
    ok(shmkit_rpc_client_attach(&c2, seg) == 0, "a closed client's slot is free again");
    shmkit_rpc_client_close(c2);
    shmkit_rpc_server_close(s);
    struct shmkit_rpc_stats st;
    ok(shmkit_rpc_stats(NULL, &st) == -EINVAL, "stats NULL: -EINVAL");
}

/* Scribbled slot state: clear errors, no crash, no hang. */
static void hostile(void)
{
    setup(64, 64, 2);
    shmkit_rpc_server *s;
    shmkit_rpc_client *c;
    shmkit_rpc_server_attach(&s, seg);
    shmkit_rpc_client_attach(&c, seg);
    unsigned char *base = shmkit_seg_data(seg);
    size_t slots_off = 256 + 64;
    size_t slot_size = 64 + 64 + 64;
    unsigned char *sl = base + slots_off + (size_t)shmkit_rpc_client_slot(c) * slot_size;
    uint64_t *state = (uint64_t *)(sl + 8), *req_len = (uint64_t *)(sl + 16),
             *resp_len = (uint64_t *)(sl + 24);
    void *p;
    struct shmkit_rpc_request q;
    /* a request length beyond max_request */
    shmkit_rpc_request_loan(c, 4, &p, 0);
    shmkit_rpc_request_send(c, 4);
    *req_len = 1u << 20;
    ok(shmkit_rpc_recv(s, &q, 0) == SHMKIT_ECORRUPT, "server: request length too big: ECORRUPT");
    const void *rp;
    size_t rl;
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == SHMKIT_ECORRUPT,
       "client: that call ends in ECORRUPT");
    /* a response length beyond max_response */
    shmkit_rpc_request_loan(c, 4, &p, 0);
    shmkit_rpc_request_send(c, 4);
    shmkit_rpc_recv(s, &q, 0);
    shmkit_rpc_reply_send(s, &q, "ok", 2);
    *resp_len = 1000;
    ok(shmkit_rpc_response_wait(c, &rp, &rl, 0) == SHMKIT_ECORRUPT, "client: response length: ECORRUPT");
    /* a state word with another sequence number */
    *state = (*state & ~3ull) + (5 << 2);
    ok(shmkit_rpc_request_loan(c, 4, &p, 0) == SHMKIT_ECORRUPT, "client: foreign sequence: ECORRUPT");
    /* a pending bit beyond the last slot */
    uint64_t *bitmap = (uint64_t *)(base + 256);
    *bitmap |= 1ull << 40;
    ok(shmkit_rpc_recv(s, &q, 0) == SHMKIT_ECORRUPT, "server: pending bit beyond the slots: ECORRUPT");
    ok(shmkit_rpc_recv(s, &q, 0) == -EAGAIN, "then nothing pending");
    /* a control block that lies about its geometry */
    uint64_t *max_req = (uint64_t *)(base + 16);
    *max_req = 1u << 20;
    shmkit_rpc_client *c2;
    struct shmkit_rpc_stats st;
    ok(shmkit_rpc_client_attach(&c2, seg) == SHMKIT_ECORRUPT && shmkit_rpc_stats(seg, &st) == SHMKIT_ECORRUPT,
       "control block geometry changed: attach and stats ECORRUPT");
    memcpy(base, "SHMKRPCX", 8);
    ok(shmkit_rpc_server_attach((shmkit_rpc_server **)&c2, seg) == SHMKIT_ECORRUPT, "bad magic: ECORRUPT");
    shmkit_rpc_client_close(c);
    shmkit_rpc_server_close(s);
}

/* A child closing the handles it inherited across fork frees its copies
 * only: the parent's server keeps the endpoint, its client its slot. */
static void fork_close(void)
{
    setup(64, 64, 2);
    shmkit_rpc_server *s = NULL;
    shmkit_rpc_client *c = NULL;
    is_rc(shmkit_rpc_server_attach(&s, seg), 0, "fork: a server");
    is_rc(shmkit_rpc_client_attach(&c, seg), 0, "fork: a client");
    int fd = shmkit_rpc_server_fd(s);
    ok(fd >= 0, "fork: the server's descriptor");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_rpc_client_close(c);
        shmkit_rpc_server_close(s);
        _exit(0);
    }
    is_int(tu_wait_exit(pid), 0, "fork: the child closed its inherited handles");
    shmkit_rpc_server *other = NULL;
    is_rc(shmkit_rpc_server_attach(&other, seg), -EBUSY,
          "fork: the server role is still the parent's (another attach: EBUSY)");
    void *p;
    is_rc(shmkit_rpc_request_loan(c, 3, &p, 0), 0, "fork: the parent's client still has its slot");
    memcpy(p, "abc", 3);
    is_rc(shmkit_rpc_request_send(c, 3), 0, "fork: ... and sends");
    struct shmkit_rpc_request q;
    is_rc(shmkit_rpc_recv(s, &q, 1000 * MS), 0, "fork: the parent's server receives it");
    is_rc(shmkit_rpc_reply_send(s, &q, "ok", 2), 0, "fork: ... and answers");
    const void *r;
    size_t n;
    is_rc(shmkit_rpc_response_wait(c, &r, &n, 1000 * MS), 0, "fork: the answer comes");
    ok(n == 2 && !memcmp(r, "ok", 2), "fork: ... intact");
    shmkit_rpc_response_release(c);
    shmkit_rpc_client_close(c);
    shmkit_rpc_server_close(s);
}

static const struct tu_case cases[] = {
    {"fork_close", fork_close, 0}, {"calls_sizes", calls_sizes, 0}, {"small_response", small_response, 0},
    {"timeouts", timeouts, 0},       {"server_close", server_close, 0},
    {"named", named, 0},             {"fairness", fairness, 0},
    {"fairness_words", fairness_words, 0},
    {"misuse", misuse, 0},           {"hostile", hostile, 0},
    {NULL, NULL, 0}};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
