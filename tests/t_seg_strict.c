/* t_seg_strict.c - SHMKIT_REQUIRE_SEAL: open refuses a segment whose writer
 * never sealed it (SHMKIT_ENOTSEALED), where plain VERIFY succeeds
 * silently; a sealed intact segment opens; a tampered one gives
 * SHMKIT_ETAMPERED. POSIX, and MEMFD (whose kernel seals forbid tampering
 * after shmkit_seg_seal: the tampered case is a sealed image copied into a
 * plain memfd and changed there). RAW with it is -EINVAL. */
#include "tu_seg.h"

#include <sys/mman.h>

static void test_posix(void)
{
    char name[96];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(name, sizeof name, "strict"),
                            .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create");
    strcpy(shmkit_seg_data(s), "payload");
    struct shmkit_opts ov = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_VERIFY};
    struct shmkit_opts orq = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_REQUIRE_SEAL};
    is_rc(shmkit_open(&t, &ov), 0, "POSIX unsealed: VERIFY alone succeeds");
    shmkit_close(t);
    t = NULL;
    is_rc(shmkit_open(&t, &orq), SHMKIT_ENOTSEALED,
          "POSIX unsealed: REQUIRE_SEAL gives ENOTSEALED");
    ok(t == NULL && tu_shm_exists(name), "... no handle, segment left alone");
    struct shmkit_opts oc = orq;
    oc.flags |= SHMKIT_CREATE;
    oc.size = 4096;
    is_rc(shmkit_open(&t, &oc), SHMKIT_ENOTSEALED,
          "POSIX unsealed: CREATE|REQUIRE_SEAL attaching too");
    ok(tu_shm_exists(name), "... and the existing segment is not removed");
    is_rc(shmkit_seg_seal(s), 0, "seal");
    is_rc(shmkit_open(&t, &orq), 0, "POSIX sealed intact: REQUIRE_SEAL opens");
    shmkit_close(t);
    t = NULL;
    ((char *)shmkit_seg_data(s))[100] ^= 1;
    is_rc(shmkit_open(&t, &orq), SHMKIT_ETAMPERED, "POSIX tampered: ETAMPERED");
    orq.flags |= SHMKIT_RAW;
    is_rc(shmkit_open(&t, &orq), -EINVAL, "REQUIRE_SEAL with RAW: -EINVAL");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

/* Opens the memfd FD (a dup of it; shmkit_open takes it) with FLAGS. */
static int open_fd(int fd, unsigned flags)
{
    shmkit_seg *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = dup(fd), .flags = flags};
    int rc = shmkit_open(&t, &o);
    shmkit_close(t);
    return rc;
}

static void test_memfd(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {
        .kind = SHMKIT_MEMFD, .name = "strict", .size = 4096, .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&s, &o);
    if (rc == -ENOSYS) {
        tap_diag("no memfd: MEMFD cases not run");
        return;
    }
    if (rc < 0)
        tap_bail("cannot create memfd: %s", shmkit_strerror(rc));
    strcpy(shmkit_seg_data(s), "memfd payload");
    int fd = shmkit_seg_fd(s);
    is_rc(open_fd(fd, SHMKIT_VERIFY), 0, "MEMFD unsealed: VERIFY alone succeeds");
    is_rc(open_fd(fd, SHMKIT_REQUIRE_SEAL), SHMKIT_ENOTSEALED,
          "MEMFD unsealed: REQUIRE_SEAL gives ENOTSEALED");
    is_rc(shmkit_seg_seal(s), 0, "seal (kernel seals too)");
    is_rc(open_fd(fd, SHMKIT_REQUIRE_SEAL), 0, "MEMFD sealed intact: REQUIRE_SEAL opens");

    /* the sealed image, copied into a plain memfd and changed there */
    char img[SHMKIT_HEADER_SIZE + 4096];
    ok(pread(fd, img, sizeof img, 0) == (ssize_t)sizeof img, "read the sealed image");
    img[SHMKIT_HEADER_SIZE + 200] ^= 1;
    int fd2 = memfd_create("strict-copy", MFD_CLOEXEC);
    if (fd2 < 0 || write(fd2, img, sizeof img) != (ssize_t)sizeof img)
        tap_bail("memfd copy: %s", strerror(errno));
    is_rc(open_fd(fd2, SHMKIT_REQUIRE_SEAL), SHMKIT_ETAMPERED, "MEMFD tampered: ETAMPERED");
    img[SHMKIT_HEADER_SIZE + 200] ^= 1;
    ok(pwrite(fd2, img, sizeof img, 0) == (ssize_t)sizeof img, "restore the copy");
    is_rc(open_fd(fd2, SHMKIT_REQUIRE_SEAL), 0, "... the intact copy opens");
    close(fd2);
    shmkit_close(s);
}

int main(void)
{
    test_posix();
    test_memfd();
    return tap_done();
}
