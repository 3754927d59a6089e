/*
 * discover.c - which segments exist, what the system and their headers say
 * about them, and who uses them.
 *
 *   POSIX   readdir(/dev/shm); each header is read with pread() into a local
 *           buffer (no mapping: a truncation racing us cannot SIGBUS, and
 *           our own scan never shows up as an "attached" process).
 *   SYSV    /proc/sysvipc/shm (or shmctl(SHM_STAT) when it is unreadable);
 *           the header is read through a read-only RAW attach of the
 *           library, after the kernel's figures were taken.
 *   MEMFD   /proc/PID/fd links named "/memfd:..." (found while scanning /proc).
 *   users   /proc/PID/maps (who maps a segment: NATTCH of POSIX and memfd)
 *           and /proc/PID/fd (who holds a descriptor on it).
 *
 * Every header is copied once into a local buffer and judged by
 * shmkit_header_check(); nothing else in it is trusted.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"

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
    default:
        return "unknown";
    }
}

static struct seg_row *list_add(struct seg_list *l)
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
static void row_stat(struct seg_row *r, const struct stat *st)
{
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
    int fd = openat(dirfd, ent, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd >= 0) {
        if (fstat(fd, &st) < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
    } else {
        int err = -errno;
        if (fstatat(dirfd, ent, &st, AT_SYMLINK_NOFOLLOW) < 0)
            return -errno;
        r->hdr_rc = err; /* listed, but its contents are not ours to read */
    }
    if (!S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return -EINVAL;
    }
    r->kind = SHMKIT_POSIX;
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
        struct seg_row *r = list_add(l);
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
    r->uid = ds->shm_perm.uid;
    r->gid = ds->shm_perm.gid;
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
        struct seg_row *r = list_add(l);
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
            unsigned long long size = (unsigned long long)v[3], nattch = (unsigned long long)v[6];
            long long atime = v[11], dtime = v[12], ctime = v[13];
            struct seg_row *r = list_add(l);
            if (!r) {
                fclose(f);
                return -ENOMEM;
            }
            struct shmid_ds ds;
            memset(&ds, 0, sizeof ds);
            ds.shm_perm.__key = key;
            ds.shm_perm.mode = (unsigned short)perms;
            ds.shm_perm.uid = uid;
            ds.shm_perm.gid = gid;
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

/* ---- /proc: who maps and who holds what ---- */

enum { TAG_SHM = 1, TAG_MEMFD = 2, TAG_SYSV = 3 };

struct use {
    int tag;
    uint64_t ino;
    int32_t last_map_pid, last_fd_pid;
    int64_t nmap, nfd;
    struct pid_use *users;
    size_t n_users, cap_users;
    /* MEMFD: what is known from the first holder */
    int have_memfd;
    int pid, fd;
    char name[256];
    struct stat st;
};

struct use_tab {
    struct use *v;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = free */
    size_t nslot;
    int keep_pids;
    int hidden; /* processes we could not inspect */
    int32_t last_hidden;
};

static uint64_t hash_key(int tag, uint64_t ino)
{
    uint64_t h = ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)tag;
    return h ^ (h >> 29);
}

static int tab_grow(struct use_tab *t)
{
    size_t nslot = t->nslot ? t->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_key(t->v[i].tag, t->v[i].ino) & (nslot - 1);
        while (slot[j])
            j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

static struct use *tab_find(const struct use_tab *t, int tag, uint64_t ino)
{
    if (!t->nslot)
        return NULL;
    size_t j = hash_key(tag, ino) & (t->nslot - 1);
    while (t->slot[j]) {
        struct use *u = &t->v[t->slot[j] - 1];
        if (u->tag == tag && u->ino == ino)
            return u;
        j = (j + 1) & (t->nslot - 1);
    }
    return NULL;
}

static struct use *tab_get(struct use_tab *t, int tag, uint64_t ino)
{
    struct use *u = tab_find(t, tag, ino);
    if (u)
        return u;
    if ((t->n + 1) * 2 > t->nslot && tab_grow(t) < 0)
        return NULL;
    struct use *v = grow_array(t->v, &t->cap, t->n, sizeof *v, 64);
    if (!v)
        return NULL;
    t->v = v;
    u = &t->v[t->n];
    memset(u, 0, sizeof *u);
    u->tag = tag;
    u->ino = ino;
    size_t j = hash_key(tag, ino) & (t->nslot - 1);
    while (t->slot[j])
        j = (j + 1) & (t->nslot - 1);
    t->slot[j] = (uint32_t)(++t->n);
    return u;
}

static void tab_free(struct use_tab *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->v[i].users);
    free(t->v);
    free(t->slot);
}

static void note_user(struct use_tab *t, struct use *u, int32_t pid, int maps)
{
    if (maps) {
        if (u->last_map_pid != pid) {
            u->last_map_pid = pid;
            u->nmap++;
        }
    } else if (u->last_fd_pid != pid) {
        u->last_fd_pid = pid;
        u->nfd++;
    }
    if (!t->keep_pids)
        return;
    for (size_t i = u->n_users; i-- > 0;) {
        if (u->users[i].pid == pid) {
            if (maps)
                u->users[i].maps = 1;
            else
                u->users[i].fds = 1;
            return;
        }
    }
    struct pid_use *v = grow_array(u->users, &u->cap_users, u->n_users, sizeof *v, 4);
    if (!v)
        return; /* the count above still holds */
    u->users = v;
    u->users[u->n_users].pid = pid;
    u->users[u->n_users].maps = maps ? 1 : 0;
    u->users[u->n_users].fds = maps ? 0 : 1;
    u->n_users++;
}

/* One line of /proc/PID/maps: "start-end perms offset dev inode   path". */
static void maps_line(struct use_tab *t, int32_t pid, char *line)
{
    char *p = line;
    for (int field = 0; field < 4; field++) {
        p = strchr(p, ' ');
        if (!p)
            return;
        p++;
    }
    char *end;
    unsigned long long ino = strtoull(p, &end, 10);
    if (end == p || ino == 0)
        return;
    while (*end == ' ')
        end++;
    int tag;
    if (!strncmp(end, SHM_DIR "/", sizeof SHM_DIR))
        tag = TAG_SHM;
    else if (!strncmp(end, "/memfd:", 7))
        tag = TAG_MEMFD;
    else if (!strncmp(end, "/SYSV", 5))
        tag = TAG_SYSV; /* the inode of a System V mapping is its shmid */
    else
        return;
    struct use *u = tab_get(t, tag, ino);
    if (u)
        note_user(t, u, pid, 1);
}

/* A process whose maps or fds we may not read (another user's, or one
 * protected from us even as root). Its uses are not counted; callers say so. */
static void hidden(struct use_tab *t, int32_t pid)
{
    if (t->last_hidden != pid)
        t->hidden++;
    t->last_hidden = pid;
}

static void scan_maps(struct use_tab *t, int procdir, const char *pidstr, int32_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "%.20s/maps", pidstr);
    int fd = openat(procdir, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT && errno != ESRCH)
            hidden(t, pid);
        return;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        close(fd);
        return;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        maps_line(t, pid, line);
    }
    free(line);
    fclose(f);
}

static void scan_fds(struct use_tab *t, int procdir, const char *pidstr, int32_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "%.20s/fd", pidstr);
    int dfd = openat(procdir, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        if (errno != ENOENT && errno != ESRCH)
            hidden(t, pid);
        return;
    }
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return;
    }
    struct dirent *e;
    char link[320];
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
        if (n <= 0)
            continue;
        link[n] = '\0';
        int tag;
        if (!strncmp(link, SHM_DIR "/", sizeof SHM_DIR))
            tag = TAG_SHM;
        else if (!strncmp(link, "/memfd:", 7))
            tag = TAG_MEMFD;
        else
            continue;
        struct stat st;
        if (fstatat(dfd, e->d_name, &st, 0) < 0)
            continue;
        struct use *u = tab_get(t, tag, (uint64_t)st.st_ino);
        if (!u)
            continue;
        note_user(t, u, pid, 0);
        if (tag == TAG_MEMFD && !u->have_memfd) {
            u->have_memfd = 1;
            u->pid = pid;
            u->fd = atoi(e->d_name);
            u->st = st;
            char *name = link + 7;
            size_t len = strlen(name);
            static const char del[] = " (deleted)";
            if (len >= sizeof del - 1 && !strcmp(name + len - (sizeof del - 1), del))
                name[len - (sizeof del - 1)] = '\0';
            snprintf(u->name, sizeof u->name, "%.255s", name);
        }
    }
    closedir(d);
}

/* Scans every process but ourselves. MAPS and FDS choose what to read. */
static int scan_procs(struct use_tab *t, int maps, int fds)
{
    int procdir = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procdir < 0)
        return -errno;
    DIR *d = fdopendir(procdir);
    if (!d) {
        int err = -errno;
        close(procdir);
        return err;
    }
    int32_t self = (int32_t)getpid();
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int32_t pid = (int32_t)atoi(e->d_name);
        if (pid == self)
            continue;
        if (maps)
            scan_maps(t, procdir, e->d_name, pid);
        if (fds)
            scan_fds(t, procdir, e->d_name, pid);
    }
    closedir(d);
    return 0;
}

static void take_users(struct seg_row *r, struct use *u)
{
    r->users = u->users;
    r->n_users = u->n_users;
    u->users = NULL;
    u->n_users = u->cap_users = 0;
}

static int pid_cmp(const void *a, const void *b)
{
    const struct pid_use *x = a, *y = b;
    return (x->pid > y->pid) - (x->pid < y->pid);
}

/* Joins what the /proc scan found to the rows; adds memfd rows. */
static int join_procs(struct use_tab *t, struct seg_list *l, int add_memfd, int header)
{
    l->hidden = t->hidden;
    for (size_t i = 0; i < l->n; i++) {
        struct seg_row *r = &l->v[i];
        r->hidden = t->hidden;
        int tag = r->kind == SHMKIT_POSIX ? TAG_SHM
                  : r->kind == SHMKIT_MEMFD ? TAG_MEMFD
                                            : TAG_SYSV;
        struct use *u = tab_find(t, tag, r->kind == SHMKIT_SYSV ? (uint64_t)r->shmid : r->ino);
        if (r->kind != SHMKIT_SYSV) {
            r->nattch = u ? u->nmap : 0;
            r->holders = u ? u->nfd : 0;
        }
        if (u && t->keep_pids)
            take_users(r, u);
    }
    if (!add_memfd)
        return 0;
    for (size_t i = 0; i < t->n; i++) {
        struct use *u = &t->v[i];
        if (u->tag != TAG_MEMFD || !u->have_memfd)
            continue;
        struct seg_row *r = list_add(l);
        if (!r)
            return -ENOMEM;
        r->kind = SHMKIT_MEMFD;
        snprintf(r->name, sizeof r->name, "%s", u->name);
        r->memfd_pid = u->pid;
        r->memfd_fd = u->fd;
        row_stat(r, &u->st); /* u->st.st_ino is u->ino: the table's key */
        r->nattch = u->nmap;
        r->holders = u->nfd;
        if (header) {
            char path[64];
            snprintf(path, sizeof path, "/proc/%d/fd/%d", u->pid, u->fd);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                header_fd(r, fd);
                close(fd);
            } else {
                r->hdr_rc = -errno;
            }
        }
        if (t->keep_pids)
            take_users(r, u);
    }
    return 0;
}

static void set_status(struct seg_row *r)
{
    if (r->n_users > 1)
        qsort(r->users, r->n_users, sizeof *r->users, pid_cmp);
    if (r->hdr_rc == SHMKIT_ENOTSHMKIT) {
        r->status = ST_FOREIGN;
        return;
    }
    if (r->hdr_rc < 0 && r->hdr_rc > -SHMKIT_ERRNO_BASE) {
        r->status = ST_UNKNOWN; /* unreadable: -errno */
        return;
    }
    if (r->hdr_rc == 1) {
        r->status = ST_UNKNOWN;
        return;
    }
    if (r->hdr_rc != 0) {
        r->status = ST_CORRUPT;
        return;
    }
    r->creator_alive = creator_alive(&r->hdr);
    int in_use = r->nattch != 0 || r->holders > 0;
    r->status = (r->creator_alive == 0 && !in_use) ? ST_STALE : ST_OK;
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

int scan(const struct scan_opts *o, struct seg_list *out)
{
    int rc = 0;
    memset(out, 0, sizeof *out);
    if (o->posix && (rc = scan_posix(out, o->header)) < 0)
        goto fail_list;
    if (o->sysv && (rc = scan_sysv(out, o->header)) < 0)
        goto fail_list;
    int maps = o->procs && (o->posix || o->memfd || (o->pids && o->sysv));
    int fds = o->procs && (o->posix || o->memfd);
    if (maps || fds) {
        struct use_tab t;
        memset(&t, 0, sizeof t);
        t.keep_pids = o->pids;
        rc = scan_procs(&t, maps, fds);
        if (rc == 0)
            rc = join_procs(&t, out, o->memfd, o->header);
        tab_free(&t);
        if (rc < 0)
            goto fail_list;
    }
    for (size_t i = 0; i < out->n; i++)
        set_status(&out->v[i]);
    if (out->n > 1) /* qsort wants a non-NULL base even for no rows */
        qsort(out->v, out->n, sizeof *out->v, row_cmp);
    return 0;

fail_list:
    seg_list_free(out);
    return rc;
}

/* ---- one segment ---- */

static int sysv_id_of_key(int32_t key, int *id)
{
    int r = shmget((key_t)key, 0, 0);
    if (r < 0)
        return errno == ENOENT ? -ENOENT : -errno;
    *id = r;
    return 0;
}

static int memfd_check(int pid, int fd, char *name, size_t len)
{
    char path[64], link[320];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 0)
        return errno == EACCES || errno == EPERM ? -errno : -ENOENT;
    link[n] = '\0';
    if (strncmp(link, "/memfd:", 7))
        return -ENOENT; /* that descriptor is not a memfd */
    char *s = link + 7, *del = strstr(s, " (deleted)");
    if (del)
        *del = '\0';
    snprintf(name, len, "%.255s", s);
    return 0;
}

int scan_target(const struct target *t, const struct scan_opts *o, struct seg_row *row)
{
    struct seg_list l;
    memset(&l, 0, sizeof l);
    struct seg_row *r = list_add(&l);
    int rc = 0;
    if (!r)
        return -ENOMEM;
    switch (t->type) {
    case T_NAME: {
        int dirfd = open(SHM_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) {
            rc = -errno;
            break;
        }
        rc = probe_posix(dirfd, t->name + 1, r, o->header);
        if (rc == -EINVAL)
            rc = -ENOENT;
        close(dirfd);
        break;
    }
    case T_KEY:
    case T_ID: {
        int id = t->id;
        struct shmid_ds ds;
        if (t->type == T_KEY && (rc = sysv_id_of_key(t->key, &id)) < 0)
            break;
        if (shmctl(id, IPC_STAT, &ds) < 0) {
            rc = (errno == EINVAL || errno == EIDRM) ? -ENOENT : -errno;
            break;
        }
        sysv_from_ds(r, id, &ds);
        if (o->header)
            rc = header_sysv(r);
        break;
    }
    case T_MEMFD: {
        char path[64];
        struct stat st;
        rc = memfd_check(t->pid, t->fd, r->name, sizeof r->name);
        if (rc < 0)
            break;
        snprintf(path, sizeof path, "/proc/%d/fd/%d", t->pid, t->fd);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
            rc = -errno;
            if (fd >= 0)
                close(fd);
            break;
        }
        r->kind = SHMKIT_MEMFD;
        r->memfd_pid = t->pid;
        r->memfd_fd = t->fd;
        row_stat(r, &st);
        if (o->header)
            header_fd(r, fd);
        close(fd);
        break;
    }
    default:
        rc = -EINVAL;
    }
    if (rc < 0)
        goto fail_list;
    if (o->procs) {
        struct use_tab tab;
        memset(&tab, 0, sizeof tab);
        tab.keep_pids = o->pids;
        rc = scan_procs(&tab, 1, r->kind != SHMKIT_SYSV);
        if (rc == 0)
            rc = join_procs(&tab, &l, 0, 0);
        tab_free(&tab);
        if (rc < 0)
            goto fail_list;
    }
    set_status(&l.v[0]);
    *row = l.v[0];
    free(l.v);
    return 0;

fail_list:
    seg_list_free(&l);
    return rc;
}

int target_opts(const struct target *t, unsigned flags, struct shmkit_opts *o)
{
    memset(o, 0, sizeof *o);
    o->flags = flags;
    switch (t->type) {
    case T_NAME:
        o->kind = SHMKIT_POSIX;
        o->name = t->name;
        return 0;
    case T_KEY:
    case T_ID: {
        int id = t->id, rc;
        if (t->type == T_KEY && (rc = sysv_id_of_key(t->key, &id)) < 0)
            return rc;
        o->kind = SHMKIT_SYSV;
        o->flags |= SHMKIT_SHMID;
        o->shmid = id;
        return 0;
    }
    case T_MEMFD: {
        char name[256], path[64];
        int rc = memfd_check(t->pid, t->fd, name, sizeof name);
        if (rc < 0)
            return rc;
        snprintf(path, sizeof path, "/proc/%d/fd/%d", t->pid, t->fd);
        int fd = open(path, ((flags & SHMKIT_RDONLY) ? O_RDONLY : O_RDWR) | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        if (fd == 0) { /* the library reads fd 0 as "create a new memfd" */
            int fd2 = fcntl(fd, F_DUPFD_CLOEXEC, 1);
            close(fd);
            if (fd2 < 0)
                return -errno;
            fd = fd2;
        }
        o->kind = SHMKIT_MEMFD;
        o->fd = fd; /* shmkit_open owns it from here */
        return 0;
    }
    default:
        return -EINVAL;
    }
}

int open_target(const struct target *t, unsigned flags, shmkit_seg **seg, int *raw_out)
{
    struct shmkit_opts o;
    *raw_out = (flags & SHMKIT_RAW) != 0;
    if (!(flags & SHMKIT_RAW)) {
        /* classify first: a foreign segment is all payload, opened RAW */
        struct scan_opts so = {.header = 1};
        struct seg_row r;
        int rc = scan_target(t, &so, &r);
        if (rc < 0)
            return rc;
        int foreign = r.hdr_rc == SHMKIT_ENOTSHMKIT;
        row_free(&r);
        if (foreign) {
            flags |= SHMKIT_RAW;
            *raw_out = 1;
        }
    }
    int rc = target_opts(t, flags, &o);
    if (rc < 0)
        return rc;
    rc = shmkit_open(seg, &o);
    if ((rc == -EINVAL || rc == -EIDRM) && o.kind == SHMKIT_SYSV)
        rc = -ENOENT;
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
        struct use_tab t;
        memset(&t, 0, sizeof t);
        int rc = scan_procs(&t, 1, 1);
        if (rc == 0)
            rc = join_procs(&t, l, 0, 0);
        tab_free(&t);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < l->n; i++)
        set_status(&l->v[i]);
    return 0;
}
