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

int shmkit__posix_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    mode_t mode = o->mode ? o->mode : 0600;
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int fd = -1;
    seg->writable = !rdonly;
    if (o->flags & SHMKIT_CREATE) {
        /* glibc's shm_open is open() in /dev/shm; the name is checked
         * (one leading '/', at most NAME_MAX after it), so this fits */
        char path[sizeof "/dev/shm" + NAME_MAX + 1];
        snprintf(path, sizeof path, "/dev/shm%s", o->name);
        int unnamed_first = 1;
        /* exclusive first, so we always know whether we made it */
        for (int tries = 0; fd < 0 && tries < 100; tries++) {
            int rc = unnamed_first ? shmkit__link_create(seg, o, "/dev/shm", path, total, 0)
                                   : SHMKIT__NO_TMPFILE;
            if (rc == 0) {
                *created = 1;
                return 0; /* made, mapped and named whole */
            }
            if (rc == SHMKIT__NO_TMPFILE) {
                unnamed_first = 0;
                rc = excl_create(o, mode);
                if (rc >= 0) {
                    fd = rc;
                    *created = 1;
                    break;
                }
            }
            if (rc != -EEXIST || (o->flags & SHMKIT_EXCL))
                return rc;
            /* never O_CREAT here: the kernel's protected_regular then still
             * guards a sticky /dev/shm, and ownership is checked below */
            int leased = 0;
            do
                fd = shm_open(o->name, O_RDWR | EXISTING, 0);
            while (fd < 0 && shmkit__lease_wait(&leased));
            if (fd < 0 && errno != ENOENT)
                return -errno; /* ENOENT: removed in between, try again */
        }
    } else {
        int leased = 0;
        do
            fd = shm_open(o->name, (rdonly ? O_RDONLY : O_RDWR) | EXISTING, 0);
        while (fd < 0 && shmkit__lease_wait(&leased));
    }
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    if (!*created) {
        int rc = shmkit__existing_check(fd, o->flags);
        if (rc < 0)
            return rc;
    }
    return shmkit__fd_map(seg, o, total, *created, 0);
}
