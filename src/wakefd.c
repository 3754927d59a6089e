/* wakefd.c - wake-ups an event loop can wait for: a receiver's datagram
 * socket in the abstract unix namespace, named by a 64-bit token that the
 * receiver publishes in shared memory next to its sleep flag. Senders
 * share one socket per process (connected to the receiver it woke twice in
 * a row, else unconnected) and send it one byte - only when the flag says
 * a receiver is armed, exactly like a futex wake-up (the
 * flag's protocol is the channels': announce, fence, re-check; see
 * chan_wait.c). Why this mechanism (and not a FIFO, an eventfd passed
 * over a socket, or pidfd_getfd) is written in include/shmkit/rpc.h,
 * POLLABLE WAKE-UPS. */
#include "wakefd.h"

#include "sync_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

/* The abstract address of TOKEN ("\0shmkit-w-<16 hex digits>"). */
static socklen_t token_addr(uint64_t token, struct sockaddr_un *a)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    int n = snprintf(a->sun_path + 1, sizeof a->sun_path - 1, "shmkit-w-%016llx",
                     (unsigned long long)token);
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
}

int shmkit__wakefd_open(uint64_t *token)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* pid in the high half: two live processes never collide; the low
     * half counts this process's sockets */
    static uint32_t counter;
    uint64_t pid = (uint64_t)(uint32_t)getpid();
    for (int tries = 0; tries < 64; tries++) {
        uint64_t t = pid << 32 | shmkit__fetch_add_relaxed(&counter, 1);
        struct sockaddr_un a;
        socklen_t len = token_addr(t, &a);
        if (bind(fd, (struct sockaddr *)&a, len) == 0) {
            *token = t;
            return fd;
        }
        if (errno != EADDRINUSE)
            break;
    }
    int err = errno;
    close(fd);
    return -err;
}

void shmkit__wakefd_drain(int fd)
{
    char buf[64];
    /* bounded: a flood of datagrams from a hostile sender cannot keep us */
    for (int i = 0; i < 64; i++)
        if (recv(fd, buf, sizeof buf, MSG_DONTWAIT) < 0)
            break;
}

/* The process's sending socket: made once, shared by every thread, kept
 * for the life of the process (one descriptor, close-on-exec). A child
 * after fork shares its parent's: it sends on it by name only, and
 * replaces it with its own (same descriptor number, dup3) before it
 * connects one. */
static int send_fd = -1;
static int send_shared;

/* The receiver the socket is connected to (0: none), the one the last
 * wake-up that was not for it went to, and the lock of both. A send() on
 * the connected socket skips the name lookup of a sendto (about 1 us of
 * 2.8-3.2, bench/README.md): a sender that wakes the same
 * receiver twice in a row connects to it. Only the thread holding
 * send_lock uses or changes the connection; a thread that finds it held
 * sends with the address (sendto also works on a connected datagram
 * socket), so a wake-up never waits for a lock. */
static uint64_t conn_token, last_token;
static uint32_t send_lock;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void sender_forget(void)
{
    /* the child is single-threaded right after fork */
    send_shared = 1;
    conn_token = last_token = 0;
    send_lock = 0;
}

static void sender_register(void)
{
    pthread_atfork(NULL, NULL, sender_forget);
}

static int sender_fd(void)
{
    int f = shmkit__load_acquire(&send_fd);
    if (f >= 0)
        return f;
    pthread_once(&fork_once, sender_register);
    f = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (f < 0)
        return -errno;
    int none = -1;
    /* acq_rel: of two threads making one at once, one socket is kept */
    if (!shmkit__cas_acq_rel(&send_fd, &none, f)) {
        close(f);
        return none;
    }
    return f;
}

/* With send_lock held: one datagram to TOKEN through the connection, made
 * when TOKEN was also the last one missed. 1 done (sent, the receiver's
 * queue is full - it is readable already - or nobody is bound to the
 * name), 0 the caller sends with the address. */
static int send_connected(int fd, uint64_t token)
{
    if (token != conn_token) {
        if (token != last_token) {
            last_token = token;
            return 0;
        }
        if (send_shared) {
            /* the parent's socket: connecting it would redirect the
             * parent's sends; ours takes its number, atomically */
            int f = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
            if (f < 0)
                return 0;
            int rc = dup3(f, fd, O_CLOEXEC);
            close(f);
            if (rc < 0)
                return 0;
            send_shared = 0;
        }
        struct sockaddr_un a;
        socklen_t len = token_addr(token, &a);
        if (connect(fd, (struct sockaddr *)&a, len) < 0) {
            conn_token = 0;
            return errno == ECONNREFUSED; /* nobody to wake */
        }
        conn_token = token;
    }
    if (send(fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0 || errno == EAGAIN)
        return 1;
    /* the receiver closed, or a new socket holds its name (a recycled
     * pid): the caller sends by name, and the next wake-up reconnects */
    conn_token = last_token = 0;
    return 0;
}

/* One datagram to the socket named TOKEN; errors mean nobody to wake. */
static void send_wake(uint64_t token)
{
    int fd = sender_fd();
    if (fd < 0)
        return;
    uint32_t free_now = 0;
    /* acquire/release: the connection state goes from holder to holder */
    if (shmkit__cas_acquire(&send_lock, &free_now, 1)) {
        int done = send_connected(fd, token);
        shmkit__store_release(&send_lock, 0);
        if (done)
            return;
    }
    struct sockaddr_un a;
    socklen_t len = token_addr(token, &a);
    /* a full queue (EAGAIN) means the receiver is readable already; a gone
     * receiver (ECONNREFUSED) has nobody to wake */
    sendto(fd, "w", 1, MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&a, len);
}

int shmkit__wake(uint32_t *flag, const uint64_t *token)
{
    /* seq_cst fence: pairs with the sleeper's fence after it armed (the
     * store-buffering pair of chan_wait.c's announce) */
    shmkit__fence_seq_cst();
    if (!shmkit__load_relaxed(flag))
        return 0;
    /* acq_rel exchange: only one waker makes the system call; acquire:
     * the token the receiver stored before arming is seen */
    uint32_t old = shmkit__xchg_acq_rel(flag, 0);
    if (old == SHMKIT__WAKE_FUTEX) {
        shmkit_futex_wake(flag, 1);
        return 1;
    }
    if (old != SHMKIT__WAKE_FD || !token)
        return 0;
    send_wake(shmkit__load_relaxed(token));
    return 1;
}

int shmkit__pollfd_open(struct shmkit__pollfd *p)
{
    if (p->on)
        return p->efd;
    int fd = shmkit__wakefd_open(&p->token);
    if (fd < 0)
        return fd;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = fd};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        int err = -errno;
        if (ep >= 0)
            close(ep);
        close(fd);
        return err;
    }
    p->wfd = fd;
    p->efd = ep;
    p->pidfd = -1;
    p->pid = 0;
    p->on = 1;
    return ep;
}

void shmkit__pollfd_watch(struct shmkit__pollfd *p, int32_t pid)
{
    if (pid == p->pid && (p->pidfd >= 0 || !pid))
        return;
    if (p->pidfd >= 0) {
        epoll_ctl(p->efd, EPOLL_CTL_DEL, p->pidfd, NULL);
        close(p->pidfd);
        p->pidfd = -1;
    }
    p->pid = 0;
    if (pid <= 0)
        return;
#ifdef SYS_pidfd_open
    /* ESRCH: gone already, the try call's own check says so; without
     * pidfd_open (Linux < 5.3) a death is seen at the loop's next call */
    int pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
    if (pfd < 0)
        return;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = pfd};
    if (epoll_ctl(p->efd, EPOLL_CTL_ADD, pfd, &ev) < 0) {
        close(pfd);
        return;
    }
    p->pidfd = pfd;
    p->pid = pid;
#endif
}

void shmkit__pollfd_close(struct shmkit__pollfd *p)
{
    if (!p->on)
        return;
    shmkit__pollfd_watch(p, 0);
    close(p->efd);
    close(p->wfd);
    p->on = 0;
}
