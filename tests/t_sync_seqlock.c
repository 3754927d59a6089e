/* t_sync_seqlock.c - seqlock: a torn-read hunt between processes (a writer
 * rewriting a self-checking record as fast as it can, readers verifying
 * every snapshot), a writer that dies mid-write, the single-writer rule,
 * the copy helpers at every alignment. */
#include "tu_sync.h"

#include <poll.h>
#include <sched.h>

#define WORDS 32            /* a 256-byte record: more room to tear */
#define TARGET_READS 2000000 /* the hunt runs until the spinning reader... */
#define MIN_WRITES 200000    /* ...and the writer did this much */
#define CAP_NS 30000000000u  /* or this long on a badly overloaded machine */
#define MIN_READS 1000000    /* asserted: enough to call it a hunt */

struct rec {
    uint64_t k;
    uint64_t w[WORDS - 2];
    uint64_t sum;
};

struct shm {
    struct shmkit_seqlock lock;
    struct rec rec;
    uint32_t stop;
    uint32_t pad;
    uint64_t reads[2], torn[2], writes;
};

static struct shm *m;

static void fill(struct rec *r, uint64_t k)
{
    r->k = k;
    r->sum = k;
    for (int i = 0; i < WORDS - 2; i++) {
        r->w[i] = k * 0x9e3779b97f4a7c15u + (uint64_t)i;
        r->sum ^= r->w[i];
    }
}

static int intact(const struct rec *r)
{
    uint64_t sum = r->k;
    for (int i = 0; i < WORDS - 2; i++) {
        if (r->w[i] != r->k * 0x9e3779b97f4a7c15u + (uint64_t)i)
            return 0;
        sum ^= r->w[i];
    }
    return sum == r->sum;
}

static int writer(void *arg, int i)
{
    struct rec r;
    uint64_t k = 1;
    /* acquire: the parent's stop flag */
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        fill(&r, k++);
        if (shmkit_seqlock_write(&m->lock, &m->rec, &r, sizeof r) != 0)
            return 1;
        if ((k & 4095) == 0) /* relaxed: progress for the parent */
            __atomic_store_n(&m->writes, k - 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&m->writes, k - 1, __ATOMIC_RELAXED);
    return 0;
}

/* Reader 0 spins with shmkit_seqlock_read; reader 1 uses begin/retry by
 * hand and yields the CPU after every snapshot (2 cores, 3 processes). */
static int reader(void *arg, int id)
{
    struct rec r;
    uint64_t n = 0, torn = 0, last = 0;
    while (!__atomic_load_n(&m->stop, __ATOMIC_ACQUIRE)) {
        if (id == 0) {
            if (shmkit_seqlock_read(&m->lock, &r, &m->rec, sizeof r) != 0)
                return 1;
        } else {
            uint32_t s;
            do {
                s = shmkit_seqlock_read_begin(&m->lock);
                shmkit_seqlock_load(&r, &m->rec, sizeof r);
            } while (shmkit_seqlock_read_retry(&m->lock, s));
            sched_yield();
        }
        n++;
        if (!intact(&r) || r.k < last)
            torn++;
        last = r.k;
        if ((n & 4095) == 0) /* relaxed: progress for the parent */
            __atomic_store_n(&m->reads[id], n, __ATOMIC_RELAXED);
    }
    m->reads[id] = n;
    m->torn[id] = torn;
    return 0;
}

static int die_writing(void *arg, int i)
{
    int fd = *(int *)arg;
    if (shmkit_seqlock_write_begin(&m->lock) != 0)
        return 1;
    uint64_t junk = 0xdead;
    shmkit_seqlock_store(&m->rec.w[3], &junk, sizeof junk); /* half a write */
    if (write(fd, "x", 1) != 1)
        return 2;
    for (;;)
        pause();
}

/* A child that begins a write and stays in it; its pid once it is in. */
static pid_t mid_write(void)
{
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t p = tu_spawn_fn(die_writing, &pfd[1], 0);
    close(pfd[1]);
    int ready = tu_ready(pfd[0], 2000);
    if (!ready)
        tap_bail("child did not start writing");
    return p;
}

static void copies(void)
{
    unsigned char src[64], dst[64], ref[64];
    int bad = 0;
    for (int i = 0; i < 64; i++)
        src[i] = (unsigned char)(i * 7 + 1);
    for (size_t so = 0; so < 8; so++)
        for (size_t doff = 0; doff < 8; doff++)
            for (size_t n = 0; n <= 40; n++) {
                memset(dst, 0xaa, sizeof dst);
                memset(ref, 0xaa, sizeof ref);
                memcpy(ref + doff, src + so, n);
                shmkit_seqlock_load(dst + doff, src + so, n);
                bad += memcmp(dst, ref, sizeof dst) != 0;
                memset(dst, 0xaa, sizeof dst);
                shmkit_seqlock_store(dst + doff, src + so, n);
                bad += memcmp(dst, ref, sizeof dst) != 0;
            }
    is_int(bad, 0, "load/store copy exactly N bytes at every alignment, 0..40 bytes");
}

int main(void)
{
    shmkit_seg *seg;
    m = tu_shared(&seg, sizeof *m);
    copies();

    shmkit_seqlock_init(&m->lock);
    struct rec r;
    fill(&r, 0);
    is_rc(shmkit_seqlock_write(&m->lock, &m->rec, &r, sizeof r), 0, "first write");
    is_int(m->lock.seq, 2, "sequence is even (2) after one write");
    ok(m->lock.writer.pid == getpid(), "writer recorded");
    memset(&r, 0, sizeof r);
    is_rc(shmkit_seqlock_read(&m->lock, &r, &m->rec, sizeof r), 0, "read");
    ok(intact(&r) && r.k == 0, "snapshot intact");
    is_rc(shmkit_seqlock_read(NULL, &r, &m->rec, 1), -EINVAL, "read NULL lock: EINVAL");
    is_rc(shmkit_seqlock_write_begin(NULL), -EINVAL, "write_begin NULL: EINVAL");
    ok(shmkit_seqlock_writer_alive(&m->lock), "no write in progress: writer_alive 1");

    /* the hunt */
    pid_t kids[3];
    kids[0] = tu_spawn_fn(writer, NULL, 0);
    kids[1] = tu_spawn_fn(reader, NULL, 0);
    kids[2] = tu_spawn_fn(reader, NULL, 1);
    uint64_t t0 = tu_now_ns();
    while (tu_now_ns() - t0 < CAP_NS &&
           (__atomic_load_n(&m->reads[0], __ATOMIC_RELAXED) < TARGET_READS ||
            __atomic_load_n(&m->writes, __ATOMIC_RELAXED) < MIN_WRITES))
        usleep(20000);
    __atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
    is_int(tu_reap(kids, 3, 10000), 3, "writer and two readers finished");
    tap_diag("%llu writes, %llu + %llu snapshots in %.1f s", (unsigned long long)m->writes,
             (unsigned long long)m->reads[0], (unsigned long long)m->reads[1],
             (tu_now_ns() - t0) / 1e9);
    ok(m->reads[0] >= MIN_READS, "spinning reader verified %llu snapshots (>= %d)",
       (unsigned long long)m->reads[0], MIN_READS);
    ok(m->writes >= MIN_WRITES, "writer rewrote the record %llu times", (unsigned long long)m->writes);
    is_int(m->torn[0], 0, "zero torn snapshots (shmkit_seqlock_read)");
    is_int(m->torn[1], 0, "zero torn snapshots (read_begin/retry)");

    /* control: the same hunt without the seqlock does see tearing (diag:
     * it depends on scheduling, so it is shown, not asserted) */
    __atomic_store_n(&m->stop, 0, __ATOMIC_RELEASE);
    m->writes = 0;
    kids[0] = tu_spawn_fn(writer, NULL, 0);
    uint64_t unsync = 0, n = 0;
    t0 = tu_now_ns();
    while (tu_now_ns() - t0 < 200000000u) {
        shmkit_seqlock_load(&r, &m->rec, sizeof r);
        unsync += !intact(&r);
        n++;
    }
    __atomic_store_n(&m->stop, 1, __ATOMIC_RELEASE);
    tu_reap(kids, 1, 10000);
    tap_diag("control: %llu of %llu unsynchronised copies were torn", (unsigned long long)unsync,
             (unsigned long long)n);

    /* single-writer rule */
    is_rc(shmkit_seqlock_write_begin(&m->lock), 0, "write_begin");
    is_rc(shmkit_seqlock_write_begin(&m->lock), SHMKIT_EPROTO, "again without end: EPROTO");
    shmkit_seqlock_write_end(&m->lock);
    pid_t p = mid_write();
    is_rc(shmkit_seqlock_write_begin(&m->lock), SHMKIT_EPROTO,
          "a live writer is mid-write: EPROTO");
    ok(shmkit_seqlock_writer_alive(&m->lock), "writer_alive: 1 while it lives");

    /* writer dies mid-write */
    kill(p, SIGKILL);
    waitpid(p, NULL, 0);
    ok(!shmkit_seqlock_writer_alive(&m->lock), "writer_alive: 0 after it died mid-write");
    t0 = tu_now_ns();
    is_rc(shmkit_seqlock_read(&m->lock, &r, &m->rec, sizeof r), SHMKIT_EPEERDEAD,
          "read: EPEERDEAD instead of spinning forever");
    tap_diag("noticed after %.2f ms", (tu_now_ns() - t0) / 1e6);
    uint32_t s = shmkit_seqlock_read_begin(&m->lock);
    is_rc(shmkit_seqlock_wait(&m->lock, s, 5000000000), SHMKIT_EPEERDEAD,
          "wait: EPEERDEAD too");
    fill(&r, 77);
    is_rc(shmkit_seqlock_write(&m->lock, &m->rec, &r, sizeof r), 1,
          "next writer takes over (returns 1)");
    memset(&r, 0, sizeof r);
    is_rc(shmkit_seqlock_read(&m->lock, &r, &m->rec, sizeof r), 0, "readable again");
    ok(intact(&r) && r.k == 77, "and whole");

    shmkit_close(seg);
    return tap_done();
}
