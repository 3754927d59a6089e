/* cmd_watch.c - `shmkit watch`: a live view of one segment, full-screen in
 * a terminal, one line per sample when stdout is not a terminal. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

static void watch_help(void)
{
    fputs("Usage:\n"
          " shmkit watch NAME | --id ID | --key KEY | --ftok PATH:PROJ | --memfd PID:FD [options]\n"
          "\n"
          "Show a segment live: size, status, attached processes, header generation,\n"
          "and what its layout reports (ring fill and rates, bus subscribers and lag,\n"
          "table rows, RPC calls per second and their sampled latency, a bridge's\n"
          "traffic each way and its drops; a checksum of plain bytes that tells when\n"
          "they change).\n"
          "Full-screen in a terminal; one line of key=value per sample otherwise.\n"
          "Stops on Ctrl-C.\n"
          "\n"
          "Options:\n"
          "  -i, --id ID          System V segment by shmid\n"
          "  -k, --key KEY        System V segment by key\n"
          "      --ftok PATH:PROJ System V segment by the key ftok(PATH, PROJ) makes\n"
          "  -m, --memfd PID:FD   memfd held by process PID as descriptor FD\n"
          "  -n, --interval S     seconds between samples (default 1, from 0.05)\n"
          "  -1, --once           one sample, then exit\n"
          "  -h, --help           display this help\n",
          stdout);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One sample. Returns 0, or the exit status when the segment is gone. */
static int sample(const struct target *t, int tty, double interval, struct layout_state *ls)
{
    struct scan_opts so = {.header = 1, .procs = 1, .pids = 1};
    struct seg_row r;
    int rc = scan_target(t, &so, &r);
    if (rc < 0)
        return cli_fail(t->label, rc);
    char buf[64], comm[64], safe[80], label[sizeof t->label * 4 + 4];
    struct emit e = {.f = stdout, .mode = tty ? EM_TEXT : EM_LINE};
    time_t wall = time(NULL);
    struct tm tm;
    localtime_r(&wall, &tm);
    strftime(buf, sizeof buf, "%H:%M:%S", &tm);
    if (tty) {
        fputs("\033[H\033[2J", stdout); /* home, clear */
        printf("shmkit watch %s   every %gs   %s\n\n", esc_str(t->label, 0, label, sizeof label),
               interval, buf);
    } else {
        emit_str(&e, "time", buf);
        emit_str(&e, "segment", t->label);
    }
    emit_num(&e, "size", (long long)r.size);
    emit_str(&e, "status", status_name(r.status));
    emit_str(&e, "layout",
             r.hdr_rc == 0                   ? shmkit_layout_name(r.hdr.layout)
             : r.hdr_rc == SHMKIT_ENOTSHMKIT ? "raw"
                                             : "?");
    if (r.nattch >= 0)
        emit_num(&e, "nattch", r.nattch);
    else
        emit_str(&e, "nattch", NULL);
    if (r.kind != SHMKIT_SYSV)
        emit_num(&e, "holders", r.holders < 0 ? 0 : r.holders);
    if (r.hdr_rc == 0) {
        emit_num(&e, "generation", (long long)r.hdr.generation);
        emit_str(&e, "sealed", r.hdr.sealed ? "yes" : "no");
        emit_fmt(&e, "creator", "%d (%s)", r.hdr.creator_pid,
                 r.creator_alive < 0 ? "unknown"
                 : r.creator_alive   ? "alive"
                                     : "dead");
    }
    shmkit_seg *seg = NULL;
    int raw = 0;
    if (r.hdr_rc == 0 && open_target(t, SHMKIT_RDONLY, &seg, &raw) == 0) {
        rc = layout_stats(t, seg, r.hdr.layout, &e, ls, now_s());
        if (rc < 0)
            emit_str(&e, "stats", shmkit_strerror(rc));
        shmkit_close(seg);
    }
    if (tty) {
        printf("\nprocesses: %zu\n", r.n_users);
        for (size_t i = 0; i < r.n_users && i < 20; i++)
            printf("  %7d  %-16s %s%s%s\n", r.users[i].pid,
                   esc_str(proc_comm(r.users[i].pid, comm, sizeof comm), 0, safe, sizeof safe),
                   r.users[i].maps ? "maps" : "", r.users[i].maps && r.users[i].fds ? "," : "",
                   r.users[i].fds ? "fd" : "");
    } else {
        fputc('\n', stdout);
    }
    row_free(&r);
    fflush(stdout);
    return 0;
}

int cmd_watch(int argc, char **argv)
{
    cli_init_wait_ms = 1; /* looking: a creator still initialising is shown, not waited for */
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"memfd", required_argument, NULL, 'm'},
        {"interval", required_argument, NULL, 'n'},
        {"once", no_argument, NULL, '1'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    struct target t;
    double interval = 1.0;
    int once = 0, c, status = EXIT_OKAY;
    while ((c = getopt_long(argc, argv, ":i:k:m:n:1h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if ((status = opt_interval("--interval", optarg, &interval)))
                goto free_targets;
            break;
        case '1':
            once = 1;
            break;
        case 'h':
            watch_help();
            goto free_targets;
        default:
            if ((status = targets_getopt(&ts, c, argv)))
                goto free_targets;
            break;
        }
    }
    if ((status = targets_one(&ts, argc, argv, optind, &t)))
        goto free_targets;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    int tty = isatty(1);
    struct layout_state ls;
    memset(&ls, 0, sizeof ls);
    while (!stop) {
        if ((status = sample(&t, tty, interval, &ls)) != 0 || once)
            break;
        if (ferror(stdout))
            break; /* reported at exit */
        struct timespec ts_sleep = {(time_t)interval,
                                    (long)((interval - (double)(time_t)interval) * 1e9)};
        while (!stop && nanosleep(&ts_sleep, &ts_sleep) < 0 && errno == EINTR)
            ;
    }
free_targets:
    targets_free(&ts);
    return status;
}
