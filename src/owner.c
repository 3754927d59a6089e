/* owner.c - process identity = pid + start time, and whether it still lives. */
#include "sync_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifdef __linux__
/* Reads state and start time (field 22) of /proc/PID/stat. The command name
 * (field 2) may hold spaces and parentheses, so parsing starts after the
 * last ')'. */
static int proc_stat(int32_t pid, char *state, uint64_t *start)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? -ESRCH : -errno;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    int err = errno;
    close(fd);
    if (n <= 0)
        return n < 0 ? -err : -ESRCH;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ')
        return -EIO;
    p += 2; /* field 3: state */
    *state = *p;
    for (int field = 3; field < 22; field++) {
        p = strchr(p, ' ');
        if (!p)
            return -EIO;
        p++;
    }
    unsigned long long v = 0;
    if (sscanf(p, "%llu", &v) != 1)
        return -EIO;
    *start = v;
    return 0;
}
#else
static int proc_stat(int32_t pid, char *state, uint64_t *start)
{
    /* Portable fallback: existence only; start time unknown (0). */
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return -ESRCH;
    *state = 'R';
    *start = 0;
    return 0;
}
#endif

/* Whether PID is gone: /proc's word is confirmed with kill(pid, 0), since a
 * process that /proc does not show us (hidepid=, out of descriptors, a
 * /proc of another pid namespace) still runs. Only ESRCH from both is
 * death: taking a live owner's role away is worse than waiting for it. */
static int pid_gone(int32_t pid, int proc_rc)
{
    if (proc_rc == 0)
        return 0;
    return kill(pid, 0) < 0 && errno == ESRCH;
}

/* PID's state and start time as far as they can be known: 0 with both set,
 * 1 alive but unknown (start 0: pid reuse cannot be told), -ESRCH gone. */
static int pid_probe(int32_t pid, char *state, uint64_t *start)
{
    int rc = proc_stat(pid, state, start);
    if (rc == 0)
        return 0;
    if (pid_gone(pid, rc))
        return -ESRCH;
    *state = 'R';
    *start = 0;
    return 1;
}

int shmkit_owner_of(int32_t pid, struct shmkit_owner *o)
{
    if (!o || pid <= 0)
        return -EINVAL;
    char st;
    uint64_t start;
    int rc = proc_stat(pid, &st, &start);
    if (rc < 0)
        return rc;
    o->pid = pid;
    o->pad = 0;
    o->start = start;
    return 0;
}

int shmkit_owner_self(struct shmkit_owner *o)
{
    return shmkit_owner_of((int32_t)getpid(), o);
}

int shmkit_owner_alive(const struct shmkit_owner *o)
{
    if (!o)
        return 0;
    /* copy once: the record may change under us */
    int32_t pid = shmkit__load_acquire(&o->pid);
    uint64_t start = shmkit__load_relaxed(&o->start);
    if (pid <= 0 || pid > (1 << 22))
        return 0;
    char st;
    uint64_t now;
    int rc = pid_probe(pid, &st, &now);
    if (rc < 0 || st == 'Z' || st == 'X') /* gone, or exited and not yet reaped */
        return 0;
    return rc == 1 || start == 0 || now == start;
}

#define START_MASK ((1ull << 40) - 1)

uint64_t shmkit__owner_id(const struct shmkit_owner *o)
{
    if (o->pid <= 0 || o->pid >= (1 << 22))
        return 0;
    return (uint64_t)o->pid << 40 | (o->start & START_MASK);
}

int shmkit__owner_id_alive(uint64_t id)
{
    int32_t pid = shmkit__owner_id_pid(id);
    if (pid <= 0)
        return 0;
    char st;
    uint64_t now;
    int rc = pid_probe(pid, &st, &now);
    if (rc < 0 || st == 'Z' || st == 'X')
        return 0;
    uint64_t start = id & START_MASK;
    /* start unknown on either side (no /proc, or /proc hides PID): alive */
    return rc == 1 || start == 0 || (now & START_MASK) == start;
}

/* The calling process's identity, cached: reading /proc on every seqlock
 * write would cost microseconds. A child after fork() must not inherit the
 * parent's cache, so an atfork handler clears it. */
static struct shmkit_owner self_cache;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_forget(void)
{
    /* relaxed: the child is single-threaded right after fork */
    shmkit__store_relaxed(&self_cache.pid, 0);
}

static void self_register(void)
{
    pthread_atfork(NULL, NULL, self_forget);
}

int shmkit__owner_self_cached(struct shmkit_owner *o)
{
    /* acquire: pairs with the release below, so start goes with the pid */
    int32_t pid = shmkit__load_acquire(&self_cache.pid);
    if (pid > 0) {
        o->pid = pid;
        o->pad = 0;
        o->start = shmkit__load_relaxed(&self_cache.start);
        return 0;
    }
    pthread_once(&self_once, self_register);
    struct shmkit_owner me;
    int rc = shmkit_owner_self(&me);
    if (rc < 0)
        return rc;
    shmkit__store_relaxed(&self_cache.start, me.start);
    /* release: publishes start before the pid that marks the cache valid */
    shmkit__store_release(&self_cache.pid, me.pid);
    *o = me;
    return 0;
}
