/* seg_posix.c - POSIX shared memory: shm_open + ftruncate + mmap, shm_unlink. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The O_EXCL create, where the segment cannot be made unnamed first: a
 * creator killed before its header is out leaves a header-less segment.
 * Returns the descriptor, or -errno. */
static int excl_create(const struct shmkit_opts *o, mode_t mode)
{
    int fd = shm_open(o->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return -errno;
    /* the umask must not narrow what the caller asked for */
    if (fchmod(fd, mode) < 0) {
        int err = -errno;
        close(fd);
        shm_unlink(o->name);
        return err;
    }
    return fd;
}

/* How a name someone else may have made is opened: a FIFO must not block
 * (a read-only open of one waits for a writer), a symlink is not followed
 * (glibc's shm_open adds O_NOFOLLOW too; say it for every libc). */
#define EXISTING (O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW)

/* CREATE: makes the segment (unnamed first where it can, else O_EXCL), or
 * finds it already there. Returns 0 and the descriptor in *FD (-1 when
 * link_create made and mapped it whole: SEG holds it), or a negative code. */
static int posix_create(shmkit_seg *seg, struct seg_create *c, mode_t mode, int *fd)
{
    const struct shmkit_opts *o = c->o;
    /* glibc's shm_open is open() in /dev/shm; the name is checked
     * (one leading '/', at most NAME_MAX after it), so this fits */
    char path[sizeof "/dev/shm" + NAME_MAX + 1];
    snprintf(path, sizeof path, "/dev/shm%s", o->name);
    int unnamed_first = 1;
    /* exclusive first, so we always know whether we made it */
    for (int tries = 0; tries < 100; tries++) {
        int rc =
            unnamed_first ? shmkit__link_create(seg, c, "/dev/shm", path, 0) : SHMKIT__NO_TMPFILE;
        if (rc == 0) {
            *fd = -1;
            return 0; /* made, mapped and named whole */
        }
        if (rc == SHMKIT__NO_TMPFILE) {
            unnamed_first = 0;
            rc = excl_create(o, mode);
            if (rc >= 0) {
                c->created = 1;
                *fd = rc;
                return 0;
            }
        }
        if (rc != -EEXIST || (o->flags & SHMKIT_EXCL))
            return rc;
        /* never O_CREAT here: the kernel's protected_regular then still
         * guards a sticky /dev/shm, and ownership is checked below */
        int leased = 0;
        do
            *fd = shm_open(o->name, O_RDWR | EXISTING, 0);
        while (*fd < 0 && shmkit__lease_wait(&leased));
        if (*fd >= 0)
            return 0;
        if (errno != ENOENT)
            return -errno; /* ENOENT: removed in between, try again */
    }
    return -ENOENT;
}

static int posix_open(shmkit_seg *seg, struct seg_create *c)
{
    const struct shmkit_opts *o = c->o;
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int fd;
    seg->writable = !rdonly;
    if (o->flags & SHMKIT_CREATE) {
        int rc = posix_create(seg, c, o->mode ? o->mode : 0600, &fd);
        if (rc < 0 || fd < 0)
            return rc;
    } else {
        int leased = 0;
        do
            fd = shm_open(o->name, (rdonly ? O_RDONLY : O_RDWR) | EXISTING, 0);
        while (fd < 0 && shmkit__lease_wait(&leased));
        if (fd < 0)
            return -errno;
    }
    seg->fd = fd;
    if (!c->created) {
        int rc = shmkit__existing_check(fd, o->flags);
        if (rc < 0)
            return rc;
    }
    return shmkit__fd_map(seg, c, 0);
}

static int posix_check(const struct shmkit_opts *o)
{
    return shmkit_name_check(o->name);
}

static int posix_remove(shmkit_seg *seg)
{
    return shm_unlink(seg->name) < 0 ? -errno : 0;
}

int shmkit_posix_remove(const char *name)
{
    int rc = shmkit_name_check(name);
    if (rc < 0)
        return rc;
    return shm_unlink(name) < 0 ? -errno : 0;
}

const struct seg_ops shmkit__seg_posix = {
    .named = 1,
    .check = posix_check,
    .open = posix_open,
    .remove = posix_remove,
    .stat = shmkit__fd_stat,
    .crc = shmkit__fd_crc,
    .being_made = shmkit__fd_being_made,
};
