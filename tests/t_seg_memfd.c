/* t_seg_memfd.c - memfd segments: create, stat, pass the descriptor over a
 * unix socket to an exec'd process (which has no other way to reach it),
 * seal against writes while it is mapped there, then check that every way
 * the writer could still write is refused. Also: seal refused (-EBUSY) while
 * someone maps it writable, descriptor ownership, hostile fd messages. */
#include "tu_poll.h" /* tu_nfds */
#include "tu_seg.h"

#include <sys/mman.h>
#include <sys/socket.h>

#define SEALS_WANTED (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)

static int send_byte(int sock, char c)
{
    return write(sock, &c, 1) == 1 ? 0 : -1;
}

static char recv_byte(int sock)
{
    char c = 0;
    return read(sock, &c, 1) == 1 ? c : 0;
}

/* Helper "memfd-recv SOCK MODE": the exec'd receiver. Exit 0 when all its
 * checks pass, else the number of the first one that failed. */
static int memfd_receiver(int sock, int rdonly)
{
    int fd = -1;
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    if (shmkit_fd_recv(sock, &fd) < 0 || fd < 0)
        return 10;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = fd,
                            .flags = rdonly ? SHMKIT_RDONLY : 0};
    if (shmkit_open(&s, &o) < 0)
        return 11;
    const char *d = shmkit_seg_data(s);
    if (strcmp(d, "memfd-token") || shmkit_seg_size(s) != 8192)
        return 12;
    if (send_byte(sock, 'R') < 0) /* mapped and read: the writer may seal now */
        return 13;
    if (recv_byte(sock) != 'S')
        return 14;
    if (shmkit_seg_stat(s, &in) < 0 || (in.seals & SEALS_WANTED) != SEALS_WANTED || !in.sealed)
        return 15;
    if (strcmp(d, "memfd-token") || shmkit_seg_verify(s) != 0)
        return 16;
    /* the receiver cannot write either, whatever it tries */
    int wfd = shmkit_seg_fd(s);
    if (write(wfd, "x", 1) >= 0)
        return 17;
    shmkit_close(s);
    return 0;
}

static void test_pass_and_seal(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    int sv[2];
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .name = "shmkit-test", .size = 8192,
                            .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &o), 0, "create memfd");
    if (!s)
        tap_bail("no memfd");
    is_rc(shmkit_seg_stat(s, &in), 0, "stat");
    is_int(in.kind, SHMKIT_MEMFD, "stat: kind");
    ok(!strcmp(in.name, "shmkit-test"), "stat: debug name");
    is_int(in.size, 8192 + SHMKIT_HEADER_SIZE, "stat: size");
    is_int(in.payload_size, 8192, "stat: payload size");
    is_int(in.mode, 0600, "stat: mode 0600 (memfd_create alone gives 0777)");
    is_int(in.uid, geteuid(), "stat: uid");
    is_int(in.seals, 0, "stat: no seals yet");
    int fd = shmkit_seg_fd(s);
    ok(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC), "descriptor is close-on-exec (not leaked)");
    is_rc(shmkit_seg_remove(s), 0, "remove: a memfd has no name, 0");

    strcpy(shmkit_seg_data(s), "memfd-token");
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        tap_bail("socketpair: %s", strerror(errno));
    fcntl(sv[0], F_SETFD, FD_CLOEXEC);
    char sockarg[16];
    snprintf(sockarg, sizeof sockarg, "%d", sv[1]);
    pid_t pid = tu_spawn_self(NULL, (const char *[]){"memfd-recv", sockarg, "rdonly", NULL});
    close(sv[1]);
    is_rc(shmkit_fd_send(sv[0], s), 0, "send the descriptor to the exec'd process");
    is_int(recv_byte(sv[0]), 'R', "the exec'd process mapped it read-only and read it");

    is_rc(shmkit_seg_seal(s), 0, "seal while the other process has it mapped read-only");
    ok(shmkit_seg_stat(s, &in) == 0 && (in.seals & SEALS_WANTED) == SEALS_WANTED,
       "stat: write, grow and shrink seals set");
    ok(in.sealed && in.generation == 2, "stat: header sealed, generation 2");
    ok(!strcmp(shmkit_seg_data(s), "memfd-token"), "the payload is still readable here");
    is_rc(shmkit_seg_verify(s), 0, "verify: intact");
    fd = shmkit_seg_fd(s);
    errno = 0;
    ok(write(fd, "x", 1) < 0 && errno == EPERM, "the writer's write(2) is refused: EPERM");
    ok(pwrite(fd, "x", 1, 300) < 0 && errno == EPERM, "pwrite(2) too: EPERM");
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ok(m == MAP_FAILED && errno == EPERM, "a new writable shared mapping is refused: EPERM");
    if (m != MAP_FAILED)
        munmap(m, 4096);
    ok(ftruncate(fd, 100) < 0 && errno == EPERM, "shrinking is refused: EPERM");
    ok(ftruncate(fd, 1 << 20) < 0 && errno == EPERM, "growing is refused: EPERM");
    is_int(tu_child_write(shmkit_seg_data(s)), 128 + SIGSEGV,
           "a child writing through the (now read-only) mapping dies with SIGSEGV");
    is_rc(shmkit_seg_seal(s), -EBADF, "sealing again: -EBADF (no longer writable)");

    send_byte(sv[0], 'S');
    is_int(tu_wait_exit(pid), 0, "the exec'd process saw the seals and could not write either");
    close(sv[0]);
    shmkit_close(s);
}

/* Seal first, then hand it to a forked process that asks for a writable
 * mapping: it gets a read-only one. */
static void test_seal_then_send(void)
{
    shmkit_seg *s = NULL;
    int sv[2];
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .size = 100, .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &o), 0, "create a second memfd");
    if (!s)
        return;
    strcpy(shmkit_seg_data(s), "sealed-first");
    is_rc(shmkit_seg_seal(s), 0, "seal before sending");
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = -1, bad = 0;
        shmkit_seg *r = NULL;
        close(sv[0]);
        bad |= shmkit_fd_recv(sv[1], &fd) < 0;
        struct shmkit_opts ro = {.kind = SHMKIT_MEMFD, .fd = fd, .flags = SHMKIT_VERIFY};
        bad |= (shmkit_open(&r, &ro) < 0) << 1;
        if (!bad) {
            bad |= strcmp(shmkit_seg_data(r), "sealed-first") ? 4 : 0;
            bad |= shmkit_seg_seal(r) != -EBADF ? 8 : 0; /* mapped read-only */
            bad |= write(shmkit_seg_fd(r), "x", 1) >= 0 ? 16 : 0;
        }
        shmkit_close(r);
        _exit(bad);
    }
    close(sv[1]);
    is_rc(shmkit_fd_send(sv[0], s), 0, "send the sealed descriptor to a forked process");
    is_int(tu_wait_exit(pid), 0, "it opens it (with VERIFY), reads, and is refused any write");
    close(sv[0]);
    shmkit_close(s);
}

/* A seal is refused while another process maps the memfd writable; the
 * header must not then claim a seal. */
static void test_seal_busy(void)
{
    shmkit_seg *s = NULL;
    int sv[2];
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .size = 4096, .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &o), 0, "create a third memfd");
    if (!s)
        return;
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = -1;
        shmkit_seg *r = NULL;
        close(sv[0]);
        shmkit_fd_recv(sv[1], &fd);
        struct shmkit_opts ro = {.kind = SHMKIT_MEMFD, .fd = fd};
        int rc = shmkit_open(&r, &ro);
        send_byte(sv[1], rc == 0 ? 'W' : 'E');
        recv_byte(sv[1]); /* hold the writable mapping until told */
        shmkit_close(r);
        _exit(0);
    }
    close(sv[1]);
    /* the fork duplicated our own mapping into the child: it counts as a
     * writable mapping too until the child closes or execs */
    shmkit_fd_send(sv[0], s);
    is_int(recv_byte(sv[0]), 'W', "another process maps it writable");
    is_rc(shmkit_seg_seal(s), -EBUSY, "seal refused while mapped writable elsewhere: -EBUSY");
    is_rc(shmkit_seg_verify(s), SHMKIT_ENOTSEALED, "... and the header does not claim a seal");
    ok(shmkit_seg_stat(s, &in) == 0 && in.seals == 0 && in.generation == 1, "... no seals, generation 1");
    ok(tu_child_write((char *)shmkit_seg_data(s) + 10) == 0 && 1, "... and our mapping is still writable");
    strcpy(shmkit_seg_data(s), "still mine");
    send_byte(sv[0], 'Q');
    is_int(tu_wait_exit(pid), 0, "the other process lets go");
    is_rc(shmkit_seg_seal(s), 0, "now the seal succeeds");
    ok(!strcmp(shmkit_seg_data(s), "still mine"), "the payload survived the remap");
    close(sv[0]);
    shmkit_close(s);
}

static void test_hostile_messages(void)
{
    int sv[2], p[2];
    int fd = 123;
    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    if (pipe(p) < 0)
        tap_bail("pipe");
    int before = tu_nfds();

    /* two descriptors in one message */
    char byte = 'S';
    struct iovec iov = {&byte, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(2 * sizeof(int))];
    } ctl;
    memset(&ctl, 0, sizeof ctl);
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(c), p, sizeof p);
    ok(sendmsg(sv[0], &msg, 0) == 1, "a peer sends two descriptors at once");
    is_rc(shmkit_fd_recv(sv[1], &fd), -EBADMSG, "fd_recv: -EBADMSG");
    is_int(fd, -1, "... *fd is -1");
    is_int(tu_nfds(), before, "... and neither descriptor is left open here");

    ok(write(sv[0], "x", 1) == 1, "a peer sends a byte without a descriptor");
    is_rc(shmkit_fd_recv(sv[1], &fd), -EBADMSG, "fd_recv: -EBADMSG");
    close(sv[0]);
    is_rc(shmkit_fd_recv(sv[1], &fd), -ECONNRESET, "peer closed: -ECONNRESET");
    is_rc(shmkit_fd_recv(sv[1], NULL), -EINVAL, "fd_recv(NULL): -EINVAL");
    close(sv[1]);
    close(p[0]);
    close(p[1]);

    shmkit_seg *s = NULL;
    struct shmkit_opts a = {.kind = SHMKIT_ANON, .size = 64, .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &a) == 0) {
        is_rc(shmkit_fd_send(0, s), -EINVAL, "fd_send of an anonymous segment: -EINVAL");
        shmkit_close(s);
    }
    is_rc(shmkit_fd_send(0, NULL), -EINVAL, "fd_send(NULL): -EINVAL");
}

/* shmkit_open owns a descriptor passed in opts.fd, even when it fails. */
static void test_fd_ownership(void)
{
    shmkit_seg *s = NULL;
    int fd = memfd_create("own", MFD_CLOEXEC);
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = fd, .flags = SHMKIT_CREATE, .size = 10};
    is_rc(shmkit_open(&s, &o), -EINVAL, "fd together with CREATE: -EINVAL");
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "... and the descriptor was closed");
    fd = memfd_create("own", MFD_CLOEXEC);
    struct shmkit_opts e = {.kind = SHMKIT_MEMFD, .fd = fd};
    is_rc(shmkit_open(&s, &e), SHMKIT_ETRUNCATED, "an empty memfd: ETRUNCATED");
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "... and the descriptor was closed");
    fd = memfd_create("own", MFD_CLOEXEC);
    if (ftruncate(fd, 4096) < 0)
        tap_bail("ftruncate");
    is_rc(shmkit_open(&s, &e), SHMKIT_ENOTSHMKIT, "a zeroed memfd without header: ENOTSHMKIT");
    fd = memfd_create("own", MFD_CLOEXEC);
    if (ftruncate(fd, 4096) < 0)
        tap_bail("ftruncate");
    struct shmkit_opts r = {.kind = SHMKIT_MEMFD, .fd = fd, .flags = SHMKIT_RAW};
    is_rc(shmkit_open(&s, &r), 0, "... RAW opens it");
    is_int(shmkit_seg_fd(s), fd, "the handle keeps the very descriptor");
    shmkit_close(s);
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "close closes it");
    struct shmkit_opts n = {.kind = SHMKIT_MEMFD, .fd = -1};
    is_rc(shmkit_open(&s, &n), -EINVAL, "MEMFD with neither CREATE nor a descriptor: -EINVAL");
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "memfd-recv"))
        return memfd_receiver(tu_atoi(argv[2]), !strcmp(argv[3], "rdonly"));
    int h = tu_helper(argc, argv);
    if (h >= 0)
        return h;
    test_pass_and_seal();
    test_seal_then_send();
    test_seal_busy();
    test_hostile_messages();
    test_fd_ownership();
    return tap_done();
}
