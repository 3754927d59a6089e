/*
 * open.c - opening what a target names, never blocking on what another
 * user controls.
 *
 * A name in /dev/shm or a descriptor of another process can be swapped for
 * a FIFO or a device at any moment: files are opened through
 * open_regular() (O_PATH, fstat, reopen of exactly that inode), a memfd
 * through /proc/PID/fd only while it still is one, and a target becomes
 * the shmkit_open() options that reach it (System V keys resolved to an
 * id, foreign segments opened RAW).
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <unistd.h>

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

const char *memfd_link_name(char *link)
{
    static const char del[] = " (deleted)";
    char *s = link + 7; /* after "/memfd:" */
    size_t len = strlen(s);
    if (len >= sizeof del - 1 && !strcmp(s + len - (sizeof del - 1), del))
        s[len - (sizeof del - 1)] = '\0';
    return s;
}

/* Opens the descriptor FD of process PID only if it is (still) a memfd:
 * a regular file (open_regular: never a FIFO it was swapped for), and what
 * our own descriptor links to is "/memfd:NAME" (stable: it is ours). NAME
 * (LEN bytes) gets the name. Returns the descriptor or a negative code. */
int open_memfd(int pid, int fd, int flags, struct stat *st, char *name, size_t len)
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
    if (name)
        snprintf(name, len, "%.*s", NAME_MAX, memfd_link_name(link));
    return mfd;
}

int sysv_id_of_key(int32_t key, int *id)
{
    int r = shmget((key_t)key, 0, 0);
    if (r < 0)
        return errno == ENOENT ? -ENOENT : -errno;
    *id = r;
    return 0;
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
        o->kind = SHMKIT_MEMFD;
        o->fd = fd; /* shmkit_open owns it from here */
        return 0;
    }
    default:
        return -EINVAL;
    }
}

int cli_init_wait_ms = 1000;

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
    /* a creator in its initialiser: waited for briefly, never the
     * library's 10 s (a header can say so falsely, with a live pid) */
    o.init_wait_ms = (uint32_t)cli_init_wait_ms;
    rc = shmkit_open(seg, &o);
    if ((rc == -EINVAL || rc == -EIDRM) && o.kind == SHMKIT_SYSV)
        rc = -ENOENT;
    else if (rc == -ETIMEDOUT)
        rc = E_INITIALISING;
    else if (rc == SHMKIT_EPEERDEAD)
        rc = E_INITDIED;
    return rc;
}
