/* frame.c - building and parsing the bridge's frames (format in frame.h). */
#include "frame.h"

#include <shmkit.h>

#include <string.h>

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t bridge_frame_prefix(void *buf, const char *topic, size_t tlen)
{
    unsigned char *p = buf;
    memcpy(p, "SKBR", 4);
    p[4] = BRIDGE_FRAME_VERSION;
    p[5] = (unsigned char)tlen;
    memcpy(p + 6, topic, tlen);
    return 6 + tlen;
}

void bridge_frame_seal(void *buf, const struct bridge_frame *f)
{
    unsigned char *p = buf;
    size_t h = bridge_frame_prefix(p, f->topic, f->tlen);
    p[h] = (unsigned char)f->kind;
    p[h + 1] = (unsigned char)f->hops;
    p[h + 2] = (unsigned char)f->status;
    p[h + 3] = (unsigned char)(f->status >> 8);
    put64(p + h + 4, f->origin);
    put64(p + h + 12, f->seq);
    put32(p + h + 20, f->len);
    put32(p + h + 24, bridge_crc32c(0, p + h + BRIDGE_FIXED, f->len));
    put32(p + h + 28, bridge_crc32c(0, p, h + 28));
}

/* A topic is a channel name as shmkit_name_check accepts it: "/" and then
 * bytes without '/' or NUL, not "." or "..". Checked here, not with the
 * library, because the topic is not NUL-terminated. */
static int topic_ok(const char *t, unsigned n)
{
    if (n < 2 || t[0] != '/')
        return 0;
    if (memchr(t + 1, '/', n - 1) || memchr(t, 0, n))
        return 0;
    if ((n == 2 && t[1] == '.') || (n == 3 && t[1] == '.' && t[2] == '.'))
        return 0;
    return 1;
}

int bridge_frame_parse(const void *buf, size_t n, struct bridge_frame *f)
{
    const unsigned char *p = buf;
    if (n < 6)
        return BF_SHORT;
    if (memcmp(p, "SKBR", 4))
        return BF_MAGIC;
    if (p[4] != BRIDGE_FRAME_VERSION)
        return BF_VERSION;
    unsigned tlen = p[5];
    size_t h = 6 + (size_t)tlen;
    if (n < h + BRIDGE_FIXED)
        return BF_SHORT;
    /* The header checksum first: nothing below is trusted before it. */
    if (get32(p + h + 28) != bridge_crc32c(0, p, h + 28))
        return BF_HEADER;
    if (!topic_ok((const char *)p + 6, tlen))
        return BF_TOPIC;
    unsigned kind = p[h];
    unsigned status = p[h + 2] | (unsigned)p[h + 3] << 8;
    if (kind < BRIDGE_KIND_BUS || kind > BRIDGE_KIND_RESPONSE)
        return BF_HEADER;
    if (kind == BRIDGE_KIND_RESPONSE ? status > BRIDGE_RS_MAX : status != 0)
        return BF_HEADER;
    uint64_t seq = get64(p + h + 12);
    if (seq == 0)
        return BF_HEADER;
    uint32_t len = get32(p + h + 20);
    /* Compared as sizes, never added to N: a huge LEN cannot wrap. */
    if (n - (h + BRIDGE_FIXED) < len)
        return BF_SHORT;
    if (n - (h + BRIDGE_FIXED) > len)
        return BF_LONG;
    const unsigned char *pl = p + h + BRIDGE_FIXED;
    if (get32(p + h + 24) != bridge_crc32c(0, pl, len))
        return BF_CRC;
    f->topic = (const char *)p + 6;
    f->tlen = tlen;
    f->kind = kind;
    f->hops = p[h + 1];
    f->status = status;
    f->origin = get64(p + h + 4);
    f->seq = seq;
    f->payload = pl;
    f->len = len;
    return BF_OK;
}

const char *bridge_frame_errname(int err)
{
    static const char *const names[BF_NERR] = {"ok",      "short",  "long",   "magic",
                                               "version", "topic",  "header", "crc"};
    return err >= 0 && err < BF_NERR ? names[err] : "unknown";
}
