/* rpc_poll.c - descriptors an event loop can wait on for an RPC server
 * (readable: a request may be pending) and client (readable: the response
 * may be there, or the server died). The server's is its wake socket
 * (wakefd.c); the client's an epoll set holding its wake socket and, while
 * a call is pending, a pidfd of the server - a dead process sends no
 * wake-up, but its pidfd becomes readable. Arming happens inside the try
 * calls (shmkit_rpc_recv, shmkit_rpc_response_wait with timeout 0) that
 * find nothing. */
#include "rpc.h"

#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>

int shmkit_rpc_server_fd(shmkit_rpc_server *s)
{
    if (!s)
        return -EINVAL;
    if (s->wfd < 0) {
        int fd = shmkit__wakefd_open(&s->token);
        if (fd < 0)
            return fd;
        s->wfd = fd;
    }
    return s->wfd;
}

void shmkit__rpc_server_arm(shmkit_rpc_server *s)
{
    struct rpc_ctl *c = s->c;
    shmkit__wakefd_drain(s->wfd);
    shmkit__store_relaxed(&c->srv_token, s->token);
    /* release: the token is seen by the waker that takes the flag */
    shmkit__store_release(&c->srv_parked, SHMKIT__WAKE_FD);
    /* seq_cst fence: pairs with shmkit__wake's, before we poll again */
    shmkit__fence_seq_cst();
}

void shmkit__rpc_server_fd_close(shmkit_rpc_server *s)
{
    if (s->wfd < 0)
        return;
    uint32_t armed = SHMKIT__WAKE_FD;
    /* relaxed: a hint; a waker that still takes it sends into the void */
    shmkit__cas_relaxed(&s->c->srv_parked, &armed, 0);
    close(s->wfd);
    s->wfd = -1;
}

int shmkit_rpc_client_fd(shmkit_rpc_client *cl)
{
    if (!cl)
        return -EINVAL;
    if (cl->efd >= 0)
        return cl->efd;
    int fd = shmkit__wakefd_open(&cl->token);
    if (fd < 0)
        return fd;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        close(ep);
        close(fd);
        return err;
    }
    cl->wfd = fd;
    cl->efd = ep;
    return ep;
}

/* Stops watching the server's pidfd (it died, or another server came). */
void shmkit__rpc_client_unwatch(shmkit_rpc_client *cl)
{
    if (cl->pidfd < 0)
        return;
    epoll_ctl(cl->efd, EPOLL_CTL_DEL, cl->pidfd, NULL);
    close(cl->pidfd);
    cl->pidfd = -1;
    cl->watch_pid = 0;
}

/* Watches the current server's pidfd: readable once it exits. Without
 * pidfd_open (Linux < 5.3) a waiting client learns of a dead server only
 * when its loop calls again. */
static void watch_server(shmkit_rpc_client *cl)
{
    uint64_t w = claim_load(&cl->c->srv_claim);
    int32_t pid = claim_state(w) == CLAIM_ATTACHED ? claim_pid(w) : 0;
    if (pid == cl->watch_pid && (cl->pidfd >= 0 || !pid))
        return;
    shmkit__rpc_client_unwatch(cl);
    if (pid <= 0)
        return;
#ifdef SYS_pidfd_open
    int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pfd < 0)
        return; /* ESRCH: gone already - the try call's own check says so */
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pfd};
    if (epoll_ctl(cl->efd, EPOLL_CTL_ADD, pfd, &ev) < 0) {
        close(pfd);
        return;
    }
    cl->pidfd = pfd;
    cl->watch_pid = pid;
#endif
}

void shmkit__rpc_client_arm(shmkit_rpc_client *cl)
{
    struct rpc_slot *sl = cl->s;
    shmkit__wakefd_drain(cl->wfd);
    watch_server(cl);
    shmkit__store_relaxed(&sl->cli_token, cl->token);
    /* release: the token is seen by the waker that takes the flag */
    shmkit__store_release(&sl->cli_parked, SHMKIT__WAKE_FD);
    /* seq_cst fence: pairs with shmkit__wake's, before we poll again */
    shmkit__fence_seq_cst();
}

void shmkit__rpc_client_fd_close(shmkit_rpc_client *cl)
{
    if (cl->efd < 0)
        return;
    shmkit__rpc_client_unwatch(cl);
    uint32_t armed = SHMKIT__WAKE_FD;
    /* relaxed: a hint, as for the server */
    shmkit__cas_relaxed(&cl->s->cli_parked, &armed, 0);
    close(cl->efd);
    close(cl->wfd);
    cl->efd = cl->wfd = -1;
}
