/* t_seg_header.c - the header is hostile input. Every byte of it flipped
 * (xor 0xff and xor 0x01), one at a time: open, verify and header_check
 * refuse with the right code. Forged headers with a valid CRC but a bad
 * field are refused too. A truncated backing object gives ETRUNCATED, never
 * SIGBUS, also on a handle opened before the truncation. */
#include "tu_seg.h"

#include "internal.h" /* struct shmkit__hdr, to forge headers */

static int want_for_byte(size_t i)
{
    if (i < 8)
        return SHMKIT_ENOTSHMKIT; /* magic */
    if (i == 10 || i == 11)
        return SHMKIT_EVERSION; /* the version half of the format word */
    return SHMKIT_EBADHEADER;
}

static void test_flips(void)
{
    char name[96];
    shmkit_seg *s = NULL, *raw = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "flip"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create");
    struct shmkit_opts ro = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RAW};
    if (shmkit_open(&raw, &ro) < 0)
        tap_bail("cannot open raw");
    unsigned char *h = shmkit_seg_data(raw);
    static const unsigned char pats[] = {0xff, 0x01};
    int bad_open = 0, bad_verify = 0, bad_check = 0, opened = 0;
    for (size_t p = 0; p < sizeof pats; p++) {
        for (size_t i = 0; i < SHMKIT_HEADER_SIZE; i++) {
            int want = want_for_byte(i);
            h[i] ^= pats[p];
            shmkit_seg *t = NULL;
            int rc = shmkit_open(&t, &(struct shmkit_opts){.kind = SHMKIT_POSIX, .name = name});
            if (rc != want) {
                if (bad_open++ < 5)
                    tap_diag("byte %zu ^ 0x%02x: open gave %s, want %s", i, pats[p],
                             shmkit_errname(rc), shmkit_errname(want));
            }
            if (t) {
                opened++;
                shmkit_close(t);
            }
            rc = shmkit_seg_verify(s);
            if (rc != want && bad_verify++ < 5)
                tap_diag("byte %zu ^ 0x%02x: verify gave %s, want %s", i, pats[p],
                         shmkit_errname(rc), shmkit_errname(want));
            unsigned char copy[SHMKIT_HEADER_SIZE];
            memcpy(copy, h, sizeof copy);
            rc = shmkit_header_check(copy, sizeof copy, 4096 + SHMKIT_HEADER_SIZE, NULL);
            if (rc != want && bad_check++ < 5)
                tap_diag("byte %zu ^ 0x%02x: header_check gave %s, want %s", i, pats[p],
                         shmkit_errname(rc), shmkit_errname(want));
            h[i] ^= pats[p];
        }
    }
    is_int(bad_open, 0, "512 single-byte flips: open refuses each with the right code");
    is_int(opened, 0, "... and never hands out a handle");
    is_int(bad_verify, 0, "... verify on a handle opened before says the same");
    is_int(bad_check, 0, "... header_check on a copy says the same");
    is_rc(shmkit_seg_verify(s), SHMKIT_ENOTSEALED, "restored: verify is back to 'valid, not sealed'");
    shmkit_seg *t = NULL;
    is_rc(shmkit_open(&t, &(struct shmkit_opts){.kind = SHMKIT_POSIX, .name = name}), 0,
          "restored: opens again");
    shmkit_close(t);

    /* forged headers: a valid CRC over a bad field */
    struct shmkit__hdr good, f;
    memcpy(&good, h, sizeof good);
#define FORGE(stmt, want_rc, what)                                                                 \
    do {                                                                                           \
        f = good;                                                                                  \
        struct shmkit__hdr *x = &f;                                                                \
        stmt;                                                                                      \
        shmkit__hdr_finish(x);                                                                     \
        memcpy(h, &f, sizeof f);                                                                   \
        is_rc(shmkit_open(&t, &(struct shmkit_opts){.kind = SHMKIT_POSIX, .name = name}),         \
              want_rc, "forged, CRC valid: %s", what);                                             \
        is_rc(shmkit_seg_verify(s), want_rc == 0 ? SHMKIT_EBADHEADER : want_rc,                    \
              "... verify on the old handle agrees");                                              \
        shmkit_close(t);                                                                           \
        t = NULL;                                                                                  \
    } while (0)
    FORGE(x->hdr_size = 128, SHMKIT_EBADHEADER, "header size 128");
    FORGE(x->format |= 1, SHMKIT_EVERSION, "unknown feature bit: a newer format, EVERSION");
    FORGE(x->format = 2u << 16, SHMKIT_EVERSION, "format version 2");
    FORGE(x->flags = 0x80, SHMKIT_EBADHEADER, "unknown flag");
    FORGE(x->layout = 9, SHMKIT_EBADHEADER, "layout 9");
    FORGE(x->generation = 0, SHMKIT_EBADHEADER, "generation 0");
    FORGE(x->creator_pid = -5, SHMKIT_EBADHEADER, "negative creator pid");
    FORGE(x->reserved[77] = 1, SHMKIT_EBADHEADER, "reserved byte set");
    FORGE(x->reserved1 = 1, SHMKIT_EBADHEADER, "reserved word set");
    FORGE(x->payload_crc = 1234, SHMKIT_EBADHEADER, "payload CRC while not sealed");
    FORGE(x->payload_size = 0, SHMKIT_EBADHEADER, "payload size 0");
    FORGE(x->payload_size = 4097, SHMKIT_ETRUNCATED, "payload size one past the object");
    FORGE(x->payload_size = UINT64_MAX, SHMKIT_ETRUNCATED, "payload size 2^64-1");
    FORGE(x->payload_size = UINT64_MAX - SHMKIT_HEADER_SIZE + 1, SHMKIT_ETRUNCATED,
          "payload size that wraps with the header");
    /* smaller than the object is fine: opens with that size */
    f = good;
    f.payload_size = 100;
    shmkit__hdr_finish(&f);
    memcpy(h, &f, sizeof f);
    is_rc(shmkit_open(&t, &(struct shmkit_opts){.kind = SHMKIT_POSIX, .name = name}), 0,
          "forged payload size 100 (< object): opens");
    is_int(shmkit_seg_size(t), 100, "... with 100 bytes of payload");
    is_rc(shmkit_seg_verify(s), SHMKIT_EBADHEADER, "... an older handle notices the size changed");
    shmkit_close(t);
    memcpy(h, &good, sizeof good);
    is_rc(shmkit_seg_verify(s), SHMKIT_ENOTSEALED, "restored again");

    shmkit_close(raw);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_header_check(void)
{
    char name[96];
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = 1000, .flags = SHMKIT_CREATE,
                            .layout = SHMKIT_LAYOUT_TABLE};
    (void)name;
    if (shmkit_open(&s, &o) < 0)
        tap_bail("anon");
    const unsigned char *h = (const unsigned char *)shmkit_seg_data(s) - SHMKIT_HEADER_SIZE;
    unsigned char buf[SHMKIT_HEADER_SIZE];
    memcpy(buf, h, sizeof buf);
    memset(&in, 0, sizeof in);
    is_rc(shmkit_header_check(buf, sizeof buf, 1000 + SHMKIT_HEADER_SIZE, &in), 0,
          "header_check of a good image");
    ok(in.has_header && in.layout == SHMKIT_LAYOUT_TABLE && in.payload_size == 1000 &&
           in.creator_pid == getpid() && in.generation == 1,
       "... fills the header fields");
    is_rc(shmkit_header_check(buf, sizeof buf, 999 + SHMKIT_HEADER_SIZE, NULL), SHMKIT_ETRUNCATED,
          "... a mapping one byte short: ETRUNCATED");
    is_rc(shmkit_header_check(buf, sizeof buf, 100, NULL), SHMKIT_ETRUNCATED,
          "... a mapping shorter than a header: ETRUNCATED");
    is_rc(shmkit_header_check(buf, 100, 1256, NULL), SHMKIT_ETRUNCATED,
          "... an image of 100 bytes with our magic: ETRUNCATED");
    is_rc(shmkit_header_check(buf, 0, 1256, NULL), SHMKIT_ETRUNCATED, "... 0 bytes: ETRUNCATED");
    is_rc(shmkit_header_check("hello world, this is text", 25, 25, NULL), SHMKIT_ENOTSHMKIT,
          "25 bytes of text: ENOTSHMKIT (not 'truncated')");
    is_rc(shmkit_header_check("SHM", 3, 3, NULL), SHMKIT_ETRUNCATED, "3 bytes: ETRUNCATED");
    shmkit_close(s);
}

static void test_truncation(void)
{
    char name[96], dir[256], path[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_info in;
    uint64_t v;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "trunc"),
                            .size = 3 * 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create");
    shmkit_seg_seal(s);
    struct shmkit_opts oo = {.kind = SHMKIT_POSIX, .name = name};
    int fd = shmkit_seg_fd(s);
    static const off_t sizes[] = {2 * 4096, 4096, 300, SHMKIT_HEADER_SIZE, 100, 5, 0};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        off_t sz = sizes[i];
        if (ftruncate(fd, sz) < 0)
            tap_bail("ftruncate: %s", strerror(errno));
        is_rc(shmkit_open(&t, &oo), SHMKIT_ETRUNCATED, "truncated to %ld: open gives ETRUNCATED",
              (long)sz);
        is_rc(shmkit_seg_verify(s), SHMKIT_ETRUNCATED, "... verify on the open handle too (no SIGBUS)");
        is_rc(shmkit_seg_seal(s), SHMKIT_ETRUNCATED, "... seal too");
        is_rc(shmkit_seg_layout_param(s, 0, &v), SHMKIT_ETRUNCATED, "... layout_param too");
        ok(shmkit_seg_stat(s, &in) == 0 && in.size == (uint64_t)sz && !in.has_header,
           "... stat works and shows no valid header");
    }
    if (ftruncate(fd, 3 * 4096 + SHMKIT_HEADER_SIZE) == 0)
        is_rc(shmkit_open(&t, &oo), SHMKIT_ENOTSHMKIT, "grown back (zeros): ENOTSHMKIT");
    shmkit_seg_remove(s);
    shmkit_close(s);

    /* a FILE segment, truncated with truncate(2) by path; also MAP_PRIVATE */
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/seg", dir);
    struct shmkit_opts of = {.kind = SHMKIT_FILE, .name = path, .size = 8192,
                             .flags = SHMKIT_CREATE};
    shmkit_seg *p = NULL;
    if (shmkit_open(&s, &of) < 0)
        tap_bail("cannot create file");
    struct shmkit_opts op = {.kind = SHMKIT_FILE, .name = path, .flags = SHMKIT_PRIVATE};
    is_rc(shmkit_open(&p, &op), 0, "FILE: a MAP_PRIVATE handle as well");
    if (truncate(path, 1000) < 0)
        tap_bail("truncate");
    is_rc(shmkit_seg_verify(s), SHMKIT_ETRUNCATED, "FILE truncated: verify ETRUNCATED");
    is_rc(shmkit_seg_verify(p), SHMKIT_ETRUNCATED, "FILE truncated: MAP_PRIVATE handle too");
    struct shmkit_opts ofo = {.kind = SHMKIT_FILE, .name = path};
    is_rc(shmkit_open(&t, &ofo), SHMKIT_ETRUNCATED, "FILE truncated: open ETRUNCATED");
    shmkit_close(p);
    shmkit_close(s);

    /* a short foreign file */
    int ffd = open(path, O_WRONLY | O_TRUNC);
    if (ffd < 0 || write(ffd, "just some text, not a segment header\n", 37) != 37)
        tap_bail("write");
    close(ffd);
    is_rc(shmkit_open(&t, &ofo), SHMKIT_ENOTSHMKIT, "a 37-byte text file: ENOTSHMKIT");
    tu_tmpdir_rm(dir);
}

int main(void)
{
    test_flips();
    test_header_check();
    test_truncation();
    return tap_done();
}
