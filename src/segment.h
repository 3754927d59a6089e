/* segment.h - the handle behind shmkit_seg, and what each kind provides. */
#ifndef SHMKIT_SEGMENT_H
#define SHMKIT_SEGMENT_H

#include "internal.h"

struct shmkit_seg {
    int kind;
    unsigned flags;
    char *name;       /* POSIX name, FILE path or MEMFD debug name (owned); "" otherwise.
                       * Heap-allocated: a POSIX name may be 256 bytes and a path
                       * PATH_MAX, and remove must use the whole of it. */
    int fd;           /* POSIX, MEMFD, FILE; -1 otherwise */
    int shmid;        /* SYSV; -1 otherwise */
    int32_t key;      /* SYSV */
    int writable;     /* mapped PROT_WRITE */
    int reserve_after_header; /* created: reserve the memory once the header is out */
    const struct shmkit__hdr *new_hdr; /* create: the header to write (NULL for RAW) */
    int hdr_written;  /* new_hdr is already in the object (created unnamed, then linked) */
    void *map;        /* whole mapping (header + payload) */
    size_t map_len;
    void *data;       /* payload */
    size_t data_len;
};

/* What a kind's open leaves in SEG: map, map_len, fd/shmid/key, writable.
 * TOTAL is the size wanted at create (header included). *CREATED says
 * whether this call made the segment (so a failed open can undo it). */
int shmkit__posix_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created);
int shmkit__sysv_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created);
int shmkit__anon_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created);
int shmkit__memfd_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created);
int shmkit__file_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created);
int shmkit__sysv_stat(const shmkit_seg *seg, struct shmkit_info *info);
int shmkit__memfd_seal(shmkit_seg *seg);
uint32_t shmkit__memfd_seals(int fd);

/* MEMFD holding LAYOUT (ring, bus, table): seals it against shrinking
 * (F_SEAL_SHRINK), where it is not yet. 0 for other kinds and for bytes;
 * SHMKIT_ENOTSEALED when the seal cannot be added (the memfd is sealed
 * with F_SEAL_SEAL already, or was not made sealable) and the handle was
 * not opened with SHMKIT_ALLOW_UNSEALED. */
int shmkit__memfd_seal_shrink(shmkit_seg *seg);

/* Whether a MEMFD handle may use a segment holding LAYOUT: a channel or
 * table must be sealed against shrinking (anyone who can write the memfd
 * could otherwise truncate it under its users, who then die of SIGBUS),
 * unless the handle was opened with SHMKIT_ALLOW_UNSEALED. 0 or
 * SHMKIT_ENOTSEALED; 0 for every other kind and for bytes. */
int shmkit__memfd_shrink_guard(const shmkit_seg *seg, uint32_t layout);

/* SYSV payload checksum without touching (allocating) pages that do not
 * exist: mincore tells which do, /proc/sysvipc/shm that none is swapped
 * out (a swapped page is not resident either, but is not zero). 0 and *CRC,
 * or a negative code when this cannot be relied on: then the caller reads
 * through the mapping. */
int shmkit__sysv_crc(const shmkit_seg *seg, uint32_t *crc);

/* An existing object that a path open (or a received descriptor) gave:
 * must be a regular file (-EINVAL: FIFO, socket, device, directory; the
 * open was O_NONBLOCK so that a FIFO could not hang it). With SHMKIT_CREATE
 * in FLAGS (the create found the name taken) it must also belong to the
 * caller's effective uid and have no other name, unless SHMKIT_ANY_OWNER:
 * else -EPERM. Clears O_NONBLOCK. */
int shmkit__existing_check(int fd, unsigned flags);

/* Creates a POSIX (DIR "/dev/shm") or FILE segment unnamed with O_TMPFILE in
 * DIR, sizes and reserves it, writes SEG->new_hdr, maps it, and only then
 * links it to PATH: a creator killed at any moment leaves nothing named
 * or a whole segment. Returns 0 (SEG holds fd and mapping, hdr_written
 * set), SHMKIT__NO_TMPFILE when this cannot be done here (no O_TMPFILE on
 * the file system or kernel, no /proc, /dev/shm not a tmpfs, the testing
 * knob SHMKIT_NO_TMPFILE set, or linkat refused for another reason than an
 * existing name: use the O_EXCL path), or a negative code: -EEXIST when
 * PATH exists (or is a symlink), else what sizing, reserving or writing
 * failed with. On every non-zero return SEG holds no
 * descriptor or mapping and nothing was named. */
#define SHMKIT__NO_TMPFILE 1
int shmkit__link_create(shmkit_seg *seg, const struct shmkit_opts *o, const char *dir,
                        const char *path, size_t total, int private_map);

/* Shared by the descriptor-backed kinds (POSIX, MEMFD, FILE): sizes a new
 * object and reserves its memory, or measures an existing one, then maps it. */
int shmkit__fd_map(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int created,
                   int private_map);

/* Commits memory for a fresh shared mapping so that a full tmpfs fails here
 * with -ENOSPC/-ENOMEM rather than with SIGBUS at first touch. */
int shmkit__reserve_mapping(void *map, size_t len);

/* Reserves the whole mapping of a segment created with reserve_after_header. */
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

#endif
