/* t_hostile_lib_seal.c - a channel or table in a memfd cannot be truncated
 * under its users (who would die of SIGBUS).
 * The library seals every MEMFD ring, bus and table it makes against
 * shrinking (F_SEAL_SHRINK): ftruncate to 0 then fails with EPERM, and a
 * consumer blocked in shmkit_ring_recv lives on while another process
 * tries. A plain bytes memfd is not sealed (unchanged). A memfd received
 * that holds a ring but is not sealed against shrinking (a hostile or an
 * old sender) is refused with SHMKIT_ENOTSEALED, both at shmkit_open and
 * when a ring is attached to a bytes memfd that became a ring later,
 * unless the receiver passes SHMKIT_ALLOW_UNSEALED; shmkit_ring_create on
 * a received bytes memfd adds the seal itself, and where it cannot (a
 * memfd made without MFD_ALLOW_SEALING) says SHMKIT_ENOTSEALED. */
#include "tu_seg.h"

#include <sys/mman.h>
#include <time.h>

static unsigned seals(int fd)
{
    int s = fcntl(fd, F_GET_SEALS);
    return s < 0 ? 0 : (unsigned)s;
}

static shmkit_seg *memfd_seg(size_t size, uint32_t layout)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD,
                            .name = "t-seal",
                            .size = size,
                            .flags = SHMKIT_CREATE,
                            .layout = layout};
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        tap_bail("memfd create: %s", shmkit_strerror(rc));
    return s;
}

/* Another process tries to truncate FD to 0: its errno, 0 if it could. */
static int truncate_elsewhere(int fd)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0)
        _exit(ftruncate(fd, 0) < 0 ? errno : 0);
    int st;
    if (p < 0 || tu_wait(p, 5000, &st) < 0 || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void test_made_here(void)
{
    size_t rsize = shmkit_ring_size_for(4096);
    shmkit_seg *s = memfd_seg(rsize, 0);
    ok(!(seals(shmkit_seg_fd(s)) & F_SEAL_SHRINK), "a bytes memfd is not sealed (as before)");
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_create(&r, s, 4096, SHMKIT_RING_CONSUMER), 0, "ring created in it");
    int fd = shmkit_seg_fd(s);
    ok(seals(fd) & F_SEAL_SHRINK, "... now it has F_SEAL_SHRINK");
    ok(!(seals(fd) & (F_SEAL_WRITE | F_SEAL_SEAL)), "... and nothing more (still writable)");
    is_int(truncate_elsewhere(fd), EPERM, "ftruncate to 0 from another process: EPERM");

    /* a consumer blocked in recv while another process tries to truncate */
    fflush(stdout);
    pid_t c = fork();
    if (c == 0) {
        char buf[64];
        int n = shmkit_ring_recv(r, buf, sizeof buf, 3000000000LL);
        _exit(n == 5 && !memcmp(buf, "hello", 5) ? 0 : 1);
    }
    struct timespec ts = {0, 100000000};
    nanosleep(&ts, NULL);
    truncate_elsewhere(fd);
    shmkit_ring *p = NULL;
    int rc = shmkit_ring_attach(&p, s, SHMKIT_RING_PRODUCER);
    if (rc == 0)
        rc = shmkit_ring_send(p, "hello", 5, 1000000000LL);
    int st = tu_wait_exit(c);
    ok(rc == 0 && st == 0, "a blocked consumer survives the attempt and gets the message (%d, %d)",
       rc, st);
    shmkit_ring_close(p);
    shmkit_ring_close(r);
    shmkit_close(s);

    s = memfd_seg(shmkit_bus_size_for(16, 64, 4), 0);
    shmkit_bus *b = NULL;
    is_rc(shmkit_bus_create(&b, s, 16, 64, 4, 0), 0, "bus created in a memfd");
    ok(seals(shmkit_seg_fd(s)) & F_SEAL_SHRINK, "... sealed against shrinking");
    is_int(truncate_elsewhere(shmkit_seg_fd(s)), EPERM, "... ftruncate: EPERM");
    shmkit_bus_close(b);
    shmkit_close(s);

    s = memfd_seg(rsize, SHMKIT_LAYOUT_RING);
    ok(seals(shmkit_seg_fd(s)) & F_SEAL_SHRINK, "memfd created with layout ring: sealed at once");
    shmkit_close(s);

    shmkit_table *t = NULL;
    struct shmkit_opts to = {.kind = SHMKIT_MEMFD, .name = "t-seal-table"};
    is_rc(shmkit_table_create(&t, &to, 32, 8, 0), 0, "table created in a memfd");
    int tfd = shmkit_seg_fd(shmkit_table_seg(t));
    ok(seals(tfd) & F_SEAL_SHRINK, "... sealed against shrinking");
    is_int(truncate_elsewhere(tfd), EPERM, "... ftruncate: EPERM");
    shmkit_table_close(t);
}

/* A memfd as an old or hostile sender makes it: CREATE_FLAGS for
 * memfd_create, holding a copy of a ring a library memfd made (RAW read). */
static int unsealed_ring(unsigned create_flags)
{
    size_t rsize = shmkit_ring_size_for(4096);
    shmkit_seg *s = memfd_seg(rsize, 0);
    shmkit_ring *r = NULL;
    if (shmkit_ring_create(&r, s, 4096, SHMKIT_RING_PRODUCER) < 0)
        tap_bail("ring create");
    shmkit_ring_close(r);
    size_t total = rsize + SHMKIT_HEADER_SIZE;
    int fd = memfd_create("t-unsealed", MFD_CLOEXEC | create_flags);
    if (fd < 0 || ftruncate(fd, (off_t)total) < 0)
        tap_bail("memfd_create");
    ssize_t n = pwrite(fd, (char *)shmkit_seg_data(s) - SHMKIT_HEADER_SIZE, total, 0);
    if (n != (ssize_t)total)
        tap_bail("copy");
    shmkit_close(s);
    return fd;
}

static void test_received(void)
{
    int fd = unsealed_ring(MFD_ALLOW_SEALING);
    ok(!(seals(fd) & F_SEAL_SHRINK), "a received memfd holding a ring, not sealed");
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = dup(fd)};
    is_rc(shmkit_open(&s, &o), SHMKIT_ENOTSEALED, "shmkit_open: SHMKIT_ENOTSEALED");
    o.fd = dup(fd);
    o.flags = SHMKIT_RDONLY;
    is_rc(shmkit_open(&s, &o), SHMKIT_ENOTSEALED, "... also read-only");
    o.fd = dup(fd);
    o.flags = SHMKIT_ALLOW_UNSEALED;
    is_rc(shmkit_open(&s, &o), 0, "with SHMKIT_ALLOW_UNSEALED: opened (the caller's choice)");
    shmkit_ring *r = NULL;
    is_rc(shmkit_ring_attach(&r, s, SHMKIT_RING_CONSUMER), 0, "... and the ring attaches");
    ok(!(seals(fd) & F_SEAL_SHRINK), "... still unsealed: the receiver does not seal it");
    shmkit_ring_close(r);
    shmkit_close(s);
    o.fd = dup(fd);
    o.flags = SHMKIT_RAW;
    is_rc(shmkit_open(&s, &o), 0, "RAW (no layout looked at): opened");
    shmkit_close(s);
    close(fd);

    /* without MFD_ALLOW_SEALING no seal can ever be added */
    fd = unsealed_ring(0);
    o.fd = dup(fd);
    o.flags = 0;
    is_rc(shmkit_open(&s, &o), SHMKIT_ENOTSEALED,
          "a ring memfd made without MFD_ALLOW_SEALING: SHMKIT_ENOTSEALED");
    close(fd);

    /* a bytes memfd received, which later becomes a ring */
    size_t rsize = shmkit_ring_size_for(4096);
    shmkit_seg *snd = memfd_seg(rsize, 0);
    o.fd = dup(shmkit_seg_fd(snd));
    o.flags = 0;
    is_rc(shmkit_open(&s, &o), 0, "a received bytes memfd opens");
    is_rc(shmkit_ring_create(&r, s, 4096, SHMKIT_RING_CONSUMER), 0,
          "... shmkit_ring_create on it seals it itself");
    ok(seals(shmkit_seg_fd(snd)) & F_SEAL_SHRINK, "... (the sender sees F_SEAL_SHRINK)");
    shmkit_ring_close(r);
    shmkit_close(s);
    shmkit_close(snd);

    /* the sender turns an unsealable bytes memfd into a ring after sending it */
    fd = memfd_create("t-late", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)(rsize + SHMKIT_HEADER_SIZE)) < 0)
        tap_bail("memfd_create");
    struct shmkit_opts ro = {.kind = SHMKIT_MEMFD, .fd = dup(fd), .flags = SHMKIT_RAW};
    shmkit_seg *raw = NULL;
    if (shmkit_open(&raw, &ro) < 0)
        tap_bail("raw open");
    shmkit_seg *bytes = memfd_seg(rsize, 0);
    memcpy(shmkit_seg_data(raw), (char *)shmkit_seg_data(bytes) - SHMKIT_HEADER_SIZE,
           SHMKIT_HEADER_SIZE); /* a valid bytes header */
    shmkit_close(bytes);
    o.fd = dup(fd);
    is_rc(shmkit_open(&s, &o), 0, "an unsealable bytes memfd opens (bytes need no seal)");
    is_rc(shmkit_ring_create(&r, s, 4096, SHMKIT_RING_PRODUCER), SHMKIT_ENOTSEALED,
          "... a ring cannot be made in it: SHMKIT_ENOTSEALED");
    shmkit_close(s);
    /* the sender writes a ring into it (with ALLOW_UNSEALED), the receiver
     * opened it as bytes before: attaching a ring now is refused */
    o.fd = dup(fd);
    is_rc(shmkit_open(&s, &o), 0, "the receiver opens it while it holds bytes");
    shmkit_seg *w = NULL;
    struct shmkit_opts wo = {.kind = SHMKIT_MEMFD, .fd = dup(fd), .flags = SHMKIT_ALLOW_UNSEALED};
    if (shmkit_open(&w, &wo) < 0)
        tap_bail("sender open");
    shmkit_ring *wr = NULL;
    is_rc(shmkit_ring_create(&wr, w, 4096, SHMKIT_RING_PRODUCER), 0,
          "the sender makes a ring in it (ALLOW_UNSEALED)");
    uint64_t v = 0;
    is_rc(shmkit_seg_layout_param(s, 0, &v), SHMKIT_ENOTSEALED,
          "... the receiver's handle then reads no layout: SHMKIT_ENOTSEALED");
    is_rc(shmkit_ring_attach(&r, s, SHMKIT_RING_CONSUMER), SHMKIT_ENOTSEALED,
          "... its ring attach is refused: SHMKIT_ENOTSEALED");
    shmkit_ring_close(wr);
    shmkit_close(w);
    shmkit_close(s);
    shmkit_close(raw);
    close(fd);

    o.kind = SHMKIT_POSIX;
    o.name = "/x";
    o.fd = 0;
    o.flags = SHMKIT_ALLOW_UNSEALED;
    is_rc(shmkit_open(&s, &o), -EINVAL, "SHMKIT_ALLOW_UNSEALED on another kind: EINVAL");
}

int main(void)
{
    int probe = memfd_create("probe", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (probe < 0)
        tap_skip_all("no memfd_create here");
    close(probe);
    test_made_here();
    test_received();
    return tap_done();
}
