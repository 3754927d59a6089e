/* t_ring_stress.c - 10 M self-checking messages of random sizes (16..256
 * bytes) from a producer process to a consumer process through a 1 MiB
 * ring, then 4 producer processes -> 1 consumer through a MULTI ring (blocking
 * mode: this machine may have only 2 cores). Every message carries its
 * producer, sequence number and a derived pattern: 0 lost, 0 duplicated,
 * 0 corrupted, order kept per producer. */
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

static void producer(uint32_t id, uint64_t n, size_t maxlen)
{
    shmkit_ring *r = NULL;
    int rc = shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER);
    if (rc < 0) {
        fprintf(stderr, "producer attach: %s\n", shmkit_strerror(rc));
        _exit(2);
    }
    for (uint64_t s = 0; s < n; s++) {
        size_t len = tu_msg_len(id, s, maxlen);
        void *p;
        rc = shmkit_ring_reserve(r, len, &p, 30000000000);
        if (rc < 0) {
            fprintf(stderr, "producer %u reserve: %s\n", id, shmkit_strerror(rc));
            _exit(3);
        }
        tu_msg_fill(p, len, id, s);
        shmkit_ring_commit(r, len);
    }
    shmkit_ring_close(r);
    _exit(0);
}

/* Consumes until every producer is gone; checks order per producer. */
static void consume(shmkit_ring *c, unsigned nprod, uint64_t each, const char *what)
{
    uint64_t next[8] = {0}, bad = 0, dup = 0, total = 0;
    for (;;) {
        const void *m;
        size_t len;
        int rc = shmkit_ring_peek(c, &m, &len, 30000000000);
        if (rc == SHMKIT_ECLOSED)
            break; /* every producer closed, all drained */
        if (rc < 0) {
            tap_diag("peek: %s", shmkit_strerror(rc));
            bad++;
            break;
        }
        uint32_t id;
        uint64_t sq;
        if (tu_msg_check(m, len, &id, &sq) || id >= nprod)
            bad++;
        else if (sq < next[id])
            dup++;
        else if (sq > next[id])
            bad++; /* a gap: lost messages */
        else
            next[id]++;
        total++;
        shmkit_ring_release(c);
    }
    uint64_t got = 0;
    for (unsigned i = 0; i < nprod; i++)
        got += next[i];
    ok(got == nprod * each && !bad && !dup && total == got,
       "%s: %llu of %llu messages in order, %llu corrupt/lost, %llu duplicated", what,
       (unsigned long long)got, (unsigned long long)(nprod * each), (unsigned long long)bad,
       (unsigned long long)dup);
}

static int reap(pid_t *pids, unsigned n)
{
    int fails = 0;
    for (unsigned i = 0; i < n; i++) {
        int st;
        if (tu_wait(pids[i], 120000, &st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st))
            fails++;
    }
    return fails;
}

int main(void)
{
    atexit(cleanup);
    if (TAP_UNDER_ASAN)
        tap_diag("sanitized build: a tenth of the messages");
    seg = tu_seg_new(name, sizeof name, "rings", shmkit_ring_size_for(1 << 20));

    /* 1 -> 1 */
    const uint64_t n1 = TU_SCALE(10000000ull);
    shmkit_ring *c = NULL;
    if (shmkit_ring_create(&c, seg, 1 << 20, SHMKIT_RING_CONSUMER) < 0)
        tap_bail("create");
    uint64_t t0 = tu_now_ns();
    pid_t pid = fork();
    if (pid == 0)
        producer(0, n1, 256);
    consume(c, 1, n1, "1 producer");
    double secs = (tu_now_ns() - t0) / 1e9;
    is_int(reap(&pid, 1), 0, "producer exited cleanly");
    struct shmkit_chan_stats st;
    shmkit_chan_stats(seg, &st);
    tap_diag("%llu messages, %.1f MB in %.2f s (%.1f M msg/s); %llu sleeps, %llu wake calls",
             (unsigned long long)st.msgs_out, st.bytes_out / 1e6, secs, st.msgs_out / secs / 1e6,
             (unsigned long long)st.waits, (unsigned long long)st.wakes);
    shmkit_ring_close(c);

    /* 4 -> 1, MULTI */
    const uint64_t n4 = TU_SCALE(250000ull);
    c = NULL;
    if (shmkit_ring_create(&c, seg, 1 << 16, SHMKIT_RING_CONSUMER | SHMKIT_RING_MULTI) < 0)
        tap_bail("create multi");
    pid_t pids[4];
    t0 = tu_now_ns();
    for (uint32_t i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            producer(i, n4, 200);
    }
    /* wait until all four attached, so the first to finish does not look
     * like "every producer gone" */
    for (int i = 0; i < 5000; i++) {
        shmkit_chan_stats(seg, &st);
        if (st.writers + st.msgs_in / n4 >= 4 || st.msgs_in > 0)
            break;
        usleep(1000);
    }
    consume(c, 4, n4, "4 producers -> 1 consumer (MULTI)");
    secs = (tu_now_ns() - t0) / 1e9;
    is_int(reap(pids, 4), 0, "4 producers exited cleanly");
    shmkit_chan_stats(seg, &st);
    tap_diag("%llu messages in %.2f s; %llu sleeps, %llu wake calls, %llu takeovers",
             (unsigned long long)st.msgs_out, secs, (unsigned long long)st.waits,
             (unsigned long long)st.wakes, (unsigned long long)st.takeovers);
    shmkit_ring_close(c);
    return tap_done();
}
