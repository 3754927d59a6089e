/* t_parse.c - names, sizes and keys as users type them: tables of good and
 * bad inputs, plus parse_size against a plain reference over many values. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>

static void test_names(void)
{
    static const struct {
        const char *s;
        int want;
    } t[] = {
        {"/a", 0},           {"/orders", 0},       {"/with space", 0}, {"/.hidden", 0},
        {"/...", 0},         {"/a.b-c_d", 0},      {"", SHMKIT_EBADNAME}, {"a", SHMKIT_EBADNAME},
        {"/", SHMKIT_EBADNAME}, {"//a", SHMKIT_EBADNAME}, {"/a/", SHMKIT_EBADNAME},
        {"/a/b", SHMKIT_EBADNAME}, {"/.", SHMKIT_EBADNAME}, {"/..", SHMKIT_EBADNAME},
        {"a/b", SHMKIT_EBADNAME},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        is_rc(shmkit_name_check(t[i].s), t[i].want, "name_check(\"%s\")", t[i].s);
    char n[300] = "/";
    memset(n + 1, 'x', 255);
    n[256] = '\0';
    is_rc(shmkit_name_check(n), 0, "name_check: 255 characters after the slash");
    n[256] = 'x';
    n[257] = '\0';
    is_rc(shmkit_name_check(n), SHMKIT_EBADNAME, "name_check: 256 characters after the slash");
}

static void test_size_table(void)
{
    static const struct {
        const char *s;
        int rc;
        uint64_t v;
    } t[] = {
        {"0", 0, 0},
        {"4096", 0, 4096},
        {"4K", 0, 4096},
        {"4k", 0, 4096},
        {"4KB", 0, 4096},
        {"64kB", 0, 65536},
        {"4KiB", 0, 4096},
        {"4kib", 0, 4096},
        {"1.5M", 0, 1572864},
        {"1.5MiB", 0, 1572864},
        {"2GiB", 0, 2147483648u},
        {"1T", 0, 1099511627776u},
        {"0.5K", 0, 512},
        {"1.0", 0, 1},
        {"1B", 0, 1},
        {"1.0009765625K", 0, 1025},
        {"1.9999999999K", 0, 2047}, /* rounded down to a byte */
        {"007", 0, 7},
        {"18446744073709551615", 0, UINT64_MAX},
        {"16777215T", 0, 16777215ull << 40},
        {"18446744073709551616", -ERANGE, 0},
        {"16777216T", -ERANGE, 0},
        {"17179869184G", -ERANGE, 0},
        {"16777215.9999999999T", 0, (16777215ull << 40) + 1099511627666ull},
        {"", SHMKIT_EBADSIZE, 0},
        {"K", SHMKIT_EBADSIZE, 0},
        {"-1", SHMKIT_EBADSIZE, 0},
        {"+1", SHMKIT_EBADSIZE, 0},
        {" 1", SHMKIT_EBADSIZE, 0},
        {"1 ", SHMKIT_EBADSIZE, 0},
        {"1 K", SHMKIT_EBADSIZE, 0},
        {"1KK", SHMKIT_EBADSIZE, 0},
        {"1X", SHMKIT_EBADSIZE, 0},
        {"1P", SHMKIT_EBADSIZE, 0},
        {"1.5", SHMKIT_EBADSIZE, 0},
        {"1.5B", SHMKIT_EBADSIZE, 0},
        {"1.", SHMKIT_EBADSIZE, 0},
        {".5K", SHMKIT_EBADSIZE, 0},
        {"1..5K", SHMKIT_EBADSIZE, 0},
        {"0x10", SHMKIT_EBADSIZE, 0},
        {"1e3", SHMKIT_EBADSIZE, 0},
        {"1,5K", SHMKIT_EBADSIZE, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        uint64_t v = 12345;
        int rc = shmkit_parse_size(t[i].s, &v);
        if (t[i].rc)
            is_rc(rc, t[i].rc, "parse_size(\"%s\"): %s", t[i].s, shmkit_errname(t[i].rc));
        else
            ok(rc == 0 && v == t[i].v, "parse_size(\"%s\") = %" PRIu64 " (got %d, %" PRIu64 ")",
               t[i].s, t[i].v, rc, v);
    }
}

/* Reference: NUM * 1024^k with overflow reported, for every suffix spelling. */
static void test_size_reference(void)
{
    static const struct {
        const char *suffix;
        unsigned shift;
    } u[] = {{"", 0},    {"b", 0},    {"K", 10},   {"kb", 10},  {"KiB", 10}, {"M", 20},
             {"mB", 20}, {"MiB", 20}, {"g", 30},   {"GB", 30},  {"gib", 30}, {"T", 40},
             {"TB", 40}, {"TiB", 40}};
    uint64_t x = 0x9e3779b97f4a7c15u;
    int bad = 0, n = 0;
    for (int i = 0; i < 4000; i++) {
        /* xorshift; spread the magnitudes over every bit length */
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        uint64_t num = x >> (x % 64);
        for (size_t k = 0; k < sizeof u / sizeof u[0]; k++) {
            char s[64];
            snprintf(s, sizeof s, "%" PRIu64 "%s", num, u[k].suffix);
            unsigned __int128 want = (unsigned __int128)num << u[k].shift;
            uint64_t got = 0;
            int rc = shmkit_parse_size(s, &got);
            int okay = want > UINT64_MAX ? rc == -ERANGE : (rc == 0 && got == (uint64_t)want);
            /* with a half: NUM.5 * unit, the half rounded down to bytes */
            if (u[k].shift) {
                snprintf(s, sizeof s, "%" PRIu64 ".5%s", num, u[k].suffix);
                unsigned __int128 w2 = want + ((unsigned __int128)1 << (u[k].shift - 1));
                rc = shmkit_parse_size(s, &got);
                okay &= w2 > UINT64_MAX ? rc == -ERANGE : (rc == 0 && got == (uint64_t)w2);
            }
            if (!okay && bad++ < 5)
                tap_diag("mismatch for \"%s\": rc %d got %" PRIu64, s, rc, got);
            n++;
        }
    }
    is_int(bad, 0, "parse_size agrees with NUM * 1024^k on %d generated inputs", n);
}

static void test_keys(void)
{
    static const struct {
        const char *s;
        int rc;
        int32_t v;
    } t[] = {
        {"0", 0, 0},
        {"1234", 0, 1234},
        {"0x1234", 0, 0x1234},
        {"0X1a", 0, 0x1a},
        {"0xffffffff", 0, -1},
        {"0x80000000", 0, INT32_MIN},
        {"-1", 0, -1},
        {"-2147483648", 0, INT32_MIN},
        {"2147483647", 0, INT32_MAX},
        {"000000000000000000000042", 0, 42},
        {"2147483648", SHMKIT_EBADKEY, 0},
        {"4294967295", SHMKIT_EBADKEY, 0},
        {"0x100000000", SHMKIT_EBADKEY, 0},
        {"-2147483649", SHMKIT_EBADKEY, 0},
        {"99999999999999999999999", SHMKIT_EBADKEY, 0},
        {"", SHMKIT_EBADKEY, 0},
        {"-", SHMKIT_EBADKEY, 0},
        {"0x", SHMKIT_EBADKEY, 0},
        {"12a", SHMKIT_EBADKEY, 0},
        {"0x12g", SHMKIT_EBADKEY, 0},
        {" 1", SHMKIT_EBADKEY, 0},
        {"1 ", SHMKIT_EBADKEY, 0},
        {"--1", SHMKIT_EBADKEY, 0},
        {"-0x1", SHMKIT_EBADKEY, 0},
        {"+1", SHMKIT_EBADKEY, 0},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        int32_t v = 777;
        int rc = shmkit_parse_key(t[i].s, &v);
        if (t[i].rc)
            is_rc(rc, t[i].rc, "parse_key(\"%s\"): EBADKEY", t[i].s);
        else
            ok(rc == 0 && v == t[i].v, "parse_key(\"%s\") = %d (got %d, %d)", t[i].s, (int)t[i].v,
               rc, (int)v);
    }
    int32_t v;
    is_rc(shmkit_parse_key("5", NULL), SHMKIT_EBADKEY, "parse_key(s, NULL): EBADKEY");
    is_rc(shmkit_parse_key(NULL, &v), SHMKIT_EBADKEY, "parse_key(NULL): EBADKEY");
}

int main(void)
{
    test_names();
    test_size_table();
    test_size_reference();
    test_keys();
    return tap_done();
}
