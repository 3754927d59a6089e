/* t_seg_init.c - one-time initialisation (opts.init) and
 * shmkit_seg_created. Eight processes start at once on one name, each with
 * an initialiser that takes ~20 ms and writes its canary last: exactly one
 * reports that it created the segment, and every one sees the canary after
 * shmkit_open returns - never an uninitialised segment. POSIX and FILE
 * (unnamed, then linkat), SYSV by key, and POSIX and FILE on the O_EXCL
 * fallback (SHMKIT_NO_TMPFILE=1). A creator killed inside its initialiser
 * leaves nothing named (POSIX, FILE), or a segment that openers give up on
 * (SHMKIT_EPEERDEAD; -ETIMEDOUT while the creator lives) and that
 * `shmkit gc` removes (SYSV, fallback); meanwhile `shmkit info` shows it
 * initialising at once and `shmkit dump` gives up after a second with a
 * clear reason (exit 2), then says it was never initialised (exit 3). A failing initialiser fails the
 * open with its code and leaves nothing behind. Also: System V sizes and
 * SHMKIT_PAYLOAD_FOR_PAGES. */
#include "tu_seg.h"

#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>

#define NPROC 8
#define CANARY 0xC0FFEE42u

struct payload {
    uint32_t pattern[256];    /* written first */
    uint32_t creator;         /* pid of the initialiser */
    volatile uint32_t canary; /* written last */
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* The initialiser: slow, canary last. ARG: milliseconds to take. */
static int slow_init(shmkit_seg *seg, void *arg)
{
    struct payload *p = shmkit_seg_data(seg);
    int ms = *(const int *)arg;
    for (int i = 0; i < 256; i++)
        p->pattern[i] = (uint32_t)i * 7u;
    p->creator = (uint32_t)getpid();
    sleep_ms(ms);
    p->canary = CANARY;
    return 0;
}

/* The initialiser of the kill tests: says "inside" on the pipe in ARG,
 * then takes far longer than anyone waits. */
static int stuck_init(shmkit_seg *seg, void *arg)
{
    (void)seg;
    int fd = *(const int *)arg;
    if (write(fd, "i", 1) != 1)
        _exit(9);
    sleep_ms(20000);
    return 0;
}

static int failing_init(shmkit_seg *seg, void *arg)
{
    (void)seg, (void)arg;
    return -ENOTSUP;
}

/* A racer: waits for the start (GO closed), opens O, checks the canary.
 * Exit 1 if it created the segment, 0 if it attached, 2 canary or pattern
 * missing, 3 open failed. */
static void racer(int go, struct shmkit_opts o)
{
    static int ms = 20;
    char c;
    shmkit_seg *s = NULL;
    (void)!read(go, &c, 1);
    o.init = slow_init;
    o.init_arg = &ms;
    int rc = shmkit_open(&s, &o);
    if (rc < 0) {
        fprintf(stderr, "racer %d: %s\n", (int)getpid(), shmkit_errname(rc));
        _exit(3);
    }
    const struct payload *p = shmkit_seg_data(s);
    if (p->canary != CANARY || p->pattern[255] != 255u * 7u)
        _exit(2);
    _exit(shmkit_seg_created(s) == 1 ? 1 : 0);
}

/* Starts NPROC racers on O at once; counts creators and bad views. */
static void race(const struct shmkit_opts *o, const char *what)
{
    int go[2], created = 0, bad = 0, failed = 0;
    pid_t pid[NPROC];
    if (pipe(go) < 0)
        tap_bail("pipe");
    fflush(stdout);
    for (int i = 0; i < NPROC; i++) {
        if ((pid[i] = fork()) == 0) {
            close(go[1]);
            racer(go[0], *o);
        }
    }
    close(go[0]);
    sleep_ms(30); /* let all of them reach the read */
    close(go[1]);
    for (int i = 0; i < NPROC; i++) {
        int st = tu_wait_exit(pid[i]);
        created += st == 1;
        bad += st == 2;
        failed += st != 0 && st != 1 && st != 2;
    }
    is_int(created, 1, "%s: exactly one of %d racers created and initialised it", what, NPROC);
    is_int(bad, 0, "%s: no racer saw it before its canary", what);
    is_int(failed, 0, "%s: no racer failed", what);
}

/* `shmkit ARGS` (the built CLI): its exit status, and what it printed
 * (standard output and error, its lines joined by spaces) in OUT. */
static int cli(const char *args, char *out, size_t len)
{
    char bin[PATH_MAX], cmd[PATH_MAX + 256];
    tu_built(bin, sizeof bin, "bin/shmkit");
    snprintf(cmd, sizeof cmd, "'%s' %s 2>&1", bin, args);
    fflush(stdout);
    FILE *f = popen(cmd, "r");
    if (!f)
        return -1;
    size_t n = fread(out, 1, len - 1, f);
    out[n] = 0;
    for (char *c = out; *c; c++) /* one line, for a test's description */
        if (*c == '\n')
            *c = ' ';
    while (fgetc(f) != EOF) /* the rest, unread */
        ;
    int st = pclose(f);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* `shmkit gc ARGS`; its exit status. */
static int gc(const char *args)
{
    char cmd[256], out[4096];
    snprintf(cmd, sizeof cmd, "gc %s", args);
    return cli(cmd, out, sizeof out);
}

/* Kills a creator inside its initialiser. LEAVES_SEGMENT: whether the kind
 * names the segment before initialising it (SYSV, fallback) - openers then
 * time out, and see the creator's death - or not (nothing to open). TARGET:
 * how the CLI names it (NULL: not checked through the CLI). */
static void kill_in_init(struct shmkit_opts o, const char *what, int leaves_segment,
                         const char *target)
{
    char cmd[256], out[4096];
    int p[2];
    char c;
    if (pipe(p) < 0)
        tap_bail("pipe");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_seg *s = NULL;
        close(p[0]);
        o.flags |= SHMKIT_CREATE;
        o.init = stuck_init;
        o.init_arg = &p[1];
        shmkit_open(&s, &o);
        _exit(8);
    }
    close(p[1]);
    ok(read(p[0], &c, 1) == 1, "%s: the creator is inside its initialiser", what);
    close(p[0]);

    shmkit_seg *t = NULL;
    struct shmkit_opts q = o;
    q.flags &= ~(unsigned)SHMKIT_CREATE;
    q.size = 0;
    q.init_wait_ms = 50;
    if (leaves_segment)
        is_rc(shmkit_open(&t, &q), -ETIMEDOUT, "%s: an opener times out while the creator lives",
              what);
    else
        is_rc(shmkit_open(&t, &q), -ENOENT, "%s: nothing visible while the creator initialises",
              what);
    shmkit_close(t); /* NULL unless the open wrongly succeeded */
    t = NULL;
    if (target) {
        /* the CLI: info shows the state at once; dump waits a second for
         * the initialiser (not the library's 10 s), then says why */
        uint64_t t0 = tu_now_ns();
        snprintf(cmd, sizeof cmd, "info %s", target);
        int st = cli(cmd, out, sizeof out);
        ok(st == 0 && strstr(out, "initialising:   yes"),
           "%s: shmkit info shows 'initialising: yes' (exit %d)", what, st);
        snprintf(cmd, sizeof cmd, "dump %s", target);
        st = cli(cmd, out, sizeof out);
        ok(st == 2 && strstr(out, "still initialising it"),
           "%s: shmkit dump gives up with exit 2: still initialising (exit %d: %.200s)", what, st,
           out);
        ok(tu_now_ns() - t0 < 5000000000ull, "%s: ... both within 5 s, not the library's 10 s",
           what);
    }
    kill(pid, SIGKILL);
    is_int(tu_wait_exit(pid), 128 + SIGKILL, "%s: creator killed", what);
    if (!leaves_segment) {
        is_rc(shmkit_open(&t, &q), -ENOENT, "%s: killed inside init: nothing left named", what);
        return;
    }
    q.init_wait_ms = 5000;
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_open(&t, &q), SHMKIT_EPEERDEAD,
          "%s: an opener sees the creator died in its initialiser", what);
    ok(tu_now_ns() - t0 < 1000000000ull, "%s: ... at once, not at the timeout", what);
    if (target) {
        snprintf(cmd, sizeof cmd, "dump %s", target);
        int st = cli(cmd, out, sizeof out);
        ok(st == 3 && strstr(out, "never initialised"),
           "%s: shmkit dump: exit 3, never initialised (exit %d: %.200s)", what, st, out);
    }
}

static void test_posix(int fallback)
{
    char name[96], arg[200];
    shmkit_seg *s = NULL;
    const char *what = fallback ? "POSIX fallback" : "POSIX";
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(name, sizeof name, "init"),
                            .size = sizeof(struct payload),
                            .flags = SHMKIT_CREATE};
    race(&o, what);
    struct shmkit_opts q = {.kind = SHMKIT_POSIX, .name = name};
    if (shmkit_open(&s, &q) == 0) {
        shmkit_seg_remove(s);
        shmkit_close(s);
    }
    snprintf(arg, sizeof arg, "'%s'", name);
    kill_in_init(o, what, fallback, fallback ? arg : NULL);
    if (fallback) {
        is_int(gc(arg), 0, "%s: shmkit gc NAME exits 0", what);
        ok(!tu_shm_exists(name), "%s: ... and removed the half-made segment", what);
    }
}

static void test_file(int fallback)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    shmkit_seg *s = NULL;
    const char *what = fallback ? "FILE fallback" : "FILE";
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/seg", dir);
    struct shmkit_opts o = {
        .kind = SHMKIT_FILE, .name = path, .size = sizeof(struct payload), .flags = SHMKIT_CREATE};
    race(&o, what);
    struct shmkit_opts q = {.kind = SHMKIT_FILE, .name = path};
    if (shmkit_open(&s, &q) == 0) {
        shmkit_seg_remove(s);
        shmkit_close(s);
    }
    kill_in_init(o, what, fallback, NULL); /* the CLI has no FILE targets */
    tu_tmpdir_rm(dir);
}

static void test_sysv(void)
{
    char arg[64];
    shmkit_seg *s = NULL;
    int32_t key = (int32_t)(0x42000000u | ((uint32_t)getpid() << 4) | 1u);
    struct shmkit_opts o = {
        .kind = SHMKIT_SYSV, .key = key, .size = sizeof(struct payload), .flags = SHMKIT_CREATE};
    race(&o, "SYSV");
    struct shmkit_opts q = {.kind = SHMKIT_SYSV, .key = key};
    if (shmkit_open(&s, &q) == 0) {
        shmkit_seg_remove(s);
        shmkit_close(s);
    }
    snprintf(arg, sizeof arg, "--key %d", (int)key);
    kill_in_init(o, "SYSV", 1, arg);
    snprintf(arg, sizeof arg, "--key %d", (int)key);
    is_int(gc(arg), 0, "SYSV: shmkit gc --key exits 0");
    ok(shmget(key, 0, 0) < 0 && errno == ENOENT, "SYSV: ... and removed the half-made segment");
}

/* A failing initialiser: its code, nothing left; bad combinations. */
static void test_fail(void)
{
    char name[96];
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(name, sizeof name, "initf"),
                            .size = 4096,
                            .flags = SHMKIT_CREATE,
                            .init = failing_init};
    is_rc(shmkit_open(&s, &o), -ENOTSUP, "failing initialiser: its code");
    ok(s == NULL && !tu_shm_exists(name), "... nothing left behind");
    setenv("SHMKIT_NO_TMPFILE", "1", 1);
    is_rc(shmkit_open(&s, &o), -ENOTSUP, "fallback, failing initialiser: its code");
    ok(s == NULL && !tu_shm_exists(name), "... nothing left behind");
    unsetenv("SHMKIT_NO_TMPFILE");
    o.flags = 0;
    is_rc(shmkit_open(&s, &o), -EINVAL, "init without CREATE: -EINVAL");
    o.flags = SHMKIT_CREATE | SHMKIT_RAW;
    is_rc(shmkit_open(&s, &o), -EINVAL, "init with RAW: -EINVAL");
    o.flags = SHMKIT_CREATE;
    o.init = NULL;
    is_rc(shmkit_open(&s, &o), 0, "no initialiser: created");
    is_int(shmkit_seg_created(s), 1, "shmkit_seg_created: 1 for the creator");
    shmkit_seg *t = NULL;
    is_rc(shmkit_open(&t, &o), 0, "CREATE again: attached");
    is_int(shmkit_seg_created(t), 0, "shmkit_seg_created: 0 for an attach");
    is_int(shmkit_seg_created(NULL), -EINVAL, "shmkit_seg_created(NULL): -EINVAL");
    shmkit_close(t);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

/* Not initialisation, but the same first contact: a System V segment's
 * size is the payload plus the header, and SHMKIT_PAYLOAD_FOR_PAGES gives
 * the payload that fills whole pages. */
static void test_sysv_pages(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    long page = sysconf(_SC_PAGESIZE);
    int32_t key = (int32_t)(0x42000000u | ((uint32_t)getpid() << 4) | 2u);
    struct shmkit_opts o = {
        .kind = SHMKIT_SYSV, .key = key, .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "SYSV 4096-byte payload");
    ok(s && shmkit_seg_stat(s, &in) == 0 && in.size == 4096 + SHMKIT_HEADER_SIZE,
       "... is a %d-byte segment", 4096 + SHMKIT_HEADER_SIZE);
    shmkit_seg_remove(s);
    shmkit_close(s);
    s = NULL;
    o.size = SHMKIT_PAYLOAD_FOR_PAGES(2, page);
    is_int((int)o.size, (int)(2 * page - 256), "SHMKIT_PAYLOAD_FOR_PAGES(2, page)");
    is_rc(shmkit_open(&s, &o), 0, "SYSV with that payload");
    ok(s && shmkit_seg_stat(s, &in) == 0 && in.size == (uint64_t)(2 * page),
       "... is exactly two pages");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

int main(void)
{
    test_posix(0);
    test_file(0);
    test_sysv();
    setenv("SHMKIT_NO_TMPFILE", "1", 1);
    test_posix(1);
    test_file(1);
    unsetenv("SHMKIT_NO_TMPFILE");
    test_fail();
    test_sysv_pages();
    tu_sysv_cleanup();
    return tap_done();
}
