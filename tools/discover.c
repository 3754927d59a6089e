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
 *           and /proc/PID/fd (who holds a descriptor on it), matched by
 *           device and inode (a bind mount of /dev/shm is the same file).
 *
 * Every header is copied once into a local buffer and judged by
 * shmkit_header_check(); nothing else in it is trusted.
 *
 * Nothing here may block on what another user controls: a name in /dev/shm
 * or a descriptor of another process can be swapped for a FIFO or a device
 * at any moment. Files are opened through open_regular() (O_PATH, fstat,
 * reopen of exactly that inode), /proc links are stat'ed without a sync,
 * and every /proc scan has a bound (SCAN_*): what is not fully read counts
 * as not inspected, which callers report and gc respects.
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
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define SHM_DIR "/dev/shm"

/* Bounds of one /proc scan (shmkit(1), FILES): a process with more
 * descriptors or a longer maps file than this is not fully inspected, nor
 * is any process not yet reached when the scan has run SCAN_SECONDS. */
#define SCAN_MAX_FDS 65536
#define SCAN_MAX_MAPS_BYTES (64u << 20)
#define SCAN_SECONDS 10

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
    r->dev = (uint64_t)st->st_dev;
    r->ino = (uint64_t)st->st_ino;
    r->mode = st->st_mode & 0777;
    r->uid = st->st_uid;
    r->gid = st->st_gid;
    r->size = (uint64_t)st->st_size;
    r->ctime = st->st_ctime;
}

/* An O_PATH descriptor opens nothing (no FIFO wait, no device open), so the
 * type is checked on what is really there; /proc/self/fd/N then reopens
 * exactly that inode with the usual permission checks. Where /proc is
 * missing, a non-blocking O_NOFOLLOW open is checked to be the same inode. */
int open_regular(int dirfd, const char *path, int flags, int follow, struct stat *st)
{
    memset(st, 0, sizeof *st); /* st_mode 0: nothing known */
    int pfd = openat(dirfd, path, O_PATH | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
    if (pfd < 0)
        return -errno;
    if (fstat(pfd, st) < 0) {
        int err = -errno;
        close(pfd);
        return err;
    }
    if (!S_ISREG(st->st_mode)) {
        close(pfd);
        return E_NOTSEG;
    }
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", pfd);
    int oflags = flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
    int fd = open(self, oflags);
    if (fd < 0 && errno == ENOENT && !follow)
        fd = openat(dirfd, path, oflags | O_NOFOLLOW);
    int err = fd < 0 ? -errno : 0;
    close(pfd);
    if (fd < 0)
        return err;
    struct stat now;
    if (fstat(fd, &now) < 0 || !S_ISREG(now.st_mode) || now.st_dev != st->st_dev ||
        now.st_ino != st->st_ino) {
        close(fd);
        return -EAGAIN; /* swapped under us: judged again by whoever retries */
    }
    *st = now;
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
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
            unsigned cuid = (unsigned)v[9];
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

/* ---- /proc: who maps and who holds what ---- */

/* TAG_FILE: a POSIX segment or memfd, keyed by device and inode; TAG_SYSV: a
 * System V mapping, keyed by its shmid (the inode /proc shows for it). */
enum { TAG_FILE = 1, TAG_SYSV = 2 };

struct use {
    int tag;
    uint64_t dev, ino;
    int32_t last_map_pid, last_fd_pid;
    int64_t nmap, nfd;
    struct pid_use *users;
    size_t n_users, cap_users;
    /* MEMFD: what is known from the first holder */
    int have_memfd;
    int pid, fd;
    char name[NAME_MAX + 1];
    struct stat st;
};

struct use_tab {
    struct use *v;
    size_t n, cap;
    uint32_t *slot; /* index + 1, 0 = free */
    size_t nslot;
    int keep_pids;
    int hidden; /* processes we could not (fully) inspect */
    int32_t last_hidden;
    /* devices whose files are of interest: /dev/shm's and the rows' (a
     * mapping through a bind mount shows another path, the same device) */
    uint64_t devs[8];
    int ndevs;
};

static uint64_t hash_key(int tag, uint64_t dev, uint64_t ino)
{
    uint64_t h = (ino ^ dev * 0xff51afd7ed558ccdull) * 0x9e3779b97f4a7c15ull ^ (uint64_t)tag;
    return h ^ (h >> 29);
}

static int tab_grow(struct use_tab *t)
{
    size_t nslot = t->nslot ? t->nslot * 2 : 256;
    uint32_t *slot = calloc(nslot, sizeof *slot);
    if (!slot)
        return -ENOMEM;
    for (size_t i = 0; i < t->n; i++) {
        size_t j = hash_key(t->v[i].tag, t->v[i].dev, t->v[i].ino) & (nslot - 1);
        while (slot[j])
            j = (j + 1) & (nslot - 1);
        slot[j] = (uint32_t)(i + 1);
    }
    free(t->slot);
    t->slot = slot;
    t->nslot = nslot;
    return 0;
}

static struct use *tab_find(const struct use_tab *t, int tag, uint64_t dev, uint64_t ino)
{
    if (!t->nslot)
        return NULL;
    size_t j = hash_key(tag, dev, ino) & (t->nslot - 1);
    while (t->slot[j]) {
        struct use *u = &t->v[t->slot[j] - 1];
        if (u->tag == tag && u->dev == dev && u->ino == ino)
            return u;
        j = (j + 1) & (t->nslot - 1);
    }
    return NULL;
}

static struct use *tab_get(struct use_tab *t, int tag, uint64_t dev, uint64_t ino)
{
    struct use *u = tab_find(t, tag, dev, ino);
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
    u->dev = dev;
    u->ino = ino;
    size_t j = hash_key(tag, dev, ino) & (t->nslot - 1);
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

static void tab_add_dev(struct use_tab *t, uint64_t dev)
{
    for (int i = 0; i < t->ndevs; i++)
        if (t->devs[i] == dev)
            return;
    if (t->ndevs < (int)(sizeof t->devs / sizeof t->devs[0]))
        t->devs[t->ndevs++] = dev;
}

static int tab_has_dev(const struct use_tab *t, uint64_t dev)
{
    for (int i = 0; i < t->ndevs; i++)
        if (t->devs[i] == dev)
            return 1;
    return 0;
}

/* The devices to watch: /dev/shm's, and those of the rows already listed. */
static void tab_devs(struct use_tab *t, const struct seg_list *l)
{
    struct stat st;
    if (stat(SHM_DIR, &st) == 0)
        tab_add_dev(t, (uint64_t)st.st_dev);
    for (size_t i = 0; l && i < l->n; i++)
        if (l->v[i].kind == SHMKIT_POSIX)
            tab_add_dev(t, l->v[i].dev);
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

/* One line of /proc/PID/maps: "start-end perms offset MAJ:MIN inode   path"
 * (the kernel writes it; a path may hold anything but a newline). */
static void maps_line(struct use_tab *t, int32_t pid, char *line)
{
    char *p = line;
    for (int field = 0; field < 3; field++) {
        p = strchr(p, ' ');
        if (!p)
            return;
        p++;
    }
    char *end;
    unsigned long maj = strtoul(p, &end, 16);
    if (end == p || *end != ':')
        return;
    p = end + 1;
    unsigned long min = strtoul(p, &end, 16);
    if (end == p || *end != ' ')
        return;
    p = end + 1;
    unsigned long long ino = strtoull(p, &end, 10);
    if (end == p || ino == 0)
        return;
    while (*end == ' ')
        end++;
    uint64_t dev = (uint64_t)makedev(maj, min);
    int tag;
    if (!strncmp(end, "/SYSV", 5) && !tab_has_dev(t, dev)) {
        tag = TAG_SYSV; /* the inode of a System V mapping is its shmid */
        dev = 0;
    } else if (tab_has_dev(t, dev) || !strncmp(end, "/memfd:", 7)) {
        tag = TAG_FILE;
    } else {
        return;
    }
    struct use *u = tab_get(t, tag, dev, ino);
    if (u)
        note_user(t, u, pid, 1);
}

/* A process whose maps or fds we may not read (another user's, or one
 * protected from us even as root), or could not read to the end within the
 * bounds. Its uses are not counted; callers say so. */
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
        hidden(t, pid);
        return;
    }
    char *line = NULL;
    size_t cap = 0, total = 0;
    ssize_t n;
    for (;;) {
        errno = 0;
        if ((n = getline(&line, &cap, f)) <= 0)
            break;
        total += (size_t)n;
        if (total > SCAN_MAX_MAPS_BYTES) {
            hidden(t, pid); /* the rest is not read: not fully inspected */
            break;
        }
        if (line[n - 1] == '\n')
            line[n - 1] = '\0';
        maps_line(t, pid, line);
    }
    if (n < 0 && errno && errno != ESRCH)
        hidden(t, pid);
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
        hidden(t, pid);
        return;
    }
    struct dirent *e;
    char link[PATH_MAX + 16];
    long nfds = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        if (++nfds > SCAN_MAX_FDS) {
            hidden(t, pid);
            break;
        }
        ssize_t n = readlinkat(dfd, e->d_name, link, sizeof link - 1);
        if (n < 0 && (errno == EACCES || errno == EPERM)) {
            hidden(t, pid); /* the directory lists, the links do not read */
            continue;
        }
        if (n <= 0 || link[0] != '/')
            continue; /* gone, or socket:[..], pipe:[..], anon_inode:... */
        link[n] = '\0';
        int is_memfd = !strncmp(link, "/memfd:", 7);
        /* through the link, no lookup on the file system; DONT_SYNC: a
         * network or FUSE file system is not asked (it may hang) */
        struct statx sx;
        if (statx(dfd, e->d_name, AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx) < 0) {
            if (errno == EACCES || errno == EPERM)
                hidden(t, pid);
            continue;
        }
        uint64_t dev = (uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor);
        if (!S_ISREG(sx.stx_mode) || (!is_memfd && !tab_has_dev(t, dev)))
            continue;
        struct use *u = tab_get(t, TAG_FILE, dev, sx.stx_ino);
        if (!u)
            continue;
        note_user(t, u, pid, 0);
        if (is_memfd && !u->have_memfd) {
            u->have_memfd = 1;
            u->pid = pid;
            u->fd = atoi(e->d_name);
            memset(&u->st, 0, sizeof u->st);
            u->st.st_dev = (dev_t)dev;
            u->st.st_ino = (ino_t)sx.stx_ino;
            u->st.st_mode = sx.stx_mode;
            u->st.st_uid = sx.stx_uid;
            u->st.st_gid = sx.stx_gid;
            u->st.st_size = (off_t)sx.stx_size;
            u->st.st_ctime = (time_t)sx.stx_ctime.tv_sec;
            char *name = link + 7;
            size_t len = strlen(name);
            static const char del[] = " (deleted)";
            if (len >= sizeof del - 1 && !strcmp(name + len - (sizeof del - 1), del))
                name[len - (sizeof del - 1)] = '\0';
            snprintf(u->name, sizeof u->name, "%.*s", NAME_MAX, name);
        }
    }
    closedir(d);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Scans every process but ourselves. MAPS and FDS choose what to read; L
 * (may be NULL) holds the rows whose devices are of interest. */
static int scan_procs(struct use_tab *t, const struct seg_list *l, int maps, int fds)
{
    tab_devs(t, l);
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
    double deadline = mono_now() + SCAN_SECONDS;
    int late = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!isdigit((unsigned char)e->d_name[0]))
            continue;
        int32_t pid = (int32_t)atoi(e->d_name);
        if (pid == self)
            continue;
        if (late || (late = mono_now() > deadline)) {
            hidden(t, pid); /* out of time: counted, not read */
            continue;
        }
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

/* Opens the descriptor FD of process PID only if it is (still) a memfd:
 * a regular file (open_regular: never a FIFO it was swapped for), and what
 * our own descriptor links to is "/memfd:NAME" (stable: it is ours). NAME
 * (LEN bytes) gets the name. Returns the descriptor or a negative code. */
static int open_memfd(int pid, int fd, int flags, struct stat *st, char *name, size_t len)
{
    char path[64], link[PATH_MAX + 16];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", pid, fd);
    int mfd = open_regular(AT_FDCWD, path, flags, 1, st);
    if (mfd == E_NOTSEG)
        return -ENOENT; /* that descriptor is not a memfd (now) */
    if (mfd < 0)
        return mfd == -EACCES || mfd == -EPERM ? mfd : -ENOENT;
    snprintf(path, sizeof path, "/proc/self/fd/%d", mfd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n < 7 || strncmp(link, "/memfd:", 7)) {
        close(mfd);
        return -ENOENT;
    }
    link[n] = '\0';
    char *s = link + 7;
    size_t sl = strlen(s);
    static const char del[] = " (deleted)";
    if (sl >= sizeof del - 1 && !strcmp(s + sl - (sizeof del - 1), del))
        s[sl - (sizeof del - 1)] = '\0';
    if (name)
        snprintf(name, len, "%.*s", NAME_MAX, s);
    return mfd;
}

/* Joins what the /proc scan found to the rows; adds memfd rows. */
static int join_procs(struct use_tab *t, struct seg_list *l, int add_memfd, int header)
{
    l->hidden = t->hidden;
    for (size_t i = 0; i < l->n; i++) {
        struct seg_row *r = &l->v[i];
        r->hidden = t->hidden;
        struct use *u = r->kind == SHMKIT_SYSV ? tab_find(t, TAG_SYSV, 0, (uint64_t)r->shmid)
                                               : tab_find(t, TAG_FILE, r->dev, r->ino);
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
        if (u->tag != TAG_FILE || !u->have_memfd)
            continue;
        struct seg_row *r = list_add(l);
        if (!r)
            return -ENOMEM;
        r->kind = SHMKIT_MEMFD;
        snprintf(r->name, sizeof r->name, "%s", u->name);
        r->memfd_pid = u->pid;
        r->memfd_fd = u->fd;
        row_stat(r, &u->st); /* u->st is the table's key: dev and inode */
        r->nattch = u->nmap;
        r->holders = u->nfd;
        r->hidden = t->hidden;
        if (header) {
            struct stat st;
            int fd = open_memfd(u->pid, u->fd, O_RDONLY, &st, NULL, 0);
            if (fd >= 0 && (st.st_dev != u->st.st_dev || st.st_ino != u->st.st_ino)) {
                close(fd); /* another memfd by now: not the one counted */
                fd = -ENOENT;
            }
            if (fd >= 0) {
                header_fd(r, fd);
                close(fd);
            } else {
                r->hdr_rc = fd;
            }
        }
        if (t->keep_pids)
            take_users(r, u);
    }
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
        struct use_tab t;
        memset(&t, 0, sizeof t);
        t.keep_pids = o->pids;
        rc = scan_procs(&t, out, maps, fds);
        if (rc == 0)
            rc = join_procs(&t, out, o->memfd, o->header);
        tab_free(&t);
        if (rc < 0)
            goto fail_list;
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

static int sysv_id_of_key(int32_t key, int *id)
{
    int r = shmget((key_t)key, 0, 0);
    if (r < 0)
        return errno == ENOENT ? -ENOENT : -errno;
    *id = r;
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
        if (o->header && !o->no_attach)
            rc = header_sysv(r);
        break;
    }
    case T_MEMFD: {
        struct stat st;
        int fd = open_memfd(t->pid, t->fd, O_RDONLY, &st, r->name, sizeof r->name);
        if (fd < 0) {
            rc = fd;
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
        rc = scan_procs(&tab, &l, 1, r->kind != SHMKIT_SYSV);
        if (rc == 0)
            rc = join_procs(&tab, &l, 0, 0);
        tab_free(&tab);
        if (rc < 0)
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
        struct stat st;
        int fd =
            open_memfd(t->pid, t->fd, (flags & SHMKIT_RDONLY) ? O_RDONLY : O_RDWR, &st, NULL, 0);
        if (fd < 0)
            return fd;
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
    /* look first (without blocking: a FIFO or device at the name is refused
     * here), and classify: a foreign segment is all payload, opened RAW */
    struct scan_opts so = {.header = !(flags & SHMKIT_RAW)};
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
    rc = target_opts(t, flags, &o);
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
        int rc = scan_procs(&t, l, 1, 1);
        if (rc == 0)
            rc = join_procs(&t, l, 0, 0);
        tab_free(&t);
        if (rc < 0)
            return rc;
    }
    for (size_t i = 0; i < l->n; i++)
        set_status(&l->v[i], 1);
    return 0;
}
