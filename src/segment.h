/* segment.h - the handle behind shmkit_seg, and what each kind provides.
 *
 * Three layers, each using only the ones below it:
 *   segment.c  the dispatcher: options, the header (publish, read, store),
 *              seal/verify/stat; one table maps a kind to its seg_ops.
 *   seg_*.c    one backend per kind (seg_posix, seg_sysv, seg_anon,
 *              seg_memfd, seg_file) filling in a struct seg_ops; seg_link.c
 *              is the unnamed-then-linked create POSIX and FILE share.
 *   seg_fd.c   descriptor and mapping helpers the backends and the
 *              dispatcher share (sizing, reserving, space checks, the
 *              sparse-safe checksum reader); it uses no backend.
 * A new kind is a new seg_KIND.c with its seg_ops and one line in the
 * table in segment.c. */
#ifndef SHMKIT_SEGMENT_H
#define SHMKIT_SEGMENT_H

#include "internal.h"

struct seg_ops;

struct shmkit_seg {
    const struct seg_ops *ops; /* the backend of KIND */
    int kind;
    unsigned flags;
    char *name;      /* POSIX name, FILE path or MEMFD debug name (owned); "" otherwise.
                      * Heap-allocated: a POSIX name may be 256 bytes and a path
                      * PATH_MAX, and remove must use the whole of it. */
    int fd;          /* POSIX, MEMFD, FILE; -1 otherwise */
    int shmid;       /* SYSV; -1 otherwise */
    int32_t key;     /* SYSV */
    int writable;    /* mapped PROT_WRITE */
    uint32_t layout; /* header's layout as this handle last read or wrote it; 0 for RAW */
    void *map;       /* whole mapping (header + payload) */
    size_t map_len;
    void *data; /* payload */
    size_t data_len;
    int created; /* this handle's shmkit_open created the segment */
};

/* What one open or create needs and learns, handed to the backend's open
 * and gone when shmkit_open returns (nothing of it stays in the handle). */
struct seg_create {
    const struct shmkit_opts *o;
    size_t total;                  /* CREATE: bytes wanted, header included */
    const struct shmkit__hdr *hdr; /* CREATE without RAW: the header to write */
    int created;                   /* out: this call made the object (undo on failure) */
    int hdr_written;               /* out: HDR is in the object already (made unnamed) */
    int reserve_rest;              /* out: reserve the mapping once the header is out */
    /* With opts.init: runs it on the new, mapped, still unnamed segment
     * (seg_link.c calls it before linkat; segment.c after publishing the
     * header otherwise) and clears the header's "initialising" flag.
     * 0 or the initialiser's negative code. NULL: no initialiser. */
    int (*init)(shmkit_seg *seg, struct seg_create *c);
    int init_done; /* out: C->init has run on SEG */
};

/* SEG_OPS.crc: "read the payload through the mapping". */
#define SHMKIT__CRC_MAP 1

/* One kind of segment. Optional members are NULL where the kind has nothing
 * to do; the comment says what the dispatcher does then. */
struct seg_ops {
    unsigned flags; /* kind-only flags this kind accepts (SHMKIT_PRIVATE, ...) */
    int named;      /* opts.name is kept (and removed by) */
    int takes_fd;   /* without CREATE, opts.fd is a descriptor handed in */
    /* Kind-specific option checks: 0 or a negative code. */
    int (*check)(const struct shmkit_opts *o);
    /* Makes or finds the object and maps it: leaves map, map_len, writable
     * and fd/shmid/key in SEG, and what it did in C. */
    int (*open)(shmkit_seg *seg, struct seg_create *c);
    /* Removes the name. NULL: nothing named, 0. */
    int (*remove)(shmkit_seg *seg);
    /* Unmaps SEG->map. NULL: munmap. */
    int (*unmap)(shmkit_seg *seg);
    /* Fills the system's fields of INFO (kind, name, sizes are set). */
    int (*stat)(const shmkit_seg *seg, struct shmkit_info *info);
    /* Payload checksum without allocating holes: 0, a negative code, or
     * SHMKIT__CRC_MAP. NULL: through the mapping. */
    int (*crc)(const shmkit_seg *seg, uint32_t *crc);
    /* Whether a header-less object is visibly still being made (see
     * hdr_read in segment.c); *LAST is the backend's memory between calls,
     * -1 at first. NULL: no. */
    int (*being_made)(const shmkit_seg *seg, int64_t *last);
    /* Kernel-side seal after the header recorded one. NULL: none, 0. */
    int (*seal)(shmkit_seg *seg);
    /* Whether SEG may hold LAYOUT (0 or SHMKIT_ENOTSEALED). NULL: 0. */
    int (*layout_guard)(const shmkit_seg *seg, uint32_t layout);
    /* Before a ring, bus or table layout is recorded. NULL: 0. */
    int (*layout_prepare)(shmkit_seg *seg);
};

extern const struct seg_ops shmkit__seg_posix;
extern const struct seg_ops shmkit__seg_sysv;
extern const struct seg_ops shmkit__seg_anon;
extern const struct seg_ops shmkit__seg_memfd;
extern const struct seg_ops shmkit__seg_file;

/* seg_link.c: creates a POSIX (DIR "/dev/shm") or FILE segment unnamed with
 * O_TMPFILE in DIR, sizes and reserves it, writes C->hdr, maps it, and only
 * then links it to PATH: a creator killed at any moment leaves nothing
 * named or a whole segment. Returns 0 (SEG holds fd and mapping,
 * C->hdr_written set), SHMKIT__NO_TMPFILE when this cannot be done here
 * (no O_TMPFILE on the file system or kernel, no /proc, /dev/shm not a
 * tmpfs, the testing knob SHMKIT_NO_TMPFILE set, or linkat refused for
 * another reason than an existing name: use the O_EXCL path), or a
 * negative code: -EEXIST when PATH exists (or is a symlink), else what
 * sizing, reserving or writing failed with. On every non-zero return SEG
 * holds no descriptor or mapping and nothing was named. */
#define SHMKIT__NO_TMPFILE 1
int shmkit__link_create(shmkit_seg *seg, struct seg_create *c, const char *dir, const char *path,
                        int private_map);

/* ---- seg_fd.c: shared by the backends and the dispatcher ---- */

/* Sizes a new object (C->created) and reserves its memory, or measures an
 * existing one, then maps SEG->fd (MAP_PRIVATE when PRIVATE_MAP). A new
 * non-RAW object gets only its header's page reserved: C->reserve_rest
 * asks for the rest once the header names its creator. */
int shmkit__fd_map(shmkit_seg *seg, struct seg_create *c, int private_map);

/* Commits memory for a fresh shared mapping so that a full tmpfs fails here
 * with -ENOSPC/-ENOMEM rather than with SIGBUS at first touch. */
int shmkit__reserve_mapping(void *map, size_t len);

/* Reserves the whole of SEG: posix_fallocate on its descriptor, else
 * shmkit__reserve_mapping. */
int shmkit__reserve_rest(shmkit_seg *seg);

/* Current size of the backing object, to catch truncation after open. */
int shmkit__backing_size(const shmkit_seg *seg, uint64_t *size);

/* Refuses up front a reservation the file system FD lives on cannot hold, so
 * a too-big create fails with -ENOSPC without filling the tmpfs (and making
 * other processes' page faults fail) while posix_fallocate gives up. */
int shmkit__space_check(int fd, uint64_t total);

/* The same for memory that is not in a sized file system (ANON, SYSV,
 * MEMFD): a reservation larger than RAM + swap can never succeed, and trying
 * would push the machine into the OOM killer before failing. -ENOMEM. */
int shmkit__mem_check(uint64_t total);

/* An existing object that a path open (or a received descriptor) gave:
 * must be a regular file (-EINVAL: FIFO, socket, device, directory; the
 * open was O_NONBLOCK so that a FIFO could not hang it). With SHMKIT_CREATE
 * in FLAGS (the create found the name taken) it must also belong to the
 * caller's effective uid and have no other name, unless SHMKIT_ANY_OWNER:
 * else -EPERM. Clears O_NONBLOCK. */
int shmkit__existing_check(int fd, unsigned flags);

/* SEG's payload checksum read through its descriptor, holes counted as
 * zeros without being touched (SEEK_DATA/SEEK_HOLE). SHMKIT_ETRUNCATED
 * when the object ends early or shrinks meanwhile. */
int shmkit__fd_crc(const shmkit_seg *seg, uint32_t *crc);

/* seg_ops.being_made of the descriptor kinds: its allocated blocks grew
 * since the last look (a reservation of gigabytes takes a second or more). */
int shmkit__fd_being_made(const shmkit_seg *seg, int64_t *last_blocks);

/* seg_ops.stat of the descriptor kinds: fstat's size, mode, owner, times. */
int shmkit__fd_stat(const shmkit_seg *seg, struct shmkit_info *info);

#endif
