/* t_bridge_frame.c - the bridge's frame format (bridge/frame.h, version 3)
 * without a network: frames of one and of many messages built and read
 * back, a corrupt payload in the middle costing that message only, and the
 * hostile cases - counts that overflow or do not fit, lengths past the end
 * and lengths whose sum wraps, zero-length messages, a truncated last
 * message, one byte too many, version 2, several messages where only one
 * is allowed, seq 0. The fuzz target (tests/fuzz/fuzz_bridge_frame.c)
 * covers random input; this is the list of cases named.
 *
 * bridge/crc.c and bridge/frame.c are compiled in (they need no libzmq),
 * so the test runs wherever the library builds.
 */
#include "../bridge/crc.c"
#include "../bridge/frame.c"

#include "tap.h"

enum { NMSG = 4 };
static unsigned char payload[NMSG][64];
static const uint32_t lens[NMSG] = {40, 0, 9, 17};

/* A bus frame of the four messages above (seq 100..103) at *F; its size.
 * Message I's bytes are all 'a' + I. */
static size_t four(unsigned char *buf, unsigned char **f)
{
    struct bridge_frame h = {.topic = "/ticks", .tlen = 6, .kind = BRIDGE_KIND_BUS, .hops = 1,
                             .origin = 0xabcdef};
    struct bridge_frame_entry e[NMSG];
    unsigned char *pl = buf + 8192, *at = pl;
    for (int i = 0; i < NMSG; i++) {
        memset(payload[i], 'a' + i, sizeof payload[i]);
        memcpy(at, payload[i], lens[i]);
        e[i] = (struct bridge_frame_entry){100 + (uint64_t)i, lens[i], bridge_crc32c(0, at, lens[i])};
        at += lens[i];
    }
    *f = bridge_frame_seal_many(pl, &h, e, NMSG);
    return (size_t)(at - *f);
}

/* The table entry I of frame F (topic length TLEN), and its header CRC
 * made right again after a change. */
static unsigned char *entry(unsigned char *f, unsigned tlen, unsigned i)
{
    return f + 6 + tlen + BRIDGE_HEAD + BRIDGE_ENTRY * i;
}
static void rehash(unsigned char *f, unsigned tlen)
{
    size_t t = 6 + tlen + BRIDGE_HEAD + (size_t)BRIDGE_ENTRY * get32(f + 6 + tlen + 12);
    put32(f + t, bridge_crc32c(0, f, t));
}

static void test_one(void)
{
    unsigned char b[256];
    struct bridge_frame f = {.topic = "/x", .tlen = 2, .kind = BRIDGE_KIND_RING, .origin = 5,
                             .seq = 9, .len = 11};
    size_t h = bridge_frame_size(2, 0);
    memcpy(b + h, "hello world", 11);
    bridge_frame_seal(b, &f);
    is_int(b[4], 3, "one message: version 3 on the wire");
    struct bridge_frame g;
    is_int(bridge_frame_parse(b, h + 11, &g), BF_OK, "one message: parsed");
    ok(g.count == 1 && g.kind == BRIDGE_KIND_RING && g.origin == 5 && g.seq == 9 && g.len == 11 &&
           g.payload == b + h && !memcmp(g.payload, "hello world", 11),
       "... every field as sealed, the payload where bridge_frame_size(tlen, 0) says");
    b[h - 1] ^= 1;
    is_int(bridge_frame_parse(b, h + 11, &g), BF_HEADER,
           "the byte before the payload belongs to the header checksum");
}

static void test_many(void)
{
    static unsigned char buf[16384];
    unsigned char *f;
    size_t n = four(buf, &f);
    is_int((int)n, (int)(bridge_frame_head_size(6, NMSG) + 66), "four messages: header, table, payloads");
    struct bridge_frame g;
    is_int(bridge_frame_open(f, n, &g), BF_OK, "four messages: opened");
    ok(g.count == NMSG && g.hops == 1 && g.origin == 0xabcdef && g.kind == BRIDGE_KIND_BUS,
       "... count 4, the frame's hops and origin");
    for (unsigned i = 0; i < NMSG; i++) {
        int rc = bridge_frame_next(&g);
        ok(rc == BF_OK && g.seq == 100 + i && g.len == lens[i] &&
               !memcmp(g.payload, payload[i], lens[i]),
           "... message %u: seq %u, %u bytes, intact%s", i, 100 + i, lens[i],
           lens[i] ? "" : " (zero-length)");
    }
    is_int(bridge_frame_next(&g), -1, "... then no more");
    is_int(bridge_frame_parse(f, n, &g), BF_HEADER,
           "bridge_frame_parse (one message only) refuses a frame of several");
}

/* Whether each message of frame F (N bytes) passes: "ok", "crc", as a
 * string of one letter each ('.' ok, 'X' crc), or "refused". */
static const char *verdicts(const unsigned char *f, size_t n, char *out)
{
    struct bridge_frame g;
    if (bridge_frame_open(f, n, &g) != BF_OK)
        return "refused";
    int rc, i = 0;
    while ((rc = bridge_frame_next(&g)) >= 0)
        out[i++] = rc == BF_OK ? '.' : 'X';
    out[i] = 0;
    return out;
}

#define is_str(got, want, what)                                                                    \
    do {                                                                                           \
        const char *g_ = (got);                                                                    \
        if (!ok(!strcmp(g_, want), what))                                                          \
            tap_fail_diag("  got %s, want %s", g_, want);                                          \
    } while (0)

static void test_corrupt_middle(void)
{
    static unsigned char buf[16384];
    unsigned char *f;
    char v[NMSG + 1];
    size_t n = four(buf, &f), pl = bridge_frame_head_size(6, NMSG);
    f[pl + 40 + 4] ^= 0x40; /* message 2 of 4 (message 1 is empty) */
    struct bridge_frame g;
    is_int(bridge_frame_open(f, n, &g), BF_OK, "a corrupt payload in the middle: the frame opens");
    int r[NMSG];
    uint64_t seq[NMSG];
    for (int i = 0; i < NMSG; i++) {
        r[i] = bridge_frame_next(&g);
        seq[i] = g.seq;
    }
    ok(r[2] == BF_CRC && seq[2] == 102, "... that message fails its CRC, its seq (102) known");
    ok(r[0] == BF_OK && r[1] == BF_OK && r[3] == BF_OK && !memcmp(g.payload, payload[3], 17),
       "... the messages before and after it are intact");
    n = four(buf, &f);
    f[pl] ^= 1;
    is_str(verdicts(f, n, v), "X...", "the first message corrupt: only it fails");
    n = four(buf, &f);
    f[n - 1] ^= 1;
    is_str(verdicts(f, n, v), "...X", "the last message corrupt: only it fails");
}

static void test_counts(void)
{
    static unsigned char buf[16384];
    unsigned char *f;
    struct bridge_frame g;
    static const uint32_t bad[] = {0, BRIDGE_BATCH_MAX + 1, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = four(buf, &f);
        put32(f + 6 + 6 + 12, bad[i]);
        is_int(bridge_frame_open(f, n, &g), BF_HEADER, "count %u: refused (header)", bad[i]);
    }
    /* a count in range whose table does not fit the frame */
    size_t n = four(buf, &f);
    put32(f + 6 + 6 + 12, BRIDGE_BATCH_MAX);
    is_int(bridge_frame_open(f, n, &g), BF_SHORT, "count %d, table past the end: short",
           BRIDGE_BATCH_MAX);
    /* a count that fits but is not what was sealed: the header checksum */
    n = four(buf, &f);
    put32(f + 6 + 6 + 12, 2);
    is_int(bridge_frame_open(f, n, &g), BF_HEADER, "count 4 changed to 2: header checksum");
    /* several messages in a ring frame, checksums right */
    n = four(buf, &f);
    f[6 + 6] = BRIDGE_KIND_RING;
    rehash(f, 6);
    is_int(bridge_frame_open(f, n, &g), BF_HEADER, "a ring frame of 4 messages: refused (header)");
    n = four(buf, &f);
    put64(entry(f, 6, 1), 0);
    rehash(f, 6);
    is_int(bridge_frame_open(f, n, &g), BF_HEADER, "a message with seq 0: refused (header)");
}

static void test_lengths(void)
{
    static unsigned char buf[16384];
    unsigned char *f;
    struct bridge_frame g;
    size_t n = four(buf, &f);
    is_int(bridge_frame_open(f, n - 1, &g), BF_SHORT, "the last message cut by one byte: short");
    is_int(bridge_frame_open(f, bridge_frame_head_size(6, NMSG), &g), BF_SHORT,
           "header and table without their payloads: short");
    is_int(bridge_frame_open(f, bridge_frame_head_size(6, NMSG) - 1, &g), BF_SHORT,
           "the table cut: short");
    f[n] = 0;
    is_int(bridge_frame_open(f, n + 1, &g), BF_LONG, "one byte after the last payload: long");
    /* a length past the end, checksums right */
    n = four(buf, &f);
    put32(entry(f, 6, 0) + 8, 0xffffffffu);
    rehash(f, 6);
    is_int(bridge_frame_open(f, n, &g), BF_SHORT, "a length of 2^32-1: short, nothing read");
    /* lengths that wrap a 32-bit sum to exactly the bytes there are */
    n = four(buf, &f);
    put32(entry(f, 6, 0) + 8, 40 + 0x80000000u);
    put32(entry(f, 6, 1) + 8, 0x80000000u);
    rehash(f, 6);
    is_int(bridge_frame_open(f, n, &g), BF_SHORT, "lengths whose 32-bit sum wraps to the size: short");
    /* the lengths moved between messages: the total right, the table's
     * checksum right, so each payload is judged by its own CRC */
    n = four(buf, &f);
    put32(entry(f, 6, 0) + 8, 39);
    put32(entry(f, 6, 1) + 8, 1);
    rehash(f, 6);
    is_int(bridge_frame_open(f, n, &g), BF_OK, "lengths shifted, the sum unchanged: opens");
    char v[NMSG + 1];
    is_str(verdicts(f, n, v), "XX..", "... the two shifted messages fail their CRC");
}

static void test_all_empty_and_full(void)
{
    static unsigned char buf[1 << 17];
    struct bridge_frame h = {.topic = "/e", .tlen = 2, .kind = BRIDGE_KIND_BUS, .origin = 1};
    static struct bridge_frame_entry e[BRIDGE_BATCH_MAX];
    for (unsigned i = 0; i < BRIDGE_BATCH_MAX; i++)
        e[i] = (struct bridge_frame_entry){i + 1, 0, bridge_crc32c(0, "", 0)};
    unsigned char *end = buf + 8192;
    unsigned char *f = bridge_frame_seal_many(end, &h, e, BRIDGE_BATCH_MAX);
    struct bridge_frame g;
    int rc = bridge_frame_open(f, (size_t)(end - f), &g), good = 0;
    while (bridge_frame_next(&g) == BF_OK)
        good++;
    ok(rc == BF_OK && good == BRIDGE_BATCH_MAX, "%d zero-length messages: all read",
       BRIDGE_BATCH_MAX);
    /* the largest frame of several messages fits bridge_frame_max */
    for (unsigned i = 0; i < BRIDGE_BATCH_MAX; i++)
        e[i].len = BRIDGE_BATCH_BYTES / BRIDGE_BATCH_MAX;
    ok(bridge_frame_head_size(BRIDGE_TOPIC_MAX, BRIDGE_BATCH_MAX) + BRIDGE_BATCH_BYTES <=
           bridge_frame_max(1),
       "bridge_frame_max(1) takes the largest frame of several messages");
    ok(bridge_frame_size(BRIDGE_TOPIC_MAX, 1u << 20) <= bridge_frame_max(1u << 20),
       "... and bridge_frame_max(N) a frame of one N-byte message");
}

static void test_version2(void)
{
    static unsigned char buf[16384];
    unsigned char *f;
    size_t n = four(buf, &f);
    f[4] = 2;
    struct bridge_frame g;
    is_int(bridge_frame_open(f, n, &g), BF_VERSION, "version 2: refused (version)");
}

/* bridge_crc32c takes buffers of 12 KiB and more as three interleaved
 * chains (crc.c): the same results as libshmkit's shmkit_crc32c around
 * and beyond that size, at every alignment, from any starting CRC (the
 * fuzz target's inputs are shorter). */
static void test_crc(void)
{
    enum { MAX = 200000 };
    unsigned char *b = malloc(MAX + 8);
    if (!b)
        tap_bail("malloc");
    uint32_t x = 12345;
    for (size_t i = 0; i < MAX + 8; i++)
        b[i] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
    static const size_t sizes[] = {0, 1, 7, 8, 4095, 12287, 12288, 12289, 12295, 24576, 36869,
                                  65536, 65536 + 41, MAX};
    int bad = 0, n = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t off = 0; off < 8; off++, n++) {
            uint32_t seed = (uint32_t)(i * 0x9e3779b9u + off);
            if (bridge_crc32c(seed, b + off, sizes[i]) != shmkit_crc32c(seed, b + off, sizes[i]))
                bad++;
        }
    is_int(bad, 0, "bridge_crc32c = shmkit_crc32c on %d buffers of 0 to %d bytes", n, MAX);
    free(b);
}

int main(void)
{
    test_crc();
    test_one();
    test_many();
    test_corrupt_middle();
    test_counts();
    test_lengths();
    test_all_empty_and_full();
    test_version2();
    return tap_done();
}
