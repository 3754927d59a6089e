/* t_ring_batch.c - shmkit_ring_send_many / shmkit_ring_recv_many: whole
 * and partial batches, batches across the end of the buffer, try calls and
 * timeouts, a message too long for the ring or for its buffer at the start
 * or in the middle of a batch, SHMKIT_ECLOSED and SHMKIT_EPEERDEAD at a
 * batch boundary, a MULTI ring, the plain calls mixed in, and a two-process
 * stream of random batch sizes checked message by message. Named cases
 * (tu_case.h): --list. */
#include "tu_case.h"
#include "tu_ring.h"

#include <stdlib.h>
#include <string.h>

#define CAP 4096

static shmkit_seg *seg;
static shmkit_ring *p, *c;

static void setup(unsigned flags)
{
    seg = tu_seg_anon(shmkit_ring_size_for(CAP));
    if (shmkit_ring_create(&c, seg, CAP, SHMKIT_RING_CONSUMER | flags) < 0 ||
        shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("ring");
}

/* N self-checking messages of round ID from SEQ, lengths up to MAX, laid
 * out in BUF (N * MAX bytes) and described by V. */
static void make_batch(struct iovec *v, unsigned char *buf, int n, uint32_t id, uint64_t seq,
                       size_t max)
{
    for (int i = 0; i < n; i++) {
        size_t len = tu_msg_len(id, seq + (uint64_t)i, max);
        tu_msg_fill(buf + (size_t)i * max, len, id, seq + (uint64_t)i);
        v[i] = (struct iovec){buf + (size_t)i * max, len};
    }
}

/* Receive buffers: N of MAX bytes in BUF. */
static void make_bufs(struct iovec *v, unsigned char *buf, int n, size_t max)
{
    for (int i = 0; i < n; i++)
        v[i] = (struct iovec){buf + (size_t)i * max, max};
}

/* K messages received into V/LENS are round ID's from *SEQ, in order. */
static int check_batch(const struct iovec *v, const size_t *lens, int k, uint32_t id,
                       uint64_t *seq)
{
    int bad = 0;
    for (int i = 0; i < k; i++) {
        uint32_t gid = 0;
        uint64_t gseq = 0;
        if (tu_msg_check(v[i].iov_base, lens[i], &gid, &gseq) || gid != id || gseq != *seq)
            bad++;
        (*seq)++;
    }
    return bad;
}

static void whole_and_partial(void)
{
    setup(0);
    struct iovec v[64], r[64];
    size_t lens[64];
    static unsigned char sb[64 * 100], rb[64 * 100];
    make_batch(v, sb, 10, 1, 0, 100);
    is_int(shmkit_ring_send_many(p, v, 10, 0), 10, "send_many: 10 messages that fit, all sent");
    make_bufs(r, rb, 64, 100);
    uint64_t seq = 0;
    is_int(shmkit_ring_recv_many(c, r, lens, 4, 0), 4, "recv_many of 4: 4");
    int bad = check_batch(r, lens, 4, 1, &seq);
    is_int(shmkit_ring_recv_many(c, r, lens, 64, 0), 6, "recv_many of 64 with 6 queued: 6");
    bad += check_batch(r, lens, 6, 1, &seq);
    is_int(bad, 0, "... whole, in order");
    is_rc(shmkit_ring_recv_many(c, r, lens, 64, 0), -EAGAIN, "recv_many try, empty: -EAGAIN");
    is_rc(shmkit_ring_recv_many(c, r, lens, 64, 20000000), -ETIMEDOUT,
          "recv_many 20 ms, empty: -ETIMEDOUT");
    is_int(shmkit_ring_send_many(p, v, 0, 0), 0, "send_many of 0: 0");
    is_int(shmkit_ring_recv_many(c, r, lens, 0, 0), 0, "recv_many of 0: 0");
    is_rc(shmkit_ring_send_many(p, NULL, 1, 0), -EINVAL, "send_many NULL: -EINVAL");
    is_rc(shmkit_ring_recv_many(c, NULL, lens, 1, 0), -EINVAL, "recv_many NULL: -EINVAL");
    is_rc(shmkit_ring_send_many(c, v, 1, 0), -EINVAL, "send_many on the consumer: -EINVAL");
    is_rc(shmkit_ring_recv_many(p, r, lens, 1, 0), -EINVAL, "recv_many on the producer: -EINVAL");

    /* fill: a batch bigger than the room is sent in part */
    int sent = 0, k;
    seq = 0;
    for (int round = 0; round < 8; round++) {
        make_batch(v, sb, 64, 2, (uint64_t)sent, 100);
        k = shmkit_ring_send_many(p, v, 64, 0);
        if (k <= 0)
            break;
        sent += k;
        if (k < 64)
            break;
    }
    ok(sent > 0 && sent < 64 * 8, "a batch larger than the room: %d sent in part", sent);
    make_batch(v, sb, 1, 2, (uint64_t)sent, 100);
    k = shmkit_ring_send_many(p, v, 1, 0);
    ok(k == 1 || k == -EAGAIN, "the rest waits for room");
    if (k == 1)
        sent++;
    while (shmkit_ring_send_many(p, v, 1, 0) == 1) /* fill to the brim */
        sent++, make_batch(v, sb, 1, 2, (uint64_t)sent, 100);
    is_rc(shmkit_ring_send_many(p, v, 1, 0), -EAGAIN, "send_many try, full: -EAGAIN");
    is_rc(shmkit_ring_send_many(p, v, 1, 20000000), -ETIMEDOUT, "send_many 20 ms, full: -ETIMEDOUT");
    int got = 0;
    bad = 0;
    while ((k = shmkit_ring_recv_many(c, r, lens, 7, 0)) > 0) {
        bad += check_batch(r, lens, k, 2, &seq);
        got += k;
    }
    is_int(got, sent, "everything sent in partial batches arrives");
    is_int(bad, 0, "... whole, in order");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

static void too_long(void)
{
    setup(0);
    struct iovec v[4], r[4];
    size_t lens[4];
    static unsigned char big[CAP], rb[4 * 200];
    memset(big, 7, sizeof big);
    v[0] = (struct iovec){big, 50};
    v[1] = (struct iovec){big, shmkit_ring_max_msg(p) + 1};
    v[2] = (struct iovec){big, 60};
    is_rc(shmkit_ring_send_many(p, v + 1, 2, 0), SHMKIT_ETOOBIG, "first message too long: ETOOBIG");
    is_int(shmkit_ring_send_many(p, v, 3, 0), 1, "a later one too long ends the batch before it");
    v[1] = (struct iovec){NULL, 10};
    is_int(shmkit_ring_send_many(p, v, 3, 0), 1, "... so does a NULL message");
    v[1] = (struct iovec){big, 300};
    is_int(shmkit_ring_send_many(p, v, 3, 0), 3, "then the three");
    make_bufs(r, rb, 4, 200);
    is_int(shmkit_ring_recv_many(c, r, lens, 4, 0), 3, "recv_many: 50, 50, 50 fit, 300 does not");
    ok(lens[0] == 50 && lens[1] == 50 && lens[2] == 50, "... their lengths");
    is_rc(shmkit_ring_recv_many(c, r, lens, 4, 0), -EMSGSIZE,
          "the 300-byte one first: -EMSGSIZE, it stays");
    r[0].iov_len = 400;
    is_int(shmkit_ring_recv_many(c, r, lens, 4, 0), 2, "with room for it: 300 and 60");
    ok(lens[0] == 300 && lens[1] == 60, "... their lengths");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* Batches of every size through a small ring, across its end many times,
 * mixed with the plain calls. */
static void wrap(void)
{
    setup(0);
    struct iovec v[32], r[32];
    size_t lens[32];
    static unsigned char sb[32 * 300], rb[32 * 300];
    make_bufs(r, rb, 32, 300);
    uint64_t sseq = 0, rseq = 0;
    int bad = 0, stuck = 0;
    for (int round = 0; round < 2000 && !stuck; round++) {
        int n = 1 + round % 32;
        make_batch(v, sb, n, 3, sseq, 300);
        int k = round % 5 == 4 ? shmkit_ring_send(p, v[0].iov_base, v[0].iov_len, 0) == 0
                               : shmkit_ring_send_many(p, v, (size_t)n, 0);
        if (k > 0)
            sseq += (uint64_t)k;
        int m = 1 + (round * 7) % 32;
        int g = round % 3 == 2 ? (shmkit_ring_recv(c, r[0].iov_base, 300, 0) >= 0 ? 1 : 0)
                               : shmkit_ring_recv_many(c, r, lens, (size_t)m, 0);
        if (round % 3 == 2 && g == 1) {
            uint32_t id = 0;
            uint64_t s = 0;
            lens[0] = tu_msg_len(3, rseq, 300);
            bad += tu_msg_check(r[0].iov_base, lens[0], &id, &s) || s != rseq;
            rseq++;
        } else if (g > 0) {
            bad += check_batch(r, lens, g, 3, &rseq);
        }
        stuck = k <= 0 && g <= 0;
    }
    int g;
    while ((g = shmkit_ring_recv_many(c, r, lens, 32, 0)) > 0)
        bad += check_batch(r, lens, g, 3, &rseq);
    ok(sseq > 10000, "%llu messages in 2,000 rounds through a 4 KiB ring", (unsigned long long)sseq);
    is_int(stuck, 0, "never stuck");
    ok(rseq == sseq, "all received");
    is_int(bad, 0, "... whole, in order, batched and plain calls mixed");
    struct shmkit_chan_stats st;
    shmkit_chan_stats(seg, &st);
    ok(st.msgs_in == sseq && st.msgs_out == sseq && st.used == 0,
       "statistics count every message of a batch");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* The producer closes (or dies) after some batches: the consumer gets
 * everything, then SHMKIT_ECLOSED (SHMKIT_EPEERDEAD) from the next call. */
static void end_at_boundary(int die)
{
    setup(0);
    shmkit_ring_close(p);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *pp = NULL;
        if (shmkit_ring_attach(&pp, seg, SHMKIT_RING_PRODUCER) < 0)
            _exit(2);
        struct iovec v[5];
        static unsigned char sb[5 * 100];
        make_batch(v, sb, 5, 4, 0, 100);
        if (shmkit_ring_send_many(pp, v, 5, -1) != 5)
            _exit(3);
        if (!die)
            shmkit_ring_close(pp);
        _exit(0); /* die: exit without a close, a death to the consumer */
    }
    int st;
    tu_wait(pid, 20000, &st);
    struct iovec r[8];
    size_t lens[8];
    static unsigned char rb[8 * 100];
    make_bufs(r, rb, 8, 100);
    uint64_t seq = 0;
    is_int(shmkit_ring_recv_many(c, r, lens, 8, 2000000000), 5,
           "%s: recv_many of 8 gets the 5 sent", die ? "died" : "closed");
    is_int(check_batch(r, lens, 5, 4, &seq), 0, "... whole");
    is_rc(shmkit_ring_recv_many(c, r, lens, 8, 2000000000), die ? SHMKIT_EPEERDEAD : SHMKIT_ECLOSED,
          "then the end, from the next call");
    usleep(2000); /* a try call checks a peer's liveness once a millisecond */
    is_rc(shmkit_ring_recv_many(c, r, lens, 8, 0), die ? SHMKIT_EPEERDEAD : SHMKIT_ECLOSED,
          "... a try call too");
    shmkit_ring_close(c);
}

static void closed_at_boundary(void)
{
    end_at_boundary(0);
}

static void died_at_boundary(void)
{
    end_at_boundary(1);
}

/* A consumer that closes: a producer waiting for room gets SHMKIT_ECLOSED. */
static void consumer_closed(void)
{
    setup(0);
    struct iovec v[1];
    static unsigned char sb[1000];
    make_batch(v, sb, 1, 5, 0, 1000);
    v[0].iov_len = 1000;
    while (shmkit_ring_send_many(p, v, 1, 0) == 1)
        ;
    shmkit_ring_close(c);
    is_rc(shmkit_ring_send_many(p, v, 1, 1000000000), SHMKIT_ECLOSED,
          "full ring, consumer closed: send_many gets SHMKIT_ECLOSED");
    shmkit_ring_close(p);
}

static void multi(void)
{
    setup(SHMKIT_RING_MULTI);
    shmkit_ring *p2 = NULL;
    if (shmkit_ring_attach(&p2, seg, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("second producer");
    struct iovec v[8], r[16];
    size_t lens[16];
    static unsigned char sa[8 * 64], sb2[8 * 64], rb[16 * 64];
    make_batch(v, sa, 8, 6, 0, 64);
    is_int(shmkit_ring_send_many(p, v, 8, 0), 8, "MULTI: producer 1 sends a batch of 8");
    make_batch(v, sb2, 8, 7, 0, 64);
    is_int(shmkit_ring_send_many(p2, v, 8, 0), 8, "MULTI: producer 2 sends a batch of 8");
    make_bufs(r, rb, 16, 64);
    is_int(shmkit_ring_recv_many(c, r, lens, 16, 0), 16, "the consumer gets 16");
    uint64_t s1 = 0, s2 = 0;
    int bad = check_batch(r, lens, 8, 6, &s1) + check_batch(r + 8, lens + 8, 8, 7, &s2);
    is_int(bad, 0, "... each batch whole and together");
    void *w;
    is_int(shmkit_ring_reserve(p2, 10, &w, 0), 0, "after a batch the lock is free");
    shmkit_ring_cancel(p2);
    shmkit_ring_close(p2);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* Two processes, random batch sizes on both sides, blocking calls. */
static void stream(void)
{
    setup(0);
    shmkit_ring_close(p);
    const int total = TU_SCALE(200000);
    int fds[2];
    if (pipe(fds) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *pp = NULL;
        if (shmkit_ring_attach(&pp, seg, SHMKIT_RING_PRODUCER) < 0 || write(fds[1], "a", 1) != 1)
            _exit(2);
        struct iovec v[40];
        static unsigned char sb[40 * 120];
        for (int sent = 0; sent < total;) {
            int n = 1 + (int)(tu_mix((uint64_t)sent) % 40);
            if (n > total - sent)
                n = total - sent;
            make_batch(v, sb, n, 8, (uint64_t)sent, 120);
            int k = shmkit_ring_send_many(pp, v, (size_t)n, 10000000000);
            if (k <= 0)
                _exit(3);
            sent += k;
        }
        shmkit_ring_close(pp);
        _exit(0);
    }
    /* until the child attached, the ring's producer is the closed one */
    char ch;
    close(fds[1]);
    if (read(fds[0], &ch, 1) != 1)
        tap_bail("producer child");
    close(fds[0]);
    struct iovec r[40];
    size_t lens[40];
    static unsigned char rb[40 * 120];
    make_bufs(r, rb, 40, 120);
    uint64_t seq = 0;
    int bad = 0, k, rc = 0;
    for (int i = 0;; i++) {
        k = shmkit_ring_recv_many(c, r, lens, 1 + (size_t)(i % 40), 10000000000);
        if (k <= 0) {
            rc = k;
            break;
        }
        bad += check_batch(r, lens, k, 8, &seq);
    }
    int st;
    tu_wait(pid, 60000, &st);
    is_rc(rc, SHMKIT_ECLOSED, "two processes: the stream ends with SHMKIT_ECLOSED");
    ok(seq == (uint64_t)total, "%llu of %d messages arrived", (unsigned long long)seq, total);
    is_int(bad, 0, "... whole, in order");
    shmkit_ring_close(c);
}

static const struct tu_case cases[] = {
    {"whole_and_partial", whole_and_partial, 0},
    {"too_long", too_long, 0},
    {"wrap", wrap, 0},
    {"closed_at_boundary", closed_at_boundary, 0},
    {"died_at_boundary", died_at_boundary, 0},
    {"consumer_closed", consumer_closed, 0},
    {"multi", multi, 0},
    {"stream", stream, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
