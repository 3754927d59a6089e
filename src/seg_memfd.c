/* seg_memfd.c - Linux memfd_create segments with sealing. Elsewhere an
 * open reports -ENOSYS. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Either make a new memfd or map one received, never both: without
 * CREATE opts.fd is the descriptor (any value >= 0, descriptor 0 too); with
 * CREATE it must be 0 (a zero-initialised opts) or negative. */
static int memfd_check(const struct shmkit_opts *o)
{
    if (o->flags & SHMKIT_CREATE)
        return o->fd <= 0 ? 0 : -EINVAL;
    return o->fd >= 0 ? 0 : -EINVAL;
}

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

static uint32_t memfd_seals(int fd)
{
    int s = fcntl(fd, F_GET_SEALS);
    return s < 0 ? 0 : (uint32_t)s;
}

/* A descriptor received from another process (shmkit_open gave it to SEG). */
static int memfd_received(shmkit_seg *seg, struct seg_create *c)
{
    unsigned f = c->o->flags;
    int acc = fcntl(seg->fd, F_GETFL);
    if (acc < 0)
        return -errno;
    /* anything but a regular file (a FIFO, a socket, a device) is refused
     * before anything could block on it (the /proc reopen) */
    int rc = shmkit__existing_check(seg->fd, 0);
    if (rc < 0)
        return rc;
    int rdonly = (f & SHMKIT_RDONLY) || (acc & O_ACCMODE) == O_RDONLY;
    /* a write-sealed memfd cannot be mapped writable: map it read-only */
    seg->writable = !rdonly && !(memfd_seals(seg->fd) & F_SEAL_WRITE);
    if ((f & SHMKIT_RDONLY) && (acc & O_ACCMODE) != O_RDONLY)
        reopen_rdonly(seg);
    return shmkit__fd_map(seg, c, 0);
}

static int memfd_open(shmkit_seg *seg, struct seg_create *c)
{
    const struct shmkit_opts *o = c->o;
    if (!(o->flags & SHMKIT_CREATE))
        return memfd_received(seg, c);
    if (!(o->flags & SHMKIT_NORESERVE)) {
        int rc = shmkit__mem_check(c->total);
        if (rc < 0)
            return rc;
    }
    int fd =
        memfd_create(o->name && *o->name ? o->name : "shmkit", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    seg->writable = 1;
    c->created = 1;
    /* memfd_create makes it 0777: give it the mode every other kind gets */
    if (fchmod(fd, o->mode ? o->mode : 0600) < 0)
        return -errno;
    /* a channel or table made here can never be truncated under its users */
    if (o->layout != SHMKIT_LAYOUT_BYTES && !(o->flags & SHMKIT_RAW) &&
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0)
        return -errno;
    return shmkit__fd_map(seg, c, 0);
}

/* seg_ops.layout_prepare: seals against shrinking where it is not yet.
 * SHMKIT_ENOTSEALED when the seal cannot be added (sealed with F_SEAL_SEAL
 * already, or not made sealable) and the handle was not opened with
 * SHMKIT_ALLOW_UNSEALED. */
static int memfd_seal_shrink(shmkit_seg *seg)
{
    if (memfd_seals(seg->fd) & F_SEAL_SHRINK)
        return 0;
    if (fcntl(seg->fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0)
        return 0;
    return (seg->flags & SHMKIT_ALLOW_UNSEALED) ? 0 : SHMKIT_ENOTSEALED;
}

/* seg_ops.layout_guard: a channel or table must be sealed against shrinking
 * (anyone who can write the memfd could otherwise truncate it under its
 * users, who then die of SIGBUS), unless SHMKIT_ALLOW_UNSEALED. */
static int memfd_shrink_guard(const shmkit_seg *seg, uint32_t layout)
{
    if (layout == SHMKIT_LAYOUT_BYTES || (seg->flags & SHMKIT_ALLOW_UNSEALED))
        return 0;
    return (memfd_seals(seg->fd) & F_SEAL_SHRINK) ? 0 : SHMKIT_ENOTSEALED;
}

static int memfd_stat(const shmkit_seg *seg, struct shmkit_info *info)
{
    int rc = shmkit__fd_stat(seg, info);
    if (rc == 0)
        info->seals = memfd_seals(seg->fd);
    return rc;
}

/* F_SEAL_WRITE is refused while any writable shared mapping exists, ours
 * included: remap read-only first, and restore the writable mapping if the
 * kernel still says no (someone else maps it writable). The new mapping is
 * asked for at the old address so the payload pointer usually stays put. */
static int memfd_seal(shmkit_seg *seg)
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

const struct seg_ops shmkit__seg_memfd = {
    .flags = SHMKIT_ALLOW_UNSEALED,
    .named = 1,
    .takes_fd = 1,
    .check = memfd_check,
    .open = memfd_open,
    .stat = memfd_stat,
    .crc = shmkit__fd_crc,
    .being_made = shmkit__fd_being_made,
    .seal = memfd_seal,
    .layout_guard = memfd_shrink_guard,
    .layout_prepare = memfd_seal_shrink,
};

#else

static int memfd_open(shmkit_seg *seg, struct seg_create *c)
{
    (void)seg, (void)c;
    return -ENOSYS;
}

const struct seg_ops shmkit__seg_memfd = {
    .flags = SHMKIT_ALLOW_UNSEALED,
    .named = 1,
    .takes_fd = 1,
    .check = memfd_check,
    .open = memfd_open,
    .stat = shmkit__fd_stat,
};

#endif
