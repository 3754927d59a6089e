/* t_abuse_tamper.c - changes made from outside with real `dd conv=notrunc`
 * are all detected, with the right error:
 *   - every byte of the header of a sealed POSIX segment (changed to a
 *     random other value, one at a time): `shmkit verify` exits 3 naming
 *     the error, shmkit_open(SHMKIT_VERIFY) refuses with the code the byte
 *     calls for (magic: ENOTSHMKIT, version: EVERSION, any other byte:
 *     EBADHEADER), and shmkit_seg_verify on a handle opened before agrees;
 *   - random payload bytes of the same segment: ETAMPERED everywhere;
 *   - a sealed FILE segment: random header and payload bytes, the library.
 * Each change is undone (through a mapping) before the next. The header
 * bytes are all tried in the plain build; under ASan every 4th one plus
 * random payload positions (the count is printed). */
#include "tap.h"

#include <shmkit.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASAN TAP_UNDER_ASAN

#define PAYLOAD 8192

static char cli[512];
static int have_cli;
static char errfile[] = "/tmp/shmkit-tamper-XXXXXX";
static unsigned rng = 12345;

static unsigned rnd(unsigned n)
{
    rng = rng * 1103515245u + 12345u;
    return (rng >> 8) % n;
}

static int want_for_byte(size_t i)
{
    if (i < 8)
        return SHMKIT_ENOTSHMKIT; /* magic */
    if (i == 10 || i == 11)
        return SHMKIT_EVERSION; /* the version half of the format word */
    return SHMKIT_EBADHEADER;
}

/* Writes byte V at offset OFF of PATH with dd, from outside the process. */
static int dd_byte(const char *path, long off, unsigned char v)
{
    char cmd[700];
    snprintf(cmd, sizeof cmd,
             "printf '\\%03o' | dd of='%s' bs=1 seek=%ld count=1 conv=notrunc status=none", v, path,
             off);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `shmkit verify NAME`: its exit status; its stderr in errfile. */
static int cli_verify(const char *name)
{
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s' verify '%s' >/dev/null 2>'%s'", cli, name, errfile);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int cli_said(int code)
{
    char buf[1024] = {0};
    int fd = open(errfile, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    const char *want = code == SHMKIT_ENOTSHMKIT ? "not a shmkit segment" : shmkit_strerror(code);
    return strstr(buf, want) != NULL;
}

struct score {
    int tried, lib_open, lib_verify, cli_exit, cli_msg;
};

/* Changes byte OFF of the segment (path PATH, our RAW view RAW) with dd,
 * checks every detector, undoes the change. */
static void tamper_one(const char *path, const char *posix_name, unsigned char *raw, size_t off,
                       int want, shmkit_seg *before, const struct shmkit_opts *reopen,
                       struct score *sc)
{
    unsigned char orig = raw[off];
    unsigned char v = (unsigned char)(orig ^ (1 + rnd(255)));
    sc->tried++;
    if (dd_byte(path, (long)off, v) != 0 || raw[off] != v) {
        tap_diag("dd did not change byte %zu", off);
        return;
    }
    shmkit_seg *t = NULL;
    int rc = shmkit_open(&t, reopen);
    if (rc == want && !t)
        sc->lib_open++;
    else if (sc->tried - sc->lib_open < 4)
        tap_diag("byte %zu 0x%02x->0x%02x: open gave %s, want %s", off, orig, v,
                 shmkit_errname(rc), shmkit_errname(want));
    shmkit_close(t);
    rc = shmkit_seg_verify(before);
    if (rc == want)
        sc->lib_verify++;
    else if (sc->tried - sc->lib_verify < 4)
        tap_diag("byte %zu: verify gave %s, want %s", off, shmkit_errname(rc), shmkit_errname(want));
    if (posix_name && have_cli) {
        int st = cli_verify(posix_name);
        sc->cli_exit += st == 3;
        sc->cli_msg += cli_said(want);
        if (st != 3 && sc->tried - sc->cli_exit < 4)
            tap_diag("byte %zu: shmkit verify exited %d", off, st);
    }
    raw[off] = orig;
}

static void check(const char *what, const struct score *sc, int cli_too)
{
    is_int(sc->lib_open, sc->tried, "%s: %d changes made with dd, shmkit_open(VERIFY) refused "
           "each with the right code", what, sc->tried);
    is_int(sc->lib_verify, sc->tried, "%s: shmkit_seg_verify on an older handle agrees", what);
    if (cli_too && have_cli) {
        is_int(sc->cli_exit, sc->tried, "%s: shmkit verify exited 3 every time", what);
        is_int(sc->cli_msg, sc->tried, "%s: ... naming the right error", what);
    }
}

static void test_posix(void)
{
    char name[96], path[200];
    tu_name(name, sizeof name, "tamper");
    snprintf(path, sizeof path, "/dev/shm%s", name);
    shmkit_seg *s = NULL, *raw = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = PAYLOAD,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create %s", name);
    unsigned char *d = shmkit_seg_data(s);
    for (size_t i = 0; i < PAYLOAD; i++)
        d[i] = (unsigned char)(i * 13 + 7);
    is_rc(shmkit_seg_seal(s), 0, "POSIX: sealed");
    struct shmkit_opts ro = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RAW};
    if (shmkit_open(&raw, &ro) < 0)
        tap_bail("raw view");
    unsigned char *h = shmkit_seg_data(raw);
    if (have_cli)
        is_int(cli_verify(name), 0, "POSIX: shmkit verify says intact before");
    struct shmkit_opts reopen = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_VERIFY};

    struct score hs = {0};
    for (size_t i = 0; i < SHMKIT_HEADER_SIZE; i += ASAN ? 4 : 1)
        tamper_one(path, name, h, i, want_for_byte(i), s, &reopen, &hs);
    check("POSIX header bytes", &hs, 1);

    struct score ps = {0};
    for (int k = 0; k < (ASAN ? 16 : 64); k++)
        tamper_one(path, name, h, SHMKIT_HEADER_SIZE + rnd(PAYLOAD), SHMKIT_ETAMPERED, s,
                   &reopen, &ps);
    check("POSIX payload bytes", &ps, 1);
    /* the first and last payload bytes too */
    struct score es = {0};
    tamper_one(path, name, h, SHMKIT_HEADER_SIZE, SHMKIT_ETAMPERED, s, &reopen, &es);
    tamper_one(path, name, h, SHMKIT_HEADER_SIZE + PAYLOAD - 1, SHMKIT_ETAMPERED, s, &reopen, &es);
    check("POSIX first and last payload byte", &es, 1);

    is_rc(shmkit_seg_verify(s), 0, "POSIX: every change undone: intact again");
    if (have_cli)
        is_int(cli_verify(name), 0, "POSIX: shmkit verify agrees");
    shmkit_close(raw);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_file(void)
{
    char dir[] = "/tmp/shmkit-tamper-dir-XXXXXX", path[300];
    if (!mkdtemp(dir))
        tap_bail("mkdtemp");
    snprintf(path, sizeof path, "%s/seg", dir);
    shmkit_seg *s = NULL, *raw = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path, .size = PAYLOAD,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create %s", path);
    memset(shmkit_seg_data(s), 0x5a, PAYLOAD);
    is_rc(shmkit_seg_seal(s), 0, "FILE: sealed");
    struct shmkit_opts ro = {.kind = SHMKIT_FILE, .name = path, .flags = SHMKIT_RAW};
    if (shmkit_open(&raw, &ro) < 0)
        tap_bail("raw view");
    unsigned char *h = shmkit_seg_data(raw);
    struct shmkit_opts reopen = {.kind = SHMKIT_FILE, .name = path,
                                 .flags = SHMKIT_VERIFY | SHMKIT_RDONLY};
    struct score sc = {0};
    for (int k = 0; k < (ASAN ? 8 : 32); k++) {
        size_t i = rnd(SHMKIT_HEADER_SIZE);
        tamper_one(path, NULL, h, i, want_for_byte(i), s, &reopen, &sc);
    }
    for (int k = 0; k < (ASAN ? 8 : 32); k++)
        tamper_one(path, NULL, h, SHMKIT_HEADER_SIZE + rnd(PAYLOAD), SHMKIT_ETAMPERED, s, &reopen,
                   &sc);
    check("FILE header and payload bytes", &sc, 0);
    is_rc(shmkit_seg_verify(s), 0, "FILE: intact again");
    shmkit_close(raw);
    shmkit_seg_remove(s);
    shmkit_close(s);
    rmdir(dir);
}

int main(void)
{
    if (system("dd --version >/dev/null 2>&1") != 0)
        tap_skip_all("dd not installed");
    tu_built(cli, sizeof cli, "bin/shmkit");
    have_cli = access(cli, X_OK) == 0;
    if (!have_cli)
        tap_diag("%s not built: only the library is checked", cli);
    int fd = mkstemp(errfile);
    if (fd < 0)
        tap_bail("mkstemp");
    close(fd);
    rng = (unsigned)tu_now_ns();
    tap_diag("seed %u%s", rng, ASAN ? " (ASan build: every 4th header byte)" : "");
    uint64_t t0 = tu_now_ns();
    test_posix();
    test_file();
    unlink(errfile);
    tap_diag("%.1f s", (double)(tu_now_ns() - t0) / 1e9);
    return tap_done();
}
