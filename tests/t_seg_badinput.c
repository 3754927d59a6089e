/* t_seg_badinput.c - bad names, sizes, keys, flags and NULL pointers get a
 * clear error, and nothing is created: /dev/shm, the System V table and the
 * file system are checked after each refusal. */
#include "tu_seg.h"

#include <dirent.h>
#include <stdint.h>

static char dir[256];

/* Entries in /dev/shm whose name starts with this process's test prefix. */
static int shm_mine(void)
{
    char prefix[64];
    int n = 0;
    snprintf(prefix, sizeof prefix, "shmkit-t-%ld-", (long)getpid());
    DIR *d = opendir("/dev/shm");
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, strlen(prefix)))
            n++;
    closedir(d);
    return n;
}

static int dir_entries(void)
{
    int n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n - 2;
}

/* Expects shmkit_open(O) to fail with WANT (or, when WANT2 is non-zero,
 * with either) and to leave nothing behind. */
static void refused2(const struct shmkit_opts *o, int want, int want2, const char *what)
{
    shmkit_seg *s = (shmkit_seg *)&s; /* must be reset to NULL */
    int rc = shmkit_open(&s, o);
    if (want2 && rc == want2)
        want = want2;
    is_rc(rc, want, "%s", what);
    ok(s == NULL, "%s: no handle", what);
    if (s)
        shmkit_close(s);
    ok(shm_mine() == 0 && tu_sysv_mine() == 0 && dir_entries() == 0, "%s: nothing created", what);
}

static void refused(const struct shmkit_opts *o, int want, const char *what)
{
    refused2(o, want, 0, what);
}

static void test_names(void)
{
    char longname[600], n256[300], fname[PATH_MAX];
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .size = 64, .flags = SHMKIT_CREATE};
    const char *bad[] = {"", "noslash", "/a/b", "/", "//x", "/x/", "/.", "/..", "shmkit-t-noslash"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        o.name = bad[i];
        char what[64];
        snprintf(what, sizeof what, "POSIX name \"%s\": EBADNAME", bad[i]);
        refused(&o, SHMKIT_EBADNAME, what);
    }
    ok(!tu_shm_exists("noslash") && !tu_shm_exists("shmkit-t-noslash") && !tu_shm_exists("b"),
       "no stray names in /dev/shm");
    o.name = NULL;
    refused(&o, SHMKIT_EBADNAME, "POSIX name NULL: EBADNAME");
    memset(longname, 'L', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    o.name = longname;
    refused(&o, SHMKIT_EBADNAME, "POSIX name of 599 characters: EBADNAME");
    snprintf(n256, sizeof n256, "/shmkit-t-%ld-", (long)getpid());
    memset(n256 + strlen(n256), 'x', sizeof n256 - strlen(n256));
    n256[257] = '\0';
    o.name = n256;
    refused(&o, SHMKIT_EBADNAME, "POSIX name of 256 characters after the slash: EBADNAME");
    is_rc(shmkit_posix_remove("noslash"), SHMKIT_EBADNAME, "posix_remove(\"noslash\"): EBADNAME");
    is_rc(shmkit_posix_remove(NULL), SHMKIT_EBADNAME, "posix_remove(NULL): EBADNAME");
    is_rc(shmkit_name_check("/fine"), 0, "name_check(\"/fine\"): 0");

    struct shmkit_opts f = {.kind = SHMKIT_FILE, .size = 64, .flags = SHMKIT_CREATE};
    refused(&f, SHMKIT_EBADNAME, "FILE path NULL: EBADNAME");
    f.name = "";
    refused(&f, SHMKIT_EBADNAME, "FILE path \"\": EBADNAME");
    snprintf(fname, sizeof fname, "%s/no/such/dir/seg", dir);
    f.name = fname;
    refused(&f, -ENOENT, "FILE in a missing directory: -ENOENT");
    char toolong[PATH_MAX + 100];
    int n = snprintf(toolong, sizeof toolong, "%s/", dir);
    memset(toolong + n, 'p', sizeof toolong - (size_t)n - 1);
    toolong[sizeof toolong - 1] = '\0';
    f.name = toolong;
    refused(&f, -ENAMETOOLONG, "FILE path longer than PATH_MAX: -ENAMETOOLONG");
}

static void test_sizes(void)
{
    static const int kinds[] = {SHMKIT_POSIX, SHMKIT_SYSV, SHMKIT_ANON, SHMKIT_MEMFD, SHMKIT_FILE};
    static const char *const kname[] = {"", "POSIX", "SYSV", "ANON", "MEMFD", "FILE"};
    char name[96], fname[PATH_MAX];
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        int k = kinds[i];
        struct shmkit_opts o = {.kind = k, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
        if (k == SHMKIT_POSIX)
            o.name = tu_name(name, sizeof name, "size");
        if (k == SHMKIT_FILE)
            snprintf(fname, sizeof fname, "%s/size", dir), o.name = fname;
        if (k == SHMKIT_SYSV)
            o.sysv_private = 1;
        char what[96];
        const size_t bad[] = {0, SIZE_MAX, SIZE_MAX - 100, SIZE_MAX - SHMKIT_HEADER_SIZE + 1,
                              (size_t)INT64_MAX, (size_t)INT64_MAX - SHMKIT_HEADER_SIZE + 1};
        for (size_t j = 0; j < sizeof bad / sizeof bad[0]; j++) {
            o.size = bad[j];
            snprintf(what, sizeof what, "%s size %zu: EBADSIZE", kname[k], bad[j]);
            refused(&o, SHMKIT_EBADSIZE, what);
        }
        o.flags |= SHMKIT_RAW;
        o.size = (size_t)INT64_MAX + 1;
        snprintf(what, sizeof what, "%s RAW size 2^63: EBADSIZE", kname[k]);
        refused(&o, SHMKIT_EBADSIZE, what);
        o.flags &= ~(unsigned)SHMKIT_RAW;
        /* representable, but more than the machine has */
        o.size = (size_t)1 << 50;
        int want = (k == SHMKIT_POSIX || k == SHMKIT_FILE) ? -ENOSPC : -ENOMEM;
        snprintf(what, sizeof what, "%s size 1 PiB: %s", kname[k], shmkit_errname(want));
        /* a file system may already refuse the length (EFBIG) */
        refused2(&o, want, k == SHMKIT_FILE ? -EFBIG : 0, what);
    }
}

static void test_keys(void)
{
    char path[PATH_MAX];
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .size = 64, .flags = SHMKIT_CREATE};
    refused(&o, SHMKIT_EBADKEY, "SYSV without any key: EBADKEY");
    o.key = 0x1234;
    o.sysv_private = 1;
    refused(&o, SHMKIT_EBADKEY, "SYSV with a key and IPC_PRIVATE: EBADKEY");
    o.sysv_private = 0;
    o.ftok_path = "/";
    o.ftok_proj = 1;
    refused(&o, SHMKIT_EBADKEY, "SYSV with a key and ftok: EBADKEY");
    o.key = 0;
    o.ftok_proj = 0;
    refused(&o, SHMKIT_EBADKEY, "ftok proj 0: EBADKEY");
    o.ftok_proj = 256;
    refused(&o, SHMKIT_EBADKEY, "ftok proj 256: EBADKEY");
    o.ftok_proj = -1;
    refused(&o, SHMKIT_EBADKEY, "ftok proj -1: EBADKEY");
    snprintf(path, sizeof path, "%s/missing", dir);
    o.ftok_path = path;
    o.ftok_proj = 1;
    refused(&o, -ENOENT, "ftok of a missing path: -ENOENT");
    struct shmkit_opts p = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = 64};
    refused(&p, SHMKIT_EBADKEY, "IPC_PRIVATE without CREATE: EBADKEY");
    struct shmkit_opts id = {.kind = SHMKIT_SYSV, .flags = SHMKIT_SHMID, .shmid = -5};
    refused(&id, -EINVAL, "SHMID -5: -EINVAL");
    id.shmid = INT32_MAX;
    refused(&id, -EINVAL, "SHMID of no segment: -EINVAL");
    id.shmid = 0;
    id.key = 99;
    refused(&id, SHMKIT_EBADKEY, "SHMID together with a key: EBADKEY");
    is_rc(shmkit_sysv_remove(-1), -EINVAL, "sysv_remove(-1): -EINVAL");
    is_rc(shmkit_sysv_remove(INT32_MAX), -EINVAL, "sysv_remove of no segment: -EINVAL");
}

static void test_flags(void)
{
    char name[96];
    struct shmkit_opts base = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "flags"),
                               .size = 64, .flags = SHMKIT_CREATE};
    struct shmkit_opts o;
#define TRY(field_changes, what)                                                                   \
    do {                                                                                           \
        o = base;                                                                                  \
        field_changes;                                                                             \
        refused(&o, -EINVAL, what);                                                                \
    } while (0)
    TRY(o.flags = SHMKIT_EXCL, "EXCL without CREATE: -EINVAL");
    TRY(o.flags |= SHMKIT_RDONLY, "CREATE|RDONLY: -EINVAL");
    TRY(o.flags |= SHMKIT_PRIVATE, "PRIVATE on POSIX: -EINVAL");
    TRY(o.flags |= SHMKIT_FOLLOW, "FOLLOW on POSIX: -EINVAL");
    TRY(o.flags |= SHMKIT_SHMID, "SHMID on POSIX: -EINVAL");
    TRY(o.flags |= SHMKIT_RAW; o.layout = SHMKIT_LAYOUT_RING, "RAW with a layout: -EINVAL");
    TRY(o.flags |= SHMKIT_RAW | SHMKIT_VERIFY, "RAW|VERIFY: -EINVAL");
    TRY(o.layout = 99, "unknown layout: -EINVAL");
    TRY(o.flags |= 1u << 20, "unknown flag bit: -EINVAL");
    TRY(o.kind = 0, "kind 0: -EINVAL");
    TRY(o.kind = 99, "kind 99: -EINVAL");
    TRY(o.kind = -1, "kind -1: -EINVAL");
    TRY(o.mode = 04600, "setuid bit in mode: -EINVAL");
    TRY(o.mode = 01000 | 0600, "sticky bit in mode: -EINVAL");
    TRY(o.kind = SHMKIT_SYSV; o.name = NULL; o.sysv_private = 1; o.flags |= SHMKIT_SHMID,
        "SYSV CREATE|SHMID: -EINVAL");
    TRY(o.kind = SHMKIT_ANON; o.flags = 0, "ANON without CREATE: -EINVAL");
    TRY(o.kind = SHMKIT_MEMFD; o.flags = 0; o.fd = -1, "MEMFD without CREATE or fd: -EINVAL");
#undef TRY
}

static void test_null(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = 64, .flags = SHMKIT_CREATE};
    uint64_t v;
    int32_t k;
    is_rc(shmkit_open(NULL, &o), -EINVAL, "open(NULL, opts): -EINVAL");
    is_rc(shmkit_open(&s, NULL), -EINVAL, "open(&s, NULL): -EINVAL");
    is_rc(shmkit_close(NULL), 0, "close(NULL): 0");
    is_rc(shmkit_seg_remove(NULL), -EINVAL, "seg_remove(NULL): -EINVAL");
    ok(shmkit_seg_data(NULL) == NULL && shmkit_seg_size(NULL) == 0 && shmkit_seg_fd(NULL) == -1,
       "data/size/fd of NULL: NULL, 0, -1");
    is_rc(shmkit_seg_stat(NULL, &in), -EINVAL, "stat(NULL): -EINVAL");
    is_rc(shmkit_seg_seal(NULL), -EINVAL, "seal(NULL): -EINVAL");
    is_rc(shmkit_seg_verify(NULL), -EINVAL, "verify(NULL): -EINVAL");
    is_rc(shmkit_seg_layout_param(NULL, 0, &v), -EINVAL, "layout_param(NULL): -EINVAL");
    is_rc(shmkit_seg_set_layout(NULL, 0, NULL), -EINVAL, "set_layout(NULL): -EINVAL");
    is_rc(shmkit_sysv_set(NULL, 0600, (uid_t)-1, (gid_t)-1), -EINVAL, "sysv_set(NULL): -EINVAL");
    is_rc(shmkit_header_check(NULL, 256, 256, NULL), -EINVAL, "header_check(NULL): -EINVAL");
    is_rc(shmkit_parse_size(NULL, &v), -EINVAL, "parse_size(NULL): -EINVAL");
    is_rc(shmkit_parse_size("1", NULL), -EINVAL, "parse_size(s, NULL): -EINVAL");
    is_rc(shmkit_parse_key(NULL, &k), SHMKIT_EBADKEY, "parse_key(NULL): EBADKEY");
    is_rc(shmkit_name_check(NULL), SHMKIT_EBADNAME, "name_check(NULL): EBADNAME");
    is_rc(shmkit_open(&s, &o), 0, "an anonymous segment to misuse");
    if (s) {
        is_rc(shmkit_seg_stat(s, NULL), -EINVAL, "stat(seg, NULL): -EINVAL");
        is_rc(shmkit_seg_layout_param(s, 0, NULL), -EINVAL, "layout_param(seg, 0, NULL): -EINVAL");
        is_rc(shmkit_seg_layout_param(s, 4, &v), -EINVAL, "layout_param index 4: -EINVAL");
        is_rc(shmkit_seg_set_layout(s, 77, NULL), -EINVAL, "set_layout 77: -EINVAL");
        is_rc(shmkit_sysv_set(s, 0600, (uid_t)-1, (gid_t)-1), -EINVAL, "sysv_set on ANON: -EINVAL");
        shmkit_close(s);
    }
}

int main(void)
{
    tu_tmpdir(dir, sizeof dir);
    test_names();
    test_sizes();
    test_keys();
    test_flags();
    test_null();
    tu_tmpdir_rm(dir);
    tu_sysv_cleanup();
    return tap_done();
}
