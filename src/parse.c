/* parse.c - names, sizes and keys as users type them. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

int shmkit_name_check(const char *name)
{
    if (!name || name[0] != '/' || name[1] == '\0')
        return SHMKIT_EBADNAME;
    size_t n = strlen(name + 1);
    if (n > NAME_MAX || strchr(name + 1, '/'))
        return SHMKIT_EBADNAME;
    if (!strcmp(name, "/.") || !strcmp(name, "/.."))
        return SHMKIT_EBADNAME;
    return 0;
}

static const struct {
    const char *suffix;
    unsigned shift;
} units[] = {
    {"", 0},     {"B", 0},     {"K", 10},    {"KB", 10},  {"KIB", 10}, {"M", 20},
    {"MB", 20},  {"MIB", 20},  {"G", 30},    {"GB", 30},  {"GIB", 30}, {"T", 40},
    {"TB", 40},  {"TIB", 40},
};

int shmkit_parse_size(const char *s, uint64_t *out)
{
    if (!s || !out)
        return -EINVAL;
    const char *p = s;
    uint64_t whole = 0, frac_num = 0, frac_den = 1;
    /* DIGITS [ "." DIGITS ] [ SUFFIX ]: a digit on each side of a point */
    if (!(*p >= '0' && *p <= '9'))
        return SHMKIT_EBADSIZE;
    while (*p >= '0' && *p <= '9') {
        if (__builtin_mul_overflow(whole, 10, &whole) ||
            __builtin_add_overflow(whole, (uint64_t)(*p - '0'), &whole))
            return -ERANGE;
        p++;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return SHMKIT_EBADSIZE;
        while (*p >= '0' && *p <= '9') {
            /* exact for up to 19 fraction digits (frac_num < 10^19 fits 64
             * bits, frac_num << 40 fits 128); later digits are ignored */
            if (frac_den < 10000000000000000000u) {
                frac_num = frac_num * 10 + (uint64_t)(*p - '0');
                frac_den *= 10;
            }
            p++;
        }
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(p, units[i].suffix))
            continue;
        unsigned sh = units[i].shift;
        if (sh && whole > (UINT64_MAX >> sh))
            return -ERANGE;
        uint64_t v = whole << sh;
        /* fraction of the unit, rounded down to whole bytes */
        uint64_t f = (uint64_t)(((unsigned __int128)frac_num << sh) / frac_den);
        if (__builtin_add_overflow(v, f, &v))
            return -ERANGE;
        if (frac_num && !sh)
            return SHMKIT_EBADSIZE; /* "1.5" bytes */
        *out = v;
        return 0;
    }
    return SHMKIT_EBADSIZE;
}

int shmkit_parse_key(const char *s, int32_t *out)
{
    if (!s || !out || !*s)
        return SHMKIT_EBADKEY;
    const char *p = s;
    int neg = 0, base = 10;
    if (*p == '-') {
        neg = 1;
        p++;
    } else if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    if (!*p)
        return SHMKIT_EBADKEY;
    uint64_t v = 0;
    for (; *p; p++) {
        int d;
        if (*p >= '0' && *p <= '9')
            d = *p - '0';
        else if (base == 16 && *p >= 'a' && *p <= 'f')
            d = *p - 'a' + 10;
        else if (base == 16 && *p >= 'A' && *p <= 'F')
            d = *p - 'A' + 10;
        else
            return SHMKIT_EBADKEY;
        v = v * (uint64_t)base + (uint64_t)d;
        if (v > 0xffffffffu)
            return SHMKIT_EBADKEY;
    }
    if (neg) {
        if (v > 0x80000000u)
            return SHMKIT_EBADKEY;
        *out = (int32_t)(-(int64_t)v);
    } else if (base == 16) {
        *out = (int32_t)(uint32_t)v; /* 0xffffffff is key -1, as ipcs prints it */
    } else {
        if (v > INT32_MAX)
            return SHMKIT_EBADKEY;
        *out = (int32_t)v;
    }
    return 0;
}
