/* crc32c.c - CRC-32C (Castagnoli), slicing-by-8; tables built once on first use. */
#include "internal.h"

#include <pthread.h>
#include <string.h>

static uint32_t tab[8][256];
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tab_build(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        tab[0][i] = c;
    }
    for (int t = 1; t < 8; t++)
        for (uint32_t i = 0; i < 256; i++)
            tab[t][i] = (tab[t - 1][i] >> 8) ^ tab[0][tab[t - 1][i] & 0xff];
}

uint32_t shmkit_crc32c(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;
    pthread_once(&tab_once, tab_build);
    crc = ~crc;
    while (len && ((uintptr_t)p & 7)) {
        crc = (crc >> 8) ^ tab[0][(crc ^ *p++) & 0xff];
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        w ^= crc;
        crc = tab[7][w & 0xff] ^ tab[6][(w >> 8) & 0xff] ^ tab[5][(w >> 16) & 0xff] ^
              tab[4][(w >> 24) & 0xff] ^ tab[3][(w >> 32) & 0xff] ^ tab[2][(w >> 40) & 0xff] ^
              tab[1][(w >> 48) & 0xff] ^ tab[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = (crc >> 8) ^ tab[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

/* Zero extension: CRC-32C over N zero bytes appended, in O(log N) without
 * touching memory, so that the holes of a sparse segment can be counted
 * without reading (and, on tmpfs, allocating) them. One zero byte maps the
 * CRC register through a linear operator over GF(2) (tab[0][0] is 0), so
 * N bytes are that operator to the power N: zpow[k] holds the 32x32 bit
 * matrix for 2^k bytes, each column a 32-bit word, built by squaring as
 * zlib's crc32_combine does. */
static uint32_t zpow[64][32];
static pthread_once_t zpow_once = PTHREAD_ONCE_INIT;

static uint32_t gf2_times(const uint32_t *mat, uint32_t vec)
{
    uint32_t sum = 0;
    for (; vec; vec >>= 1, mat++)
        if (vec & 1)
            sum ^= *mat;
    return sum;
}

static void gf2_square(uint32_t *sq, const uint32_t *mat)
{
    for (int n = 0; n < 32; n++)
        sq[n] = gf2_times(mat, mat[n]);
}

static void zpow_build(void)
{
    uint32_t bit[32], two[32], four[32];
    bit[0] = 0x82F63B78u; /* one zero bit: shift right, fold the polynomial in */
    for (int n = 1; n < 32; n++)
        bit[n] = 1u << (n - 1);
    gf2_square(two, bit);
    gf2_square(four, two);
    gf2_square(zpow[0], four); /* one byte */
    for (int k = 1; k < 64; k++)
        gf2_square(zpow[k], zpow[k - 1]);
}

uint32_t shmkit__crc32c_zeros(uint32_t crc, uint64_t n)
{
    pthread_once(&zpow_once, zpow_build);
    uint32_t reg = ~crc; /* the register, as shmkit_crc32c keeps it */
    for (int k = 0; n; k++, n >>= 1)
        if (n & 1)
            reg = gf2_times(zpow[k], reg);
    return ~reg;
}
