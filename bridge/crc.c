/* crc.c - CRC-32C for frames: the SSE4.2 crc32 instruction where the CPU
 * has it (about 20 times libshmkit's table-driven shmkit_crc32c, which
 * was the bridge's bottleneck on 64 KiB messages), else shmkit_crc32c.
 * Same polynomial (Castagnoli), same conventions, same results: the fuzz
 * target compares the two on every input.
 *
 * One chain of crc32 instructions waits for each result before the next
 * (3 cycles each, about 6 GB/s here), while the CPU could start one per
 * cycle; so a long buffer is taken as three interleaved chains over three
 * adjacent blocks, joined at the end: CRC is linear, so the state after
 * blocks A then B is A's state carried over |B| zero bytes, xor B's state
 * from zero, and "carried over BLOCK zero bytes" is a table lookup. */
#include "frame.h"

#include <shmkit.h>

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#include <pthread.h>

enum { BLOCK = 4096 }; /* bytes of each of the three chains per round */

/* shift[k][v]: the state (v << 8k) carried over BLOCK zero bytes */
static uint32_t shift[4][256];
static pthread_once_t shift_once = PTHREAD_ONCE_INIT;

__attribute__((target("sse4.2"))) static void shift_init(void)
{
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint64_t c = v << (8 * k);
            for (int i = 0; i < BLOCK / 8; i++)
                c = _mm_crc32_u64(c, 0);
            shift[k][v] = (uint32_t)c;
        }
}

static uint64_t carry(uint64_t c)
{
    return shift[0][c & 255] ^ shift[1][c >> 8 & 255] ^ shift[2][c >> 16 & 255] ^
           shift[3][c >> 24 & 255];
}

__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint64_t c = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    if (len >= 3 * BLOCK) {
        pthread_once(&shift_once, shift_init);
        do {
            uint64_t c1 = 0, c2 = 0, w0, w1, w2;
            for (size_t i = 0; i < BLOCK; i += 8) {
                memcpy(&w0, p + i, 8);
                memcpy(&w1, p + BLOCK + i, 8);
                memcpy(&w2, p + 2 * BLOCK + i, 8);
                c = _mm_crc32_u64(c, w0);
                c1 = _mm_crc32_u64(c1, w1);
                c2 = _mm_crc32_u64(c2, w2);
            }
            c = carry(carry(c) ^ c1) ^ c2;
            p += 3 * BLOCK;
            len -= 3 * BLOCK;
        } while (len >= 3 * BLOCK);
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
