/* t_ring_claim.c - the ring's roles (consumer, producer slots) are held
 * through claim words that name their owner from the moment they are
 * taken. Claims left by dead processes, in every state - attached, caught
 * in the middle of claiming, with a recycled pid - never make a peer wait
 * for ever or keep a role from being taken; live claims are respected; a
 * slot the producers' lock names is not handed to a new producer (which
 * would make the dead holder's lock look alive); and of several processes
 * racing for one role, exactly one gets it. The claim words are forged
 * the way a killed (or hostile) process leaves them, and then left by real
 * processes killed at exact instructions of attaching (single-stepped). */
#include "chan.h"
#include "tu_ring.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>

#define CAP 4096
#define SEC 1000000000LL

static shmkit_seg *seg;
static struct ring_ctl *ctl;
static uint64_t dead_id, recycled_id, live_id;

/* A try-call loop, as an application would write it: the call's result
 * once it is no longer -EAGAIN, or -EAGAIN after 200 ms. */
static int try_recv(shmkit_ring *c)
{
    char b[64];
    int rc = -EAGAIN;
    for (int i = 0; i < 2000 && rc == -EAGAIN; i++) {
        rc = shmkit_ring_recv(c, b, sizeof b, 0);
        if (rc == -EAGAIN)
            usleep(100);
    }
    return rc;
}

/* A blocking receive with a 5 s limit; *MS: how long it took. */
static int timed_recv(shmkit_ring *c, double *ms)
{
    char b[64];
    uint64_t t0 = tu_now_ns();
    int rc = shmkit_ring_recv(c, b, sizeof b, 5 * SEC);
    *ms = (double)(tu_now_ns() - t0) / 1e6;
    return rc;
}

static shmkit_ring *fresh(unsigned flags)
{
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, CAP, SHMKIT_RING_CONSUMER | flags) < 0)
        tap_bail("create");
    return c;
}

/* A producer slot (or the only one) left claimed by a dead process: the
 * consumer is told, blocking or trying, and promptly. */
static void dead_producer_claims(void)
{
    static const struct {
        unsigned state;
        uint64_t *id;
        const char *what;
    } t[] = {
        {CLAIM_CLAIMING, &dead_id, "claiming, dead owner"},
        {CLAIM_CLAIMING, &recycled_id, "claiming, pid recycled"},
        {CLAIM_ATTACHED, &dead_id, "attached, dead owner"},
    };
    for (unsigned multi = 0; multi < 2; multi++) {
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
            shmkit_ring *c = fresh(multi ? SHMKIT_RING_MULTI : 0);
            ctl->prods[multi ? 5 : 0].claim = claim_make(t[i].state, *t[i].id);
            const char *kind = multi ? "MULTI" : "single";
            is_rc(try_recv(c), SHMKIT_EPEERDEAD, "%s, producer slot %s: a try loop gets EPEERDEAD",
                  kind, t[i].what);
            double ms;
            int rc = timed_recv(c, &ms);
            ok(rc == SHMKIT_EPEERDEAD && ms < 1000, "... a blocking recv too, in %.1f ms (%s)", ms,
               shmkit_errname(rc));
            shmkit_ring *p = NULL;
            is_rc(shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER), 0,
                  "... and a producer attaches");
            char b[8];
            ok(shmkit_ring_send(p, "m", 1, 0) == 0 && shmkit_ring_recv(c, b, sizeof b, 0) == 1,
               "... whose message arrives");
            shmkit_ring_close(p);
            shmkit_ring_close(c);
        }
    }
    /* a live process in the middle of claiming is a producer */
    shmkit_ring *c = fresh(SHMKIT_RING_MULTI);
    ctl->prods[7].claim = claim_make(CLAIM_CLAIMING, live_id);
    is_rc(try_recv(c), -EAGAIN, "a live claimer's slot: the consumer keeps waiting (EAGAIN)");
    char b[8];
    is_rc(shmkit_ring_recv(c, b, sizeof b, 50000000), -ETIMEDOUT, "... or ETIMEDOUT");
    shmkit_ring_close(c);
}

/* Every producer slot left claimed by the dead: all are taken back. */
static void all_slots_dead(void)
{
    shmkit_ring *c = fresh(SHMKIT_RING_MULTI);
    for (unsigned i = 0; i < RING_PROD_SLOTS; i++)
        ctl->prods[i].claim =
            claim_make(i & 1 ? CLAIM_ATTACHED : CLAIM_CLAIMING, i & 2 ? recycled_id : dead_id);
    shmkit_ring *p[RING_PROD_SLOTS + 1] = {0};
    int got = 0;
    for (unsigned i = 0; i < RING_PROD_SLOTS; i++)
        got += shmkit_ring_attach(&p[i], seg, SHMKIT_RING_PRODUCER) == 0;
    is_int(got, RING_PROD_SLOTS, "32 slots claimed by dead processes: 32 producers attach");
    is_rc(shmkit_ring_attach(&p[RING_PROD_SLOTS], seg, SHMKIT_RING_PRODUCER), -EBUSY,
          "... and a 33rd gets EBUSY");
    for (unsigned i = 0; i < RING_PROD_SLOTS; i++)
        shmkit_ring_close(p[i]);
    shmkit_ring_close(c);
}

/* The producers' lock names a slot whose claimer died while claiming. */
static void lock_of_a_dead_claimer(void)
{
    for (int blocking = 0; blocking < 2; blocking++) {
        shmkit_ring *c = fresh(SHMKIT_RING_MULTI);
        ctl->prods[3].claim = claim_make(CLAIM_CLAIMING, dead_id);
        ctl->plock = 4 | PLOCK_WAITERS;
        shmkit_ring *p = NULL;
        if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
            tap_bail("attach");
        void *w = NULL;
        int rc = -EAGAIN;
        uint64_t t0 = tu_now_ns();
        if (blocking) {
            rc = shmkit_ring_reserve(p, 5, &w, 5 * SEC);
        } else {
            for (int i = 0; i < 2000 && rc == -EAGAIN; i++)
                if ((rc = shmkit_ring_reserve(p, 5, &w, 0)) == -EAGAIN)
                    usleep(100);
        }
        double ms = (double)(tu_now_ns() - t0) / 1e6;
        ok(rc == 0 && ms < 1000,
           "lock held by a dead claimer's slot: a %s reserve takes it over "
           "in %.1f ms (%s)",
           blocking ? "blocking" : "try", ms, shmkit_errname(rc));
        char b[8];
        if (rc == 0) {
            memcpy(w, "taken", 5);
            shmkit_ring_commit(p, 5);
        }
        ok(shmkit_ring_recv(c, b, sizeof b, 0) == 5 && !memcmp(b, "taken", 5),
           "... and the message arrives");
        shmkit_ring_close(p);
        shmkit_ring_close(c);
    }
}

/* A lock holder dies; a producer that attaches afterwards and stays idle
 * must not inherit the dead holder's slot (it would make the lock look
 * held by a live process): another producer's send takes the lock over. */
static void idle_newcomer(void)
{
    shmkit_ring *c = fresh(SHMKIT_RING_MULTI), *p = NULL, *idle = NULL;
    if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("attach");
    int fds[2];
    if (pipe(fds) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *h = NULL;
        void *w;
        if (shmkit_ring_attach(&h, seg, SHMKIT_RING_PRODUCER) < 0 ||
            shmkit_ring_reserve(h, 64, &w, SEC) < 0)
            _exit(2);
        if (write(fds[1], "a", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    close(fds[1]);
    if (!tu_ready(fds[0], 10000))
        tap_bail("lock holder child");
    kill(pid, SIGKILL);
    int st;
    tu_wait(pid, 10000, &st);
    is_rc(shmkit_ring_attach(&idle, seg, SHMKIT_RING_PRODUCER), 0,
          "lock holder killed; a new producer attaches");
    uint64_t t0 = tu_now_ns();
    int rc = shmkit_ring_send(p, "after", 5, 3 * SEC);
    double ms = (double)(tu_now_ns() - t0) / 1e6;
    ok(rc == 0 && ms < 1000,
       "... and while it idles, another producer takes the lock over in %.1f ms (%s)", ms,
       shmkit_errname(rc));
    char b[8];
    ok(shmkit_ring_recv(c, b, sizeof b, 0) == 5 && !memcmp(b, "after", 5), "... message arrives");
    shmkit_ring_close(idle);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* The consumer's claim left by a dead process: a producer waiting for room
 * is told, and a new consumer attaches without TAKEOVER. */
static void dead_consumer_claims(void)
{
    const unsigned states[] = {CLAIM_CLAIMING, CLAIM_ATTACHED};
    for (size_t i = 0; i < 2; i++) {
        shmkit_ring *c = fresh(0), *p = NULL;
        if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
            tap_bail("attach");
        shmkit_ring_close(c);
        ctl->cons_claim = claim_make(states[i], i ? recycled_id : dead_id);
        char b[500] = {0};
        int sent = 0;
        while (shmkit_ring_send(p, b, sizeof b, 0) == 0)
            sent++;
        uint64_t t0 = tu_now_ns();
        int rc = shmkit_ring_send(p, b, sizeof b, 5 * SEC);
        double ms = (double)(tu_now_ns() - t0) / 1e6;
        ok(rc == SHMKIT_EPEERDEAD && ms < 1000,
           "consumer %s by a dead process: the blocked producer gets EPEERDEAD in %.1f ms",
           i ? "attached" : "claimed", ms);
        c = NULL;
        is_rc(shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER), 0,
              "... a new consumer attaches without TAKEOVER");
        int got = 0;
        while (shmkit_ring_recv(c, b, sizeof b, 0) == (int)sizeof b)
            got++;
        is_int(got, sent, "... and receives what was queued");
        shmkit_ring_close(p);
        shmkit_ring_close(c);
    }
    shmkit_ring *c = fresh(0), *c2 = NULL;
    ctl->cons_claim = claim_make(CLAIM_CLAIMING, live_id);
    is_rc(shmkit_ring_attach(&c2, seg, SHMKIT_RING_CONSUMER), -EBUSY,
          "a live process claiming the consumer role: EBUSY");
    ctl->cons_claim = claim_make(CLAIM_ATTACHED, live_id);
    shmkit_ring_close(c);
}

/* N processes race for one role: exactly one gets it. */
struct race {
    _Atomic int ready, go, reported, done;
    int rc[16];
};

static int race(unsigned role, int n)
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
            shmkit_ring *h = NULL;
            r->rc[i] = shmkit_ring_attach(&h, seg, role);
            atomic_fetch_add(&r->reported, 1);
            while (!atomic_load(&r->done))
                usleep(1000);
            shmkit_ring_close(h);
            _exit(0);
        }
    }
    uint64_t end = tu_now_ns() + 10 * SEC;
    while (atomic_load(&r->ready) < n && tu_now_ns() < end)
        usleep(1000);
    atomic_store(&r->go, 1);
    while (atomic_load(&r->reported) < n && tu_now_ns() < end)
        usleep(1000);
    int won = 0, busy = 0;
    for (int i = 0; i < n; i++) {
        won += r->rc[i] == 0;
        busy += r->rc[i] == -EBUSY;
    }
    atomic_store(&r->done, 1);
    for (int i = 0; i < n; i++) {
        int st;
        tu_wait(pid[i], 10000, &st);
    }
    munmap(r, sizeof *r);
    return won == 1 && busy == n - 1 ? 1 : -won;
}

static void races(void)
{
    int rounds = TU_SCALE(50), bad_c = 0, bad_p = 0;
    for (int i = 0; i < rounds; i++) {
        shmkit_ring *c = fresh(0);
        shmkit_ring_close(c); /* the consumer role is free, the producer never taken */
        int rc = race(SHMKIT_RING_CONSUMER, 6);
        bad_c += rc != 1;
        if (rc != 1 && bad_c < 3)
            tap_diag("round %d: %d consumers attached", i, -rc);
        rc = race(SHMKIT_RING_PRODUCER, 6);
        bad_p += rc != 1;
        if (rc != 1 && bad_p < 3)
            tap_diag("round %d: %d producers attached", i, -rc);
    }
    is_int(bad_c, 0, "6 processes race to be the consumer: one wins, 5 get EBUSY (%d rounds)",
           rounds);
    is_int(bad_p, 0, "6 processes race to be the single producer: one wins (%d rounds)", rounds);
}

/* ---- processes killed at exact points of attaching ---- */

static void op_attach(void *arg)
{
    shmkit_ring *r = NULL;
    shmkit_ring_attach(&r, seg, (unsigned)(uintptr_t)arg);
}

/* The victim attaches as ROLE (on a ring made with FLAGS) and is killed
 * EXTRA instructions after its first store to the control block. Then the
 * peer is told, and the role can be taken. 1 good, 0 bad, -1 untraceable. */
static int killed_attacher(unsigned role, unsigned flags, long extra, int *hit)
{
    shmkit_ring *c = fresh(flags), *p = NULL;
    if (role == SHMKIT_RING_CONSUMER) {
        shmkit_ring_close(c);
        c = NULL;
        if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
            tap_bail("attach");
    }
    int k = tu_step_kill(op_attach, (void *)(uintptr_t)role, ctl, RING_DATA_OFF, extra);
    if (k < 0) {
        shmkit_ring_close(p);
        shmkit_ring_close(c);
        return -1;
    }
    *hit += k;
    char b[500] = {0};
    int good = 1, rc;
    uint64_t t0 = tu_now_ns();
    if (role == SHMKIT_RING_CONSUMER) {
        while (shmkit_ring_send(p, b, sizeof b, 0) == 0)
            ;
        rc = shmkit_ring_send(p, b, sizeof b, 3 * SEC);
    } else {
        rc = shmkit_ring_recv(c, b, sizeof b, 3 * SEC);
    }
    double ms = (double)(tu_now_ns() - t0) / 1e6;
    if (k && (rc != SHMKIT_EPEERDEAD || ms > 1000)) {
        tap_diag("extra %ld: the peer got %s after %.1f ms", extra, shmkit_errname(rc), ms);
        good = 0;
    }
    shmkit_ring *n = NULL;
    if ((rc = shmkit_ring_attach(&n, seg, role)) != 0) {
        tap_diag("extra %ld: a new %s: %s", extra,
                 role == SHMKIT_RING_CONSUMER ? "consumer" : "producer", shmkit_errname(rc));
        good = 0;
    }
    shmkit_ring_close(n);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    return good;
}

static void killed_attachers(void)
{
    static const long asan_extra[] = {0, 8, 64};
    static const long extra[] = {0, 1, 2, 4, 8, 16, 64, 256};
    const long *x = TAP_UNDER_ASAN ? asan_extra : extra;
    size_t nx = TAP_UNDER_ASAN ? 3 : sizeof extra / sizeof extra[0];
    static const struct {
        unsigned role, flags;
        const char *what;
    } t[] = {
        {SHMKIT_RING_PRODUCER, SHMKIT_RING_MULTI, "a MULTI producer"},
        {SHMKIT_RING_PRODUCER, 0, "the single producer"},
        {SHMKIT_RING_CONSUMER, 0, "the consumer"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int good = 0, hit = 0, rc = 0;
        for (size_t j = 0; j < nx && rc >= 0; j++) {
            rc = killed_attacher(t[i].role, t[i].flags, x[j], &hit);
            good += rc > 0;
        }
        if (rc < 0) {
            ok(1, "# SKIP cannot trace a child here (ptrace)");
            continue;
        }
        ok(good == (int)nx && hit == (int)nx,
           "%s killed 0..%ld instructions after its claim: peer told, role free again "
           "(%d/%zu rounds, %d killed in time)",
           t[i].what, x[nx - 1], good, nx, hit);
    }
}

int main(void)
{
    seg = tu_seg_anon(shmkit_ring_size_for(CAP));
    ctl = shmkit_seg_data(seg);
    tu_claim_ids(&dead_id, &live_id, &recycled_id);
    dead_producer_claims();
    all_slots_dead();
    lock_of_a_dead_claimer();
    idle_newcomer();
    dead_consumer_claims();
    races();
    killed_attachers();
    shmkit_close(seg);
    return tap_done();
}
