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

/* A descriptor received read-only is reopened read-only (through /proc):
 * a shared mapping of a descriptor open for writing counts as "may write"
 * even with PROT_READ, and would stop the sender from ever sealing it. */
static int reopen_rdonly(shmkit_seg *seg)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", seg->fd);
    /* O_NONBLOCK: the descriptor was a regular file a moment ago, but the
     * sender can still swap what the /proc link names; checked again below */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return 0; /* no /proc: keep the descriptor we have */
    struct stat a, b;
    if (fstat(fd, &a) < 0 || fstat(seg->fd, &b) < 0 || a.st_ino != b.st_ino ||
        a.st_dev != b.st_dev) {
        close(fd);
        return 0;
    }
    close(seg->fd);
    seg->fd = fd;
    return 0;
}

int shmkit__memfd_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    if (seg->fd >= 0) {
        /* a descriptor received from another process (shmkit_open gave it to SEG) */
        int acc = fcntl(seg->fd, F_GETFL);
        if (acc < 0)
            return -errno;
        /* anything but a regular file (a FIFO, a socket, a device) is
         * refused before anything could block on it (the /proc reopen) */
        int rc = shmkit__existing_check(seg->fd, 0);
        if (rc < 0)
            return rc;
        int rdonly = (o->flags & SHMKIT_RDONLY) || (acc & O_ACCMODE) == O_RDONLY;
        /* a write-sealed memfd cannot be mapped writable: map it read-only */
        seg->writable = !rdonly && !(shmkit__memfd_seals(seg->fd) & F_SEAL_WRITE);
        if ((o->flags & SHMKIT_RDONLY) && (acc & O_ACCMODE) != O_RDONLY)
            reopen_rdonly(seg);
        return shmkit__fd_map(seg, o, 0, 0, 0);
    }
    if (!(o->flags & SHMKIT_NORESERVE)) {
        int rc = shmkit__mem_check(total);
        if (rc < 0)
            return rc;
    }
    int fd = memfd_create(o->name && *o->name ? o->name : "shmkit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    seg->writable = 1;
    *created = 1;
    /* memfd_create makes it 0777: give it the mode every other kind gets */
    if (fchmod(fd, o->mode ? o->mode : 0600) < 0)
        return -errno;
    /* a channel or table made here can never be truncated under its users */
    if (o->layout != SHMKIT_LAYOUT_BYTES && !(o->flags & SHMKIT_RAW) &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
        return -errno;
    return shmkit__fd_map(seg, o, total, 1, 0);
}

int shmkit__memfd_seal_shrink(shmkit_seg *seg)
{
    if (seg->kind != SHMKIT_MEMFD || (shmkit__memfd_seals(seg->fd) & F_SEAL_SHRINK))
        return 0;
    if (fcntl(seg->fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
        return 0;
    return (seg->flags & SHMKIT_ALLOW_UNSEALED) ? 0 : SHMKIT_ENOTSEALED;
}

int shmkit__memfd_shrink_guard(const shmkit_seg *seg, uint32_t layout)
{
    if (seg->kind != SHMKIT_MEMFD || layout == SHMKIT_LAYOUT_BYTES ||
        (seg->flags & SHMKIT_ALLOW_UNSEALED))
        return 0;
    return (shmkit__memfd_seals(seg->fd) & F_SEAL_SHRINK) ? 0 : SHMKIT_ENOTSEALED;
}

uint32_t shmkit__memfd_seals(int fd)
{
    int s = fcntl(fd, F_GET_SEALS);
    return s < 0 ? 0 : (uint32_t)s;
}

/* F_SEAL_WRITE is refused while any writable shared mapping exists, ours
 * included: remap read-only first, and restore the writable mapping if the
 * kernel still says no (someone else maps it writable). The new mapping is
 * asked for at the old address so the payload pointer usually stays put. */
int shmkit__memfd_seal(shmkit_seg *seg)
{
    void *old = seg->map;
    if (munmap(seg->map, seg->map_len) < 0)
        return -errno;
    seg->map = NULL;
    seg->data = NULL;
    int rc = 0;
    int prot = PROT_READ;
    if (fcntl(seg->fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) < 0) {
        rc = -errno;
        prot |= PROT_WRITE;
    }
    void *m = mmap(old, seg->map_len, prot, MAP_SHARED, seg->fd, 0);
    if (m == MAP_FAILED)
        return rc ? rc : -errno; /* handle now has no mapping: data() is NULL */
    seg->map = m;
    seg->data = (char *)m + (seg->flags & SHMKIT_RAW ? 0 : SHMKIT_HEADER_SIZE);
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

int shmkit__memfd_seal_shrink(shmkit_seg *seg)
{
    (void)seg;
    return 0;
}

int shmkit__memfd_shrink_guard(const shmkit_seg *seg, uint32_t layout)
{
    (void)seg, (void)layout;
    return 0;
}

#endif
