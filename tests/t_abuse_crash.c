/* t_abuse_crash.c - the crash matrix: for each structure, a process using it
 * is killed with SIGKILL at a random moment, ROUNDS times, and then:
 *   - nobody hangs (every wait has a timeout; a timeout is a failure),
 *   - no torn read is ever returned as consistent,
 *   - no committed message is lost or duplicated (sequence numbers and a
 *     CRC in every message),
 *   - the structure works again (takeover, repair, new writer),
 *   - `shmkit gc NAME` removes the segment the dead process created.
 * Structures: robust mutex, rwlock, seqlock writer, ring producer, ring
 * consumer, bus publisher, bus subscriber, channel claimers (a process
 * taking and leaving every ring and bus role in a loop), segment creation
 * itself.
 *
 * ROUNDS per structure: $SHMKIT_CRASH_ROUNDS, default 60 (25 under ASan);
 * `make check-long` runs 1,000. The outcome counts (e.g. how often the
 * victim died holding the lock) are printed as diagnostics. */
#include "tap.h"

#include <shmkit.h>

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_ROUNDS (TAP_UNDER_ASAN ? 25 : 60)

#define WAIT_NS (3 * 1000000000LL) /* any wait longer than this is a hang */
#define RING_CAP 4096
#define BUS_SLOTS 16
#define BUS_MSG 256

/* Shared between the test and its victim (anonymous, inherited by fork). */
struct ctl {
    _Atomic int ready, go;
    _Atomic uint64_t committed; /* last sequence the victim committed/published */
    _Atomic uint64_t released;  /* last sequence the victim consumed            */
    _Atomic uint64_t errors;    /* bad messages or torn reads the victim saw    */
    _Atomic uint64_t created;   /* segments the victim finished creating        */
};

static struct ctl *ctl;
static int rounds;
static char gc_cli[512];
static int have_cli;
static int gc_second_tries; /* gc kept a segment once, removed it when asked again */
static unsigned rng_state;

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return n ? (rng_state >> 8) % n : 0;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void reset_ctl(void)
{
    atomic_store(&ctl->ready, 0);
    atomic_store(&ctl->go, 0);
    atomic_store(&ctl->committed, 0);
    atomic_store(&ctl->released, 0);
    atomic_store(&ctl->errors, 0);
    atomic_store(&ctl->created, 0);
}

static int wait_ready(void)
{
    uint64_t end = tu_now_ns() + (uint64_t)WAIT_NS;
    while (!atomic_load(&ctl->ready)) {
        if (tu_now_ns() > end)
            return -1;
        sleep_us(50);
    }
    return 0;
}

/* Kills the victim and reaps it; 0 if it died of the SIGKILL. */
static int kill_victim(pid_t pid)
{
    int st = 0;
    kill(pid, SIGKILL);
    if (tu_wait(pid, 5000, &st) < 0)
        return -1;
    return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : -1;
}

/* `shmkit gc NAME...`; returns its exit status, -1 if it could not run.
 * Exit 127 (exec failed) is retried: in a shared work tree the CLI may be
 * being relinked by a parallel build at that very moment. */
static int run_gc_once(char *const names[], int n, int force);

static int run_gc(char *const names[], int n, int force)
{
    int rc = 127;
    for (int tries = 0; tries < 50 && rc == 127; tries++) {
        if (tries)
            sleep_us(100000);
        rc = run_gc_once(names, n, force);
    }
    return rc;
}

static int run_gc_once(char *const names[], int n, int force)
{
    char *argv[64];
    int a = 0;
    argv[a++] = gc_cli;
    argv[a++] = "gc";
    if (force)
        argv[a++] = "--force";
    for (int i = 0; i < n && a < 62; i++)
        argv[a++] = names[i];
    argv[a] = NULL;
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(gc_cli, argv);
        _exit(127);
    }
    int st;
    if (tu_wait(p, 10000, &st) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int shm_exists(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

/* After the victim (the creator) died and we closed everything: gc must
 * remove NAME. Returns 1 if it did (or no CLI to check with), 0 if not. */
static int gc_removes(const char *name)
{
    if (!have_cli) {
        shmkit_posix_remove(name);
        return 1;
    }
    char *names[1] = {(char *)name};
    int rc = run_gc(names, 1, 0);
    if (shm_exists(name)) {
        /* another program scanning /dev/shm (a parallel `shmkit ls`) may
         * hold it open for a moment, and gc rightly keeps what is in use */
        gc_second_tries++;
        sleep_us(100000);
        rc = run_gc(names, 1, 0);
    }
    int gone = !shm_exists(name);
    if (!gone) {
        tap_diag("gc left %s behind (exit %d)", name, rc);
        shmkit_posix_remove(name);
    }
    return gone;
}

static shmkit_seg *open_name(const char *name)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        tap_diag("open %s: %s", name, shmkit_errname(rc));
    return s;
}

static shmkit_seg *create_name(const char *name, size_t size)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = size,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    return shmkit_open(&s, &o) == 0 ? s : NULL;
}

/* Outcome bookkeeping for one structure. */
struct tally {
    int rounds, good, hang, bad, gc_ok;
    int outcome[4]; /* structure-specific counts, see each report */
};

static void report(const char *what, const struct tally *t, const char *o0, const char *o1,
                   const char *o2, int check_gc)
{
    ok(t->good == t->rounds && t->hang == 0,
       "%s: %d/%d rounds good, %d hangs, %d bad", what, t->good, t->rounds, t->hang, t->bad);
    tap_diag("  %s: %s %d, %s %d, %s %d", what, o0, t->outcome[0], o1, t->outcome[1],
             o2 ? o2 : "-", t->outcome[2]);
    if (t->outcome[3])
        tap_diag("  %s: of those, torn headers (killed during a header rewrite) %d", what,
                 t->outcome[3]);
    if (have_cli && check_gc)
        is_int(t->gc_ok, t->rounds, "%s: gc removed what the dead creator left, every round", what);
}

/* ---- messages: seq, length, CRC of the body ---- */

struct msg_hdr {
    uint64_t seq;
    uint32_t len; /* whole message */
    uint32_t crc; /* of the body after this header */
};

static size_t msg_fill(void *p, uint64_t seq, size_t max)
{
    size_t len = sizeof(struct msg_hdr) + (size_t)((seq * 2654435761u) % (max - 16 + 1));
    unsigned char *b = (unsigned char *)p + sizeof(struct msg_hdr);
    for (size_t i = 0; i < len - sizeof(struct msg_hdr); i++)
        b[i] = (unsigned char)(seq * 31 + i);
    struct msg_hdr h = {seq, (uint32_t)len, shmkit_crc32c(0, b, len - sizeof h)};
    memcpy(p, &h, sizeof h);
    return len;
}

/* 0 and *SEQ if the message is whole, -1 if not. */
static int msg_check(const void *p, size_t len, uint64_t *seq)
{
    struct msg_hdr h;
    if (len < sizeof h)
        return -1;
    memcpy(&h, p, sizeof h);
    if (h.len != len ||
        h.crc != shmkit_crc32c(0, (const unsigned char *)p + sizeof h, len - sizeof h))
        return -1;
    *seq = h.seq;
    return 0;
}

/* ================= robust mutex ================= */

struct mx_shm {
    struct shmkit_mutex mx;
    uint64_t a, b; /* a == b whenever the mutex is free */
};

static int victim_mutex(const char *name)
{
    shmkit_seg *s = create_name(name, sizeof(struct mx_shm));
    if (!s)
        return 2;
    struct mx_shm *m = shmkit_seg_data(s);
    if (shmkit_mutex_init(&m->mx) != 0)
        return 3;
    atomic_store(&ctl->ready, 1);
    for (;;) {
        if (shmkit_mutex_lock(&m->mx) != 0)
            return 4;
        m->a++;
        for (volatile int i = 0; i < 50; i++)
            ;
        m->b++;
        shmkit_mutex_unlock(&m->mx);
    }
}

static int judge_mutex(const char *name, struct tally *t)
{
    shmkit_seg *s = open_name(name);
    if (!s)
        return -1;
    struct mx_shm *m = shmkit_seg_data(s);
    int good = 0;
    int rc = shmkit_mutex_timedlock(&m->mx, WAIT_NS);
    if (rc == -ETIMEDOUT) {
        t->hang++;
    } else if (rc == 0) {
        good = m->a == m->b;
        t->outcome[0]++;
        shmkit_mutex_unlock(&m->mx);
    } else if (rc == SHMKIT_EOWNERDEAD) {
        good = m->a == m->b || m->a == m->b + 1;
        m->b = m->a; /* repair */
        good &= shmkit_mutex_consistent(&m->mx) == 0 && shmkit_mutex_unlock(&m->mx) == 0;
        t->outcome[1]++;
    }
    /* and it works again */
    good &= shmkit_mutex_timedlock(&m->mx, WAIT_NS) == 0 && shmkit_mutex_unlock(&m->mx) == 0;
    if (!good)
        tap_diag("mutex: lock gave %s, a=%llu b=%llu", shmkit_errname(rc),
                 (unsigned long long)m->a, (unsigned long long)m->b);
    shmkit_close(s);
    return good ? 0 : -1;
}

/* ================= rwlock ================= */

struct rw_shm {
    struct shmkit_rwlock rw;
    uint64_t a, b;
};

static int victim_rwlock(const char *name)
{
    shmkit_seg *s = create_name(name, sizeof(struct rw_shm));
    if (!s)
        return 2;
    struct rw_shm *m = shmkit_seg_data(s);
    if (shmkit_rwlock_init(&m->rw) != 0)
        return 3;
    atomic_store(&ctl->ready, 1);
    for (unsigned i = 0;; i++) {
        if (i & 1) {
            int tk = shmkit_rwlock_rdlock(&m->rw, -1);
            if (tk < 0)
                return 4;
            if (__atomic_load_n(&m->a, __ATOMIC_RELAXED) != __atomic_load_n(&m->b, __ATOMIC_RELAXED))
                atomic_fetch_add(&ctl->errors, 1);
            shmkit_rwlock_rdunlock(&m->rw, tk);
        } else {
            if (shmkit_rwlock_wrlock(&m->rw, -1) != 0)
                return 5;
            __atomic_store_n(&m->a, m->a + 1, __ATOMIC_RELAXED);
            for (volatile int k = 0; k < 50; k++)
                ;
            __atomic_store_n(&m->b, m->b + 1, __ATOMIC_RELAXED);
            shmkit_rwlock_wrunlock(&m->rw);
        }
    }
}

static int judge_rwlock(const char *name, struct tally *t)
{
    shmkit_seg *s = open_name(name);
    if (!s)
        return -1;
    struct rw_shm *m = shmkit_seg_data(s);
    int good = atomic_load(&ctl->errors) == 0;
    if (__atomic_load_n(&m->rw.readers_map, __ATOMIC_RELAXED))
        t->outcome[2]++; /* died holding a read lock: the writer must reclaim the slot */
    int rc = shmkit_rwlock_wrlock(&m->rw, WAIT_NS);
    if (rc == -ETIMEDOUT) {
        t->hang++;
        good = 0;
    } else if (rc == 0) {
        good &= m->a == m->b;
        t->outcome[0]++;
        shmkit_rwlock_wrunlock(&m->rw);
    } else if (rc == SHMKIT_EOWNERDEAD) {
        good &= m->a == m->b || m->a == m->b + 1;
        m->b = m->a;
        good &= shmkit_rwlock_consistent(&m->rw) == 0 && shmkit_rwlock_wrunlock(&m->rw) == 0;
        t->outcome[1]++;
    } else {
        good = 0;
    }
    int tk = shmkit_rwlock_rdlock(&m->rw, WAIT_NS);
    good &= tk >= 0 && shmkit_rwlock_rdunlock(&m->rw, tk) == 0;
    if (!good)
        tap_diag("rwlock: wrlock gave %s, rdlock %s, a=%llu b=%llu errors=%llu",
                 shmkit_errname(rc), shmkit_errname(tk), (unsigned long long)m->a,
                 (unsigned long long)m->b, (unsigned long long)atomic_load(&ctl->errors));
    shmkit_close(s);
    return good ? 0 : -1;
}

/* ================= seqlock writer ================= */

#define SQ_WORDS 1024 /* 8 KiB: long writes, so kills land inside them too */
struct sq_shm {
    struct shmkit_seqlock lk;
    uint64_t rec[SQ_WORDS]; /* every word holds the same value when consistent */
};

static int victim_seqlock(const char *name)
{
    shmkit_seg *s = create_name(name, sizeof(struct sq_shm));
    if (!s)
        return 2;
    struct sq_shm *m = shmkit_seg_data(s);
    shmkit_seqlock_init(&m->lk);
    atomic_store(&ctl->ready, 1);
    uint64_t v[SQ_WORDS];
    for (uint64_t k = 1;; k++) {
        for (int i = 0; i < SQ_WORDS; i++)
            v[i] = k;
        if (shmkit_seqlock_write(&m->lk, m->rec, v, sizeof v) < 0)
            return 3;
        if ((k & 1023) == 0)
            sched_yield(); /* let a starved reader through now and then */
    }
}

static int consistent(const uint64_t *v)
{
    for (int i = 1; i < SQ_WORDS; i++)
        if (v[i] != v[0])
            return 0;
    return 1;
}

/* Reads snapshots while the victim writes, until DEADLINE. */
static int seqlock_watch(struct sq_shm *m, uint64_t deadline, uint64_t *reads)
{
    uint64_t v[SQ_WORDS];
    int torn = 0;
    while (tu_now_ns() < deadline) {
        int rc = shmkit_seqlock_read(&m->lk, v, m->rec, sizeof v);
        if (rc == 0 && !consistent(v))
            torn++;
        (*reads)++;
    }
    return torn;
}

static int judge_seqlock(shmkit_seg *s, struct tally *t, int torn_live)
{
    struct sq_shm *m = shmkit_seg_data(s);
    uint64_t v[SQ_WORDS];
    int good = torn_live == 0;
    int rc = shmkit_seqlock_read(&m->lk, v, m->rec, sizeof v);
    if (rc == 0) {
        good &= consistent(v);
        t->outcome[0]++;
    } else if (rc == SHMKIT_EPEERDEAD) {
        t->outcome[1]++; /* killed in the middle of a write: reported, not hidden */
    } else {
        good = 0;
    }
    for (int i = 0; i < SQ_WORDS; i++)
        v[i] = 0xabcdef;
    int w = shmkit_seqlock_write(&m->lk, m->rec, v, sizeof v);
    good &= (rc == SHMKIT_EPEERDEAD) ? w == 1 : w == 0;
    good &= shmkit_seqlock_read(&m->lk, v, m->rec, sizeof v) == 0 && consistent(v) &&
            v[0] == 0xabcdef;
    if (!good)
        tap_diag("seqlock: torn while alive %d, read after death %s, new write %d", torn_live,
                 shmkit_errname(rc), w);
    return good ? 0 : -1;
}

/* ================= ring producer ================= */

static void wait_go(void)
{
    while (!atomic_load(&ctl->go))
        sleep_us(20);
}

static int victim_ring_producer(const char *name)
{
    shmkit_seg *s = create_name(name, shmkit_ring_size_for(RING_CAP));
    shmkit_ring *r = NULL;
    if (!s || shmkit_ring_create(&r, s, RING_CAP, SHMKIT_RING_PRODUCER) != 0)
        return 2;
    atomic_store(&ctl->ready, 1);
    wait_go();
    size_t max = shmkit_ring_max_msg(r) < 300 ? shmkit_ring_max_msg(r) : 300;
    for (uint64_t seq = 1;; seq++) {
        void *p;
        if (shmkit_ring_reserve(r, max, &p, -1) != 0)
            return 3;
        size_t len = msg_fill(p, seq, max);
        shmkit_ring_commit(r, len);
        atomic_store(&ctl->committed, seq);
    }
}

/* Receives from R until DEADLINE (or, with DEADLINE 0, until the ring says
 * the peer is gone or stays empty). Checks order and CRC; *LAST is the last
 * sequence seen. Returns the number of bad messages, or -1 on a hang. */
static int ring_drain(shmkit_ring *r, uint64_t deadline, uint64_t *last, int until_empty)
{
    unsigned char buf[RING_CAP];
    int bad = 0;
    for (;;) {
        int64_t to = until_empty ? 0 : deadline ? 1000000 : WAIT_NS;
        if (deadline && tu_now_ns() >= deadline)
            return bad;
        int n = shmkit_ring_recv(r, buf, sizeof buf, to);
        if (n == -ETIMEDOUT && deadline)
            continue;
        if (n == -EAGAIN && until_empty)
            return bad;
        if (n == SHMKIT_EPEERDEAD && !deadline)
            return bad;
        if (n == -ETIMEDOUT)
            return -1;
        if (n < 0) {
            tap_diag("ring recv: %s", shmkit_errname(n));
            return bad + 1;
        }
        uint64_t seq = *last + 1;
        if (msg_check(buf, (size_t)n, &seq) < 0 || (*last && seq != *last + 1)) {
            if (bad++ < 3)
                tap_diag("ring: message %llu after %llu (len %d)",
                         (unsigned long long)(msg_check(buf, (size_t)n, &seq) ? 0 : seq),
                         (unsigned long long)*last, n);
        } else if (!*last && seq != 1 && !until_empty && bad++ < 3) {
            tap_diag("ring: first message is %llu", (unsigned long long)seq);
        }
        *last = seq;
    }
}

static int round_ring_producer(const char *name, pid_t pid, struct tally *t)
{
    shmkit_seg *s = open_name(name);
    shmkit_ring *c = NULL, *p = NULL;
    int good = 0;
    uint64_t last = 0;
    if (!s || shmkit_ring_attach(&c, s, SHMKIT_RING_CONSUMER) != 0) {
        kill_victim(pid);
        goto out;
    }
    atomic_store(&ctl->go, 1);
    int bad = ring_drain(c, tu_now_ns() + 1000u * rnd(3000), &last, 0);
    if (kill_victim(pid) < 0)
        goto out;
    int bad2 = ring_drain(c, 0, &last, 0);
    if (bad2 < 0) {
        t->hang++;
        goto out;
    }
    uint64_t com = atomic_load(&ctl->committed);
    good = bad == 0 && bad2 == 0 && last >= com && last <= com + 1;
    if (last == com + 1)
        t->outcome[1]++; /* committed, killed before it could count it */
    else
        t->outcome[0]++;
    /* a new producer takes the dead one's place; the ring still works */
    int rc = shmkit_ring_attach(&p, s, SHMKIT_RING_PRODUCER);
    unsigned char m[300];
    size_t len = msg_fill(m, last + 1, 300);
    good &= rc == 0 && shmkit_ring_send(p, m, len, WAIT_NS) == 0;
    uint64_t before = last;
    good &= ring_drain(c, 0, &last, 1) == 0 && last == before + 1;
    struct shmkit_chan_stats st;
    if (shmkit_chan_stats(s, &st) == 0 && st.takeovers)
        t->outcome[2]++;
    if (!good)
        tap_diag("ring producer: last %llu committed %llu, bad %d/%d, attach %s",
                 (unsigned long long)last, (unsigned long long)com, bad, bad2, shmkit_errname(rc));
out:
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    shmkit_close(s);
    return good ? 0 : -1;
}

/* ================= ring consumer ================= */

static int victim_ring_consumer(const char *name)
{
    shmkit_seg *s = create_name(name, shmkit_ring_size_for(RING_CAP));
    shmkit_ring *r = NULL;
    if (!s || shmkit_ring_create(&r, s, RING_CAP, SHMKIT_RING_CONSUMER) != 0)
        return 2;
    atomic_store(&ctl->ready, 1);
    for (uint64_t want = 1;; want++) {
        const void *p;
        size_t n;
        uint64_t seq = 0;
        if (shmkit_ring_peek(r, &p, &n, -1) != 0)
            return 3;
        if (msg_check(p, n, &seq) < 0 || seq != want)
            atomic_fetch_add(&ctl->errors, 1);
        shmkit_ring_release(r);
        atomic_store(&ctl->released, seq);
    }
}

static int round_ring_consumer(const char *name, pid_t pid, struct tally *t)
{
    shmkit_seg *s = open_name(name);
    shmkit_ring *p = NULL, *c = NULL;
    int good = 0;
    uint64_t sent = 0;
    if (!s || shmkit_ring_attach(&p, s, SHMKIT_RING_PRODUCER) != 0) {
        kill_victim(pid);
        goto out;
    }
    uint64_t deadline = tu_now_ns() + 1000u * rnd(3000);
    unsigned char m[300];
    while (tu_now_ns() < deadline) {
        size_t len = msg_fill(m, sent + 1, 300);
        int rc = shmkit_ring_send(p, m, len, 1000000);
        if (rc == 0)
            sent++;
        else if (rc != -ETIMEDOUT)
            break;
    }
    if (kill_victim(pid) < 0)
        goto out;
    uint64_t rel = atomic_load(&ctl->released);
    int rc = shmkit_ring_attach(&c, s, SHMKIT_RING_CONSUMER);
    if (rc != 0) {
        tap_diag("ring consumer: a new consumer cannot attach: %s", shmkit_errname(rc));
        goto out;
    }
    uint64_t last = 0;
    unsigned char buf[RING_CAP];
    int n = shmkit_ring_recv(c, buf, sizeof buf, 0);
    uint64_t first = 0;
    if (n >= 0 && msg_check(buf, (size_t)n, &first) == 0)
        last = first;
    int bad = n >= 0 ? ring_drain(c, 0, &last, 1) : 0;
    if (n < 0)
        last = rel; /* nothing left: everything was consumed */
    /* first redelivered (died between peek and release, or before counting) */
    good = atomic_load(&ctl->errors) == 0 && bad == 0 && last == sent &&
           (n < 0 ? rel + 1 >= sent : (first == rel + 1 || first == rel + 2));
    /* 0: all consumed; 1: the next consumer resumed after the last counted
     * release; 2: one more was released than counted */
    t->outcome[n < 0 ? 0 : first == rel + 1 ? 1 : 2]++;
    if (!good)
        tap_diag("ring consumer: sent %llu released %llu, next %llu, last %llu, errors %llu",
                 (unsigned long long)sent, (unsigned long long)rel, (unsigned long long)first,
                 (unsigned long long)last, (unsigned long long)atomic_load(&ctl->errors));
out:
    shmkit_ring_close(c);
    shmkit_ring_close(p);
    shmkit_close(s);
    return good ? 0 : -1;
}

/* ================= bus publisher ================= */

static int victim_bus_publisher(const char *name)
{
    shmkit_seg *s = create_name(name, shmkit_bus_size_for(BUS_SLOTS, BUS_MSG, 4));
    shmkit_bus *b = NULL;
    if (!s || shmkit_bus_create(&b, s, BUS_SLOTS, BUS_MSG, 4, 0) != 0)
        return 2;
    atomic_store(&ctl->ready, 1);
    wait_go();
    for (uint64_t seq = 1;; seq++) {
        void *p;
        if (shmkit_bus_loan(b, BUS_MSG, &p, -1) != 0)
            return 3;
        size_t len = msg_fill(p, seq, BUS_MSG);
        shmkit_bus_publish(b, len, NULL);
        atomic_store(&ctl->committed, seq);
    }
}

static int bus_drain(shmkit_sub *sub, uint64_t deadline, uint64_t *last, int until_empty)
{
    unsigned char buf[BUS_MSG];
    int bad = 0;
    for (;;) {
        if (deadline && tu_now_ns() >= deadline)
            return bad;
        int64_t to = until_empty ? 0 : deadline ? 1000000 : WAIT_NS;
        uint64_t bseq, lost = 0;
        int n = shmkit_bus_recv(sub, buf, sizeof buf, &bseq, &lost, to);
        if (n == -ETIMEDOUT && deadline)
            continue;
        if (n == -EAGAIN && until_empty)
            return bad;
        if (n == SHMKIT_EPEERDEAD && !deadline)
            return bad;
        if (n == -ETIMEDOUT)
            return -1;
        if (n < 0) {
            tap_diag("bus recv: %s", shmkit_errname(n));
            return bad + 1;
        }
        uint64_t seq = *last + 1;
        if (lost || msg_check(buf, (size_t)n, &seq) < 0 || seq != *last + 1) {
            if (bad++ < 3)
                tap_diag("bus: message after %llu is bad (lost %llu)", (unsigned long long)*last,
                         (unsigned long long)lost);
            msg_check(buf, (size_t)n, &seq);
        }
        *last = seq;
    }
}

static int round_bus_publisher(const char *name, pid_t pid, struct tally *t)
{
    shmkit_seg *s = open_name(name);
    shmkit_sub *sub = NULL;
    shmkit_bus *b = NULL;
    int good = 0;
    uint64_t last = 0;
    if (!s || shmkit_bus_subscribe(&sub, s) != 0) {
        kill_victim(pid);
        goto out;
    }
    atomic_store(&ctl->go, 1);
    int bad = bus_drain(sub, tu_now_ns() + 1000u * rnd(3000), &last, 0);
    if (kill_victim(pid) < 0)
        goto out;
    int bad2 = bus_drain(sub, 0, &last, 0);
    if (bad2 < 0) {
        t->hang++;
        goto out;
    }
    uint64_t com = atomic_load(&ctl->committed);
    good = bad == 0 && bad2 == 0 && last >= com && last <= com + 1;
    t->outcome[last == com + 1]++;
    int rc = shmkit_bus_attach(&b, s);
    unsigned char m[BUS_MSG];
    size_t len = msg_fill(m, last + 1, BUS_MSG);
    uint64_t before = last;
    good &= rc == 0 && shmkit_bus_send(b, m, len, WAIT_NS) == 0;
    good &= bus_drain(sub, 0, &last, 1) == 0 && last == before + 1;
    if (rc == 0)
        t->outcome[2]++;
    if (!good)
        tap_diag("bus publisher: last %llu committed %llu, bad %d/%d, attach %s",
                 (unsigned long long)last, (unsigned long long)com, bad, bad2, shmkit_errname(rc));
out:
    shmkit_bus_close(b);
    shmkit_bus_unsubscribe(sub);
    shmkit_close(s);
    return good ? 0 : -1;
}

/* ================= bus subscriber ================= */

static int victim_bus_subscriber(const char *name)
{
    shmkit_seg *s = open_name(name);
    shmkit_sub *sub = NULL;
    if (!s || shmkit_bus_subscribe(&sub, s) != 0)
        return 2;
    atomic_store(&ctl->ready, 1);
    unsigned char buf[BUS_MSG];
    for (uint64_t want = 1;; want++) {
        uint64_t seq, bseq, lost = 0;
        int n = shmkit_bus_recv(sub, buf, sizeof buf, &bseq, &lost, -1);
        if (n < 0)
            return 3;
        if (lost || msg_check(buf, (size_t)n, &seq) < 0 || seq != want)
            atomic_fetch_add(&ctl->errors, 1);
        atomic_store(&ctl->released, want);
    }
}

static int round_bus_subscriber(const char *name, struct tally *t)
{
    shmkit_seg *s = create_name(name, shmkit_bus_size_for(BUS_SLOTS, BUS_MSG, 4));
    shmkit_bus *b = NULL;
    shmkit_sub *own = NULL;
    int good = 0;
    if (!s || shmkit_bus_create(&b, s, BUS_SLOTS, BUS_MSG, 4, 0) != 0 ||
        shmkit_bus_subscribe(&own, s) != 0)
        goto out;
    pid_t pid = fork();
    if (pid == 0)
        _exit(victim_bus_subscriber(name));
    if (pid < 0 || wait_ready() < 0) {
        if (pid > 0)
            kill_victim(pid);
        goto out;
    }
    uint64_t sent = 0, last = 0;
    int bad = 0;
    unsigned char m[BUS_MSG];
    uint64_t deadline = tu_now_ns() + 1000u * rnd(3000);
    while (tu_now_ns() < deadline) {
        size_t len = msg_fill(m, sent + 1, BUS_MSG);
        int rc = shmkit_bus_send(b, m, len, 0);
        if (rc == 0)
            sent++;
        else if (rc != -EAGAIN)
            break;
        bad += bus_drain(own, 0, &last, 1);
    }
    if (kill_victim(pid) < 0)
        goto out;
    /* the publisher must not wait for the dead subscriber for ever */
    for (int i = 0; i < 3 * BUS_SLOTS; i++) {
        size_t len = msg_fill(m, sent + 1, BUS_MSG);
        int rc = shmkit_bus_send(b, m, len, WAIT_NS);
        if (rc == -ETIMEDOUT) {
            t->hang++;
            goto out;
        }
        if (rc != 0)
            break;
        sent++;
        bad += bus_drain(own, 0, &last, 1);
    }
    good = bad == 0 && last == sent && atomic_load(&ctl->errors) == 0;
    uint64_t rel = atomic_load(&ctl->released);
    t->outcome[rel < sent ? 1 : 0]++; /* 1: died with messages unread */
    struct shmkit_chan_stats st;
    if (shmkit_chan_stats(s, &st) == 0 && st.takeovers)
        t->outcome[2]++;
    if (!good)
        tap_diag("bus subscriber: sent %llu, own sub got %llu, bad %d, victim errors %llu",
                 (unsigned long long)sent, (unsigned long long)last, bad,
                 (unsigned long long)atomic_load(&ctl->errors));
out:
    shmkit_bus_unsubscribe(own);
    shmkit_bus_close(b);
    if (s) {
        shmkit_seg_remove(s); /* we created it and live: gc would rightly keep it */
        shmkit_close(s);
    }
    return good ? 0 : -1;
}

/* ================= channel claimers ================= */

#define CLAIM_SUBS 2

/* Takes and leaves every role of the ring (MULTI) and the bus, as fast as
 * it can, until killed: the kill lands anywhere, in the middle of taking a
 * role included. */
static int victim_claimer(shmkit_seg *ring, shmkit_seg *bus)
{
    atomic_store(&ctl->ready, 1);
    for (;;) {
        shmkit_ring *p = NULL, *c = NULL;
        shmkit_bus *b = NULL;
        shmkit_sub *s[CLAIM_SUBS] = {0};
        /* every role is free or held by a dead process: a refusal ends the
         * victim before the kill, which makes the round bad */
        if (shmkit_ring_attach(&p, ring, SHMKIT_RING_PRODUCER) != 0 ||
            shmkit_ring_attach(&c, ring, SHMKIT_RING_CONSUMER) != 0)
            return 2;
        for (int i = 0; i < CLAIM_SUBS; i++)
            if (shmkit_bus_subscribe(&s[i], bus) != 0)
                return 3;
        if (shmkit_bus_attach(&b, bus) != 0)
            return 4;
        shmkit_ring_close(c);
        shmkit_ring_close(p);
        for (int i = 0; i < CLAIM_SUBS; i++)
            shmkit_bus_unsubscribe(s[i]);
        shmkit_bus_close(b);
        atomic_fetch_add(&ctl->committed, 1);
    }
}

/* After the kill, whatever the victim held or was taking: every role can be
 * taken without TAKEOVER, and a peer waiting on the dead is told at once. */
static int judge_claims(shmkit_seg *ring, shmkit_seg *bus, pid_t victim, struct tally *t)
{
    struct shmkit_chan_stats st;
    if (shmkit_chan_stats(ring, &st) == 0 &&
        ((st.writer_pid == victim && !st.writer_alive) || (st.reader_pid == victim && !st.reader_alive)))
        t->outcome[0]++;
    if (shmkit_chan_stats(bus, &st) == 0 && st.writer_pid == victim && !st.writer_alive)
        t->outcome[1]++;
    uint64_t drops = shmkit_chan_stats(bus, &st) == 0 ? st.takeovers : 0;
    shmkit_ring *c = NULL, *p = NULL;
    shmkit_bus *b = NULL;
    shmkit_sub *s[CLAIM_SUBS] = {0};
    char m[64];
    int good = 1, rc;
    /* ring: the consumer role, then EPEERDEAD or ECLOSED (producers came
     * and went; the last may have closed before it was killed), then a
     * producer whose message arrives */
    if ((rc = shmkit_ring_attach(&c, ring, SHMKIT_RING_CONSUMER)) != 0) {
        tap_diag("claimers: ring consumer attach: %s", shmkit_errname(rc));
        good = 0;
        goto out;
    }
    if ((rc = shmkit_ring_recv(c, m, sizeof m, WAIT_NS)) != SHMKIT_EPEERDEAD &&
        rc != SHMKIT_ECLOSED) {
        tap_diag("claimers: ring recv with the producers dead: %s", shmkit_errname(rc));
        t->hang += rc == -ETIMEDOUT;
        good = 0;
    }
    if ((rc = shmkit_ring_attach(&p, ring, SHMKIT_RING_PRODUCER)) != 0 ||
        (rc = shmkit_ring_send(p, "ring", 4, WAIT_NS)) != 0 ||
        (rc = shmkit_ring_recv(c, m, sizeof m, WAIT_NS)) != 4) {
        tap_diag("claimers: ring producer: %s", shmkit_errname(rc));
        good = 0;
    }
    /* bus: every subscriber record and the publisher */
    for (int i = 0; i < CLAIM_SUBS; i++) {
        if ((rc = shmkit_bus_subscribe(&s[i], bus)) != 0) {
            tap_diag("claimers: subscriber %d of %d: %s", i + 1, CLAIM_SUBS, shmkit_errname(rc));
            good = 0;
            goto out;
        }
    }
    if ((rc = shmkit_bus_attach(&b, bus)) != 0 || (rc = shmkit_bus_send(b, "bus", 3, WAIT_NS)) != 0) {
        tap_diag("claimers: publisher: %s", shmkit_errname(rc));
        good = 0;
        goto out;
    }
    for (int i = 0; i < CLAIM_SUBS; i++)
        good &= shmkit_bus_recv(s[i], m, sizeof m, NULL, NULL, WAIT_NS) == 3;
    if (shmkit_chan_stats(bus, &st) == 0 && st.takeovers > drops)
        t->outcome[2]++;
out:
    shmkit_bus_close(b);
    for (int i = 0; i < CLAIM_SUBS; i++)
        shmkit_bus_unsubscribe(s[i]);
    shmkit_ring_close(p);
    shmkit_ring_close(c);
    return good ? 0 : -1;
}

static void claim_rounds(struct tally *t)
{
    shmkit_seg *ring = NULL, *bus = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = shmkit_ring_size_for(RING_CAP),
                            .flags = SHMKIT_CREATE};
    shmkit_ring *r = NULL;
    shmkit_bus *b = NULL;
    if (shmkit_open(&ring, &o) != 0 ||
        shmkit_ring_create(&r, ring, RING_CAP, SHMKIT_RING_PRODUCER | SHMKIT_RING_MULTI) != 0)
        tap_bail("claimers: ring");
    shmkit_ring_close(r); /* a producer came and went: a consumer is told when all are gone */
    o.size = shmkit_bus_size_for(BUS_SLOTS, BUS_MSG, CLAIM_SUBS);
    if (shmkit_open(&bus, &o) != 0 ||
        shmkit_bus_create(&b, bus, BUS_SLOTS, BUS_MSG, CLAIM_SUBS, 0) != 0)
        tap_bail("claimers: bus");
    shmkit_bus_close(b);
    uint64_t loops = 0;
    for (int round = 0; round < rounds; round++) {
        reset_ctl();
        pid_t pid = fork();
        if (pid == 0)
            _exit(victim_claimer(ring, bus));
        t->rounds++;
        if (pid < 0 || wait_ready() < 0 || (sleep_us(rnd(3000)), kill_victim(pid) < 0)) {
            if (pid > 0)
                kill_victim(pid);
            t->bad++;
            continue;
        }
        loops += atomic_load(&ctl->committed);
        if (judge_claims(ring, bus, pid, t) == 0)
            t->good++;
        else
            t->bad++;
    }
    tap_diag("  claimers: %llu take-and-leave loops in all", (unsigned long long)loops);
    shmkit_close(bus);
    shmkit_close(ring);
}

/* ================= segment creation ================= */

#define CREATE_MAX 200

static int victim_create(const char *prefix)
{
    atomic_store(&ctl->ready, 1);
    for (int i = 0; i < CREATE_MAX; i++) {
        char name[300];
        snprintf(name, sizeof name, "%s-%d", prefix, i);
        shmkit_seg *s = NULL;
        unsigned what = (unsigned)(i * 7919) % 4;
        if (what == 3) {
            shmkit_table *tb = NULL;
            struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
            if (shmkit_table_create(&tb, &o, 24, 16, 0) != 0)
                return 2;
            shmkit_table_close(tb);
        } else {
            struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name,
                                    .size = 1 + (size_t)(i * 4099) % 20000,
                                    .flags = SHMKIT_CREATE | SHMKIT_EXCL};
            if (shmkit_open(&s, &o) != 0)
                return 3;
            if (what == 1)
                memset(shmkit_seg_data(s), i, shmkit_seg_size(s));
            if (what == 2)
                shmkit_seg_seal(s);
            shmkit_close(s);
        }
        atomic_store(&ctl->created, (uint64_t)i + 1);
    }
    return 0;
}

/* The victim's segments that exist: it names them PREFIX-0, PREFIX-1, ...
 * Looked up one by one (not by reading /dev/shm, which other processes
 * change all the time), so none is missed. */
static int names_with(const char *prefix, char names[][300], int max)
{
    int n = 0;
    for (int i = 0; i < CREATE_MAX && n < max; i++) {
        char path[320];
        struct stat sb;
        snprintf(path, sizeof path, "/dev/shm%s-%d", prefix, i);
        if (stat(path, &sb) == 0)
            snprintf(names[n++], 300, "%s-%d", prefix, i);
    }
    return n;
}

/* Whether creation can go unnamed first here (O_TMPFILE in a tmpfs
 * /dev/shm, /proc mounted, the SHMKIT_NO_TMPFILE knob not set). */
static int create_atomic;

static int round_create(const char *prefix, struct tally *t)
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(victim_create(prefix));
    if (pid < 0 || wait_ready() < 0)
        return -1;
    sleep_us(rnd(3000));
    int st = 0;
    kill(pid, SIGKILL);
    if (tu_wait(pid, 5000, &st) < 0)
        return -1;
    static char names[CREATE_MAX + 1][300];
    int n = names_with(prefix, names, CREATE_MAX + 1);
    uint64_t done = atomic_load(&ctl->created);
    int valid = 0, partial = 0, good = 1;
    for (int i = 0; i < n; i++) {
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = names[i], .flags = SHMKIT_RDONLY};
        int rc = shmkit_open(&s, &o);
        if (rc == 0) {
            valid++;
            struct shmkit_info in;
            good &= shmkit_seg_stat(s, &in) == 0 &&
                    (!in.sealed || shmkit_seg_verify(s) == 0);
            shmkit_close(s);
        } else if (rc == SHMKIT_ENOTSHMKIT || rc == SHMKIT_ETRUNCATED) {
            partial++; /* fallback only: killed between shm_open and the header */
        } else if (rc == SHMKIT_EBADHEADER) {
            /* killed in the middle of a header rewrite (the seal): the CRC
             * gives it away. The rewrite is one pwrite, so never expected */
            partial++;
            t->outcome[3]++;
        } else {
            good = 0;
            tap_diag("create: half-made %s: open gave %s", names[i], shmkit_errname(rc));
        }
    }
    /* every segment the victim finished is whole; the one it was making
     * when it died is absent or whole too, since it is made unnamed and
     * linked once complete (only the O_EXCL fallback, where O_TMPFILE
     * cannot be used, may leave it header-less) */
    good &= (uint64_t)n >= done && (uint64_t)n <= done + 1 && partial <= (create_atomic ? 0 : 1);
    t->outcome[0] += valid;
    t->outcome[1] += partial;
    int gone = 1;
    if (have_cli && n) {
        char *argv[CREATE_MAX + 1];
        for (int i = 0; i < n; i++)
            argv[i] = names[i];
        for (int i = 0; i < n; i += 50)
            run_gc(argv + i, n - i < 50 ? n - i : 50, 0);
        int left = names_with(prefix, names, CREATE_MAX + 1);
        if (left > partial) { /* see gc_removes: ask once more */
            gc_second_tries++;
            sleep_us(100000);
            for (int i = 0; i < left; i++)
                argv[i] = names[i];
            run_gc(argv, left, 0);
            left = names_with(prefix, names, CREATE_MAX + 1);
        }
        /* only a header-less fragment may stay: gc never removes what it
         * cannot identify, unless told to with --force */
        gone = left <= partial;
        if (left) {
            for (int i = 0; i < left; i++)
                argv[i] = names[i];
            run_gc(argv, left, 1);
            t->outcome[2] += left;
            gone &= names_with(prefix, names, CREATE_MAX + 1) == 0;
        }
    }
    t->gc_ok += gone;
    int left = names_with(prefix, names, CREATE_MAX + 1);
    for (int i = 0; i < left; i++)
        shmkit_posix_remove(names[i]);
    if (!good)
        tap_diag("create: %d names, %llu finished, %d valid, %d partial", n,
                 (unsigned long long)done, valid, partial);
    return good ? 0 : -1;
}

/* ================= driver ================= */

typedef int (*victim_fn)(const char *name);

/* One round where the victim creates NAME, the test kills it at a random
 * moment (JUDGE decides what the survivors see), and gc cleans up. */
static void simple_round(const char *tag, victim_fn victim, struct tally *t, int kind)
{
    char name[96];
    tu_name(name, sizeof name, tag);
    reset_ctl();
    pid_t pid = fork();
    if (pid == 0)
        _exit(victim(name));
    int rc = -1;
    if (pid < 0 || wait_ready() < 0) {
        if (pid > 0)
            kill_victim(pid);
        tap_diag("%s: victim never became ready", tag);
        goto cleanup;
    }
    switch (kind) {
    case 0: /* locks: the victim runs on its own; kill it at a random moment */
    case 1:
        sleep_us(rnd(3000));
        if (kill_victim(pid) < 0)
            goto cleanup;
        rc = kind == 0 ? judge_mutex(name, t) : judge_rwlock(name, t);
        break;
    case 2: { /* seqlock: read snapshots while it writes, then kill it */
        shmkit_seg *s = open_name(name);
        if (!s) {
            kill_victim(pid);
            goto cleanup;
        }
        uint64_t reads = 0;
        int torn = seqlock_watch(shmkit_seg_data(s), tu_now_ns() + 1000u * rnd(3000), &reads);
        t->outcome[2] += reads > 0;
        sleep_us(rnd(500)); /* and let it write alone for a moment */
        if (kill_victim(pid) == 0)
            rc = judge_seqlock(s, t, torn);
        shmkit_close(s);
        break;
    }
    case 3:
        rc = round_ring_producer(name, pid, t);
        break;
    case 4:
        rc = round_ring_consumer(name, pid, t);
        break;
    case 5:
        rc = round_bus_publisher(name, pid, t);
        break;
    }
    if (rc == 0)
        t->good++;
    else
        t->bad++;
cleanup:
    t->rounds++;
    t->gc_ok += gc_removes(name);
}

int main(void)
{
    const char *e = getenv("SHMKIT_CRASH_ROUNDS");
    rounds = e && atoi(e) > 0 ? atoi(e) : DEFAULT_ROUNDS;
    const char *seed = getenv("SHMKIT_CRASH_SEED");
    rng_state = seed ? (unsigned)strtoul(seed, NULL, 0) : (unsigned)tu_now_ns();
    tap_diag("%d rounds per structure, seed %u (SHMKIT_CRASH_SEED to repeat)", rounds, rng_state);
    ctl = mmap(NULL, sizeof *ctl, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (ctl == MAP_FAILED)
        tap_bail("mmap");
    tu_built(gc_cli, sizeof gc_cli, "bin/shmkit");
    have_cli = access(gc_cli, X_OK) == 0;
    if (!have_cli)
        tap_diag("%s not built: gc is not checked", gc_cli);

    static const struct {
        const char *what, *tag;
        victim_fn victim;
        int kind;
        const char *o[3];
    } simple[] = {
        {"robust mutex", "cmx", victim_mutex, 0, {"killed outside the lock", "killed holding it (OWNERDEAD, repaired)", NULL}},
        {"rwlock", "crw", victim_rwlock, 1, {"killed outside a write", "killed writing (OWNERDEAD, repaired)", "dead reader's slot reclaimed"}},
        {"seqlock writer", "csq", victim_seqlock, 2, {"killed between writes", "killed mid-write (EPEERDEAD, new writer took over)", "rounds with live snapshot checks"}},
        {"ring producer", "crp", victim_ring_producer, 3, {"all committed received", "one more committed than counted", "takeovers recorded"}},
        {"ring consumer", "crc", victim_ring_consumer, 4, {"everything consumed", "next consumer resumed at the first unreleased", "one more released than counted"}},
        {"bus publisher", "cbp", victim_bus_publisher, 5, {"all published received", "one more published than counted", "new publisher attached"}},
    };
    uint64_t t0 = tu_now_ns();
    for (size_t k = 0; k < sizeof simple / sizeof simple[0]; k++) {
        struct tally t = {0};
        uint64_t s0 = tu_now_ns();
        for (int r = 0; r < rounds; r++)
            simple_round(simple[k].tag, simple[k].victim, &t, simple[k].kind);
        report(simple[k].what, &t, simple[k].o[0], simple[k].o[1], simple[k].o[2], 1);
        tap_diag("  %.1f ms per round", (double)(tu_now_ns() - s0) / 1e6 / rounds);
    }
    {
        struct tally t = {0};
        for (int r = 0; r < rounds; r++) {
            char name[96];
            tu_name(name, sizeof name, "cbs");
            reset_ctl();
            if (round_bus_subscriber(name, &t) == 0)
                t.good++;
            else
                t.bad++;
            t.rounds++;
        }
        report("bus subscriber", &t, "killed with nothing unread", "killed with messages unread",
               "dead subscribers dropped", 0);
    }
    {
        struct tally t = {0};
        claim_rounds(&t);
        report("channel claimers", &t, "left a ring role to the dead",
               "left the bus publisher to the dead", "dead subscriber records reclaimed", 0);
    }
    {
        struct tally t = {0};
        const char *knob = getenv("SHMKIT_NO_TMPFILE");
        int tf = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        struct statfs sf;
        create_atomic = tf >= 0 && access("/proc/self/fd", X_OK) == 0 &&
                        statfs("/dev/shm", &sf) == 0 && sf.f_type == 0x01021994 /* tmpfs */ &&
                        !(knob && *knob && strcmp(knob, "0"));
        if (tf >= 0)
            close(tf);
        for (int r = 0; r < rounds; r++) {
            char prefix[96];
            tu_name(prefix, sizeof prefix, "ccr");
            reset_ctl();
            if (round_create(prefix, &t) == 0)
                t.good++;
            else
                t.bad++;
            t.rounds++;
        }
        report("segment creation", &t, "whole segments found", "header-less or torn fragments",
               "left for gc --force", 1);
        tap_diag("  segment creation (%s): %.1f fragments per 100 rounds",
                 create_atomic ? "unnamed first, then linked" : "O_EXCL fallback",
                 rounds ? 100.0 * t.outcome[1] / rounds : 0.0);
    }
    tap_diag("crash matrix: %d rounds in %.1f s; gc had to be asked twice %d times (a segment "
             "held open for a moment by another process is kept)", 9 * rounds,
             (double)(tu_now_ns() - t0) / 1e9, gc_second_tries);
    return tap_done();
}
