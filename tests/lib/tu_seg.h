/* tu_seg.h - small helpers the core segment tests share (header only, so
 * each test stays one program built by the Makefile's t_*.c rule). */
#ifndef SHMKIT_TU_SEG_H
#define SHMKIT_TU_SEG_H

#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The running test binary, resolved once (argv[0] may be relative and
 * /proc/self/exe names whatever program runs, e.g. setpriv, after an exec). */
static inline const char *tu_self(void)
{
    static char path[PATH_MAX];
    if (!path[0]) {
        ssize_t n = readlink("/proc/self/exe", path, sizeof path - 1);
        if (n <= 0)
            tap_bail("readlink /proc/self/exe: %s", strerror(errno));
        path[n] = '\0';
    }
    return path;
}

/* Starts a helper process: PREFIX (e.g. {"setpriv", ...}, may be NULL) then
 * this test binary, then ARGS. Both lists end with NULL. Returns the pid. */
static inline pid_t tu_spawn_self(const char *const *prefix, const char *const *args)
{
    const char *argv[32];
    int n = 0, prefixed = prefix && prefix[0];
    for (; prefix && *prefix && n < 16; prefix++)
        argv[n++] = *prefix;
    argv[n++] = tu_self();
    for (; args && *args && n < 31; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    const char *self = tu_self();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        setenv("SHMKIT_TS_HELPER", "1", 1); /* see tu_helper: never recurse */
        if (prefixed)
            execvp(argv[0], (char *const *)argv);
        else
            execv(self, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

/* Waits (10 s at most) and describes how the process ended: its exit code,
 * 128 + the signal that killed it, or -1 on timeout. */
static inline int tu_wait_exit(pid_t pid)
{
    int st = 0;
    if (tu_wait(pid, 10000, &st) < 0)
        return -1;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    return -1;
}

/* Runs a helper (as tu_spawn_self) and returns tu_wait_exit's verdict. */
static inline int tu_run_self(const char *const *prefix, const char *const *args)
{
    return tu_wait_exit(tu_spawn_self(prefix, args));
}

/* A forked child that tries to store a byte at P. The parent learns the
 * result: 128 + SIGSEGV when the write was refused, 0 if it went through.
 * The default SIGSEGV action is restored first so that a sanitizer's
 * handler does not turn the signal into an ordinary exit. */
static inline int tu_child_write(volatile char *p)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = SIG_DFL;
        sigaction(SIGSEGV, &sa, NULL);
        sigaction(SIGBUS, &sa, NULL);
        *p = 'X';
        _exit(0);
    }
    return tu_wait_exit(pid);
}

/* 1 if /dev/shm/NAME (NAME with its leading '/') exists. */
static inline int tu_shm_exists(const char *name)
{
    char path[PATH_MAX];
    struct stat st;
    while (*name == '/')
        name++;
    snprintf(path, sizeof path, "/dev/shm/%s", name);
    return lstat(path, &st) == 0;
}

/* How many System V segments this process created that still exist
 * (creator pid column of /proc/sysvipc/shm). */
static inline int tu_sysv_mine(void)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    char line[512];
    int n = 0;
    if (!f)
        return -1;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        long key, id, cpid;
        unsigned long perms, size;
        if (sscanf(line, "%ld %ld %lo %lu %ld", &key, &id, &perms, &size, &cpid) == 5 &&
            cpid == (long)getpid())
            n++;
    }
    fclose(f);
    return n;
}

/* Removes every System V segment this process created: cleanup after a
 * failed test, so the suite's leftover check stays about real leaks. */
static inline void tu_sysv_cleanup(void)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    char line[512];
    if (!f)
        return;
    if (fgets(line, sizeof line, f))
        while (fgets(line, sizeof line, f)) {
            long key, id, cpid;
            unsigned long perms, size;
            if (sscanf(line, "%ld %ld %lo %lu %ld", &key, &id, &perms, &size, &cpid) == 5 &&
                cpid == (long)getpid())
                shmkit_sysv_remove((int)id);
        }
    fclose(f);
}

/* A private temporary directory for FILE segments; removed by tu_tmpdir_rm. */
static inline const char *tu_tmpdir(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/shmkit-t-%ld-XXXXXX", (long)getpid());
    if (!mkdtemp(buf))
        tap_bail("mkdtemp: %s", strerror(errno));
    return buf;
}

static inline void tu_tmpdir_rm(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", dir);
}

/* Parses a decimal int given to a helper on its command line. */
static inline int tu_atoi(const char *s)
{
    return (int)strtol(s, NULL, 0);
}

/* Fills O for the segment a helper names on its command line:
 *   posix NAME | sysv-key KEY | sysv-ftok PATH PROJ | sysv-id SHMID | file PATH
 * Returns how many arguments it used, 0 if it does not understand them. */
static inline int tu_opts_from_args(struct shmkit_opts *o, char **av, int ac)
{
    memset(o, 0, sizeof *o);
    if (ac >= 2 && !strcmp(av[0], "posix")) {
        o->kind = SHMKIT_POSIX, o->name = av[1];
        return 2;
    }
    if (ac >= 2 && !strcmp(av[0], "sysv-key")) {
        o->kind = SHMKIT_SYSV, o->key = tu_atoi(av[1]);
        return 2;
    }
    if (ac >= 3 && !strcmp(av[0], "sysv-ftok")) {
        o->kind = SHMKIT_SYSV, o->ftok_path = av[1], o->ftok_proj = tu_atoi(av[2]);
        return 3;
    }
    if (ac >= 2 && !strcmp(av[0], "sysv-id")) {
        o->kind = SHMKIT_SYSV, o->flags = SHMKIT_SHMID, o->shmid = tu_atoi(av[1]);
        return 2;
    }
    if (ac >= 2 && !strcmp(av[0], "file")) {
        o->kind = SHMKIT_FILE, o->name = av[1];
        return 2;
    }
    return 0;
}

/* The reply a helper writes at offset 128 of the payload after it read TOKEN. */
static inline void tu_reply(char *buf, size_t len, const char *token)
{
    snprintf(buf, len, "ack:%s", token);
}

/* Helper "read SPEC... TOKEN": opens the segment, checks the payload starts
 * with TOKEN, writes the reply. Exit 0 when all went well, 2 when the bytes
 * differ, 3 when open failed (the code is printed as a TAP comment).
 * Helper "open [rdonly] SPEC...": exit 0 if it opens, else 3 and the code. */
static inline int tu_helper(int argc, char **argv)
{
    struct shmkit_opts o;
    shmkit_seg *s = NULL;
    if (argc >= 3 && !strcmp(argv[1], "read")) {
        int used = tu_opts_from_args(&o, argv + 2, argc - 3);
        if (!used || 2 + used != argc - 1)
            return 4;
        const char *token = argv[argc - 1];
        int rc = shmkit_open(&s, &o);
        if (rc < 0) {
            printf("# helper: open: %s\n", shmkit_errname(rc));
            return 3;
        }
        char *d = shmkit_seg_data(s);
        int same = shmkit_seg_size(s) > 200 && !memcmp(d, token, strlen(token) + 1);
        if (same)
            tu_reply(d + 128, 64, token);
        shmkit_close(s);
        return same ? 0 : 2;
    }
    if (argc >= 3 && !strcmp(argv[1], "open")) {
        int rdonly = !strcmp(argv[2], "rdonly");
        int used = tu_opts_from_args(&o, argv + 2 + rdonly, argc - 2 - rdonly);
        if (!used)
            return 4;
        if (rdonly)
            o.flags |= SHMKIT_RDONLY;
        int rc = shmkit_open(&s, &o);
        if (rc < 0) {
            printf("# helper (uid %d): open: %s\n", (int)geteuid(), shmkit_errname(rc));
            fflush(stdout);
            return rc == -EACCES ? 13 : 3;
        }
        shmkit_close(s);
        return 0;
    }
    if (getenv("SHMKIT_TS_HELPER")) {
        /* a helper started with arguments nobody understands must not run
         * the whole test again (and spawn helpers of its own) */
        printf("# helper: unknown arguments\n");
        return 98;
    }
    return -1; /* not a helper invocation */
}

#endif
