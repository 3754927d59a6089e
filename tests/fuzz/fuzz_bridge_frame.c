/* fuzz_bridge_frame.c - random bytes as a shmkit-bridge frame (issue 15:
 * the network is hostile).
 *
 * Input: two control bytes, then the frame. So that the fuzzer gets past
 * the checksums to the checks behind them, control byte 0 may rewrite the
 * frame before it is parsed, in this order: bit 0 sets the count to 1 +
 * (control byte 1 % BRIDGE_BATCH_MAX) (multi-message frames, also counts
 * that do not fit), bit 1 makes the last table entry's length take up the
 * bytes the others leave (where the table fits), bit 2 recomputes every
 * payload CRC that lies inside the frame, bit 3 the header CRC. Bits 4-7
 * and control byte 1 choose the byte flipped below. The frame is parsed
 * from an exactly sized copy (ASan sees any read past its end).
 *
 * Checks, besides "no crash, no sanitizer report":
 *  - bridge_frame_open returns BF_OK or one of the reasons of frame.h;
 *  - an accepted frame has a known kind (bus, ring, request, response), a
 *    status only if it is a response, one of BRIDGE_RS_*, a count in
 *    1..BRIDGE_BATCH_MAX and 1 unless a bus frame (version 3);
 *  - bridge_frame_next returns BF_OK or BF_CRC exactly count times, then
 *    -1; the payloads lie inside the input, back to back after the header
 *    and table, and end where the input does; every seq is non-zero;
 *  - bridge_frame_parse agrees: BF_OK and the same message for a frame of
 *    one good message, BF_HEADER for several, BF_CRC for one bad one;
 *  - a frame whose messages all passed is exactly what
 *    bridge_frame_seal_many makes of the fields returned (so nothing in it
 *    went unchecked), and a one-message one what bridge_frame_seal makes;
 *  - a frame that differs from an accepted one in any single byte is
 *    refused, or the message that byte belongs to fails its CRC;
 *  - bridge_crc32c (the crc32 instruction) agrees with shmkit_crc32c on
 *    the whole input, from any starting CRC.
 *
 * bridge/crc.c and bridge/frame.c are compiled in here: `make fuzz-build` builds each target
 * from its own file and the library's sources only.
 */
#include "../../bridge/crc.c"
#include "../../bridge/frame.c"

#include <stdlib.h>

/* Rewrites F (N bytes) as control byte C0 (and C1) says; see above. */
static void steer(unsigned char *f, size_t n, unsigned c0, unsigned c1)
{
    if (n < 6)
        return;
    size_t h = 6 + (size_t)f[5];
    if (n < h + BRIDGE_HEAD)
        return;
    if (c0 & 1)
        put32(f + h + 12, 1 + c1 % BRIDGE_BATCH_MAX);
    uint32_t count = get32(f + h + 12);
    if (count < 1 || count > BRIDGE_BATCH_MAX)
        return;
    size_t t = h + BRIDGE_HEAD + (size_t)BRIDGE_ENTRY * count;
    if (n < t + 4)
        return;
    unsigned char *tab = f + h + BRIDGE_HEAD;
    if (c0 & 2) {
        uint64_t sum = 0;
        for (uint32_t i = 0; i + 1 < count; i++)
            sum += get32(tab + BRIDGE_ENTRY * i + 8);
        if (sum <= n - (t + 4) && n - (t + 4) - sum <= UINT32_MAX)
            put32(tab + BRIDGE_ENTRY * (count - 1) + 8, (uint32_t)(n - (t + 4) - sum));
    }
    if (c0 & 4) {
        size_t at = t + 4;
        for (uint32_t i = 0; i < count; i++) {
            uint32_t len = get32(tab + BRIDGE_ENTRY * i + 8);
            if (len > n - at)
                break;
            put32(tab + BRIDGE_ENTRY * i + 12, shmkit_crc32c(0, f + at, len));
            at += len;
        }
    }
    if (c0 & 8)
        put32(f + t, shmkit_crc32c(0, f, t));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    if (bridge_crc32c(data[0] * 0x01010101u, data, size) != shmkit_crc32c(data[0] * 0x01010101u, data, size))
        abort();
    unsigned c0 = data[0], c1 = data[1];
    size_t n = size - 2;
    unsigned char *f = malloc(n ? n : 1);
    if (!f)
        return 0;
    memcpy(f, data + 2, n);
    steer(f, n, c0, c1);
    struct bridge_frame fr;
    int rc = bridge_frame_open(f, n, &fr);
    if (rc < 0 || rc >= BF_NERR)
        abort();
    if (rc != BF_OK) {
        struct bridge_frame fr2;
        if (bridge_frame_parse(f, n, &fr2) != rc) /* parse refuses for the same reason */
            abort();
        free(f);
        return 0;
    }
    if (fr.kind < BRIDGE_KIND_BUS || fr.kind > BRIDGE_KIND_RESPONSE ||
        (fr.kind == BRIDGE_KIND_RESPONSE ? fr.status > BRIDGE_RS_MAX : fr.status != 0) ||
        f[4] != BRIDGE_FRAME_VERSION || fr.count < 1 || fr.count > BRIDGE_BATCH_MAX ||
        (fr.kind != BRIDGE_KIND_BUS && fr.count != 1))
        abort();
    const unsigned char *lo = f, *hi = f + n;
    if ((const unsigned char *)fr.topic < lo || (const unsigned char *)fr.topic + fr.tlen > hi)
        abort();
    size_t head = bridge_frame_head_size(fr.tlen, fr.count);
    struct bridge_frame_entry *ent = calloc(fr.count, sizeof *ent);
    unsigned *owner = calloc(n ? n : 1, sizeof *owner); /* message of each payload byte, + 1 */
    if (!ent || !owner)
        abort();
    const unsigned char *at = f + head;
    unsigned bad = 0;
    for (unsigned i = 0; i < fr.count; i++) {
        int e = bridge_frame_next(&fr);
        if (e != BF_OK && e != BF_CRC)
            abort();
        if ((const unsigned char *)fr.payload != at || fr.len > (size_t)(hi - at) || fr.seq == 0)
            abort();
        for (uint32_t k = 0; k < fr.len; k++)
            owner[at - lo + k] = i + 1;
        at += fr.len;
        ent[i] = (struct bridge_frame_entry){fr.seq, fr.len, bridge_crc32c(0, fr.payload, fr.len)};
        bad += e == BF_CRC;
    }
    if (at != hi || bridge_frame_next(&fr) != -1)
        abort();
    struct bridge_frame one;
    int prc = bridge_frame_parse(f, n, &one);
    if (fr.count > 1 ? prc != BF_HEADER : prc != (bad ? BF_CRC : BF_OK))
        abort();
    if (fr.count == 1 && (one.seq != ent[0].seq || one.len != ent[0].len ||
                          one.payload != (const void *)(f + head)))
        abort();
    if (!bad) {
        unsigned char *g = malloc(n ? n : 1);
        if (!g)
            abort();
        memcpy(g + head, f + head, n - head);
        if (bridge_frame_seal_many(g + head, &fr, ent, fr.count) != g || memcmp(f, g, n))
            abort();
        if (fr.count == 1) {
            struct bridge_frame s1 = fr;
            s1.seq = ent[0].seq;
            s1.len = ent[0].len;
            memset(g, 0, head);
            bridge_frame_seal(g, &s1);
            if (memcmp(f, g, n))
                abort();
        }
        /* one byte changed anywhere: refused, or its message fails */
        size_t pos = ((size_t)c1 << 4 | c0 >> 4) % n;
        g[pos] ^= (unsigned char)(1u << (c1 % 8));
        struct bridge_frame fr2;
        if (bridge_frame_open(g, n, &fr2) == BF_OK) {
            if (!owner[pos])
                abort(); /* a header or table byte went unchecked */
            int failed = 0;
            for (int e; (e = bridge_frame_next(&fr2)) >= 0;)
                if (e == BF_CRC) {
                    if (fr2.next != owner[pos])
                        abort(); /* only the message the byte is in fails */
                    failed = 1;
                }
            if (!failed)
                abort();
        }
        free(g);
    }
    free(owner);
    free(ent);
    free(f);
    return 0;
}
