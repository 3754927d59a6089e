/* fuzz_bridge_frame.c - random bytes as a shmkit-bridge frame (issue 15:
 * the network is hostile).
 *
 * Input: one control byte, then the frame. So that the fuzzer gets past
 * the checksums to the checks behind them, bit 0 of the control byte sets
 * the header's length field to the bytes that follow the header, bit 1
 * recomputes the payload CRC and bit 2 the header CRC (in that order).
 * The frame is parsed from an exactly sized copy (ASan sees any read past
 * its end).
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - the parser returns BF_OK or one of the reasons of frame.h;
 *  - an accepted frame has a known kind (bus, ring, request, response) and
 *    a status only if it is a response, one of BRIDGE_RS_* (version 2);
 *  - an accepted frame is exactly what bridge_frame_seal makes of the
 *    fields the parser returned (so nothing in it went unchecked), its
 *    pointers lie inside the input, and its size is what its header says;
 *  - a frame that differs from an accepted one in any single byte is
 *    refused (both checksums and the exact length cover every byte);
 *  - bridge_crc32c (the crc32 instruction) agrees with shmkit_crc32c on
 *    the whole input, from any starting CRC.
 *
 * bridge/crc.c and bridge/frame.c are compiled in here: `make fuzz-build` builds each target
 * from its own file and the library's sources only.
 */
#include "../../bridge/crc.c"
#include "../../bridge/frame.c"

#include <stdlib.h>

static void put32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (bridge_crc32c(data[0] * 0x01010101u, data, size) != shmkit_crc32c(data[0] * 0x01010101u, data, size))
        abort();
    unsigned ctl = data[0];
    size_t n = size - 1;
    unsigned char *f = malloc(n ? n : 1);
    if (!f)
        return 0;
    memcpy(f, data + 1, n);
    if (n >= 6) {
        size_t h = 6 + (size_t)f[5];
        if (n >= h + BRIDGE_FIXED) {
            size_t len = n - h - BRIDGE_FIXED;
            if ((ctl & 1) && len <= UINT32_MAX)
                put32le(f + h + 20, (uint32_t)len);
            if (ctl & 2)
                put32le(f + h + 24, shmkit_crc32c(0, f + h + BRIDGE_FIXED, len));
            if (ctl & 4)
                put32le(f + h + 28, shmkit_crc32c(0, f, h + 28));
        }
    }
    struct bridge_frame fr;
    int rc = bridge_frame_parse(f, n, &fr);
    if (rc < 0 || rc >= BF_NERR)
        abort();
    if (rc == BF_OK) {
        if (fr.kind < BRIDGE_KIND_BUS || fr.kind > BRIDGE_KIND_RESPONSE ||
            (fr.kind == BRIDGE_KIND_RESPONSE ? fr.status > BRIDGE_RS_MAX : fr.status != 0) ||
            f[4] != BRIDGE_FRAME_VERSION)
            abort();
        const unsigned char *lo = f, *hi = f + n;
        if ((const unsigned char *)fr.topic < lo || (const unsigned char *)fr.topic + fr.tlen > hi ||
            (const unsigned char *)fr.payload < lo ||
            (const unsigned char *)fr.payload + fr.len > hi)
            abort();
        if (bridge_frame_size(fr.tlen, fr.len) != n)
            abort();
        unsigned char *g = malloc(n);
        if (!g)
            abort();
        memcpy(g + bridge_frame_size(fr.tlen, 0), fr.payload, fr.len);
        bridge_frame_seal(g, &fr);
        if (memcmp(f, g, n))
            abort();
        /* one byte changed anywhere: refused */
        size_t at = (ctl >> 3) % n;
        g[at] ^= (unsigned char)(1u << (ctl % 8));
        struct bridge_frame fr2;
        if (bridge_frame_parse(g, n, &fr2) == BF_OK)
            abort();
        free(g);
    }
    free(f);
    return 0;
}
