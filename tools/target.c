/*
 * target.c - the segments a command names: positional NAMEs and the
 * --id/--key/--memfd options, parsed into struct target. Pure parsing
 * (fuzzed by tests/fuzz/fuzz_cli_args.c); open.c resolves and opens them.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>

int target_name(struct target *t, const char *name)
{
    memset(t, 0, sizeof *t);
    if (shmkit_name_check(name) < 0) {
        if (name[0] && name[0] != '/')
            return cli_usage(name,
                             "invalid segment name (POSIX names start with '/', "
                             "e.g. /%s)",
                             name);
        return cli_usage(name[0] ? name : "''", "invalid segment name");
    }
    t->type = T_NAME;
    t->name = name;
    snprintf(t->label, sizeof t->label, "%s", name);
    return 0;
}

void target_id(struct target *t, int id)
{
    memset(t, 0, sizeof *t);
    t->type = T_ID;
    t->id = id;
    snprintf(t->label, sizeof t->label, "id %d", id);
}

void target_key(struct target *t, int32_t key)
{
    memset(t, 0, sizeof *t);
    t->type = T_KEY;
    t->key = key;
    snprintf(t->label, sizeof t->label, "key 0x%08x", (unsigned)key);
}

void target_of_row(struct target *t, const struct seg_row *r)
{
    if (r->kind == SHMKIT_SYSV) {
        target_id(t, r->shmid);
        return;
    }
    memset(t, 0, sizeof *t);
    if (r->kind == SHMKIT_MEMFD) {
        t->type = T_MEMFD;
        t->pid = r->memfd_pid;
        t->fd = r->memfd_fd;
        snprintf(t->label, sizeof t->label, "memfd %d:%d", t->pid, t->fd);
    } else {
        t->type = T_NAME;
        t->name = r->name;
        snprintf(t->label, sizeof t->label, "%s", r->name);
    }
}

int target_memfd(struct target *t, const char *opt, const char *arg)
{
    int pid = 0, fd = 0;
    char tail;
    memset(t, 0, sizeof *t);
    if (sscanf(arg, "%d:%d%c", &pid, &fd, &tail) != 2 || pid <= 0 || fd < 0)
        return cli_usage(opt, "'%s': expected PID:FD", arg);
    t->type = T_MEMFD;
    t->pid = pid;
    t->fd = fd;
    snprintf(t->label, sizeof t->label, "memfd %d:%d", pid, fd);
    return 0;
}

static struct target *targets_add(struct targets *ts)
{
    if (ts->n == ts->cap) {
        int cap = ts->cap ? ts->cap * 2 : 8;
        struct target *v = realloc(ts->v, (size_t)cap * sizeof *v);
        if (!v)
            return NULL;
        ts->v = v;
        ts->cap = cap;
    }
    return &ts->v[ts->n++];
}

/* --ftok PATH:PROJ: the key ftok(3) makes of them, labelled with both. */
static int target_ftok(struct target *t, char *arg)
{
    const char *path;
    int proj;
    if (opt_ftok("--ftok", arg, &path, &proj))
        return EXIT_USAGE;
    key_t key = ftok(path, proj);
    if (key == (key_t)-1)
        return cli_usage("--ftok", "%s: %s", path, strerror(errno));
    target_key(t, (int32_t)key);
    snprintf(t->label, sizeof t->label, "key 0x%08x (ftok %.200s:%d)", (unsigned)key, path, proj);
    return 0;
}

int targets_opt(struct targets *ts, int c, char *arg)
{
    struct target *t = targets_add(ts);
    if (!t) {
        cli_err(NULL, "out of memory");
        return EXIT_SYSTEM;
    }
    int rc = 0, id;
    int32_t key;
    switch (c) {
    case 'i':
        if ((rc = opt_id("--id", arg, &id)) == 0)
            target_id(t, id);
        break;
    case 'k':
        if ((rc = opt_key("--key", arg, &key)) == 0)
            target_key(t, key);
        break;
    case OPT_FTOK:
        rc = target_ftok(t, arg);
        break;
    default:
        rc = target_memfd(t, "--memfd", arg);
        break;
    }
    if (rc)
        ts->n--;
    return rc;
}

int targets_names(struct targets *ts, int argc, char **argv, int first)
{
    for (int i = first; i < argc; i++) {
        struct target *t = targets_add(ts);
        if (!t) {
            cli_err(NULL, "out of memory");
            return EXIT_SYSTEM;
        }
        int rc = target_name(t, argv[i]);
        if (rc) {
            ts->n--;
            return rc;
        }
    }
    return 0;
}

void targets_free(struct targets *ts)
{
    free(ts->v);
    memset(ts, 0, sizeof *ts);
}

int targets_getopt(struct targets *ts, int c, char **argv)
{
    if (c == 'i' || c == 'k' || c == 'm' || c == OPT_FTOK)
        return targets_opt(ts, c, optarg);
    return opt_bad(c, argv);
}

int targets_some(struct targets *ts, int argc, char **argv, int first)
{
    int rc = targets_names(ts, argc, argv, first);
    if (rc)
        return rc;
    if (ts->n == 0)
        return cli_usage("segment", "missing (give NAME, --id ID, --key KEY or --ftok PATH:PROJ)");
    return 0;
}

int targets_one(struct targets *ts, int argc, char **argv, int first, struct target *t)
{
    int rc = targets_some(ts, argc, argv, first);
    if (rc)
        return rc;
    if (ts->n > 1)
        return cli_usage(ts->v[1].label, "one segment at a time");
    *t = ts->v[0];
    return 0;
}
