/* seg_posix.c - POSIX shared memory: shm_open + ftruncate + mmap, shm_unlink. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int shmkit__posix_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    mode_t mode = o->mode ? o->mode : 0600;
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int fd = -1;
    seg->writable = !rdonly;
    if (o->flags & SHMKIT_CREATE) {
        /* O_EXCL first, so we always know whether we made it */
        for (int tries = 0; fd < 0 && tries < 100; tries++) {
            fd = shm_open(o->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
            if (fd >= 0) {
                *created = 1;
                /* the umask must not narrow what the caller asked for */
                if (fchmod(fd, mode) < 0) {
                    int err = -errno;
                    close(fd);
                    shm_unlink(o->name);
                    *created = 0;
                    return err;
                }
                break;
            }
            if (errno != EEXIST || (o->flags & SHMKIT_EXCL))
                return -errno;
            fd = shm_open(o->name, O_RDWR | O_CLOEXEC, 0);
            if (fd < 0 && errno != ENOENT)
                return -errno; /* ENOENT: removed in between, try again */
        }
    } else {
        fd = shm_open(o->name, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC, 0);
    }
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    return shmkit__fd_map(seg, o, total, *created, 0);
}
