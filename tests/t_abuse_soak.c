/* t_abuse_soak.c - ring and bus under 4 x 4 processes, blocking mode, a
 * fixed number of messages, every one checked:
 *   RING: 4 multi-producer rings; each of 4 producer processes sends to all
 *         four rings in turn, each of 4 consumer processes drains one ring.
 *   BUS:  4 back-pressure buses, one publisher process each; each of 4
 *         subscriber processes joins all four and reads them in turn.
 * Every message carries its sender, a per-(sender, channel) sequence number
 * and a CRC-32C of its body: a receiver counts gaps (lost), repeats
 * (duplicated) and CRC failures (corrupt); all must be 0 and every message
 * must arrive. Each process samples its VmRSS and open descriptors at 10%
 * and at 100% of its messages: both must be flat (RSS within 256 KiB; 1 MiB
 * under ASan).
 *
 * Messages per channel type: $SHMKIT_SOAK_MSGS, default 2,000,000 (200,000
 * under ASan); `make check-long` sends 50 M through each (100 M in all).
 * Ring and bus run one after the other. */
#include "tap.h"

#include <shmkit.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MSGS (TAP_UNDER_ASAN ? 200000 : 2000000)
/* ASan's shadow and quarantine pages come late */
#define RSS_SLACK_KB (TAP_UNDER_ASAN ? 1024 : 256)

#define N 4                /* producers = consumers = channels */
#define RING_CAP (1u << 16)
#define BUS_SLOTS 64
#define MSG_MAX 192
#define SPIN_NS 2000       /* then sleep: 8 processes share 2 cores */
#define OP_TIMEOUT (60 * 1000000000LL) /* one send/recv waiting longer: a hang */

struct result {
    uint64_t msgs, lost, dup, corrupt, errors;
    long rss0, rss1; /* kB */
    int fd0, fd1;
    int done;
};

struct shared {
    _Atomic int subscribed; /* readers attached: writers start after all of them */
    _Atomic int attached;   /* bus publishers attached: until then a subscriber
                               would see the creator's closed publisher (ECLOSED) */
    struct result r[2 * N];
};

static struct shared *sh;
static uint64_t total; /* messages per channel type */
static char ring_names[N][96], bus_names[N][96];

struct msg {
    uint32_t from, len;
    uint64_t seq;
    uint32_t crc, pad;
    unsigned char body[MSG_MAX - 24];
};

static size_t msg_fill(struct msg *m, uint32_t from, uint64_t seq)
{
    size_t body = (size_t)((seq * 2654435761u + from) % sizeof m->body);
    m->from = from;
    m->seq = seq;
    m->len = (uint32_t)(24 + body);
    m->pad = 0;
    for (size_t i = 0; i < body; i++)
        m->body[i] = (unsigned char)(seq + i * 7 + from);
    m->crc = shmkit_crc32c(0, m->body, body);
    return m->len;
}

/* Accounts one received message against NEXT[from]. */
static void msg_account(const void *p, size_t len, uint64_t *next, struct result *r)
{
    struct msg m;
    if (len < 24 || len > sizeof m) {
        r->corrupt++;
        return;
    }
    memcpy(&m, p, len);
    if (m.len != len || m.from >= N || m.crc != shmkit_crc32c(0, m.body, len - 24)) {
        r->corrupt++;
        return;
    }
    if (m.seq < next[m.from]) {
        r->dup++;
        return;
    }
    r->lost += m.seq - next[m.from];
    next[m.from] = m.seq + 1;
    r->msgs++;
}

static long vm_rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static int fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    while (d && readdir(d))
        n++;
    if (d)
        closedir(d);
    return n - 3; /* ".", ".." and the directory's own descriptor */
}

static void sample(struct result *r, uint64_t done, uint64_t of)
{
    if (done == of / 10) {
        r->rss0 = vm_rss_kb();
        r->fd0 = fd_count();
    } else if (done == of) {
        r->rss1 = vm_rss_kb();
        r->fd1 = fd_count();
    }
}

static shmkit_seg *open_name(const char *name)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    return shmkit_open(&s, &o) == 0 ? s : NULL;
}

/* ---- ring ---- */

static void wait_readers(void)
{
    while (atomic_load(&sh->subscribed) < N) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static int ring_producer(int me)
{
    struct result *r = &sh->r[me];
    wait_readers();
    shmkit_seg *s[N];
    shmkit_ring *rg[N];
    for (int j = 0; j < N; j++) {
        s[j] = open_name(ring_names[j]);
        if (!s[j] || shmkit_ring_attach(&rg[j], s[j], SHMKIT_RING_PRODUCER) != 0)
            return 2;
        shmkit_ring_set_spin(rg[j], SPIN_NS);
    }
    uint64_t mine = total / N, seq[N] = {0};
    struct msg m;
    for (uint64_t k = 1; k <= mine; k++) {
        int j = (int)(k % N);
        size_t len = msg_fill(&m, (uint32_t)me, seq[j]++);
        int rc = shmkit_ring_send(rg[j], &m, len, OP_TIMEOUT);
        if (rc != 0) {
            r->errors++;
            return 3;
        }
        r->msgs++;
        sample(r, k, mine);
    }
    for (int j = 0; j < N; j++) {
        shmkit_ring_close(rg[j]);
        shmkit_close(s[j]);
    }
    r->done = 1;
    return 0;
}

static int ring_consumer(int me)
{
    struct result *r = &sh->r[N + me];
    shmkit_seg *s = open_name(ring_names[me]);
    shmkit_ring *rg = NULL;
    if (!s || shmkit_ring_attach(&rg, s, SHMKIT_RING_CONSUMER) != 0)
        return 2;
    shmkit_ring_set_spin(rg, SPIN_NS);
    atomic_fetch_add(&sh->subscribed, 1);
    uint64_t want = total / N, next[N] = {0}, got = 0;
    while (got < want) {
        const void *p;
        size_t len;
        int rc = shmkit_ring_peek(rg, &p, &len, OP_TIMEOUT);
        if (rc != 0) {
            r->errors++;
            return 3;
        }
        msg_account(p, len, next, r);
        shmkit_ring_release(rg);
        got++;
        sample(r, got, want);
    }
    shmkit_ring_close(rg);
    shmkit_close(s);
    r->done = 1;
    return 0;
}

/* ---- bus ---- */

static int bus_publisher(int me)
{
    struct result *r = &sh->r[me];
    shmkit_seg *s = open_name(bus_names[me]);
    shmkit_bus *b = NULL;
    if (!s || shmkit_bus_attach(&b, s) != 0)
        return 2;
    shmkit_bus_set_spin(b, SPIN_NS);
    atomic_fetch_add(&sh->attached, 1);
    wait_readers();
    uint64_t mine = total / N;
    struct msg m;
    for (uint64_t k = 1; k <= mine; k++) {
        size_t len = msg_fill(&m, (uint32_t)me, k - 1);
        if (shmkit_bus_send(b, &m, len, OP_TIMEOUT) != 0) {
            r->errors++;
            return 3;
        }
        r->msgs++;
        sample(r, k, mine);
    }
    shmkit_bus_close(b);
    shmkit_close(s);
    r->done = 1;
    return 0;
}

static int bus_subscriber(int me)
{
    struct result *r = &sh->r[N + me];
    shmkit_seg *s[N];
    shmkit_sub *sub[N];
    for (int j = 0; j < N; j++) {
        s[j] = open_name(bus_names[j]);
        if (!s[j] || shmkit_bus_subscribe(&sub[j], s[j]) != 0)
            return 2;
        shmkit_sub_set_spin(sub[j], SPIN_NS);
    }
    while (atomic_load(&sh->attached) < N) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&sh->subscribed, 1);
    uint64_t per = total / N, next[N] = {0};
    struct msg m;
    for (uint64_t k = 1; k <= per; k++) {
        for (int j = 0; j < N; j++) {
            uint64_t seq, lost = 0;
            int n = shmkit_bus_recv(sub[j], &m, sizeof m, &seq, &lost, OP_TIMEOUT);
            if (n < 0) {
                r->errors++;
                return 3;
            }
            r->lost += lost;
            msg_account(&m, (size_t)n, next, r);
        }
        sample(r, k, per);
    }
    for (int j = 0; j < N; j++) {
        shmkit_bus_unsubscribe(sub[j]);
        shmkit_close(s[j]);
    }
    r->done = 1;
    return 0;
}

/* ---- driver ---- */

#ifdef SHMKIT_COVERAGE
void __gcov_dump(void); /* `make coverage`: _exit() would lose the child's counts */
#endif

static void child_exit(int rc)
{
#ifdef SHMKIT_COVERAGE
    __gcov_dump();
#endif
    _exit(rc);
}

static void run(const char *what, int (*writer)(int), int (*reader)(int))
{
    memset(sh, 0, sizeof *sh);
    pid_t pids[2 * N];
    uint64_t t0 = tu_now_ns();
    /* readers first: bus subscribers must have joined before publishing */
    for (int i = 0; i < 2 * N; i++) {
        int rd = i < N;
        int idx = i % N;
        pids[i] = fork();
        if (pids[i] == 0)
            child_exit(rd ? reader(idx) : writer(idx));
    }
    /* a generous limit: ~20 us per message on a loaded 2-core machine */
    int limit_ms = (int)(60000 + total / 50);
    int hung = 0, failed = 0;
    for (int i = 0; i < 2 * N; i++) {
        int st = 0;
        if (tu_wait(pids[i], limit_ms, &st) < 0)
            hung++;
        else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    double secs = (double)(tu_now_ns() - t0) / 1e9;
    uint64_t sent = 0, got = 0, lost = 0, dup = 0, corrupt = 0, errs = 0;
    long rss_grow = 0;
    int fd_grow = 0;
    for (int i = 0; i < 2 * N; i++) {
        struct result *r = &sh->r[i];
        if (i < N)
            sent += r->msgs;
        else
            got += r->msgs;
        lost += r->lost;
        dup += r->dup;
        corrupt += r->corrupt;
        errs += r->errors;
        long g = r->rss1 - r->rss0;
        if (g > rss_grow)
            rss_grow = g;
        if (r->fd1 - r->fd0 > fd_grow || r->fd0 - r->fd1 > fd_grow)
            fd_grow = abs(r->fd1 - r->fd0);
    }
    int bus = writer == bus_publisher;
    uint64_t want_got = bus ? total * N : total;
    is_int(hung + failed, 0, "%s: 8 processes finished in time (%d hung, %d failed)", what, hung,
           failed);
    is_int(sent, total, "%s: %llu messages sent", what, (unsigned long long)total);
    is_int(got, want_got, "%s: %llu messages received%s", what, (unsigned long long)want_got,
           bus ? " (every subscriber got every message)" : "");
    ok(lost == 0 && dup == 0 && corrupt == 0 && errs == 0,
       "%s: 0 lost, 0 duplicated, 0 corrupt, 0 errors (%llu, %llu, %llu, %llu)", what,
       (unsigned long long)lost, (unsigned long long)dup, (unsigned long long)corrupt,
       (unsigned long long)errs);
    ok(rss_grow <= RSS_SLACK_KB, "%s: VmRSS flat from 10%% to 100%% (largest growth %ld kB)", what,
       rss_grow);
    is_int(fd_grow, 0, "%s: open descriptors flat", what);
    tap_diag("%s: %.2f s, %.0f messages/s sent, %.0f deliveries/s", what, secs, (double)sent / secs,
             (double)got / secs);
}

int main(void)
{
    const char *e = getenv("SHMKIT_SOAK_MSGS");
    total = e && strtoull(e, NULL, 10) > 0 ? strtoull(e, NULL, 10) : DEFAULT_MSGS;
    total -= total % (N * N);
    tap_diag("%llu messages per channel type, %d x %d processes",
             (unsigned long long)total, N, N);
    sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED)
        tap_bail("mmap");
    shmkit_seg *segs[2 * N] = {0};
    int setup = 0;
    for (int j = 0; j < N; j++) {
        shmkit_ring *r = NULL;
        shmkit_bus *b = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
        o.name = tu_name(ring_names[j], sizeof ring_names[j], "soakring");
        o.size = shmkit_ring_size_for(RING_CAP);
        setup |= shmkit_open(&segs[j], &o);
        setup |= segs[j] ? shmkit_ring_create(&r, segs[j], RING_CAP,
                                              SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI) : -1;
        shmkit_ring_close(r); /* the consumer process attaches in its place */
        o.name = tu_name(bus_names[j], sizeof bus_names[j], "soakbus");
        o.size = shmkit_bus_size_for(BUS_SLOTS, MSG_MAX, N);
        setup |= shmkit_open(&segs[N + j], &o);
        setup |= segs[N + j] ? shmkit_bus_create(&b, segs[N + j], BUS_SLOTS, MSG_MAX, N, 0) : -1;
        shmkit_bus_close(b);
    }
    if (setup == 0) {
        run("ring 4x4", ring_producer, ring_consumer);
        run("bus 4x4", bus_publisher, bus_subscriber);
    } else {
        ok(0, "setting up 4 rings and 4 buses");
    }
    for (int i = 0; i < 2 * N; i++) {
        if (segs[i]) {
            shmkit_seg_remove(segs[i]);
            shmkit_close(segs[i]);
        }
    }
    return tap_done();
}
