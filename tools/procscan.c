/*
 * procscan.c - who maps and who holds what: one bounded pass over /proc.
 *
 *   /proc/PID/maps  who maps a segment (NATTCH of POSIX and memfd; the
 *                   users of a System V segment)
 *   /proc/PID/fd    who holds a descriptor on it; memfds are found here
 *
 * Matched by device and inode in a hash table (a bind mount of /dev/shm is
 * the same file). Links are stat'ed without a sync, and every scan has a
 * bound (SCAN_*): what is not fully read counts as not inspected, which
 * callers report and gc respects.
 */
#include "cli.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Bounds of one /proc scan (shmkit(1), FILES): a process with more
 * descriptors or a longer maps file than this is not fully inspected, nor
 * is any process not yet reached when the scan has run SCAN_SECONDS. */
#define SCAN_MAX_FDS 65536
#define SCAN_MAX_MAPS_BYTES (64u << 20)
#define SCAN_SECONDS 10

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
            snprintf(u->name, sizeof u->name, "%.*s", NAME_MAX, memfd_link_name(link));
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

/* Joins what the scan found to the rows; adds memfd rows (ADD_MEMFD),
 * their headers left unread (hdr_rc 1). */
static int join_procs(struct use_tab *t, struct seg_list *l, int add_memfd)
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
        struct seg_row *r = seg_list_add(l);
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
        if (t->keep_pids)
            take_users(r, u);
    }
    return 0;
}

int procs_scan(struct seg_list *l, const struct procs_opts *po)
{
    struct use_tab t;
    memset(&t, 0, sizeof t);
    t.keep_pids = po->pids;
    int rc = scan_procs(&t, l, po->maps, po->fds);
    if (rc == 0)
        rc = join_procs(&t, l, po->add_memfd);
    tab_free(&t);
    return rc;
}
