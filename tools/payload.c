/*
 * payload.c - reading a segment's payload without changing it: for cat,
 * dump and the checksum of info/watch.
 *
 * A segment with a descriptor (POSIX, memfd) is read with pread(), and its
 * holes (a sparse segment: SHMKIT_NORESERVE, truncate) are found with
 * SEEK_DATA/SEEK_HOLE and given as zeros without being read. Reading a hole
 * through a shared tmpfs mapping would allocate a page for it, filling a
 * small /dev/shm from a sparse segment, and die of SIGBUS when it is full;
 * pread allocates nothing (tmpfs reads a hole as the zero page) and cannot
 * SIGBUS. A System V segment has no descriptor: it is read through its
 * mapping (its untouched pages are allocated then, in the kernel's System V
 * memory, not in /dev/shm; shmkit(1) says so).
 */
#include "cli.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void payload_init(struct payload *p, shmkit_seg *seg, int raw)
{
    memset(p, 0, sizeof *p);
    p->fd = shmkit_seg_fd(seg);
    p->base = raw ? 0 : SHMKIT_HEADER_SIZE;
    p->map = shmkit_seg_data(seg);
    p->len = shmkit_seg_size(seg);
}

/* The segment is shorter now than the payload we were given. */
static int shrank(const struct payload *p)
{
    struct stat st;
    return fstat(p->fd, &st) == 0 && (uint64_t)st.st_size < p->base + p->len;
}

int payload_hole(struct payload *p, uint64_t pos, uint64_t *hole)
{
    *hole = 0;
    if (p->fd < 0 || p->no_seek || pos >= p->len)
        return 0;
    if (pos >= p->data_at && pos < p->data_end)
        return 0; /* inside the data extent found last time */
    off_t d = lseek(p->fd, (off_t)(p->base + pos), SEEK_DATA);
    if (d < 0) {
        if (errno != ENXIO) {
            p->no_seek = 1; /* not supported here: read everything */
            return 0;
        }
        if (shrank(p))
            return -ENODATA;
        *hole = p->len - pos; /* no data from POS to the end */
        return 0;
    }
    uint64_t dpos = (uint64_t)d - p->base;
    if (dpos > pos) {
        *hole = (dpos < p->len ? dpos : p->len) - pos;
        return 0;
    }
    off_t h = lseek(p->fd, d, SEEK_HOLE);
    p->data_at = pos;
    p->data_end = h < 0 ? p->len : (uint64_t)h - p->base;
    return 0;
}

int payload_read(struct payload *p, uint64_t pos, void *buf, size_t n)
{
    unsigned char *b = buf;
    if (pos > p->len || n > p->len - pos)
        return -EINVAL;
    if (p->fd < 0) {
        memcpy(b, p->map + pos, n); /* System V: the mapping is all there is */
        return 0;
    }
    while (n) {
        uint64_t hole;
        int rc = payload_hole(p, pos, &hole);
        if (rc < 0)
            return rc;
        size_t k = n;
        if (hole) {
            if (hole < k)
                k = (size_t)hole;
            memset(b, 0, k);
        } else {
            if (!p->no_seek && p->data_end > pos && p->data_end - pos < k)
                k = (size_t)(p->data_end - pos);
            ssize_t r = pread(p->fd, b, k, (off_t)(p->base + pos));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                return -errno;
            if (r == 0)
                return -ENODATA; /* truncated under us */
            k = (size_t)r;
        }
        b += k;
        pos += k;
        n -= k;
    }
    return 0;
}

int payload_crc(struct payload *p, uint32_t *crc)
{
    static const unsigned char zeros[1 << 16];
    static unsigned char buf[1 << 16];
    uint32_t c = 0;
    for (uint64_t pos = 0; pos < p->len;) {
        uint64_t hole;
        int rc = payload_hole(p, pos, &hole);
        if (rc < 0)
            return rc;
        size_t k = p->len - pos < sizeof buf ? (size_t)(p->len - pos) : sizeof buf;
        if (hole) {
            if (hole < k)
                k = (size_t)hole;
            c = shmkit_crc32c(c, zeros, k); /* a hole reads as zeros */
        } else {
            if ((rc = payload_read(p, pos, buf, k)) < 0)
                return rc;
            c = shmkit_crc32c(c, buf, k);
        }
        pos += k;
    }
    *crc = c;
    return 0;
}
