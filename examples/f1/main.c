/*
 * main.c - f1: a race weekend on a shared table, one process per car (`make demo`).
 *
 *   f1 [--cars N] [--laps N] [--speed X] [--seed S] [--sessions LIST] [--plain] [--results DIR]
 *      [--sysv] [--feed[=BUS]]
 *   f1 --attach[=NAME]      a second board on a running weekend (read-only)
 *   f1 --mirror=BUS [--name NAME] [--results DIR] [--idle SECS]
 *                           the weekend of a feed, rebuilt in this host's tables
 *
 * Race control (this process) creates three tables - the race control record, one record per
 * car, the ticker's events - forks the cars, runs practice, Q1/Q2/Q3 (the slowest cars eliminated after Q1 and
 * Q2, the grid set by qualifying) and the race, and draws the board from consistent
 * snapshots at 20 Hz: full-screen on a terminal, a few plain lines otherwise. Each
 * session's classification goes to results/<session>.csv and .json.
 * Faults: kill -9 a car and it is marked OUT, the weekend goes on; Ctrl-C (or SIGTERM)
 * stops everything and removes every segment; kill -9 race control and the cars die with it
 * (PR_SET_PDEATHSIG), and the next f1 removes the segments it left (or `shmkit gc`).
 * --sysv: the cars table is made as the course makes its F1_Car array, with
 * shmget(IPC_PRIVATE, ..., IPC_CREAT | 0600) and shmat() before the fork (through
 * shmkit_table_create with kind SHMKIT_SYSV and sysv_private), and marked for removal
 * (IPC_RMID) as soon as every car holds it: it lives until the last car detaches.
 * Another host: tables stay in one host's /dev/shm, and `shmkit bridge` carries buses. With
 * --feed, race control also publishes the boards' records on a lossy bus (NAME-feed, feed.c)
 * that never makes it wait; a bridge carries it, and on the other host `f1 --mirror=BUS`
 * (mirror.c) checks every message and writes the records into tables of its own, which the
 * same board code shows (`f1 --attach=NAME` there). `make demo HOST2=1` runs the whole chain
 * (examples/f1/demo-bridge.sh).
 */
#include "f1.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct config {
    int cars, laps, plain, tty_forced, attach, sysv, feed, results_set;
    double speed, idle;
    uint64_t seed;
    int kinds[F1_MAX_SESSIONS], nkinds;
    const char *name, *results, *feed_bus, *mirror, *inject;
};

static volatile sig_atomic_t stop_sig;
static pid_t director_pid;
static char ctl_name[96], cars_name[112];
static shmkit_table *g_ctl, *g_cars;
static struct f1_events *g_ev;
static struct f1_feed *g_feed; /* --feed: the weekend as messages, for another host */
static pid_t kids[F1_MAX_CARS];
static int nkids;

static void on_signal(int sig)
{
    stop_sig = sig;
}

/* Runs at exit of race control only: no car outlives it, no segment stays behind. */
static void cleanup(void)
{
    if (getpid() != director_pid)
        return;
    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGKILL);
    for (int i = 0; i < nkids; i++)
        if (kids[i] > 0)
            waitpid(kids[i], NULL, 0);
    nkids = 0;
    f1_feed_close(g_feed);
    g_feed = NULL;
    f1_events_close(g_ev, 1);
    g_ev = NULL;
    if (g_cars)
        shmkit_table_remove(g_cars);
    if (g_ctl)
        shmkit_table_remove(g_ctl);
    shmkit_table_close(g_cars);
    shmkit_table_close(g_ctl);
    g_cars = g_ctl = NULL;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: f1 [options]            run a race weekend (default: 20 cars, about a minute)\n"
            "       f1 --attach[=NAME]      show a running weekend on a second board\n"
            "       f1 --mirror=BUS [--name NAME] [--results DIR] [--idle SECS]\n"
            "                               rebuild a fed weekend (--feed) in tables of this\n"
            "                               host, for f1 --attach=NAME (make demo HOST2=1)\n"
            "  -c, --cars N         cars, 1..%d (20)\n"
            "  -l, --laps N         race laps, 1..%d (20)\n"
            "  -s, --speed X        session seconds per second, or normal (60), fast (200),\n"
            "                       high (1000)\n"
            "  -S, --seed S         random seed (1): same seed, same results\n"
            "      --sessions LIST  comma list of practice,q1,q2,q3,race (quali = q1,q2,q3)\n"
            "      --name NAME      segment base name (default /shmkit-f1-PID)\n"
            "      --results DIR    where session results go (results; --mirror: none\n"
            "                       unless given)\n"
            "      --plain          plain text even on a terminal\n"
            "      --sysv           cars table in a System V IPC_PRIVATE segment (as the course)\n"
            "      --feed[=BUS]     also publish the boards' records on the lossy bus BUS\n"
            "                       (NAME-feed), for shmkit bridge and f1 --mirror elsewhere\n"
            "      --idle SECS      --mirror: give up after SECS without a message (10)\n"
            "      --inject=BUS     (tests) publish length-prefixed messages from stdin on BUS\n"
            "  -h, --help\n",
            F1_MAX_CARS, F1_MAX_LAPS);
}

static int parse_sessions(struct config *cf, const char *list)
{
    int want[F1_KINDS] = {0};
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        for (char *p = tok; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        if (!strcmp(tok, "practice") || !strcmp(tok, "p") || !strcmp(tok, "fp"))
            want[F1_PRACTICE] = 1;
        else if (!strcmp(tok, "q1"))
            want[F1_Q1] = 1;
        else if (!strcmp(tok, "q2"))
            want[F1_Q2] = 1;
        else if (!strcmp(tok, "q3"))
            want[F1_Q3] = 1;
        else if (!strcmp(tok, "quali") || !strcmp(tok, "q"))
            want[F1_Q1] = want[F1_Q2] = want[F1_Q3] = 1;
        else if (!strcmp(tok, "race") || !strcmp(tok, "r"))
            want[F1_RACE] = 1;
        else
            return -1;
    }
    cf->nkinds = 0;
    for (int k = 0; k < F1_KINDS; k++) /* a weekend runs in its own order */
        if (want[k])
            cf->kinds[cf->nkinds++] = k;
    return cf->nkinds ? 0 : -1;
}

static int parse_args(struct config *cf, int argc, char **argv)
{
    static const struct option lo[] = {
        {"cars", required_argument, 0, 'c'},   {"laps", required_argument, 0, 'l'},
        {"speed", required_argument, 0, 's'},  {"seed", required_argument, 0, 'S'},
        {"sessions", required_argument, 0, 1}, {"attach", optional_argument, 0, 2},
        {"name", required_argument, 0, 3},     {"results", required_argument, 0, 4},
        {"plain", no_argument, 0, 5},          {"no-tty", no_argument, 0, 5},
        {"sysv", no_argument, 0, 6},          {"feed", optional_argument, 0, 7},
        {"mirror", required_argument, 0, 8},   {"idle", required_argument, 0, 9},
        {"inject", required_argument, 0, 10},
        {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
    *cf = (struct config){.cars = 20, .laps = 20, .speed = 60, .seed = 1, .results = "results",
                          .idle = 10};
    parse_sessions(cf, "practice,q1,q2,q3,race");
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "c:l:s:S:h", lo, NULL)) != -1) {
        switch (c) {
        case 'c':
            cf->cars = (int)strtol(optarg, &end, 10);
            if (*end || cf->cars < 1 || cf->cars > F1_MAX_CARS)
                goto bad;
            break;
        case 'l':
            cf->laps = (int)strtol(optarg, &end, 10);
            if (*end || cf->laps < 1 || cf->laps > F1_MAX_LAPS)
                goto bad;
            break;
        case 's':
            if (!strcmp(optarg, "normal"))
                cf->speed = 60;
            else if (!strcmp(optarg, "fast"))
                cf->speed = 200;
            else if (!strcmp(optarg, "high"))
                cf->speed = 1000;
            else if ((cf->speed = strtod(optarg, &end)) < 1 || cf->speed > 100000 || *end)
                goto bad;
            break;
        case 'S':
            cf->seed = strtoull(optarg, &end, 0);
            if (*end || !*optarg)
                goto bad;
            break;
        case 1:
            if (parse_sessions(cf, optarg) < 0)
                goto bad;
            break;
        case 2:
            cf->attach = 1;
            if (optarg)
                cf->name = optarg;
            break;
        case 3:
            cf->name = optarg;
            break;
        case 4:
            cf->results = optarg;
            cf->results_set = 1;
            break;
        case 5:
            cf->plain = 1;
            break;
        case 6:
            cf->sysv = 1;
            break;
        case 7:
            cf->feed = 1;
            cf->feed_bus = optarg;
            break;
        case 8:
            cf->mirror = optarg;
            break;
        case 9:
            cf->idle = strtod(optarg, &end);
            if (*end || !(cf->idle >= 0.1 && cf->idle <= 86400))
                goto bad;
            break;
        case 10:
            cf->inject = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            goto usage;
        }
    }
    if (optind < argc && cf->attach && !cf->name)
        cf->name = argv[optind++];
    if (optind < argc)
        goto usage;
    if (!!cf->attach + !!cf->mirror + !!cf->inject + !!cf->feed > 1) {
        fprintf(stderr, "f1: --attach, --mirror, --feed and --inject go one at a time\n");
        goto usage;
    }
    const char *names[] = {cf->name, cf->feed_bus, cf->mirror, cf->inject};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i] && shmkit_name_check(names[i]) < 0) {
            fprintf(stderr, "f1: %s: not a valid segment name (like /shmkit-f1-123)\n", names[i]);
            return -1;
        }
    return 0;
bad:
    fprintf(stderr, "f1: invalid value '%s'\n", optarg);
usage:
    fprintf(stderr, "try 'f1 --help'\n");
    return -1;
}

static void title(char *buf, size_t len, const struct f1_view *v, const char *name)
{
    const struct f1_ctl *c = &v->ctl;
    int lap = v->n ? v->rows[0].c.lap + (v->ctl.state == F1_RUN) : 0;
    if (lap > c->laps)
        lap = c->laps;
    int64_t t = c->state == F1_RUN ? (int64_t)((double)(f1_now_ns() - c->start_ns) / 1e6 * c->speed) : 0;
    if (t < 0)
        t = 0;
    snprintf(buf, len, "shmkit F1  %s %s %d/%d  time %d:%02d  x%g  seed %llu  %s%s",
             f1_kind_name[c->kind], c->kind == F1_RACE ? "LAP" : "lap", lap, c->laps,
             (int)(t / 60000), (int)(t / 1000 % 60), c->speed, (unsigned long long)c->seed, name,
             c->state == F1_BETWEEN ? "  [session over]" : "");
}

/* ------------------------------------------------------------------------ race control */

struct weekend {
    struct config cf;
    struct f1_ctl ctl;
    struct f1_car prev[F1_MAX_CARS];
    int dead[F1_MAX_CARS], dead_told[F1_MAX_CARS];
    int order[F1_KINDS][F1_MAX_CARS], norder[F1_KINDS]; /* classification of each kind run */
    int ran[F1_KINDS];
    struct f1_events *ev;
    struct f1_screen *scr;
};

static void publish(struct weekend *w, int car, int lap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void publish(struct weekend *w, int car, int lap, const char *fmt, ...)
{
    struct f1_event e = {.session = w->ctl.session, .kind = w->ctl.kind, .car = car, .lap = lap};
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e.text, sizeof e.text, fmt, ap);
    va_end(ap);
    f1_events_publish(w->ev, g_ctl, &w->ctl, &e);
    e.seq = w->ctl.events; /* the number f1_events_publish gave it */
    f1_feed_event(g_feed, &e);
    f1_screen_event(w->scr, &e);
}

static void reap(void)
{
    pid_t p;
    while ((p = waitpid(-1, NULL, WNOHANG)) > 0)
        for (int i = 0; i < nkids; i++)
            if (kids[i] == p)
                kids[i] = -1;
}

/* Who takes part in session KIND, and (race) the grid. */
static void line_up(struct weekend *w, int kind)
{
    struct f1_ctl *c = &w->ctl;
    memset(c->participates, 0, sizeof c->participates);
    memset(c->grid, 0, sizeof c->grid);
    int prev_q = kind == F1_Q2 ? F1_Q1 : kind == F1_Q3 ? F1_Q2 : -1;
    if (prev_q >= 0 && w->ran[prev_q]) {
        int cut = f1_cut(prev_q, w->cf.cars);
        for (int p = 0; p < w->norder[prev_q] && p < cut; p++)
            c->participates[w->order[prev_q][p]] = 1;
    } else {
        for (int i = 0; i < w->cf.cars; i++)
            c->participates[i] = 1;
    }
    for (int i = 0; i < w->cf.cars; i++)
        if (w->dead[i])
            c->participates[i] = 0; /* a dead car's process cannot drive */
    if (kind != F1_RACE)
        return;
    int slot = 1;
    static const int from[] = {F1_Q3, F1_Q2, F1_Q1, F1_PRACTICE};
    for (unsigned s = 0; s < 4; s++) {
        if (!w->ran[from[s]] || (from[s] == F1_PRACTICE && slot > 1))
            continue;
        for (int p = 0; p < w->norder[from[s]]; p++) {
            int i = w->order[from[s]][p];
            if (c->participates[i] && !c->grid[i])
                c->grid[i] = slot++;
        }
    }
    for (int i = 0; i < w->cf.cars; i++)
        if (c->participates[i] && !c->grid[i])
            c->grid[i] = slot++;
}

static void detect_events(struct weekend *w, const struct f1_view *v, const struct f1_car *before,
                          int64_t *session_best)
{
    for (int p = 0; p < v->n; p++) {
        const struct f1_row *r = &v->rows[p];
        const struct f1_car *o = &before[r->idx];
        const struct f1_driver *d = &f1_drivers[r->idx];
        if (o->session != r->c.session)
            o = NULL; /* first snapshot of this session */
        if (r->c.pits > (o ? o->pits : 0))
            publish(w, r->idx, r->c.lap, "PIT      #%d %s pit stop %d", d->number, d->code, r->c.pits);
        if (r->c.out && !(o && o->out))
            publish(w, r->idx, r->c.lap, "OUT      #%d %s retires (%s)", d->number, d->code,
                    f1_causes[r->c.cause % 5]);
    }
    for (int i = 0; i < w->cf.cars; i++) {
        if (w->dead[i] && !w->dead_told[i]) {
            w->dead_told[i] = 1;
            publish(w, i, w->prev[i].lap, "OUT      #%d %s car process died: marked OUT, the "
                    "weekend goes on", f1_drivers[i].number, f1_drivers[i].code);
        }
    }
    if (v->best_lap && (!*session_best || v->best_lap < *session_best)) {
        *session_best = v->best_lap;
        char t[16];
        f1_fmt_time(t, sizeof t, v->best_lap);
        int i = v->best_lap_car;
        publish(w, i, w->prev[i].lap, "FASTEST  #%d %s %s", f1_drivers[i].number, f1_drivers[i].code, t);
    }
}

static int session_over(const struct f1_view *v)
{
    for (int p = 0; p < v->n; p++)
        if (!v->rows[p].dead && !(v->rows[p].c.session == v->ctl.session && v->rows[p].c.done))
            return 0;
    return 1;
}

/* Runs one session; 1 if stopped by a signal. */
static int run_session(struct weekend *w, int kind)
{
    struct f1_ctl *c = &w->ctl;
    line_up(w, kind);
    c->session++;
    c->kind = kind;
    c->laps = f1_session_laps(kind, w->cf.laps);
    c->start_ns = f1_now_ns() + 100 * 1000000LL; /* every car sees the start before it happens */
    c->state = F1_RUN;
    shmkit_table_write(g_ctl, 0, c, sizeof *c);
    int n = 0;
    for (int i = 0; i < w->cf.cars; i++)
        n += c->participates[i];
    f1_screen_line(w->scr, "== %s: %d cars, %d laps", f1_kind_name[kind], n, c->laps);

    /* a session cannot last much longer than its simulated length: a stuck car is let go */
    int64_t sim_ms = (int64_t)(c->laps + 2) * 120000 + (int64_t)w->cf.cars * 7000;
    int64_t deadline = c->start_ns + (int64_t)((double)sim_ms * 2e6 / c->speed) + 5000000000LL;
    int64_t session_best = 0;
    struct f1_view v;
    char head[256];
    for (;;) {
        reap();
        struct f1_car before[F1_MAX_CARS];
        memcpy(before, w->prev, sizeof before);
        if (f1_view_build(&v, g_cars, g_ctl, w->prev, w->dead) == 0) {
            v.ctl = *c; /* race control's own record is the truth for itself */
            detect_events(w, &v, before, &session_best);
            f1_feed_tick(g_feed, c, w->prev, w->dead, 0);
            title(head, sizeof head, &v, ctl_name);
            f1_screen_frame(w->scr, &v, head);
            if (session_over(&v))
                break;
        }
        if (stop_sig || ferror(stdout))
            return 1;
        if (f1_now_ns() > deadline) {
            f1_screen_line(w->scr, "%s: session stopped, some cars did not finish in time",
                           f1_kind_name[kind]);
            break;
        }
        f1_sleep_ms(50); /* 20 snapshots of every record per second */
    }
    c->state = F1_BETWEEN;
    shmkit_table_write(g_ctl, 0, c, sizeof *c);
    f1_view_build(&v, g_cars, g_ctl, w->prev, w->dead);
    v.ctl = *c;
    w->ran[kind] = 1;
    w->norder[kind] = v.n;
    for (int p = 0; p < v.n; p++)
        w->order[kind][p] = v.rows[p].idx;
    int rc = f1_results_write(w->cf.results, &v);
    f1_feed_tick(g_feed, c, w->prev, w->dead, 1); /* the records of these results */
    f1_screen_classification(w->scr, &v);
    if (rc < 0)
        f1_screen_line(w->scr, "results: cannot write %s/%s.csv: %s", w->cf.results,
                       f1_kind_file[kind], shmkit_strerror(rc));
    title(head, sizeof head, &v, ctl_name);
    f1_screen_frame(w->scr, &v, head);
    /* let a late board see the final classification; longer on a terminal, to read it */
    for (int i = 0; i < (isatty(STDOUT_FILENO) && !w->cf.plain ? 40 : 4) && !stop_sig; i++) {
        f1_sleep_ms(50);
        f1_screen_frame(w->scr, &v, head); /* follows a resize */
        f1_feed_tick(g_feed, c, w->prev, w->dead, 0);
    }
    return stop_sig != 0;
}

/* A weekend's three segments, if race control (the creator of BASE) is dead: race control
 * killed with -9 cannot remove them, its cars die with it. Returns 1 if removed. */
static int remove_if_orphaned(const char *base)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = base, .flags = SHMKIT_RDONLY};
    struct shmkit_info info;
    int orphan = 0;
    if (shmkit_open(&s, &o) == 0 && shmkit_seg_stat(s, &info) == 0 &&
        info.layout == SHMKIT_LAYOUT_TABLE) {
        struct shmkit_owner ow = {.pid = info.creator_pid, .start = info.creator_start};
        orphan = !shmkit_owner_alive(&ow);
    }
    shmkit_close(s);
    if (!orphan)
        return 0;
    char n[320];
    shmkit_posix_remove(base);
    snprintf(n, sizeof n, "%s-cars", base);
    shmkit_posix_remove(n);
    snprintf(n, sizeof n, "%s-events", base);
    shmkit_posix_remove(n);
    snprintf(n, sizeof n, "%s-feed", base); /* --feed's bus, if it ran with one */
    shmkit_posix_remove(n);
    fprintf(stderr, "f1: removed %s, %s-cars, %s-events: left by a race control that died\n", base,
            base, base);
    return 1;
}

static void remove_orphans(const char *mine)
{
    remove_if_orphaned(mine);
    DIR *d = opendir("/dev/shm");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "shmkit-f1-", 10) || l > 250 ||
            (l > 5 && !strcmp(e->d_name + l - 5, "-cars")) ||
            (l > 7 && !strcmp(e->d_name + l - 7, "-events")))
            continue;
        char n[260];
        snprintf(n, sizeof n, "/%s", e->d_name);
        remove_if_orphaned(n);
    }
    closedir(d);
}

static int weekend(struct config *cf)
{
    static struct weekend w;
    int rc, status = 1;
    w.cf = *cf;
    director_pid = getpid();
    if (cf->name)
        snprintf(ctl_name, sizeof ctl_name, "%s", cf->name);
    else
        snprintf(ctl_name, sizeof ctl_name, "/shmkit-f1-%d", (int)director_pid);
    snprintf(cars_name, sizeof cars_name, "%s-cars", ctl_name);
    if (strlen(cars_name) > 250) {
        fprintf(stderr, "f1: name too long\n");
        return 2;
    }

    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: sleeps end early */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN); /* `f1 | head`: a failed write stops the weekend cleanly */
    atexit(cleanup);

    remove_orphans(ctl_name);
    struct shmkit_opts o1 = {.kind = SHMKIT_POSIX, .name = ctl_name};
    struct shmkit_opts o2 = {.kind = SHMKIT_POSIX, .name = cars_name};
    if (cf->sysv) /* shmget(IPC_PRIVATE, size, IPC_CREAT | 0600) + shmat(id, NULL, 0) */
        o2 = (struct shmkit_opts){.kind = SHMKIT_SYSV, .sysv_private = 1, .mode = 0600};
    rc = shmkit_table_create(&g_ctl, &o1, sizeof(struct f1_ctl), 1, F1_TYPE_CTL);
    if (rc == 0)
        rc = shmkit_table_create(&g_cars, &o2, sizeof(struct f1_car), (uint32_t)cf->cars,
                                 F1_TYPE_CARS);
    if (rc == 0)
        rc = shmkit_table_claim(g_ctl, 0);
    if (rc == 0)
        rc = f1_events_create(&g_ev, ctl_name);
    w.ev = g_ev;
    char feed_name[128];
    snprintf(feed_name, sizeof feed_name, "%s", cf->feed_bus ? cf->feed_bus : ctl_name);
    if (!cf->feed_bus)
        snprintf(feed_name + strlen(feed_name), sizeof feed_name - strlen(feed_name), "-feed");
    if (rc == 0 && cf->feed && (rc = f1_feed_open(&g_feed, feed_name)) < 0) {
        fprintf(stderr, "f1: the feed bus %s: %s\n", feed_name, shmkit_strerror(rc));
        return 2;
    }
    if (rc < 0) {
        fprintf(stderr, "f1: creating the tables %s: %s\n", ctl_name, shmkit_strerror(rc));
        return 2;
    }
    struct f1_ctl *c = &w.ctl;
    c->state = F1_WAIT;
    c->ncars = cf->cars;
    c->race_laps = cf->laps;
    c->nsessions = cf->nkinds;
    memcpy(c->kinds, cf->kinds, sizeof c->kinds);
    c->speed = cf->speed;
    c->seed = cf->seed;
    c->director_pid = (int32_t)director_pid;
    c->sysv = cf->sysv;
    c->kind = cf->kinds[0];
    shmkit_table_write(g_ctl, 0, c, sizeof *c);

    fflush(stdout);
    for (int i = 0; i < cf->cars; i++) {
        pid_t p = fork();
        if (p < 0) {
            fprintf(stderr, "f1: fork: %s\n", strerror(errno));
            return 2;
        }
        if (p == 0) {
            signal(SIGINT, SIG_IGN); /* Ctrl-C goes to race control, which stops the cars */
            signal(SIGTERM, SIG_DFL);
            signal(SIGHUP, SIG_DFL);
            prctl(PR_SET_PDEATHSIG, SIGKILL); /* no car outlives race control */
            if (getppid() != director_pid)
                _exit(1);
            _exit(f1_car_main(g_cars, g_ctl, i));
        }
        kids[nkids++] = p;
    }
    struct shmkit_info cinfo = {0};
    shmkit_seg_stat(shmkit_table_seg(g_cars), &cinfo);
    if (cf->sysv) /* every car has it attached now: IPC_RMID only marks it ("dest") */
        shmkit_table_remove(g_cars);
    /* every car owns its record before the first session starts */
    for (int t = 0; t < 200; t++) {
        int ready = 0;
        for (int i = 0; i < cf->cars; i++)
            ready += shmkit_table_owner(g_cars, (uint32_t)i, NULL) == 1;
        if (ready == cf->cars || stop_sig)
            break;
        f1_feed_tick(g_feed, c, w.prev, w.dead, 0); /* a mirror can make its tables */
        f1_sleep_ms(10);
    }

    int tty = isatty(STDOUT_FILENO) && !cf->plain;
    w.scr = f1_screen_open(tty, stdout);
    char list[64] = "";
    for (int k = 0; k < cf->nkinds; k++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", k ? "," : "",
                 f1_kind_file[cf->kinds[k]]);
    f1_screen_line(w.scr, "shmkit F1: %d cars (one process each), sessions %s, race %d laps, "
                   "seed %llu, speed x%g", cf->cars, list, cf->laps, (unsigned long long)cf->seed,
                   cf->speed);
    if (cf->sysv)
        f1_screen_line(w.scr, "tables: %s (race control), System V shmid %d (cars: IPC_PRIVATE, "
                       "already removed, lives until the last car detaches), %s-events (ticker)",
                       ctl_name, cinfo.shmid, ctl_name);
    else
        f1_screen_line(w.scr, "tables: %s (race control), %s (cars), %s-events (ticker); "
                       "second board: f1 --attach=%s", ctl_name, cars_name, ctl_name, ctl_name);
    if (g_feed)
        f1_screen_line(w.scr, "feed: %s (lossy bus; another host: shmkit bridge carries it, "
                       "f1 --mirror=%s rebuilds the tables there)", feed_name, feed_name);

    int stopped = 0;
    for (int k = 0; k < cf->nkinds && !stopped; k++)
        stopped = run_session(&w, cf->kinds[k]);

    c->state = stopped ? F1_ABORT : F1_FINISHED;
    shmkit_table_write(g_ctl, 0, c, sizeof *c);
    f1_feed_end(g_feed, c, w.prev, w.dead);
    for (int t = 0; t < 100; t++) { /* cars leave on their own within ~20 ms */
        reap();
        int left = 0;
        for (int i = 0; i < nkids; i++)
            left += kids[i] > 0;
        if (!left)
            break;
        f1_sleep_ms(10);
    }
    f1_screen_close(w.scr);
    if (stopped) {
        fprintf(stderr, "f1: stopped (%s); every car stopped, segments removed\n",
                stop_sig ? strsignal(stop_sig) : "output closed");
        status = stop_sig ? 128 + stop_sig : 1;
    } else {
        if (tty) { /* the full screen is gone: leave the result on the terminal */
            struct f1_view v;
            struct f1_screen *plain = f1_screen_open(0, stdout);
            if (plain && f1_view_build(&v, g_cars, g_ctl, w.prev, w.dead) == 0)
                f1_screen_classification(plain, &v);
            f1_screen_close(plain);
        }
        printf("weekend over: results in %s/ (csv and json per session)\n", cf->results);
        status = 0;
    }
    cleanup();
    return status;
}

/* ------------------------------------------------------------------------ attached board */

/* The newest running weekend in /dev/shm whose race control still lives. */
static int find_weekend(char *name, size_t len)
{
    DIR *d = opendir("/dev/shm");
    if (!d)
        return -errno;
    struct dirent *e;
    int64_t newest = -1;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (strncmp(e->d_name, "shmkit-f1-", 10) || (l > 5 && !strcmp(e->d_name + l - 5, "-cars")) ||
            (l > 7 && !strcmp(e->d_name + l - 7, "-events")))
            continue;
        char n[300];
        snprintf(n, sizeof n, "/%s", e->d_name);
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = n, .flags = SHMKIT_RDONLY};
        struct shmkit_info info;
        if (shmkit_open(&s, &o) == 0 && shmkit_seg_stat(s, &info) == 0 &&
            info.layout == SHMKIT_LAYOUT_TABLE) {
            struct shmkit_owner ow = {.pid = info.creator_pid, .start = info.creator_start};
            if (shmkit_owner_alive(&ow) && info.created > newest) {
                newest = info.created;
                snprintf(name, len, "%s", n);
            }
        }
        shmkit_close(s);
    }
    closedir(d);
    return newest >= 0 ? 0 : -ENOENT;
}

static int board(struct config *cf)
{
    char name[300], cname[320];
    if (cf->name)
        snprintf(name, sizeof name, "%s", cf->name);
    else if (find_weekend(name, sizeof name) < 0) {
        fprintf(stderr, "f1: no running weekend found in /dev/shm (start one with f1)\n");
        return 1;
    }
    snprintf(cname, sizeof cname, "%s-cars", name);
    shmkit_table *ctl = NULL, *cars = NULL;
    /* read-only: every segment is mapped PROT_READ, a board cannot disturb the weekend */
    struct shmkit_opts o1 = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    struct shmkit_opts o2 = {.kind = SHMKIT_POSIX, .name = cname, .flags = SHMKIT_RDONLY};
    int rc = shmkit_table_open(&ctl, &o1, F1_TYPE_CTL);
    struct f1_ctl c0;
    if (rc == 0 && shmkit_table_read(ctl, 0, &c0, sizeof c0, NULL) == 0 && c0.sysv) {
        fprintf(stderr, "f1: %s runs with --sysv: its cars table is an IPC_PRIVATE System V "
                "segment, which has no key: only race control and its cars can reach it\n", name);
        shmkit_table_close(ctl);
        return 1;
    }
    if (rc == 0)
        rc = shmkit_table_open(&cars, &o2, F1_TYPE_CARS);
    struct f1_events *ev = NULL;
    if (rc == 0)
        rc = f1_events_attach(&ev, name, ctl);
    if (rc < 0) {
        fprintf(stderr, "f1: attaching to %s: %s\n", name, shmkit_strerror(rc));
        shmkit_table_close(ctl);
        shmkit_table_close(cars);
        return 1;
    }
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct shmkit_info info;
    shmkit_seg_stat(shmkit_table_seg(ctl), &info);
    struct shmkit_owner director = {.pid = info.creator_pid, .start = info.creator_start};
    int tty = isatty(STDOUT_FILENO) && !cf->plain;
    struct f1_screen *scr = f1_screen_open(tty, stdout);
    static struct f1_car prev[F1_MAX_CARS];
    int dead[F1_MAX_CARS] = {0}, announced = -1, classified = -1, status = 0;
    struct f1_view v;
    char head[256];
    f1_screen_line(scr, "board attached to %s (read-only)", name);
    for (;;) {
        if (f1_view_build(&v, cars, ctl, prev, dead) < 0) {
            f1_sleep_ms(50);
            continue;
        }
        struct f1_event e;
        while (f1_events_poll(ev, ctl, &e))
            f1_screen_event(scr, &e);
        const struct f1_ctl *c = &v.ctl;
        if (c->state == F1_RUN && announced != c->session) {
            announced = c->session;
            f1_screen_line(scr, "== %s (session %d/%d)", f1_kind_name[c->kind], c->session,
                           c->nsessions);
        }
        if (c->state >= F1_BETWEEN && c->session > 0 && classified != c->session) {
            classified = c->session;
            f1_screen_classification(scr, &v);
        }
        title(head, sizeof head, &v, name);
        f1_screen_frame(scr, &v, head);
        if (c->state >= F1_FINISHED)
            break;
        if (!shmkit_owner_alive(&director)) {
            f1_screen_close(scr);
            scr = NULL;
            fprintf(stderr, "f1: race control of %s is gone\n", name);
            status = 1;
            break;
        }
        if (stop_sig || ferror(stdout))
            break;
        f1_sleep_ms(50);
    }
    f1_screen_close(scr);
    if (status == 0 && !stop_sig && tty) {
        struct f1_screen *plain = f1_screen_open(0, stdout);
        if (plain)
            f1_screen_classification(plain, &v);
        f1_screen_close(plain);
    }
    if (status == 0 && !stop_sig)
        printf("board: weekend %s\n", v.ctl.state == F1_ABORT ? "stopped" : "over");
    f1_events_close(ev, 0);
    shmkit_table_close(cars);
    shmkit_table_close(ctl);
    return status;
}

int main(int argc, char **argv)
{
    struct config cf;
    if (parse_args(&cf, argc, argv) < 0)
        return 2;
    if (cf.inject)
        return f1_inject_main(cf.inject);
    if (cf.mirror) {
        struct f1_mirror_cfg mc = {.bus = cf.mirror, .name = cf.name,
                                   .results = cf.results_set ? cf.results : NULL, .idle = cf.idle};
        return f1_mirror_main(&mc);
    }
    return cf.attach ? board(&cf) : weekend(&cf);
}
