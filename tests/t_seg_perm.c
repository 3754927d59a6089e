/* t_seg_perm.c - permissions: a helper run as nobody (setpriv, or runuser)
 * cannot open a 0600 segment of root's: -EACCES for POSIX, System V and
 * FILE; it can read a 0644 one but not map it writable. Needs root; skipped
 * (exit 77) otherwise. */
#include "tu_seg.h"

#define NOBODY 65534

static const char *const as_nobody_setpriv[] = {"setpriv", "--reuid=65534", "--regid=65534",
                                                "--clear-groups", NULL};
static const char *const as_nobody_runuser[] = {"runuser", "-u", "nobody", "--", NULL};
static const char *const *as_nobody;

/* Runs the helper as nobody: 0 = opened, 13 = -EACCES, other = failure. */
static int nobody(const char *const *args)
{
    return tu_run_self(as_nobody, args);
}

static void test_posix(void)
{
    char name[96];
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "perm"),
                            .size = 64, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create");
    is_int(nobody((const char *[]){"open", "posix", name, NULL}), 13,
           "POSIX 0600: nobody cannot open it read-write (-EACCES)");
    is_int(nobody((const char *[]){"open", "rdonly", "posix", name, NULL}), 13,
           "POSIX 0600: nor read-only (-EACCES)");
    is_int(nobody((const char *[]){"create-existing", name, NULL}), 13,
           "POSIX 0600: CREATE without EXCL of it: -EACCES");
    ok(tu_shm_exists(name), "... and the segment is still there");
    if (fchmod(shmkit_seg_fd(s), 0644) < 0)
        tap_bail("fchmod");
    is_int(nobody((const char *[]){"open", "rdonly", "posix", name, NULL}), 0,
           "POSIX 0644: nobody opens it read-only");
    is_int(nobody((const char *[]){"open", "posix", name, NULL}), 13,
           "POSIX 0644: but not read-write (-EACCES)");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_sysv(void)
{
    shmkit_seg *s = NULL;
    int32_t key = (int32_t)(0x50000000u | ((uint32_t)getpid() << 4));
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .key = key, .size = 64,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create sysv");
    char ks[32];
    snprintf(ks, sizeof ks, "%d", (int)key);
    is_int(nobody((const char *[]){"open", "sysv-key", ks, NULL}), 13,
           "SYSV 0600: nobody cannot attach (-EACCES)");
    is_int(nobody((const char *[]){"open", "rdonly", "sysv-key", ks, NULL}), 13,
           "SYSV 0600: nor read-only (-EACCES)");
    is_rc(shmkit_sysv_set(s, 0644, (uid_t)-1, (gid_t)-1), 0, "IPC_SET mode 0644");
    is_int(nobody((const char *[]){"open", "rdonly", "sysv-key", ks, NULL}), 0,
           "SYSV 0644: nobody attaches read-only");
    is_int(nobody((const char *[]){"open", "sysv-key", ks, NULL}), 13,
           "SYSV 0644: but not read-write (-EACCES)");
    is_rc(shmkit_sysv_set(s, 0600, NOBODY, NOBODY), 0, "IPC_SET owner nobody, mode 0600");
    is_int(nobody((const char *[]){"open", "sysv-key", ks, NULL}), 0,
           "SYSV owned by nobody: now nobody attaches read-write");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_file(void)
{
    char dir[256], path[PATH_MAX];
    shmkit_seg *s = NULL;
    tu_tmpdir(dir, sizeof dir);
    chmod(dir, 0755); /* nobody may look inside; the file's own mode decides */
    snprintf(path, sizeof path, "%s/seg", dir);
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path, .size = 64,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("create file");
    is_int(nobody((const char *[]){"open", "rdonly", "file", path, NULL}), 13,
           "FILE 0600: nobody cannot open it (-EACCES)");
    shmkit_close(s);
    tu_tmpdir_rm(dir);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "create-existing")) {
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = argv[2], .size = 64,
                                .flags = SHMKIT_CREATE};
        int rc = shmkit_open(&s, &o);
        shmkit_close(s);
        return rc == -EACCES ? 13 : rc == 0 ? 0 : 3;
    }
    int h = tu_helper(argc, argv);
    if (h >= 0)
        return h;
    if (geteuid() != 0)
        tap_skip_all("needs root to run a helper as another user");
    if (system("setpriv --version >/dev/null 2>&1") == 0)
        as_nobody = as_nobody_setpriv;
    else if (system("runuser --version >/dev/null 2>&1") == 0)
        as_nobody = as_nobody_runuser;
    else
        tap_skip_all("neither setpriv nor runuser is installed");
    /* the helper is this very binary: nobody must be able to run it */
    if (tu_run_self(as_nobody, (const char *[]){"open", "rdonly", "posix", "/", NULL}) != 3)
        tap_skip_all("nobody cannot run %s (directory permissions?)", tu_self());
    tap_diag("helper runs as uid %d via %s", NOBODY, as_nobody[0]);
    test_posix();
    test_sysv();
    test_file();
    tu_sysv_cleanup();
    return tap_done();
}
