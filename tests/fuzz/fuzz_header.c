/* fuzz_header.c - random bytes as a segment header.
 *
 * Input: 8 bytes of mapped length (little-endian), one control byte, then
 * the header image. Bit 0 of the control byte recomputes the header CRC so
 * the fuzzer gets past the checksum to the field checks behind it.
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - shmkit_header_check returns 0 or one of the four header codes;
 *  - a whole header with a valid CRC and an unknown feature bit is a newer
 *    format: SHMKIT_EVERSION;
 *  - the same bytes, written to a memfd (a tmpfs file) and opened as a
 *    segment, give exactly the code header_check gives for that length -
 *    but a valid header still marked "initialising" gives -ETIMEDOUT (its
 *    creator pid is alive: the open waits opts.init_wait_ms, here 1 ms) or
 *    SHMKIT_EPEERDEAD (it is dead);
 *  - an opened segment verifies as intact, not sealed or tampered, and its
 *    payload size fits in the file.
 */
#include "shmkit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int header_code(int rc)
{
    return rc == 0 || rc == SHMKIT_ENOTSHMKIT || rc == SHMKIT_EVERSION ||
           rc == SHMKIT_EBADHEADER || rc == SHMKIT_ETRUNCATED;
}

/* Our magic and version, a whole header with a valid CRC, and a feature
 * bit this library does not know (it knows none yet): a newer format,
 * which must be SHMKIT_EVERSION, never EBADHEADER. */
static int newer_format(const unsigned char *img, size_t len, uint64_t mapped)
{
    uint32_t format, crc;
    if (len < SHMKIT_HEADER_SIZE || mapped < SHMKIT_HEADER_SIZE ||
        memcmp(img, SHMKIT_MAGIC, 8))
        return 0;
    memcpy(&format, img + 8, 4);
    memcpy(&crc, img + SHMKIT_HEADER_SIZE - 4, 4);
    return format >> 16 == SHMKIT_FORMAT_VERSION && (format & 0xffffu) &&
           crc == shmkit_crc32c(0, img, SHMKIT_HEADER_SIZE - 4);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static unsigned char img[1 << 16];
    uint64_t mapped = 0;
    struct shmkit_info info;
    if (size < 9 || size - 9 > sizeof img)
        return 0;
    for (int i = 0; i < 8; i++)
        mapped |= (uint64_t)data[i] << (8 * i);
    unsigned ctl = data[8];
    size_t len = size - 9;
    memcpy(img, data + 9, len);
    if ((ctl & 1) && len >= SHMKIT_HEADER_SIZE) {
        uint32_t crc = shmkit_crc32c(0, img, SHMKIT_HEADER_SIZE - 4);
        memcpy(img + SHMKIT_HEADER_SIZE - 4, &crc, 4);
    }

    int rc = shmkit_header_check(img, len, mapped, &info);
    if (!header_code(rc))
        abort();
    if (newer_format(img, len, mapped) && rc != SHMKIT_EVERSION)
        abort();
    if (rc == 0 && (info.payload_size > mapped - SHMKIT_HEADER_SIZE || !info.has_header))
        abort();

    /* The image as a whole segment. Skipped when the open would wait for a
     * creator (empty file, all-zero magic): that costs 50 ms a run. */
    static const char zero[8];
    if (len < 8 || !memcmp(img, zero, 8) || !(ctl & 2))
        return 0;
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, img, len) != (ssize_t)len) {
        close(fd);
        return 0;
    }
    struct shmkit_info whole;
    int want = shmkit_header_check(img, len, len, &whole);
    shmkit_seg *s = NULL;
    /* ALLOW_UNSEALED: a header naming a ring, bus or table would otherwise
     * be refused for the memfd's missing F_SEAL_SHRINK, not for its bytes */
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = fd,
                            .flags = SHMKIT_RDONLY | SHMKIT_ALLOW_UNSEALED,
                            .init_wait_ms = 1};
    int initialising = want == 0 && whole.initialising;
    rc = shmkit_open(&s, &o); /* takes the descriptor */
    if (initialising ? rc != -ETIMEDOUT && rc != SHMKIT_EPEERDEAD : rc != want)
        abort();
    if (s) {
        int v = shmkit_seg_verify(s);
        if (v != 0 && v != SHMKIT_ENOTSEALED && v != SHMKIT_ETAMPERED)
            abort();
        if (shmkit_seg_size(s) > len - SHMKIT_HEADER_SIZE)
            abort();
        if (shmkit_seg_stat(s, &info) != 0 || !info.has_header)
            abort();
        shmkit_close(s);
    }
    return 0;
}
