/* t_bus_mp.c - a publisher process and 8 subscriber processes, in both
 * modes. Back-pressure: every subscriber gets every message, intact and in
 * order, and a subscriber joining and leaving mid-stream gets a contiguous
 * run. Lossy: subscribers that dawdle lose messages, and for each one
 * lost + received == published. Then a killed subscriber: it no longer
 * holds back a back-pressure publisher. */
#include "tu_ring.h"

#define NSUB 8

static char name[96];
static shmkit_seg *seg;

static void cleanup(void)
{
    if (seg) {
        shmkit_seg_remove(seg);
        shmkit_close(seg);
    }
}

/* Subscriber process: reads until the publisher is gone; reports
 * "received lost bad first last" on FD. SLOW: dawdle now and then.
 * LEAVE_AFTER: unsubscribe after that many messages (0 = never). */
static void subscriber(int ready_fd, int fd, int lossy, int slow, uint64_t leave_after)
{
    shmkit_sub *s = NULL;
    if (shmkit_bus_subscribe(&s, seg) < 0)
        _exit(2);
    if (write(ready_fd, "r", 1) != 1)
        _exit(2);
    uint64_t got = 0, lost = 0, bad = 0, first = 0, last = 0;
    char buf[512];
    for (;;) {
        uint64_t seq;
        int rc = shmkit_bus_recv(s, buf, sizeof buf, &seq, &lost, 30000000000);
        if (rc < 0) {
            if (rc != SHMKIT_ECLOSED) { /* the publisher closes when done */
                bad++;
                fprintf(stderr, "recv: %s\n", shmkit_strerror(rc));
            }
            break;
        }
        uint32_t id = 0;
        uint64_t sq = 0;
        if (tu_msg_check(buf, (size_t)rc, &id, &sq) || sq + 1 != seq || seq <= last) {
            bad++;
            fprintf(stderr, "bad: rc %d check %d sq %llu seq %llu last %llu\n", rc,
                    tu_msg_check(buf, (size_t)rc, &id, &sq), (unsigned long long)sq,
                    (unsigned long long)seq, (unsigned long long)last);
        }
        if (!first)
            first = seq;
        else if (!lossy && seq != last + 1)
            bad++;
        last = seq;
        got++;
        if (slow && got % 512 == 0)
            usleep(200);
        if (leave_after && got == leave_after)
            break;
    }
    if (lost != shmkit_sub_lost(s)) {
        bad++;
        fprintf(stderr, "lost %llu vs %llu\n", (unsigned long long)lost,
                (unsigned long long)shmkit_sub_lost(s));
    }
    shmkit_bus_unsubscribe(s);
    char line[160];
    int n = snprintf(line, sizeof line, "%llu %llu %llu %llu %llu\n", (unsigned long long)got,
                     (unsigned long long)lost, (unsigned long long)bad,
                     (unsigned long long)first, (unsigned long long)last);
    if (write(fd, line, (size_t)n) != n)
        _exit(3);
    _exit(0);
}

static void run(unsigned flags, uint64_t n, const char *what)
{
    shmkit_bus *b = NULL;
    if (shmkit_bus_create(&b, seg, 256, 256, 64, flags) < 0)
        tap_bail("create");
    int ready[2], res[2];
    if (pipe(ready) < 0 || pipe(res) < 0)
        tap_bail("pipe");
    pid_t pids[NSUB + 1];
    int lossy = !!(flags & SHMKIT_BUS_LOSSY);
    for (int i = 0; i < NSUB; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            subscriber(ready[1], res[1], lossy, lossy && i % 2, 0);
    }
    char ch;
    for (int i = 0; i < NSUB; i++)
        if (read(ready[0], &ch, 1) != 1)
            tap_bail("subscriber did not start");
    pids[NSUB] = 0;
    int sent_fail = 0;
    char buf[256];
    for (uint64_t i = 0; i < n; i++) {
        if (!lossy && i == n / 4) {
            pids[NSUB] = fork(); /* joins now, leaves after n/4 messages */
            if (pids[NSUB] == 0)
                subscriber(ready[1], res[1], 0, 0, n / 4);
        }
        size_t len = tu_msg_len(0, i, sizeof buf);
        tu_msg_fill(buf, len, 0, i);
        if (shmkit_bus_send(b, buf, len, 30000000000) < 0)
            sent_fail++;
    }
    shmkit_bus_close(b);
    close(ready[1]);
    close(res[1]);
    FILE *f = fdopen(res[0], "r");
    int nres = 0, bad = 0, exact = 0, lossy_subs = 0;
    unsigned long long got, lost, nbad, first, last, minlost = ~0ull, maxlost = 0;
    while (f && fscanf(f, "%llu %llu %llu %llu %llu", &got, &lost, &nbad, &first, &last) == 5) {
        nres++;
        bad += nbad != 0;
        if (lossy ? last != got + lost : first != 0 && last - first + 1 != got) {
            bad++;
            tap_diag("got %llu lost %llu first %llu last %llu", got, lost, first, last);
        }
        if (got + lost == n)
            exact++;
        else if (!lossy && got == n / 4 && last - first + 1 == got)
            exact++; /* the one that joined and left */
        if (lost) {
            lossy_subs++;
            minlost = lost < minlost ? lost : minlost;
            maxlost = lost > maxlost ? lost : maxlost;
        }
    }
    if (f)
        fclose(f);
    close(ready[0]);
    int reaped = 0;
    for (int i = 0; i < NSUB + 1; i++) {
        int st;
        if (pids[i] && tu_wait(pids[i], 60000, &st) == 0 && WIFEXITED(st) && !WEXITSTATUS(st))
            reaped++;
    }
    int want = lossy ? NSUB : NSUB + 1;
    is_int(sent_fail, 0, "%s: %llu messages published", what, (unsigned long long)n);
    is_int(nres, want, "%s: %d subscribers reported", what, want);
    is_int(bad, 0, "%s: no corrupt, out-of-order or miscounted message", what);
    is_int(exact, want, lossy ? "%s: lost + received == published for every subscriber"
                              : "%s: every subscriber got every message in its span", what);
    is_int(reaped, want, "%s: subscribers exited cleanly", what);
    if (lossy)
        tap_diag("%s: %d subscribers lost messages (%llu..%llu)", what, lossy_subs,
                 lossy_subs ? minlost : 0, maxlost);
    else
        is_int(lossy_subs, 0, "%s: nothing lost", what);
}

int main(void)
{
    atexit(cleanup);
    if (TAP_UNDER_ASAN)
        tap_diag("sanitized build: a tenth of the messages");
    seg = tu_seg_new(name, sizeof name, "busmp", shmkit_bus_size_for(256, 256, 64));
    run(0, TU_SCALE(200000ull), "back-pressure");
    run(SHMKIT_BUS_LOSSY, TU_SCALE(400000ull), "lossy");

    /* a killed subscriber stops holding the back-pressure publisher */
    shmkit_bus *b = NULL;
    if (shmkit_bus_create(&b, seg, 256, 256, 64, 0) < 0)
        tap_bail("create");
    int ready[2];
    if (pipe(ready) < 0)
        tap_bail("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_sub *s = NULL;
        if (shmkit_bus_subscribe(&s, seg) < 0 || write(ready[1], "r", 1) != 1)
            _exit(2);
        pause();
        _exit(0);
    }
    char ch;
    close(ready[1]);
    if (read(ready[0], &ch, 1) != 1)
        tap_bail("subscriber did not start");
    close(ready[0]);
    int n = 0;
    while (shmkit_bus_send(b, "m", 1, 0) == 0)
        n++;
    is_int(n, 256, "a stalled subscriber holds the publisher after 256 messages");
    kill(pid, SIGKILL);
    int st;
    tu_wait(pid, 10000, &st);
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_bus_send(b, "m", 1, 10000000000), 0, "subscriber killed: publishing resumes");
    tap_diag("dead subscriber dropped after %.1f ms", (tu_now_ns() - t0) / 1e6);
    struct shmkit_chan_stats cs;
    shmkit_chan_stats(seg, &cs);
    ok(cs.takeovers == 1 && cs.readers == 0, "stats: one subscriber dropped, none left");
    shmkit_bus_close(b);
    return tap_done();
}
