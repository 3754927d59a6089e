/* error.c - shmkit_strerror / shmkit_errname, generated from the one list in shmkit.h. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

const char *shmkit_version(void)
{
    return SHMKIT_VERSION_STRING;
}

/* errno names we may return; anything else is reported as "E<number>"-less "UNKNOWN". */
#define SHMKIT__ERRNO_NAMES(X)                                                                     \
    X(EPERM) X(ENOENT) X(ESRCH) X(EINTR) X(EIO) X(ENXIO) X(E2BIG) X(EBADF) X(ECHILD) X(EAGAIN)     \
    X(ENOMEM) X(EACCES) X(EFAULT) X(EBUSY) X(EEXIST) X(EXDEV) X(ENODEV) X(ENOTDIR) X(EISDIR)       \
    X(EINVAL) X(ENFILE) X(EMFILE) X(EFBIG) X(ENOSPC) X(ESPIPE) X(EROFS) X(EPIPE) X(EDOM)          \
    X(ERANGE) X(EDEADLK) X(ENAMETOOLONG) X(ENOSYS) X(ELOOP) X(ENOTEMPTY) X(EIDRM) X(ENODATA)      \
    X(ETIME) X(EOVERFLOW) X(EBADMSG) X(ENOTSOCK) X(EMSGSIZE) X(EOPNOTSUPP) X(ECONNRESET)          \
    X(ENOBUFS) X(ENOTCONN) X(ETIMEDOUT) X(ECONNREFUSED) X(EOWNERDEAD) X(ENOTRECOVERABLE)          \
    X(ECANCELED) X(EDQUOT)

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
    switch (-code) {
#define SHMKIT__ENAME(e)                                                                           \
    case e:                                                                                        \
        return #e;
        SHMKIT__ERRNO_NAMES(SHMKIT__ENAME)
#undef SHMKIT__ENAME
    default:
        return "UNKNOWN";
    }
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
