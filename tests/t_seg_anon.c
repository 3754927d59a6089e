/* t_seg_anon.c - anonymous shared segments: shared with a child after fork()
 * in both directions, stat, seal/verify, RAW; remove is a no-op. */
#include "tu_seg.h"

#include <sched.h>
#include <stdatomic.h>
#include <time.h>

static void test_fork_sharing(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = 1 << 16, .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &o), 0, "create anonymous 64 KiB");
    if (!s)
        tap_bail("no anonymous segment");
    is_rc(shmkit_seg_stat(s, &in), 0, "stat");
    is_int(in.kind, SHMKIT_ANON, "stat: kind");
    ok(in.name[0] == '\0', "stat: no name");
    is_int(in.size, (1 << 16) + SHMKIT_HEADER_SIZE, "stat: size");
    is_int(in.payload_size, 1 << 16, "stat: payload size");
    is_int(in.mode, 0600, "stat: mode 0600");
    is_int(in.uid, geteuid(), "stat: uid");
    ok(in.has_header && in.creator_pid == getpid(), "stat: header");
    is_int(shmkit_seg_fd(s), -1, "no descriptor");

    /* the first 8 bytes: a flag each side flips; then a text each side writes */
    _Atomic int *flag = shmkit_seg_data(s);
    char *text = (char *)shmkit_seg_data(s) + 64;
    atomic_store(flag, 0);
    strcpy(text, "from parent");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int good = !strcmp(text, "from parent"); /* written before fork */
        atomic_store(flag, 3);                   /* tell the parent it was read */
        uint64_t end = tu_now_ns() + 5000000000u;
        /* wait for the parent's second message, written after the fork */
        while (atomic_load(flag) != 1 && tu_now_ns() < end)
            sched_yield();
        good = good && !strcmp(text, "after fork");
        strcpy(text, "from child");
        atomic_store(flag, 2); /* release the text to the parent */
        _exit(good ? 0 : 1);
    }
    uint64_t end = tu_now_ns() + 5000000000u;
    while (atomic_load(flag) != 3 && tu_now_ns() < end)
        sched_yield();
    strcpy(text, "after fork");
    atomic_store(flag, 1); /* publishes "after fork" to the child */
    while (atomic_load(flag) != 2 && tu_now_ns() < end)
        sched_yield();
    is_int(tu_wait_exit(pid), 0, "the child saw what the parent wrote before and after fork");
    ok(!strcmp(text, "from child"), "the parent sees what the child wrote");

    is_rc(shmkit_seg_seal(s), 0, "seal");
    is_rc(shmkit_seg_verify(s), 0, "verify: intact");
    text[0] ^= 1;
    is_rc(shmkit_seg_verify(s), SHMKIT_ETAMPERED, "verify after a change: ETAMPERED");
    is_rc(shmkit_seg_remove(s), 0, "remove: nothing to remove, 0");
    is_rc(shmkit_close(s), 0, "close");
}

static void test_raw(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = 12345,
                            .flags = SHMKIT_CREATE | SHMKIT_RAW};
    is_rc(shmkit_open(&s, &o), 0, "RAW anonymous segment");
    is_int(shmkit_seg_size(s), 12345, "RAW: all payload");
    ok(s && shmkit_seg_data(s) != NULL, "RAW: has data");
    shmkit_close(s);
    struct shmkit_opts oo = {.kind = SHMKIT_ANON, .size = 4096};
    is_rc(shmkit_open(&s, &oo), -EINVAL, "anonymous without CREATE: -EINVAL (nothing to open)");
}

int main(void)
{
    test_fork_sharing();
    test_raw();
    return tap_done();
}
