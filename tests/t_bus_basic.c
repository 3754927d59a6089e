/* t_bus_basic.c - the bus's contract in one process: geometry, both
 * modes, loss accounting, 64 subscribers, statistics, hostile bytes.
 * Named cases (tu_case.h): --list. */
#include "chan.h"
#include "tu_case.h"
#include "tu_ring.h"

static char name[96];
static shmkit_seg *seg;

static void cleanup(void)
{
    if (seg) {
        shmkit_seg_remove(seg);
        shmkit_close(seg);
    }
}

/* Every case but size_for works in its own segment, removed at its exit. */
static void setup(void)
{
    atexit(cleanup);
    seg = tu_seg_new(name, sizeof name, "busb", shmkit_bus_size_for(16, 256, 64));
}

/* A bus made for a case about something else: setup, create, subscribe. */
static shmkit_bus *bus_for(unsigned flags, shmkit_sub **s)
{
    shmkit_bus *b = NULL;
    setup();
    if (shmkit_bus_create(&b, seg, 16, 256, 64, flags) < 0 || shmkit_bus_subscribe(s, seg) < 0)
        tap_bail("bus create/subscribe");
    return b;
}

static void size_for(void)
{
    size_t need = shmkit_bus_size_for(16, 256, 64);
    ok(need > 16 * 256 + 64 * 64, "size_for(16 slots, 256 B, 64 subs) = %zu", need);
    is_int(shmkit_bus_size_for(15, 256, 64), 0, "15 slots: 0");
    is_int(shmkit_bus_size_for(16, 0, 64), 0, "msg_max 0: 0");
    is_int(shmkit_bus_size_for(16, 256, 0), 0, "0 subscribers: 0");
    is_int(shmkit_bus_size_for(16, 256, SHMKIT_BUS_MAX_SUBS + 1), 0, "too many subscribers: 0");
}

static void create_errors(void)
{
    shmkit_bus *b = NULL;
    shmkit_sub *s = NULL;
    setup();
    is_rc(shmkit_bus_subscribe(&s, seg), SHMKIT_ELAYOUT, "subscribe before create: ELAYOUT");
    is_rc(shmkit_bus_create(&b, seg, 32, 256, 64, 0), SHMKIT_EBADSIZE, "too big for the payload");
    is_rc(shmkit_bus_create(&b, seg, 16, 256, 64, 4), -EINVAL, "unknown flag");
}

/* back-pressure: the publisher waits for the slowest subscriber */
static void back_pressure(void)
{
    char buf[512] = {0};
    shmkit_bus *b = NULL;
    shmkit_sub *s = NULL;
    setup();
    is_rc(shmkit_bus_create(&b, seg, 16, 256, 64, 0), 0, "create back-pressure bus");
    shmkit_bus *b2 = NULL;
    is_rc(shmkit_bus_attach(&b2, seg), -EBUSY, "second publisher: EBUSY");
    is_rc(shmkit_bus_send(b, "early", 5, 0), 0, "publish with no subscriber");
    is_rc(shmkit_bus_subscribe(&s, seg), 0, "subscribe");
    uint64_t seq = 0, lost = 0;
    is_rc(shmkit_bus_recv(s, buf, sizeof buf, &seq, &lost, 0), -EAGAIN,
          "a new subscriber starts after what was published");
    is_rc(shmkit_bus_send(b, buf, 257, 0), SHMKIT_ETOOBIG, "257 bytes: ETOOBIG");
    int n = 0;
    while (shmkit_bus_send(b, buf, 100, 0) == 0)
        n++;
    is_int(n, 16, "back-pressure: 16 slots, then the publisher must wait");
    is_rc(shmkit_bus_send(b, buf, 100, 5000000), -ETIMEDOUT, "... 5 ms loan times out");
    is_int(shmkit_bus_recv(s, buf, sizeof buf, &seq, &lost, 0), 100, "subscriber reads one");
    is_int(seq, 2, "... sequence 2 (the first was published before it joined)");
    is_rc(shmkit_bus_send(b, buf, 100, 0), 0, "now one slot is free");
    int got = 0;
    while (shmkit_bus_recv(s, buf, sizeof buf, &seq, &lost, 0) == 100)
        got++;
    is_int(got, 16, "subscriber drains the rest");
    is_int(lost, 0, "nothing lost in back-pressure mode");
    const void *m;
    size_t len;
    void *w;
    is_rc(shmkit_bus_loan(b, 50, &w, 0), 0, "zero-copy loan");
    memcpy(w, "zero-copy", 9);
    is_rc(shmkit_bus_peek(s, &m, &len, &seq, NULL, 0), -EAGAIN, "not visible before publish");
    is_rc(shmkit_bus_publish(b, 9, &seq), 0, "publish 9 of 50");
    is_int(seq, 19, "sequence 19");
    ok(!shmkit_bus_peek(s, &m, &len, &seq, NULL, 0) && len == 9 && !memcmp(m, "zero-copy", 9),
       "peek in place");
    is_rc(shmkit_bus_release(s), 0, "release");
    is_rc(shmkit_bus_release(s), -EINVAL, "release twice: EINVAL");
    shmkit_bus_unsubscribe(s);
    shmkit_bus_close(b);
}

/* 64 subscribers, the 65th is refused; one leaves, another joins */
static void many_subscribers(void)
{
    char buf[512] = {0};
    shmkit_sub *s = NULL, *s2 = NULL;
    shmkit_bus *b = bus_for(0, &s);
    int n, got;
    shmkit_sub *many[64];
    int joined = 0;
    for (int i = 0; i < 63; i++)
        joined += shmkit_bus_subscribe(&many[i], seg) == 0;
    is_int(joined, 63, "63 more subscribers join (64 in all)");
    is_rc(shmkit_bus_subscribe(&s2, seg), -EUSERS, "the 65th: EUSERS");
    shmkit_bus_send(b, "all", 3, 0);
    int all = 0;
    for (int i = 0; i < 63; i++)
        all += shmkit_bus_recv(many[i], buf, sizeof buf, NULL, NULL, 0) == 3;
    all += shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0) == 3;
    is_int(all, 64, "all 64 receive the message");
    shmkit_bus_unsubscribe(many[10]);
    is_rc(shmkit_bus_subscribe(&many[10], seg), 0, "after one leaves, another joins");
    struct shmkit_chan_stats st;
    is_rc(shmkit_chan_stats(seg, &st), 0, "stats");
    ok(st.layout == SHMKIT_LAYOUT_BUS && st.readers == 64 && st.max_readers == 64 &&
           st.msgs_in == 1 && st.writer_pid == getpid(),
       "stats: 64 readers, 1 published (%llu)", (unsigned long long)st.msgs_in);
    /* the publisher only waits for live, joined subscribers */
    for (int i = 0; i < 63; i++)
        shmkit_bus_unsubscribe(many[i]);
    n = 0;
    while (shmkit_bus_send(b, buf, 10, 0) == 0 && n < 100)
        n++;
    is_int(n, 16, "one lagging subscriber (others left) holds the publisher at 16");
    shmkit_bus_close(b);
    got = 0;
    while (shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 1000000000) == 10)
        got++;
    is_int(got, 16, "publisher closed: the queued messages come first");
    is_rc(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 1000000000), SHMKIT_ECLOSED,
          "then ECLOSED (end of stream)");
    shmkit_bus_unsubscribe(s);
}

/* lossy: lapped subscribers count exactly what they lost */
static void lossy(void)
{
    shmkit_bus *b;
    shmkit_sub *s = NULL;
    const void *m;
    size_t len;
    uint64_t seq, lost;
    int got;
    setup();
    b = NULL;
    is_rc(shmkit_bus_create(&b, seg, 16, 256, 64, SHMKIT_BUS_LOSSY), 0, "create lossy bus");
    is_rc(shmkit_bus_subscribe(&s, seg), 0, "subscribe");
    int sent = 0;
    for (int i = 0; i < 1000; i++)
        sent += shmkit_bus_send(b, &i, sizeof i, 0) == 0;
    is_int(sent, 1000, "lossy publisher never waits: 1000 into 16 slots");
    got = 0;
    lost = 0;
    uint64_t prev = 0;
    int order = 1, value = 1;
    for (;;) {
        int v;
        int rc = shmkit_bus_recv(s, &v, sizeof v, &seq, &lost, 0);
        if (rc < 0)
            break;
        order &= seq > prev;
        value &= (uint64_t)v + 1 == seq;
        prev = seq;
        got++;
    }
    ok(got > 0 && got <= 16, "received the last %d", got);
    is_int(lost + (uint64_t)got, 1000, "lost (%llu) + received = published",
           (unsigned long long)lost);
    is_int(shmkit_sub_lost(s), lost, "shmkit_sub_lost agrees");
    ok(order && value, "sequence numbers increase and match the payload");
    shmkit_bus_send(b, "a", 1, 0);
    ok(!shmkit_bus_peek(s, &m, &len, &seq, NULL, 0), "peek");
    for (int i = 0; i < 16; i++)
        shmkit_bus_send(b, "b", 1, 0);
    is_rc(shmkit_bus_release(s), -ESTALE, "slot overwritten while peeked: ESTALE");
    shmkit_bus_unsubscribe(s);
    shmkit_bus_close(b);
}

/* exact accounting through every path: laps, peeking twice, a message
 * skipped for size, one overwritten while peeked, NULL LOST */
static void lossy_accounting(void)
{
    char buf[512];
    shmkit_sub *s = NULL;
    shmkit_bus *b = bus_for(SHMKIT_BUS_LOSSY, &s);
    const void *m;
    size_t len;
    uint64_t seq, lost;
    shmkit_bus_unsubscribe(s);
    is_rc(shmkit_bus_subscribe(&s, seg), 0, "subscribe again");
    uint64_t pub = 0, recvd = 0;
    lost = 0;
    for (int i = 0; i < 100; i++)
        pub += shmkit_bus_send(b, "p", 1, 0) == 0;
    ok(!shmkit_bus_peek(s, &m, &len, &seq, &lost, 0), "peek after being lapped");
    uint64_t lost1 = lost;
    ok(lost1 > 0 && lost1 == shmkit_sub_lost(s), "... reports the %llu lost, as sub_lost does",
       (unsigned long long)lost1);
    ok(!shmkit_bus_peek(s, &m, &len, &seq, &lost, 0), "peek the same message again");
    is_int(lost, lost1, "... adds nothing to *lost the second time");
    recvd += shmkit_bus_release(s) == 0;
    while (shmkit_bus_recv(s, buf, sizeof buf, NULL, &lost, 0) >= 0)
        recvd++; /* the rest of the window it landed in */
    lost1 = lost;
    memset(buf, 'L', 200);
    pub += shmkit_bus_send(b, buf, 200, 0) == 0;
    is_rc(shmkit_bus_recv(s, buf, 4, &seq, &lost, 0), -EMSGSIZE, "200 bytes into 4: EMSGSIZE");
    is_int(lost, lost1 + 1, "... the skipped message is added to *lost by that call");
    is_int(shmkit_sub_lost(s), lost, "... and to sub_lost");
    pub += shmkit_bus_send(b, "q", 1, 0) == 0;
    ok(!shmkit_bus_peek(s, &m, &len, &seq, NULL, 0), "peek, LOST NULL");
    for (int i = 0; i < 16; i++)
        pub += shmkit_bus_send(b, "r", 1, 0) == 0;
    is_rc(shmkit_bus_release(s), -ESTALE, "overwritten while peeked: ESTALE");
    is_int(shmkit_sub_lost(s), lost + 1, "... counted in sub_lost at once");
    uint64_t before = lost;
    is_int(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0), 1, "recv with LOST NULL");
    recvd++;
    int rc2;
    while ((rc2 = shmkit_bus_recv(s, buf, sizeof buf, NULL, &lost, 0)) >= 0)
        recvd++;
    is_rc(rc2, -EAGAIN, "drained");
    ok(lost > before, "the ESTALE loss and the lap reach *lost later (%llu)",
       (unsigned long long)(lost - before));
    is_int(lost + recvd, pub, "sum of *lost (%llu) + received (%llu) == published (%llu)",
           (unsigned long long)lost, (unsigned long long)recvd, (unsigned long long)pub);
    is_int(shmkit_sub_lost(s), lost, "sub_lost == sum of *lost");
    shmkit_bus_unsubscribe(s);
    shmkit_bus_close(b);
}

/* try calls report a dead publisher too */
static void publisher_closed_try(void)
{
    char buf[512];
    shmkit_sub *s = NULL;
    shmkit_bus *b = bus_for(SHMKIT_BUS_LOSSY, &s);
    shmkit_bus_unsubscribe(s);
    is_rc(shmkit_bus_subscribe(&s, seg), 0, "subscribe");
    shmkit_bus_send(b, "z", 1, 0);
    shmkit_bus_close(b);
    usleep(2000); /* past the handle's 1 ms liveness-check rate limit */
    is_int(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0), 1,
           "publisher closed: try recv gets the last message");
    is_rc(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0), SHMKIT_ECLOSED,
          "then ECLOSED, not EAGAIN");
    shmkit_bus_unsubscribe(s);
}

/* a publisher killed after storing a slot's sequence but before
 * pub_seq: subscribers may have read that message, so the next
 * publisher must count it as published, not write the same number */
static void pub_seq_recovery(void)
{
    char buf[512];
    shmkit_bus *b;
    shmkit_sub *s = NULL;
    uint64_t seq;
    setup();
    b = NULL;
    shmkit_bus_create(&b, seg, 16, 256, 64, 0);
    shmkit_bus_subscribe(&s, seg);
    struct bus_ctl *c = shmkit_seg_data(seg);
    shmkit_bus_send(b, "m1", 2, 0);
    shmkit_bus_close(b);
    c->pub_seq--; /* as the killed publisher left it */
    ok(shmkit_bus_recv(s, buf, sizeof buf, &seq, NULL, 0) == 2 && seq == 1,
       "subscriber reads the message pub_seq does not count yet");
    b = NULL;
    is_rc(shmkit_bus_attach(&b, seg), 0, "a new publisher attaches");
    shmkit_bus_send(b, "m2", 2, 0);
    ok(shmkit_bus_recv(s, buf, sizeof buf, &seq, NULL, 0) == 2 && seq == 2 && !memcmp(buf, "m2", 2),
       "... and its first message is number 2, which the subscriber receives");
    shmkit_bus_close(b);
    shmkit_bus_unsubscribe(s);
}

static void hostile(void)
{
    char buf[512];
    shmkit_bus *b;
    shmkit_sub *s = NULL, *s2 = NULL;
    struct bus_ctl *c;
    struct shmkit_chan_stats st;
    setup();
    b = NULL;
    shmkit_bus_create(&b, seg, 16, 256, 64, 0);
    shmkit_bus_subscribe(&s, seg);
    c = shmkit_seg_data(seg);
    struct bus_slot *sl = (struct bus_slot *)((char *)c + c->data_off + c->slot_size);
    shmkit_bus_send(b, "x", 1, 0);
    sl->len = 100000;
    is_rc(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0), SHMKIT_ECORRUPT,
          "slot length > msg_max: ECORRUPT");
    sl->len = 1;
    sl->seq = 1000;
    is_rc(shmkit_bus_recv(s, buf, sizeof buf, NULL, NULL, 0), SHMKIT_ECORRUPT,
          "back-pressure slot from the future: ECORRUPT");
    sl->seq = 1;
    struct bus_sub_rec *rec = (struct bus_sub_rec *)((char *)c + c->subs_off);
    for (int i = 0; i < 15; i++)
        shmkit_bus_send(b, "y", 1, 0);
    rec->cursor = 1u << 30;
    is_rc(shmkit_bus_send(b, "z", 1, 0), SHMKIT_ECORRUPT, "subscriber cursor past the publisher");
    rec->cursor = 1;
    uint64_t *fields[] = {&c->slots, &c->slot_size, &c->msg_max, &c->subs_off, &c->data_off};
    for (size_t i = 0; i < 5; i++) {
        uint64_t keep = *fields[i];
        *fields[i] = keep * 2 + 1;
        is_rc(shmkit_bus_subscribe(&s2, seg), SHMKIT_ECORRUPT, "geometry field %zu altered", i);
        is_rc(shmkit_chan_stats(seg, &st), SHMKIT_ECORRUPT, "... stats refuse too");
        *fields[i] = keep;
    }
    c->max_subs = 100000;
    is_rc(shmkit_bus_subscribe(&s2, seg), SHMKIT_ECORRUPT, "max_subs altered");
    c->max_subs = 64;
    shmkit_bus_unsubscribe(s);
    shmkit_bus_close(b);
}

static const struct tu_case cases[] = {
    {"size_for", size_for, 0},
    {"create_errors", create_errors, 0},
    {"back_pressure", back_pressure, 0},
    {"many_subscribers", many_subscribers, 0},
    {"lossy", lossy, 0},
    {"lossy_accounting", lossy_accounting, 0},
    {"publisher_closed_try", publisher_closed_try, 0},
    {"pub_seq_recovery", pub_seq_recovery, 0},
    {"hostile", hostile, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
