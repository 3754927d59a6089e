/* fdpass.c - hand a segment's descriptor to an unrelated process over a unix socket. */
#include "segment.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* A message of one data byte (SCM_RIGHTS needs at least one to travel
 * with) and the control buffer CTL of LEN bytes, zeroed, for descriptors. */
static struct msghdr fd_msg(struct iovec *iov, char *byte, void *ctl, size_t len)
{
    *iov = (struct iovec){byte, 1};
    memset(ctl, 0, len);
    struct msghdr msg = {0};
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = len;
    return msg;
}

int shmkit_fd_send(int sock, const shmkit_seg *seg)
{
    if (!seg || seg->fd < 0)
        return -EINVAL;
    char byte = 'S';
    struct iovec iov;
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr msg = fd_msg(&iov, &byte, ctl.buf, sizeof ctl.buf);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &seg->fd, sizeof(int));
    ssize_t n;
    do
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : 0;
}

int shmkit_fd_recv(int sock, int *fd)
{
    if (!fd)
        return -EINVAL;
    *fd = -1;
    char byte;
    struct iovec iov;
    /* room for a few descriptors: a peer that sends more than one must not
     * leave the extra ones open in this process (they are closed below) */
    union {
        struct cmsghdr hdr;
        char buf[CMSG_SPACE(8 * sizeof(int))];
    } ctl;
    struct msghdr msg = fd_msg(&iov, &byte, ctl.buf, sizeof ctl.buf);
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    int got = -1, count = 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len < CMSG_LEN(0))
            continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int one;
            memcpy(&one, CMSG_DATA(c) + i * sizeof(int), sizeof one);
            if (count++ == 0)
                got = one;
            else
                close(one);
        }
    }
    if (count == 1 && !(msg.msg_flags & MSG_CTRUNC)) {
        *fd = got;
        return 0;
    }
    if (got >= 0)
        close(got); /* several descriptors or a truncated message: trust none */
    return n == 0 && count == 0 ? -ECONNRESET : -EBADMSG;
}
