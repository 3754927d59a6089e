/* seg_fd.c - descriptor and mapping helpers the segment backends share:
 * sizing and reserving, space checks, the checks an existing object must
 * pass, and the checksum reader that never allocates a sparse object's
 * holes. Uses no backend (see segment.h). */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

int shmkit__reserve_mapping(void *map, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(map, len, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno == EINVAL || errno == ENOSYS)
        return 0; /* kernel before 5.14: pages come at first touch */
    /* EFAULT: a page could not be had (the fault would have been SIGBUS) */
    return errno == EFAULT ? -ENOMEM : -errno;
#else
    (void)map;
    (void)len;
    return 0;
#endif
}

int shmkit__space_check(int fd, uint64_t total)
{
    struct statvfs sv;
    uint64_t room;
    if (fstatvfs(fd, &sv) < 0 || sv.f_blocks == 0)
        return 0; /* unknown or unlimited (e.g. the kernel's internal tmpfs): let fallocate say */
    if (__builtin_mul_overflow((uint64_t)sv.f_bfree, (uint64_t)sv.f_frsize, &room))
        return 0;
    return total > room ? -ENOSPC : 0;
}

int shmkit__mem_check(uint64_t total)
{
    struct sysinfo si;
    uint64_t ram, swap, room;
    if (sysinfo(&si) < 0)
        return 0;
    if (__builtin_mul_overflow((uint64_t)si.totalram, (uint64_t)si.mem_unit, &ram) ||
        __builtin_mul_overflow((uint64_t)si.totalswap, (uint64_t)si.mem_unit, &swap) ||
        __builtin_add_overflow(ram, swap, &room))
        return 0;
    return total > room ? -ENOMEM : 0;
}

/* posix_fallocate, where the file system has it. */
static int fd_reserve(int fd, uint64_t len)
{
    int rc = posix_fallocate(fd, 0, (off_t)len);
    return rc && rc != EOPNOTSUPP && rc != EINVAL ? -rc : 0;
}

int shmkit__reserve_rest(shmkit_seg *seg)
{
    if (seg->fd >= 0)
        return fd_reserve(seg->fd, seg->map_len);
    return shmkit__reserve_mapping(seg->map, seg->map_len);
}

int shmkit__backing_size(const shmkit_seg *seg, uint64_t *size)
{
    struct stat st;
    if (seg->fd < 0) {
        *size = seg->map_len; /* SYSV and ANON cannot shrink under us */
        return 0;
    }
    if (fstat(seg->fd, &st) < 0)
        return -errno;
    *size = (uint64_t)st.st_size;
    return 0;
}

/* Sizes the new object in SEG->fd to TOTAL and reserves what the create
 * needs now (see shmkit__fd_map). */
static int fd_size_new(shmkit_seg *seg, struct seg_create *c, size_t total)
{
    unsigned f = c->o->flags;
    int rc;
    if (!(f & SHMKIT_NORESERVE) && (rc = shmkit__space_check(seg->fd, total)) < 0)
        return rc;
    if (ftruncate(seg->fd, (off_t)total) < 0)
        return -errno;
    if (f & SHMKIT_RAW)
        return (f & SHMKIT_NORESERVE) ? 0 : fd_reserve(seg->fd, total);
    /* the header we are about to write needs its page (on a full tmpfs that
     * write would be a SIGBUS, not an error); the rest is reserved once the
     * header names its creator, see shmkit_open */
    if ((rc = fd_reserve(seg->fd, SHMKIT_HEADER_SIZE)) < 0)
        return rc;
    c->reserve_rest = !(f & SHMKIT_NORESERVE);
    return 0;
}

/* The size of the existing object in SEG->fd. A creator sizes the object
 * right after making it: an empty one may be a moment old. Give it the
 * same ~50 ms as a missing magic. */
static int fd_size_existing(shmkit_seg *seg, unsigned flags, size_t *total)
{
    struct stat st;
    for (int tries = 0;; tries++) {
        if (fstat(seg->fd, &st) < 0)
            return -errno;
        if (!S_ISREG(st.st_mode))
            return -EINVAL;
        if (st.st_size > 0)
            break;
        if (tries == 25 || (flags & SHMKIT_RAW))
            return SHMKIT_ETRUNCATED;
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if ((uint64_t)st.st_size > SIZE_MAX)
        return -EFBIG;
    *total = (size_t)st.st_size;
    return 0;
}

int shmkit__fd_map(shmkit_seg *seg, struct seg_create *c, int private_map)
{
    size_t total = c->total;
    int rc = c->created ? fd_size_new(seg, c, total) : fd_size_existing(seg, c->o->flags, &total);
    if (rc < 0)
        return rc;
    int prot = seg->writable ? PROT_READ | PROT_WRITE : PROT_READ;
    void *m = mmap(NULL, total, prot, private_map ? MAP_PRIVATE : MAP_SHARED, seg->fd, 0);
    if (m == MAP_FAILED)
        return -errno;
    seg->map = m;
    seg->map_len = total;
    return 0;
}

int shmkit__lease_wait(int *tries)
{
    if (errno != EWOULDBLOCK || ++*tries > 100)
        return 0;
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    return 1;
}

int shmkit__existing_check(int fd, unsigned flags)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (!S_ISREG(st.st_mode))
        return -EINVAL; /* a FIFO, device, socket or directory is no segment */
    if ((flags & SHMKIT_CREATE) && !(flags & SHMKIT_ANY_OWNER) &&
        (st.st_uid != geteuid() || st.st_nlink != 1))
        return -EPERM; /* planted by someone else (or a link to another name) */
    /* opened O_NONBLOCK only so that a FIFO could not hang the open */
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return 0;
}

int shmkit__fd_being_made(const shmkit_seg *seg, int64_t *last_blocks)
{
    struct stat st;
    if (fstat(seg->fd, &st) < 0)
        return 0;
    int grew = *last_blocks >= 0 && (int64_t)st.st_blocks != *last_blocks;
    *last_blocks = (int64_t)st.st_blocks;
    return grew;
}

int shmkit__fd_stat(const shmkit_seg *seg, struct shmkit_info *info)
{
    struct stat st;
    if (fstat(seg->fd, &st) < 0)
        return -errno;
    info->size = (uint64_t)st.st_size;
    info->mode = st.st_mode & 0777;
    info->uid = st.st_uid;
    info->gid = st.st_gid;
    info->atime = st.st_atime;
    info->mtime = st.st_mtime;
    info->ctime = st.st_ctime;
    return 0;
}

/* A descriptor of its own for scanning FD: SEEK_DATA moves the file offset,
 * which a received memfd shares with its sender (and shmkit_seg_fd with the
 * caller). Falls back to FD itself (*SAVED: the offset to put back). */
static int scan_fd(int fd, off_t *saved)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    /* O_NONBLOCK: fd is a regular file, but the name is only a name */
    int own = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (own >= 0) {
        struct stat a, b;
        if (fstat(own, &a) == 0 && fstat(fd, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return own;
        close(own);
    }
    *saved = lseek(fd, 0, SEEK_CUR);
    return fd;
}

/* Adds the data bytes of FD from *POS up to END (the end of a data extent)
 * to *CRC, read with pread through BUF. */
static int crc_extent(int fd, char *buf, size_t bufsize, uint64_t *pos, uint64_t end, uint32_t *crc)
{
    while (*pos < end) {
        size_t want = end - *pos < bufsize ? (size_t)(end - *pos) : bufsize;
        ssize_t n = pread(fd, buf, want, (off_t)*pos);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : SHMKIT_ETRUNCATED;
        *crc = shmkit_crc32c(*crc, buf, (size_t)n);
        *pos += (uint64_t)n;
    }
    return 0;
}

/* CRC-32C of LEN bytes of FD at OFF that reads only what the file holds:
 * holes (SEEK_DATA/SEEK_HOLE) count as zeros without being touched, so a
 * sparse tmpfs object is checked without allocating a page (a read fault
 * through the mapping would allocate each one, fill a small /dev/shm and
 * then raise SIGBUS). A file that ends before OFF + LEN, or shrinks while
 * it is read, gives SHMKIT_ETRUNCATED. The work is bounded by the data the
 * object really holds. */
static int crc_fd(int fd, uint64_t off, uint64_t len, uint32_t *out)
{
    enum { BUF = 256 * 1024 };
    char *buf = malloc(BUF);
    if (!buf)
        return -ENOMEM;
    uint64_t pos = off, end = off + len;
    uint32_t crc = 0;
    int rc = 0;
    struct stat st;
    while (pos < end && rc == 0) {
        off_t data = lseek(fd, (off_t)pos, SEEK_DATA);
        if (data < 0 && errno != ENXIO) {
            rc = -errno;
            break;
        }
        /* ENXIO: no data from POS to the end of the file: a hole to the end */
        uint64_t d = data < 0 || (uint64_t)data > end ? end : (uint64_t)data;
        crc = shmkit__crc32c_zeros(crc, d - pos);
        pos = d;
        if (pos == end)
            break;
        off_t hole = lseek(fd, (off_t)pos, SEEK_HOLE);
        if (hole < 0) {
            rc = errno == ENXIO ? SHMKIT_ETRUNCATED : -errno;
            break;
        }
        rc = crc_extent(fd, buf, BUF, &pos, (uint64_t)hole > end ? end : (uint64_t)hole, &crc);
    }
    /* holes were counted, not read: the object must still reach END */
    if (rc == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size < end))
        rc = SHMKIT_ETRUNCATED;
    free(buf);
    if (rc == 0)
        *out = crc;
    return rc;
}

int shmkit__fd_crc(const shmkit_seg *seg, uint32_t *crc)
{
    off_t saved = -1;
    int fd = scan_fd(seg->fd, &saved);
    int rc = crc_fd(fd, SHMKIT_HEADER_SIZE, seg->data_len, crc);
    if (fd != seg->fd)
        close(fd);
    else if (saved >= 0)
        lseek(fd, saved, SEEK_SET);
    return rc;
}
