/*
 * t_seg_lease - opening a segment while `shmkit gc` holds a write lease on
 * it. gc takes one for a few system calls to ask the kernel whether anyone
 * has the segment open or mapped; the library opens existing objects with
 * O_NONBLOCK (a FIFO must not hang it), which a lease turns into
 * EWOULDBLOCK. A short lease is waited out (POSIX, FILE, flock); one that
 * is never released gives -EAGAIN after a bounded wait, never a hang.
 */
#include <shmkit.h>

#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that holds a write lease on PATH for HOLD_MS (or until killed),
 * the way gc does. Returns its pid once the lease is held, -1 if it could
 * not be taken. */
static pid_t lease_holder(const char *path, int hold_ms)
{
    int ready[2];
    if (pipe(ready) < 0)
        tap_bail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        close(ready[0]);
        signal(SIGIO, SIG_IGN); /* the break notice: gc ignores it too */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fcntl(fd, F_SETLEASE, F_WRLCK) < 0)
            _exit(1);
        (void)!write(ready[1], "r", 1);
        usleep((useconds_t)hold_ms * 1000);
        fcntl(fd, F_SETLEASE, F_UNLCK);
        _exit(0);
    }
    close(ready[1]);
    if (!tu_ready(ready[0], 5000)) {
        int st;
        tu_wait(pid, 1000, &st);
        return -1;
    }
    return pid;
}

static void reap(pid_t pid)
{
    int st;
    kill(pid, SIGKILL);
    tu_wait(pid, 5000, &st);
}

int main(void)
{
    char name[64], path[128], file[128];
    tu_name(name, sizeof name, "lease");
    snprintf(path, sizeof path, "/dev/shm%s", name);
    snprintf(file, sizeof file, "/tmp/shmkit-t-lease-%d", (int)getpid());

    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = 4096, .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create %s", name);
    shmkit_close(s);
    struct shmkit_opts fo = {.kind = SHMKIT_FILE, .name = file, .size = 4096, .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &fo) < 0)
        tap_bail("create %s", file);
    shmkit_close(s);

    pid_t h = lease_holder(path, 30);
    if (h < 0) {
        shmkit_posix_remove(name);
        unlink(file);
        tap_skip_all("no write lease here (leases disabled, or not the owner)");
    }
    tap_plan(7);
    o.flags = SHMKIT_RDONLY;
    is_rc(shmkit_open(&s, &o), 0, "POSIX read-only open under a 30 ms lease: waited out");
    shmkit_close(s);
    reap(h);

    h = lease_holder(path, 30);
    o.flags = SHMKIT_CREATE;
    is_rc(shmkit_open(&s, &o), 0, "POSIX CREATE of the existing name under a lease: waited out");
    shmkit_close(s);
    reap(h);

    h = lease_holder(file, 30);
    fo.flags = 0;
    is_rc(shmkit_open(&s, &fo), 0, "FILE open under a lease: waited out");
    shmkit_close(s);
    reap(h);

    h = lease_holder(file, 30);
    shmkit_flock *l = NULL;
    is_rc(shmkit_flock_open(&l, file, 0), 0, "flock open under a lease: waited out");
    shmkit_flock_close(l);
    reap(h);

    /* a lease nobody releases: a bounded wait, then -EAGAIN */
    h = lease_holder(path, 60000);
    o.flags = SHMKIT_RDONLY;
    uint64_t t0 = tu_now_ns();
    int rc = shmkit_open(&s, &o);
    uint64_t ms = (tu_now_ns() - t0) / 1000000;
    is_rc(rc, -EAGAIN, "a lease never released: -EAGAIN");
    ok(ms < 5000, "... after a bounded wait (%llu ms)", (unsigned long long)ms);
    if (rc == 0)
        shmkit_close(s);
    reap(h);

    is_rc(shmkit_posix_remove(name), 0, "the segment is removed");
    unlink(file);
    return tap_done();
}
