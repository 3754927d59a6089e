/* t_bus_claim.c - the bus's roles (publisher, subscriber records) are held
 * through claim words that name their owner from the moment they are
 * taken. Records left by dead processes - members, or joiners killed in
 * the middle of subscribing - are reclaimed, so subscribe never says
 * -EUSERS while nobody subscribes; live joiners are respected; a dead
 * publisher's claim gives subscribers SHMKIT_EPEERDEAD and a new publisher
 * its place; of several processes racing for the roles, exactly as many
 * win as there are. The claim words are forged the way a killed (or
 * hostile) process leaves them, and then left by real processes killed at
 * exact instructions of subscribing or attaching (single-stepped). */
#include "chan.h"
#include "tu_ring.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define SLOTS 8
#define MSG 64
#define SEC 1000000000LL

static shmkit_seg *seg;
static struct bus_ctl *ctl;
static struct bus_sub_rec *rec;
static uint64_t dead_id, recycled_id, live_id;

static shmkit_bus *fresh(unsigned max_subs, unsigned flags)
{
    shmkit_bus *b = NULL;
    if (shmkit_bus_create(&b, seg, SLOTS, MSG, max_subs, flags) < 0)
        tap_bail("create");
    rec = (struct bus_sub_rec *)((char *)ctl + ctl->subs_off);
    return b;
}

/* Two subscriber records, both left claimed by the dead. */
static void dead_subscriber_claims(void)
{
    static const struct {
        unsigned s0, s1;
        uint64_t *id0, *id1;
        const char *what;
    } t[] = {
        {CLAIM_CLAIMING, CLAIM_CLAIMING, &dead_id, &dead_id, "two dead joiners"},
        {CLAIM_CLAIMING, CLAIM_ATTACHED, &recycled_id, &dead_id,
         "a joiner whose pid was recycled and a dead member"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        shmkit_bus *b = fresh(2, 0);
        rec[0].claim = claim_make(t[i].s0, *t[i].id0);
        rec[1].claim = claim_make(t[i].s1, *t[i].id1);
        rec[0].cursor = rec[1].cursor = 1;
        shmkit_sub *s[3] = {0};
        is_rc(shmkit_bus_subscribe(&s[0], seg), 0, "%s hold both records: subscribe works",
              t[i].what);
        is_rc(shmkit_bus_subscribe(&s[1], seg), 0, "... twice");
        is_rc(shmkit_bus_subscribe(&s[2], seg), -EUSERS, "... and a third is one too many");
        char m[MSG];
        int got = 0;
        for (int k = 0; k < 2 * SLOTS; k++)
            got += shmkit_bus_send(b, "x", 1, 0) == 0 &&
                   shmkit_bus_recv(s[0], m, sizeof m, NULL, NULL, 0) == 1 &&
                   shmkit_bus_recv(s[1], m, sizeof m, NULL, NULL, 0) == 1;
        is_int(got, 2 * SLOTS, "... both receive every message");
        shmkit_bus_unsubscribe(s[0]);
        shmkit_bus_unsubscribe(s[1]);
        shmkit_bus_close(b);
    }
    /* live joiners keep their records */
    shmkit_bus *b = fresh(2, 0);
    rec[0].claim = claim_make(CLAIM_CLAIMING, live_id);
    rec[1].claim = claim_make(CLAIM_CLAIMING, live_id);
    shmkit_sub *s = NULL;
    is_rc(shmkit_bus_subscribe(&s, seg), -EUSERS, "two live joiners: EUSERS");
    /* a joiner holds no slot: a back-pressure publisher is not held by it */
    rec[0].claim = claim_make(CLAIM_CLAIMING, dead_id);
    int sent = 0;
    for (int k = 0; k < 3 * SLOTS; k++)
        sent += shmkit_bus_send(b, "y", 1, 0) == 0;
    is_int(sent, 3 * SLOTS, "back-pressure: joiners (live or dead) do not hold the publisher");
    shmkit_bus_close(b);
}

/* The publisher's claim left by a dead process. */
static void dead_publisher_claims(void)
{
    const unsigned states[] = {CLAIM_CLAIMING, CLAIM_ATTACHED};
    for (size_t i = 0; i < 2; i++) {
        shmkit_bus *b = fresh(4, 0);
        shmkit_sub *s = NULL;
        if (shmkit_bus_subscribe(&s, seg) < 0)
            tap_bail("subscribe");
        shmkit_bus_send(b, "q", 1, 0);
        shmkit_bus_close(b);
        ctl->pub_claim = claim_make(states[i], i ? recycled_id : dead_id);
        const char *what = i ? "attached (pid recycled)" : "claimed, dead owner";
        char m[MSG];
        is_int(shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0), 1,
               "publisher %s: what it queued is received", what);
        int rc = -EAGAIN;
        for (int k = 0; k < 2000 && rc == -EAGAIN; k++)
            if ((rc = shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0)) == -EAGAIN)
                usleep(100);
        is_rc(rc, SHMKIT_EPEERDEAD, "... then a try loop gets EPEERDEAD");
        uint64_t t0 = tu_now_ns();
        rc = shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 5 * SEC);
        double ms = (double)(tu_now_ns() - t0) / 1e6;
        ok(rc == SHMKIT_EPEERDEAD && ms < 1000, "... a blocking recv too, in %.1f ms (%s)", ms,
           shmkit_errname(rc));
        b = NULL;
        struct shmkit_chan_stats st0, st;
        shmkit_chan_stats(seg, &st0);
        is_rc(shmkit_bus_attach(&b, seg), 0, "... and a new publisher attaches");
        shmkit_chan_stats(seg, &st);
        is_int(st.takeovers - st0.takeovers, 1, "... counted as a takeover");
        ok(shmkit_bus_send(b, "r", 1, 0) == 0 &&
               shmkit_bus_recv(s, m, sizeof m, NULL, NULL, 0) == 1,
           "... whose message arrives");
        shmkit_bus_unsubscribe(s);
        shmkit_bus_close(b);
    }
    shmkit_bus *b = fresh(4, 0), *b2 = NULL;
    uint64_t mine = ctl->pub_claim;
    ctl->pub_claim = claim_make(CLAIM_CLAIMING, live_id);
    is_rc(shmkit_bus_attach(&b2, seg), -EBUSY, "a live process claiming the publisher: EBUSY");
    ctl->pub_claim = mine;
    shmkit_bus_close(b);
}

/* N processes race to subscribe (WANT records) or to publish (WANT 0). */
struct race {
    _Atomic int ready, go, reported, done;
    int rc[16];
};

static void race(int n, int subscribe, int *won, int *refused)
{
    struct race *r =
        mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (r == MAP_FAILED)
        tap_bail("mmap");
    pid_t pid[16];
    for (int i = 0; i < n; i++) {
        pid[i] = fork();
        if (pid[i] == 0) {
            atomic_fetch_add(&r->ready, 1);
            while (!atomic_load(&r->go))
                sched_yield();
            shmkit_sub *s = NULL;
            shmkit_bus *b = NULL;
            r->rc[i] = subscribe ? shmkit_bus_subscribe(&s, seg) : shmkit_bus_attach(&b, seg);
            atomic_fetch_add(&r->reported, 1);
            while (!atomic_load(&r->done))
                usleep(1000);
            shmkit_bus_unsubscribe(s);
            shmkit_bus_close(b);
            _exit(0);
        }
    }
    uint64_t end = tu_now_ns() + 10 * SEC;
    while (atomic_load(&r->ready) < n && tu_now_ns() < end)
        usleep(1000);
    atomic_store(&r->go, 1);
    while (atomic_load(&r->reported) < n && tu_now_ns() < end)
        usleep(1000);
    *won = *refused = 0;
    for (int i = 0; i < n; i++) {
        *won += r->rc[i] == 0;
        *refused += r->rc[i] == (subscribe ? -EUSERS : -EBUSY);
    }
    atomic_store(&r->done, 1);
    for (int i = 0; i < n; i++) {
        int st;
        tu_wait(pid[i], 10000, &st);
    }
    munmap(r, sizeof *r);
}

static void races(void)
{
    int rounds = TU_SCALE(50), bad_s = 0, bad_p = 0;
    for (int i = 0; i < rounds; i++) {
        shmkit_bus *b = fresh(3, 0);
        int won, refused;
        race(6, 1, &won, &refused);
        if (won != 3 || refused != 3) {
            if (bad_s++ < 3)
                tap_diag("round %d: %d subscribed, %d refused", i, won, refused);
        }
        shmkit_bus_close(b);
        race(6, 0, &won, &refused);
        if (won != 1 || refused != 5) {
            if (bad_p++ < 3)
                tap_diag("round %d: %d publishers attached", i, won);
        }
    }
    is_int(bad_s, 0, "6 processes race for 3 subscriber records: 3 join, 3 get EUSERS (%d rounds)",
           rounds);
    is_int(bad_p, 0, "6 processes race to be the publisher: one wins, 5 get EBUSY (%d rounds)",
           rounds);
}

/* ---- processes killed at exact points of joining ---- */

static void op_join(void *arg)
{
    if (arg) {
        shmkit_sub *s = NULL;
        shmkit_bus_subscribe(&s, seg);
    } else {
        shmkit_bus *b = NULL;
        shmkit_bus_attach(&b, seg);
    }
}

/* The victim subscribes (SUB) or attaches as publisher and is killed EXTRA
 * instructions after its first store to the control block or subscriber
 * table. Then every record can be joined / the publisher's subscriber is
 * told and a publisher attaches. 1 good, 0 bad, -1 untraceable. */
static int killed_joiner(int sub, long extra, int *hit)
{
    shmkit_bus *b = fresh(2, 0);
    shmkit_sub *s[2] = {0};
    if (!sub) {
        shmkit_bus_send(b, "q", 1, 0);
        shmkit_bus_close(b);
        b = NULL;
        if (shmkit_bus_subscribe(&s[0], seg) < 0)
            tap_bail("subscribe");
    }
    size_t len = sizeof *ctl + 2 * sizeof(struct bus_sub_rec);
    int k = tu_step_kill(op_join, (void *)(uintptr_t)sub, ctl, len, extra);
    int good = 1, rc = 0;
    if (k < 0) {
        good = -1;
        goto out;
    }
    *hit += k;
    char m[MSG];
    if (sub) {
        for (int i = 0; i < 2 && rc == 0; i++)
            if ((rc = shmkit_bus_subscribe(&s[i], seg)) != 0) {
                tap_diag("extra %ld: subscriber %d of 2: %s", extra, i + 1, shmkit_errname(rc));
                good = 0;
            }
        goto out;
    }
    uint64_t t0 = tu_now_ns();
    shmkit_bus_recv(s[0], m, sizeof m, NULL, NULL, 0); /* what was queued before */
    rc = shmkit_bus_recv(s[0], m, sizeof m, NULL, NULL, 3 * SEC);
    double ms = (double)(tu_now_ns() - t0) / 1e6;
    if (k && (rc != SHMKIT_EPEERDEAD || ms > 1000)) {
        tap_diag("extra %ld: the subscriber got %s after %.1f ms", extra, shmkit_errname(rc), ms);
        good = 0;
    }
    if ((rc = shmkit_bus_attach(&b, seg)) != 0) {
        tap_diag("extra %ld: a new publisher: %s", extra, shmkit_errname(rc));
        good = 0;
    }
out:
    shmkit_bus_unsubscribe(s[0]);
    shmkit_bus_unsubscribe(s[1]);
    shmkit_bus_close(b);
    return good;
}

static void killed_joiners(void)
{
    static const long asan_extra[] = {0, 8, 64};
    static const long extra[] = {0, 1, 2, 4, 8, 16, 64, 256};
    const long *x = TAP_UNDER_ASAN ? asan_extra : extra;
    size_t nx = TAP_UNDER_ASAN ? 3 : sizeof extra / sizeof extra[0];
    for (int sub = 1; sub >= 0; sub--) {
        int good = 0, hit = 0, rc = 0;
        for (size_t j = 0; j < nx && rc >= 0; j++) {
            rc = killed_joiner(sub, x[j], &hit);
            good += rc > 0;
        }
        if (rc < 0) {
            ok(1, "# SKIP cannot trace a child here (ptrace)");
            continue;
        }
        ok(good == (int)nx && hit == (int)nx,
           "%s killed 0..%ld instructions after its claim: %s (%d/%zu rounds, %d killed in time)",
           sub ? "a subscriber" : "the publisher", x[nx - 1],
           sub ? "both records can be joined" : "subscriber told, a publisher attaches", good, nx,
           hit);
    }
}

int main(void)
{
    seg = tu_seg_anon(shmkit_bus_size_for(SLOTS, MSG, 4));
    ctl = shmkit_seg_data(seg);
    tu_claim_ids(&dead_id, &live_id, &recycled_id);
    dead_subscriber_claims();
    dead_publisher_claims();
    races();
    killed_joiners();
    shmkit_close(seg);
    return tap_done();
}
