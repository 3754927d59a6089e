/* segment.c - one handle over every kind: open, close, remove, stat, seal,
 * verify. The kinds themselves are behind struct seg_ops (segment.h). */
#include "segment.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

/* The one table of kinds: a new kind is its seg_KIND.c and a line here. */
static const struct seg_ops *const kinds[] = {
    [SHMKIT_POSIX] = &shmkit__seg_posix, [SHMKIT_SYSV] = &shmkit__seg_sysv,
    [SHMKIT_ANON] = &shmkit__seg_anon,   [SHMKIT_MEMFD] = &shmkit__seg_memfd,
    [SHMKIT_FILE] = &shmkit__seg_file,
};

static const struct seg_ops *kind_ops(int kind)
{
    if (kind <= 0 || (size_t)kind >= sizeof kinds / sizeof kinds[0])
        return NULL;
    return kinds[kind];
}

#define COMMON_FLAGS                                                                               \
    (SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_RDONLY | SHMKIT_RAW | SHMKIT_VERIFY | SHMKIT_NORESERVE | \
     SHMKIT_ANY_OWNER | SHMKIT_PERSIST | SHMKIT_REQUIRE_SEAL)

/* Checks what every kind shares, then the kind's own rules. *OPS: the
 * kind's backend. */
static int opts_check(const struct shmkit_opts *o, const struct seg_ops **ops)
{
    unsigned f = o->flags;
    if (!(*ops = kind_ops(o->kind)))
        return -EINVAL;
    if (!shmkit__all_zero(o->reserved, sizeof o->reserved))
        return -EINVAL; /* a field a later version defines: we cannot honour it */
    if (f & ~(COMMON_FLAGS | (*ops)->flags))
        return -EINVAL; /* unknown, or another kind's (PRIVATE, FOLLOW, SHMID, ...) */
    if ((f & SHMKIT_EXCL) && !(f & SHMKIT_CREATE))
        return -EINVAL;
    if ((f & SHMKIT_RDONLY) && (f & SHMKIT_CREATE))
        return -EINVAL; /* a new segment must be written (at least its header) */
    if ((f & SHMKIT_ANY_OWNER) && !(f & SHMKIT_CREATE))
        return -EINVAL; /* a plain open takes whatever it names anyway */
    if ((f & SHMKIT_PERSIST) && !(f & SHMKIT_CREATE))
        return -EINVAL; /* recorded at create only */
    if (o->init && (!(f & SHMKIT_CREATE) || (f & (SHMKIT_RAW | SHMKIT_PRIVATE))))
        return -EINVAL; /* runs at create, and its flag lives in the header */
    if (o->pad0_)
        return -EINVAL;
    if ((f & SHMKIT_RAW) &&
        (o->layout || (f & (SHMKIT_VERIFY | SHMKIT_REQUIRE_SEAL | SHMKIT_PERSIST))))
        return -EINVAL; /* no header: no layout or flag to record, no seal to check */
    if (o->layout > SHMKIT_LAYOUT_RPC)
        return -EINVAL;
    if (o->mode & ~(mode_t)0777)
        return -EINVAL; /* permission bits only: no setuid, sticky or type bits */
    return (*ops)->check ? (*ops)->check(o) : 0;
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

/* One look at a header-less segment (hdr_read): 1 while it may still be
 * being made. Progress is judged over 100 ms: on a busy machine the creator
 * may well be off the CPU for a few milliseconds. */
static int still_making(const shmkit_seg *seg, int tries, int *making, int64_t *last)
{
    if (tries % 50 == 0) {
        int m = seg->ops->being_made ? seg->ops->being_made(seg, last) : 0;
        if (tries)
            *making = m;
    }
    return tries < 25 || *making;
}

/* Reads and validates the header of SEG's mapping, of which AVAIL bytes are
 * backed. Two situations look like damage but pass: a creator between
 * sizing the segment and publishing its header (no magic yet), and a writer
 * rewriting the header (hdr_store) while we copy it (a torn copy fails its
 * CRC). Both are waited out for ~50-100 ms, a creator that is visibly
 * still reserving memory (seg_ops.being_made) for up to ~10 s. A header
 * that fails the same way on two back-to-back copies that are identical is
 * damaged, not in flux, and is reported at once. */
static int hdr_read(const shmkit_seg *seg, uint64_t avail, struct shmkit__hdr *h)
{
    struct shmkit__hdr again;
    int64_t last = -1;
    int making = 1, rc = 0;
    for (int tries = 0; tries < 5000; tries++) {
        rc = shmkit__hdr_load(seg->map, avail, h);
        if (rc == 0 || rc == SHMKIT_ETRUNCATED)
            return rc;
        if (rc == SHMKIT_ENOTSHMKIT) {
            if (!magic_is_zero(h))
                return rc; /* a foreign segment, not one being made */
            if (!still_making(seg, tries, &making, &last))
                return rc;
        } else {
            int rc2 = shmkit__hdr_load(seg->map, avail, &again);
            if (rc2 == 0) {
                *h = again;
                return 0;
            }
            if ((rc2 == rc && !memcmp(h, &again, sizeof again)) || tries >= 25)
                return rc;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    return rc;
}

/* The payload checksum, computed without allocating memory for the holes
 * of a sparse segment where the kind can (seg_ops.crc); otherwise read
 * through the mapping, which allocates the holes it reads (see CAVEATS in
 * shmkit.h). */
static int payload_crc(const shmkit_seg *seg, uint32_t *crc)
{
    int rc = seg->ops->crc ? seg->ops->crc(seg, crc) : SHMKIT__CRC_MAP;
    if (rc != SHMKIT__CRC_MAP)
        return rc;
    *crc = shmkit_crc32c(0, seg->data, seg->data_len);
    return 0;
}

static int unmap(shmkit_seg *seg)
{
    int rc = 0;
    if (!seg->map)
        return 0;
    if (seg->ops->unmap)
        rc = seg->ops->unmap(seg);
    else
        rc = munmap(seg->map, seg->map_len) < 0 ? -errno : 0;
    seg->map = NULL;
    seg->data = NULL;
    return rc;
}

/* Which descriptor in O is handed to shmkit_open, and becomes its own
 * whatever happens (closed on failure): opts.fd of a kind that takes one,
 * descriptor 0 included, unless CREATE; with CREATE a positive one, which
 * the kind's check then refuses. -1: none. */
static int given_fd(const struct shmkit_opts *o)
{
    const struct seg_ops *ops = o ? kind_ops(o->kind) : NULL;
    if (!ops || !ops->takes_fd)
        return -1;
    if (o->flags & SHMKIT_CREATE)
        return o->fd > 0 ? o->fd : -1;
    return o->fd >= 0 ? o->fd : -1;
}

/* The name the handle keeps (and removes by): a copy of opts.name, or for a
 * received MEMFD descriptor without one, "memfd:FD". */
static char *seg_name(const struct shmkit_opts *o, const struct seg_ops *ops, int fd)
{
    if (fd >= 0 && (!o->name || !*o->name)) {
        char buf[32];
        snprintf(buf, sizeof buf, "memfd:%d", fd);
        return strdup(buf);
    }
    return strdup(o->name && ops->named ? o->name : "");
}

/* The bytes a create asks for, header included, in *TOTAL (0 for an open). */
static int create_total(const struct shmkit_opts *o, uint64_t *total)
{
    *total = 0;
    if (!(o->flags & SHMKIT_CREATE))
        return 0;
    if (o->size == 0 ||
        shmkit__add_overflow(o->size, (o->flags & SHMKIT_RAW) ? 0 : SHMKIT_HEADER_SIZE, total) ||
        *total > (uint64_t)INT64_MAX || *total > SIZE_MAX)
        return SHMKIT_EBADSIZE;
    return 0;
}

/* A new handle for O, owning FD (-1: none) from here on. */
static int seg_new(shmkit_seg **out, const struct shmkit_opts *o, const struct seg_ops *ops, int fd)
{
    shmkit_seg *seg = calloc(1, sizeof *seg);
    if (!seg)
        return -ENOMEM;
    seg->ops = ops;
    seg->kind = o->kind;
    seg->flags = o->flags;
    seg->fd = -1;
    seg->shmid = -1;
    seg->name = seg_name(o, ops, fd);
    if (!seg->name) {
        free(seg);
        return -ENOMEM;
    }
    seg->fd = fd; /* from now on shmkit_close() closes it */
    *out = seg;
    return 0;
}

static void hdr_store(shmkit_seg *seg, struct shmkit__hdr *h);

/* seg_create.init: runs opts.init on the new segment SEG (mapped, not yet
 * usable by anyone else: unnamed, or its header saying "initialising"),
 * then clears the header's initialising flag - after a release fence, so
 * an opener that sees the flag clear sees what the initialiser wrote. The
 * initialiser may have changed the header (shmkit_seg_set_layout): the
 * flag is cleared in the header as it is now. */
static int run_init(shmkit_seg *seg, struct seg_create *c)
{
    struct shmkit__hdr h;
    seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
    seg->data_len = c->o->size;
    seg->layout = c->o->layout;
    c->init_done = 1;
    int rc = c->o->init(seg, c->o->init_arg);
    if (rc < 0)
        return rc;
    if ((rc = shmkit__hdr_load(seg->map, seg->map_len, &h)) < 0)
        return rc; /* the initialiser wrote over the header */
    h.flags &= ~SHMKIT__HF_INITIALISING;
    atomic_thread_fence(memory_order_release);
    hdr_store(seg, &h);
    return 0;
}

/* A segment this call created: its header goes out (unless it was written
 * before the object had a name), then the rest of the memory is reserved.
 * Reserving a large segment takes a while. Doing it only now means a
 * creator killed meanwhile leaves a segment whose header names its dead
 * creator, which `shmkit gc` removes, instead of a header-less one that
 * cannot be told from a foreign segment. */
static int finish_create(shmkit_seg *seg, struct seg_create *c)
{
    int rc;
    if (c->init_done)
        return 0; /* made unnamed, reserved, written whole, initialised, then linked */
    seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
    seg->data_len = c->o->size;
    seg->layout = c->o->layout;
    if (c->hdr_written && !c->init)
        return 0; /* made unnamed, reserved and written whole, then linked */
    hdr_publish(seg->map, c->hdr);
    if (seg->flags & SHMKIT_PRIVATE) {
        /* a private mapping never reaches the file: write the header there too */
        ssize_t n = pwrite(seg->fd, c->hdr, sizeof *c->hdr, 0);
        if (n != (ssize_t)sizeof *c->hdr)
            return n < 0 ? -errno : -EIO;
    }
    if (c->reserve_rest && (rc = shmkit__reserve_rest(seg)) < 0)
        return rc;
    return c->init ? c->init(seg, c) : 0;
}

/* H (read from SEG) says its creator is still in its initialiser: reads it
 * again every millisecond until it is done, up to O's init_wait_ms.
 * SHMKIT_EPEERDEAD once the creator is seen dead (the segment will never
 * be initialised: `shmkit gc` removes it), -ETIMEDOUT. */
static int wait_initialised(const shmkit_seg *seg, const struct shmkit_opts *o,
                            struct shmkit__hdr *h)
{
    uint32_t ms = o->init_wait_ms ? o->init_wait_ms : 10000;
    for (uint32_t waited = 0; h->flags & SHMKIT__HF_INITIALISING; waited++) {
        struct shmkit_owner who = {.pid = h->creator_pid, .start = h->creator_start};
        int dead = waited % 16 == 0 && !shmkit_owner_alive(&who);
        if (!dead && waited >= ms)
            return -ETIMEDOUT;
        if (!dead) {
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        /* read again after a death too: the creator may have finished and
         * exited between our read and the liveness check; only a header
         * still marked after its creator is gone is final */
        int rc = hdr_read(seg, seg->map_len, h);
        if (rc < 0)
            return rc;
        if (dead && (h->flags & SHMKIT__HF_INITIALISING))
            return SHMKIT_EPEERDEAD;
    }
    /* acquire: pairs with the release in run_init; the payload is read after */
    atomic_thread_fence(memory_order_acquire);
    return 0;
}

/* An existing segment: its header is read and checked against O. */
static int attach_existing(shmkit_seg *seg, const struct shmkit_opts *o)
{
    struct shmkit__hdr h;
    int rc = hdr_read(seg, seg->map_len, &h);
    if (rc == 0 && (h.flags & SHMKIT__HF_INITIALISING))
        rc = wait_initialised(seg, o, &h);
    if (rc < 0)
        return rc;
    if (o->layout && h.layout != o->layout)
        return SHMKIT_ELAYOUT;
    seg->data = (char *)seg->map + SHMKIT_HEADER_SIZE;
    seg->data_len = (size_t)h.payload_size; /* <= map_len - header: checked */
    seg->layout = h.layout;
    if (seg->ops->layout_guard && (rc = seg->ops->layout_guard(seg, h.layout)) < 0)
        return rc;
    if ((o->flags & SHMKIT_REQUIRE_SEAL) && !(h.flags & SHMKIT__HF_SEALED))
        return SHMKIT_ENOTSEALED;
    if ((o->flags & (SHMKIT_VERIFY | SHMKIT_REQUIRE_SEAL)) && (h.flags & SHMKIT__HF_SEALED)) {
        uint32_t crc = 0;
        if ((rc = payload_crc(seg, &crc)) < 0)
            return rc;
        if (crc != h.payload_crc)
            return SHMKIT_ETAMPERED;
    }
    return 0;
}

/* The backend made or found the object: header, payload and size checks. */
static int seg_settle(shmkit_seg *seg, struct seg_create *c)
{
    const struct shmkit_opts *o = c->o;
    int rc = 0;
    if (o->flags & SHMKIT_RAW) {
        seg->data = seg->map;
        seg->data_len = seg->map_len;
    } else if (c->created) {
        rc = finish_create(seg, c);
    } else {
        rc = attach_existing(seg, o);
    }
    if (rc == 0 && o->size && seg->data_len < o->size)
        rc = SHMKIT_EBADSIZE; /* an existing segment smaller than the caller needs */
    return rc;
}

int shmkit_open(shmkit_seg **out, const struct shmkit_opts *o)
{
    return shmkit__open_layout(out, o, NULL);
}

int shmkit__open_layout(shmkit_seg **out, const struct shmkit_opts *o, const uint64_t param[4])
{
    const struct seg_ops *ops = NULL;
    shmkit_seg *seg = NULL;
    uint64_t total = 0;
    struct shmkit__hdr h;
    /* A MEMFD descriptor handed in is ours from here on, whatever happens:
     * on every failure it is closed, so the caller never has to guess. */
    int fd = given_fd(o);
    int rc = out && o ? 0 : -EINVAL;
    if (out)
        *out = NULL;
    if (rc == 0)
        rc = opts_check(o, &ops);
    if (rc == 0)
        rc = create_total(o, &total);
    if (rc == 0)
        rc = seg_new(&seg, o, ops, fd);
    if (rc < 0) {
        if (fd >= 0)
            close(fd);
        return rc;
    }
    struct seg_create c = {.o = o, .total = (size_t)total};
    if ((o->flags & SHMKIT_CREATE) && !(o->flags & SHMKIT_RAW)) {
        /* complete before anything is named: layout parameters included */
        shmkit__hdr_init(&h, o->size, o->layout);
        if (o->flags & SHMKIT_PERSIST)
            h.flags |= SHMKIT__HF_PERSIST;
        if (o->init) {
            h.flags |= SHMKIT__HF_INITIALISING;
            c.init = run_init;
        }
        if (param)
            memcpy(h.layout_param, param, sizeof h.layout_param);
        shmkit__hdr_finish(&h);
        c.hdr = &h;
    }
    rc = ops->open(seg, &c);
    if (rc == 0)
        rc = seg_settle(seg, &c);
    if (rc < 0) {
        if (c.created)
            shmkit_seg_remove(seg);
        shmkit_close(seg);
        return rc;
    }
    seg->created = c.created;
    *out = seg;
    return 0;
}

int shmkit_seg_created(const shmkit_seg *seg)
{
    return seg ? seg->created : -EINVAL;
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
    return seg->ops->remove ? seg->ops->remove(seg) : 0;
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
    /* names longer than the field cannot be opened (PATH_MAX) */
    snprintf(info->name, sizeof info->name, "%s", seg->name);
    int rc = seg->ops->stat(seg, info);
    if (rc < 0)
        return rc;
    if (!(seg->flags & SHMKIT_RAW) && seg->map) {
        struct shmkit__hdr h;
        uint64_t now = 0;
        if ((rc = shmkit__backing_size(seg, &now)) < 0)
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
    if (rc == 0 && seg->ops->layout_guard)
        rc = seg->ops->layout_guard(seg, h->layout);
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
    seg->layout = h->layout;
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
    if (!seg->ops->seal)
        return 0;
    rc = seg->ops->seal(seg);
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
    if (!seg || (seg->flags & SHMKIT_RAW) || layout > SHMKIT_LAYOUT_RPC)
        return -EINVAL;
    if (!seg->writable)
        return -EBADF;
    int rc = live_header(seg, &h);
    if (rc < 0)
        return rc;
    /* a channel or table in a memfd is sealed against shrinking first, so
     * that no one can truncate it under a process using it (SIGBUS) */
    if (layout != SHMKIT_LAYOUT_BYTES && seg->ops->layout_prepare &&
        (rc = seg->ops->layout_prepare(seg)) < 0)
        return rc;
    h.layout = layout;
    if (param)
        memcpy(h.layout_param, param, sizeof h.layout_param);
    h.generation++;
    hdr_store(seg, &h);
    return 0;
}
