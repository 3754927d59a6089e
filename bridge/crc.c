/* crc.c - CRC-32C for frames: the SSE4.2 crc32 instruction where the CPU
 * has it (about 20 times libshmkit's table-driven shmkit_crc32c, which
 * was the bridge's bottleneck on 64 KiB messages), else shmkit_crc32c.
 * Same polynomial (Castagnoli), same conventions, same results: the fuzz
 * target compares the two on every input. */
#include "frame.h"

#include <shmkit.h>

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = _mm_crc32_u64(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = _mm_crc32_u8((uint32_t)c, *p++);
    return ~(uint32_t)c;
}

uint32_t bridge_crc32c(uint32_t crc, const void *buf, size_t len)
{
    static int hw = -1;
    if (hw < 0) /* racy but idempotent: every thread finds the same answer */
        hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    return hw ? crc_hw(crc, buf, len) : shmkit_crc32c(crc, buf, len);
}
#else
uint32_t bridge_crc32c(uint32_t crc, const void *buf, size_t len)
{
    return shmkit_crc32c(crc, buf, len);
}
#endif
