/* seg_memfd.c - Linux memfd_create segments with sealing. The only Linux-only
 * segment code; elsewhere every call reports -ENOSYS. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__) && defined(MFD_ALLOW_SEALING)

int shmkit__memfd_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    int fd = o->fd;
    if (fd > 0) {
        if (o->flags & SHMKIT_CREATE)
            return -EINVAL;
        seg->fd = fd; /* ours now, whatever happens */
        /* a write-sealed memfd cannot be mapped writable: map it read-only */
        seg->writable = !(o->flags & SHMKIT_RDONLY) && !(shmkit__memfd_seals(fd) & F_SEAL_WRITE);
        if (!seg->name[0])
            snprintf(seg->name, sizeof seg->name, "memfd:%d", fd);
        return shmkit__fd_map(seg, o, 0, 0, 0);
    }
    if (!(o->flags & SHMKIT_CREATE))
        return -EINVAL; /* nothing to open: a memfd has no name to look up */
    fd = memfd_create(o->name && *o->name ? o->name : "shmkit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    seg->writable = 1;
    *created = 1;
    if (o->mode && fchmod(fd, o->mode) < 0)
        return -errno;
    return shmkit__fd_map(seg, o, total, 1, 0);
}

uint32_t shmkit__memfd_seals(int fd)
{
    int s = fcntl(fd, F_GET_SEALS);
    return s < 0 ? 0 : (uint32_t)s;
}

/* F_SEAL_WRITE is refused while any writable shared mapping exists, ours
 * included: remap read-only first, and restore the writable mapping if the
 * kernel still says no (someone else maps it writable). */
int shmkit__memfd_seal(shmkit_seg *seg)
{
    if (munmap(seg->map, seg->map_len) < 0)
        return -errno;
    seg->map = NULL;
    int rc = 0;
    int prot = PROT_READ;
    if (fcntl(seg->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        rc = -errno;
        prot |= PROT_WRITE;
    }
    void *m = mmap(NULL, seg->map_len, prot, MAP_SHARED, seg->fd, 0);
    if (m == MAP_FAILED)
        return rc ? rc : -errno;
    seg->data = (char *)m + (seg->flags & SHMKIT_RAW ? 0 : SHMKIT_HEADER_SIZE);
    seg->map = m;
    seg->writable = (prot & PROT_WRITE) != 0;
    return rc;
}

#else

int shmkit__memfd_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    (void)seg, (void)o, (void)total, (void)created;
    return -ENOSYS;
}

uint32_t shmkit__memfd_seals(int fd)
{
    (void)fd;
    return 0;
}

int shmkit__memfd_seal(shmkit_seg *seg)
{
    (void)seg;
    return -ENOSYS;
}

#endif
