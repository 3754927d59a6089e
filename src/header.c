/* header.c - what a segment says about itself, and validating it before trusting it. */
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HDR_CRC_LEN offsetof(struct shmkit__hdr, hdr_crc)

const char *shmkit_layout_name(uint32_t layout)
{
    switch (layout) {
    case SHMKIT_LAYOUT_BYTES:
        return "bytes";
    case SHMKIT_LAYOUT_RING:
        return "ring";
    case SHMKIT_LAYOUT_BUS:
        return "bus";
    case SHMKIT_LAYOUT_TABLE:
        return "table";
    case SHMKIT_LAYOUT_RPC:
        return "rpc";
    default:
        return "unknown";
    }
}

void shmkit__hdr_init(struct shmkit__hdr *h, uint64_t payload_size, uint32_t layout)
{
    struct shmkit_owner me = {0};
    memset(h, 0, sizeof *h);
    memcpy(h->magic, SHMKIT_MAGIC, sizeof h->magic);
    h->format = SHMKIT__FORMAT;
    h->hdr_size = SHMKIT_HEADER_SIZE;
    h->payload_size = payload_size;
    h->layout = layout;
    shmkit_owner_self(&me);
    h->creator_pid = me.pid;
    h->creator_start = me.start;
    h->creator_uid = (uint32_t)geteuid();
    h->created = (int64_t)time(NULL);
    h->generation = 1;
}

void shmkit__hdr_finish(struct shmkit__hdr *h)
{
    h->hdr_crc = shmkit_crc32c(0, h, HDR_CRC_LEN);
}

/* Validates the copy in *H against a mapping of MAPPED bytes. Checks run in
 * the order that gives the most telling error: magic, version,
 * checksum, feature bits, then each field's range. A feature bit this
 * library does not know, in a header whose CRC holds, is a newer format
 * (SHMKIT_EVERSION); with a bad CRC it is damage (EBADHEADER). A format
 * that checksums the header differently must change the version. */
static int hdr_validate(const struct shmkit__hdr *h, uint64_t mapped)
{
    if (memcmp(h->magic, SHMKIT_MAGIC, sizeof h->magic))
        return SHMKIT_ENOTSHMKIT;
    if ((h->format >> 16) != SHMKIT_FORMAT_VERSION)
        return SHMKIT_EVERSION;
    if (h->hdr_crc != shmkit_crc32c(0, h, HDR_CRC_LEN))
        return SHMKIT_EBADHEADER;
    if (h->format & 0xffffu & ~SHMKIT__FEATURES)
        return SHMKIT_EVERSION;
    /* the CRC only proves someone computed it: still check every field */
    if (h->hdr_size != SHMKIT_HEADER_SIZE ||
        (h->flags & ~SHMKIT__HF_KNOWN) || h->layout > SHMKIT_LAYOUT_RPC ||
        h->generation == 0 || h->creator_pid < 0 || h->payload_size == 0 ||
        (!(h->flags & SHMKIT__HF_SEALED) && h->payload_crc) ||
        !shmkit__all_zero(h->reserved, sizeof h->reserved) || h->reserved0 || h->reserved1)
        return SHMKIT_EBADHEADER;
    if (mapped < SHMKIT_HEADER_SIZE || h->payload_size > mapped - SHMKIT_HEADER_SIZE)
        return SHMKIT_ETRUNCATED;
    return 0;
}

/* Copies the first min(AVAIL, header size) bytes at SRC into *COPY (zero
 * filled beyond) and validates the copy. AVAIL is how many bytes at SRC may
 * be read; MAPPED how many the segment holds. The magic is read first and
 * the rest after an acquire fence, so a header published concurrently by
 * hdr_publish() is seen either without its magic or whole. */
static int hdr_copy_check(const void *src, uint64_t avail, uint64_t mapped,
                          struct shmkit__hdr *copy)
{
    size_t n = avail < sizeof *copy ? (size_t)avail : sizeof *copy;
    memset(copy, 0, sizeof *copy);
    if (n < sizeof copy->magic) {
        if (n)
            memcpy(copy, src, n);
        return SHMKIT_ETRUNCATED;
    }
    memcpy(copy->magic, src, sizeof copy->magic);
    /* acquire: pairs with the release in hdr_publish/hdr_store; the body is
     * read only after the magic that vouches for it */
    atomic_thread_fence(memory_order_acquire);
    memcpy((char *)copy + sizeof copy->magic, (const char *)src + sizeof copy->magic,
           n - sizeof copy->magic);
    if (memcmp(copy->magic, SHMKIT_MAGIC, sizeof copy->magic))
        return SHMKIT_ENOTSHMKIT; /* say "not ours" even when it is also short */
    if (n < sizeof *copy || mapped < SHMKIT_HEADER_SIZE)
        return SHMKIT_ETRUNCATED;
    return hdr_validate(copy, mapped);
}

int shmkit__hdr_load(const void *mapping, uint64_t mapped, struct shmkit__hdr *copy)
{
    /* one copy; every check looks at the copy, never at shared memory */
    return hdr_copy_check(mapping, mapped, mapped, copy);
}

void shmkit__hdr_to_info(const struct shmkit__hdr *h, struct shmkit_info *info)
{
    info->has_header = 1;
    info->layout = h->layout;
    info->format = h->format;
    info->creator_pid = h->creator_pid;
    info->creator_uid = h->creator_uid;
    info->creator_start = h->creator_start;
    info->created = h->created;
    info->generation = h->generation;
    info->sealed = !!(h->flags & SHMKIT__HF_SEALED);
    info->persistent = !!(h->flags & SHMKIT__HF_PERSIST);
    info->initialising = !!(h->flags & SHMKIT__HF_INITIALISING);
    info->payload_size = h->payload_size;
}

int shmkit_header_check(const void *buf, size_t len, uint64_t mapped, struct shmkit_info *info)
{
    struct shmkit__hdr h;
    if (!buf)
        return -EINVAL;
    int rc = hdr_copy_check(buf, len, mapped, &h);
    if (rc == 0 && info)
        shmkit__hdr_to_info(&h, info);
    return rc;
}
