/* t_join_ring.c - shmkit_ring_join: a named ring in every start order
 * (creator first; attacher first, waiting; six processes racing with
 * SHMKIT_CREATE - exactly one creates) over POSIX, FILE and System V, with
 * messages and end of stream after the join; geometry mismatch (each
 * field) gives SHMKIT_EGEOMETRY and changes nothing; a "bytes" segment is
 * waited for; timeouts (0: the underlying -ENOENT; expiry: -ETIMEDOUT,
 * nothing left); a signal ends the wait with -EINTR; a creator killed
 * inside its initialiser never lets anyone join a half-made ring (POSIX:
 * nothing named; System V and the O_EXCL fallback: openers time out, then
 * see SHMKIT_EPEERDEAD, gc removes it, a new join creates), and creators
 * killed at random moments of a 16 MiB ring's creation leave a whole ring
 * or none; a role-less parent sets a ring up for two children over
 * SHMKIT_ANON and over a name, and its close disturbs neither. */
#include "tu_case.h"
#include "tu_join.h"

#include <signal.h>
#include <sys/time.h>

#define MSGS 2000
#define RACERS 6

static struct tj_place place;

static void use_place(int kind, const char *tag)
{
    tj_use_place(&place, kind, tag, 1);
}

static struct shmkit_ring_config ring_cfg(unsigned role, int64_t timeout_ns)
{
    struct shmkit_ring_config c;
    memset(&c, 0, sizeof c);
    c.role = role;
    c.max_msg = 200;
    c.timeout_ns = timeout_ns;
    return c;
}

/* Sends MSGS sequence numbers from FIRST; 0 or the failing code. */
static int send_seq(shmkit_ring *r, uint64_t first, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t v = first + (uint64_t)i;
        int rc = shmkit_ring_send(r, &v, sizeof v, 10000000000);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Receives N messages in order from FIRST, then expects END (e.g.
 * SHMKIT_ECLOSED); 0 when all of it held. */
static int recv_seq(shmkit_ring *r, uint64_t first, int n, int end)
{
    for (int i = 0; i < n; i++) {
        uint64_t v = 0;
        int rc = shmkit_ring_recv(r, &v, sizeof v, 10000000000);
        if (rc != (int)sizeof v || v != first + (uint64_t)i) {
            fprintf(stderr, "recv %d: rc %s, value %llu\n", i, shmkit_errname(rc),
                    (unsigned long long)v);
            return -1;
        }
    }
    if (end) {
        uint64_t v;
        int rc = shmkit_ring_recv(r, &v, sizeof v, 10000000000);
        if (rc != end) {
            fprintf(stderr, "after the last: %s\n", shmkit_errname(rc));
            return -1;
        }
    }
    return 0;
}

/* A child: joins P with ROLE (CREATE in FLAGS or not, waiting up to 10 s),
 * then sends or receives MSGS; exit status TJ_CREATED / TJ_BAD. */
static void join_child(unsigned flags, unsigned role, struct tj_line *line)
{
    if (line)
        tj_line_wait(line);
    struct shmkit_opts w = tj_where(&place, flags);
    struct shmkit_ring_config cfg = ring_cfg(role, 10000000000);
    shmkit_ring *r = NULL;
    int rc = shmkit_ring_join(&r, &w, &cfg);
    if (rc < 0) {
        fprintf(stderr, "join: %s\n", shmkit_errname(rc));
        _exit(TJ_BAD);
    }
    int created = shmkit_seg_created(shmkit_ring_seg(r)) == 1;
    rc = role == SHMKIT_ROLE_PRODUCER ? send_seq(r, 1, MSGS)
                                      : recv_seq(r, 1, MSGS, SHMKIT_ECLOSED);
    if (rc < 0)
        fprintf(stderr, "%s: %s\n", role == SHMKIT_ROLE_PRODUCER ? "send" : "recv",
                shmkit_errname(rc));
    shmkit_ring_close(r);
    _exit((created ? TJ_CREATED : 0) | (rc < 0 ? TJ_BAD : 0));
}

static pid_t fork_join(unsigned flags, unsigned role, struct tj_line *line)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0)
        join_child(flags, role, line);
    return pid;
}

/* Every start order on one kind. */
static void orders(int kind)
{
    const char *k = tj_kind_name(kind);
    use_place(kind, "jr-order");
    int created, bad;
    pid_t pid[RACERS];

    /* creator first: the consumer creates, the producer attaches */
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_ring_config cfg = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_join(&r, &w, &cfg), 0, "%s: consumer joins first, with CREATE", k);
    is_int(shmkit_seg_created(shmkit_ring_seg(r)), 1, "%s: ... and created the ring", k);
    is_int(shmkit_ring_capacity(r), 512, "%s: max_msg 200 gives the smallest capacity, 512", k);
    pid[0] = fork_join(SHMKIT_CREATE, SHMKIT_ROLE_PRODUCER, NULL);
    is_rc(recv_seq(r, 1, MSGS, SHMKIT_ECLOSED), 0,
          "%s: %d messages in order, then end of stream", k, MSGS);
    tj_reap(pid, 1, &created, &bad);
    ok(created == 0 && bad == 0, "%s: the producer attached (did not create) and sent", k);
    shmkit_seg_remove(shmkit_ring_seg(r));
    is_rc(shmkit_ring_close(r), 0, "%s: close", k);
    ok(!tj_exists(&place), "%s: removed", k);

    /* attacher first: a consumer without CREATE waits for the producer */
    pid[0] = fork_join(0, SHMKIT_ROLE_CONSUMER, NULL);
    tj_sleep_ms(50);
    cfg = ring_cfg(SHMKIT_ROLE_PRODUCER, 0);
    is_rc(shmkit_ring_join(&r, &w, &cfg), 0, "%s: producer joins 50 ms after the consumer", k);
    is_int(shmkit_seg_created(shmkit_ring_seg(r)), 1, "%s: ... and created it", k);
    is_rc(send_seq(r, 1, MSGS), 0, "%s: sent %d", k, MSGS);
    shmkit_seg_remove(shmkit_ring_seg(r));
    shmkit_ring_close(r);
    tj_reap(pid, 1, &created, &bad);
    ok(created == 0 && bad == 0,
       "%s: the waiting consumer joined, got everything and the end of stream", k);

    /* both at once: one consumer, the rest producers of a MULTI ring, all
     * with CREATE from one start line */
    struct tj_line line;
    tj_line_init(&line);
    fflush(stdout);
    for (int i = 0; i < RACERS; i++) {
        if ((pid[i] = fork()) == 0) {
            tj_line_wait(&line);
            struct shmkit_opts cw = tj_where(&place, SHMKIT_CREATE);
            struct shmkit_ring_config cc =
                ring_cfg(i == 0 ? SHMKIT_ROLE_CONSUMER : SHMKIT_ROLE_PRODUCER, 0);
            cc.flags = SHMKIT_RING_MULTI;
            shmkit_ring *q = NULL;
            int rc = shmkit_ring_join(&q, &cw, &cc);
            if (rc < 0) {
                fprintf(stderr, "racer %d: join: %s\n", i, shmkit_errname(rc));
                _exit(TJ_BAD);
            }
            int mine = shmkit_seg_created(shmkit_ring_seg(q)) == 1 ? TJ_CREATED : 0;
            if (i == 0) {
                /* every producer's messages, counted per producer */
                uint64_t next[RACERS] = {0}, v;
                uint64_t end = tu_now_ns() + 20000000000ull;
                for (int n = 0; n < (RACERS - 1) * 500; n++) {
                    /* every producer that attached so far may have closed
                     * while another has not attached yet: end of stream
                     * until it does (not sticky) */
                    while ((rc = shmkit_ring_recv(q, &v, sizeof v, 1000000000)) == SHMKIT_ECLOSED &&
                           tu_now_ns() < end)
                        tj_sleep_ms(1);
                    unsigned who = (unsigned)(v >> 32);
                    if (rc != (int)sizeof v || who >= RACERS || (v & 0xffffffffu) != next[who]++) {
                        fprintf(stderr, "racer consumer: %s at %d\n", shmkit_errname(rc), n);
                        _exit(mine | TJ_BAD);
                    }
                }
            } else {
                for (uint64_t n = 0; n < 500; n++) {
                    uint64_t v = ((uint64_t)i << 32) | n;
                    if ((rc = shmkit_ring_send(q, &v, sizeof v, 10000000000)) < 0) {
                        fprintf(stderr, "racer %d: send: %s\n", i, shmkit_errname(rc));
                        _exit(mine | TJ_BAD);
                    }
                }
            }
            shmkit_ring_close(q);
            _exit(mine);
        }
    }
    tj_line_go(&line);
    tj_reap(pid, RACERS, &created, &bad);
    is_int(created, 1, "%s: %d racers with CREATE: exactly one created", k, RACERS);
    is_int(bad, 0, "%s: ... every one joined, all %d messages arrived in order", k,
           (RACERS - 1) * 500);
    tj_remove(&place);
}

static void orders_posix(void)
{
    orders(SHMKIT_POSIX);
}

static void orders_file(void)
{
    orders(SHMKIT_FILE);
}

static void orders_sysv(void)
{
    orders(SHMKIT_SYSV);
}

static void orders_fallback(void)
{
    setenv("SHMKIT_NO_TMPFILE", "1", 1);
    orders(SHMKIT_POSIX);
}

/* The ring's statistics: what a mismatched join must not change. */
static void stats_of(struct shmkit_chan_stats *st)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = tj_where(&place, 0);
    memset(st, 0, sizeof *st);
    if (shmkit_open(&s, &o) == 0)
        shmkit_chan_stats(s, st);
    shmkit_close(s);
}

static void geometry(void)
{
    use_place(SHMKIT_POSIX, "jr-geo");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_ring_config cfg = ring_cfg(SHMKIT_ROLE_NONE, 0);
    cfg.max_msg = 0;
    cfg.capacity = 4096;
    shmkit_ring *setup = NULL, *r = NULL;
    is_rc(shmkit_ring_join(&setup, &w, &cfg), 0, "role-less join creates a 4096-byte ring");
    is_int(shmkit_ring_max_msg(setup), 4096 / 2 - 16, "... max_msg capacity/2 - 16");
    struct shmkit_chan_stats before, after;
    stats_of(&before);

    struct {
        uint64_t capacity, max_msg;
        unsigned flags;
        const char *what;
    } bad[] = {
        {8192, 0, 0, "capacity 8192 against 4096"},
        {2048, 0, 0, "capacity 2048 against 4096"},
        {0, 4096, 0, "max_msg 4096 against 2032"},
        {0, 0, SHMKIT_RING_MULTI, "MULTI against a single-producer ring"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int create = 0; create < 2; create++) {
            struct shmkit_opts a = tj_where(&place, create ? SHMKIT_CREATE : 0);
            struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
            c.capacity = bad[i].capacity;
            c.max_msg = bad[i].max_msg;
            c.flags = bad[i].flags;
            if (create && !c.capacity && !c.max_msg)
                c.max_msg = 100;
            is_rc(shmkit_ring_join(&r, &a, &c), SHMKIT_EGEOMETRY, "%s%s: SHMKIT_EGEOMETRY",
                  bad[i].what, create ? " (with CREATE)" : "");
            ok(r == NULL, "... no handle");
        }
    }
    stats_of(&after);
    ok(after.capacity == before.capacity && after.readers == 0 && after.writers == 0 &&
           after.reader_pid == 0,
       "nothing changed: same capacity, no consumer or producer attached");
    is_int(shmkit_seg_created(shmkit_ring_seg(setup)), 1, "the set-up handle created it");

    /* matching fields, or none at all, attach */
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
    c.max_msg = 2032;
    c.capacity = 4096;
    is_rc(shmkit_ring_join(&r, &a, &c), 0, "max_msg 2032 and capacity 4096: attached");
    is_int(shmkit_seg_created(shmkit_ring_seg(r)), 0, "... not created");
    shmkit_ring *p = NULL;
    c = ring_cfg(SHMKIT_ROLE_PRODUCER, 0);
    c.max_msg = 0;
    is_rc(shmkit_ring_join(&p, &a, &c), 0, "no geometry at all: attached");
    uint64_t v = 42, got = 0;
    is_rc(shmkit_ring_send(p, &v, sizeof v, 0), 0, "the producer sends");
    is_int(shmkit_ring_recv(r, &got, sizeof got, 0), sizeof got, "the consumer receives");
    is_int(got, 42, "... the value sent");
    shmkit_ring *p2 = p;
    is_rc(shmkit_ring_join(&p2, &a, &c), -EBUSY, "a second producer: -EBUSY as attach says");
    ok(p2 == NULL, "... *r is NULL on failure");
    shmkit_ring_close(p);
    shmkit_ring_close(r);
    shmkit_ring_close(setup);

    /* another layout: SHMKIT_ELAYOUT at once, even with a timeout */
    shmkit_seg *seg = NULL;
    shmkit_bus *b = NULL;
    tj_remove(&place);
    struct shmkit_opts o = tj_where(&place, SHMKIT_CREATE);
    o.size = shmkit_bus_size_for(4, 8, 1);
    ok(shmkit_open(&seg, &o) == 0 && shmkit_bus_create(&b, seg, 4, 8, 1, 0) == 0,
       "a bus under the name");
    c = ring_cfg(SHMKIT_ROLE_CONSUMER, 5000000000);
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_join(&r, &a, &c), SHMKIT_ELAYOUT, "joining it as a ring: SHMKIT_ELAYOUT");
    ok(tu_now_ns() - t0 < 2000000000ull, "... at once, not after the timeout");
    shmkit_bus_close(b);
    shmkit_seg_remove(seg);
    shmkit_close(seg);
}

/* A segment still "bytes" (the old two-step creation) is waited for. */
static void two_step(void)
{
    use_place(SHMKIT_POSIX, "jr-two");
    shmkit_seg *seg = NULL;
    shmkit_ring *r = NULL;
    struct shmkit_opts o = tj_where(&place, SHMKIT_CREATE);
    o.size = shmkit_ring_size_for(1024);
    is_rc(shmkit_open(&seg, &o), 0, "a plain segment under the name (layout bytes)");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
    is_rc(shmkit_ring_join(&r, &a, &c), SHMKIT_ELAYOUT, "timeout 0: SHMKIT_ELAYOUT (try once)");
    c.timeout_ns = 100000000;
    is_rc(shmkit_ring_join(&r, &a, &c), -ETIMEDOUT, "100 ms, still bytes: -ETIMEDOUT");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_ring *p = NULL;
        tj_sleep_ms(100);
        int rc = shmkit_ring_create(&p, seg, 1024, 0); /* role-less: tells nobody anything */
        shmkit_ring_close(p);
        _exit(rc < 0 ? 1 : 0);
    }
    c.timeout_ns = 10000000000;
    is_rc(shmkit_ring_join(&r, &a, &c), 0, "the creator writes the ring 100 ms later: joined");
    is_int(tu_wait_exit(pid), 0, "... (role-less shmkit_ring_create)");
    is_int(shmkit_ring_capacity(r), 1024, "... the ring it wrote");
    uint64_t v;
    is_rc(shmkit_ring_recv(r, &v, sizeof v, 0), -EAGAIN,
          "the role-less creator's close is no end of stream: -EAGAIN");
    shmkit_ring_close(r);
    shmkit_seg_remove(seg);
    shmkit_close(seg);
}

static volatile sig_atomic_t alarms;

static void on_alarm(int sig)
{
    (void)sig;
    alarms++;
}

static void timeouts(void)
{
    use_place(SHMKIT_POSIX, "jr-time");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_join(&r, &a, &c), -ENOENT, "attach only, timeout 0, no ring: -ENOENT");
    c.timeout_ns = 200000000;
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_join(&r, &a, &c), -ETIMEDOUT, "timeout 200 ms: -ETIMEDOUT");
    uint64_t took = tu_now_ns() - t0;
    ok(took >= 200000000ull && took < 5000000000ull, "... after the timeout, not long after (%.0f ms)",
       (double)took / 1e6);
    ok(!tj_exists(&place) && r == NULL, "... nothing left, no handle");

    /* a signal handler (SA_RESTART or not) ends the wait with -EINTR */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    /* every 100 ms: one that lands outside the sleep is not seen (SIGNALS) */
    struct itimerval it = {{0, 100000}, {0, 100000}};
    setitimer(ITIMER_REAL, &it, NULL);
    c.timeout_ns = -1;
    is_rc(shmkit_ring_join(&r, &a, &c), -EINTR, "no limit, SIGALRM (SA_RESTART): -EINTR");
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    ok(alarms >= 1, "... the handler ran");
    ok(!tj_exists(&place), "... nothing left");

    struct shmkit_opts e = tj_where(&place, SHMKIT_CREATE | SHMKIT_EXCL);
    c = ring_cfg(SHMKIT_ROLE_NONE, 0);
    shmkit_ring *s = NULL;
    is_rc(shmkit_ring_join(&s, &e, &c), 0, "CREATE | EXCL: created");
    is_rc(shmkit_ring_join(&r, &e, &c), -EEXIST, "again: -EEXIST");
    shmkit_seg_remove(shmkit_ring_seg(s));
    shmkit_ring_close(s);
}

/* A creator killed inside its initialiser: openers never get a half-made
 * ring. KIND and FALLBACK: where the segment is named before it is
 * initialised (System V, the O_EXCL fallback) or not. */
static void killed_creator(int kind, int fallback)
{
    const char *k = fallback ? "POSIX fallback" : tj_kind_name(kind);
    char args[PATH_MAX + 32];
    if (fallback)
        setenv("SHMKIT_NO_TMPFILE", "1", 1);
    use_place(kind, "jr-kill");
    pid_t pid = tj_stuck_creator(&place, shmkit_ring_size_for(1024));
    int named = kind == SHMKIT_SYSV || fallback;
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 300000000);
    shmkit_ring *r = NULL;
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_ring_join(&r, &a, &c), -ETIMEDOUT,
          "%s: joiners time out while the creator initialises", k);
    ok(tu_now_ns() - t0 >= 300000000ull && r == NULL, "%s: ... after their timeout, no handle", k);
    ok(tj_exists(&place) == named, "%s: %s", k,
       named ? "the segment is named, marked initialising" : "nothing is named meanwhile");
    struct shmkit_opts cw = tj_where(&place, SHMKIT_CREATE);
    cw.init_wait_ms = 100;
    c.timeout_ns = 0;
    if (named)
        is_rc(shmkit_ring_join(&r, &cw, &c), -ETIMEDOUT,
              "%s: a join with CREATE waits init_wait_ms, then -ETIMEDOUT", k);
    kill(pid, SIGKILL);
    is_int(tu_wait_exit(pid), 128 + SIGKILL, "%s: creator killed inside its initialiser", k);
    if (named) {
        c.timeout_ns = 2000000000;
        is_rc(shmkit_ring_join(&r, &a, &c), SHMKIT_EPEERDEAD,
              "%s: a joiner then sees the creator died in its initialiser", k);
        is_int(tj_gc(tj_gc_args(&place, args, sizeof args)), 0, "%s: shmkit gc exits 0", k);
        ok(!tj_exists(&place), "%s: ... and removed the half-made segment", k);
    } else {
        ok(!tj_exists(&place), "%s: nothing left named", k);
    }
    c.timeout_ns = 0;
    is_rc(shmkit_ring_join(&r, &cw, &c), 0, "%s: a new join creates it whole", k);
    is_int(shmkit_seg_created(shmkit_ring_seg(r)), 1, "%s: ... created by that join", k);
    shmkit_seg_remove(shmkit_ring_seg(r));
    shmkit_ring_close(r);
}

static void killed_posix(void)
{
    killed_creator(SHMKIT_POSIX, 0);
}

static void killed_sysv(void)
{
    killed_creator(SHMKIT_SYSV, 0);
}

static void killed_fallback(void)
{
    killed_creator(SHMKIT_POSIX, 1);
}

/* Creators SIGKILLed at a random moment (0-29 ms) while they join a 16 MiB
 * ring with CREATE (reserving its memory takes a few ms): a joiner then
 * gets a whole ring or none - nothing named, a segment whose creator died
 * in its initialiser, or (System V killed between shmget and the header)
 * one with no header - never a half-made ring. */
static void killed_anywhere(int kind)
{
    const char *k = tj_kind_name(kind);
    int rounds = TAP_UNDER_ASAN ? 6 : 16, whole = 0, none = 0, dead = 0, bad = 0;
    use_place(kind, "jr-any");
    srand((unsigned)getpid());
    for (int i = 0; i < rounds; i++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
            struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_PRODUCER, 0);
            c.max_msg = 0;
            c.capacity = 16u << 20;
            shmkit_ring *r = NULL;
            _exit(shmkit_ring_join(&r, &w, &c) < 0);
        }
        tj_sleep_ms(rand() % 30);
        kill(pid, SIGKILL);
        tu_wait_exit(pid);
        struct shmkit_opts a = tj_where(&place, 0);
        struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_CONSUMER, 100000000);
        c.max_msg = 0;
        shmkit_ring *r = NULL;
        int rc = shmkit_ring_join(&r, &a, &c);
        if (rc == 0 && shmkit_ring_capacity(r) == 16u << 20)
            whole++;
        else if (rc == -ETIMEDOUT || rc == -ENOENT)
            none++;
        else if (rc == SHMKIT_EPEERDEAD || rc == SHMKIT_ENOTSHMKIT)
            dead++;
        else {
            bad++;
            tap_diag("%s round %d: %s", k, i, shmkit_errname(rc));
        }
        shmkit_ring_close(r);
        tj_remove(&place);
    }
    tap_diag("%s: %d whole rings, %d nothing named, %d left by a dead creator", k, whole, none,
             dead);
    is_int(bad, 0, "%s: %d creators killed at random: a joiner never got a half-made ring", k,
           rounds);
}

static void killed_anywhere_posix(void)
{
    killed_anywhere(SHMKIT_POSIX);
}

static void killed_anywhere_sysv(void)
{
    killed_anywhere(SHMKIT_SYSV);
}

/* The children of a role-less parent: CHILD_OF says how a child gets the
 * ring (the parent's segment over ANON, or a join by name). */
static void parent_sets_up(int anon)
{
    const char *k = anon ? "ANON" : "POSIX";
    struct shmkit_opts w;
    if (anon) {
        memset(&w, 0, sizeof w);
        w.kind = SHMKIT_ANON;
        w.flags = SHMKIT_CREATE;
    } else {
        use_place(SHMKIT_POSIX, "jr-parent");
        w = tj_where(&place, SHMKIT_CREATE);
    }
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_NONE, 0);
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_join(&r, &w, &c), 0, "%s: the parent sets a ring up, no role", k);
    uint64_t v = 1;
    is_rc(shmkit_ring_send(r, &v, sizeof v, 0), -EINVAL, "%s: ... its handle cannot send", k);
    is_rc(shmkit_ring_recv(r, &v, sizeof v, 0), -EINVAL, "%s: ... nor receive", k);

    int ready[2], closed[2], go[2];
    if (pipe(ready) < 0 || pipe(closed) < 0 || pipe(go) < 0)
        tap_bail("pipe");
    fflush(stdout);
    pid_t cons = fork();
    if (cons == 0) {
        shmkit_ring *q = NULL;
        struct shmkit_opts a = tj_where(&place, 0);
        struct shmkit_ring_config cc = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
        int rc = anon ? shmkit_ring_attach(&q, shmkit_ring_seg(r), SHMKIT_RING_CONSUMER)
                      : shmkit_ring_join(&q, &a, &cc);
        if (rc < 0)
            _exit(10);
        (void)!write(ready[1], "r", 1);
        char ch;
        (void)!read(closed[0], &ch, 1); /* the parent closed its handle */
        uint64_t x;
        rc = shmkit_ring_recv(q, &x, sizeof x, 0);
        if (rc != -EAGAIN) {
            fprintf(stderr, "after the parent's close: %s\n", shmkit_errname(rc));
            _exit(11);
        }
        (void)!write(go[1], "g", 1); /* the producer may start */
        rc = recv_seq(q, 1, MSGS, SHMKIT_ECLOSED);
        shmkit_ring_close(q);
        _exit(rc < 0 ? 12 : 0);
    }
    pid_t prod = fork();
    if (prod == 0) {
        shmkit_ring *q = NULL;
        char ch;
        (void)!read(go[0], &ch, 1);
        struct shmkit_opts a = tj_where(&place, 0);
        struct shmkit_ring_config cc = ring_cfg(SHMKIT_ROLE_PRODUCER, 0);
        int rc = anon ? shmkit_ring_attach(&q, shmkit_ring_seg(r), SHMKIT_RING_PRODUCER)
                      : shmkit_ring_join(&q, &a, &cc);
        if (rc < 0)
            _exit(20);
        rc = send_seq(q, 1, MSGS);
        shmkit_ring_close(q);
        _exit(rc < 0 ? 21 : 0);
    }
    ok(tu_ready(ready[0], 10000), "%s: the consumer child attached", k);
    is_rc(shmkit_ring_close(r), 0, "%s: the parent closes its role-less handle", k);
    (void)!write(closed[1], "c", 1);
    is_int(tu_wait_exit(cons), 0,
           "%s: the consumer: no ECLOSED/EPEERDEAD from the parent's close, then %d messages "
           "and the producer's end of stream",
           k, MSGS);
    is_int(tu_wait_exit(prod), 0, "%s: the producer sent them", k);
    if (!anon)
        tj_remove(&place);
}

static void parent_anon(void)
{
    parent_sets_up(1);
}

static void parent_named(void)
{
    parent_sets_up(0);
}

static void args(void)
{
    use_place(SHMKIT_POSIX, "jr-args");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_ring_config c = ring_cfg(SHMKIT_ROLE_PRODUCER, 0);
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_join(NULL, &w, &c), -EINVAL, "R NULL");
    is_rc(shmkit_ring_join(&r, NULL, &c), -EINVAL, "WHERE NULL");
    is_rc(shmkit_ring_join(&r, &w, NULL), -EINVAL, "CFG NULL");
    struct shmkit_opts bad = w;
    bad.size = 4096;
    is_rc(shmkit_ring_join(&r, &bad, &c), -EINVAL, "where->size set");
    bad = w;
    bad.layout = SHMKIT_LAYOUT_RING;
    is_rc(shmkit_ring_join(&r, &bad, &c), -EINVAL, "where->layout set");
    bad = w;
    bad.flags |= SHMKIT_RAW;
    is_rc(shmkit_ring_join(&r, &bad, &c), -EINVAL, "RAW");
    struct shmkit_ring_config b = c;
    b.role = SHMKIT_ROLE_PUBLISHER;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "a bus role");
    b = c;
    b.reserved[3] = 1;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "reserved non-zero");
    b = c;
    b.role = SHMKIT_ROLE_NONE;
    b.flags = SHMKIT_RING_TAKEOVER;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "TAKEOVER without a role");
    b = c;
    b.max_msg = 0;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "create with neither max_msg nor capacity");
    b.capacity = 3000;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "capacity not a power of two");
    b.capacity = 256;
    b.max_msg = 200;
    is_rc(shmkit_ring_join(&r, &w, &b), -EINVAL, "capacity 256 cannot hold max_msg 200");
    b.capacity = 0;
    b.max_msg = (uint64_t)SHMKIT_RING_MSG_LIMIT + 1;
    is_rc(shmkit_ring_join(&r, &w, &b), SHMKIT_ETOOBIG, "max_msg above SHMKIT_RING_MSG_LIMIT");
    ok(!tj_exists(&place), "nothing made by any of them");
    b.max_msg = 1000;
    is_rc(shmkit_ring_join(&r, &w, &b), 0, "max_msg 1000");
    is_int(shmkit_ring_capacity(r), 2048, "... capacity 2048 (1024 holds 496)");
    is_int(shmkit_ring_max_msg(r), 1008, "... max_msg 1008");
    ok(shmkit_ring_seg(r) != NULL && shmkit_ring_seg(NULL) == NULL, "shmkit_ring_seg");
    is_rc(shmkit_ring_close(r), 0, "close");
    ok(tj_exists(&place), "... closes, does not remove");
    struct shmkit_opts ro = tj_where(&place, SHMKIT_RDONLY);
    b = ring_cfg(SHMKIT_ROLE_CONSUMER, 0);
    is_rc(shmkit_ring_join(&r, &ro, &b), -EBADF, "a read-only mapping: -EBADF as attach");
    tj_remove(&place);
}

static const struct tu_case cases[] = {
    {"orders_posix", orders_posix, 0},
    {"orders_file", orders_file, 0},
    {"orders_sysv", orders_sysv, 0},
    {"orders_fallback", orders_fallback, 0},
    {"geometry", geometry, 0},
    {"two_step", two_step, 0},
    {"timeouts", timeouts, 0},
    {"killed_posix", killed_posix, 0},
    {"killed_sysv", killed_sysv, 0},
    {"killed_fallback", killed_fallback, 0},
    {"killed_anywhere_posix", killed_anywhere_posix, 0},
    {"killed_anywhere_sysv", killed_anywhere_sysv, 0},
    {"parent_anon", parent_anon, 0},
    {"parent_named", parent_named, 0},
    {"args", args, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
