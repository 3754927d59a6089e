/*
 * scan.c - which segments exist and what the system and their headers say
 * about them: the rows of `ls`, `info` and `gc`, and their STATUS.
 *
 *   POSIX   readdir(/dev/shm); each header is read with pread() into a local
 *           buffer (no mapping: a truncation racing us cannot SIGBUS, and
 *           our own scan never shows up as an "attached" process).
 *   SYSV    /proc/sysvipc/shm (or shmctl(SHM_STAT) when it is unreadable);
 *           the header is read through a read-only RAW attach of the
 *           library, after the kernel's figures were taken.
 *   MEMFD   found by the /proc scan (procscan.c), which also says who maps
 *           and holds every segment.
 *
 * Every header is copied once into a local buffer and judged by
 * shmkit_header_check(); nothing else in it is trusted. Files are opened
 * through open.c, never blocking on what another user controls.
 */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *status_name(int st)
{
    switch (st) {
    case ST_OK:
        return "ok";
    case ST_STALE:
        return "stale";
    case ST_CORRUPT:
        return "corrupt";
    case ST_FOREIGN:
        return "foreign";
    case ST_DEST:
        return "dest";
    case ST_PERSIST:
        return "persistent";
    case ST_TAMPERED:
        return "tampered";
    default:
        return "unknown";
    }
}

struct seg_row *seg_list_add(struct seg_list *l)
{
    struct seg_row *v = grow_array(l->v, &l->cap, l->n, sizeof *v, 64);
    if (!v)
        return NULL;
    l->v = v;
    struct seg_row *r = &l->v[l->n++];
    memset(r, 0, sizeof *r);
    r->shmid = -1;
    r->nattch = -1;
    r->holders = -1;
    r->hdr_rc = 1;
    r->creator_alive = -1;
    r->status = ST_UNKNOWN;
    r->clients = r->pending = -1;
    return r;
}

void row_free(struct seg_row *r)
{
    if (!r)
        return;
    free(r->users);
    r->users = NULL;
    r->n_users = 0;
}

void seg_list_free(struct seg_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        row_free(&l->v[i]);
    free(l->v);
    memset(l, 0, sizeof *l);
}

/* ---- headers ---- */

/* BUF holds the first N bytes (a local copy) of a segment of MAPPED bytes. */
static void classify(struct seg_row *r, const unsigned char *buf, size_t n, uint64_t mapped)
{
    memset(&r->hdr, 0, sizeof r->hdr);
    if (n < 8 || memcmp(buf, SHMKIT_MAGIC, 8)) {
        r->hdr_rc = SHMKIT_ENOTSHMKIT;
        return;
    }
    r->hdr_rc = shmkit_header_check(buf, n, mapped, &r->hdr);
}

static void header_fd(struct seg_row *r, int fd)
{
    unsigned char buf[SHMKIT_HEADER_SIZE];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    if (n < 0) {
        r->hdr_rc = -errno;
        return;
    }
    classify(r, buf, (size_t)n, r->size);
}

static int header_sysv(struct seg_row *r)
{
    unsigned char buf[SHMKIT_HEADER_SIZE];
    if (r->size < 8) {
        r->hdr_rc = SHMKIT_ENOTSHMKIT;
        return 0;
    }
    shmkit_seg *seg = NULL;
    struct shmkit_opts o;
    memset(&o, 0, sizeof o);
    o.kind = SHMKIT_SYSV;
    o.flags = SHMKIT_SHMID | SHMKIT_RAW | SHMKIT_RDONLY;
    o.shmid = r->shmid;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        if (rc == -EINVAL || rc == -EIDRM)
            return -ENOENT; /* removed since it was listed */
        r->hdr_rc = rc;
        return 0;
    }
    size_t len = shmkit_seg_size(seg);
    size_t n = len < sizeof buf ? len : sizeof buf;
    memcpy(buf, shmkit_seg_data(seg), n); /* the one copy of the header */
    shmkit_close(seg);
    classify(r, buf, n, len);
    return 0;
}

/* ---- creator liveness, cached by pid ---- */

struct alive_slot {
    int32_t pid;
    uint64_t start;
    int alive;
};
static struct alive_slot alive_cache[1024];

static int creator_alive(const struct shmkit_info *h)
{
    struct shmkit_owner o = {.pid = h->creator_pid, .pad = 0, .start = h->creator_start};
    if (o.pid <= 0)
        return -1; /* no creator recorded: unknown, never "dead" */
    struct alive_slot *s = &alive_cache[(uint32_t)o.pid % 1024];
    if (s->pid == o.pid && s->start == o.start)
        return s->alive;
    s->pid = o.pid;
    s->start = o.start;
    s->alive = shmkit_owner_alive(&o);
    return s->alive;
}

/* What the inode says, for a POSIX segment or a memfd alike. */
void row_stat(struct seg_row *r, const struct stat *st)
{
    r->dev = (uint64_t)st->st_dev;
    r->ino = (uint64_t)st->st_ino;
    r->mode = st->st_mode & 0777;
    r->uid = st->st_uid;
    r->gid = st->st_gid;
    r->size = (uint64_t)st->st_size;
    r->ctime = st->st_ctime;
}

/* ---- POSIX ---- */

static int probe_posix(int dirfd, const char *ent, struct seg_row *r, int header)
{
    struct stat st;
    if (strlen(ent) > NAME_MAX)
        return -ENAMETOOLONG;
    int fd = open_regular(dirfd, ent, O_RDONLY, 0, &st);
    if ((fd == -EACCES || fd == -EPERM) && S_ISREG(st.st_mode))
        r->hdr_rc = fd; /* listed, but its contents are not ours to read */
    else if (fd < 0)
        return fd;
    r->kind = SHMKIT_POSIX;
    /* "/" + NAME_MAX bytes fit r->name exactly: a name is never cut */
    snprintf(r->name, sizeof r->name, "/%s", ent);
    row_stat(r, &st);
    r->atime = st.st_atime;
    if (fd >= 0) {
        if (header)
            header_fd(r, fd);
        close(fd);
    }
    return 0;
}

static int scan_posix(struct seg_list *l, int header)
{
    int dirfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return errno == ENOENT ? 0 : -errno;
    DIR *d = fdopendir(dirfd);
    if (!d) {
        int err = -errno;
        close(dirfd);
        return err;
    }
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' && (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
            continue;
        if (!strncmp(e->d_name, "sem.", 4))
            continue; /* POSIX named semaphores live here too */
        if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
            continue;
        struct seg_row *r = seg_list_add(l);
        if (!r) {
            rc = -ENOMEM;
            break;
        }
        if (probe_posix(dirfd, e->d_name, r, header) < 0)
            l->n--; /* vanished, or not a regular file */
    }
    closedir(d);
    return rc;
}

/* ---- System V ---- */

static void sysv_from_ds(struct seg_row *r, int id, const struct shmid_ds *ds)
{
    r->kind = SHMKIT_SYSV;
    r->shmid = id;
    r->key = (int32_t)ds->shm_perm.__key;
    r->mode = ds->shm_perm.mode & 0777;
    r->dest = (ds->shm_perm.mode & SHM_DEST) != 0; /* IPC_RMID while attached */
    r->uid = ds->shm_perm.uid;
    r->gid = ds->shm_perm.gid;
    r->cuid = ds->shm_perm.cuid;
    r->size = ds->shm_segsz;
    r->nattch = (int64_t)ds->shm_nattch;
    r->cpid = ds->shm_cpid;
    r->lpid = ds->shm_lpid;
    r->ctime = ds->shm_ctime;
    r->atime = ds->shm_atime;
    r->dtime = ds->shm_dtime;
    snprintf(r->name, sizeof r->name, "0x%08x", (unsigned)r->key);
}

/* Fallback when /proc/sysvipc/shm cannot be read: walk the kernel's index. */
static int scan_sysv_shmctl(struct seg_list *l)
{
    struct shm_info info;
    int max = shmctl(0, SHM_INFO, (struct shmid_ds *)(void *)&info);
    if (max < 0)
        return -errno;
    for (int idx = 0; idx <= max; idx++) {
        struct shmid_ds ds;
        int id = shmctl(idx, SHM_STAT, &ds);
        if (id < 0)
            continue;
        struct seg_row *r = seg_list_add(l);
        if (!r)
            return -ENOMEM;
        sysv_from_ds(r, id, &ds);
    }
    return 0;
}

static int scan_sysv(struct seg_list *l, int header)
{
    size_t first = l->n;
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (!f) {
        int rc = scan_sysv_shmctl(l);
        if (rc < 0)
            return rc;
    } else {
        char line[512];
        if (!fgets(line, sizeof line, f)) {
            fclose(f);
            return 0;
        }
        while (fgets(line, sizeof line, f)) {
            /* key shmid perms size cpid lpid nattch uid gid cuid cgid atime dtime ctime ... */
            long long v[16];
            char *p = line, *end;
            int k = 0;
            for (; k < 16; k++, p = end) {
                v[k] = strtoll(p, &end, k == 2 ? 8 : 10);
                if (end == p)
                    break;
            }
            if (k < 14)
                continue;
            int key = (int)v[0], id = (int)v[1], cpid = (int)v[4], lpid = (int)v[5];
            unsigned perms = (unsigned)v[2], uid = (unsigned)v[7], gid = (unsigned)v[8];
            unsigned cuid = (unsigned)v[9];
            unsigned long long size = (unsigned long long)v[3], nattch = (unsigned long long)v[6];
            long long atime = v[11], dtime = v[12], ctime = v[13];
            struct seg_row *r = seg_list_add(l);
            if (!r) {
                fclose(f);
                return -ENOMEM;
            }
            struct shmid_ds ds;
            memset(&ds, 0, sizeof ds);
            ds.shm_perm.__key = key;
            ds.shm_perm.mode = (unsigned short)perms; /* with SHM_DEST, SHM_LOCKED */
            ds.shm_perm.uid = uid;
            ds.shm_perm.gid = gid;
            ds.shm_perm.cuid = cuid;
            ds.shm_segsz = (size_t)size;
            ds.shm_nattch = (shmatt_t)nattch;
            ds.shm_cpid = cpid;
            ds.shm_lpid = lpid;
            ds.shm_atime = (time_t)atime;
            ds.shm_dtime = (time_t)dtime;
            ds.shm_ctime = (time_t)ctime;
            sysv_from_ds(r, id, &ds);
            /* no page resident or swapped: never written, all zeros: no header to read
             * (and attaching to read it would allocate a page) */
            if (k == 16 && v[14] == 0 && v[15] == 0)
                r->hdr_rc = SHMKIT_ENOTSHMKIT;
        }
        fclose(f);
    }
    if (!header)
        return 0;
    /* headers after all kernel figures are taken: our attach must not show */
    size_t out = first;
    for (size_t i = first; i < l->n; i++) {
        if (l->v[i].hdr_rc == 1 && header_sysv(&l->v[i]) < 0)
            continue; /* vanished */
        if (out != i)
            l->v[out] = l->v[i];
        out++;
    }
    l->n = out;
    return 0;
}

/* Whether any process at all has the POSIX segment of R open or mapped,
 * asked of the kernel: it grants a write lease only when no other open
 * file (a descriptor, or the one a mapping holds) refers to the inode. It
 * sees what /proc does not show us: processes we may not inspect, or in
 * another PID namespace. Only the owner (or CAP_LEASE) may take a lease.
 * The lease is kept only while *FD_OUT is wanted (then the caller holds it
 * and must release it): an open by someone else meanwhile waits for us.
 * Returns 1 in use, 0 idle, -ENOLCK when the kernel would not tell,
 * -ESTALE (the name is another file now), -ENOENT, or -errno. */
static int lease_idle(const struct seg_row *r, int *fd_out)
{
    struct stat st;
    int dirfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        return -errno;
    int fd = open_regular(dirfd, r->name + 1, O_RDONLY, 0, &st);
    close(dirfd);
    if (fd == E_NOTSEG || fd == -EAGAIN)
        return -ESTALE; /* not the file judged (any more) */
    if (fd < 0)
        return fd == -EACCES || fd == -EPERM ? -ENOLCK : fd;
    if ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino) {
        close(fd);
        return -ESTALE;
    }
    /* a lease break would send us SIGIO (default: terminate); we hold a
     * lease for a few system calls, so the signal is ignored from now on */
    signal(SIGIO, SIG_IGN);
    int rc = 0;
    if (fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
        rc = errno == EAGAIN ? 1 : -ENOLCK; /* EACCES: not ours; EINVAL: leases off */
    if (rc == 0 && fd_out) {
        *fd_out = fd; /* leased: the caller releases (F_UNLCK) and closes */
        return 0;
    }
    if (rc == 0)
        fcntl(fd, F_SETLEASE, F_UNLCK);
    close(fd);
    return rc;
}

int posix_remove_idle(const struct seg_row *r)
{
    int fd = -1;
    int rc = lease_idle(r, &fd);
    if (rc == 1)
        return -EBUSY;
    if (rc < 0)
        return rc;
    /* leased: nobody else has it open and no one can open it until we let
     * go; the name must still be the inode judged */
    struct stat st;
    int dirfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0)
        rc = -errno;
    else if (fstatat(dirfd, r->name + 1, &st, AT_SYMLINK_NOFOLLOW) < 0)
        rc = -errno;
    else if ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino)
        rc = -ESTALE;
    else if (unlinkat(dirfd, r->name + 1, 0) < 0)
        rc = -errno;
    if (dirfd >= 0)
        close(dirfd);
    fcntl(fd, F_SETLEASE, F_UNLCK);
    close(fd);
    return rc;
}

static int pid_cmp(const void *a, const void *b)
{
    const struct pid_use *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

static void set_status(struct seg_row *r, int probe)
{
    if (r->n_users > 1)
        qsort(r->users, r->n_users, sizeof *r->users, pid_cmp);
    r->use_unknown = r->busy_unseen = 0;
    if (r->hdr_rc == SHMKIT_ENOTSHMKIT) {
        r->status = ST_FOREIGN;
    } else if (r->hdr_rc < 0 && r->hdr_rc > -SHMKIT_ERRNO_BASE) {
        r->status = ST_UNKNOWN; /* unreadable: -errno */
    } else if (r->hdr_rc == 1) {
        r->status = ST_UNKNOWN;
    } else if (r->hdr_rc != 0) {
        r->status = ST_CORRUPT;
    } else {
        r->creator_alive = creator_alive(&r->hdr);
        int in_use = r->nattch != 0 || r->holders > 0;
        r->status = (r->creator_alive == 0 && !in_use) ? ST_STALE : ST_OK;
    }
    /* A POSIX segment nobody we inspected uses: the kernel knows better
     * (when it tells us); without it, uninspected processes forbid "stale" */
    if (r->status == ST_STALE && r->kind == SHMKIT_POSIX && (probe || r->hidden)) {
        int rc = lease_idle(r, NULL);
        if (rc == 1) {
            r->busy_unseen = 1;
            r->status = ST_OK;
        } else if (rc < 0 && r->hidden) {
            r->use_unknown = 1;
            r->status = ST_UNKNOWN;
        }
    }
    if (r->status == ST_STALE && r->hdr.persistent)
        r->status = ST_PERSIST; /* meant to outlive its creator: gc keeps it */
    if (r->dest)
        r->status = ST_DEST; /* what matters most about it: it is going */
}

static int row_cmp(const void *a, const void *b)
{
    const struct seg_row *x = a, *y = b;
    static const int order[] = {[SHMKIT_POSIX] = 0, [SHMKIT_SYSV] = 1, [SHMKIT_MEMFD] = 2};
    if (x->kind != y->kind)
        return order[x->kind] - order[y->kind];
    if (x->kind == SHMKIT_SYSV)
        return (x->shmid > y->shmid) - (x->shmid < y->shmid);
    if (x->kind == SHMKIT_MEMFD) {
        if (x->memfd_pid != y->memfd_pid)
            return (x->memfd_pid > y->memfd_pid) - (x->memfd_pid < y->memfd_pid);
        return (x->memfd_fd > y->memfd_fd) - (x->memfd_fd < y->memfd_fd);
    }
    return strcmp(x->name, y->name);
}

/* The header of memfd row R, found by the /proc scan: read only if that
 * descriptor still holds the memfd that was counted. */
static void header_memfd(struct seg_row *r)
{
    struct stat st;
    int fd = open_memfd(r->memfd_pid, r->memfd_fd, O_RDONLY, &st, NULL, 0);
    if (fd >= 0 && ((uint64_t)st.st_dev != r->dev || (uint64_t)st.st_ino != r->ino)) {
        close(fd); /* another memfd by now: not the one counted */
        fd = -ENOENT;
    }
    if (fd < 0) {
        r->hdr_rc = fd;
        return;
    }
    header_fd(r, fd);
    close(fd);
}

int scan(const struct scan_opts *o, struct seg_list *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (o->posix && (rc = scan_posix(out, o->header)) < 0)
        goto fail_list;
    if (o->sysv && (rc = scan_sysv(out, o->header && !o->no_attach)) < 0)
        goto fail_list;
    int maps = o->procs && (o->posix || o->memfd || (o->pids && o->sysv));
    int fds = o->procs && (o->posix || o->memfd);
    if (maps || fds) {
        struct procs_opts po = {.maps = maps, .fds = fds, .pids = o->pids, .add_memfd = o->memfd};
        if ((rc = procs_scan(out, &po)) < 0)
            goto fail_list;
        for (size_t i = 0; o->header && i < out->n; i++)
            if (out->v[i].kind == SHMKIT_MEMFD)
                header_memfd(&out->v[i]);
    }
    for (size_t i = 0; i < out->n; i++)
        set_status(&out->v[i], o->probe);
    if (out->n > 1) /* qsort wants a non-NULL base even for no rows */
        qsort(out->v, out->n, sizeof *out->v, row_cmp);
    return 0;

fail_list:
    seg_list_free(out);
    return rc;
}

/* ---- one segment ---- */

/* The row of target T alone: what the system and its header say. */
static int target_row(const struct target *t, const struct scan_opts *o, struct seg_row *r)
{
    int rc = 0, id = t->id;
    struct shmid_ds ds;
    struct stat st;
    switch (t->type) {
    case T_NAME: {
        int dirfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0)
            return -errno;
        rc = probe_posix(dirfd, t->name + 1, r, o->header);
        close(dirfd);
        return rc;
    }
    case T_KEY:
    case T_ID:
        if (t->type == T_KEY && (rc = sysv_id_of_key(t->key, &id)) < 0)
            return rc;
        if (shmctl(id, IPC_STAT, &ds) < 0)
            return (errno == EINVAL || errno == EIDRM) ? -ENOENT : -errno;
        sysv_from_ds(r, id, &ds);
        return o->header && !o->no_attach ? header_sysv(r) : 0;
    case T_MEMFD: {
        int fd = open_memfd(t->pid, t->fd, O_RDONLY, &st, r->name, sizeof r->name);
        if (fd < 0)
            return fd;
        r->kind = SHMKIT_MEMFD;
        r->memfd_pid = t->pid;
        r->memfd_fd = t->fd;
        row_stat(r, &st);
        if (o->header)
            header_fd(r, fd);
        close(fd);
        return 0;
    }
    default:
        return -EINVAL;
    }
}

int scan_target(const struct target *t, const struct scan_opts *o, struct seg_row *row)
{
    struct seg_list l;
    memset(&l, 0, sizeof l);
    struct seg_row *r = seg_list_add(&l);
    if (!r)
        return -ENOMEM;
    int rc = target_row(t, o, r);
    if (rc < 0)
        goto fail_list;
    if (o->procs) {
        struct procs_opts po = {.maps = 1, .fds = r->kind != SHMKIT_SYSV, .pids = o->pids};
        if ((rc = procs_scan(&l, &po)) < 0)
            goto fail_list;
    }
    set_status(&l.v[0], o->probe);
    *row = l.v[0];
    free(l.v);
    return 0;

fail_list:
    seg_list_free(&l);
    return rc;
}

int scan_refresh(struct seg_list *l)
{
    int any_fd_kind = 0;
    for (size_t i = 0; i < l->n; i++) {
        struct seg_row *r = &l->v[i];
        if (r->kind != SHMKIT_SYSV) {
            any_fd_kind = 1;
            continue;
        }
        struct shmid_ds ds;
        r->nattch = shmctl(r->shmid, IPC_STAT, &ds) < 0 ? -1 : (int64_t)ds.shm_nattch;
    }
    if (any_fd_kind) {
        struct procs_opts po = {.maps = 1, .fds = 1};
        int rc = procs_scan(l, &po);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < l->n; i++)
        set_status(&l->v[i], 1);
    return 0;
}
