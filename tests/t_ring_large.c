/* t_ring_large.c - large messages (cut-through: shmkit_ring_send of 64 KiB
 * or more into a ring that holds fewer than three of them publishes its
 * record before the bytes are in, and recv copies them out as they come;
 * into a larger ring it is sent whole) against process death. A producer killed in the
 * middle of a 1 MiB message - at an exact point (its source buffer runs
 * into a page it cannot read: the fault handler kills it with SIGKILL) or
 * with kill -9 at a random moment - never gets a torn message delivered:
 * every message received is whole and in order, the consumer is told
 * SHMKIT_EPEERDEAD, and the next producer (also of a MULTI ring, through
 * the lock take-over) makes the ring work again, also while a consumer is
 * still copying the withdrawn message out. A consumer killed while copying
 * one out is replaced and gets it again (at least once). Named cases
 * (tu_case.h): --list. */
#include "chan.h"
#include "tu_case.h"
#include "tu_ring.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

/* two messages of up to 1 MiB less a page: they go through the
 * cut-through (a ring that holds three is sent whole: whole_when_three_fit) */
#define CAP (2u << 20)
#define BIG ((1u << 20) - 4096)

static shmkit_seg *seg;
static uint64_t cap; /* the ring's: CAP, or 2 * CAP (whole messages) */
static unsigned char *rbuf; /* the consumer's buffer */

static void setup(unsigned flags, uint64_t capacity)
{
    cap = capacity;
    seg = tu_seg_anon(shmkit_ring_size_for(cap));
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, cap, SHMKIT_RING_CONSUMER | flags) < 0)
        tap_bail("create");
    shmkit_ring_close(c);
    rbuf = malloc(BIG);
    if (!rbuf)
        tap_bail("malloc");
}

/* A message length near 1 MiB that varies with SEQ (so the records fall
 * at different places around the wrap from round to round). */
static size_t big_len(uint32_t id, uint64_t seq)
{
    return BIG - 4096 * (size_t)(tu_mix(seq * 131 + id) % 64);
}

static void on_fault(int sig)
{
    (void)sig;
    kill(getpid(), SIGKILL); /* dies where the copy stopped, like kill -9 */
}

/* A producer child: sends N whole messages of round ID (seq 0..N-1), then
 * (POISON) a message whose source becomes unreadable CUT bytes in - the
 * process is killed inside shmkit_ring_send, its record half copied in -
 * or (!POISON) closes and exits. */
static int ready_fd = -1; /* the producer child says "attached" there */

static void producer(uint32_t id, int n, int poison, size_t cut)
{
    shmkit_ring *p = NULL;
    if (shmkit_ring_attach(&p, seg, SHMKIT_RING_PRODUCER) < 0)
        _exit(2);
    if (write(ready_fd, "a", 1) != 1)
        _exit(2);
    unsigned char *b = mmap(NULL, BIG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b == MAP_FAILED)
        _exit(2);
    for (int s = 0; s < n; s++) {
        size_t len = big_len(id, (uint64_t)s);
        tu_msg_fill(b, len, id, (uint64_t)s);
        int rc;
        /* a consumer killed by the test (or closed, between rounds) is
         * replaced: wait for the next */
        while ((rc = shmkit_ring_send(p, b, len, 10000000000)) == SHMKIT_EPEERDEAD ||
               rc == SHMKIT_ECLOSED)
            usleep(1000);
        if (rc < 0)
            _exit(3);
    }
    if (poison) {
        size_t len = big_len(id, (uint64_t)n);
        tu_msg_fill(b, len, id, (uint64_t)n);
        signal(SIGSEGV, on_fault);
        signal(SIGBUS, on_fault);
        if (mprotect(b + cut, BIG - cut, PROT_NONE) < 0) /* CUT: a page boundary */
            _exit(5);
        shmkit_ring_send(p, b, len, 10000000000);
        _exit(4); /* not reached: the copy faults */
    }
    shmkit_ring_close(p);
    _exit(0);
}

/* Returns once the producer child attached (a consumer that looked
 * before would still see the previous, dead or closed, producer). */
static pid_t fork_producer(uint32_t id, int n, int poison, size_t cut)
{
    int fds[2];
    if (pipe(fds) < 0)
        tap_bail("pipe");
    ready_fd = fds[1];
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0) {
        close(fds[0]);
        producer(id, n, poison, cut);
    }
    close(fds[1]);
    char ch;
    if (read(fds[0], &ch, 1) != 1)
        tap_fail_diag("  producer %u did not attach", id);
    close(fds[0]);
    return pid;
}

/* Receives until an error: every message must be whole, of round ID and
 * in sequence from *NEXT. Returns the error; *BAD counts bad messages. */
static int drain(shmkit_ring *c, uint32_t want_id, uint64_t *next, int *bad)
{
    for (;;) {
        int rc = shmkit_ring_recv(c, rbuf, BIG, 10000000000);
        if (rc < 0)
            return rc;
        uint32_t id = 0;
        uint64_t seq = *next;
        if (tu_msg_check(rbuf, (size_t)rc, &id, &seq) || id != want_id || seq != *next ||
            (size_t)rc != big_len(id, seq)) {
            tap_fail_diag("  bad message: %d bytes, id %u (want %u), seq %llu (want %llu)", rc,
                          id, want_id, (unsigned long long)seq, (unsigned long long)*next);
            (*bad)++;
        }
        *next = seq + 1;
    }
}

/* The record at the consumer's head (past a filler): its header word. */
static uint64_t head_record(void)
{
    struct ring_ctl *ctl = shmkit_seg_data(seg);
    unsigned char *data = (unsigned char *)ctl + RING_DATA_OFF;
    uint64_t idx = ctl->head & (cap - 1), w;
    memcpy(&w, data + idx, 8);
    if (w & REC_PAD) {
        idx = 0;
        memcpy(&w, data, 8);
    }
    return w;
}

static int died_killed(pid_t pid)
{
    int st;
    return tu_wait(pid, 20000, &st) == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
}

/* A producer killed at an exact point of a 1 MiB message: the consumer,
 * waiting in recv, gets everything before it whole and then
 * SHMKIT_EPEERDEAD; the record is left half written (REC_WIP) - or, in a
 * ring of CAPACITY that holds three such messages (sent whole), nothing of
 * it is visible; the next producer withdraws it and its own messages arrive
 * whole. */
static void dies_mid_message(unsigned flags, uint64_t capacity, const char *what)
{
    setup(flags, capacity);
    int ct = capacity == CAP, zero = 0;
    shmkit_ring *c = NULL;
    if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
        tap_bail("attach consumer");
    int bad = 0, dead = 0, wip = 0, killed = 0, closed = 0;
    for (uint32_t round = 0; round < 8; round++) {
        /* 0..4 whole messages first; the fault 40 KiB to 1 MiB in */
        int n = (int)(round % 5);
        size_t cut = 40960 + 4096 * (size_t)(tu_mix(round) % 180); /* < big_len */
        uint64_t next = 0;
        pid_t pid = fork_producer(2 * round, n, 1, cut);
        dead += drain(c, 2 * round, &next, &bad) == SHMKIT_EPEERDEAD;
        bad += next != (uint64_t)n;
        killed += died_killed(pid);
        wip += (head_record() & (REC_WIP | REC_MSG)) == REC_WIP;
        zero += head_record() == 0;
        /* the next producer takes over; its messages arrive whole */
        next = 0;
        pid = fork_producer(2 * round + 1, 3, 0, 0);
        closed += drain(c, 2 * round + 1, &next, &bad) == SHMKIT_ECLOSED;
        bad += next != 3;
        tu_wait(pid, 20000, NULL);
    }
    is_int(killed, 8, "%s: the producer was killed inside send (8 rounds)", what);
    if (ct)
        is_int(wip, 8, "%s: ... leaving its 1 MiB record half written (REC_WIP)", what);
    else
        is_int(zero, 8, "%s: ... leaving nothing visible (sent whole, no REC_WIP)", what);
    is_int(dead, 8, "%s: the consumer got SHMKIT_EPEERDEAD after the whole messages", what);
    is_int(closed, 8, "%s: the next producer's messages arrived, then SHMKIT_ECLOSED", what);
    is_int(bad, 0, "%s: no torn, missing or foreign message was ever delivered", what);
    shmkit_ring_close(c);
}

static void producer_dies_mid_message(void)
{
    dies_mid_message(0, CAP, "single producer");
}

static void multi_holder_dies_mid_message(void)
{
    dies_mid_message(SHMKIT_RING_MULTI, CAP, "MULTI");
}

/* A ring that holds three of the messages gets them whole: the same
 * deaths leave no record behind. */
static void whole_when_three_fit(void)
{
    dies_mid_message(0, 2 * CAP, "ring of three");
}

/* The consumer is inside recv, copying out the half-written message,
 * when its producer dies and the next one attaches at once and writes its
 * own message where the withdrawn one was: the consumer either sees the
 * death (SHMKIT_EPEERDEAD) or restarts on the new message - never a mix. */
static void replaced_while_copying(void)
{
    setup(0, CAP);
    shmkit_ring *c = NULL;
    if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
        tap_bail("attach consumer");
    int bad = 0, ends = 0, got = 0;
    for (uint32_t round = 0; round < 10; round++) {
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t driver = fork();
        if (driver < 0)
            tap_bail("fork");
        if (driver == 0) {
            /* the dead producer's successor starts the moment it dies */
            size_t cut = 49 * 4096 + 8192 * (size_t)(tu_mix(round) % 64);
            pid_t p1 = fork_producer(100 + round, 0, 1, cut);
            if (write(fds[1], "a", 1) != 1)
                _exit(1);
            int st;
            waitpid(p1, &st, 0);
            pid_t p2 = fork_producer(200 + round, 2, 0, 0);
            waitpid(p2, &st, 0);
            _exit(WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1);
        }
        char ch;
        close(fds[1]);
        if (read(fds[0], &ch, 1) != 1)
            tap_fail_diag("  the driver did not start its producer");
        close(fds[0]);
        for (;;) {
            int rc = shmkit_ring_recv(c, rbuf, BIG, 10000000000);
            if (rc == SHMKIT_ECLOSED || rc == SHMKIT_EPEERDEAD) {
                /* EPEERDEAD: seen dead before the successor came; go on
                 * with the successor's messages */
                if (rc == SHMKIT_ECLOSED)
                    break;
                continue;
            }
            if (rc < 0) {
                bad++;
                break;
            }
            uint32_t id = 0;
            uint64_t seq = 0;
            if (tu_msg_check(rbuf, (size_t)rc, &id, &seq) || id != 200 + round ||
                (size_t)rc != big_len(id, seq)) {
                tap_fail_diag("  bad message: %d bytes, id %u, seq %llu", rc, id,
                              (unsigned long long)seq);
                bad++;
            }
            got++;
        }
        int st;
        ends += tu_wait(driver, 30000, &st) == 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    is_int(ends, 10, "the successor producer ran in all 10 rounds");
    is_int(got, 20, "its 2 messages a round were received");
    is_int(bad, 0, "none was torn or mixed with the withdrawn message");
    shmkit_ring_close(c);
}

/* kill -9 at a random moment of a stream of 1 MiB messages. */
static void producer_killed_random(void)
{
    setup(0, CAP);
    shmkit_ring *c = NULL;
    if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
        tap_bail("attach consumer");
    int bad = 0, dead = 0, wip = 0;
    srand((unsigned)getpid());
    for (uint32_t round = 0; round < 20; round++) {
        uint64_t next = 0;
        pid_t pid = fork_producer(round, 1 << 30, 0, 0);
        pid_t killer = fork();
        if (killer == 0) {
            struct timespec ts = {0, 1000000 + rand() % 20000000};
            nanosleep(&ts, NULL);
            kill(pid, SIGKILL);
            _exit(0);
        }
        dead += drain(c, round, &next, &bad) == SHMKIT_EPEERDEAD;
        tu_wait(killer, 20000, NULL);
        tu_wait(pid, 20000, NULL);
        wip += (head_record() & (REC_WIP | REC_MSG)) == REC_WIP;
    }
    tap_diag("%d of 20 kills landed inside a message being copied in", wip);
    is_int(dead, 20, "kill -9 of the producer: SHMKIT_EPEERDEAD every round");
    is_int(bad, 0, "... and every message received before was whole and in order");
    /* the ring works again */
    uint64_t next = 0;
    pid_t pid = fork_producer(99, 5, 0, 0);
    is_rc(drain(c, 99, &next, &bad), SHMKIT_ECLOSED, "a new producer's stream ends cleanly");
    is_int((int)next, 5, "... with all of its messages");
    is_int(bad, 0, "... whole");
    tu_wait(pid, 20000, NULL);
    shmkit_ring_close(c);
}

/* A consumer killed (kill -9) while it copies 1 MiB messages out: the next
 * consumer gets the message it was copying (at least once) and all after;
 * nothing it reported received comes again. */
static void consumer_killed_mid_copy(void)
{
    setup(0, CAP);
    int bad = 0, cont = 0;
    srand((unsigned)getpid());
    for (uint32_t round = 0; round < 10; round++) {
        const int n = 24;
        pid_t prod = fork_producer(round, n, 0, 0);
        int fds[2];
        if (pipe(fds) < 0)
            tap_bail("pipe");
        pid_t cons = fork();
        if (cons == 0) {
            shmkit_ring *cc = NULL;
            if (shmkit_ring_attach(&cc, seg, SHMKIT_RING_CONSUMER) < 0)
                _exit(2);
            for (;;) {
                int rc = shmkit_ring_recv(cc, rbuf, BIG, 10000000000);
                if (rc < 0)
                    _exit(3);
                uint32_t id;
                uint64_t seq;
                if (tu_msg_check(rbuf, (size_t)rc, &id, &seq))
                    _exit(4);
                if (write(fds[1], &seq, sizeof seq) != sizeof seq)
                    _exit(5);
            }
        }
        close(fds[1]);
        struct timespec ts = {0, 1000000 + rand() % 10000000};
        nanosleep(&ts, NULL);
        kill(cons, SIGKILL);
        int st;
        tu_wait(cons, 20000, &st);
        int64_t last = -1;
        uint64_t s;
        while (read(fds[0], &s, sizeof s) == sizeof s)
            last = (int64_t)s;
        close(fds[0]);
        shmkit_ring *c = NULL;
        if (shmkit_ring_attach(&c, seg, SHMKIT_RING_CONSUMER) < 0)
            tap_bail("attach the next consumer");
        uint64_t next = (uint64_t)(last + 1);
        int rc = shmkit_ring_recv(c, rbuf, BIG, 10000000000);
        uint32_t id;
        uint64_t seq = 0;
        if (rc == SHMKIT_ECLOSED && last >= n - 2) {
            /* it had received everything before it was killed - the last
             * message perhaps without reporting it (killed between its
             * recv and its write) */
            cont++;
            next = (uint64_t)n;
        } else {
            /* the one the dead consumer was copying, or (killed between
             * its recv and its report) the one after */
            if (rc >= 0 && !tu_msg_check(rbuf, (size_t)rc, &id, &seq) && id == round &&
                seq >= next && seq <= next + 1)
                cont++;
            else
                tap_fail_diag("  round %u: %s, seq %llu after %lld", round,
                              rc < 0 ? shmkit_errname(rc) : "a message", (unsigned long long)seq,
                              (long long)last);
            next = seq + 1;
            int end = rc < 0 ? rc : drain(c, round, &next, &bad);
            if (end != SHMKIT_ECLOSED) {
                tap_fail_diag("  round %u: ended with %s", round, shmkit_errname(end));
                bad++;
            }
        }
        if (next != (uint64_t)n) {
            tap_fail_diag("  round %u: %llu messages, not %d", round, (unsigned long long)next, n);
            bad++;
        }
        shmkit_ring_close(c);
        tu_wait(prod, 20000, NULL);
    }
    is_int(cont, 10, "consumer killed mid-copy: the next one starts where it was");
    is_int(bad, 0, "... and receives every later one whole");
}

static const struct tu_case cases[] = {
    {"producer_dies_mid_message", producer_dies_mid_message, 0},
    {"multi_holder_dies_mid_message", multi_holder_dies_mid_message, 0},
    {"whole_when_three_fit", whole_when_three_fit, 0},
    {"replaced_while_copying", replaced_while_copying, 0},
    {"producer_killed_random", producer_killed_random, 0},
    {"consumer_killed_mid_copy", consumer_killed_mid_copy, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
