/* segment.c - one handle over every kind: open, close, remove, stat, seal, verify. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ALL_FLAGS                                                                                  \
    (SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_RDONLY | SHMKIT_RAW | SHMKIT_PRIVATE | SHMKIT_FOLLOW |   \
     SHMKIT_VERIFY | SHMKIT_NORESERVE | SHMKIT_SHMID)

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
    if ((f & SHMKIT_SHMID) && o->kind != SHMKIT_SYSV)
        return -EINVAL;
    if ((f & SHMKIT_RAW) && o->layout)
        return -EINVAL;
    if (o->layout > SHMKIT_LAYOUT_TABLE)
        return -EINVAL;
    switch (o->kind) {
    case SHMKIT_POSIX:
        return shmkit_name_check(o->name);
    case SHMKIT_FILE:
        return o->name && *o->name ? 0 : SHMKIT_EBADNAME;
    case SHMKIT_SYSV:
    case SHMKIT_MEMFD:
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

static int hdr_load_waiting(const shmkit_seg *seg, struct shmkit__hdr *h)
{
    int rc = SHMKIT_ENOTSHMKIT;
    /* A creator may be between ftruncate and hdr_publish: give it ~50 ms. */
    for (int tries = 0; tries < 25; tries++) {
        rc = shmkit__hdr_load(seg->map, seg->map_len, h);
        if (rc != SHMKIT_ENOTSHMKIT)
            break;
        static const char zero[8];
        if (memcmp(h->magic, zero, sizeof zero))
            break; /* a foreign segment, not one being made */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    /* acquire: pairs with hdr_publish's release */
    atomic_thread_fence(memory_order_acquire);
    return rc;
}

static uint32_t payload_crc(const shmkit_seg *seg)
{
    return shmkit_crc32c(0, seg->data, seg->data_len);
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
    return rc;
}

int shmkit_open(shmkit_seg **out, const struct shmkit_opts *o)
{
    if (!out || !o)
        return -EINVAL;
    *out = NULL;
    int rc = opts_check(o);
    if (rc < 0)
        return rc;
    unsigned raw = o->flags & SHMKIT_RAW;
    uint64_t total = 0;
    if (o->flags & SHMKIT_CREATE) {
        if (o->size == 0)
            return SHMKIT_EBADSIZE;
        if (shmkit__add_overflow(o->size, raw ? 0 : SHMKIT_HEADER_SIZE, &total) ||
            total > (uint64_t)INT64_MAX || total > SIZE_MAX)
            return SHMKIT_EBADSIZE;
    }

    shmkit_seg *seg = calloc(1, sizeof *seg);
    if (!seg)
        return -ENOMEM;
    seg->kind = o->kind;
    seg->flags = o->flags;
    seg->fd = -1;
    seg->shmid = -1;
    if (o->name)
        snprintf(seg->name, sizeof seg->name, "%s", o->name);

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
    } else if (created) {
        struct shmkit__hdr h;
        shmkit__hdr_init(&h, o->size, o->layout);
        shmkit__hdr_finish(&h);
        hdr_publish(seg->map, &h);
        if (seg->kind == SHMKIT_FILE && (o->flags & SHMKIT_PRIVATE) &&
            pwrite(seg->fd, &h, sizeof h, 0) != (ssize_t)sizeof h) {
            rc = -errno;
            goto fail;
        }
        seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
        seg->data_len = o->size;
    } else {
        struct shmkit__hdr h;
        rc = hdr_load_waiting(seg, &h);
        if (rc < 0)
            goto fail;
        if (o->layout && h.layout != o->layout) {
            rc = SHMKIT_ELAYOUT;
            goto fail;
        }
        seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
        seg->data_len = (size_t)h.payload_size;
        if ((o->flags & SHMKIT_VERIFY) && (h.flags & SHMKIT__HF_SEALED) &&
            payload_crc(seg) != h.payload_crc) {
            rc = SHMKIT_ETAMPERED;
            goto fail;
        }
    }
    if (o->size && seg->data_len < o->size) {
        rc = SHMKIT_ETRUNCATED;
        goto fail;
    }
    *out = seg;
    return 0;

fail:
    if (created)
        shmkit_seg_remove(seg);
    shmkit_close(seg);
    return rc;
}

int shmkit_close(shmkit_seg *seg)
{
    if (!seg)
        return 0;
    int rc = unmap(seg);
    if (seg->fd >= 0 && close(seg->fd) < 0 && rc == 0)
        rc = -errno;
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
    if (seg->kind != SHMKIT_SYSV && seg->kind != SHMKIT_ANON)
        snprintf(info->name, sizeof info->name, "%s", seg->name);
    if (seg->kind == SHMKIT_SYSV) {
        int rc = shmkit__sysv_stat(seg, info);
        if (rc < 0)
            return rc;
    } else if (seg->fd >= 0) {
        struct stat st;
        if (fstat(seg->fd, &st) < 0)
            return -errno;
        info->size = (uint64_t)st.st_size;
        info->mode = st.st_mode & 07777;
        info->uid = st.st_uid;
        info->gid = st.st_gid;
        info->atime = st.st_atime;
        info->mtime = st.st_mtime;
        info->ctime = st.st_ctime;
        if (seg->kind == SHMKIT_MEMFD)
            info->seals = shmkit__memfd_seals(seg->fd);
    } else {
        info->mode = 0600;
        info->uid = (uint32_t)geteuid();
        info->gid = (uint32_t)getegid();
    }
    if (!(seg->flags & SHMKIT_RAW)) {
        struct shmkit__hdr h;
        uint64_t now = 0;
        int rc = shmkit__backing_size(seg, &now);
        if (rc < 0)
            return rc;
        if (now > seg->map_len)
            now = seg->map_len;
        if (shmkit__hdr_load(seg->map, now, &h) == 0)
            shmkit__hdr_to_info(&h, info);
    }
    return 0;
}

/* Loads and validates the live header of an open handle, refusing to touch
 * pages that a truncation has removed. */
static int live_header(const shmkit_seg *seg, struct shmkit__hdr *h)
{
    uint64_t now = 0;
    if (seg->flags & SHMKIT_RAW)
        return -EINVAL;
    int rc = shmkit__backing_size(seg, &now);
    if (rc < 0)
        return rc;
    if (now < seg->map_len)
        return SHMKIT_ETRUNCATED;
    rc = shmkit__hdr_load(seg->map, seg->map_len, h);
    if (rc == 0 && h->payload_size != seg->data_len)
        rc = SHMKIT_EBADHEADER; /* rewritten since we opened it */
    return rc;
}

static int hdr_store(shmkit_seg *seg, struct shmkit__hdr *h)
{
    shmkit__hdr_finish(h);
    memcpy(seg->map, h, sizeof *h);
    return 0;
}

int shmkit_seg_seal(shmkit_seg *seg)
{
    struct shmkit__hdr h;
    if (!seg)
        return -EINVAL;
    if (seg->flags & SHMKIT_RAW)
        return -EINVAL;
    if (!seg->writable)
        return -EBADF;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    h.flags |= SHMKIT__HF_SEALED;
    h.payload_crc = payload_crc(seg);
    h.generation++;
    hdr_store(seg, &h);
    if (seg->kind == SHMKIT_MEMFD)
        return shmkit__memfd_seal(seg);
    return 0;
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
    return payload_crc(seg) == h.payload_crc ? 0 : SHMKIT_ETAMPERED;
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
    if (!seg || layout > SHMKIT_LAYOUT_TABLE)
        return -EINVAL;
    if (!seg->writable)
        return -EBADF;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    h.layout = layout;
    if (param)
        memcpy(h.layout_param, param, sizeof h.layout_param);
    h.generation++;
    return hdr_store(seg, &h);
}

int shmkit__reserve_mapping(void *map, size_t len)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(map, len, MADV_POPULATE_WRITE) == 0)
        return 0;
    if (errno == EINVAL || errno == ENOSYS)
        return 0; /* older kernel: pages come at first touch */
    return errno == EFAULT ? -ENOMEM : -errno;
#else
    (void)map;
    (void)len;
    return 0;
#endif
}

int shmkit__fd_map(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int created,
                   int private_map)
{
    int rc;
    if (created) {
        if (ftruncate(seg->fd, (off_t)total) < 0)
            return -errno;
        if (!(o->flags & SHMKIT_NORESERVE)) {
            rc = posix_fallocate(seg->fd, 0, (off_t)total);
            if (rc && rc != EOPNOTSUPP && rc != EINVAL)
                return -rc;
        }
    } else {
        struct stat st;
        if (fstat(seg->fd, &st) < 0)
            return -errno;
        if (!S_ISREG(st.st_mode))
            return -EINVAL;
        if (st.st_size == 0)
            return SHMKIT_ETRUNCATED;
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
