/* error.c - shmkit_strerror / shmkit_errname, generated from the one list in shmkit.h. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

const char *shmkit_version(void)
{
    return SHMKIT_VERSION_STRING;
}

/* The symbolic name of errno value E, or NULL. glibc 2.32+ names every
 * errno (strerrorname_np); elsewhere a table covers at least every code
 * shmkit itself returns (aliases such as ENOTSUP after their twin). */
#if defined(__GLIBC__) && defined(__GLIBC_PREREQ)
#if __GLIBC_PREREQ(2, 32)
#define SHMKIT__HAVE_ERRNAME 1
#endif
#endif

#ifdef SHMKIT__HAVE_ERRNAME
static const char *errno_name(int e)
{
    return strerrorname_np(e);
}
#else
#define SHMKIT__ERRNO_NAMES(X)                                                                     \
    X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(ENOEXEC) X(EBADF) X(ECHILD)    \
    X(EAGAIN) X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV) X(ENOTDIR)       \
    X(EISDIR) X(EINVAL) X(ENFILE) X(EMFILE) X(ENOTTY) X(ETXTBSY) X(EFBIG) X(ENOSPC) X(ESPIPE)      \
    X(EROFS) X(EMLINK) X(EPIPE) X(EDOM) X(ERANGE) X(EDEADLK) X(ENAMETOOLONG) X(ENOLCK) X(ENOSYS)   \
    X(ENOTEMPTY) X(ELOOP) X(ENOMSG) X(EIDRM) X(ENODATA) X(ETIME) X(ENOLINK) X(EPROTO)             \
    X(EBADMSG) X(EOVERFLOW) X(EILSEQ) X(EUSERS) X(ENOTSOCK) X(EMSGSIZE) X(EOPNOTSUPP)            \
    X(ENOTSUP) X(EADDRINUSE) X(ECONNRESET) X(ENOBUFS) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED)   \
    X(EALREADY) X(EINPROGRESS) X(ESTALE) X(EDQUOT) X(ECANCELED) X(EOWNERDEAD)                   \
    X(ENOTRECOVERABLE)

static const struct {
    int e;
    const char *name;
} errno_names[] = {
#define SHMKIT__EROW(e) {e, #e},
    SHMKIT__ERRNO_NAMES(SHMKIT__EROW)
#undef SHMKIT__EROW
};

static const char *errno_name(int e)
{
    for (size_t i = 0; i < sizeof errno_names / sizeof errno_names[0]; i++)
        if (errno_names[i].e == e)
            return errno_names[i].name;
    return NULL;
}
#endif

const char *shmkit_errname(int code)
{
    if (code > 0)
        code = -code;
    if (code == INT_MIN)
        return "UNKNOWN"; /* cannot be negated */
    switch (code) {
    case 0:
        return "OK";
#define SHMKIT__NAME(name, n, msg)                                                                 \
    case SHMKIT_E##name:                                                                           \
        return "SHMKIT_E" #name;
        SHMKIT_ERRORS(SHMKIT__NAME)
#undef SHMKIT__NAME
    default:
        break;
    }
    if (code <= -SHMKIT_ERRNO_BASE)
        return "UNKNOWN";
    const char *n = errno_name(-code);
    return n ? n : "UNKNOWN";
}

const char *shmkit_strerror(int code)
{
    if (code > 0)
        code = -code;
    switch (code) {
    case 0:
        return "success";
#define SHMKIT__MSG(name, n, msg)                                                                  \
    case SHMKIT_E##name:                                                                           \
        return msg;
        SHMKIT_ERRORS(SHMKIT__MSG)
#undef SHMKIT__MSG
    default:
        break;
    }
    if (code <= -SHMKIT_ERRNO_BASE)
        return "unknown shmkit error";
    /* glibc's strerror returns static strings for known codes */
    return strerror(-code);
}
