/* t_abuse_perm.c - another user against our segments (needs root).
 * A second user, nobody (uid/gid 65534, no supplementary groups, through
 * setpriv), runs this very binary as a helper and the shmkit CLI:
 *   - a 0600 POSIX segment: nobody cannot open it read-write or read-only
 *     (so cannot map it), cannot remove it (library and `shmkit rm`), and
 *     `shmkit gc` (named, --force, or a full sweep) leaves it alone, though
 *     its creator is dead: root's gc then removes it (the control);
 *   - a 0600 System V segment: no attach, no IPC_RMID, no `rm --id`;
 *   - group-readable (0640, group nogroup): nobody reads it through its
 *     group, cannot write it; a user outside the group cannot read it;
 *   - exclusive create never reuses a name someone else made: root's
 *     CREATE|EXCL and `shmkit create --excl` on nobody's segment fail with
 *     EEXIST and leave its bytes alone, and the same the other way round;
 *   - symlinks planted by nobody (in /tmp, and in /dev/shm itself) are not
 *     followed: FILE and POSIX opens fail with -ELOOP (or EEXIST for an
 *     exclusive create) and the target is untouched. */
#include "tap.h"

#include <shmkit.h>

#include <errno.h>
#include <fcntl.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOBODY 65534

static char self[4096], cli[512];
static int have_cli;

/* Runs ARGS (NULL-terminated) as uid NOBODY, gid GID, no groups, output
 * discarded. Returns the exit status, 128+signal, or -1. */
static int as_user(int gid, const char *const *args)
{
    return tu_run_as(NOBODY, gid, 1, 20000, args);
}

static int nobody(const char *const *args)
{
    return as_user(NOBODY, args);
}

/* Runs the CLI as root (stdout/stderr discarded); exit status. */
static int cli_root(const char *const *args)
{
    const char *argv[16] = {cli};
    int n = 1;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(cli, (char *const *)argv);
        _exit(126);
    }
    int st;
    if (p < 0 || tu_wait(p, 20000, &st) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int shm_exists(const char *name)
{
    char path[300];
    snprintf(path, sizeof path, "/dev/shm%s", name);
    return access(path, F_OK) == 0;
}

/* ---- helper side (runs as nobody): exit 0, or the errno of the failure,
 * or 100 + n for shmkit's own code n ---- */

static int code(int rc)
{
    if (rc >= 0)
        return 0;
    if (rc <= -SHMKIT_ERRNO_BASE)
        return 100 + (-rc - SHMKIT_ERRNO_BASE);
    return -rc;
}

static int helper(int argc, char **argv)
{
    const char *cmd = argv[2];
    if (!strcmp(cmd, "open") && argc >= 6) { /* open posix|sysv NAME|ID rw|ro [CONTENT] */
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.flags = !strcmp(argv[5], "ro") ? SHMKIT_RDONLY : 0};
        if (!strcmp(argv[3], "posix")) {
            o.kind = SHMKIT_POSIX;
            o.name = argv[4];
        } else {
            o.kind = SHMKIT_SYSV;
            o.flags |= SHMKIT_SHMID;
            o.shmid = atoi(argv[4]);
        }
        int rc = shmkit_open(&s, &o);
        if (rc == 0 && argc >= 7 && memcmp(shmkit_seg_data(s), argv[6], strlen(argv[6])))
            rc = -EBADMSG; /* opened, but does not read what root wrote */
        shmkit_close(s);
        return code(rc);
    }
    if (!strcmp(cmd, "rm") && argc >= 5) {
        if (!strcmp(argv[3], "posix"))
            return code(shmkit_posix_remove(argv[4]));
        return code(shmkit_sysv_remove(atoi(argv[4])));
    }
    if (!strcmp(cmd, "create-excl") && argc >= 4) { /* a 0600 segment of nobody's */
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = argv[3], .size = 4096,
                                .flags = SHMKIT_CREATE | SHMKIT_EXCL};
        int rc = shmkit_open(&s, &o);
        if (rc == 0)
            memcpy(shmkit_seg_data(s), "nobody's", 8);
        shmkit_close(s);
        return code(rc);
    }
    if (!strcmp(cmd, "symlink") && argc >= 5)
        return symlink(argv[3], argv[4]) == 0 ? 0 : errno;
    return 99;
}

/* ---- the tests (as root) ---- */

static void test_posix_0600(void)
{
    char name[96];
    tu_name(name, sizeof name, "perm600");
    shmkit_seg *s = NULL;
    int rc;
    if (have_cli) {
        /* made by the CLI: its creator is dead, so gc would remove it */
        rc = cli_root((const char *[]){"create", name, "--size", "4K", "--mode", "0600", NULL});
        is_int(rc, 0, "root: shmkit create %s --mode 0600", name);
    } else {
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = 4096,
                                .flags = SHMKIT_CREATE | SHMKIT_EXCL};
        shmkit_open(&s, &o);
        shmkit_close(s);
    }
    is_int(nobody((const char *[]){self, "helper", "open", "posix", name, "rw", NULL}), EACCES,
           "nobody: open read-write (map) -> EACCES");
    is_int(nobody((const char *[]){self, "helper", "open", "posix", name, "ro", NULL}), EACCES,
           "nobody: open read-only (map) -> EACCES");
    is_int(nobody((const char *[]){self, "helper", "rm", "posix", name, NULL}), EACCES,
           "nobody: shmkit_posix_remove -> EACCES");
    if (have_cli) {
        ok(nobody((const char *[]){cli, "rm", name, NULL}) == 2, "nobody: shmkit rm exits 2");
        /* (shmkit info may still show what stat(2) shows, as ls -l does) */
        ok(nobody((const char *[]){cli, "cat", name, NULL}) != 0, "nobody: shmkit cat fails");
        ok(nobody((const char *[]){cli, "write", name, NULL}) != 0, "nobody: shmkit write fails");
        nobody((const char *[]){cli, "gc", name, NULL});
        nobody((const char *[]){cli, "gc", "--force", name, NULL});
        nobody((const char *[]){cli, "gc", NULL});
        ok(shm_exists(name), "nobody: shmkit gc NAME / gc --force NAME / gc: the segment stays");
    }
    ok(shm_exists(name), "after all that, the segment is still there");
    if (have_cli) {
        is_int(cli_root((const char *[]){"gc", name, NULL}), 0, "root: shmkit gc NAME");
        ok(!shm_exists(name), "... removes it (its creator is dead): nobody's gc really refused");
    }
    shmkit_posix_remove(name);
}

static void test_sysv_0600(void)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = 4096,
                            .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0) {
        ok(0, "create a System V segment");
        return;
    }
    struct shmkit_info in;
    shmkit_seg_stat(s, &in);
    char id[32];
    snprintf(id, sizeof id, "%d", in.shmid);
    is_int(nobody((const char *[]){self, "helper", "open", "sysv", id, "ro", NULL}), EACCES,
           "SYSV 0600: nobody cannot attach it (EACCES)");
    is_int(nobody((const char *[]){self, "helper", "rm", "sysv", id, NULL}), EPERM,
           "SYSV 0600: nobody cannot IPC_RMID it (EPERM)");
    if (have_cli) {
        ok(nobody((const char *[]){cli, "rm", "--id", id, NULL}) != 0,
           "SYSV 0600: nobody's shmkit rm --id fails");
        nobody((const char *[]){cli, "gc", "--force", "--id", id, NULL});
    }
    struct shmid_ds ds;
    ok(shmctl(in.shmid, IPC_STAT, &ds) == 0, "SYSV 0600: still there");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_group(void)
{
    char name[96];
    tu_name(name, sizeof name, "perm640");
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = 4096, .mode = 0640,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0 || fchown(shmkit_seg_fd(s), (uid_t)-1, NOBODY) < 0) {
        ok(0, "create a 0640 segment of group %d", NOBODY);
        shmkit_seg_remove(s);
        shmkit_close(s);
        return;
    }
    memcpy(shmkit_seg_data(s), "for the group", 13);
    is_int(nobody((const char *[]){self, "helper", "open", "posix", name, "ro", "for the group",
                                   NULL}), 0,
           "POSIX 0640 group nogroup: a member reads it (and sees root's bytes)");
    is_int(nobody((const char *[]){self, "helper", "open", "posix", name, "rw", NULL}), EACCES,
           "... but cannot open it for writing");
    is_int(as_user(12345, (const char *[]){self, "helper", "open", "posix", name, "ro", NULL}),
           EACCES, "... and a user outside the group cannot read it");
    shmkit_seg_remove(s);
    shmkit_close(s);

    struct shmkit_opts so = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = 4096, .mode = 0640,
                             .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &so) < 0 || shmkit_sysv_set(s, 0640, (uid_t)-1, NOBODY) < 0) {
        ok(0, "create a 0640 System V segment of group %d", NOBODY);
    } else {
        memcpy(shmkit_seg_data(s), "sysv group", 10);
        struct shmkit_info in;
        shmkit_seg_stat(s, &in);
        char id[32];
        snprintf(id, sizeof id, "%d", in.shmid);
        is_int(nobody((const char *[]){self, "helper", "open", "sysv", id, "ro", "sysv group",
                                       NULL}), 0,
               "SYSV 0640 group nogroup: a member attaches it read-only");
        is_int(as_user(12345, (const char *[]){self, "helper", "open", "sysv", id, "ro", NULL}),
               EACCES, "... a user outside the group cannot");
    }
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_excl(void)
{
    char name[96];
    tu_name(name, sizeof name, "permexcl");
    is_int(nobody((const char *[]){self, "helper", "create-excl", name, NULL}), 0,
           "nobody creates %s exclusively", name);
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), -EEXIST, "root: CREATE|EXCL of nobody's name -> EEXIST");
    shmkit_close(s);
    if (have_cli)
        ok(cli_root((const char *[]){"create", name, "--size", "4K", "--excl", NULL}) != 0,
           "root: shmkit create --excl of nobody's name fails");
    struct shmkit_opts ro = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    s = NULL;
    ok(shmkit_open(&s, &ro) == 0 && !memcmp(shmkit_seg_data(s), "nobody's", 8),
       "nobody's segment kept its bytes");
    struct shmkit_info in;
    ok(s && shmkit_seg_stat(s, &in) == 0 && in.uid == NOBODY && (in.mode & 0777) == 0600,
       "... and its owner and mode");
    shmkit_close(s);
    shmkit_posix_remove(name);

    /* the other way round */
    tu_name(name, sizeof name, "permexcl2");
    o.name = name;
    s = NULL;
    if (shmkit_open(&s, &o) == 0) {
        is_int(nobody((const char *[]){self, "helper", "create-excl", name, NULL}), EEXIST,
               "nobody: CREATE|EXCL of root's name -> EEXIST (not a reuse)");
        shmkit_seg_remove(s);
    }
    shmkit_close(s);
}

static void test_symlinks(void)
{
    char dir[] = "/tmp/shmkit-perm-XXXXXX", victim[300], link[300];
    if (!mkdtemp(dir)) {
        ok(0, "mkdtemp");
        return;
    }
    chmod(dir, 01777); /* like /tmp: anyone may plant a link here */
    snprintf(victim, sizeof victim, "%s/victim", dir);
    snprintf(link, sizeof link, "%s/link", dir);
    int fd = open(victim, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || write(fd, "precious", 8) != 8) {
        ok(0, "victim file");
        return;
    }
    close(fd);
    is_int(nobody((const char *[]){self, "helper", "symlink", victim, link, NULL}), 0,
           "nobody plants %s -> root's file", link);
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = link};
    is_rc(shmkit_open(&s, &o), -ELOOP, "root: FILE open of the link -> ELOOP");
    shmkit_close(s);
    s = NULL;
    o.flags = SHMKIT_CREATE;
    o.size = 1 << 20;
    is_rc(shmkit_open(&s, &o), -ELOOP, "root: FILE create through the link -> ELOOP");
    shmkit_close(s);
    s = NULL;
    o.flags = SHMKIT_RAW | SHMKIT_RDONLY;
    o.size = 0;
    is_rc(shmkit_open(&s, &o), -ELOOP, "root: FILE raw read-only open of the link -> ELOOP");
    shmkit_close(s);
    struct stat st;
    ok(stat(victim, &st) == 0 && st.st_size == 8, "the target was not truncated or grown");

    /* a symlink inside /dev/shm itself, under a segment name */
    char name[96], shmpath[300];
    tu_name(name, sizeof name, "permlink");
    snprintf(shmpath, sizeof shmpath, "/dev/shm%s", name);
    if (nobody((const char *[]){self, "helper", "symlink", victim, shmpath, NULL}) != 0) {
        ok(0, "nobody could not plant a link in /dev/shm");
    } else {
        s = NULL;
        struct shmkit_opts po = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RAW};
        is_rc(shmkit_open(&s, &po), -ELOOP, "root: POSIX open of a /dev/shm symlink -> ELOOP");
        shmkit_close(s);
        s = NULL;
        po.flags = SHMKIT_CREATE;
        po.size = 1 << 20;
        int rc = shmkit_open(&s, &po);
        ok(rc == -ELOOP || rc == -EEXIST, "root: POSIX create over it -> ELOOP or EEXIST (got %s)",
           shmkit_errname(rc));
        shmkit_close(s);
        if (have_cli)
            ok(cli_root((const char *[]){"create", name, "--size", "1M", NULL}) != 0,
               "root: shmkit create over it fails");
        ok(stat(victim, &st) == 0 && st.st_size == 8, "the target is still untouched");
        unlink(shmpath);
    }
    unlink(link);
    unlink(victim);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "helper"))
        return helper(argc, argv);
    if (geteuid() != 0)
        tap_skip_all("needs root to act as a second user");
    if (system("setpriv --version >/dev/null 2>&1") != 0)
        tap_skip_all("setpriv (util-linux) not installed");
    if (!realpath(argv[0], self))
        tap_bail("realpath");
    char clirel[512];
    tu_built(clirel, sizeof clirel, "bin/shmkit");
    have_cli = realpath(clirel, cli) && access(cli, X_OK) == 0;
    if (nobody((const char *[]){self, "helper", "nothing", NULL}) != 99)
        tap_skip_all("nobody cannot run %s (directory permissions?)", self);
    tap_diag("second user: uid %d gid %d via setpriv%s", NOBODY, NOBODY,
             have_cli ? "" : "; CLI not built, library only");
    test_posix_0600();
    test_sysv_0600();
    test_group();
    test_excl();
    test_symlinks();
    return tap_done();
}
