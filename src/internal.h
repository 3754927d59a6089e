/*
 * internal.h - what the library's files share and users never see.
 * Internal, non-static symbols are named shmkit__*; the version script
 * keeps them out of the shared library's exports.
 */
#ifndef SHMKIT_INTERNAL_H
#define SHMKIT_INTERNAL_H

#include "shmkit.h"

#include <stdatomic.h>
#include <stdbool.h>

#define SHMKIT__CACHELINE 64

/* The on-segment header. Fixed little-endian-native layout, 256 bytes.
 * Readers copy it out (shmkit__hdr_load) before looking at any field. */
struct shmkit__hdr {
    char magic[8];           /* SHMKIT_MAGIC                                  */
    uint32_t format;         /* version << 16 | feature bits                  */
    uint32_t hdr_size;       /* SHMKIT_HEADER_SIZE                            */
    uint64_t payload_size;   /* bytes after the header                        */
    uint32_t layout;         /* enum shmkit_layout                            */
    uint32_t flags;          /* SHMKIT__HF_*                                  */
    uint64_t layout_param[4];
    int32_t creator_pid;
    uint32_t creator_uid;
    uint64_t creator_start;
    int64_t created;         /* seconds since the epoch                       */
    uint64_t generation;
    uint32_t payload_crc;    /* valid when SHMKIT__HF_SEALED                  */
    uint32_t reserved0;
    uint8_t reserved[144];   /* zero; room for later format versions          */
    uint32_t reserved1;
    uint32_t hdr_crc;        /* CRC-32C of the 252 bytes before it            */
};

_Static_assert(sizeof(struct shmkit__hdr) == SHMKIT_HEADER_SIZE, "header is 256 bytes");

#define SHMKIT__HF_SEALED 1u
#define SHMKIT__HF_PERSIST 2u /* created with SHMKIT_PERSIST: gc keeps it */
/* its creator's initialiser (opts.init) has not returned yet: openers wait */
#define SHMKIT__HF_INITIALISING 4u
#define SHMKIT__HF_KNOWN (SHMKIT__HF_SEALED | SHMKIT__HF_PERSIST | SHMKIT__HF_INITIALISING)
#define SHMKIT__FORMAT (SHMKIT_FORMAT_VERSION << 16)
/* Feature bits (the format word's low 16) this library reads: none yet.
 * A header with another one set is refused with SHMKIT_EVERSION. */
#define SHMKIT__FEATURES 0u

/* header.c */
void shmkit__hdr_init(struct shmkit__hdr *h, uint64_t payload_size, uint32_t layout);
void shmkit__hdr_finish(struct shmkit__hdr *h);
int shmkit__hdr_load(const void *mapping, uint64_t mapped, struct shmkit__hdr *copy);
void shmkit__hdr_to_info(const struct shmkit__hdr *h, struct shmkit_info *info);

/* crc32c.c: shmkit_crc32c(CRC, N zero bytes) without reading them, O(log N). */
uint32_t shmkit__crc32c_zeros(uint32_t crc, uint64_t n);

/* segment.c: shmkit_open, with PARAM (when not NULL) as the layout
 * parameters of the header a create writes: a creator that knows them
 * (shmkit_table_create) gets a complete header at once instead of
 * rewriting it in place afterwards. */
int shmkit__open_layout(shmkit_seg **out, const struct shmkit_opts *o, const uint64_t param[4]);

/* seg_fd.c: after an O_NONBLOCK open of an existing regular file failed,
 * whether to try it again. EWOULDBLOCK there means a lease: `shmkit gc`
 * holds a write lease on a segment for a few system calls while it checks
 * that nobody uses it. Sleeps 1 ms and says 1 for up to ~100 tries;
 * *TRIES (start at 0) counts them. Keeps errno for the caller otherwise. */
int shmkit__lease_wait(int *tries);

/* segment.c: the layout tag and its four parameters from SEG's live header,
 * read and validated once (what ring, bus and table attach check).
 * SHMKIT_ELAYOUT for a RAW handle; the errors of a header read otherwise
 * (SHMKIT_ETRUNCATED, SHMKIT_EBADHEADER, SHMKIT_ENOTSEALED, ...). */
int shmkit__seg_layout(const shmkit_seg *seg, uint32_t *layout, uint64_t param[4]);

/* Whether N bytes at P are all zero (reserved fields must be). */
static inline bool shmkit__all_zero(const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return false;
    return true;
}

/* Size arithmetic that reports overflow instead of wrapping. */
static inline bool shmkit__add_overflow(uint64_t a, uint64_t b, uint64_t *r)
{
    return __builtin_add_overflow(a, b, r);
}

#endif
