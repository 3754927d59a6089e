/* t_seg_file.c - FILE segments: create, read in a forked and an exec'd
 * process, stat; MAP_SHARED changes reach the file, MAP_PRIVATE ones do not;
 * symlinks refused unless asked; a FIFO or directory is refused without
 * hanging; read-only; long paths; remove. */
#include "tu_seg.h"

static char dir[256];

static const char *path_in(char *buf, size_t len, const char *leaf)
{
    snprintf(buf, len, "%s/%s", dir, leaf);
    return buf;
}

/* What the file itself holds at OFF (read(2), not through a mapping). */
static int file_has(const char *path, off_t off, const char *want)
{
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return 0;
    ssize_t n = pread(fd, buf, strlen(want) + 1, off);
    close(fd);
    return n == (ssize_t)strlen(want) + 1 && !memcmp(buf, want, (size_t)n);
}

static void test_roundtrip(void)
{
    char path[PATH_MAX], reply[80];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_info in;
    struct stat st;
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path_in(path, sizeof path, "seg"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "create %s", path);
    if (!s)
        tap_bail("no FILE segment");
    ok(stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 4096 + SHMKIT_HEADER_SIZE,
       "the file exists with header + payload bytes");
    is_rc(shmkit_seg_stat(s, &in), 0, "stat");
    is_int(in.kind, SHMKIT_FILE, "stat: kind");
    ok(!strcmp(in.name, path), "stat: path");
    is_int(in.size, 4096 + SHMKIT_HEADER_SIZE, "stat: size");
    is_int(in.payload_size, 4096, "stat: payload size");
    is_int(in.mode, 0600, "stat: mode 0600");
    is_int(in.uid, geteuid(), "stat: uid");
    ok(in.has_header && in.creator_pid == getpid(), "stat: header");

    char *d = shmkit_seg_data(s);
    strcpy(d, "file-fork");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *av[] = {"x", "read", "file", path, "file-fork", NULL};
        _exit(tu_helper(5, av));
    }
    is_int(tu_wait_exit(pid), 0, "forked process opens the path and reads");
    tu_reply(reply, sizeof reply, "file-fork");
    ok(!strcmp(d + 128, reply), "parent sees the forked process's reply");
    strcpy(d, "file-exec");
    is_int(tu_run_self(NULL, (const char *[]){"read", "file", path, "file-exec", NULL}), 0,
           "exec'd process opens the path and reads");
    tu_reply(reply, sizeof reply, "file-exec");
    ok(!strcmp(d + 128, reply), "parent sees the exec'd process's reply");
    ok(file_has(path, SHMKIT_HEADER_SIZE, "file-exec"), "MAP_SHARED: the write reached the file");

    /* MAP_PRIVATE: copy-on-write, nothing reaches the file */
    struct shmkit_opts op = {.kind = SHMKIT_FILE, .name = path, .flags = SHMKIT_PRIVATE};
    is_rc(shmkit_open(&t, &op), 0, "open MAP_PRIVATE");
    if (t) {
        char *p = shmkit_seg_data(t);
        ok(!strcmp(p, "file-exec"), "MAP_PRIVATE: sees the file's bytes");
        strcpy(p, "private!");
        ok(!strcmp(p, "private!"), "MAP_PRIVATE: sees its own change");
        ok(file_has(path, SHMKIT_HEADER_SIZE, "file-exec"), "MAP_PRIVATE: the file is unchanged");
        ok(!strcmp(d, "file-exec"), "MAP_PRIVATE: the shared mapping is unchanged");
        shmkit_close(t);
        t = NULL;
    }

    struct shmkit_opts orr = {.kind = SHMKIT_FILE, .name = path, .flags = SHMKIT_RDONLY};
    is_rc(shmkit_open(&t, &orr), 0, "open read-only");
    if (t) {
        is_int(tu_child_write(shmkit_seg_data(t)), 128 + SIGSEGV,
               "a child writing through the read-only mapping dies with SIGSEGV");
        shmkit_close(t);
        t = NULL;
    }
    is_rc(shmkit_open(&t, &o), -EEXIST, "CREATE|EXCL of an existing file: -EEXIST");

    is_rc(shmkit_seg_remove(s), 0, "remove unlinks the file");
    ok(access(path, F_OK) != 0, "the file is gone");
    is_rc(shmkit_seg_remove(s), -ENOENT, "second remove: -ENOENT");
    struct shmkit_opts oo = {.kind = SHMKIT_FILE, .name = path};
    is_rc(shmkit_open(&t, &oo), -ENOENT, "open-only of a missing file: -ENOENT");
    shmkit_close(s);
}

static void test_private_create(void)
{
    char path[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path_in(path, sizeof path, "priv"),
                            .size = 100, .flags = SHMKIT_CREATE | SHMKIT_PRIVATE};
    is_rc(shmkit_open(&s, &o), 0, "create with MAP_PRIVATE");
    if (!s)
        return;
    strcpy(shmkit_seg_data(s), "not in the file");
    struct shmkit_opts oo = {.kind = SHMKIT_FILE, .name = path};
    is_rc(shmkit_open(&t, &oo), 0, "... the file still gets a valid header");
    ok(t && ((char *)shmkit_seg_data(t))[0] == '\0', "... but not the private payload");
    shmkit_close(t);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_symlink_fifo_dir(void)
{
    char path[PATH_MAX], link[PATH_MAX], fifo[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path_in(path, sizeof path, "target"),
                            .size = 64, .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create target");
    if (symlink(path, path_in(link, sizeof link, "link")) < 0)
        tap_bail("symlink: %s", strerror(errno));
    struct shmkit_opts ol = {.kind = SHMKIT_FILE, .name = link};
    is_rc(shmkit_open(&t, &ol), -ELOOP, "opening through a symlink: -ELOOP");
    ol.flags = SHMKIT_CREATE;
    ol.size = 64;
    is_rc(shmkit_open(&t, &ol), -ELOOP, "CREATE on a symlink: -ELOOP");
    ol.flags = SHMKIT_CREATE | SHMKIT_EXCL;
    is_rc(shmkit_open(&t, &ol), -EEXIST, "CREATE|EXCL on a symlink: -EEXIST");
    ok(access(link, F_OK) == 0 && access(path, F_OK) == 0, "... link and target untouched");
    ol.flags = SHMKIT_FOLLOW;
    is_rc(shmkit_open(&t, &ol), 0, "with SHMKIT_FOLLOW it opens");
    shmkit_close(t);
    t = NULL;

    if (mkfifo(path_in(fifo, sizeof fifo, "fifo"), 0600) < 0)
        tap_bail("mkfifo: %s", strerror(errno));
    struct shmkit_opts of = {.kind = SHMKIT_FILE, .name = fifo, .flags = SHMKIT_RDONLY};
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_open(&t, &of), -EINVAL, "a FIFO (read-only): -EINVAL");
    of.flags = 0;
    is_rc(shmkit_open(&t, &of), -EINVAL, "a FIFO (read-write): -EINVAL");
    ok(tu_now_ns() - t0 < 1000000000u, "... without waiting for a writer");
    struct shmkit_opts od = {.kind = SHMKIT_FILE, .name = dir, .flags = SHMKIT_RDONLY};
    is_rc(shmkit_open(&t, &od), -EINVAL, "a directory (read-only): -EINVAL");
    od.flags = 0;
    is_rc(shmkit_open(&t, &od), -EISDIR, "a directory (read-write): -EISDIR");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_long_path(void)
{
    char deep[1024], path[PATH_MAX];
    shmkit_seg *s = NULL;
    snprintf(deep, sizeof deep, "%s", dir);
    for (int i = 0; i < 4; i++) {
        size_t n = strlen(deep);
        deep[n] = '/';
        memset(deep + n + 1, 'd' + i, 100);
        deep[n + 101] = '\0';
        if (mkdir(deep, 0700) < 0)
            tap_bail("mkdir: %s", strerror(errno));
    }
    snprintf(path, sizeof path, "%s/segment", deep);
    ok(strlen(path) > 400, "a %zu-character path", strlen(path));
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path, .size = 64,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "... can be created");
    is_rc(shmkit_seg_remove(s), 0, "... and removed through the handle (whole path kept)");
    ok(access(path, F_OK) != 0, "... it is gone");
    shmkit_close(s);
}

int main(int argc, char **argv)
{
    int h = tu_helper(argc, argv);
    if (h >= 0)
        return h;
    tu_tmpdir(dir, sizeof dir);
    test_roundtrip();
    test_private_create();
    test_symlink_fifo_dir();
    test_long_path();
    tu_tmpdir_rm(dir);
    return tap_done();
}
