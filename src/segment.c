/* segment.c - one handle over every kind: open, close, remove, stat, seal, verify. */
#include "segment.h"

#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <time.h>
#include <unistd.h>

#define ALL_FLAGS                                                                                  \
    (SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_RDONLY | SHMKIT_RAW | SHMKIT_PRIVATE | SHMKIT_FOLLOW |   \
     SHMKIT_VERIFY | SHMKIT_NORESERVE | SHMKIT_SHMID | SHMKIT_ANY_OWNER | SHMKIT_ALLOW_UNSEALED)

static int opts_check(const struct shmkit_opts *o)
{
    unsigned f = o->flags;
    if (f & ~ALL_FLAGS)
        return -EINVAL;
    if ((f & SHMKIT_EXCL) && !(f & SHMKIT_CREATE))
        return -EINVAL;
    if ((f & SHMKIT_RDONLY) && (f & SHMKIT_CREATE))
        return -EINVAL; /* a new segment must be written (at least its header) */
    if ((f & (SHMKIT_PRIVATE | SHMKIT_FOLLOW)) && o->kind != SHMKIT_FILE)
        return -EINVAL;
    if ((f & SHMKIT_ANY_OWNER) && !(f & SHMKIT_CREATE))
        return -EINVAL; /* a plain open takes whatever it names anyway */
    if ((f & SHMKIT_ALLOW_UNSEALED) && o->kind != SHMKIT_MEMFD)
        return -EINVAL;
    if ((f & SHMKIT_SHMID) && (o->kind != SHMKIT_SYSV || (f & SHMKIT_CREATE)))
        return -EINVAL; /* an id names an existing segment: nothing to create */
    if ((f & SHMKIT_RAW) && (o->layout || (f & SHMKIT_VERIFY)))
        return -EINVAL; /* no header: no layout to record, no seal to check */
    if (o->layout > SHMKIT_LAYOUT_TABLE)
        return -EINVAL;
    if (o->mode & ~(mode_t)0777)
        return -EINVAL; /* permission bits only: no setuid, sticky or type bits */
    switch (o->kind) {
    case SHMKIT_POSIX:
        return shmkit_name_check(o->name);
    case SHMKIT_FILE:
        return o->name && *o->name ? 0 : SHMKIT_EBADNAME;
    case SHMKIT_SYSV:
        return 0;
    case SHMKIT_MEMFD:
        /* either make a new one or map one received: never both */
        if ((o->fd > 0) == !!(f & SHMKIT_CREATE))
            return -EINVAL;
        return 0;
    case SHMKIT_ANON:
        return (f & SHMKIT_CREATE) ? 0 : -EINVAL; /* an anonymous mapping can only be made */
    default:
        return -EINVAL;
    }
}

/* Header bytes are written with the magic last, so a process opening the
 * segment concurrently sees either no magic (and waits) or a whole header. */
static void hdr_publish(void *map, const struct shmkit__hdr *h)
{
    memcpy((char *)map + sizeof h->magic, (const char *)h + sizeof h->magic,
           sizeof *h - sizeof h->magic);
    /* release: the header body must be visible before the magic that vouches for it */
    atomic_thread_fence(memory_order_release);
    memcpy(map, h->magic, sizeof h->magic);
}

static int magic_is_zero(const struct shmkit__hdr *h)
{
    static const char zero[sizeof h->magic];
    return !memcmp(h->magic, zero, sizeof zero);
}

/* Whether a segment that has no header yet is visibly still being made, so
 * that waiting past the first ~50 ms is worth it: its memory is still being
 * reserved (the allocated blocks grew since the last look: POSIX, FILE,
 * MEMFD), or (SYSV, where that cannot be seen) another live process made it
 * less than 10 s ago. A reservation of gigabytes takes a second or more. */
static int being_made(const shmkit_seg *seg, int64_t *last_blocks)
{
    if (seg->fd >= 0) {
        struct stat st;
        if (fstat(seg->fd, &st) < 0)
            return 0;
        int grew = *last_blocks >= 0 && (int64_t)st.st_blocks != *last_blocks;
        *last_blocks = (int64_t)st.st_blocks;
        return grew;
    }
    if (seg->kind == SHMKIT_SYSV) {
        struct shmid_ds ds;
        if (shmctl(seg->shmid, IPC_STAT, &ds) < 0 || ds.shm_cpid == getpid())
            return 0;
        int alive = kill(ds.shm_cpid, 0) == 0 || errno == EPERM;
        return alive && time(NULL) - ds.shm_ctime < 10;
    }
    return 0;
}

/* Reads and validates the header of SEG's mapping, of which AVAIL bytes are
 * backed. Two situations look like damage but pass: a creator between
 * sizing the segment and publishing its header (no magic yet), and a writer
 * rewriting the header (hdr_store) while we copy it (a torn copy fails its
 * CRC). Both are waited out for ~50-100 ms, a creator that is visibly
 * still reserving memory for up to ~10 s. A header that fails the same way
 * on two back-to-back copies that are identical is damaged, not in flux,
 * and is reported at once. */
static int hdr_read(const shmkit_seg *seg, uint64_t avail, struct shmkit__hdr *h)
{
    struct shmkit__hdr again;
    int64_t blocks = -1;
    int making = 1, rc = 0;
    for (int tries = 0; tries < 5000; tries++) {
        rc = shmkit__hdr_load(seg->map, avail, h);
        if (rc == 0 || rc == SHMKIT_ETRUNCATED)
            return rc;
        if (rc == SHMKIT_ENOTSHMKIT) {
            if (!magic_is_zero(h))
                return rc; /* a foreign segment, not one being made */
            /* progress is judged over 100 ms: on a busy machine the creator
             * may well be off the CPU for a few milliseconds */
            if (tries % 50 == 0) {
                int m = being_made(seg, &blocks);
                if (tries)
                    making = m;
            }
            if (tries >= 25 && !making)
                return rc;
        } else {
            int rc2 = shmkit__hdr_load(seg->map, avail, &again);
            if (rc2 == 0) {
                *h = again;
                return 0;
            }
            if (rc2 == rc && !memcmp(h, &again, sizeof again))
                return rc;
            if (tries >= 25)
                return rc;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return rc;
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
        uint64_t h = (uint64_t)hole > end ? end : (uint64_t)hole;
        while (pos < h) {
            size_t want = h - pos < BUF ? (size_t)(h - pos) : BUF;
            ssize_t n = pread(fd, buf, want, (off_t)pos);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                rc = n < 0 ? -errno : SHMKIT_ETRUNCATED;
                break;
            }
            crc = shmkit_crc32c(crc, buf, (size_t)n);
            pos += (uint64_t)n;
        }
    }
    /* holes were counted, not read: the object must still reach END */
    if (rc == 0 && (fstat(fd, &st) < 0 || (uint64_t)st.st_size < end))
        rc = SHMKIT_ETRUNCATED;
    free(buf);
    if (rc == 0)
        *out = crc;
    return rc;
}

/* The payload checksum, computed without allocating memory for the holes
 * of a sparse segment where that can be told: through a descriptor
 * (POSIX, MEMFD, shared FILE), or (SYSV) from which pages exist (mincore).
 * ANON and a private FILE mapping are read through the mapping: a hole
 * read there is allocated (see CAVEATS in shmkit.h). */
static int payload_crc(const shmkit_seg *seg, uint32_t *crc)
{
    if (seg->fd >= 0 && !(seg->flags & SHMKIT_PRIVATE)) {
        off_t saved = -1;
        int fd = scan_fd(seg->fd, &saved);
        int rc = crc_fd(fd, SHMKIT_HEADER_SIZE, seg->data_len, crc);
        if (fd != seg->fd)
            close(fd);
        else if (saved >= 0)
            lseek(fd, saved, SEEK_SET);
        return rc;
    }
    if (seg->kind == SHMKIT_SYSV && shmkit__sysv_crc(seg, crc) == 0)
        return 0;
    *crc = shmkit_crc32c(0, seg->data, seg->data_len);
    return 0;
}

static int unmap(shmkit_seg *seg)
{
    int rc = 0;
    if (!seg->map)
        return 0;
    if (seg->kind == SHMKIT_SYSV)
        rc = shmdt(seg->map) < 0 ? -errno : 0;
    else
        rc = munmap(seg->map, seg->map_len) < 0 ? -errno : 0;
    seg->map = NULL;
    seg->data = NULL;
    return rc;
}

/* The name the handle keeps (and removes by): a copy of opts.name, or for a
 * received MEMFD descriptor without one, "memfd:FD". */
static char *seg_name(const struct shmkit_opts *o, int given_fd)
{
    if (given_fd >= 0 && (!o->name || !*o->name)) {
        char buf[32];
        snprintf(buf, sizeof buf, "memfd:%d", given_fd);
        return strdup(buf);
    }
    return strdup(o->name && o->kind != SHMKIT_SYSV && o->kind != SHMKIT_ANON ? o->name : "");
}

int shmkit_open(shmkit_seg **out, const struct shmkit_opts *o)
{
    return shmkit__open_layout(out, o, NULL);
}

int shmkit__open_layout(shmkit_seg **out, const struct shmkit_opts *o, const uint64_t param[4])
{
    int rc;
    struct shmkit__hdr h;
    shmkit_seg *seg = NULL;
    /* A MEMFD descriptor handed in is ours from here on, whatever happens:
     * on every failure it is closed, so the caller never has to guess. */
    int given_fd = (o && o->kind == SHMKIT_MEMFD && o->fd > 0) ? o->fd : -1;
    if (!out || !o) {
        rc = -EINVAL;
        goto close_given;
    }
    *out = NULL;
    rc = opts_check(o);
    if (rc < 0)
        goto close_given;
    unsigned raw = o->flags & SHMKIT_RAW;
    uint64_t total = 0;
    if (o->flags & SHMKIT_CREATE) {
        rc = SHMKIT_EBADSIZE;
        if (o->size == 0)
            goto close_given;
        if (shmkit__add_overflow(o->size, raw ? 0 : SHMKIT_HEADER_SIZE, &total) ||
            total > (uint64_t)INT64_MAX || total > SIZE_MAX)
            goto close_given;
    }

    rc = -ENOMEM;
    seg = calloc(1, sizeof *seg);
    if (!seg)
        goto close_given;
    seg->kind = o->kind;
    seg->flags = o->flags;
    seg->fd = -1;
    seg->shmid = -1;
    seg->name = seg_name(o, given_fd);
    if (!seg->name) {
        free(seg);
        goto close_given;
    }
    seg->fd = given_fd; /* from now on shmkit_close() closes it */
    if ((o->flags & SHMKIT_CREATE) && !raw) {
        /* complete before anything is named: layout parameters included */
        shmkit__hdr_init(&h, o->size, o->layout);
        if (param)
            memcpy(h.layout_param, param, sizeof h.layout_param);
        shmkit__hdr_finish(&h);
        seg->new_hdr = &h;
    }

    int created = 0;
    switch (o->kind) {
    case SHMKIT_POSIX:
        rc = shmkit__posix_open(seg, o, (size_t)total, &created);
        break;
    case SHMKIT_SYSV:
        rc = shmkit__sysv_open(seg, o, (size_t)total, &created);
        break;
    case SHMKIT_ANON:
        rc = shmkit__anon_open(seg, o, (size_t)total, &created);
        break;
    case SHMKIT_MEMFD:
        rc = shmkit__memfd_open(seg, o, (size_t)total, &created);
        break;
    case SHMKIT_FILE:
        rc = shmkit__file_open(seg, o, (size_t)total, &created);
        break;
    }
    if (rc < 0)
        goto fail;

    if (raw) {
        seg->data = seg->map;
        seg->data_len = seg->map_len;
    } else if (created && seg->hdr_written) {
        /* made unnamed, reserved and written whole, then linked */
        seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
        seg->data_len = o->size;
    } else if (created) {
        hdr_publish(seg->map, &h);
        if (seg->kind == SHMKIT_FILE && (o->flags & SHMKIT_PRIVATE)) {
            /* a private mapping never reaches the file: write the header there too */
            ssize_t n = pwrite(seg->fd, &h, sizeof h, 0);
            if (n != (ssize_t)sizeof h) {
                rc = n < 0 ? -errno : -EIO;
                goto fail;
            }
        }
        /* Reserving a large segment takes a while. Doing it only now means a
         * creator killed meanwhile leaves a segment whose header names its
         * dead creator, which `shmkit gc` removes, instead of a header-less
         * one that cannot be told from a foreign segment. */
        if (seg->reserve_after_header && (rc = shmkit__reserve_rest(seg)) < 0)
            goto fail;
        seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
        seg->data_len = o->size;
    } else {
        rc = hdr_read(seg, seg->map_len, &h);
        if (rc < 0)
            goto fail;
        if (o->layout && h.layout != o->layout) {
            rc = SHMKIT_ELAYOUT;
            goto fail;
        }
        seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
        seg->data_len = (size_t)h.payload_size; /* <= map_len - header: checked */
        if ((rc = shmkit__memfd_shrink_guard(seg, h.layout)) < 0)
            goto fail;
        if ((o->flags & SHMKIT_VERIFY) && (h.flags & SHMKIT__HF_SEALED)) {
            uint32_t crc = 0;
            if ((rc = payload_crc(seg, &crc)) < 0)
                goto fail;
            if (crc != h.payload_crc) {
                rc = SHMKIT_ETAMPERED;
                goto fail;
            }
        }
    }
    if (o->size && seg->data_len < o->size) {
        rc = SHMKIT_EBADSIZE; /* an existing segment smaller than the caller needs */
        goto fail;
    }
    seg->new_hdr = NULL; /* it lives on this stack */
    *out = seg;
    return 0;

fail:
    if (created)
        shmkit_seg_remove(seg);
    shmkit_close(seg);
    return rc;

close_given:
    if (given_fd >= 0)
        close(given_fd);
    return rc;
}

int shmkit_close(shmkit_seg *seg)
{
    if (!seg)
        return 0;
    int rc = unmap(seg);
    if (seg->fd >= 0 && close(seg->fd) < 0 && rc == 0)
        rc = -errno;
    free(seg->name);
    free(seg);
    return rc;
}

int shmkit_seg_remove(shmkit_seg *seg)
{
    if (!seg)
        return -EINVAL;
    switch (seg->kind) {
    case SHMKIT_POSIX:
        return shm_unlink(seg->name) < 0 ? -errno : 0;
    case SHMKIT_SYSV:
        return shmkit_sysv_remove(seg->shmid);
    case SHMKIT_FILE:
        return unlink(seg->name) < 0 ? -errno : 0;
    default:
        return 0;
    }
}

int shmkit_posix_remove(const char *name)
{
    int rc = shmkit_name_check(name);
    if (rc < 0)
        return rc;
    return shm_unlink(name) < 0 ? -errno : 0;
}

int shmkit_sysv_remove(int shmid)
{
    if (shmid < 0)
        return -EINVAL;
    return shmctl(shmid, IPC_RMID, NULL) < 0 ? -errno : 0;
}

void *shmkit_seg_data(const shmkit_seg *seg)
{
    return seg ? seg->data : NULL;
}

size_t shmkit_seg_size(const shmkit_seg *seg)
{
    return seg ? seg->data_len : 0;
}

int shmkit_seg_fd(const shmkit_seg *seg)
{
    return seg ? seg->fd : -1;
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

int shmkit_seg_stat(const shmkit_seg *seg, struct shmkit_info *info)
{
    if (!seg || !info)
        return -EINVAL;
    memset(info, 0, sizeof *info);
    info->kind = seg->kind;
    info->shmid = -1;
    info->nattch = -1;
    info->size = seg->map_len;
    info->payload_size = seg->data_len;
    snprintf(info->name, sizeof info->name, "%s", seg->name); /* may truncate a long path */
    if (seg->kind == SHMKIT_SYSV) {
        int rc = shmkit__sysv_stat(seg, info);
        if (rc < 0)
            return rc;
    } else if (seg->fd >= 0) {
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
        if (seg->kind == SHMKIT_MEMFD)
            info->seals = shmkit__memfd_seals(seg->fd);
    } else {
        /* ANON: only this process and its children can reach it */
        info->mode = 0600;
        info->uid = (uint32_t)geteuid();
        info->gid = (uint32_t)getegid();
    }
    if (!(seg->flags & SHMKIT_RAW) && seg->map) {
        struct shmkit__hdr h;
        uint64_t now = 0;
        int rc = shmkit__backing_size(seg, &now);
        if (rc < 0)
            return rc;
        if (now > seg->map_len)
            now = seg->map_len;
        /* a damaged header leaves has_header 0; verify says why */
        if (hdr_read(seg, now, &h) == 0)
            shmkit__hdr_to_info(&h, info);
    }
    return 0;
}

/* Loads and validates the live header of an open handle, refusing to touch
 * pages that a truncation has removed (reading them would raise SIGBUS). */
static int live_header(const shmkit_seg *seg, struct shmkit__hdr *h)
{
    uint64_t now = 0;
    if (seg->flags & SHMKIT_RAW)
        return -EINVAL;
    if (!seg->map)
        return -EBADF; /* lost its mapping in a failed memfd seal */
    int rc = shmkit__backing_size(seg, &now);
    if (rc < 0)
        return rc;
    if (now < seg->map_len)
        return SHMKIT_ETRUNCATED;
    rc = hdr_read(seg, seg->map_len, h);
    if (rc == 0 && h->payload_size != seg->data_len)
        rc = SHMKIT_EBADHEADER; /* rewritten since we opened it */
    if (rc == 0)
        rc = shmkit__memfd_shrink_guard(seg, h->layout);
    return rc;
}

/* Rewrites the header of a live segment. Readers copying it meanwhile see a
 * torn copy that fails its CRC; hdr_read() copies twice and retries.
 * Where the mapping is shared with a descriptor, the header goes out in one
 * pwrite: the kernel copies a 256-byte write within one page whole once it
 * has started (a fatal signal is only looked at before), so a writer killed
 * with SIGKILL leaves the old header or the new one, never a torn one. A
 * memcpy into the mapping can be cut between two stores. */
static void hdr_store(shmkit_seg *seg, struct shmkit__hdr *h)
{
    shmkit__hdr_finish(h);
    if (seg->fd >= 0 && !(seg->flags & SHMKIT_PRIVATE) &&
        pwrite(seg->fd, h, sizeof *h, 0) == (ssize_t)sizeof *h)
        return;
    memcpy(seg->map, h, sizeof *h); /* SYSV, ANON, a private mapping, or pwrite refused */
}

int shmkit_seg_seal(shmkit_seg *seg)
{
    struct shmkit__hdr h, old;
    if (!seg || (seg->flags & SHMKIT_RAW))
        return -EINVAL;
    if (!seg->writable)
        return -EBADF;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    old = h;
    h.flags |= SHMKIT__HF_SEALED;
    if ((rc = payload_crc(seg, &h.payload_crc)) < 0)
        return rc;
    h.generation++;
    hdr_store(seg, &h);
    if (seg->kind != SHMKIT_MEMFD)
        return 0;
    rc = shmkit__memfd_seal(seg);
    if (rc < 0 && seg->map && seg->writable)
        hdr_store(seg, &old); /* the kernel refused: do not claim a seal */
    return rc;
}

int shmkit_seg_verify(const shmkit_seg *seg)
{
    struct shmkit__hdr h;
    if (!seg)
        return -EINVAL;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    if (!(h.flags & SHMKIT__HF_SEALED))
        return SHMKIT_ENOTSEALED;
    uint32_t crc = 0;
    if ((rc = payload_crc(seg, &crc)) < 0)
        return rc;
    return crc == h.payload_crc ? 0 : SHMKIT_ETAMPERED;
}

int shmkit__seg_layout(const shmkit_seg *seg, uint32_t *layout, uint64_t param[4])
{
    struct shmkit__hdr h;
    if (!seg || (seg->flags & SHMKIT_RAW))
        return SHMKIT_ELAYOUT; /* no header: no layout */
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    *layout = h.layout;
    memcpy(param, h.layout_param, sizeof h.layout_param);
    return 0;
}

int shmkit_seg_layout_param(const shmkit_seg *seg, unsigned idx, uint64_t *val)
{
    struct shmkit__hdr h;
    if (!seg || !val || idx > 3)
        return -EINVAL;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    *val = h.layout_param[idx];
    return 0;
}

int shmkit_seg_set_layout(shmkit_seg *seg, uint32_t layout, const uint64_t param[4])
{
    struct shmkit__hdr h;
    if (!seg || (seg->flags & SHMKIT_RAW) || layout > SHMKIT_LAYOUT_TABLE)
        return -EINVAL;
    if (!seg->writable)
        return -EBADF;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    /* a channel or table in a memfd is sealed against shrinking first, so
     * that no one can truncate it under a process using it (SIGBUS) */
    if (layout != SHMKIT_LAYOUT_BYTES && (rc = shmkit__memfd_seal_shrink(seg)) < 0)
        return rc;
    h.layout = layout;
    if (param)
        memcpy(h.layout_param, param, sizeof h.layout_param);
    h.generation++;
    hdr_store(seg, &h);
    return 0;
}

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

int shmkit__fd_map(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int created,
                   int private_map)
{
    int rc;
    struct stat st;
    if (created) {
        if (!(o->flags & SHMKIT_NORESERVE)) {
            rc = shmkit__space_check(seg->fd, total);
            if (rc < 0)
                return rc;
        }
        if (ftruncate(seg->fd, (off_t)total) < 0)
            return -errno;
        if (o->flags & SHMKIT_RAW) {
            if (!(o->flags & SHMKIT_NORESERVE) && (rc = fd_reserve(seg->fd, total)) < 0)
                return rc;
        } else {
            /* the header we are about to write needs its page (on a full
             * tmpfs that write would be a SIGBUS, not an error); the rest is
             * reserved once the header names its creator, see shmkit_open */
            if ((rc = fd_reserve(seg->fd, SHMKIT_HEADER_SIZE)) < 0)
                return rc;
            seg->reserve_after_header = !(o->flags & SHMKIT_NORESERVE);
        }
    } else {
        /* A creator sizes the object right after making it: an empty one
         * may be a moment old. Give it the same ~50 ms as a missing magic. */
        for (int tries = 0;; tries++) {
            if (fstat(seg->fd, &st) < 0)
                return -errno;
            if (!S_ISREG(st.st_mode))
                return -EINVAL;
            if (st.st_size > 0)
                break;
            if (tries == 25 || (o->flags & SHMKIT_RAW))
                return SHMKIT_ETRUNCATED;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if ((uint64_t)st.st_size > SIZE_MAX)
            return -EFBIG;
        total = (size_t)st.st_size;
    }
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
