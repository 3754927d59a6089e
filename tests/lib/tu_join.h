/* tu_join.h - what the join tests (t_join_ring, t_join_bus, t_join_table)
 * share: one named place per kind (POSIX name, FILE path, System V key),
 * its removal whatever is left, a start line for racing processes, and
 * the kill-inside-initialisation scenario. Header only. */
#ifndef SHMKIT_TU_JOIN_H
#define SHMKIT_TU_JOIN_H

#include "tu_seg.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

/* Where a test's segment lives: one name for one kind. */
struct tj_place {
    int kind;
    char name[512];
    char dir[256]; /* FILE: the private directory holding it */
    int32_t key;        /* SYSV */
};

static inline const char *tj_kind_name(int kind)
{
    return kind == SHMKIT_POSIX ? "POSIX" : kind == SHMKIT_FILE ? "FILE" : "SYSV";
}

/* A unique place of KIND; N tells the places of one process apart. */
static inline void tj_place(struct tj_place *p, int kind, const char *tag, unsigned n)
{
    memset(p, 0, sizeof *p);
    p->kind = kind;
    if (kind == SHMKIT_POSIX) {
        tu_name(p->name, sizeof p->name, tag);
    } else if (kind == SHMKIT_FILE) {
        tu_tmpdir(p->dir, sizeof p->dir);
        snprintf(p->name, sizeof p->name, "%s/%s", p->dir, tag);
    } else {
        p->key = (int32_t)(0x4a000000u ^ ((uint32_t)getpid() << 6) ^ (n & 63u));
    }
}

/* Options naming P with FLAGS (nothing else set). */
static inline struct shmkit_opts tj_where(const struct tj_place *p, unsigned flags)
{
    struct shmkit_opts o;
    memset(&o, 0, sizeof o);
    o.kind = p->kind;
    o.flags = flags;
    if (p->kind == SHMKIT_SYSV)
        o.key = p->key;
    else
        o.name = p->name;
    return o;
}

/* Whether anything exists at P. */
static inline int tj_exists(const struct tj_place *p)
{
    struct stat st;
    if (p->kind == SHMKIT_POSIX)
        return tu_shm_exists(p->name);
    if (p->kind == SHMKIT_FILE)
        return lstat(p->name, &st) == 0;
    return shmget(p->key, 0, 0) >= 0;
}

/* Removes whatever exists at P (a later test of the same place starts
 * clean, and the suite's leftover check stays about real leaks). */
static inline void tj_remove(const struct tj_place *p)
{
    if (p->kind == SHMKIT_POSIX) {
        shmkit_posix_remove(p->name);
    } else if (p->kind == SHMKIT_FILE) {
        unlink(p->name);
    } else {
        int id = shmget(p->key, 0, 0);
        if (id >= 0)
            shmkit_sysv_remove(id);
    }
}

/* tj_remove, and the FILE place's directory. */
static inline void tj_place_done(struct tj_place *p)
{
    tj_remove(p);
    if (p->kind == SHMKIT_FILE && p->dir[0])
        tu_tmpdir_rm(p->dir);
}

/* The place a test case works in, removed at exit (each case runs in a
 * process of its own, see tu_case.h). */
static struct tj_place *tj_used;

static inline void tj_place_cleanup(void)
{
    if (tj_used)
        tj_place_done(tj_used);
}

static inline void tj_use_place(struct tj_place *p, int kind, const char *tag, unsigned n)
{
    tj_place(p, kind, tag, n);
    tj_used = p;
    atexit(tj_place_cleanup);
}

static inline void tj_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* A start line: children block in tj_line_wait until tj_line_go. */
struct tj_line {
    int fd[2];
};

static inline void tj_line_init(struct tj_line *l)
{
    if (pipe(l->fd) < 0)
        tap_bail("pipe: %s", strerror(errno));
}

/* In a child: waits for the start (the write end closed everywhere). */
static inline void tj_line_wait(struct tj_line *l)
{
    char c;
    close(l->fd[1]);
    (void)!read(l->fd[0], &c, 1);
    close(l->fd[0]);
}

/* In the parent, once every child is forked. */
static inline void tj_line_go(struct tj_line *l)
{
    close(l->fd[0]);
    tj_sleep_ms(30); /* let every child reach its read */
    close(l->fd[1]);
}

/* The exit status of a racer: bit 0 set when it created the structure,
 * bit 1 when something went wrong (said on stderr). */
#define TJ_CREATED 1
#define TJ_BAD 2

/* Reaps N racers; counts the creators and the ones that failed. */
static inline void tj_reap(const pid_t *pid, int n, int *created, int *bad)
{
    *created = *bad = 0;
    for (int i = 0; i < n; i++) {
        int st = tu_wait_exit(pid[i]);
        if (st < 0 || st > 3)
            (*bad)++;
        else {
            *created += st & TJ_CREATED;
            *bad += !!(st & TJ_BAD);
        }
    }
}

/* `shmkit gc ARGS` (the built CLI): its exit status. */
static inline int tj_gc(const char *args)
{
    char cli[PATH_MAX], cmd[2 * PATH_MAX + 64];
    tu_built(cli, sizeof cli, "bin/shmkit");
    snprintf(cmd, sizeof cmd, "'%s' gc %.*s >/dev/null 2>&1", cli, PATH_MAX, args);
    fflush(stdout);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The gc arguments that name P. */
static inline const char *tj_gc_args(const struct tj_place *p, char *buf, size_t len)
{
    if (p->kind == SHMKIT_SYSV)
        snprintf(buf, len, "--key %d", (int)p->key);
    else
        snprintf(buf, len, "'%s'", p->name);
    return buf;
}

/* The initialiser of a creator that is to be killed inside it: says
 * "inside" on the pipe in ARG, then takes far longer than anyone waits. */
static inline int tj_stuck_init(shmkit_seg *seg, void *arg)
{
    (void)seg;
    int fd = *(const int *)arg;
    if (write(fd, "i", 1) != 1)
        _exit(9);
    tj_sleep_ms(60000);
    return 0;
}

/* Forks a creator of a segment at P (SIZE payload bytes) that blocks in
 * its initialiser; returns once it is inside. */
static inline pid_t tj_stuck_creator(const struct tj_place *p, size_t size)
{
    int fd[2];
    char c;
    if (pipe(fd) < 0)
        tap_bail("pipe: %s", strerror(errno));
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_seg *s = NULL;
        close(fd[0]);
        struct shmkit_opts o = tj_where(p, SHMKIT_CREATE);
        o.size = size;
        o.init = tj_stuck_init;
        o.init_arg = &fd[1];
        shmkit_open(&s, &o);
        _exit(8);
    }
    close(fd[1]);
    if (read(fd[0], &c, 1) != 1)
        tap_bail("the stuck creator never reached its initialiser");
    close(fd[0]);
    return pid;
}

#endif
