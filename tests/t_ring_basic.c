/* t_ring_basic.c - the ring's contract in one process (plus a child for
 * the dead-peer cases): sizes, try/timeout, wrap-around, zero-copy,
 * errors, statistics, hostile bytes. Named cases (tu_case.h): --list. */
#include "chan.h"
#include "tu_case.h"
#include "tu_ring.h"

#include <string.h>

static char name[96], big_name[96];
static shmkit_seg *seg, *big;

static void cleanup(void)
{
    if (seg) {
        shmkit_seg_remove(seg);
        shmkit_close(seg);
    }
    if (big) {
        shmkit_seg_remove(big);
        shmkit_close(big);
    }
}

/* A ring of 2^33 bytes in a sparse segment: its largest message would be
 * 2^32 - 16 without the INT_MAX cap, too long for the record header's 32
 * bits and for shmkit_ring_recv's int. Only a few pages are ever touched. */
static void huge_ring(void)
{
    atexit(cleanup);
    const size_t cap = (size_t)1 << 33;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(big_name, sizeof big_name, "ringh"),
                            .size = shmkit_ring_size_for(cap),
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_NORESERVE};
    int rc = shmkit_open(&big, &o);
    if (rc < 0) {
        big = NULL;
        tap_diag("SKIP huge ring: no 8 GiB sparse segment here: %s", shmkit_strerror(rc));
        ok(1, "# SKIP no 8 GiB sparse segment");
        return;
    }
    shmkit_ring *c = NULL, *p = NULL;
    is_rc(shmkit_ring_create(&c, big, cap, SHMKIT_RING_CONSUMER), 0, "create a 2^33-byte ring");
    is_int(shmkit_ring_max_msg(c), SHMKIT_RING_MSG_LIMIT,
           "its largest message is capped at INT_MAX");
    if (shmkit_ring_attach(&p, big, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("attach the huge ring's producer");
    void *w;
    is_rc(shmkit_ring_reserve(p, (size_t)SHMKIT_RING_MSG_LIMIT + 1, &w, 0), SHMKIT_ETOOBIG,
          "INT_MAX + 1 bytes: ETOOBIG");
    char buf[16];
    shmkit_ring_send(p, "huge", 4, 0);
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), 4, "a small message through the huge ring");
    /* a header claiming 2^31 bytes: fits the ring, not the int recv returns */
    struct ring_ctl *ctl = shmkit_seg_data(big);
    unsigned char *data = (unsigned char *)ctl + RING_DATA_OFF;
    uint64_t head = ctl->head, evil = REC_MSG | 0x80000000u;
    memcpy(data + head, &evil, 8);
    ctl->tail = head + 16;
    const void *m;
    size_t len;
    is_rc(shmkit_ring_peek(c, &m, &len, 0), SHMKIT_ECORRUPT,
          "record header of 2^31 bytes: ECORRUPT");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    shmkit_seg_remove(big);
    shmkit_close(big);
    big = NULL;
}

/* Every case but huge_ring works in its own segment, removed at its exit. */
static void setup(void)
{
    atexit(cleanup);
    seg = tu_seg_new(name, sizeof name, "ringb", shmkit_ring_size_for(4096));
}

static void fresh(size_t cap, unsigned flags, shmkit_ring **cons, shmkit_ring **prod)
{
    *cons = *prod = NULL;
    int rc = shmkit_ring_create(cons, seg, cap, SHMKIT_RING_CONSUMER | flags);
    if (rc < 0)
        tap_bail("create: %s", shmkit_strerror(rc));
    rc = shmkit_ring_attach(prod, seg, SHMKIT_RING_PRODUCER);
    if (rc < 0)
        tap_bail("attach producer: %s", shmkit_strerror(rc));
}

static void size_for(void)
{
    is_int(shmkit_ring_size_for(4096), RING_DATA_OFF + 4096, "size_for(4096)");
    is_int(shmkit_ring_size_for(1000), 0, "size_for(not a power of two) = 0");
    is_int(shmkit_ring_size_for(128), 0, "size_for(below the minimum) = 0");
}

static void create_errors(void)
{
    shmkit_ring *c = NULL;
    setup();
    is_rc(shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_PRODUCER | SHMKIT_RING_CONSUMER), -EINVAL,
          "create with both roles");
    is_rc(shmkit_ring_create(&c, seg, 3000, SHMKIT_RING_CONSUMER), -EINVAL, "capacity 3000");
    is_rc(shmkit_ring_create(&c, seg, 8192, SHMKIT_RING_CONSUMER), SHMKIT_EBADSIZE,
          "capacity larger than the payload");
    is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), SHMKIT_ELAYOUT,
          "attach before create: not a ring");
    is_rc(shmkit_ring_create(&c, seg, 4096, 0), 0, "create without a role");
    is_rc(shmkit_ring_send(c, "x", 1, 0), -EINVAL, "a role-less handle sends nothing");
    is_rc(shmkit_ring_recv(c, NULL, 0, 0), -EINVAL, "a role-less handle receives nothing");
    shmkit_ring_close(c);
    c = NULL;
    is_rc(shmkit_ring_create(&c, seg, 0, SHMKIT_RING_CONSUMER), 0, "create, capacity 0 = fit");
    is_int(shmkit_ring_capacity(c), 4096, "capacity fitted to the payload");
    is_int(shmkit_ring_max_msg(c), 4096 / 2 - 16, "max message = capacity/2 - 16");
    shmkit_ring_close(c);
}

/* a consumer alone: no producer ever attached, so nobody is dead */
static void consumer_alone(void)
{
    shmkit_ring *c = NULL;
    const void *m;
    size_t len;
    setup();
    is_rc(shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_CONSUMER), 0, "create, consumer only");
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "no producer yet: try peek EAGAIN");
    is_rc(shmkit_ring_peek(c, &m, &len, 20000000), -ETIMEDOUT,
          "no producer yet: 20 ms peek times out (not EPEERDEAD)");
    shmkit_ring_close(c);
}

static void roles_and_timeout(void)
{
    shmkit_ring *c, *p, *c2 = NULL;
    const void *m;
    size_t len;
    setup();
    fresh(4096, 0, &c, &p);
    is_rc(shmkit_ring_attach(&c2, seg, SHMKIT_RING_CONSUMER), -EBUSY, "second consumer: EBUSY");
    is_rc(shmkit_ring_attach(&c2, seg, SHMKIT_RING_PRODUCER), -EBUSY,
          "second producer on a single-producer ring: EBUSY");
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "empty: try peek gives EAGAIN");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_peek(c, &m, &len, 5000000), -ETIMEDOUT, "empty: 5 ms peek times out");
    ok(tu_now_ns() - t0 >= 5000000, "... after at least 5 ms");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

static void send_recv(void)
{
    shmkit_ring *c, *p;
    char buf[8192];
    setup();
    fresh(4096, 0, &c, &p);
    is_rc(shmkit_ring_send(p, "hello", 5, 0), 0, "send 5 bytes");
    is_rc(shmkit_ring_send(p, NULL, 0, 0), 0, "send an empty message");
    is_int(shmkit_ring_recv(c, buf, 2, 0), -EMSGSIZE, "recv into 2 bytes: EMSGSIZE");
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), 5, "... the message stayed: 5 bytes");
    ok(!memcmp(buf, "hello", 5), "... intact");
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), 0, "empty message received");
    is_rc(shmkit_ring_send(p, buf, shmkit_ring_max_msg(p) + 1, 0), SHMKIT_ETOOBIG,
          "max+1 bytes: ETOOBIG");
    memset(buf, 0xab, sizeof buf);
    is_rc(shmkit_ring_send(p, buf, shmkit_ring_max_msg(p), 0), 0, "max bytes fit");
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), (long long)shmkit_ring_max_msg(c),
           "... and come out");
    is_rc(shmkit_ring_release(c), -EINVAL, "release without peek: EINVAL");
    is_rc(shmkit_ring_commit(p, 1), -EINVAL, "commit without reserve: EINVAL");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* Every length from 0 to 600 bytes (the inline copy below 256, memcpy
 * above), from and to every alignment within 16 bytes: the bytes come out
 * as they went in, and nothing past them in the receiver's buffer is
 * written. */
static void every_length(void)
{
    shmkit_ring *c, *p;
    static unsigned char src[640], dst[700];
    setup();
    fresh(4096, 0, &c, &p);
    int bad = 0;
    for (size_t len = 0; len <= 600; len++) {
        size_t so = len % 16, dof = (len * 7) % 16;
        for (size_t i = 0; i < len; i++)
            src[so + i] = (unsigned char)(len * 31 + i);
        memset(dst, 0xee, sizeof dst);
        if (shmkit_ring_send(p, src + so, len, 0) < 0 ||
            shmkit_ring_recv(c, dst + dof, len, 0) != (int)len || memcmp(dst + dof, src + so, len)) {
            bad++;
            continue;
        }
        for (size_t i = 0; i < sizeof dst; i++)
            if ((i < dof || i >= dof + len) && dst[i] != 0xee) {
                bad++;
                break;
            }
    }
    is_int(bad, 0, "601 lengths at varied alignments: each whole, nothing written past it");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* zero-copy: reserve 100, commit 40; cancel leaves nothing */
static void zero_copy(void)
{
    shmkit_ring *c, *p;
    const void *m;
    size_t len;
    void *w;
    uint32_t id;
    uint64_t sq;
    setup();
    fresh(4096, 0, &c, &p);
    is_rc(shmkit_ring_reserve(p, 100, &w, 0), 0, "reserve 100");
    ok(((uintptr_t)w & 7u) == 0, "reservation 8-byte aligned");
    is_rc(shmkit_ring_reserve(p, 10, &w, 0), -EINVAL, "second reserve while one is open");
    tu_msg_fill(w, 40, 7, 1);
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "nothing visible before commit");
    is_rc(shmkit_ring_commit(p, 40), 0, "commit 40 of 100");
    ok(shmkit_ring_peek(c, &m, &len, 0) == 0 && len == 40 && !tu_msg_check(m, len, &id, &sq),
       "peek in place: 40 bytes intact");
    ok(shmkit_ring_peek(c, &m, &len, 0) == 0 && len == 40, "peek again: same message");
    is_rc(shmkit_ring_release(c), 0, "release");
    is_rc(shmkit_ring_reserve(p, 64, &w, 0), 0, "reserve");
    is_rc(shmkit_ring_cancel(p), 0, "cancel");
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "cancelled reservation never visible");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* A loan the caller writes in whole and then commits shorter, or cancels,
 * leaves bytes past what it publishes (0xff here: a header with every bit
 * set); they are never read as a record, and the word at the tail reads
 * "empty" whenever the consumer has caught up. Mixed with plain sends and
 * batches over many laps of a small ring, checked message by message. */
static void dirty_loans(void)
{
    shmkit_ring *c, *p;
    uint64_t sent = 0, got = 0, sq;
    uint32_t id;
    int bad = 0, cancels = 0, shorter = 0;
    setup();
    fresh(4096, 0, &c, &p);
    unsigned char tmp[2][400];
    for (int round = 0; round < 30000; round++) {
        uint64_t x = tu_mix((uint64_t)round);
        size_t l = tu_msg_len(1, sent, 300);
        void *q;
        if (x % 4 == 0) {
            size_t loan = l + (size_t)(x >> 8) % 200;
            if (shmkit_ring_reserve(p, loan, &q, 0) < 0)
                goto drain;
            memset(q, 0xff, loan);
            if (x % 3 == 0) {
                shmkit_ring_cancel(p);
                cancels++;
                goto drain;
            }
            tu_msg_fill(q, l, 1, sent++);
            shmkit_ring_commit(p, l);
            shorter += l < loan;
        } else if (x % 4 == 1) {
            size_t l2 = tu_msg_len(1, sent + 1, 300);
            tu_msg_fill(tmp[0], l, 1, sent);
            tu_msg_fill(tmp[1], l2, 1, sent + 1);
            struct iovec v[2] = {{tmp[0], l}, {tmp[1], l2}};
            int n = shmkit_ring_send_many(p, v, 2, 0);
            if (n > 0)
                sent += (uint64_t)n;
        } else {
            tu_msg_fill(tmp[0], l, 1, sent);
            if (shmkit_ring_send(p, tmp[0], l, 0) == 0)
                sent++;
        }
    drain:
        /* a few, or all: the word at the tail must then read "empty" */
        for (int k = x % 8 == 7 ? -1 : (int)(x >> 20) % 4; k != 0; k--) {
            const void *m;
            size_t len;
            int rc = shmkit_ring_peek(c, &m, &len, 0);
            if (got == sent) {
                bad += rc != -EAGAIN;
                break;
            }
            if (rc < 0) {
                bad++;
                break;
            }
            if (tu_msg_check(m, len, &id, &sq) || sq != got || id != 1)
                bad++;
            got++;
            shmkit_ring_release(c);
        }
    }
    while (got < sent) {
        const void *m;
        size_t len;
        if (shmkit_ring_peek(c, &m, &len, 0) < 0 || tu_msg_check(m, len, &id, &sq) || sq != got)
            bad++;
        got++;
        shmkit_ring_release(c);
    }
    const void *m;
    size_t len;
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "nothing more than what was committed");
    ok(bad == 0 && sent > 10000 && cancels > 1000 && shorter > 1000,
       "%llu messages over %d shortened loans and %d cancelled ones: %d bad", (unsigned long long)sent,
       shorter, cancels, bad);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* Random-size messages, written and read a few at a time over many laps.
 * Returns how many were sent; *BAD counts those out of order or damaged. */
static uint64_t laps(shmkit_ring *c, shmkit_ring *p, int *bad)
{
    uint64_t sent = 0, got = 0, sq;
    uint32_t id;
    const void *m;
    size_t len;
    for (int round = 0; round < 20000; round++) {
        int k = (int)(tu_mix((uint64_t)round) % 6);
        for (int i = 0; i < k; i++) {
            size_t l = tu_msg_len(1, sent, 700);
            void *q;
            if (shmkit_ring_reserve(p, l, &q, 0) < 0)
                break;
            tu_msg_fill(q, l, 1, sent++);
            shmkit_ring_commit(p, l);
        }
        k = (int)(tu_mix((uint64_t)round + 77) % 6);
        for (int i = 0; i < k; i++) {
            if (shmkit_ring_peek(c, &m, &len, 0) < 0)
                break;
            if (tu_msg_check(m, len, &id, &sq) || sq != got || id != 1)
                (*bad)++;
            got++;
            shmkit_ring_release(c);
        }
    }
    while (shmkit_ring_peek(c, &m, &len, 0) == 0) {
        if (tu_msg_check(m, len, &id, &sq) || sq != got)
            (*bad)++;
        got++;
        shmkit_ring_release(c);
    }
    if (got != sent)
        (*bad)++;
    return sent;
}

/* fill until full, then drain; then many laps of random sizes; then the
 * statistics of all that from a read-only mapping */
static void full_laps_stats(void)
{
    shmkit_ring *c, *p, *c2 = NULL;
    char buf[8192];
    setup();
    fresh(4096, 0, &c, &p);
    memset(buf, 0xab, sizeof buf);
    int n = 0;
    while (shmkit_ring_send(p, buf, 100, 0) == 0)
        n++;
    ok(n >= 4096 / 112 - 1 && n <= 4096 / 112, "full after %d messages of 100 bytes", n);
    is_rc(shmkit_ring_send(p, buf, 100, 0), -EAGAIN, "full: try send gives EAGAIN");
    int drained = 0;
    while (shmkit_ring_recv(c, buf, sizeof buf, 0) >= 0)
        drained++;
    is_int(drained, n, "drained every message");
    int bad = 0;
    uint64_t sent = laps(c, p, &bad);
    ok(sent > 20000 && !bad, "%llu random-size messages over many laps: %d bad",
       (unsigned long long)sent, bad);

    shmkit_seg *ro = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    struct shmkit_chan_stats st;
    is_rc(shmkit_open(&ro, &o), 0, "open read-only for stats");
    is_rc(shmkit_chan_stats(ro, &st), 0, "chan_stats");
    ok(st.layout == SHMKIT_LAYOUT_RING && st.capacity == 4096 && st.msgs_in == st.msgs_out &&
           st.msgs_in == sent + n && st.used == 0 && st.overruns >= 1,
       "stats: %llu in, %llu out, %llu full", (unsigned long long)st.msgs_in,
       (unsigned long long)st.msgs_out, (unsigned long long)st.overruns);
    ok(st.writer_pid == getpid() && st.writer_alive && st.reader_pid == getpid() && st.reader_alive,
       "stats: both ends are this live process");
    is_rc(shmkit_ring_attach(&c2, ro, SHMKIT_RING_CONSUMER), -EBADF, "attach read-only: EBADF");
    shmkit_close(ro);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* close of either end is a dead peer once the ring drains */
static void peer_closed(void)
{
    shmkit_ring *c, *p;
    char buf[8192] = {0};
    const void *m;
    size_t len;
    setup();
    fresh(4096, 0, &c, &p);
    shmkit_ring_send(p, "x", 1, 0);
    shmkit_ring_close(p);
    usleep(2000); /* past the handle's 1 ms liveness-check rate limit */
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 0), 1,
           "producer closed: try recv gets the queued message first");
    is_rc(shmkit_ring_peek(c, &m, &len, 0), SHMKIT_ECLOSED,
          "then a try peek reports ECLOSED, end of stream (not EAGAIN)");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_peek(c, &m, &len, 1000000000), SHMKIT_ECLOSED, "then ECLOSED");
    ok(tu_now_ns() - t0 < 500000000, "... at once, not after the timeout");
    is_rc(shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER), 0, "a new producer attaches");
    shmkit_ring_close(c);
    while (shmkit_ring_send(p, buf, 200, 0) == 0)
        ;
    usleep(2000);
    is_rc(shmkit_ring_send(p, buf, 200, 0), SHMKIT_ECLOSED,
          "consumer closed, ring full: a try send gets ECLOSED");
    is_rc(shmkit_ring_send(p, buf, 200, 1000000000), SHMKIT_ECLOSED, "... and a blocking one");
    shmkit_ring_close(p);
}

/* a dead producer (child killed) is reported */
static void producer_killed(void)
{
    shmkit_ring *c, *p;
    char buf[64];
    const void *m;
    size_t len;
    setup();
    fresh(4096, 0, &c, &p);
    shmkit_ring_close(p);
    is_rc(shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER), 0, "re-attach producer");
    shmkit_ring_close(p);
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *cp = NULL;
        if (shmkit_ring_attach(&cp, seg, SHMKIT_RING_PRODUCER) < 0)
            _exit(1);
        shmkit_ring_send(cp, "abc", 3, 0);
        if (write(pfd[1], "k", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    ok(read(pfd[0], buf, 1) == 1, "child attached and sent");
    is_int(shmkit_ring_recv(c, buf, sizeof buf, 5000000000), 3, "child producer's message");
    kill(pid, SIGKILL);
    int status;
    tu_wait(pid, 5000, &status);
    usleep(2000);
    is_rc(shmkit_ring_peek(c, &m, &len, 0), SHMKIT_EPEERDEAD,
          "producer killed: try peek EPEERDEAD");
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_peek(c, &m, &len, 5000000000), SHMKIT_EPEERDEAD,
          "producer killed: EPEERDEAD");
    tap_diag("dead producer noticed in %.1f ms", (tu_now_ns() - t0) / 1e6);
    shmkit_ring_close(c);
}

/* multi-producer ring in one process */
static void multi_producer(void)
{
    shmkit_ring *c = NULL, *p = NULL, *p2 = NULL;
    char buf[64];
    void *w;
    uint32_t id;
    uint64_t sq;
    setup();
    is_rc(shmkit_ring_create(&c, seg, 4096, SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI), 0,
          "create a MULTI ring");
    is_rc(shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER), 0, "producer 1");
    is_rc(shmkit_ring_attach(&p2, seg, SHMKIT_RING_PRODUCER), 0, "producer 2");
    is_rc(shmkit_ring_reserve(p, 8, &w, 0), 0, "producer 1 reserves (holds the lock)");
    is_rc(shmkit_ring_reserve(p2, 8, &w, 0), -EAGAIN, "producer 2 try-reserve: EAGAIN");
    shmkit_ring_commit(p, 8);
    is_rc(shmkit_ring_recv(c, buf, sizeof buf, 0), 8, "first message");
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        shmkit_ring *pp = i & 1 ? p2 : p;
        tu_msg_fill(buf, 40, (uint32_t)(i & 1), (uint64_t)i);
        if (shmkit_ring_send(pp, buf, 40, 0) < 0)
            bad++;
        if (shmkit_ring_recv(c, buf, sizeof buf, 0) != 40 || tu_msg_check(buf, 40, &id, &sq) ||
            sq != (uint64_t)i)
            bad++;
    }
    is_int(bad, 0, "1000 messages from two producers in order");
    shmkit_ring_close(p);
    shmkit_ring_close(p2);
    shmkit_ring_close(c);
}

/* the consumer polls record headers, not the tail: a record whose tail
 * store never came (a producer killed between the two) is delivered
 * while the producer is still attached */
static void stale_tail_hint(void)
{
    shmkit_ring *c, *p;
    char buf[64];
    const void *m;
    size_t len;
    uint32_t id;
    uint64_t sq;
    setup();
    fresh(4096, 0, &c, &p);
    struct ring_ctl *ctl = shmkit_seg_data(seg);
    tu_msg_fill(buf, 40, 7, 1);
    is_rc(shmkit_ring_send(p, buf, 40, 0), 0, "send");
    ctl->tail = 0; /* the hint as it was before that send */
    ok(shmkit_ring_peek(c, &m, &len, 0) == 0 && len == 40 && !tu_msg_check(m, len, &id, &sq) &&
           sq == 1,
       "record past a stale tail hint: delivered");
    shmkit_ring_release(c);
    is_rc(shmkit_ring_peek(c, &m, &len, 0), -EAGAIN, "then empty");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

static void hostile_records(void)
{
    shmkit_ring *c, *p;
    char buf[512] = {0};
    const void *m;
    size_t len;
    setup();
    fresh(4096, 0, &c, &p);
    struct ring_ctl *ctl = shmkit_seg_data(seg);
    unsigned char *data = (unsigned char *)ctl + RING_DATA_OFF;
    uint64_t evil[] = {REC_MSG | 5000, REC_MSG | 4090, REC_PAD | 100, REC_MSG | REC_PAD | 4,
                       (1ull << 40) | 4};
    ctl->tail = 64; /* a tail hint past the bad header (the consumer reads headers only) */
    for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
        memcpy(data, &evil[i], 8);
        is_rc(shmkit_ring_peek(c, &m, &len, 0), SHMKIT_ECORRUPT, "bad record header %#llx",
              (unsigned long long)evil[i]);
    }
    memset(data, 0, 8);
    ctl->tail = 0;
    ctl->head = 12345;
    while (shmkit_ring_send(p, buf, 300, 0) == 0)
        ;
    is_rc(shmkit_ring_send(p, buf, 300, 0), SHMKIT_ECORRUPT, "consumer index out of range");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

static void hostile_control(void)
{
    shmkit_ring *c, *p;
    struct shmkit_chan_stats st;
    setup();
    fresh(4096, 0, &c, &p);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    struct ring_ctl *ctl = shmkit_seg_data(seg);
    uint64_t *fields[] = {&ctl->capacity, &ctl->data_off, &ctl->max_msg};
    for (size_t i = 0; i < 3; i++) {
        uint64_t keep = *fields[i];
        *fields[i] = keep * 2;
        is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), SHMKIT_ECORRUPT,
              "control block field %zu altered: ECORRUPT", i);
        *fields[i] = keep;
    }
    ctl->head = 0;
    ctl->tail = 1u << 20;
    is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), SHMKIT_ECORRUPT,
          "tail a megabyte past head: ECORRUPT");
    ctl->tail = 0;
    ctl->magic[0] = 'X';
    is_rc(shmkit_chan_stats(seg, &st), SHMKIT_ECORRUPT, "bad magic: stats refuse");
    is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), SHMKIT_ECORRUPT,
          "bad magic: attach refuses");
    ctl->magic[0] = 'S';
    ctl->version = 9;
    is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), SHMKIT_EVERSION, "version 9");
    ctl->version = CHAN_VERSION;
}

static const struct tu_case cases[] = {
    {"size_for", size_for, 0},
    {"create_errors", create_errors, 0},
    {"consumer_alone", consumer_alone, 0},
    {"roles_and_timeout", roles_and_timeout, 0},
    {"send_recv", send_recv, 0},
    {"every_length", every_length, 0},
    {"zero_copy", zero_copy, 0},
    {"dirty_loans", dirty_loans, 0},
    {"full_laps_stats", full_laps_stats, 0},
    {"peer_closed", peer_closed, 0},
    {"producer_killed", producer_killed, 0},
    {"multi_producer", multi_producer, 0},
    {"stale_tail_hint", stale_tail_hint, 0},
    {"hostile_records", hostile_records, 0},
    {"hostile_control", hostile_control, 0},
    {"huge_ring", huge_ring, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
