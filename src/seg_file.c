/* seg_file.c - any regular file, mapped MAP_SHARED (changes reach the file) or MAP_PRIVATE. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

int shmkit__file_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int private_map = (o->flags & SHMKIT_PRIVATE) != 0;
    int nofollow = (o->flags & SHMKIT_FOLLOW) ? 0 : O_NOFOLLOW;
    mode_t mode = o->mode ? o->mode : 0600;
    /* O_NONBLOCK: opening a FIFO by mistake must fail (not a regular file),
     * not hang waiting for a writer; it changes nothing for regular files */
    nofollow |= O_NONBLOCK;
    int fd;
    if (o->flags & SHMKIT_CREATE) {
        fd = open(o->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | nofollow, mode);
        if (fd >= 0) {
            *created = 1;
        } else {
            if (errno != EEXIST || (o->flags & SHMKIT_EXCL))
                return -errno;
            fd = open(o->name, O_RDWR | O_CLOEXEC | nofollow);
        }
    } else {
        fd = open(o->name, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | nofollow);
    }
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    /* a private mapping may be written even when the file may not */
    seg->writable = !rdonly;
    if (*created && fchmod(fd, mode) < 0)
        return -errno;
    return shmkit__fd_map(seg, o, total, *created, private_map);
}
