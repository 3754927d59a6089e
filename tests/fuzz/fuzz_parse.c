/* fuzz_parse.c - random strings through the parsers users feed by hand.
 *
 * Input: the whole buffer as a C string (cut at the first NUL), given to
 * shmkit_name_check, shmkit_parse_size and shmkit_parse_key. Each result is
 * checked against a plain reference written independently here:
 *  - name: "/" then 1..255 bytes without '/', not "." or "..";
 *  - size: DIGITS [SUFFIX] must equal DIGITS * 1024^k (or -ERANGE past 64
 *    bits); with a fraction the result lies between the whole number of
 *    units and the next one;
 *  - key: what strtoll/strtoull make of the same text, in the same range.
 */
#include "shmkit.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int ref_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 256 || s[0] != '/' || strchr(s + 1, '/'))
        return SHMKIT_EBADNAME;
    if (!strcmp(s, "/.") || !strcmp(s, "/.."))
        return SHMKIT_EBADNAME;
    return 0;
}

static int suffix_shift(const char *p)
{
    static const char *const sfx[] = {"", "B", "K", "KB", "KIB", "M", "MB", "MIB",
                                      "G", "GB", "GIB", "T", "TB", "TIB"};
    static const int sh[] = {0, 0, 10, 10, 10, 20, 20, 20, 30, 30, 30, 40, 40, 40};
    for (size_t i = 0; i < sizeof sh / sizeof sh[0]; i++)
        if (!strcasecmp(p, sfx[i]))
            return sh[i];
    return -1;
}

static void check_size(const char *s)
{
    uint64_t v = 0;
    int rc = shmkit_parse_size(s, &v);
    if (rc != 0 && rc != SHMKIT_EBADSIZE && rc != -ERANGE)
        abort();
    /* reference: digits, optional ".digits", suffix */
    const char *p = s;
    unsigned __int128 whole = 0;
    int digits = 0, big = 0;
    while (isdigit((unsigned char)*p)) {
        whole = whole * 10 + (unsigned)(*p++ - '0');
        if (whole > UINT64_MAX)
            big = 1, whole = (unsigned __int128)UINT64_MAX + 1; /* saturate */
        digits++;
    }
    int frac = 0, fdigits = 0;
    if (*p == '.') {
        frac = 1;
        p++;
        while (isdigit((unsigned char)*p))
            p++, fdigits++;
    }
    int sh = suffix_shift(p);
    int well_formed = digits > 0 && (!frac || fdigits > 0) && sh >= 0;
    if (big) {
        /* a whole part past 64 bits: ERANGE whatever follows */
        if (rc != -ERANGE)
            abort();
        return;
    }
    if (!well_formed) {
        if (rc != SHMKIT_EBADSIZE)
            abort();
        return;
    }
    unsigned __int128 lo = whole << sh, hi = (whole + 1) << sh;
    if (!frac) {
        if (lo > UINT64_MAX ? rc != -ERANGE : (rc != 0 || v != (uint64_t)lo))
            abort();
        return;
    }
    if (rc == SHMKIT_EBADSIZE) {
        if (sh != 0) /* only a fraction of a byte is refused */
            abort();
        return;
    }
    if (rc == -ERANGE) {
        if (hi <= (unsigned __int128)UINT64_MAX + 1)
            abort(); /* everything below 2^64 must parse */
        return;
    }
    if (v < lo || v >= hi)
        abort();
}

static void check_key(const char *s)
{
    int32_t k = 0;
    int rc = shmkit_parse_key(s, &k);
    if (rc != 0 && rc != SHMKIT_EBADKEY)
        abort();
    /* reference: optional '-' then decimal, or 0x/0X then hex; nothing else */
    int ok = 0;
    long long want = 0;
    const char *p = s;
    char *end;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        if (isxdigit((unsigned char)p[2])) {
            int allhex = 1;
            for (const char *q = p + 2; *q; q++)
                allhex &= isxdigit((unsigned char)*q) != 0;
            errno = 0;
            unsigned long long u = strtoull(p + 2, &end, 16);
            if (allhex && !*end && errno != ERANGE && u <= 0xffffffffu)
                ok = 1, want = (int32_t)(uint32_t)u;
        }
    } else if (*p == '-' || isdigit((unsigned char)*p)) {
        const char *d = *p == '-' ? p + 1 : p;
        int alldig = *d != '\0';
        for (const char *q = d; *q; q++)
            alldig &= isdigit((unsigned char)*q) != 0;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (alldig && !*end && errno != ERANGE && x >= INT32_MIN && x <= INT32_MAX)
            ok = 1, want = x;
    }
    if (ok ? (rc != 0 || k != want) : rc != SHMKIT_EBADKEY)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[512];
    if (size >= sizeof s)
        size = sizeof s - 1;
    memcpy(s, data, size);
    s[size] = '\0';
    if (shmkit_name_check(s) != ref_name(s))
        abort();
    check_size(s);
    check_key(s);
    return 0;
}
