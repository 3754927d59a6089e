/* t_ring_kill.c - peer death. 1,000 rounds of a producer process killed
 * with SIGKILL at a random point (between reserve and commit included): the
 * consumer never sees a partial message, gets SHMKIT_EPEERDEAD instead of
 * hanging, and the next round's producer takes the ring over. Then a killed
 * consumer (the producer is told), and a killed lock holder on a MULTI ring
 * (the next producer takes the lock over, blocking or with try calls
 * only). Named cases (tu_case.h): --list. */
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

/* Producer of round ID. DIE_AT: the message number at which it kills
 * itself (PHASE says where: 0 after reserve, 1 mid-fill, 2 before commit),
 * or UINT64_MAX to run until killed. Tells the parent through FD once
 * attached. */
static void producer(uint32_t id, uint64_t die_at, int phase, int fd)
{
    shmkit_ring *r = NULL;
    if (shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER) < 0)
        _exit(2);
    if (write(fd, "a", 1) != 1)
        _exit(2);
    for (uint64_t s = 0;; s++) {
        size_t len = tu_msg_len(id, s, 600);
        void *p;
        if (shmkit_ring_reserve(r, len, &p, 10000000000) < 0)
            _exit(3);
        if (s == die_at && phase == 0)
            kill(getpid(), SIGKILL);
        if (s == die_at && phase == 1) {
            tu_msg_fill(p, len / 2, id, s);
            kill(getpid(), SIGKILL);
        }
        tu_msg_fill(p, len, id, s);
        if (s == die_at)
            kill(getpid(), SIGKILL);
        shmkit_ring_commit(r, len);
    }
}

/* Every case works in its own segment, removed at its exit; with RING_FLAGS
 * a ring is made there first (its consumer closed at once). */
static void setup(unsigned ring_flags)
{
    atexit(cleanup);
    seg = tu_seg_new(name, sizeof name, "ringk", shmkit_ring_size_for(1 << 14));
    shmkit_ring *c = NULL;
    if (ring_flags && shmkit_ring_create(&c, seg, 1 << 14, ring_flags) < 0)
        tap_bail("create");
    shmkit_ring_close(c);
}

/* 1,000 producers killed at random points: no partial message, EPEERDEAD,
 * takeover */
static void producer_killed(void)
{
    setup(0);
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, 1 << 14, SHMKIT_RING_CONSUMER) < 0)
        tap_bail("create");
    int rounds = 1000, bad = 0, hung = 0, peerdead = 0, waitbad = 0;
    uint64_t msgs = 0, worst = 0;
    for (int round = 0; round < rounds; round++) {
        uint64_t rnd = tu_mix((uint64_t)round * 7919);
        int self_kill = round & 1;
        uint64_t k = rnd % 300;
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            producer((uint32_t)round, self_kill ? k : UINT64_MAX, (int)((rnd >> 20) % 3), fds[1]);
        }
        close(fds[1]);
        char ch;
        int attached = read(fds[0], &ch, 1) == 1;
        close(fds[0]);
        uint64_t next = 0;
        int status;
        for (;;) {
            if (!self_kill && next == k) {
                kill(pid, SIGKILL);
                if (tu_wait(pid, 10000, &status) < 0)
                    waitbad++;
                pid = 0;
            }
            const void *m;
            size_t len;
            uint64_t t0 = tu_now_ns();
            int rc = shmkit_ring_peek(c, &m, &len, 10000000000);
            uint64_t dt = tu_now_ns() - t0;
            if (rc == SHMKIT_EPEERDEAD) {
                peerdead++;
                if (dt > worst)
                    worst = dt;
                break;
            }
            if (rc < 0) {
                hung++;
                tap_diag("round %d: peek %s", round, shmkit_errname(rc));
                break;
            }
            uint32_t id = 0;
            uint64_t sq = 0;
            if (tu_msg_check(m, len, &id, &sq) || id != (uint32_t)round || sq != next) {
                bad++;
                tap_diag("round %d: bad message (id %u seq %llu, want %llu)", round, id,
                         (unsigned long long)sq, (unsigned long long)next);
            }
            next++;
            msgs++;
            shmkit_ring_release(c);
        }
        if (pid && (tu_wait(pid, 10000, &status) < 0 || !WIFSIGNALED(status)))
            waitbad++;
        if (!attached)
            waitbad++;
        if (self_kill && next != k)
            bad++; /* died at message k: exactly k were committed */
        if (hung > 3)
            break;
    }
    struct shmkit_chan_stats st;
    shmkit_chan_stats(seg, &st);
    ok(!bad, "%d rounds, %llu messages: %d partial/foreign/missing", rounds,
       (unsigned long long)msgs, bad);
    is_int(peerdead, rounds, "every round ended with SHMKIT_EPEERDEAD (%d hung)", hung);
    is_int(waitbad, 0, "every producer attached and died by SIGKILL");
    ok(st.takeovers >= (uint64_t)rounds - 1, "each new producer took the ring over (%llu)",
       (unsigned long long)st.takeovers);
    tap_diag("slowest dead-producer detection: %.1f ms", worst / 1e6);
    shmkit_ring_close(c);
}

/* killed consumer: a producer blocked on a full ring is told */
static void consumer_killed(void)
{
    shmkit_ring *c = NULL;
    setup(SHMKIT_RING_CONSUMER);
    int told = 0;
    for (int round = 0; round < 20; round++) {
        shmkit_ring *p = NULL;
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            shmkit_ring *cc = NULL;
            if (shmkit_ring_attach(&cc, seg, SHMKIT_RING_CONSUMER) < 0)
                _exit(2);
            char b[1024];
            for (int i = 0; i < round; i++)
                shmkit_ring_recv(cc, b, sizeof b, 1000000000);
            if (write(fds[1], "a", 1) != 1)
                _exit(2);
            pause();
            _exit(0);
        }
        char ch, b[500] = {0};
        close(fds[1]);
        if (read(fds[0], &ch, 1) != 1)
            tap_bail("consumer child");
        close(fds[0]);
        if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
            tap_bail("attach producer");
        while (shmkit_ring_send(p, b, sizeof b, 0) == 0)
            ;
        kill(pid, SIGKILL);
        int status;
        tu_wait(pid, 10000, &status);
        told += shmkit_ring_send(p, b, sizeof b, 10000000000) == SHMKIT_EPEERDEAD;
        shmkit_ring_close(p);
        /* drain with a fresh consumer for the next round */
        if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
            tap_bail("new consumer after a dead one");
        while (shmkit_ring_recv(c, b, sizeof b, 0) >= 0)
            ;
        shmkit_ring_close(c);
    }
    is_int(told, 20, "consumer killed: blocked producer gets EPEERDEAD (20 rounds)");
}

/* MULTI: lock holder killed between reserve and commit */
static void multi_holder_killed(void)
{
    shmkit_ring *c = NULL;
    setup(0);
    if (shmkit_ring_create(&c, seg, 1 << 14, SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI) < 0)
        tap_bail("create multi");
    shmkit_ring *p = NULL;
    if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("attach");
    int took = 0, clean = 0;
    for (int round = 0; round < 10; round++) {
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            shmkit_ring *pp = NULL;
            void *w;
            if (shmkit_ring_attach(&pp, seg, SHMKIT_RING_PRODUCER) < 0 ||
                shmkit_ring_send(pp, "whole", 5, 1000000000) < 0 ||
                shmkit_ring_reserve(pp, 64, &w, 1000000000) < 0)
                _exit(2);
            memset(w, 'X', 64); /* never committed */
            if (write(fds[1], "a", 1) != 1)
                _exit(2);
            pause();
            _exit(0);
        }
        char ch;
        close(fds[1]);
        if (read(fds[0], &ch, 1) != 1)
            tap_bail("holder child");
        close(fds[0]);
        kill(pid, SIGKILL);
        int status;
        tu_wait(pid, 10000, &status);
        took += shmkit_ring_send(p, "after", 5, 5000000000) == 0;
        char b[100];
        int n1 = shmkit_ring_recv(c, b, sizeof b, 0);
        int ok1 = n1 == 5 && !memcmp(b, "whole", 5);
        int n2 = shmkit_ring_recv(c, b, sizeof b, 0);
        clean += ok1 && n2 == 5 && !memcmp(b, "after", 5) &&
                 shmkit_ring_recv(c, b, sizeof b, 0) == -EAGAIN;
    }
    is_int(took, 10, "MULTI: lock holder killed mid-message, next producer takes over (10 rounds)");
    is_int(clean, 10, "... and the half-written message never appears");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

/* the same with try calls only (timeout 0): first a producer attached
 * before the death, then one attached after it (which does not get the
 * dead holder's slot while the lock names it: it takes the lock over
 * from another slot) */
static void multi_try_only(void)
{
    shmkit_ring *c = NULL, *p = NULL;
    setup(0);
    if (shmkit_ring_create(&c, seg, 1 << 14, SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI) < 0)
        tap_bail("create multi");
    if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("attach");
    int try_took = 0, try_clean = 0;
    for (int round = 0; round < 2; round++) {
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t pid = fork();
        if (pid == 0) {
            shmkit_ring *pp = NULL;
            void *w;
            if (shmkit_ring_attach(&pp, seg, SHMKIT_RING_PRODUCER) < 0 ||
                shmkit_ring_reserve(pp, 64, &w, 1000000000) < 0)
                _exit(2);
            memset(w, 'X', 64);
            if (write(fds[1], "a", 1) != 1)
                _exit(2);
            pause();
            _exit(0);
        }
        char ch;
        close(fds[1]);
        if (read(fds[0], &ch, 1) != 1)
            tap_bail("holder child");
        close(fds[0]);
        void *w;
        shmkit_ring *tp = p;
        is_rc(shmkit_ring_reserve(tp, 8, &w, 0), -EAGAIN,
              "try reserve while a live producer holds the lock: EAGAIN");
        kill(pid, SIGKILL);
        int status;
        tu_wait(pid, 10000, &status);
        if (round == 1 && shmkit_ring_attach(&tp, seg, SHMKIT_RING_PRODUCER) < 0)
            tap_bail("attach after the holder died");
        /* try only, for at most 100 ms (the check runs once per ms) */
        int rc = -EAGAIN;
        for (int i = 0; i < 1000 && rc == -EAGAIN; i++) {
            rc = shmkit_ring_reserve(tp, 5, &w, 0);
            if (rc == -EAGAIN)
                usleep(100);
        }
        if (rc == 0) {
            memcpy(w, "tried", 5);
            shmkit_ring_commit(tp, 5);
            try_took++;
        }
        char b[100];
        try_clean += shmkit_ring_recv(c, b, sizeof b, 0) == 5 && !memcmp(b, "tried", 5) &&
                     shmkit_ring_recv(c, b, sizeof b, 0) == -EAGAIN;
        if (tp != p)
            shmkit_ring_close(tp);
    }
    is_int(try_took, 2, "MULTI: try-only producers take the lock over from a dead holder");
    is_int(try_clean, 2, "... and the half-written message never appears");
    shmkit_ring_close(p);
    shmkit_ring_close(c);
}

static const struct tu_case cases[] = {
    {"producer_killed", producer_killed, 240},
    {"consumer_killed", consumer_killed, 0},
    {"multi_holder_killed", multi_holder_killed, 0},
    {"multi_try_only", multi_try_only, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
