/* tap.c - TAP producer for test programs; see tap.h. */
#include "tap.h"

#include <shmkit.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int planned = -1;
/* The counts of tests run and failed. tap_share_counts moves them into a
 * shared page so that a case run in a child process (tu_case.c) numbers its
 * tests after the ones before it and the parent sees what it ran. */
static struct tap_counts {
    int run, failed;
} local_counts, *counts = &local_counts;

void tap_share_counts(void)
{
    struct tap_counts *c =
        mmap(NULL, sizeof *c, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED)
        tap_bail("mmap: %s", strerror(errno));
    *c = *counts;
    counts = c;
}

void tap_counts(int *nrun, int *nfailed)
{
    *nrun = counts->run;
    *nfailed = counts->failed;
}

void tap_plan(int n)
{
    planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

int tap_ok(int cond, const char *fmt, ...)
{
    va_list ap;
    counts->run++;
    if (!cond)
        counts->failed++;
    printf("%sok %d - ", cond ? "" : "not ", counts->run);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    if (!cond) {
        /* name the failure where prove shows it, not only in the TAP stream */
        fprintf(stderr, "# failed test %d: ", counts->run);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
    }
    return cond;
}

void tap_diag(const char *fmt, ...)
{
    va_list ap;
    fputs("# ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

void tap_fail_diag(const char *fmt, ...)
{
    va_list ap;
    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void tap_skip_all(const char *fmt, ...)
{
    va_list ap;
    fputs("1..0 # SKIP ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    exit(77);
}

void tap_bail(const char *fmt, ...)
{
    va_list ap;
    fputs("Bail out! ", stdout);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    exit(1);
}

int tap_done(void)
{
    if (planned < 0)
        printf("1..%d\n", counts->run);
    else if (planned != counts->run)
        printf("# planned %d tests but ran %d\n", planned, counts->run);
    fflush(stdout);
    exit(counts->failed || (planned >= 0 && planned != counts->run) ? 1 : 0);
}

const char *tu_name(char *buf, size_t len, const char *tag)
{
    static int n;
    snprintf(buf, len, "/shmkit-t-%ld-%d-%s", (long)getpid(), n++, tag);
    return buf;
}

uint64_t tu_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int tu_wait(pid_t pid, int timeout_ms, int *status)
{
    uint64_t end = tu_now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0)
            return -1;
        if (tu_now_ns() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -1;
        }
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

int tu_run_as(int uid, int gid, int quiet, int timeout_ms, const char *const *args)
{
    char reuid[32], regid[32];
    snprintf(reuid, sizeof reuid, "--reuid=%d", uid);
    snprintf(regid, sizeof regid, "--regid=%d", gid);
    const char *argv[40] = {"setpriv", reuid, regid, "--clear-groups"};
    int n = 4;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(stdout);
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        if (quiet) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execvp("setpriv", (char *const *)argv);
        _exit(126);
    }
    int st;
    if (tu_wait(p, timeout_ms, &st) < 0)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int tu_code_status(int rc)
{
    if (rc >= 0)
        return 0;
    if (rc <= -SHMKIT_ERRNO_BASE)
        return 100 + (-rc - SHMKIT_ERRNO_BASE);
    return -rc;
}

const char *tu_built(char *buf, size_t len, const char *rel)
{
    const char *b = getenv("SHMKIT_BUILD");
    snprintf(buf, len, "%s/%s", b && *b ? b : "build", rel);
    return buf;
}

int tu_ready(int fd, int timeout_ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    char c;
    int ready = poll(&pf, 1, timeout_ms) == 1 && read(fd, &c, 1) == 1;
    close(fd);
    return ready;
}
