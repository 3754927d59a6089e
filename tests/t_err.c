/* t_err.c - the error model: every SHMKIT_E* code is in the reserved range,
 * distinct, with a distinct non-empty message and the name "SHMKIT_E...";
 * -errno codes map to strerror() and their symbolic names; odd values
 * (0, positive, unknown, INT_MIN) are handled. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <limits.h>

static const struct {
    int code;
    const char *name;
} own[] = {
#define ROW(name, n, msg) {SHMKIT_E##name, "SHMKIT_E" #name},
    SHMKIT_ERRORS(ROW)
#undef ROW
};
#define NOWN (sizeof own / sizeof own[0])

static void test_own(void)
{
    int bad_range = 0, bad_name = 0, bad_msg = 0, dup_code = 0, dup_msg = 0;
    for (size_t i = 0; i < NOWN; i++) {
        int c = own[i].code;
        const char *m = shmkit_strerror(c);
        if (c > -SHMKIT_ERRNO_BASE || c < -SHMKIT_ERRNO_BASE - 999)
            bad_range++;
        if (strcmp(shmkit_errname(c), own[i].name))
            bad_name++, tap_diag("%d: name %s, want %s", c, shmkit_errname(c), own[i].name);
        if (!m || !*m || !strcmp(m, "unknown shmkit error"))
            bad_msg++, tap_diag("%s: no message", own[i].name);
        if (strcmp(shmkit_strerror(-c), m) || strcmp(shmkit_errname(-c), own[i].name))
            bad_msg++, tap_diag("%s: positive form differs", own[i].name);
        for (size_t j = 0; j < i; j++) {
            dup_code += own[j].code == c;
            dup_msg += !strcmp(shmkit_strerror(own[j].code), m);
        }
    }
    ok(NOWN >= 8, "%zu shmkit codes", NOWN);
    is_int(bad_range, 0, "all in the reserved range below -SHMKIT_ERRNO_BASE");
    is_int(dup_code, 0, "all distinct");
    is_int(bad_name, 0, "errname gives \"SHMKIT_E<NAME>\" for each");
    is_int(bad_msg, 0, "strerror gives a real message for each, also for the positive value");
    is_int(dup_msg, 0, "no two share a message");
    /* the codes the issue asks for by meaning */
    int need[] = {SHMKIT_ENOTSHMKIT, SHMKIT_EVERSION,  SHMKIT_EBADHEADER, SHMKIT_ETAMPERED,
                  SHMKIT_ETRUNCATED, SHMKIT_EBADNAME,  SHMKIT_EBADKEY,    SHMKIT_EPEERDEAD,
                  SHMKIT_EOWNERDEAD};
    int seen = 0;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        for (size_t j = 0; j < NOWN; j++)
            seen += own[j].code == need[i];
    is_int(seen, (int)(sizeof need / sizeof need[0]),
           "not shmkit, version, header, tampered, truncated, name, key, peer dead, owner died");
    ok(strstr(shmkit_strerror(SHMKIT_ETAMPERED), "checksum") != NULL, "ETAMPERED mentions the checksum");
}

static void test_errno(void)
{
    static const struct {
        int e;
        const char *name;
    } t[] = {{EPERM, "EPERM"},   {ENOENT, "ENOENT"},   {EACCES, "EACCES"}, {EEXIST, "EEXIST"},
             {EINVAL, "EINVAL"}, {ENOSPC, "ENOSPC"},   {ENOMEM, "ENOMEM"}, {ELOOP, "ELOOP"},
             {EBUSY, "EBUSY"},   {EBADF, "EBADF"},     {ENOSYS, "ENOSYS"}, {EIDRM, "EIDRM"},
             {ERANGE, "ERANGE"}, {EBADMSG, "EBADMSG"}, {ECONNRESET, "ECONNRESET"},
             {EFBIG, "EFBIG"},   {EISDIR, "EISDIR"},   {ENAMETOOLONG, "ENAMETOOLONG"},
             {ETIMEDOUT, "ETIMEDOUT"}, {EOWNERDEAD, "EOWNERDEAD"}, {EAGAIN, "EAGAIN"},
             {EINTR, "EINTR"}};
    int bad = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (strcmp(shmkit_errname(-t[i].e), t[i].name) || strcmp(shmkit_errname(t[i].e), t[i].name)) {
            bad++;
            tap_diag("errname(-%s) = %s", t[i].name, shmkit_errname(-t[i].e));
        }
    }
    is_int(bad, 0, "errname of %zu errno codes, negative and positive", sizeof t / sizeof t[0]);
    bad = 0;
    for (int e = 1; e < 134; e++) {
        char want[256];
        snprintf(want, sizeof want, "%s", strerror(e));
        const char *m = shmkit_strerror(-e);
        if (!m || strcmp(m, want) || strcmp(shmkit_strerror(e), want))
            bad++, tap_diag("strerror(-%d) = %s, want %s", e, m ? m : "(null)", want);
    }
    is_int(bad, 0, "strerror(-e) is the C library's message for every errno 1..133");
}

/* Every errno has its name, not "UNKNOWN" (the bus returns -EUSERS, -ENOLINK
 * and -ESTALE, which once had none). */
static void test_errno_names(void)
{
    ok(!strcmp(shmkit_errname(-EUSERS), "EUSERS"), "errname(-EUSERS) = %s", shmkit_errname(-EUSERS));
    ok(!strcmp(shmkit_errname(-ENOLINK), "ENOLINK"), "errname(-ENOLINK) = %s",
       shmkit_errname(-ENOLINK));
    ok(!strcmp(shmkit_errname(-ESTALE), "ESTALE"), "errname(-ESTALE) = %s", shmkit_errname(-ESTALE));
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
    int bad = 0, named = 0;
    for (int e = 1; e < 134; e++) {
        const char *want = strerrorname_np(e); /* NULL: no errno has this number */
        const char *got = shmkit_errname(-e);
        named += want != NULL;
        if (want ? strcmp(got, want) || strcmp(shmkit_errname(e), want) : strcmp(got, "UNKNOWN"))
            bad++, tap_diag("errname(-%d) = %s, want %s", e, got, want ? want : "UNKNOWN");
    }
    ok(named >= 130, "the C library names %d of the errno values 1..133", named);
    is_int(bad, 0, "errname(-e) is strerrorname_np(e) for every errno 1..133");
#else
    ok(1, "# SKIP strerrorname_np needs glibc 2.32");
#endif
#else
    ok(1, "# SKIP strerrorname_np needs glibc 2.32");
#endif
}

static void test_odd(void)
{
    ok(!strcmp(shmkit_strerror(0), "success") && !strcmp(shmkit_errname(0), "OK"), "0: success, OK");
    int unknown = -SHMKIT_ERRNO_BASE - 999;
    ok(!strcmp(shmkit_strerror(unknown), "unknown shmkit error"), "an unlisted shmkit code: unknown");
    ok(!strcmp(shmkit_errname(unknown), "UNKNOWN"), "... named UNKNOWN");
    ok(!strcmp(shmkit_errname(-4000), "UNKNOWN"), "an errno no system has: UNKNOWN");
    ok(shmkit_strerror(-4000) && *shmkit_strerror(-4000), "... still some message");
    ok(shmkit_strerror(INT_MIN) && !strcmp(shmkit_errname(INT_MIN), "UNKNOWN"), "INT_MIN is safe");
    ok(shmkit_strerror(INT_MAX) && !strcmp(shmkit_errname(INT_MAX), "UNKNOWN"), "INT_MAX is safe");
    ok(!strcmp(shmkit_version(), SHMKIT_VERSION_STRING), "shmkit_version() = %s", shmkit_version());
}

int main(void)
{
    test_own();
    test_errno();
    test_errno_names();
    test_odd();
    return tap_done();
}
