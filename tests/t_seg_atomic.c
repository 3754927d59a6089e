/* t_seg_atomic.c - crash-safe creation: a POSIX or FILE segment's name
 * appears only once its header is complete (Linux: O_TMPFILE + linkat).
 *   - a creator killed at random moments (300 rounds over POSIX and FILE,
 *     with and without the SHMKIT_NO_TMPFILE fallback knob): with the
 *     unnamed-first path every name left is a valid segment whose header
 *     names the dead creator; never a header-less one,
 *   - two creators racing for one name with EXCL: exactly one wins,
 *   - the mode is exact under umask 077 and 000, RAW creation,
 *   - both paths give the same result for existing names, symlinks and
 *     the longest POSIX name,
 *   - a table's header is complete at creation (never rewritten). */
#include "tu_seg.h"

#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <sys/vfs.h>
#include <time.h>

#define ROUNDS_EACH (TAP_UNDER_ASAN ? 40 : 75) /* x 4 configurations */
#define CREATE_MAX 400

static char tmpdir[64];
static unsigned rng_state;
static _Atomic int *shared; /* [0] ready, [1] go, [2] segments finished */
static int fallback_now;    /* the knob is set: the O_EXCL path runs */

static unsigned rnd(unsigned n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void knob(int fallback)
{
    fallback_now = fallback;
    if (fallback)
        setenv("SHMKIT_NO_TMPFILE", "1", 1);
    else
        unsetenv("SHMKIT_NO_TMPFILE");
}

/* Whether O_TMPFILE works in DIR (the library falls back where it does not). */
static int tmpfile_works(const char *dir)
{
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return 0;
    close(fd);
    return access("/proc/self/fd", X_OK) == 0;
}

/* Segment I of a round: "PREFIX-I", in /dev/shm (POSIX) or TMPDIR (FILE). */
static void seg_name(char *buf, size_t len, int file, const char *prefix, int i)
{
    if (file)
        snprintf(buf, len, "%s%s-%d", tmpdir, prefix, i);
    else
        snprintf(buf, len, "%s-%d", prefix, i);
}

static size_t seg_size(int i)
{
    return 1 + (size_t)(i * 40961u) % (1u << 20);
}

static _Noreturn void creator(int file, const char *prefix)
{
    atomic_store(&shared[0], 1);
    for (int i = 0; i < CREATE_MAX; i++) {
        char name[300];
        seg_name(name, sizeof name, file, prefix, i);
        /* sizes up to 1 MiB: reserving takes a while, so kills land there too */
        struct shmkit_opts o = {.kind = file ? SHMKIT_FILE : SHMKIT_POSIX, .name = name,
                                .size = seg_size(i),
                                .flags = SHMKIT_CREATE | SHMKIT_EXCL, .mode = 0640};
        if (i % 5 == 4)
            o.flags |= SHMKIT_RAW;
        shmkit_seg *s = NULL;
        if (shmkit_open(&s, &o) != 0)
            _exit(3);
        shmkit_close(s);
        atomic_store(&shared[2], i + 1);
    }
    /* all made before the kill came (the test process was off the CPU):
     * wait for it all the same, so every round ends with a SIGKILL */
    for (;;)
        pause();
}

struct tally {
    int names, valid, raw, headerless, wrong_creator, bad;
};

/* One round: start a creator, kill it at a random moment, judge what it left. */
static int kill_round(int file, struct tally *t)
{
    char prefix[96];
    tu_name(prefix, sizeof prefix, "atk");
    atomic_store(&shared[0], 0);
    atomic_store(&shared[2], 0);
    pid_t pid = fork();
    if (pid == 0)
        creator(file, prefix);
    if (pid < 0)
        return -1;
    uint64_t end = tu_now_ns() + 3000000000ull;
    while (!atomic_load(&shared[0]) && tu_now_ns() < end)
        sched_yield();
    sleep_us(rnd(4000));
    kill(pid, SIGKILL);
    int st = 0;
    /* generous: a killed creator on a disk file system may have to finish
     * an allocation first, and other builds share the disk */
    if (tu_wait(pid, 30000, &st) < 0) {
        tap_diag("round: the killed creator did not go away in 30 s");
        return -1;
    }
    if (!WIFSIGNALED(st)) {
        tap_diag("round: the creator exited by itself (status %#x): a create failed", st);
        return -1;
    }
    int done = atomic_load(&shared[2]);
    int good = 1, found = 0;
    /* every name the creator may have made: the finished ones and the next */
    for (int i = 0; i <= done && i < CREATE_MAX; i++) {
        char name[300];
        seg_name(name, sizeof name, file, prefix, i);
        const char *path = name;
        char shm[320];
        if (!file) {
            snprintf(shm, sizeof shm, "/dev/shm%s", name);
            path = shm;
        }
        struct stat sb;
        if (stat(path, &sb) < 0) {
            if (i != done) { /* only the one being made may be missing */
                tap_diag("round: finished %s is missing", name);
                good = 0;
            }
            continue;
        }
        found++;
        t->names++;
        if ((sb.st_mode & 0777) != 0640 && !(i == done && fallback_now)) {
            tap_diag("round: %s has mode %04o", name, (unsigned)(sb.st_mode & 0777));
            good = 0;
        }
        int raw = i % 5 == 4;
        size_t want = seg_size(i);
        /* judged from the bytes first: opening a header-less segment would
         * wait ~50 ms for a creator that is dead */
        char img[SHMKIT_HEADER_SIZE];
        ssize_t got = -1;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            got = pread(fd, img, sizeof img, 0);
            close(fd);
        }
        struct shmkit_info in;
        int whole = raw ? (size_t)sb.st_size == want
                        : got > 0 && shmkit_header_check(img, (size_t)got, (uint64_t)sb.st_size,
                                                         &in) == 0;
        if (!whole) {
            /* the fallback names the one being made before it is sized
             * (RAW) or has its header */
            if (i == done) {
                t->headerless++;
            } else {
                tap_diag("round: finished %s is not whole", name);
                good = 0;
            }
            goto remove;
        }
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = file ? SHMKIT_FILE : SHMKIT_POSIX, .name = name,
                                .flags = SHMKIT_RDONLY | (raw ? SHMKIT_RAW : 0)};
        int rc = shmkit_open(&s, &o);
        if (rc == 0 && raw) {
            t->raw++; /* named only once sized (and, but for the fallback, reserved) */
        } else if (rc == 0 && shmkit_seg_stat(s, &in) == 0 && in.has_header) {
            t->valid++;
            if (in.creator_pid != pid) {
                tap_diag("round: %s names creator %d, not %d", name, (int)in.creator_pid,
                         (int)pid);
                t->wrong_creator++;
                good = 0;
            }
        } else {
            tap_diag("round: %s: open gave %s", name, shmkit_errname(rc));
            t->bad++;
            good = 0;
        }
        shmkit_close(s);
    remove:
        if (file)
            unlink(name);
        else
            shm_unlink(name);
    }
    if (found != done && found != done + 1) {
        tap_diag("round: %d names for %d finished creates", found, done);
        good = 0;
    }
    return good ? 0 : -1;
}

static void kill_rounds(int file, int fallback)
{
    knob(fallback);
    const char *what = file ? "FILE" : "POSIX";
    const char *how = fallback ? "SHMKIT_NO_TMPFILE=1" : "unnamed first";
    int atomic = !fallback && tmpfile_works(file ? tmpdir : "/dev/shm");
    struct tally t = {0};
    int good = 0;
    uint64_t t0 = tu_now_ns();
    for (int r = 0; r < ROUNDS_EACH; r++)
        good += kill_round(file, &t) == 0;
    is_int(good, ROUNDS_EACH, "%s, %s: %d creators killed, each left only whole segments "
           "and at most one fragment", what, how, ROUNDS_EACH);
    tap_diag("  %s, %s: %d names left, %d with a header naming the dead creator, %d RAW "
             "sized, %d header-less fragments (%.1f per 100 rounds), %.0f ms", what, how,
             t.names, t.valid, t.raw, t.headerless, 100.0 * t.headerless / ROUNDS_EACH,
             (double)(tu_now_ns() - t0) / 1e6);
    if (atomic)
        is_int(t.headerless, 0, "%s, %s: no header-less or unsized fragment ever", what, how);
    else if (!fallback)
        tap_diag("  %s: O_TMPFILE not usable here: the fallback ran", what);
    knob(0);
}

/* Two creators released together; returns how many got 0 and -EEXIST. */
static void excl_race(int file, int fallback, int rounds)
{
    knob(fallback);
    int wins = 0, lost = 0, other = 0;
    for (int r = 0; r < rounds; r++) {
        char name[300], base[96];
        tu_name(base, sizeof base, "atx");
        seg_name(name, sizeof name, file, base, 0);
        atomic_store(&shared[1], 0);
        atomic_store(&shared[0], 0);
        pid_t pid[2];
        for (int k = 0; k < 2; k++) {
            pid[k] = fork();
            if (pid[k] == 0) {
                atomic_fetch_add(&shared[0], 1);
                while (!atomic_load(&shared[1]))
                    sched_yield();
                shmkit_seg *s = NULL;
                struct shmkit_opts o = {.kind = file ? SHMKIT_FILE : SHMKIT_POSIX, .name = name,
                                        .size = 65536, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
                int rc = shmkit_open(&s, &o);
                shmkit_close(s);
                _exit(rc == 0 ? 0 : rc == -EEXIST ? 1 : 2);
            }
        }
        while (atomic_load(&shared[0]) < 2)
            sched_yield();
        atomic_store(&shared[1], 1);
        for (int k = 0; k < 2; k++) {
            int st = 0;
            if (pid[k] < 0 || tu_wait(pid[k], 5000, &st) < 0 || !WIFEXITED(st))
                other++;
            else if (WEXITSTATUS(st) == 0)
                wins++;
            else if (WEXITSTATUS(st) == 1)
                lost++;
            else
                other++;
        }
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = file ? SHMKIT_FILE : SHMKIT_POSIX, .name = name};
        if (shmkit_open(&s, &o) != 0 || shmkit_seg_size(s) != 65536)
            other++;
        shmkit_close(s);
        if (file)
            unlink(name);
        else
            shm_unlink(name);
    }
    ok(wins == rounds && lost == rounds && other == 0,
       "%s, %s: EXCL race x%d: one winner and one -EEXIST each time (%d won, %d lost, %d else)",
       file ? "FILE" : "POSIX", fallback ? "fallback" : "unnamed first", rounds, wins, lost,
       other);
    knob(0);
}

static int file_mode(const char *path)
{
    struct stat sb;
    return stat(path, &sb) < 0 ? -errno : (int)(sb.st_mode & 0777);
}

static void modes(int fallback)
{
    static const mode_t masks[] = {077, 000};
    static const mode_t want[] = {0666, 0640, 0604, 0700};
    knob(fallback);
    int right = 0, n = 0;
    for (int m = 0; m < 2; m++) {
        mode_t old = umask(masks[m]);
        for (int w = 0; w < 4; w++)
            for (int file = 0; file < 2; file++) {
                char name[300], base[96], path[320];
                tu_name(base, sizeof base, "atm");
                seg_name(name, sizeof name, file, base, 0);
                snprintf(path, sizeof path, "%s%s", file ? "" : "/dev/shm", name);
                shmkit_seg *s = NULL;
                struct shmkit_opts o = {.kind = file ? SHMKIT_FILE : SHMKIT_POSIX, .name = name,
                                        .size = 100, .mode = want[w],
                                        .flags = SHMKIT_CREATE | SHMKIT_EXCL};
                n++;
                if (shmkit_open(&s, &o) == 0 && file_mode(path) == (int)want[w])
                    right++;
                else
                    tap_diag("mode %04o under umask %03o: got %04o", (unsigned)want[w],
                             (unsigned)masks[m], (unsigned)file_mode(path));
                shmkit_seg_remove(s);
                shmkit_close(s);
            }
        umask(old);
    }
    is_int(right, n, "%s: mode exact under umask 077 and 000 (POSIX and FILE, 4 modes each)",
           fallback ? "fallback" : "unnamed first");
    knob(0);
}

/* Result of shmkit_open with OPTS, the segment closed again. */
static int open_rc(const struct shmkit_opts *o)
{
    shmkit_seg *s = NULL;
    int rc = shmkit_open(&s, o);
    shmkit_close(s);
    return rc;
}

/* The same call under both paths: the result must not depend on the path. */
static void same_both(const struct shmkit_opts *o, int want, const char *what)
{
    knob(0);
    int a = open_rc(o);
    knob(1);
    int b = open_rc(o);
    knob(0);
    ok(a == want && b == want, "%s: %s (unnamed first %s, fallback %s)", what,
       shmkit_errname(want), shmkit_errname(a), shmkit_errname(b));
}

static void semantics(void)
{
    char name[300], base[96], link[320], target[320];
    /* an existing POSIX segment */
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "ats"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "create %s", name);
    same_both(&o, -EEXIST, "POSIX EXCL of an existing name");
    o.flags = SHMKIT_CREATE;
    same_both(&o, 0, "POSIX plain CREATE opens the existing one");
    o.size = 8192;
    same_both(&o, SHMKIT_EBADSIZE, "POSIX plain CREATE of an existing smaller one");
    /* an existing name is found before any memory is reserved: asking for
     * more than /dev/shm holds still says EEXIST (or opens), not ENOSPC */
    struct statvfs vfs;
    if (statvfs("/dev/shm", &vfs) == 0) {
        o.size = (size_t)vfs.f_bavail * vfs.f_frsize * 2 + 4096;
        o.flags = SHMKIT_CREATE | SHMKIT_EXCL;
        same_both(&o, -EEXIST, "POSIX EXCL of an existing name, bigger than /dev/shm's free space");
        o.flags = SHMKIT_CREATE;
        same_both(&o, SHMKIT_EBADSIZE, "... plain CREATE of it: too small, not ENOSPC");
    }
    shmkit_seg_remove(s);
    shmkit_close(s);

    /* FILE: an existing file, a symlink to one, a dangling symlink */
    tu_name(base, sizeof base, "atl");
    snprintf(target, sizeof target, "%s%s-t", tmpdir, base);
    snprintf(link, sizeof link, "%s%s-l", tmpdir, base);
    struct shmkit_opts f = {.kind = SHMKIT_FILE, .name = target, .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(open_rc(&f), 0, "FILE create %s", target);
    ok(symlink(target, link) == 0, "symlink to it");
    f.name = link;
    same_both(&f, -EEXIST, "FILE EXCL onto a symlink");
    f.flags = SHMKIT_CREATE;
    same_both(&f, -ELOOP, "FILE plain CREATE onto a symlink without FOLLOW");
    f.flags = SHMKIT_CREATE | SHMKIT_FOLLOW;
    same_both(&f, 0, "FILE plain CREATE|FOLLOW onto a symlink opens the target");
    unlink(target);
    same_both(&f, -ENOENT, "FILE plain CREATE|FOLLOW onto a dangling symlink");
    ok(access(target, F_OK) < 0, "and the target was not created");
    unlink(link);
    f.name = tmpdir;
    f.flags = SHMKIT_CREATE;
    same_both(&f, -EISDIR, "FILE plain CREATE of a directory");
    snprintf(target, sizeof target, "%s/no/such/dir/x", tmpdir);
    f.name = target;
    same_both(&f, -ENOENT, "FILE create in a missing directory");

    /* the longest POSIX name /dev/shm takes, and one byte more */
    char longname[NAME_MAX + 3];
    memset(longname, 'a', sizeof longname);
    longname[0] = '/';
    snprintf(longname + 1, 24, "%ld-", (long)getpid());
    longname[strlen(longname)] = 'a';
    longname[NAME_MAX + 1] = '\0';
    struct shmkit_opts l = {.kind = SHMKIT_POSIX, .name = longname, .size = 64,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    for (int fallback = 0; fallback < 2; fallback++) {
        knob(fallback);
        is_rc(open_rc(&l), 0, "%s: POSIX name of NAME_MAX bytes",
              fallback ? "fallback" : "unnamed first");
        shmkit_posix_remove(longname);
    }
    knob(0);
    longname[NAME_MAX + 1] = 'a';
    longname[NAME_MAX + 2] = '\0';
    same_both(&l, SHMKIT_EBADNAME, "POSIX name one byte longer");
}

static void raw_and_table(void)
{
    char name[96];
    for (int fallback = 0; fallback < 2; fallback++) {
        knob(fallback);
        const char *how = fallback ? "fallback" : "unnamed first";
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "atr"),
                                .size = 12345, .flags = SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_RAW};
        is_rc(shmkit_open(&s, &o), 0, "%s: RAW create", how);
        unsigned char *p = shmkit_seg_data(s);
        int zero = p != NULL;
        for (size_t i = 0; p && i < 12345; i++)
            zero &= p[i] == 0;
        ok(zero && shmkit_seg_size(s) == 12345, "%s: RAW: 12345 zero bytes, no header", how);
        struct stat sb;
        int fd = shmkit_seg_fd(s);
        ok(fd >= 0 && fstat(fd, &sb) == 0 && sb.st_size == 12345 &&
               (uint64_t)sb.st_blocks * 512 >= 12345,
           "%s: RAW: sized and reserved", how);
        shmkit_seg_remove(s);
        shmkit_close(s);

        shmkit_table *tb = NULL;
        struct shmkit_opts to = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "att")};
        is_rc(shmkit_table_create(&tb, &to, 40, 8, 77), 0, "%s: table create", how);
        struct shmkit_info in;
        uint64_t p2 = 0;
        ok(tb && shmkit_seg_stat(shmkit_table_seg(tb), &in) == 0 && in.generation == 1 &&
               in.layout == SHMKIT_LAYOUT_TABLE &&
               shmkit_seg_layout_param(shmkit_table_seg(tb), 2, &p2) == 0 && p2 == 77,
           "%s: table header complete at creation (generation 1, type id in it)", how);
        shmkit_table_remove(tb);
        shmkit_table_close(tb);
    }
    knob(0);
}

int main(void)
{
    const char *seed = getenv("SHMKIT_CRASH_SEED");
    rng_state = seed ? (unsigned)strtoul(seed, NULL, 0) : (unsigned)tu_now_ns();
    tap_diag("seed %u (SHMKIT_CRASH_SEED to repeat)", rng_state);
    shared = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED)
        tap_bail("mmap");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/shmkit-atomic-XXXXXX");
    if (!mkdtemp(tmpdir))
        tap_bail("mkdtemp: %s", strerror(errno));
    tap_diag("O_TMPFILE usable: /dev/shm %s, %s %s", tmpfile_works("/dev/shm") ? "yes" : "no",
             tmpdir, tmpfile_works(tmpdir) ? "yes" : "no");

    semantics();
    raw_and_table();
    modes(0);
    modes(1);
    for (int file = 0; file < 2; file++)
        for (int fallback = 0; fallback < 2; fallback++)
            excl_race(file, fallback, TAP_UNDER_ASAN ? 15 : 40);
    for (int file = 0; file < 2; file++)
        for (int fallback = 0; fallback < 2; fallback++)
            kill_rounds(file, fallback);

    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        tap_diag("could not remove %s", tmpdir);
    return tap_done();
}
