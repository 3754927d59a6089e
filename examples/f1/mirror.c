/* mirror.c - `f1 --mirror=BUS`: a fed weekend (feed.c) rebuilt in tables of this host, so
 * that the unchanged board (`f1 --attach=NAME`) shows it on a host that has none of the
 * weekend's segments - the far side of `shmkit bridge`.
 *
 * The mirror is the one writer of its three tables (race control record, cars, events), as
 * race control and the cars are on the weekend's host. It makes them when the first race
 * control record arrives (it gives the number of cars), and removes them when the feed ends:
 * END, the bus's end of stream (its publisher closed), --idle seconds without a message, or
 * SIGINT/SIGTERM. A board attached to it then sees the weekend over (or stopped).
 *
 * Every message came over the network: it is checked whole before anything is written - the
 * header (magic, version, type, a length that is exactly the record's size), every index
 * against the tables' geometry, and every field the board uses as an index or in arithmetic
 * (laps, sectors, causes, kinds, times, the clock) against its range. A message that fails is
 * dropped and counted by reason; the counts are printed at the end.
 *
 * A car whose process died on the weekend's host (F1_FEED_DEAD) must look dead here too, and
 * the board learns that from the record's owner: the mirror hands the record to a stand-in
 * process that claims it and exits without releasing it, as the car did. */
#include "f1.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_TIME_MS 10000000000LL   /* ~115 days: any real session time is below it   */
#define MAX_CLOCK_NS (1LL << 62)    /* CLOCK_MONOTONIC stays below it for centuries    */
#define MAX_START_SKEW_NS (86400LL * 1000000000) /* a running session started < 1 day ago */

enum bad { BAD_SHORT, BAD_MAGIC, BAD_VERSION, BAD_LENGTH, BAD_TYPE, BAD_RANGE, BAD_GEOMETRY,
           BAD_KINDS };
#define APPLIED BAD_KINDS     /* apply(): written (or a harmless repeat)              */
#define EARLY (BAD_KINDS + 1) /* apply(): before the first race control record         */
static const char *const bad_name[BAD_KINDS] = {"short", "magic", "version", "length",
                                                 "type", "range", "geometry"};

struct mirror {
    const struct f1_mirror_cfg *cfg;
    char name[96], cars_name[112];
    shmkit_table *ctl, *cars;
    struct f1_events *ev;
    int ncars;
    struct f1_ctl mc;                   /* the race control record as the tables hold it */
    int64_t have;                       /* events held in order: mc.events               */
    int64_t slot_seq[F1_EV_SLOTS];      /* which event each ticker record holds          */
    int handed[F1_MAX_CARS];            /* record handed to a stand-in that died         */
    struct f1_car prev[F1_MAX_CARS];    /* for the results' view                         */
    int seen_dead[F1_MAX_CARS], written_session;
    uint64_t msgs, bytes, applied, early, toolong, bad[BAD_KINDS];
    int ended;                          /* END received                                  */
};

static volatile sig_atomic_t mirror_sig;

static void on_mirror_signal(int sig)
{
    mirror_sig = sig;
}

static int in(int64_t v, int64_t lo, int64_t hi)
{
    return v >= lo && v <= hi;
}

/* ------------------------------------------------------------------------ checks */

static int ctl_ok(const struct f1_ctl *c, int64_t sent_ns)
{
    if (!in(c->state, F1_WAIT, F1_ABORT) || !in(c->ncars, 1, F1_MAX_CARS) ||
        !in(c->nsessions, 1, F1_MAX_SESSIONS) || !in(c->session, 0, c->nsessions) ||
        !in(c->kind, 0, F1_KINDS - 1) || !in(c->laps, 0, F1_MAX_LAPS) ||
        !in(c->race_laps, 1, F1_MAX_LAPS) || !(c->speed >= 1 && c->speed <= 100000) ||
        !in(c->events, 0, MAX_CLOCK_NS) || !in(sent_ns, 0, MAX_CLOCK_NS) ||
        !in(c->start_ns, 0, MAX_CLOCK_NS))
        return 0;
    if (c->state == F1_RUN && !in(sent_ns - c->start_ns, -MAX_START_SKEW_NS, MAX_START_SKEW_NS))
        return 0; /* the board's clock would be nonsense */
    for (int k = 0; k < c->nsessions; k++)
        if (!in(c->kinds[k], 0, F1_KINDS - 1))
            return 0;
    for (int i = 0; i < F1_MAX_CARS; i++)
        if (!in(c->participates[i], 0, 1) || !in(c->grid[i], 0, F1_MAX_CARS))
            return 0;
    return 1;
}

static int times_ok(const int64_t *t, int n)
{
    for (int i = 0; i < n; i++)
        if (!in(t[i], 0, MAX_TIME_MS))
            return 0;
    return 1;
}

/* What the board indexes with (lap, cause) and subtracts (times) must be in range. */
static int car_ok(const struct f1_car *c, uint32_t idx)
{
    return c->index == (int32_t)idx && in(c->lap, 0, F1_MAX_LAPS) && in(c->sector, 0, 3) &&
           in(c->cause, 0, 4) && in(c->session, 0, F1_MAX_SESSIONS) && in(c->pits, 0, 1000) &&
           times_ok(c->cur_s, 3) && times_ok(c->last_s, 3) && times_ok(c->best_s, 3) &&
           times_ok(&c->last_lap, 1) && times_ok(&c->best_lap, 1) && times_ok(&c->total, 1) &&
           times_ok(c->lap_total, F1_MAX_LAPS + 1) && times_ok(c->lap_time, F1_MAX_LAPS + 1);
}

static int event_ok(const struct f1_event *e, int ncars)
{
    return in(e->seq, 1, MAX_CLOCK_NS) && in(e->session, 0, F1_MAX_SESSIONS) &&
           in(e->kind, -1, F1_KINDS - 1) && in(e->car, -1, ncars - 1) &&
           in(e->lap, 0, F1_MAX_LAPS);
}

/* ------------------------------------------------------------------------ tables */

static void remove_tables(struct mirror *m)
{
    f1_events_close(m->ev, 1);
    if (m->cars)
        shmkit_table_remove(m->cars);
    if (m->ctl)
        shmkit_table_remove(m->ctl);
    shmkit_table_close(m->cars);
    shmkit_table_close(m->ctl);
    m->ev = NULL;
    m->cars = m->ctl = NULL;
}

static int make_tables(struct mirror *m, int ncars)
{
    struct shmkit_opts o1 = {.kind = SHMKIT_POSIX, .name = m->name};
    struct shmkit_opts o2 = {.kind = SHMKIT_POSIX, .name = m->cars_name};
    int rc = shmkit_table_create(&m->ctl, &o1, sizeof(struct f1_ctl), 1, F1_TYPE_CTL);
    if (rc == 0)
        rc = shmkit_table_create(&m->cars, &o2, sizeof(struct f1_car), (uint32_t)ncars,
                                 F1_TYPE_CARS);
    if (rc == 0)
        rc = shmkit_table_claim(m->ctl, 0);
    for (int i = 0; i < ncars && rc == 0; i++)
        rc = shmkit_table_claim(m->cars, (uint32_t)i);
    if (rc == 0)
        rc = f1_events_create(&m->ev, m->name);
    if (rc < 0) {
        fprintf(stderr, "f1: mirror: creating the tables %s: %s\n", m->name, shmkit_strerror(rc));
        remove_tables(m);
        return rc;
    }
    m->ncars = ncars;
    printf("f1: mirror: tables %s, %s, %s-events for %d cars; board: f1 --attach=%s\n", m->name,
           m->cars_name, m->name, ncars, m->name);
    fflush(stdout);
    return 0;
}

/* The race control record as the tables hold it: the mirror's own event count. */
static void write_ctl(struct mirror *m)
{
    m->mc.events = m->have;
    shmkit_table_write(m->ctl, 0, &m->mc, sizeof m->mc);
}

/* A dead car: its record goes to a stand-in process that claims it and exits holding it, so a
 * board finds its owner dead, as it would on the weekend's host. */
static void hand_to_standin(struct mirror *m, uint32_t i)
{
    if (shmkit_table_release(m->cars, i) < 0)
        return;
    fflush(NULL);
    pid_t p = fork();
    if (p == 0)
        _exit(shmkit_table_claim(m->cars, i) < 0);
    if (p > 0)
        waitpid(p, NULL, 0);
    m->handed[i] = 1; /* the mirror never writes it again: nor does the dead car */
}

static void write_results(struct mirror *m)
{
    struct f1_view v;
    if (f1_view_build(&v, m->cars, m->ctl, m->prev, m->seen_dead) < 0)
        return;
    int rc = f1_results_write(m->cfg->results, &v);
    if (rc < 0)
        fprintf(stderr, "f1: mirror: results: cannot write %s/%s.csv: %s\n", m->cfg->results,
                f1_kind_file[v.ctl.kind], shmkit_strerror(rc));
    m->written_session = m->mc.session;
}

/* ------------------------------------------------------------------------ messages */

/* The events the feed will never send again (older than its resend window) are given up. */
static void events_advance(struct mirror *m, int64_t feed_count)
{
    if (feed_count - m->have > F1_FEED_RESEND)
        m->have = feed_count - F1_FEED_RESEND;
    while (m->slot_seq[(m->have + 1) % F1_EV_SLOTS] == m->have + 1)
        m->have++;
}

static int apply_ctl(struct mirror *m, const struct f1_feed_hdr *h, const struct f1_ctl *in_c)
{
    struct f1_ctl c = *in_c;
    if (!ctl_ok(&c, h->sent_ns))
        return BAD_RANGE;
    if (m->ctl && c.ncars != m->ncars)
        return BAD_GEOMETRY;
    if (!m->ctl && make_tables(m, c.ncars) < 0)
        return -1;
    int64_t feed_events = c.events;
    /* CLOCK_MONOTONIC differs between hosts: keep how long ago the session started */
    c.start_ns = c.state == F1_RUN ? f1_now_ns() - (h->sent_ns - c.start_ns) : 0;
    c.sysv = 0;                       /* the cars table here is POSIX: boards can attach */
    c.director_pid = (int32_t)getpid();
    m->mc = c;
    events_advance(m, feed_events);
    write_ctl(m);
    if (m->cfg->results && (c.state == F1_BETWEEN || c.state == F1_FINISHED) && c.session > 0 &&
        c.session != m->written_session)
        write_results(m);
    return APPLIED;
}

static int apply_car(struct mirror *m, const struct f1_feed_hdr *h, const struct f1_car *c)
{
    if (h->index >= (uint32_t)m->ncars)
        return BAD_GEOMETRY;
    if (!car_ok(c, h->index))
        return BAD_RANGE;
    if (m->handed[h->index])
        return APPLIED; /* dead: the record stays as it was */
    shmkit_table_write(m->cars, h->index, c, sizeof *c);
    if (h->flags & F1_FEED_DEAD)
        hand_to_standin(m, h->index);
    return APPLIED;
}

static int apply_event(struct mirror *m, const struct f1_event *in_e)
{
    struct f1_event e = *in_e;
    if (!event_ok(&e, m->ncars))
        return BAD_RANGE;
    e.text[sizeof e.text - 1] = '\0';
    if (e.seq <= m->have || m->slot_seq[e.seq % F1_EV_SLOTS] == e.seq)
        return APPLIED; /* a repeat from a keyframe */
    if (e.seq > m->have + F1_EV_SLOTS) /* far ahead: what lies between was lost */
        m->have = e.seq - F1_FEED_RESEND;
    if (f1_events_put(m->ev, &e) == 0)
        m->slot_seq[e.seq % F1_EV_SLOTS] = e.seq;
    int64_t had = m->have;
    events_advance(m, m->have);
    if (m->have != had)
        write_ctl(m);
    return APPLIED;
}

/* Checks and applies one message: APPLIED, EARLY, a bad reason, or -1 for a fatal error
 * (the tables cannot be made). */
static int apply(struct mirror *m, const unsigned char *buf, size_t len)
{
    struct f1_feed_hdr h;
    if (len < sizeof h)
        return BAD_SHORT;
    memcpy(&h, buf, sizeof h); /* aligned copies: the bus slot is only 8-byte aligned */
    if (h.magic != F1_FEED_MAGIC)
        return BAD_MAGIC;
    if (h.version != F1_FEED_VERSION)
        return BAD_VERSION;
    static const size_t rec_len[] = {[F1_FEED_CTL] = sizeof(struct f1_ctl),
                                     [F1_FEED_CAR] = sizeof(struct f1_car),
                                     [F1_FEED_EVENT] = sizeof(struct f1_event),
                                     [F1_FEED_END] = 0};
    if (h.type < F1_FEED_CTL || h.type > F1_FEED_END)
        return BAD_TYPE;
    if (h.len != len - sizeof h || h.len != rec_len[h.type])
        return BAD_LENGTH;
    union {
        struct f1_ctl c;
        struct f1_car car;
        struct f1_event e;
    } r;
    memcpy(&r, buf + sizeof h, h.len);
    if (h.type == F1_FEED_END) {
        m->ended = 1;
        return APPLIED;
    }
    if (h.type == F1_FEED_CTL)
        return apply_ctl(m, &h, &r.c);
    if (!m->ctl)
        return EARLY; /* nothing to write into before the first race control record */
    return h.type == F1_FEED_CAR ? apply_car(m, &h, &r.car) : apply_event(m, &r.e);
}

/* ------------------------------------------------------------------------ the loop */

static void summary(const struct mirror *m, uint64_t lost)
{
    uint64_t bad = 0;
    for (int i = 0; i < BAD_KINDS; i++)
        bad += m->bad[i];
    fprintf(stderr, "f1: mirror: messages=%llu bytes=%llu applied=%llu early=%llu lost=%llu "
            "bad=%llu (", (unsigned long long)m->msgs, (unsigned long long)m->bytes,
            (unsigned long long)m->applied,
            (unsigned long long)m->early, (unsigned long long)lost, (unsigned long long)bad);
    for (int i = 0; i < BAD_KINDS; i++)
        fprintf(stderr, "%s%s=%llu", i ? " " : "", bad_name[i], (unsigned long long)m->bad[i]);
    fprintf(stderr, ")\n");
}

/* Receives until the feed ends; returns the exit status. */
static int run(struct mirror *m, shmkit_sub *sub)
{
    static unsigned char buf[F1_FEED_MSG_MAX];
    int64_t last = f1_now_ns();
    for (;;) {
        if (mirror_sig)
            return 128 + mirror_sig;
        int rc = shmkit_bus_recv(sub, buf, sizeof buf, NULL, NULL, 100 * 1000000LL);
        if (rc >= 0 || rc == -EMSGSIZE) {
            last = f1_now_ns();
            m->msgs++;
            m->bytes += rc > 0 ? (uint64_t)rc : 0;
            int r = rc == -EMSGSIZE ? BAD_LENGTH : apply(m, buf, (size_t)rc);
            if (r < 0)
                return 2;
            if (rc == -EMSGSIZE)
                m->toolong++;
            if (r == APPLIED)
                m->applied++;
            else if (r == EARLY)
                m->early++;
            else
                m->bad[r]++;
            if (m->ended) {
                fprintf(stderr, "f1: mirror: the feed ended (the weekend is %s)\n",
                        m->mc.state == F1_ABORT ? "stopped" : "over");
                return 0;
            }
            continue;
        }
        if (rc == SHMKIT_ECLOSED) {
            fprintf(stderr, "f1: mirror: the feed ended (its publisher closed %s)\n", m->cfg->bus);
            return 0;
        }
        if (rc == SHMKIT_EPEERDEAD)
            f1_sleep_ms(50); /* a restarted bridge takes the publisher's place: wait for it */
        else if (rc != -ETIMEDOUT && rc != -EINTR && rc != -EAGAIN) {
            fprintf(stderr, "f1: mirror: reading %s: %s\n", m->cfg->bus, shmkit_strerror(rc));
            return 2;
        }
        if (f1_now_ns() - last > (int64_t)(m->cfg->idle * 1e9)) {
            fprintf(stderr, "f1: mirror: nothing from %s for %g s: giving up\n", m->cfg->bus,
                    m->cfg->idle);
            return 1;
        }
    }
}

int f1_mirror_main(const struct f1_mirror_cfg *cfg)
{
    static struct mirror m;
    m.cfg = cfg;
    if (cfg->name)
        snprintf(m.name, sizeof m.name, "%s", cfg->name);
    else
        snprintf(m.name, sizeof m.name, "/shmkit-f1-%d", (int)getpid());
    snprintf(m.cars_name, sizeof m.cars_name, "%s-cars", m.name);
    for (int i = 0; i < F1_EV_SLOTS; i++)
        m.slot_seq[i] = -1;

    struct sigaction sa = {.sa_handler = on_mirror_signal}; /* no SA_RESTART: waits end early */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = cfg->bus, .flags = SHMKIT_CREATE,
                            .mode = 0600};
    struct shmkit_bus_config bc;
    f1_feed_bus_config(&bc);
    bc.role = SHMKIT_ROLE_SUBSCRIBER;
    shmkit_sub *sub = NULL;
    int rc = shmkit_sub_join(&sub, &o, &bc);
    if (rc < 0) {
        fprintf(stderr, "f1: mirror: subscribing to %s: %s\n", cfg->bus, shmkit_strerror(rc));
        return 2;
    }
    int made_bus = shmkit_seg_created(shmkit_sub_seg(sub)) == 1;
    printf("f1: mirror: reading the feed %s; tables %s once race control's record comes\n",
           cfg->bus, m.name);
    fflush(stdout);

    int status = run(&m, sub);
    if (m.ctl) {
        if (m.mc.state < F1_FINISHED) { /* a board attached here sees the weekend stop */
            m.mc.state = F1_ABORT;
            write_ctl(&m);
        }
        f1_sleep_ms(200); /* boards look every 50 ms: let them see the last record */
        remove_tables(&m);
    }
    summary(&m, shmkit_sub_lost(sub) - m.toolong);
    if (made_bus) /* a bus it made is its own to remove; a bridge's is the bridge's */
        shmkit_seg_remove(shmkit_sub_seg(sub));
    shmkit_bus_unsubscribe(sub);
    return status;
}

/* ------------------------------------------------------------------------ inject (tests) */

static int read_full(unsigned char *p, size_t n)
{
    while (n) {
        ssize_t r = read(STDIN_FILENO, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

int f1_inject_main(const char *bus)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = bus, .flags = SHMKIT_CREATE,
                            .mode = 0600};
    struct shmkit_bus_config bc;
    f1_feed_bus_config(&bc);
    bc.role = SHMKIT_ROLE_PUBLISHER;
    shmkit_bus *b = NULL;
    int rc = shmkit_bus_join(&b, &o, &bc);
    if (rc == 0)
        rc = shmkit_bus_wait_subscribers(b, 1, 10 * 1000000000LL);
    if (rc < 0) {
        fprintf(stderr, "f1: inject: %s: %s\n", bus, shmkit_strerror(rc));
        shmkit_bus_close(b);
        return 2;
    }
    static unsigned char buf[F1_FEED_MSG_MAX];
    unsigned char lb[4];
    unsigned long n = 0;
    while (read_full(lb, 4) == 0) {
        uint32_t len = (uint32_t)lb[0] | (uint32_t)lb[1] << 8 | (uint32_t)lb[2] << 16 |
                       (uint32_t)lb[3] << 24;
        if (len > sizeof buf || read_full(buf, len) < 0) {
            fprintf(stderr, "f1: inject: a message of %u bytes: too long or cut short\n", len);
            shmkit_bus_close(b);
            return 2;
        }
        rc = shmkit_bus_send(b, buf, len, 0);
        if (rc < 0) {
            fprintf(stderr, "f1: inject: sending: %s\n", shmkit_strerror(rc));
            shmkit_bus_close(b);
            return 2;
        }
        n++;
    }
    fprintf(stderr, "f1: inject: %lu messages published on %s\n", n, bus);
    shmkit_bus_close(b);
    return 0;
}
