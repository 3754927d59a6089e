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

unsigned char *bridge_frame_seal_many(unsigned char *head_end, const struct bridge_frame *f,
                                      const struct bridge_frame_entry *ent, unsigned count)
{
    unsigned char *p = head_end - bridge_frame_head_size(f->tlen, count);
    size_t h = bridge_frame_prefix(p, f->topic, f->tlen);
    p[h] = (unsigned char)f->kind;
    p[h + 1] = (unsigned char)f->hops;
    p[h + 2] = (unsigned char)f->status;
    p[h + 3] = (unsigned char)(f->status >> 8);
    put64(p + h + 4, f->origin);
    put32(p + h + 12, count);
    unsigned char *t = p + h + BRIDGE_HEAD;
    for (unsigned i = 0; i < count; i++, t += BRIDGE_ENTRY) {
        put64(t, ent[i].seq);
        put32(t + 8, ent[i].len);
        put32(t + 12, ent[i].crc);
    }
    put32(t, bridge_crc32c(0, p, (size_t)(t - p)));
    return p;
}

void bridge_frame_seal(void *buf, const struct bridge_frame *f)
{
    unsigned char *pl = (unsigned char *)buf + bridge_frame_size(f->tlen, 0);
    struct bridge_frame_entry e = {.seq = f->seq, .len = f->len, .crc = bridge_crc32c(0, pl, f->len)};
    bridge_frame_seal_many(pl, f, &e, 1);
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

int bridge_frame_open(const void *buf, size_t n, struct bridge_frame *f)
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
    if (n < h + BRIDGE_HEAD)
        return BF_SHORT;
    /* The count places the header checksum, so it is bounded before it is
     * trusted; nothing below is used before the checksum matched. */
    uint32_t count = get32(p + h + 12);
    if (count < 1 || count > BRIDGE_BATCH_MAX)
        return BF_HEADER;
    size_t t = h + BRIDGE_HEAD + (size_t)BRIDGE_ENTRY * count;
    if (n < t + 4)
        return BF_SHORT;
    if (get32(p + t) != bridge_crc32c(0, p, t))
        return BF_HEADER;
    if (!topic_ok((const char *)p + 6, tlen))
        return BF_TOPIC;
    unsigned kind = p[h];
    unsigned status = p[h + 2] | (unsigned)p[h + 3] << 8;
    if (kind < BRIDGE_KIND_BUS || kind > BRIDGE_KIND_RESPONSE)
        return BF_HEADER;
    if (kind == BRIDGE_KIND_RESPONSE ? status > BRIDGE_RS_MAX : status != 0)
        return BF_HEADER;
    if (kind != BRIDGE_KIND_BUS && count != 1)
        return BF_HEADER;
    /* At most 256 lengths below 2^32 each: the sum fits 64 bits, and it is
     * compared with what is left, never added to N. */
    uint64_t sum = 0;
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *e = p + h + BRIDGE_HEAD + (size_t)BRIDGE_ENTRY * i;
        if (get64(e) == 0)
            return BF_HEADER;
        sum += get32(e + 8);
    }
    size_t left = n - (t + 4);
    if (sum > left)
        return BF_SHORT;
    if (sum < left)
        return BF_LONG;
    f->topic = (const char *)p + 6;
    f->tlen = tlen;
    f->kind = kind;
    f->hops = p[h + 1];
    f->status = status;
    f->origin = get64(p + h + 4);
    f->count = count;
    f->next = 0;
    f->tab = p + h + BRIDGE_HEAD;
    f->pl = p + t + 4;
    f->seq = 0;
    f->payload = NULL;
    f->len = 0;
    return BF_OK;
}

int bridge_frame_next(struct bridge_frame *f)
{
    if (f->next >= f->count)
        return -1;
    const unsigned char *e = f->tab + (size_t)BRIDGE_ENTRY * f->next++;
    f->seq = get64(e);
    f->len = get32(e + 8);
    f->payload = f->pl;
    f->pl += f->len; /* open checked that every payload lies inside */
    return get32(e + 12) == bridge_crc32c(0, f->payload, f->len) ? BF_OK : BF_CRC;
}

int bridge_frame_parse(const void *buf, size_t n, struct bridge_frame *f)
{
    int err = bridge_frame_open(buf, n, f);
    if (err)
        return err;
    if (f->count != 1)
        return BF_HEADER;
    return bridge_frame_next(f);
}

const char *bridge_frame_errname(int err)
{
    static const char *const names[BF_NERR] = {"ok",      "short",  "long",   "magic",
                                               "version", "topic",  "header", "crc"};
    return err >= 0 && err < BF_NERR ? names[err] : "unknown";
}
