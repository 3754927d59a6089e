/* tu_case.c - named test cases in child processes; see tu_case.h. */
#include "tu_case.h"

#include <errno.h>
#include <fnmatch.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int selected(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (!fnmatch(argv[i], name, 0))
            return 1;
    return 0;
}

static int case_timeout(const struct tu_case *c)
{
    const char *e = getenv("SHMKIT_CASE_TIMEOUT");
    if (c->timeout_s > 0)
        return c->timeout_s;
    return e && atoi(e) > 0 ? atoi(e) : 120;
}

/* Waits for the case's child; after LIMIT seconds kills its whole process
 * group (the case's own children too). Returns the status, or -1 on timeout. */
static int wait_case(pid_t pid, int limit, int *status)
{
    uint64_t end = tu_now_ns() + (uint64_t)limit * 1000000000u;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            tap_bail("waitpid: %s", strerror(errno));
        if (tu_now_ns() > end) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -1;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
}

static void run_case(const struct tu_case *c)
{
    int limit = case_timeout(c), status = 0, before, bad_before, after, bad_after;
    tap_counts(&before, &bad_before);
    tap_diag("case %s", c->name);
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid < 0)
        tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0); /* so a timeout kills what the case started too */
        /* out of the runner's group, the case must still die with it (when
         * tests/run1's timeout kills the runner) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        c->fn();
        exit(0); /* the case's atexit handlers (cleanup) run here */
    }
    setpgid(pid, pid);
    int timed_out = wait_case(pid, limit, &status) < 0;
    tap_counts(&after, &bad_after);
    if (timed_out)
        ok(0, "case %s: killed after %d s (SHMKIT_CASE_TIMEOUT)", c->name, limit);
    else if (WIFSIGNALED(status))
        ok(0, "case %s: killed by signal %d after %d checks", c->name, WTERMSIG(status),
           after - before);
    else if (WEXITSTATUS(status) != 0)
        ok(0, "case %s: exit status %d after %d checks", c->name, WEXITSTATUS(status),
           after - before);
    else if (after == before)
        ok(0, "case %s: ran no check", c->name);
}

int tu_run_cases(int argc, char **argv, const struct tu_case *cases)
{
    if (argc == 2 && !strcmp(argv[1], "--list")) {
        for (const struct tu_case *c = cases; c->name; c++)
            puts(c->name);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        int found = 0;
        for (const struct tu_case *c = cases; c->name && !found; c++)
            found = !fnmatch(argv[i], c->name, 0);
        if (!found) {
            fprintf(stderr, "%s: no case matches '%s' (--list names them)\n", argv[0], argv[i]);
            return 2;
        }
    }
    tap_share_counts();
    for (const struct tu_case *c = cases; c->name; c++)
        if (selected(c->name, argc, argv))
            run_case(c);
    return tap_done();
}
