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
#include <unistd.h>

static void rm_help(void)
{
    fputs("Usage:\n"
          " shmkit rm NAME... [--id ID]... [--key KEY]... [-v]\n"
          "\n"
          "Remove segments: shm_unlink for POSIX names, IPC_RMID for System V. Every\n"
          "named segment must exist, or nothing is removed. Processes that have a\n"
          "segment mapped keep their mapping until they unmap it.\n"
          "\n"
          "Options:\n"
          "  -i, --id ID     System V segment by shmid (repeatable)\n"
          "  -k, --key KEY   System V segment by key (repeatable)\n"
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

int cmd_rm(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'}, {"key", required_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},  {"help", no_argument, NULL, 'h'},
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
            int st = cli_fail(ts.v[i].label, rc);
            if (st > status)
                status = st;
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
          " shmkit gc [--dry-run] [-v] [--posix] [--sysv]\n"
          " shmkit gc [--dry-run] [-v] [--force] NAME... [--id ID]... [--key KEY]...\n"
          "\n"
          "Remove shmkit segments left behind: the creator recorded in the header\n"
          "(pid and start time) is dead and no process maps the segment or holds it\n"
          "open. Segments without a valid shmkit header (foreign or corrupt) are\n"
          "never removed, unless named explicitly together with --force; even then\n"
          "a segment that a process maps or holds open is kept. A POSIX segment is\n"
          "removed only when the kernel confirms no process has it open or mapped\n"
          "(a write lease: its owner or root), or, where it will not say, when\n"
          "every process could be inspected. Another user's segment that cannot be\n"
          "removed is reported as kept (exit 0) unless it was named.\n"
          "\n"
          "Options:\n"
          "  -n, --dry-run   print what would be removed; remove nothing\n"
          "  -f, --force     also remove the named foreign or corrupt segments\n"
          "  -v, --verbose   also print what is kept, and why\n"
          "      --posix     only POSIX segments\n"
          "      --sysv      only System V segments\n"
          "  -i, --id ID     consider only this System V segment (repeatable)\n"
          "  -k, --key KEY   consider only this System V segment (repeatable)\n"
          "  -h, --help      display this help\n",
          stdout);
}

/* Whether R goes, and why. */
static int gc_decide(const struct seg_row *r, int named, int force, char *why, size_t len)
{
    int in_use = r->nattch > 0 || r->holders > 0 || r->nattch < 0 || r->busy_unseen;
    if (r->status == ST_DEST) {
        snprintf(why, len, "already removed, destroyed when its last process detaches");
        return 0;
    }
    if (r->status == ST_STALE) {
        snprintf(why, len, "creator pid %d is gone and nothing maps it", r->hdr.creator_pid);
        return 1;
    }
    if (r->status == ST_FOREIGN || r->status == ST_CORRUPT) {
        const char *what = r->status == ST_FOREIGN ? "not a shmkit segment" : "corrupt header";
        if (named && force && !in_use) {
            snprintf(why, len, "%s, forced, nothing maps it", what);
            return 1;
        }
        if (named && force)
            snprintf(why, len, "%s, but %s", what,
                     r->nattch > 0 ? "still mapped" : r->holders > 0 ? "still held open"
                                                                      : "maybe in use");
        else
            snprintf(why, len, "%s (name it with --force to remove it)", what);
        return 0;
    }
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

int cmd_gc(int argc, char **argv)
{
    enum { O_POSIX = 256, O_SYSV };
    static const struct option opts[] = {
        {"dry-run", no_argument, NULL, 'n'}, {"force", no_argument, NULL, 'f'},
        {"verbose", no_argument, NULL, 'v'}, {"posix", no_argument, NULL, O_POSIX},
        {"sysv", no_argument, NULL, O_SYSV}, {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    struct seg_list all = {0}, todo = {0};
    int dry = 0, force = 0, verbose = 0, posix = 0, sysv = 0, c, status = EXIT_OKAY;
    char why[512], label[LABEL_MAX];
    while ((c = getopt_long(argc, argv, ":nfvi:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'n':
            dry = 1;
            break;
        case 'f':
            force = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case O_POSIX:
            posix = 1;
            break;
        case O_SYSV:
            sysv = 1;
            break;
        case 'h':
            gc_help();
            goto free_targets;
        default:
            if ((status = targets_getopt(&ts, c, argv)))
                goto free_targets;
            break;
        }
    }
    if ((status = targets_names(&ts, argc, argv, optind)))
        goto free_targets;
    if (force && ts.n == 0) {
        status = cli_usage("--force", "only with segments named explicitly");
        goto free_targets;
    }
    if (ts.n && (posix || sysv)) {
        status = cli_usage("--posix/--sysv", "not with segments named explicitly");
        goto free_targets;
    }
    if (!posix && !sysv)
        posix = sysv = 1;

    struct scan_opts so = {.posix = posix, .sysv = sysv, .header = 1, .procs = 1, .probe = 1};
    int rc = scan(&so, &all);
    if (rc < 0) {
        status = cli_fail("gc", rc);
        goto free_targets;
    }
    for (int i = 0; i < ts.n; i++) {
        int found = 0;
        for (size_t j = 0; j < all.n; j++)
            found |= target_matches(&ts.v[i], &all.v[j]);
        if (!found) {
            /* say why: missing, or something that is not a segment */
            struct seg_row one;
            struct scan_opts none = {0};
            rc = scan_target(&ts.v[i], &none, &one);
            if (rc == 0)
                row_free(&one);
            status = cli_fail(ts.v[i].label, rc < 0 ? rc : -ENOENT);
            goto free_lists;
        }
    }
    /* judge everything once; keep the candidates for a second look */
    for (size_t j = 0; j < all.n; j++) {
        struct seg_row *r = &all.v[j];
        int named = 0;
        for (int i = 0; i < ts.n; i++)
            named |= target_matches(&ts.v[i], r);
        if (ts.n && !named)
            continue;
        row_label(r, label, sizeof label);
        if (named && r->use_unknown && !may_remove(r)) {
            /* named, and not ours to remove whatever the answer would be */
            int st = cli_fail(label, -EPERM);
            if (st > status)
                status = st;
            continue;
        }
        if (!gc_decide(r, named, force, why, sizeof why)) {
            if (verbose || named)
                say("kept", label, why);
            continue;
        }
        if (!named && !may_remove(r)) {
            /* another user's: not ours to remove, and no reason to fail */
            snprintf(why, sizeof why, "not yours (owner %s); left to its owner or root",
                     user_name(r->uid));
            say("kept", label, why);
            continue;
        }
        struct seg_row *v = grow_array(todo.v, &todo.cap, todo.n, sizeof *v, 16);
        if (!v) {
            status = cli_fail("gc", -ENOMEM);
            goto free_lists;
        }
        todo.v = v;
        todo.v[todo.n] = *r;
        todo.v[todo.n].users = NULL;
        todo.v[todo.n].n_users = 0;
        todo.n++;
    }
    if (verbose && all.hidden)
        printf("note: %d process%s could not be inspected; a POSIX segment is removed only "
               "if the kernel confirms nobody uses it\n",
               all.hidden, all.hidden == 1 ? "" : "es");
    /* a process may have attached since the scan: look again just before acting */
    if (!dry && todo.n && (rc = scan_refresh(&todo)) < 0) {
        status = cli_fail("gc", rc);
        goto free_lists;
    }
    for (size_t j = 0; j < todo.n; j++) {
        struct seg_row *r = &todo.v[j];
        int named = 0;
        for (int i = 0; i < ts.n; i++)
            named |= target_matches(&ts.v[i], r);
        row_label(r, label, sizeof label);
        if (!gc_decide(r, named, force, why, sizeof why)) {
            say("kept", label, "in use again");
            continue;
        }
        if (dry) {
            say("would remove", label, why);
            continue;
        }
        rc = gc_remove(r);
        if (rc == -ENOENT)
            continue; /* someone else removed it first */
        if (rc == -EBUSY || rc == -ESTALE || rc == -ENOLCK) {
            say("kept", label,
                rc == -EBUSY    ? "in use again (open or mapped, the kernel says)"
                : rc == -ESTALE ? "the name now refers to another file"
                                : "processes that could not be inspected may use it");
            continue;
        }
        if ((rc == -EPERM || rc == -EACCES) && !named) {
            snprintf(why, sizeof why, "not yours (%s); left to its owner or root",
                     shmkit_strerror(rc));
            say("kept", label, why);
            continue;
        }
        if (rc < 0) {
            int st = cli_fail(label, rc);
            if (st > status)
                status = st;
            continue;
        }
        say("removed", label, why);
    }
free_lists:
    free(todo.v);
    seg_list_free(&all);
free_targets:
    targets_free(&ts);
    return status;
}
