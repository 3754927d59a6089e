/* t_join_bus.c - shmkit_bus_join and shmkit_sub_join: a named bus in every
 * start order (publisher first; subscriber first, waiting; a publisher and
 * five subscribers racing with SHMKIT_CREATE - exactly one creates) over
 * POSIX, FILE and System V, messages and end of stream after the join;
 * geometry mismatch (slots, msg_max, max_subs, LOSSY) gives
 * SHMKIT_EGEOMETRY and changes nothing; timeouts; a role-less publisher
 * handle publishes nothing and its close is no end of stream; arguments. */
#include "tu_case.h"
#include "tu_join.h"

#define MSGS 1000
#define SUBS 5

static struct tj_place place;

static void use_place(int kind, const char *tag)
{
    tj_use_place(&place, kind, tag, 2);
}

static struct shmkit_bus_config bus_cfg(unsigned role, int64_t timeout_ns)
{
    struct shmkit_bus_config c;
    memset(&c, 0, sizeof c);
    c.role = role;
    c.slots = 16;
    c.msg_max = 64;
    c.max_subs = 8;
    c.timeout_ns = timeout_ns;
    return c;
}

/* Receives N messages 1..N in order, then SHMKIT_ECLOSED; 0 if all held. */
static int recv_all(shmkit_sub *s, int n)
{
    for (int i = 1; i <= n; i++) {
        uint64_t v = 0, lost = 0;
        int rc = shmkit_bus_recv(s, &v, sizeof v, NULL, &lost, 10000000000);
        if (rc != (int)sizeof v || v != (uint64_t)i || lost) {
            fprintf(stderr, "recv %d: %s, value %llu\n", i, shmkit_errname(rc),
                    (unsigned long long)v);
            return -1;
        }
    }
    uint64_t v;
    int rc = shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 10000000000);
    if (rc != SHMKIT_ECLOSED) {
        fprintf(stderr, "after the last: %s\n", shmkit_errname(rc));
        return -1;
    }
    return 0;
}

static int send_all(shmkit_bus *b, int n)
{
    for (uint64_t v = 1; v <= (uint64_t)n; v++) {
        int rc = shmkit_bus_send(b, &v, sizeof v, 10000000000);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* A subscriber child: joins (FLAGS), says so on READY, receives
 * everything; exit TJ_CREATED / TJ_BAD. */
static void sub_child(unsigned flags, struct tj_line *line, int ready)
{
    if (line)
        tj_line_wait(line);
    struct shmkit_opts w = tj_where(&place, flags);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_SUBSCRIBER, 10000000000);
    shmkit_sub *s = NULL;
    int rc = shmkit_sub_join(&s, &w, &c);
    if (rc < 0) {
        fprintf(stderr, "sub join: %s\n", shmkit_errname(rc));
        _exit(TJ_BAD);
    }
    if (ready >= 0)
        (void)!write(ready, "r", 1);
    int mine = shmkit_seg_created(shmkit_sub_seg(s)) == 1 ? TJ_CREATED : 0;
    rc = recv_all(s, MSGS);
    shmkit_bus_unsubscribe(s);
    _exit(mine | (rc < 0 ? TJ_BAD : 0));
}

static pid_t fork_sub(unsigned flags, struct tj_line *line, int ready)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0)
        sub_child(flags, line, ready);
    return pid;
}

static void orders(int kind)
{
    const char *k = tj_kind_name(kind);
    use_place(kind, "jb-order");
    int created, bad, rd[2];
    pid_t pid[SUBS + 1];
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_PUBLISHER, 0);
    shmkit_bus *b = NULL;

    /* publisher first */
    is_rc(shmkit_bus_join(&b, &w, &c), 0, "%s: the publisher joins first, with CREATE", k);
    is_int(shmkit_seg_created(shmkit_bus_seg(b)), 1, "%s: ... and created the bus", k);
    is_int(shmkit_bus_msg_max(b), 64, "%s: ... msg_max 64", k);
    pid[0] = fork_sub(SHMKIT_CREATE, NULL, -1);
    is_rc(shmkit_bus_wait_subscribers(b, 1, 10000000000), 0, "%s: the subscriber joined", k);
    is_rc(send_all(b, MSGS), 0, "%s: %d published", k, MSGS);
    shmkit_seg_remove(shmkit_bus_seg(b));
    is_rc(shmkit_bus_close(b), 0, "%s: publisher closes", k);
    tj_reap(pid, 1, &created, &bad);
    ok(created == 0 && bad == 0,
       "%s: the subscriber attached, got every message, then end of stream", k);

    /* subscriber first, without CREATE, waiting */
    if (pipe(rd) < 0)
        tap_bail("pipe");
    pid[0] = fork_sub(0, NULL, rd[1]);
    close(rd[1]);
    tj_sleep_ms(50);
    is_rc(shmkit_bus_join(&b, &w, &c), 0, "%s: the publisher joins 50 ms later", k);
    is_int(shmkit_seg_created(shmkit_bus_seg(b)), 1, "%s: ... and created it", k);
    ok(tu_ready(rd[0], 10000), "%s: the waiting subscriber joined", k);
    is_rc(shmkit_bus_wait_subscribers(b, 1, 10000000000), 0, "%s: ... as a member", k);
    is_rc(send_all(b, MSGS), 0, "%s: %d published", k, MSGS);
    shmkit_seg_remove(shmkit_bus_seg(b));
    shmkit_bus_close(b);
    tj_reap(pid, 1, &created, &bad);
    ok(created == 0 && bad == 0, "%s: ... it got every message, then end of stream", k);

    /* a publisher and SUBS subscribers at once, all with CREATE */
    struct tj_line line;
    tj_line_init(&line);
    for (int i = 0; i < SUBS; i++)
        pid[i] = fork_sub(SHMKIT_CREATE, &line, -1);
    fflush(stdout);
    if ((pid[SUBS] = fork()) == 0) {
        tj_line_wait(&line);
        shmkit_bus *p = NULL;
        int rc = shmkit_bus_join(&p, &w, &c);
        if (rc < 0) {
            fprintf(stderr, "publisher join: %s\n", shmkit_errname(rc));
            _exit(TJ_BAD);
        }
        int mine = shmkit_seg_created(shmkit_bus_seg(p)) == 1 ? TJ_CREATED : 0;
        if ((rc = shmkit_bus_wait_subscribers(p, SUBS, 10000000000)) == 0)
            rc = send_all(p, MSGS);
        if (rc < 0)
            fprintf(stderr, "publisher: %s\n", shmkit_errname(rc));
        shmkit_bus_close(p);
        _exit(mine | (rc < 0 ? TJ_BAD : 0));
    }
    tj_line_go(&line);
    tj_reap(pid, SUBS + 1, &created, &bad);
    is_int(created, 1, "%s: %d racers with CREATE: exactly one created", k, SUBS + 1);
    is_int(bad, 0, "%s: ... each subscriber got all %d messages and the end of stream", k, MSGS);
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

static void geometry(void)
{
    use_place(SHMKIT_POSIX, "jb-geo");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_NONE, 0);
    shmkit_bus *setup = NULL, *b = NULL;
    shmkit_sub *s = NULL;
    is_rc(shmkit_bus_join(&setup, &w, &c), 0, "role-less: a bus of 16 slots of 64 bytes, 8 subs");
    struct {
        uint64_t slots, msg_max;
        uint32_t max_subs;
        unsigned flags;
        const char *what;
    } bad[] = {
        {32, 0, 0, 0, "slots 32 against 16"},
        {0, 65, 0, 0, "msg_max 65 against 64"},
        {0, 0, 4, 0, "max_subs 4 against 8"},
        {0, 0, 0, SHMKIT_BUS_LOSSY, "LOSSY against back-pressure"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int create = 0; create < 2; create++) {
            struct shmkit_opts a = tj_where(&place, create ? SHMKIT_CREATE : 0);
            struct shmkit_bus_config g = bus_cfg(SHMKIT_ROLE_PUBLISHER, 0);
            g.slots = bad[i].slots;
            g.msg_max = bad[i].msg_max ? bad[i].msg_max : create ? 8 : 0;
            g.max_subs = bad[i].max_subs;
            g.flags = bad[i].flags;
            is_rc(shmkit_bus_join(&b, &a, &g), SHMKIT_EGEOMETRY, "publisher, %s%s", bad[i].what,
                  create ? " (CREATE)" : "");
            g.role = SHMKIT_ROLE_SUBSCRIBER;
            is_rc(shmkit_sub_join(&s, &a, &g), SHMKIT_EGEOMETRY, "subscriber, %s%s", bad[i].what,
                  create ? " (CREATE)" : "");
        }
    }
    struct shmkit_chan_stats st;
    is_rc(shmkit_chan_stats(shmkit_bus_seg(setup), &st), 0, "stats");
    ok(st.readers == 0 && st.writer_pid == 0 && st.capacity == 16 && st.msg_max == 64,
       "nothing changed: no subscriber, no publisher, same geometry");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_bus_config g = bus_cfg(SHMKIT_ROLE_SUBSCRIBER, 0);
    g.msg_max = 32;
    is_rc(shmkit_sub_join(&s, &a, &g), 0, "msg_max 32 <= 64 and the rest equal: subscribed");
    g = bus_cfg(SHMKIT_ROLE_PUBLISHER, 0);
    memset(&g, 0, sizeof g);
    g.role = SHMKIT_ROLE_PUBLISHER;
    is_rc(shmkit_bus_join(&b, &a, &g), 0, "no geometry: the publisher attaches");
    shmkit_bus *b2 = b;
    is_rc(shmkit_bus_join(&b2, &a, &g), -EBUSY, "a second publisher: -EBUSY");
    ok(b2 == NULL, "... *b is NULL on failure");
    uint64_t v = 7, got = 0;
    is_rc(shmkit_bus_send(b, &v, sizeof v, 0), 0, "published");
    is_int(shmkit_bus_recv(s, &got, sizeof got, NULL, NULL, 0), sizeof got, "received");
    is_int(got, 7, "... the value");
    shmkit_bus_close(b);
    is_rc(shmkit_bus_recv(s, &got, sizeof got, NULL, NULL, 0), SHMKIT_ECLOSED,
          "the publisher's close: end of stream");
    shmkit_bus_unsubscribe(s);
    shmkit_seg_remove(shmkit_bus_seg(setup));
    shmkit_bus_close(setup);
}

static void role_none(void)
{
    use_place(SHMKIT_POSIX, "jb-none");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_NONE, 0);
    shmkit_bus *setup = NULL, *b = NULL;
    shmkit_sub *s = NULL;
    is_rc(shmkit_bus_join(&setup, &w, &c), 0, "role-less bus join creates");
    void *p;
    is_rc(shmkit_bus_loan(setup, 8, &p, 0), -EINVAL, "... its handle cannot loan");
    is_rc(shmkit_bus_send(setup, "12345678", 8, 0), -EINVAL, "... nor send");
    is_rc(shmkit_sub_join(&s, &w, &c), 0, "shmkit_sub_join, role NONE: subscribes all the same");
    is_rc(shmkit_bus_wait_subscribers(setup, 1, 0), 0,
          "the role-less handle sees it joined (wait_subscribers)");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_bus_config pc = bus_cfg(SHMKIT_ROLE_PUBLISHER, 0);
    is_rc(shmkit_bus_join(&b, &a, &pc), 0, "a publisher joins beside the role-less handle");
    is_rc(shmkit_bus_close(setup), 0, "the role-less handle closes");
    uint64_t v;
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), -EAGAIN,
          "... no end of stream for the subscriber: -EAGAIN");
    v = 9;
    is_rc(shmkit_bus_send(b, &v, sizeof v, 0), 0, "the publisher sends");
    is_int(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), sizeof v, "... received");
    shmkit_seg_remove(shmkit_bus_seg(b));
    shmkit_bus_close(b);
    is_rc(shmkit_bus_recv(s, &v, sizeof v, NULL, NULL, 0), SHMKIT_ECLOSED,
          "the publisher's close: end of stream");
    is_rc(shmkit_bus_unsubscribe(s), 0, "unsubscribe closes the joined segment too");
}

static void timeouts(void)
{
    use_place(SHMKIT_SYSV, "jb-time");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_SUBSCRIBER, 0);
    shmkit_sub *s = NULL;
    is_rc(shmkit_sub_join(&s, &a, &c), -ENOENT, "SYSV, attach only, timeout 0: -ENOENT");
    c.timeout_ns = 150000000;
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_sub_join(&s, &a, &c), -ETIMEDOUT, "timeout 150 ms: -ETIMEDOUT");
    uint64_t took = tu_now_ns() - t0;
    ok(took >= 150000000ull && took < 5000000000ull, "... after the timeout (%.0f ms)",
       (double)took / 1e6);
    ok(!tj_exists(&place) && s == NULL, "... nothing left, no handle");
}

static void args(void)
{
    use_place(SHMKIT_POSIX, "jb-args");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_bus_config c = bus_cfg(SHMKIT_ROLE_PUBLISHER, 0), g;
    shmkit_bus *b = NULL;
    shmkit_sub *s = NULL;
    is_rc(shmkit_bus_join(NULL, &w, &c), -EINVAL, "B NULL");
    is_rc(shmkit_sub_join(NULL, &w, &c), -EINVAL, "S NULL");
    is_rc(shmkit_bus_join(&b, NULL, &c), -EINVAL, "WHERE NULL");
    is_rc(shmkit_bus_join(&b, &w, NULL), -EINVAL, "CFG NULL");
    is_rc(shmkit_sub_join(&s, &w, &c), -EINVAL, "sub_join with the publisher's role");
    g = c;
    g.role = SHMKIT_ROLE_SUBSCRIBER;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "bus_join with the subscriber's role");
    g = c;
    g.pad0_ = 1;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "pad0_ non-zero");
    g = c;
    g.reserved[0] = 1;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "reserved non-zero");
    g = c;
    g.flags = 2;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "unknown flag");
    g = c;
    g.msg_max = 0;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "create without msg_max");
    g = c;
    g.slots = 12;
    is_rc(shmkit_bus_join(&b, &w, &g), -EINVAL, "slots not a power of two");
    struct shmkit_opts bad = w;
    bad.size = 100;
    is_rc(shmkit_bus_join(&b, &bad, &c), -EINVAL, "where->size set");
    ok(!tj_exists(&place), "nothing made by any of them");
    g = c;
    g.slots = 0;
    g.max_subs = 0;
    is_rc(shmkit_bus_join(&b, &w, &g), 0, "slots and max_subs 0: the defaults");
    struct shmkit_chan_stats st;
    ok(shmkit_chan_stats(shmkit_bus_seg(b), &st) == 0 && st.capacity == 256 &&
           st.max_readers == 64,
       "... 256 slots, 64 subscribers");
    ok(shmkit_bus_seg(NULL) == NULL && shmkit_sub_seg(NULL) == NULL, "*_seg(NULL) is NULL");
    is_rc(shmkit_bus_close(b), 0, "close");
    ok(tj_exists(&place), "... does not remove");
    tj_remove(&place);
}

static const struct tu_case cases[] = {
    {"orders_posix", orders_posix, 0},
    {"orders_file", orders_file, 0},
    {"orders_sysv", orders_sysv, 0},
    {"geometry", geometry, 0},
    {"role_none", role_none, 0},
    {"timeouts", timeouts, 0},
    {"args", args, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
