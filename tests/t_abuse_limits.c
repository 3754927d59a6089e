/* t_abuse_limits.c - out of memory, out of descriptors, out of tmpfs: clean
 * errors, never a crash, nothing left behind.
 *
 * Without arguments (any user): in forked children,
 *   - RLIMIT_NOFILE exhausted: every kind of open/create, table create and
 *     the fcntl lock give -EMFILE; the CLI under `prlimit --nofile` exits
 *     with an error, not a signal;
 *   - RLIMIT_AS exhausted (skipped under ASan, which reserves terabytes):
 *     creating 64 MiB of POSIX, System V, anonymous and memfd memory gives
 *     -ENOMEM and removes the half-made segment; the CLI too.
 * With the argument "tmpfs" (run by t_abuse_fulltmpfs.t inside a private
 * mount namespace whose /dev/shm is a 1 MiB tmpfs): create beyond the free
 * space gives -ENOSPC (library: plain, table, ring; CLI: exit 2), nothing
 * is left behind, a segment that did fit is writable to its last byte,
 * and no call dies of SIGBUS - not even with the tmpfs filled to the
 * last page. */
#include "tap.h"

#include <shmkit.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define ASAN TAP_UNDER_ASAN

static char cli[512];
static int have_cli;

/* Runs FN in a child with the default SIGBUS/SIGSEGV actions (so a
 * sanitizer cannot turn a fault into an exit code); returns its exit
 * status, or 128 + the signal that killed it. */
static int in_child(int (*fn)(void *), void *arg)
{
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        signal(SIGBUS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        _exit(fn(arg));
    }
    int st;
    if (p < 0 || tu_wait(p, 60000, &st) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A shell command's exit status, or 128 + signal. */
static int sh(const char *cmd)
{
    int st = system(cmd);
    if (st == -1)
        return -1;
    if (WIFSIGNALED(st))
        return 128 + WTERMSIG(st);
    int rc = WEXITSTATUS(st);
    return rc; /* the shell reports a signalled child as 128 + n itself */
}

static int shm_count(const char *prefix)
{
    DIR *d = opendir("/dev/shm");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return n;
}

/* ================= RLIMIT_NOFILE ================= */

static char nf_name[96], nf_existing[96], nf_dir[64];

static int nofile_child(void *arg)
{
    (void)arg;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    /* the lowest free descriptor becomes the limit: nothing more opens */
    int lowest = dup(0);
    if (lowest < 0)
        return 90;
    close(lowest);
    rl.rlim_cur = (rlim_t)lowest;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 91;
    int bad = 0;
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = nf_name, .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    bad |= (shmkit_open(&s, &o) != -EMFILE) << 0;
    struct shmkit_opts oe = {.kind = SHMKIT_POSIX, .name = nf_existing};
    bad |= (shmkit_open(&s, &oe) != -EMFILE) << 1;
    struct shmkit_opts om = {.kind = SHMKIT_MEMFD, .name = "nofile", .size = 4096,
                             .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &om) != -EMFILE) << 2;
    char path[128];
    snprintf(path, sizeof path, "%s/f", nf_dir);
    struct shmkit_opts of = {.kind = SHMKIT_FILE, .name = path, .size = 4096,
                             .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &of) != -EMFILE) << 3;
    shmkit_table *t = NULL;
    struct shmkit_opts ot = {.kind = SHMKIT_POSIX, .name = nf_name};
    bad |= (shmkit_table_create(&t, &ot, 16, 16, 0) != -EMFILE) << 4;
    shmkit_flock *l = NULL;
    bad |= (shmkit_flock_open(&l, path, SHMKIT_FLOCK_CREATE) != -EMFILE) << 5;
    /* anonymous and System V memory need no descriptor: they still work */
    struct shmkit_opts oa = {.kind = SHMKIT_ANON, .size = 4096, .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &oa) != 0) << 6;
    shmkit_close(s);
    return bad;
}

static void test_nofile(void)
{
    tu_name(nf_name, sizeof nf_name, "nofile");
    tu_name(nf_existing, sizeof nf_existing, "nofile-old");
    snprintf(nf_dir, sizeof nf_dir, "/tmp/shmkit-nofile-XXXXXX");
    if (!mkdtemp(nf_dir))
        tap_bail("mkdtemp");
    shmkit_seg *e = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = nf_existing, .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&e, &o) < 0)
        tap_bail("create %s", nf_existing);
    int rc = in_child(nofile_child, NULL);
    is_int(rc, 0, "RLIMIT_NOFILE exhausted: POSIX create/open, MEMFD, FILE, table create and "
           "flock open all give -EMFILE; ANON still works (failure bits 0x%x)", rc);
    ok(shm_count(nf_name + 1) == 0, "... and the failed creates left no segment behind");
    char f[128];
    snprintf(f, sizeof f, "%s/f", nf_dir);
    ok(access(f, F_OK) != 0, "... nor a file");
    if (have_cli) {
        /* 4 descriptors: the dynamic loader needs the fourth to start the
         * CLI; after that, every segment ls opens is one too many */
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "prlimit --nofile=4:4 '%s' --version >/dev/null 2>&1", cli);
        if (sh(cmd) != 0) {
            tap_diag("the CLI does not start with 4 descriptors; CLI part skipped");
        } else {
            snprintf(cmd, sizeof cmd, "prlimit --nofile=4:4 '%s' ls >/dev/null 2>&1", cli);
            int st = sh(cmd);
            ok(st >= 0 && st <= 3, "shmkit ls out of descriptors: a documented exit (%d), no signal",
               st);
            snprintf(cmd, sizeof cmd, "prlimit --nofile=4:4 '%s' verify '%s' >/dev/null 2>&1", cli,
                     nf_existing);
            st = sh(cmd);
            ok(st >= 0 && st <= 3, "shmkit verify out of descriptors: a documented exit (%d)", st);
        }
    }
    shmkit_seg_remove(e);
    shmkit_close(e);
    rmdir(nf_dir);
}

/* ================= RLIMIT_AS ================= */

#define BIG (64u << 20)
static char as_name[96], as_table[96];

static int as_child(void *arg)
{
    (void)arg;
    /* room for what is mapped now plus 16 MiB: a 64 MiB mapping cannot fit */
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long vm = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmSize:", 7))
            vm = atol(line + 7);
    if (f)
        fclose(f);
    struct rlimit rl = {(rlim_t)(vm + 16384) * 1024, (rlim_t)(vm + 16384) * 1024};
    if (vm == 0 || setrlimit(RLIMIT_AS, &rl) < 0)
        return 90;
    int bad = 0;
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = as_name, .size = BIG,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    bad |= (shmkit_open(&s, &o) != -ENOMEM) << 0;
    struct shmkit_opts os = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = BIG,
                             .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &os) != -ENOMEM) << 1;
    struct shmkit_opts oa = {.kind = SHMKIT_ANON, .size = BIG, .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &oa) != -ENOMEM) << 2;
    struct shmkit_opts om = {.kind = SHMKIT_MEMFD, .name = "as", .size = BIG,
                             .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &om) != -ENOMEM) << 3;
    shmkit_table *t = NULL;
    struct shmkit_opts ot = {.kind = SHMKIT_POSIX, .name = as_table};
    bad |= (shmkit_table_create(&t, &ot, 4096, 16384, 0) != -ENOMEM) << 4;
    /* and small things still work */
    struct shmkit_opts small = {.kind = SHMKIT_ANON, .size = 4096, .flags = SHMKIT_CREATE};
    bad |= (shmkit_open(&s, &small) != 0) << 5;
    shmkit_close(s);
    return bad;
}

static int sysv_count(void)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    int n = -1;
    char line[512];
    while (f && fgets(line, sizeof line, f))
        n++;
    if (f)
        fclose(f);
    return n;
}

static void test_as(void)
{
    if (ASAN) {
        tap_diag("RLIMIT_AS: skipped under ASan (its shadow memory needs terabytes of address space)");
        return;
    }
    tu_name(as_name, sizeof as_name, "as");
    tu_name(as_table, sizeof as_table, "astable");
    int sysv0 = sysv_count();
    int rc = in_child(as_child, NULL);
    is_int(rc, 0, "RLIMIT_AS exhausted: 64 MiB POSIX, SYSV, ANON, MEMFD and a 64 MiB table all "
           "give -ENOMEM; a small one still works (failure bits 0x%x)", rc);
    ok(shm_count(as_name + 1) == 0 && shm_count(as_table + 1) == 0,
       "... no POSIX segment left behind");
    is_int(sysv_count(), sysv0, "... no System V segment left behind");
    if (have_cli) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "prlimit --as=40000000 '%s' create '%s' --size 64M >/dev/null 2>&1",
                 cli, as_name);
        int st = sh(cmd);
        ok(st == 2, "shmkit create --size 64M under a 40 MB RLIMIT_AS: exit 2 (got %d)", st);
        ok(shm_count(as_name + 1) == 0, "... and nothing left behind");
        shmkit_posix_remove(as_name);
    }
}

/* ================= full tmpfs ================= */

static int create_posix(const char *name, size_t size, unsigned flags, shmkit_seg **out)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = size,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL | flags};
    *out = NULL;
    return shmkit_open(out, &o);
}

static int fill_child(void *arg)
{
    shmkit_seg *s = arg;
    memset(shmkit_seg_data(s), 0xa5, shmkit_seg_size(s)); /* every page really there */
    return shmkit_seg_seal(s) == 0 && shmkit_seg_verify(s) == 0 ? 0 : 1;
}

static int full_child(void *arg)
{
    (void)arg;
    /* fill the tmpfs to the last page with small segments, then try
     * everything that writes a header */
    char name[96];
    int made = 0;
    for (int i = 0; i < 4096; i++) {
        shmkit_seg *s;
        snprintf(name, sizeof name, "/shmkit-t-full-%d", i);
        if (create_posix(name, 4096 - SHMKIT_HEADER_SIZE, 0, &s) != 0)
            break;
        shmkit_close(s);
        made++;
    }
    for (int i = 0; i < 4096; i++) { /* and the odd pages left */
        shmkit_seg *s;
        snprintf(name, sizeof name, "/shmkit-t-fill-%d", i);
        if (create_posix(name, 1, 0, &s) != 0)
            break;
        shmkit_close(s);
    }
    int bad = 0;
    shmkit_seg *s;
    bad |= (create_posix("/shmkit-t-full-x", 1, 0, &s) != -ENOSPC) << 0;
    /* a sparse segment: the library must not fault writing its header */
    int rc = create_posix("/shmkit-t-full-nr", 1 << 20, SHMKIT_NORESERVE, &s);
    bad |= (rc != -ENOSPC && rc != 0) << 1;
    shmkit_close(s);
    shmkit_posix_remove("/shmkit-t-full-nr");
    shmkit_table *t = NULL;
    struct shmkit_opts ot = {.kind = SHMKIT_POSIX, .name = "/shmkit-t-full-t"};
    bad |= (shmkit_table_create(&t, &ot, 8, 8, 0) != -ENOSPC) << 2;
    return made > 0 ? bad : 64;
}

static void test_tmpfs(void)
{
    shmkit_seg *s = NULL;
    is_rc(create_posix("/shmkit-t-big", 2 << 20, 0, &s), -ENOSPC,
          "2 MiB segment on a 1 MiB tmpfs: -ENOSPC at create");
    ok(shm_count("shmkit-t-big") == 0, "... nothing left behind");
    shmkit_table *t = NULL;
    struct shmkit_opts ot = {.kind = SHMKIT_POSIX, .name = "/shmkit-t-bigtable"};
    is_rc(shmkit_table_create(&t, &ot, 1024, 2048, 0), -ENOSPC, "2 MiB table: -ENOSPC");
    is_rc(create_posix("/shmkit-t-bigring", shmkit_ring_size_for(1 << 21), 0, &s), -ENOSPC,
          "2 MiB ring segment: -ENOSPC");
    char dir_path[] = "/dev/shm/shmkit-t-file";
    struct shmkit_opts of = {.kind = SHMKIT_FILE, .name = dir_path, .size = 2 << 20,
                             .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &of), -ENOSPC, "2 MiB FILE segment on the tmpfs: -ENOSPC");
    ok(shm_count("shmkit-t-") == 0, "no failed create left anything behind");

    shmkit_seg *a = NULL, *b = NULL;
    is_rc(create_posix("/shmkit-t-a", 600 << 10, 0, &a), 0, "600 KiB segment fits");
    is_int(in_child(fill_child, a), 0, "... every byte writable, seal and verify: no SIGBUS");
    is_rc(create_posix("/shmkit-t-b", 600 << 10, 0, &b), -ENOSPC,
          "a second 600 KiB segment: -ENOSPC (not a SIGBUS later)");
    ok(shm_count("shmkit-t-b") == 0, "... not left behind");
    shmkit_ring *r = NULL;
    is_rc(create_posix("/shmkit-t-r", shmkit_ring_size_for(256 << 10), 0, &b), 0,
          "a 256 KiB ring fits in what is left");
    ok(b && shmkit_ring_create(&r, b, 256 << 10, SHMKIT_RING_PRODUCER) == 0,
       "... ring_create writes its control block: no SIGBUS");
    shmkit_ring_close(r);
    if (b)
        shmkit_seg_remove(b);
    shmkit_close(b);
    if (have_cli) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "'%s' create /shmkit-t-cli --size 2M >/dev/null 2>&1", cli);
        is_int(sh(cmd), 2, "shmkit create --size 2M: exit 2 (ENOSPC), no SIGBUS");
        snprintf(cmd, sizeof cmd, "'%s' create /shmkit-t-cliring --ring 1M >/dev/null 2>&1", cli);
        is_int(sh(cmd), 2, "shmkit create --ring 1M: exit 2");
        snprintf(cmd, sizeof cmd, "'%s' create /shmkit-t-clitab --table 1000:1024 >/dev/null 2>&1",
                 cli);
        is_int(sh(cmd), 2, "shmkit create --table 1000:1024: exit 2");
        ok(shm_count("shmkit-t-cli") == 0, "... nothing left behind by the CLI");
    }
    shmkit_seg_remove(a);
    shmkit_close(a);

    int rc = in_child(full_child, NULL);
    is_int(rc, 0, "tmpfs filled to the last page: create, sparse create and table create fail "
           "cleanly, no SIGBUS (status %d)", rc);
    if (have_cli) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "'%s' create /shmkit-t-cli2 --size 1 >/dev/null 2>&1", cli);
        is_int(sh(cmd), 2, "... shmkit create --size 1 on the full tmpfs: exit 2, no SIGBUS");
        snprintf(cmd, sizeof cmd, "'%s' ls >/dev/null 2>&1", cli);
        is_int(sh(cmd), 0, "... shmkit ls still works");
    }
    /* this tmpfs vanishes with the namespace; tidy anyway */
    DIR *d = opendir("/dev/shm");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char n[300];
        if (!strncmp(e->d_name, "shmkit-t-", 9)) {
            snprintf(n, sizeof n, "/%s", e->d_name);
            shmkit_posix_remove(n);
        }
    }
    if (d)
        closedir(d);
}

int main(int argc, char **argv)
{
    tu_built(cli, sizeof cli, "bin/shmkit");
    have_cli = access(cli, X_OK) == 0;
    if (argc >= 2 && !strcmp(argv[1], "tmpfs")) {
        test_tmpfs();
        return tap_done();
    }
    if (system("prlimit --version >/dev/null 2>&1") != 0)
        have_cli = 0;
    test_nofile();
    test_as();
    return tap_done();
}
