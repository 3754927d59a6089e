/* t_hostile_lib.c - whatever a neighbour leaves at a path the library opens
 * (needs root for the device and for nobody's symlinks).
 * At a POSIX name (/dev/shm/NAME), a FILE path and a lock file path in a
 * sticky directory, each of: a FIFO without a writer, a unix socket, a
 * character device (1:3), a directory, a dangling symlink and a symlink to
 * a real file (both planted by nobody), a hard link to a real segment.
 * Every open the library does there - POSIX and FILE read-only, read-write,
 * VERIFY, CREATE, CREATE|EXCL; shmkit_flock_open plain and with CREATE (and
 * a FIFO that nobody may only read) - returns promptly with the documented
 * error: each runs in a child with a 5 s alarm, and a hang is a failure.
 * Nothing is created at a symlink's target and the real target's bytes are
 * untouched. MEMFD by descriptor of something that is no memfd (a FIFO, a
 * pipe, a socket, /dev/null, a directory) gives -EINVAL, also read-only
 * (which reopens the descriptor through /proc). */
#include "tu_seg.h"

#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

#define NOBODY 65534

enum obj { O_FIFO, O_SOCK, O_DEV, O_DIR, O_DANGLING, O_SYMLINK, O_HARDLINK, NOBJ };
static const char *const obj_name[NOBJ] = {"FIFO",      "socket",           "device 1:3",
                                           "directory", "dangling symlink", "symlink to a file",
                                           "hard link"};

enum op { OP_RO, OP_RW, OP_VERIFY, OP_CREATE, OP_EXCL, NOP };
static const char *const op_name[NOP] = {"open read-only", "open read-write", "open VERIFY",
                                         "CREATE", "CREATE|EXCL"};

/* The documented answer for each object and open (POSIX and FILE alike). */
static const int want_seg[NOBJ][NOP] = {
    [O_FIFO] = {-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EEXIST},
    [O_SOCK] = {-ENXIO, -ENXIO, -ENXIO, -ENXIO, -EEXIST},
    [O_DEV] = {-EINVAL, -EINVAL, -EINVAL, -EINVAL, -EEXIST},
    [O_DIR] = {-EINVAL, -EISDIR, -EINVAL, -EISDIR, -EEXIST},
    [O_DANGLING] = {-ELOOP, -ELOOP, -ELOOP, -ELOOP, -EEXIST},
    [O_SYMLINK] = {-ELOOP, -ELOOP, -ELOOP, -ELOOP, -EEXIST},
    /* a plain open takes what it is named; a create does not reuse a
     * segment that has another name too */
    [O_HARDLINK] = {0, 0, 0, -EPERM, -EEXIST},
};

/* shmkit_flock_open plain and with CREATE (root) */
static const int want_flock[NOBJ][2] = {
    [O_FIFO] = {-EINVAL, -EINVAL}, [O_SOCK] = {-ENXIO, -ENXIO},     [O_DEV] = {-EINVAL, -EINVAL},
    [O_DIR] = {-EISDIR, -EISDIR},  [O_DANGLING] = {-ELOOP, -ELOOP}, [O_SYMLINK] = {-ELOOP, -ELOOP},
    [O_HARDLINK] = {0, 0},
};

static char dir[128];     /* sticky, like /tmp: anyone may plant here */
static char real[192];    /* root's file a symlink points at */
static char missing[192]; /* where a dangling symlink points */

/* Runs ARGV as nobody (uid and gid 65534, no groups); exit status or -1. */
static int as_nobody(const char *const *args)
{
    return tu_run_as(65534, 65534, 0, 10000, args);
}

/* Runs FN(ARG) in a child with a 5 s alarm: its return value as a code, or
 * 1000 when it hung. */
static int promptly(int (*fn)(const void *), const void *arg)
{
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        tap_bail("fork: %s", strerror(errno));
    if (p == 0) {
        alarm(5);
        _exit(tu_code_status(fn(arg)));
    }
    int st;
    if (tu_wait(p, 8000, &st) < 0 || !WIFEXITED(st))
        return 1000;
    return WEXITSTATUS(st);
}

struct seg_try {
    int kind;
    const char *name;
    enum op op;
};

static int try_seg(const void *a)
{
    const struct seg_try *t = a;
    static const unsigned fl[NOP] = {SHMKIT_RDONLY, 0, SHMKIT_RDONLY | SHMKIT_VERIFY, SHMKIT_CREATE,
                                     SHMKIT_CREATE | SHMKIT_EXCL};
    struct shmkit_opts o = {.kind = t->kind, .name = t->name, .flags = fl[t->op], .size = 4096};
    if (t->op < OP_CREATE)
        o.size = 0;
    shmkit_seg *s = NULL;
    int rc = shmkit_open(&s, &o);
    shmkit_close(s);
    return rc;
}

struct flock_try {
    const char *path;
    unsigned flags;
};

static int try_flock(const void *a)
{
    const struct flock_try *t = a;
    shmkit_flock *l = NULL;
    int rc = shmkit_flock_open(&l, t->path, t->flags);
    shmkit_flock_close(l);
    return rc;
}

static int try_memfd(const void *a)
{
    const int *v = a; /* descriptor, flags */
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = v[0], .flags = (unsigned)v[1]};
    int rc = shmkit_open(&s, &o);
    shmkit_close(s);
    return rc;
}

/* Plants OBJ at PATH. REALSEG is a real segment's path (for the hard link). */
static void plant(enum obj obj, const char *path, const char *realseg)
{
    int rc = 0;
    switch (obj) {
    case O_FIFO:
        rc = mkfifo(path, 0644);
        break;
    case O_SOCK: {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
        int s = socket(AF_UNIX, SOCK_STREAM, 0);
        rc = s < 0 ? -1 : bind(s, (struct sockaddr *)&sa, sizeof sa);
        if (s >= 0)
            close(s);
        break;
    }
    case O_DEV:
        rc = mknod(path, S_IFCHR | 0666, makedev(1, 3));
        break;
    case O_DIR:
        rc = mkdir(path, 0755);
        break;
    case O_DANGLING:
    case O_SYMLINK: {
        const char *to = obj == O_DANGLING ? missing : real;
        rc = as_nobody((const char *[]){"ln", "-s", to, path, NULL});
        break;
    }
    case O_HARDLINK:
        rc = link(realseg, path);
        break;
    default:
        break;
    }
    if (rc != 0)
        tap_bail("cannot plant a %s at %s: %s", obj_name[obj], path, strerror(errno));
}

static void unplant(const char *path)
{
    if (rmdir(path) < 0)
        unlink(path);
}

/* The symlink targets are as they were: nothing made at the dangling one,
 * the real one still says "keep". */
static int targets_intact(void)
{
    char buf[16] = {0};
    int fd = open(real, O_RDONLY);
    ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    return access(missing, F_OK) < 0 && errno == ENOENT && n == 4 && !memcmp(buf, "keep", 4);
}

static void test_segments(int kind)
{
    char path[256], realseg[256], pname[128], prealname[128];
    const char *name = path, *realname = realseg;
    const char *kname = kind == SHMKIT_POSIX ? "POSIX" : "FILE";
    if (kind == SHMKIT_POSIX) {
        name = tu_name(pname, sizeof pname, "hostile");
        realname = tu_name(prealname, sizeof prealname, "hostile-real");
        snprintf(path, sizeof path, "/dev/shm%s", name);
        snprintf(realseg, sizeof realseg, "/dev/shm%s", realname);
    } else {
        snprintf(path, sizeof path, "%s/seg", dir);
        snprintf(realseg, sizeof realseg, "%s/realseg", dir);
    }
    shmkit_seg *rs = NULL;
    struct shmkit_opts ro = {
        .kind = kind, .name = realname, .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&rs, &ro) < 0)
        tap_bail("cannot create %s", realname);
    shmkit_close(rs);
    for (int obj = 0; obj < NOBJ; obj++) {
        int bad = 0;
        for (int op = 0; op < NOP; op++) {
            plant((enum obj)obj, path, realseg);
            struct seg_try t = {kind, name, (enum op)op};
            int got = promptly(try_seg, &t);
            int wrc = want_seg[obj][op];
            if (kind == SHMKIT_POSIX && wrc == -EISDIR)
                wrc = -EINVAL; /* glibc's shm_open says EINVAL for a directory */
            int want = tu_code_status(wrc);
            if (got != want) {
                bad++;
                tap_fail_diag("%s %s at the name: %s gave %s, want %s", kname, obj_name[obj],
                              op_name[op], got == 1000 ? "a hang" : shmkit_errname(-got),
                              shmkit_errname(wrc));
            }
            unplant(path);
        }
        ok(!bad, "%s, %s at the name: every open returns promptly with its error", kname,
           obj_name[obj]);
    }
    ok(targets_intact(), "%s: nothing made at a symlink's target, the real one untouched", kname);
    unlink(realseg);
}

static void test_flock(void)
{
    char path[256], realseg[256];
    snprintf(path, sizeof path, "%s/lock", dir);
    snprintf(realseg, sizeof realseg, "%s/reallock", dir);
    int fd = open(realseg, O_RDWR | O_CREAT | O_EXCL, 0644);
    if (fd < 0)
        tap_bail("cannot make %s", realseg);
    close(fd);
    for (int obj = 0; obj < NOBJ; obj++) {
        int bad = 0;
        for (int c = 0; c < 2; c++) {
            plant((enum obj)obj, path, realseg);
            struct flock_try t = {path, c ? SHMKIT_FLOCK_CREATE : 0};
            int got = promptly(try_flock, &t);
            if (got != tu_code_status(want_flock[obj][c])) {
                bad++;
                tap_fail_diag("flock %s: open%s gave %s, want %s", obj_name[obj],
                              c ? " CREATE" : "", got == 1000 ? "a hang" : shmkit_errname(-got),
                              shmkit_errname(want_flock[obj][c]));
            }
            unplant(path);
        }
        ok(!bad, "flock, %s at the path: open and open CREATE return promptly with their error",
           obj_name[obj]);
    }
    ok(targets_intact(), "flock: nothing made at a symlink's target, the real one untouched");

    /* a symlink root made itself is followed when asked */
    if (symlink(realseg, path) < 0)
        tap_bail("symlink");
    struct flock_try t = {path, SHMKIT_FLOCK_FOLLOW};
    is_int(promptly(try_flock, &t), 0, "flock: SHMKIT_FLOCK_FOLLOW follows a symlink");
    t.flags = SHMKIT_FLOCK_FOLLOW | SHMKIT_FLOCK_CREATE;
    is_int(promptly(try_flock, &t), 0, "... also with CREATE (the target exists)");
    unlink(path);
    if (symlink(missing, path) < 0)
        tap_bail("symlink");
    is_int(promptly(try_flock, &t), ENOENT,
           "... a dangling one with FOLLOW|CREATE: ENOENT, its target is not made");
    ok(access(missing, F_OK) < 0, "... (and it was not)");
    unlink(path);

    /* a FIFO nobody may only read: the read-only fallback must not block */
    if (mkfifo(path, 0644) < 0)
        tap_bail("mkfifo");
    is_int(as_nobody((const char *[]){tu_self(), "helper", "flock", path, NULL}), EINVAL,
           "flock: nobody opening root's 0644 FIFO: EINVAL at once (no hang)");
    unlink(path);
    unlink(realseg);
}

static void test_memfd(void)
{
    char fifo[256];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    if (mkfifo(fifo, 0600) < 0)
        tap_bail("mkfifo");
    int pipes[2], socks[2];
    if (pipe(pipes) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, socks) < 0)
        tap_bail("pipe/socketpair");
    struct {
        const char *what;
        int fd;
    } fds[] = {
        {"a FIFO (no writer)", open(fifo, O_RDONLY | O_NONBLOCK)},
        {"a pipe", pipes[0]},
        {"a socket", socks[0]},
        {"/dev/null", open("/dev/null", O_RDWR)},
        {"a directory", open(dir, O_RDONLY | O_DIRECTORY)},
    };
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++) {
        for (int r = 0; r < 2; r++) {
            /* shmkit_open takes ownership: give it a copy */
            int v[2] = {dup(fds[i].fd), r ? SHMKIT_RDONLY : 0};
            is_int(promptly(try_memfd, v), EINVAL, "MEMFD by descriptor of %s%s: EINVAL at once",
                   fds[i].what, r ? ", read-only" : "");
            close(v[0]);
        }
        close(fds[i].fd);
    }
    close(pipes[1]);
    close(socks[1]);
    unlink(fifo);
}

static int helper(int argc, char **argv)
{
    if (argc >= 4 && !strcmp(argv[2], "flock")) {
        struct flock_try t = {argv[3], 0};
        return promptly(try_flock, &t);
    }
    return 99;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "helper"))
        return helper(argc, argv);
    if (geteuid() != 0)
        tap_skip_all("needs root (a device node, a second user)");
    if (system("setpriv --version >/dev/null 2>&1") != 0)
        tap_skip_all("setpriv (util-linux) not installed");
    snprintf(dir, sizeof dir, "/tmp/shmkit-hostile-%ld", (long)getpid());
    if (mkdir(dir, 0755) < 0 || chmod(dir, 01777) < 0)
        tap_bail("mkdir %s", dir);
    chmod(dir, 01777);
    /* nobody must reach the directory and run this binary */
    if (as_nobody((const char *[]){tu_self(), "helper", "nothing", NULL}) != 99)
        tap_skip_all("nobody cannot run %s (directory permissions?)", tu_self());
    snprintf(real, sizeof real, "%s/real", dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    int fd = open(real, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd < 0 || write(fd, "keep", 4) != 4)
        tap_bail("cannot write %s", real);
    close(fd);

    test_segments(SHMKIT_POSIX);
    test_segments(SHMKIT_FILE);
    test_flock();
    test_memfd();

    unlink(missing);
    unlink(real);
    if (rmdir(dir) < 0)
        tap_fail_diag("%s left behind: %s", dir, strerror(errno));
    return tap_done();
}
