/*
 * locks.c - the course's fcntl() lock file: readers share, the writer excludes, nobody is
 * forced; and why shmkit uses open-file-description locks rather than the classic ones.
 *
 * WHAT IT TEACHES
 *   1. Before reading, a process takes a shared lock (F_RDLCK) on the first byte of an empty
 *      lock file; before writing, an exclusive one (F_WRLCK). Two readers hold F_RDLCK at the
 *      same time; the writer is refused until both let go, and F_GETLK says who is in the way.
 *   2. The locks are advisory: they only stop processes that ask for them. A process that
 *      just write()s the file (as `dd` writes into /dev/shm) is not stopped at all.
 *   3. Classic locks (F_SETLK) belong to the process: closing ANY descriptor of the file
 *      drops them, even one opened by a library for something else, and two threads of a
 *      process share them. Open-file-description locks (F_OFD_SETLK, Linux 3.15, POSIX 2024)
 *      belong to the open file: only closing that one drops them. shmkit_flock uses them.
 *
 * USAGE   locks
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* F_SETLK (or F_OFD_SETLK) of TYPE on the first byte; 0 or errno. */
static int lock_byte0(int fd, int cmd, short type)
{
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    return fcntl(fd, cmd, &fl) == 0 ? 0 : errno;
}

/* Runs FN(path) in a child process and returns its exit status. */
static int in_child(int (*fn)(const char *), const char *path)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = fn(path);
        fflush(stdout);
        _exit(rc); /* its locks go with it */
    }
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
}

static int try_write_lock(const char *path) /* another process: 0 = granted, 1 = refused */
{
    int fd = open(path, O_RDWR);
    return lock_byte0(fd, F_SETLK, F_WRLCK) == 0 ? 0 : 1;
}

static int reader_two(const char *path)
{
    int fd = open(path, O_RDONLY);
    int rc = lock_byte0(fd, F_SETLK, F_RDLCK);
    printf("   reader 2 (another process): F_RDLCK: %s\n", rc ? strerror(rc) : "granted (shared)");
    return rc != 0;
}

static int writer_blocked(const char *path)
{
    int fd = open(path, O_RDWR);
    int rc = lock_byte0(fd, F_SETLK, F_WRLCK);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
    fcntl(fd, F_GETLK, &fl);
    printf("   writer (another process): F_WRLCK: %s; F_GETLK: %s held by pid %d%s\n",
           rc ? "refused" : "granted?", fl.l_type == F_RDLCK ? "F_RDLCK" : "?", (int)fl.l_pid,
           fl.l_pid == getppid() ? " (reader 1)" : "");
    return 0;
}

static int plain_write(const char *path)
{
    int fd = open(path, O_WRONLY);
    return write(fd, "x", 1) == 1 ? 0 : 1; /* never asks for a lock */
}

int main(void)
{
    char path[] = "/tmp/locks.XXXXXX"; /* the lock file: empty, only for locking */
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mkstemp");
        return 1;
    }
    printf("1. readers share, the writer waits:\n");
    printf("   reader 1: F_RDLCK on byte 0: %s\n", lock_byte0(fd, F_SETLK, F_RDLCK) ? "?" : "granted");
    in_child(reader_two, path); /* gets its shared lock while reader 1 holds one */
    in_child(writer_blocked, path);
    lock_byte0(fd, F_SETLK, F_UNLCK);
    printf("   reader 1 unlocks; the writer tries again: %s\n",
           in_child(try_write_lock, path) ? "refused" : "granted");

    lock_byte0(fd, F_SETLK, F_WRLCK);
    printf("2. advisory: this process holds F_WRLCK; another one write()s the file without asking: %s\n",
           in_child(plain_write, path) ? "failed" : "the write succeeds");
    lock_byte0(fd, F_SETLK, F_UNLCK);

    int other = open(path, O_RDONLY);
    lock_byte0(fd, F_SETLK, F_WRLCK);
    close(other); /* e.g. a library that opened the same file to read its size */
    printf("3. classic F_SETLK, then close() of ANOTHER descriptor of the file: lock %s\n",
           in_child(try_write_lock, path) ? "kept" : "lost (another process gets F_WRLCK)");
    lock_byte0(fd, F_SETLK, F_UNLCK);
#ifdef F_OFD_SETLK
    other = open(path, O_RDONLY);
    lock_byte0(fd, F_OFD_SETLK, F_WRLCK);
    close(other);
    printf("   OFD F_OFD_SETLK, the same close(): lock %s\n",
           in_child(try_write_lock, path) ? "kept (it belongs to the open file)" : "lost");
#endif
    close(fd);
    unlink(path);
    return 0;
}
