/* cmd_info.c - `shmkit info`: every field the system and the header know
 * about one segment, who uses it, and what its layout says about itself. */
#include "cli.h"

#include <fcntl.h>
#include <getopt.h>
#include <string.h>
#include <time.h>

static void info_help(void)
{
    fputs("Usage:\n"
          " shmkit info NAME | --id ID | --key KEY | --ftok PATH:PROJ | --memfd PID:FD [options]\n"
          "\n"
          "Show everything about one segment: system fields, the shmkit header,\n"
          "the seal, the processes using it, and its layout's live statistics.\n"
          "\n"
          "Options:\n"
          "  -i, --id ID          System V segment by shmid\n"
          "  -k, --key KEY        System V segment by key (decimal or 0x hex)\n"
          "      --ftok PATH:PROJ System V segment by the key ftok(PATH, PROJ) makes\n"
          "  -m, --memfd PID:FD   memfd held by process PID as descriptor FD\n"
          "  -J, --json           JSON output: {\"segment\", \"processes\", \"stats\"}\n"
          "  -h, --help           display this help\n",
          stdout);
}

static const char *kind_word(int kind)
{
    return kind == SHMKIT_POSIX ? "posix" : kind == SHMKIT_SYSV ? "sysv" : "memfd";
}

static void emit_time(struct emit *e, const char *key, int64_t t)
{
    char buf[64];
    emit_str(e, key, t > 0 ? fmt_time_iso(t, buf, sizeof buf) : NULL);
}

static void emit_seals(struct emit *e, uint32_t seals)
{
    char buf[128] = "";
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {F_SEAL_SEAL, "seal"},
        {F_SEAL_SHRINK, "shrink"},
        {F_SEAL_GROW, "grow"},
        {F_SEAL_WRITE, "write"},
#ifdef F_SEAL_FUTURE_WRITE
        {F_SEAL_FUTURE_WRITE, "future-write"},
#endif
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (seals & names[i].bit)
            snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", buf[0] ? "," : "",
                     names[i].name);
    emit_str(e, "memfd_seals", buf[0] ? buf : "none");
}

static void emit_row(struct emit *e, const struct seg_row *r)
{
    char buf[64];
    int json = e->mode == EM_JSON;
    emit_str(e, "kind", kind_word(r->kind));
    if (r->kind == SHMKIT_SYSV) {
        emit_fmt(e, "key", "0x%08x", (unsigned)r->key);
        emit_num(e, "id", r->shmid);
    } else {
        emit_str(e, "name", r->name);
    }
    if (r->kind == SHMKIT_MEMFD) {
        emit_num(e, "pid", r->memfd_pid);
        emit_num(e, "fd", r->memfd_fd);
    }
    if (json)
        emit_num(e, "size", (long long)r->size);
    else
        emit_fmt(e, "size", "%llu (%s)", (unsigned long long)r->size,
                 fmt_human(r->size, buf, sizeof buf));
    emit_str(e, "perms", fmt_perms(r->mode, buf, sizeof buf));
    emit_fmt(e, "mode", "%04o", r->mode);
    emit_str(e, "owner", user_name(r->uid));
    emit_num(e, "uid", r->uid);
    emit_num(e, "gid", r->gid);
    if (r->nattch >= 0)
        emit_num(e, "nattch", r->nattch);
    else
        emit_str(e, "nattch", NULL);
    if (r->kind != SHMKIT_SYSV)
        emit_num(e, "holders", r->holders < 0 ? 0 : r->holders);
    if (r->hidden && json)
        emit_num(e, "uninspected", r->hidden);
    else if (r->hidden)
        emit_fmt(e, "uninspected",
                 "%d process%s (not allowed to read their maps, or past "
                 "the scan's bounds)",
                 r->hidden, r->hidden == 1 ? "" : "es");
    if (r->busy_unseen)
        emit_str(e, "in_use", "yes (the kernel says a process has it open or mapped)");
    else if (r->use_unknown)
        emit_str(e, "in_use", "unknown (processes could not be inspected)");
    if (r->kind == SHMKIT_SYSV) {
        emit_num(e, "cpid", r->cpid);
        emit_num(e, "lpid", r->lpid);
        emit_time(e, "atime", r->atime);
        emit_time(e, "dtime", r->dtime);
    }
    emit_time(e, "ctime", r->ctime);
    emit_str(e, "status", status_name(r->status));
    if (r->hdr_rc == 0)
        emit_str(e, "layout", shmkit_layout_name(r->hdr.layout));
    else
        emit_str(e, "layout", r->hdr_rc == SHMKIT_ENOTSHMKIT ? "raw" : NULL);
    if (r->hdr_rc == 0)
        emit_str(e, "header", "valid");
    else if (r->hdr_rc == SHMKIT_ENOTSHMKIT)
        emit_str(e, "header", "none (not a shmkit segment)");
    else
        emit_fmt(e, "header", "%s: %s", r->hdr_rc < -SHMKIT_ERRNO_BASE ? "invalid" : "unreadable",
                 shmkit_strerror(r->hdr_rc));
    if (r->hdr_rc != 0)
        return;
    emit_num(e, "format", r->hdr.format >> 16);
    emit_num(e, "payload_size", (long long)r->hdr.payload_size);
    emit_num(e, "creator_pid", r->hdr.creator_pid);
    emit_str(e, "creator_alive", r->creator_alive < 0 ? NULL : r->creator_alive ? "yes" : "no");
    emit_num(e, "creator_uid", r->hdr.creator_uid);
    emit_time(e, "created", r->hdr.created);
    /* yes: created with --keep / SHMKIT_PERSIST, plain gc keeps it */
    emit_str(e, "persistent", r->hdr.persistent ? "yes" : "no");
    if (r->hdr.initialising) /* only then: its creator's initialiser runs (or it died there) */
        emit_str(e, "initialising", "yes");
    emit_num(e, "generation", (long long)r->hdr.generation);
}

static void emit_procs(struct emit *e, const struct seg_row *r)
{
    char comm[64], safe[80];
    if (e->mode == EM_JSON) {
        fputs(", \"processes\": [", e->f);
        for (size_t i = 0; i < r->n_users; i++) {
            const struct pid_use *u = &r->users[i];
            fprintf(e->f, "%s{\"pid\": %d, \"command\": ", i ? ", " : "", u->pid);
            json_str(e->f, proc_comm(u->pid, comm, sizeof comm));
            fprintf(e->f, ", \"maps\": %s, \"fd\": %s}", u->maps ? "true" : "false",
                    u->fds ? "true" : "false");
        }
        fputs("]", e->f);
        return;
    }
    fprintf(e->f, "processes:%s\n", r->n_users ? "" : "    none found");
    if (r->n_users)
        fprintf(e->f, "  %7s  %-16s %s\n", "PID", "COMMAND", "USES");
    for (size_t i = 0; i < r->n_users; i++) {
        const struct pid_use *u = &r->users[i];
        /* another user's process names itself: escaped like every outside string */
        fprintf(e->f, "  %7d  %-16s %s%s%s\n", u->pid,
                esc_str(proc_comm(u->pid, comm, sizeof comm), 0, safe, sizeof safe),
                u->maps ? "maps" : "", u->maps && u->fds ? "," : "", u->fds ? "fd" : "");
    }
}

/* The seal (checked through SEG, the read-only handle; NULL: none) and a
 * memfd's kernel seals. */
static void emit_seal(struct emit *e, const struct seg_row *r, shmkit_seg *seg)
{
    if (r->hdr_rc == 0) {
        if (!r->hdr.sealed) {
            emit_str(e, "sealed", "no");
        } else if (!seg) {
            emit_str(e, "sealed", "yes (not checked: cannot map it)");
        } else {
            int v = shmkit_seg_verify(seg);
            emit_str(e, "sealed",
                     v == 0                  ? "yes, intact"
                     : v == SHMKIT_ETAMPERED ? "yes, TAMPERED"
                                             : "yes, unchecked");
        }
    }
    if (seg && r->kind == SHMKIT_MEMFD) {
        struct shmkit_info si;
        if (shmkit_seg_stat(seg, &si) == 0)
            emit_seals(e, si.seals);
    }
}

/* What the layout says about itself: a section of text, a JSON object, or
 * null without a handle. */
static void emit_stats(const struct emit *e, const struct target *t, const struct seg_row *r,
                       shmkit_seg *seg)
{
    int json = e->mode == EM_JSON;
    if (!seg) {
        if (json)
            fputs("null", e->f);
        return;
    }
    struct emit se = {.f = e->f, .mode = e->mode};
    if (json)
        fputs("{", e->f);
    else
        fprintf(e->f, "%s stats:\n", shmkit_layout_name(r->hdr.layout));
    int rc = layout_stats(t, seg, r->hdr.layout, &se, NULL, 0);
    if (json)
        fputs("}", e->f);
    if (rc < 0 && !json)
        fprintf(e->f, "  (%s)\n", shmkit_strerror(rc));
}

int cmd_info(int argc, char **argv)
{
    cli_init_wait_ms = 1; /* looking: a creator still initialising is shown, not waited for */
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"memfd", required_argument, NULL, 'm'},
        {"json", no_argument, NULL, 'J'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    struct target t;
    int json = 0, c, status = EXIT_OKAY;
    while ((c = getopt_long(argc, argv, ":i:k:m:Jh", opts, NULL)) != -1) {
        switch (c) {
        case 'J':
            json = 1;
            break;
        case 'h':
            info_help();
            goto free_targets;
        default:
            if ((status = targets_getopt(&ts, c, argv)))
                goto free_targets;
            break;
        }
    }
    if ((status = targets_one(&ts, argc, argv, optind, &t)))
        goto free_targets;

    struct scan_opts so = {.header = 1, .procs = 1, .pids = 1};
    struct seg_row r;
    int rc = scan_target(&t, &so, &r);
    if (rc < 0) {
        status = cli_fail(t.label, rc);
        goto free_targets;
    }
    /* the handle (a read-only mapping) is for the seal and the layout stats */
    shmkit_seg *seg = NULL;
    int raw = 0;
    if (r.hdr_rc == 0 && open_target(&t, SHMKIT_RDONLY, &seg, &raw) < 0)
        seg = NULL;

    struct emit e = {.f = stdout, .mode = json ? EM_JSON : EM_TEXT};
    if (json)
        fputs("{\"segment\": {", stdout);
    emit_row(&e, &r);
    emit_seal(&e, &r, seg);
    if (json)
        fputs("}", stdout);
    emit_procs(&e, &r);
    if (json)
        fputs(", \"stats\": ", stdout);
    emit_stats(&e, &t, &r, seg);
    if (json)
        fputs("}\n", stdout);
    shmkit_close(seg);
    row_free(&r);
free_targets:
    targets_free(&ts);
    return status;
}
