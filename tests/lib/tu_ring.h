/* tu_ring.h - self-checking messages and segment helpers for the
 * ring and bus tests. A message is [seq u64][id u32][len u32] followed by
 * bytes derived from (id, seq): any torn, partial, shifted or foreign byte
 * fails tu_msg_check. */
#ifndef SHMKIT_TU_RING_H
#define SHMKIT_TU_RING_H

#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#define TU_MSG_HDR 16u

/* Sanitized builds run a tenth of the iterations (stated in a diag line). */
#define TU_SCALE(n) (TAP_UNDER_ASAN ? (n) / 10 : (n))

static inline uint64_t tu_mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A length in [TU_MSG_HDR, max] that depends on seq. */
static inline size_t tu_msg_len(uint32_t id, uint64_t seq, size_t max)
{
    return TU_MSG_HDR + (size_t)(tu_mix(seq * 31 + id) % (max - TU_MSG_HDR + 1));
}

static inline void tu_msg_fill(void *p, size_t len, uint32_t id, uint64_t seq)
{
    unsigned char *b = p;
    uint32_t l = (uint32_t)len;
    memcpy(b, &seq, 8);
    memcpy(b + 8, &id, 4);
    memcpy(b + 12, &l, 4);
    uint64_t k = tu_mix(seq ^ ((uint64_t)id << 40));
    size_t i = TU_MSG_HDR;
    for (; i + 8 <= len; i += 8) {
        uint64_t w = k + i;
        memcpy(b + i, &w, 8);
    }
    for (; i < len; i++)
        b[i] = (unsigned char)(k + i);
}

/* 0 when P holds a complete message; fills *ID and *SEQ. */
static inline int tu_msg_check(const void *p, size_t len, uint32_t *id, uint64_t *seq)
{
    const unsigned char *b = p;
    uint32_t l;
    if (len < TU_MSG_HDR)
        return -1;
    memcpy(seq, b, 8);
    memcpy(id, b + 8, 4);
    memcpy(&l, b + 12, 4);
    if (l != len)
        return -2;
    uint64_t k = tu_mix(*seq ^ ((uint64_t)*id << 40));
    size_t i = TU_MSG_HDR;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, b + i, 8);
        if (w != k + i)
            return -3;
    }
    for (; i < len; i++)
        if (b[i] != (unsigned char)(k + i))
            return -3;
    return 0;
}

/* The identity of a process that no longer exists (a child, killed and
 * reaped): what a process killed while holding or taking a role leaves. */
static inline void tu_dead_owner(struct shmkit_owner *o)
{
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0) {
        pause();
        _exit(0);
    }
    int rc = shmkit_owner_of(pid, o);
    kill(pid, SIGKILL);
    int st;
    if (rc < 0 || tu_wait(pid, 10000, &st) < 0)
        tap_bail("dead owner: %s", shmkit_strerror(rc));
}

/* A shared anonymous segment of SIZE payload bytes (children share it). */
static inline shmkit_seg *tu_seg_anon(size_t size)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = size, .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        tap_bail("anonymous segment: %s", shmkit_strerror(rc));
    return s;
}

/* Runs OP(ARG) in a child traced instruction by instruction and kills it
 * with SIGKILL EXTRA instructions after its first store to the LEN bytes
 * at REGION (shared memory): a process killed at an exact point of taking
 * a role, not wherever a timer happens to land. Returns 1 if it was killed
 * there, 0 if OP finished (or stored nothing) first, -1 if the child
 * cannot be traced here. */
static inline int tu_step_kill(void (*op)(void *), void *arg, const void *region, size_t len,
                               long extra)
{
    unsigned char snap[4096];
    if (len > sizeof snap)
        len = sizeof snap;
    memcpy(snap, region, len);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
            _exit(70);
        raise(SIGSTOP);
        op(arg);
        _exit(0);
    }
    int st, killed = 0;
    if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
        if (!WIFEXITED(st) && !WIFSIGNALED(st))
            tu_wait(pid, 10000, &st);
        return -1;
    }
    long left = -1;
    for (long n = 0; n < 20000000; n++) {
        if (ptrace(PTRACE_SINGLESTEP, pid, NULL, NULL) < 0)
            break;
        if (waitpid(pid, &st, 0) < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
            pid = 0;
            break;
        }
        if (left < 0 && memcmp(snap, region, len))
            left = extra;
        if (left >= 0 && left-- == 0) {
            killed = 1;
            break;
        }
    }
    if (pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
    }
    return killed;
}

/* A fresh POSIX segment of SIZE payload bytes; removed at exit of the test
 * through t_seg_cleanup (call it on every path). */
static inline shmkit_seg *tu_seg_new(char *name, size_t namelen, const char *tag, size_t size)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(name, namelen, tag),
                            .size = size,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    int rc = shmkit_open(&s, &o);
    if (rc < 0)
        tap_bail("cannot create %s: %s", name, shmkit_strerror(rc));
    return s;
}

static inline shmkit_seg *tu_seg_open(const char *name)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = shmkit_open(&s, &o);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", name, shmkit_strerror(rc));
        _exit(90);
    }
    return s;
}

#ifdef SHMKIT_CHAN_H /* tests that forge claim words (src/chan.h included first) */
/* The owner identities a forged claim word names: a process that died, the
 * caller, and the caller's pid with another start time (a reused pid). */
static inline void tu_claim_ids(uint64_t *dead, uint64_t *live, uint64_t *recycled)
{
    struct shmkit_owner o;
    tu_dead_owner(&o);
    *dead = shmkit__owner_id(&o);
    if (shmkit_owner_self(&o) < 0)
        tap_bail("owner_self");
    *live = shmkit__owner_id(&o);
    o.start += 1;
    *recycled = shmkit__owner_id(&o);
}
#endif

#endif
