/* cmd_rm.c - `shmkit rm` (remove what is named) and `shmkit gc` (remove
 * shmkit segments whose creator died and that nobody uses). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void rm_help(void)
{
    fputs("Usage:\n"
          " shmkit rm NAME... [--id ID]... [--key KEY]... [--ftok PATH:PROJ]... [-v]\n"
          "\n"
          "Remove segments: shm_unlink for POSIX names, IPC_RMID for System V. Every\n"
          "named segment must exist, or nothing is removed. Processes that have a\n"
          "segment mapped keep their mapping until they unmap it.\n"
          "\n"
          "Options:\n"
          "  -i, --id ID     System V segment by shmid (repeatable)\n"
          "  -k, --key KEY   System V segment by key (repeatable)\n"
          "      --ftok PATH:PROJ  System V segment by ftok(PATH, PROJ) (repeatable)\n"
          "  -v, --verbose   print each removed segment\n"
          "  -h, --help      display this help\n",
          stdout);
}

/* How a row is named in messages; LABEL_MAX holds "posix /" + NAME_MAX.
 * Raw here: cli_err escapes it, and say() escapes what goes to stdout. */
enum { LABEL_MAX = 32 + NAME_MAX + 2 };

static void row_label(const struct seg_row *r, char *buf, size_t len)
{
    if (r->kind == SHMKIT_SYSV)
        snprintf(buf, len, "sysv id %d (key 0x%08x)", r->shmid, (unsigned)r->key);
    else
        snprintf(buf, len, "posix %s", r->name);
}

/* "VERB LABEL[: WHY]" on stdout, the label (a name from anyone) escaped:
 * a name holding a newline cannot forge another line. */
static void say(const char *verb, const char *label, const char *why)
{
    fputs(verb, stdout);
    fputc(' ', stdout);
    esc_put(stdout, label, 0);
    if (why)
        printf(": %s", why);
    fputc('\n', stdout);
}

static int remove_row(const struct seg_row *r)
{
    if (r->kind == SHMKIT_SYSV) {
        int rc = shmkit_sysv_remove(r->shmid);
        return (rc == -EINVAL || rc == -EIDRM) ? -ENOENT : rc;
    }
    return shmkit_posix_remove(r->name);
}

/* Takes the worse of two exit statuses into *STATUS. */
static void worst(int *status, int st)
{
    if (st > *status)
        *status = st;
}

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    struct seg_row *rows = NULL;
    int verbose = 0, c, status = EXIT_OKAY;
    while ((c = getopt_long(argc, argv, ":i:k:vh", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            verbose = 1;
            break;
        case 'h':
            rm_help();
            goto free_targets;
        default:
            if ((status = targets_getopt(&ts, c, argv)))
                goto free_targets;
            break;
        }
    }
    if ((status = targets_some(&ts, argc, argv, optind)))
        goto free_targets;
    rows = calloc((size_t)ts.n, sizeof *rows);
    if (!rows) {
        status = cli_fail("rm", -ENOMEM);
        goto free_targets;
    }
    /* all or nothing: every target must exist before one is removed */
    struct scan_opts so = {0};
    for (int i = 0; i < ts.n; i++) {
        int rc = scan_target(&ts.v[i], &so, &rows[i]);
        if (rc < 0) {
            status = cli_fail(ts.v[i].label, rc);
            goto free_rows;
        }
    }
    for (int i = 0; i < ts.n; i++) {
        int rc = remove_row(&rows[i]);
        if (rc == -ENOENT && i > 0 && rows[i].kind == SHMKIT_SYSV) {
            /* named twice (by id and by key): already gone */
            int dup = 0;
            for (int j = 0; j < i; j++)
                dup |= rows[j].kind == SHMKIT_SYSV && rows[j].shmid == rows[i].shmid;
            if (dup)
                continue;
        }
        if (rc < 0) {
            worst(&status, cli_fail(ts.v[i].label, rc));
            continue;
        }
        if (verbose) {
            char label[LABEL_MAX];
            row_label(&rows[i], label, sizeof label);
            say("removed", label, NULL);
        }
    }
free_rows:
    for (int i = 0; i < ts.n && rows; i++)
        row_free(&rows[i]);
    free(rows);
free_targets:
    targets_free(&ts);
    return status;
}

/* ---- gc ---- */

static void gc_help(void)
{
    fputs("Usage:\n"
          " shmkit gc [--dry-run] [-v] [--older-than DURATION] [--posix] [--sysv]\n"
          " shmkit gc [--dry-run] [-v] [--older-than DURATION] [--force]\n"
          "           NAME... [--id ID]... [--key KEY]... [--ftok PATH:PROJ]...\n"
          "\n"
          "Remove shmkit segments left behind: the creator recorded in the header\n"
          "(pid and start time) is dead and no process maps the segment or holds it\n"
          "open. Segments named (with or without --force) limit gc to them, judged\n"
          "by the same rules. A persistent segment (create --keep) is kept, and\n"
          "said so, unless --older-than is given. Segments without a valid shmkit\n"
          "header (foreign or corrupt) are never removed, unless named together\n"
          "with --force; even then a segment that a process maps or holds open is\n"
          "kept. A POSIX segment is removed only when the kernel confirms no\n"
          "process has it open or mapped (a write lease: its owner or root), or,\n"
          "where it will not say, when every process could be inspected. Another\n"
          "user's segment that cannot be removed is reported as kept (exit 0)\n"
          "unless it was named.\n"
          "\n"
          "Options:\n"
          "  -n, --dry-run   print what would be removed; remove nothing\n"
          "  -f, --force     also remove the named foreign or corrupt segments\n"
          "      --older-than DURATION  remove only segments created at least DURATION\n"
          "                  ago (90s, 10m, 2h, 3d; 0: any age), persistent ones too\n"
          "  -v, --verbose   also print what is kept, and why\n"
          "      --posix     only POSIX segments\n"
          "      --sysv      only System V segments\n"
          "  -i, --id ID     consider only this System V segment (repeatable)\n"
          "  -k, --key KEY   consider only this System V segment (repeatable)\n"
          "      --ftok PATH:PROJ  the same, by the key ftok(PATH, PROJ) makes\n"
          "  -h, --help      display this help\n",
          stdout);
}

/* What the command line asks for. */
struct gc_args {
    struct targets ts; /* named segments: only these are considered */
    int dry, force, verbose, posix, sysv;
    int64_t older;       /* --older-than in seconds; -1 when not given */
    const char *older_s; /* ... as given, for messages */
    int help;            /* --help was printed: nothing else to do */
};

/* A named foreign or corrupt segment: goes only with --force, unused, and
 * never with --older-than (it has no creation time to compare). */
static int gc_decide_foreign(const struct gc_args *a, const struct seg_row *r, int named,
                             int in_use, char *why, size_t len)
{
    const char *what = r->status == ST_FOREIGN ? "not a shmkit segment" : "corrupt header";
    if (named && a->force && a->older >= 0) {
        snprintf(why, len, "%s: no creation time to compare with --older-than", what);
        return 0;
    }
    if (named && a->force && !in_use) {
        snprintf(why, len, "%s, forced, nothing maps it", what);
        return 1;
    }
    if (named && a->force)
        snprintf(why, len, "%s, but %s", what,
                 r->nattch > 0    ? "still mapped"
                 : r->holders > 0 ? "still held open"
                                  : "maybe in use");
    else
        snprintf(why, len, "%s (name it with --force to remove it)", what);
    return 0;
}

/* A segment whose creator is gone and that nobody uses (stale, or
 * persistent): plain gc removes a stale one and keeps a persistent one;
 * with --older-than both go once their header's creation time is at least
 * that long ago. */
static int gc_decide_idle(const struct gc_args *a, const struct seg_row *r, char *why, size_t len)
{
    int persist = r->status == ST_PERSIST;
    if (a->older < 0 && persist) {
        snprintf(why, len,
                 "persistent (creator pid %d is gone; remove it with gc --older-than "
                 "DURATION or rm)",
                 r->hdr.creator_pid);
        return 0;
    }
    if (a->older < 0) {
        snprintf(why, len, "creator pid %d is gone and nothing maps it", r->hdr.creator_pid);
        return 1;
    }
    long long age = (long long)time(NULL) - (long long)r->hdr.created;
    if (age < 0) {
        snprintf(why, len, "created %llds in the future (clock changed?)", -age);
        return 0;
    }
    if (age < a->older) {
        snprintf(why, len, "%screated %llds ago, not older than %s", persist ? "persistent, " : "",
                 age, a->older_s);
        return 0;
    }
    snprintf(why, len, "%screator pid %d is gone, nothing maps it, created %llds ago",
             persist ? "persistent, " : "", r->hdr.creator_pid, age);
    return 1;
}

/* Whether R goes, and why. */
static int gc_decide(const struct gc_args *a, const struct seg_row *r, int named, char *why,
                     size_t len)
{
    int in_use = r->nattch > 0 || r->holders > 0 || r->nattch < 0 || r->busy_unseen;
    if (r->status == ST_DEST) {
        snprintf(why, len, "already removed, destroyed when its last process detaches");
        return 0;
    }
    if (r->status == ST_STALE || r->status == ST_PERSIST)
        return gc_decide_idle(a, r, why, len);
    if (r->status == ST_FOREIGN || r->status == ST_CORRUPT)
        return gc_decide_foreign(a, r, named, in_use, why, len);
    if (r->use_unknown) {
        snprintf(why, len,
                 "creator pid %d is gone, but %d process%s could not be inspected and the "
                 "kernel would not say whether one uses it (run gc as its owner or root)",
                 r->hdr.creator_pid, r->hidden, r->hidden == 1 ? "" : "es");
        return 0;
    }
    if (r->status == ST_UNKNOWN) {
        snprintf(why, len, "header unreadable: %s", shmkit_strerror(r->hdr_rc));
        return 0;
    }
    if (r->creator_alive > 0)
        snprintf(why, len, "creator pid %d is alive", r->hdr.creator_pid);
    else if (r->nattch > 0)
        snprintf(why, len, "mapped by %lld process%s", (long long)r->nattch,
                 r->nattch == 1 ? "" : "es");
    else if (r->holders > 0)
        snprintf(why, len, "held open by %lld process%s", (long long)r->holders,
                 r->holders == 1 ? "" : "es");
    else if (r->busy_unseen)
        snprintf(why, len,
                 "open or mapped by a process that could not be inspected "
                 "(the kernel says so)");
    else
        snprintf(why, len, "no creator recorded");
    return 0;
}

/* Whether this user may remove R (as the kernel would judge, for a dry
 * run and to pass over others' segments without trying). */
static int may_remove(const struct seg_row *r)
{
    uid_t me = geteuid();
    if (me == 0)
        return 1;
    return r->uid == me || (r->kind == SHMKIT_SYSV && r->cuid == me);
}

static int target_matches(const struct target *t, const struct seg_row *r)
{
    switch (t->type) {
    case T_NAME:
        return r->kind == SHMKIT_POSIX && !strcmp(r->name, t->name);
    case T_ID:
        return r->kind == SHMKIT_SYSV && r->shmid == t->id;
    case T_KEY:
        return r->kind == SHMKIT_SYSV && r->key == t->key;
    default:
        return 0;
    }
}

/* The POSIX name still refers to the inode we judged (not a new segment). */
static int same_posix(const struct seg_row *r)
{
    struct stat st;
    char path[sizeof "/dev/shm" + NAME_MAX + 2];
    if (snprintf(path, sizeof path, "/dev/shm%s", r->name) >= (int)sizeof path)
        return 0;
    return lstat(path, &st) == 0 && (uint64_t)st.st_dev == r->dev && (uint64_t)st.st_ino == r->ino;
}

/* Removes a candidate judged stale (or forced). A POSIX one goes only if
 * the kernel confirms nobody has it open or mapped (posix_remove_idle); if
 * it will not say, the /proc scan decides, but only when it saw every
 * process. Returns 0, -EBUSY (kept: in use), -ESTALE (name replaced),
 * -ENOLCK (kept: cannot tell), or the error of the removal. */
static int gc_remove(const struct seg_row *r)
{
    if (r->kind == SHMKIT_SYSV)
        return remove_row(r);
    int rc = posix_remove_idle(r);
    if (rc != -ENOLCK)
        return rc;
    if (r->hidden)
        return -ENOLCK;
    if (!same_posix(r))
        return -ESTALE;
    return shmkit_posix_remove(r->name);
}

/* --older-than DURATION: a whole number of seconds, minutes, hours or days
 * ("90s", "10m", "2h", "3d"; no unit: seconds). 0 or EXIT_USAGE. */
static int opt_duration(const char *opt, const char *arg, int64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    int64_t unit = !*end               ? 1
                   : !strcmp(end, "s") ? 1
                   : !strcmp(end, "m") ? 60
                   : !strcmp(end, "h") ? 3600
                   : !strcmp(end, "d") ? 86400
                                       : 0;
    if (arg[0] < '0' || arg[0] > '9' || errno || unit == 0)
        return cli_usage(opt, "'%s': expected a duration like 90s, 10m, 2h or 3d", arg);
    if (v > (unsigned long long)(INT64_MAX / unit))
        return cli_usage(opt, "'%s': too long", arg);
    *out = (int64_t)v * unit;
    return 0;
}

static int gc_parse(int argc, char **argv, struct gc_args *a)
{
    enum { O_POSIX = 256, O_SYSV, O_OLDER };
    static const struct option opts[] = {
        {"older-than", required_argument, NULL, O_OLDER},
        {"dry-run", no_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'},
        {"posix", no_argument, NULL, O_POSIX},
        {"sysv", no_argument, NULL, O_SYSV},
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c, status;
    while ((c = getopt_long(argc, argv, ":nfvi:k:h", opts, NULL)) != -1) {
        int *flag = c == 'n'       ? &a->dry
                    : c == 'f'     ? &a->force
                    : c == 'v'     ? &a->verbose
                    : c == O_POSIX ? &a->posix
                    : c == O_SYSV  ? &a->sysv
                                   : NULL;
        if (flag) {
            *flag = 1;
        } else if (c == O_OLDER) {
            if (opt_duration("--older-than", optarg, &a->older))
                return EXIT_USAGE;
            a->older_s = optarg;
        } else if (c == 'h') {
            gc_help();
            a->help = 1;
            return EXIT_OKAY;
        } else if ((status = targets_getopt(&a->ts, c, argv))) {
            return status;
        }
    }
    return targets_names(&a->ts, argc, argv, optind);
}

static int gc_validate(struct gc_args *a)
{
    if (a->force && a->ts.n == 0)
        return cli_usage("--force", "only with segments named explicitly");
    if (a->ts.n && (a->posix || a->sysv))
        return cli_usage("--posix/--sysv", "not with segments named explicitly");
    if (!a->posix && !a->sysv)
        a->posix = a->sysv = 1;
    return 0;
}

static int gc_named(const struct gc_args *a, const struct seg_row *r)
{
    int named = 0;
    for (int i = 0; i < a->ts.n; i++)
        named |= target_matches(&a->ts.v[i], r);
    return named;
}

/* Every named target is in ALL; else says why (missing, or something that
 * is not a segment) and returns the exit status. */
static int gc_find_named(const struct gc_args *a, const struct seg_list *all)
{
    for (int i = 0; i < a->ts.n; i++) {
        int found = 0;
        for (size_t j = 0; j < all->n; j++)
            found |= target_matches(&a->ts.v[i], &all->v[j]);
        if (found)
            continue;
        struct seg_row one;
        struct scan_opts none = {0};
        int rc = scan_target(&a->ts.v[i], &none, &one);
        if (rc == 0)
            row_free(&one);
        return cli_fail(a->ts.v[i].label, rc < 0 ? rc : -ENOENT);
    }
    return EXIT_OKAY;
}

/* Judges every row of ALL once; the candidates go to TODO (without their
 * process lists) for a second look. Returns the exit status so far. */
static int gc_judge(const struct gc_args *a, const struct seg_list *all, struct seg_list *todo)
{
    char why[512], label[LABEL_MAX];
    int status = EXIT_OKAY;
    for (size_t j = 0; j < all->n; j++) {
        const struct seg_row *r = &all->v[j];
        int named = gc_named(a, r);
        if (a->ts.n && !named)
            continue;
        row_label(r, label, sizeof label);
        if (named && r->use_unknown && !may_remove(r)) {
            /* named, and not ours to remove whatever the answer would be */
            worst(&status, cli_fail(label, -EPERM));
            continue;
        }
        if (!gc_decide(a, r, named, why, sizeof why)) {
            if (a->verbose || named || r->status == ST_PERSIST)
                say("kept", label, why); /* a persistent one always: gc left it on purpose */
            continue;
        }
        if (!named && !may_remove(r)) {
            /* another user's: not ours to remove, and no reason to fail */
            snprintf(why, sizeof why, "not yours (owner %s); left to its owner or root",
                     user_name(r->uid));
            say("kept", label, why);
            continue;
        }
        struct seg_row *v = grow_array(todo->v, &todo->cap, todo->n, sizeof *v, 16);
        if (!v)
            return -1; /* the caller reports it */
        todo->v = v;
        todo->v[todo->n] = *r;
        todo->v[todo->n].users = NULL;
        todo->v[todo->n].n_users = 0;
        todo->n++;
    }
    return status;
}

/* Acts on one candidate R judged again; returns its exit status. */
static int gc_act(const struct gc_args *a, const struct seg_row *r)
{
    char why[512], label[LABEL_MAX];
    int named = gc_named(a, r);
    row_label(r, label, sizeof label);
    if (!gc_decide(a, r, named, why, sizeof why)) {
        say("kept", label, "in use again");
        return EXIT_OKAY;
    }
    if (a->dry) {
        say("would remove", label, why);
        return EXIT_OKAY;
    }
    int rc = gc_remove(r);
    if (rc == -ENOENT)
        return EXIT_OKAY; /* someone else removed it first */
    if (rc == -EBUSY || rc == -ESTALE || rc == -ENOLCK) {
        say("kept", label,
            rc == -EBUSY    ? "in use again (open or mapped, the kernel says)"
            : rc == -ESTALE ? "the name now refers to another file"
                            : "processes that could not be inspected may use it");
        return EXIT_OKAY;
    }
    if ((rc == -EPERM || rc == -EACCES) && !named) {
        snprintf(why, sizeof why, "not yours (%s); left to its owner or root", shmkit_strerror(rc));
        say("kept", label, why);
        return EXIT_OKAY;
    }
    if (rc < 0)
        return cli_fail(label, rc);
    say("removed", label, why);
    return EXIT_OKAY;
}

static int gc_run(const struct gc_args *a)
{
    struct seg_list all = {0}, todo = {0};
    struct scan_opts so = {.posix = a->posix, .sysv = a->sysv, .header = 1, .procs = 1, .probe = 1};
    int rc = scan(&so, &all);
    if (rc < 0)
        return cli_fail("gc", rc);
    int status = gc_find_named(a, &all);
    if (status)
        goto free_lists;
    if ((status = gc_judge(a, &all, &todo)) < 0) {
        status = cli_fail("gc", -ENOMEM);
        goto free_lists;
    }
    if (a->verbose && all.hidden)
        printf("note: %d process%s could not be inspected; a POSIX segment is removed only "
               "if the kernel confirms nobody uses it\n",
               all.hidden, all.hidden == 1 ? "" : "es");
    /* a process may have attached since the scan: look again just before acting */
    if (!a->dry && todo.n && (rc = scan_refresh(&todo)) < 0) {
        status = cli_fail("gc", rc);
        goto free_lists;
    }
    for (size_t j = 0; j < todo.n; j++)
        worst(&status, gc_act(a, &todo.v[j]));
free_lists:
    free(todo.v);
    seg_list_free(&all);
    return status;
}

int cmd_gc(int argc, char **argv)
{
    struct gc_args a = {.older = -1};
    int status = gc_parse(argc, argv, &a);
    if (!status && !a.help && !(status = gc_validate(&a)))
        status = gc_run(&a);
    targets_free(&a.ts);
    return status;
}
