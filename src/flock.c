/* flock.c - reader/writer locks on a lock file through fcntl(2) record
 * locks: open-file-description locks where the kernel has them. */
#include "sync_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct shmkit_flock {
    int fd;
    int ofd; /* 1: F_OFD_* commands work; 0: classic per-process locks */
};

/* Timed waits poll: first sleep, and the cap the sleeps double up to. */
#define NAP_FIRST_NS 50000
#define NAP_MAX_NS 10000000

/* Opens the lock file. Nothing about the path is trusted: a FIFO must not
 * block the open (O_NONBLOCK, then refused), a symlink is not followed
 * unless asked (in a sticky /tmp it may be anyone's), and a create never
 * opens an existing file with O_CREAT (O_EXCL first, then a plain open:
 * the kernel's protected_regular stays in force and a dangling symlink
 * never makes its target). Returns the descriptor or -errno. */
static int open_lockfile(const char *path, unsigned flags)
{
    int base = O_CLOEXEC | O_NONBLOCK | ((flags & SHMKIT_FLOCK_FOLLOW) ? 0 : O_NOFOLLOW);
    for (int tries = 0; tries < 100; tries++) {
        int made_err = 0;
        if (flags & SHMKIT_FLOCK_CREATE) {
            int fd = open(path, O_RDWR | O_CREAT | O_EXCL | base, 0600);
            if (fd >= 0)
                return fd;
            if (errno != EEXIST && errno != EACCES && errno != EROFS)
                return -errno;
            made_err = errno;
        }
        int fd, leased = 0;
        do
            fd = open(path, O_RDWR | base);
        while (fd < 0 && shmkit__lease_wait(&leased));
        if (fd < 0 && (errno == EACCES || errno == EROFS))
            fd = open(path, O_RDONLY | base); /* shared locks only */
        if (fd >= 0)
            return fd;
        if (errno != ENOENT || !made_err)
            return -errno;
        if (made_err != EEXIST)
            return -made_err; /* could not make it, and it is not there */
        struct stat st;
        if (lstat(path, &st) == 0)
            return -ENOENT; /* a dangling symlink (FOLLOW): its target is not made */
        /* EEXIST, then gone: removed in between, try again */
    }
    return -EAGAIN;
}

int shmkit_flock_open(shmkit_flock **out, const char *path, unsigned flags)
{
    if (!out || !path || !*path || (flags & ~(unsigned)(SHMKIT_FLOCK_CREATE | SHMKIT_FLOCK_FOLLOW)))
        return -EINVAL;
    *out = NULL;
    shmkit_flock *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    int rc = open_lockfile(path, flags);
    if (rc < 0)
        goto free_handle;
    l->fd = rc;
    struct stat st;
    if (fstat(l->fd, &st) < 0) {
        rc = -errno;
        goto close_fd;
    }
    if (!S_ISREG(st.st_mode)) {
        /* a FIFO, socket or device is no lock file (and may block or act) */
        rc = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        goto close_fd;
    }
    int fl = fcntl(l->fd, F_GETFL);
    if (fl >= 0)
        fcntl(l->fd, F_SETFL, fl & ~O_NONBLOCK); /* it was for the open only */
#ifdef F_OFD_SETLK
    l->ofd = 1;
#endif
    *out = l;
    return 0;

close_fd:
    close(l->fd);
free_handle:
    free(l);
    return rc;
}

int shmkit_flock_close(shmkit_flock *l)
{
    if (!l)
        return 0;
    int rc = close(l->fd) < 0 ? -errno : 0;
    free(l);
    return rc;
}

int shmkit_flock_fd(const shmkit_flock *l)
{
    return l ? l->fd : -1;
}

/* One fcntl lock command; WAIT chooses the blocking form. Falls back from
 * OFD to classic locks once if the kernel does not know OFD commands. */
static int setlk(shmkit_flock *l, short type, int64_t start, int64_t len, int wait)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = (off_t)start,
                       .l_len = (off_t)len, .l_pid = 0}; /* l_pid must be 0 for OFD */
#ifdef F_OFD_SETLK
    if (l->ofd) {
        if (fcntl(l->fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl) == 0)
            return 0;
        if (errno != EINVAL)
            return -errno;
        /* EINVAL: OFD locks unknown (kernel < 3.15) or a bad range; retry
         * with classic locks, which tell the two apart */
        l->ofd = 0;
    }
#endif
    if (fcntl(l->fd, wait ? F_SETLKW : F_SETLK, &fl) == 0)
        return 0;
    return -errno;
}

static int lock_range(shmkit_flock *l, short type, int64_t start, int64_t len, int64_t timeout_ns)
{
    if (!l || start < 0 || len < 0)
        return -EINVAL;
    if (timeout_ns < 0)
        return setlk(l, type, start, len, 1);
    int64_t deadline = shmkit__deadline(timeout_ns);
    int64_t nap = NAP_FIRST_NS;
    for (;;) {
        int rc = setlk(l, type, start, len, 0);
        if (rc != -EAGAIN && rc != -EACCES) /* both mean "conflicting lock" */
            return rc;
        if (timeout_ns == 0)
            return -EBUSY;
        int64_t left = shmkit__time_left(deadline);
        if (left == 0)
            return -ETIMEDOUT;
        int64_t t = nap < left ? nap : left;
        struct timespec ts = {.tv_sec = (time_t)(t / 1000000000), .tv_nsec = (long)(t % 1000000000)};
        nanosleep(&ts, NULL); /* a signal only shortens one nap */
        if (nap < NAP_MAX_NS)
            nap = nap * 2 > NAP_MAX_NS ? NAP_MAX_NS : nap * 2;
    }
}

int shmkit_flock_rdlock(shmkit_flock *l, int64_t start, int64_t len, int64_t timeout_ns)
{
    return lock_range(l, F_RDLCK, start, len, timeout_ns);
}

int shmkit_flock_wrlock(shmkit_flock *l, int64_t start, int64_t len, int64_t timeout_ns)
{
    return lock_range(l, F_WRLCK, start, len, timeout_ns);
}

int shmkit_flock_unlock(shmkit_flock *l, int64_t start, int64_t len)
{
    if (!l || start < 0 || len < 0)
        return -EINVAL;
    return setlk(l, F_UNLCK, start, len, 0);
}
