/*
 * tap.h - Test Anything Protocol output for shmkit's test programs.
 *
 * Each test is its own program; prove(1) runs them (through tests/run1,
 * which adds a timeout) and prints the summary. A test that cannot run here
 * calls tap_skip_all(), which prints the TAP skip plan and exits 77.
 */
#ifndef SHMKIT_TAP_H
#define SHMKIT_TAP_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

void tap_plan(int n);
/* Prints "ok N - msg" or "not ok N - msg" and returns COND. */
int tap_ok(int cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Like tap_diag, on stderr: details of a failure, which prove always shows. */
void tap_fail_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tap_skip_all(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void tap_bail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Prints the plan if none was given and exits: 0 when every test passed. */
int tap_done(void);
/* Moves the run/failed counts into shared memory, so forked children count
 * on from the parent's numbers and the parent sees theirs (tu_case.c). */
void tap_share_counts(void);
void tap_counts(int *run, int *failed);

/* 1 in an AddressSanitizer build (gcc or clang): long tests scale down there. */
#if defined(__SANITIZE_ADDRESS__)
#define TAP_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TAP_UNDER_ASAN 1
#endif
#endif
#ifndef TAP_UNDER_ASAN
#define TAP_UNDER_ASAN 0
#endif

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(got, want, ...)                                                                     \
    do {                                                                                           \
        long long g_ = (long long)(got), w_ = (long long)(want);                                   \
        if (!tap_ok(g_ == w_, __VA_ARGS__))                                                        \
            tap_fail_diag("  got %lld, want %lld (%s)", g_, w_, #got);                             \
    } while (0)
/* A shmkit call expected to return CODE; shows both codes' names on failure. */
#define is_rc(got, want, ...)                                                                      \
    do {                                                                                           \
        int g_ = (int)(got), w_ = (int)(want);                                                     \
        if (!tap_ok(g_ == w_, __VA_ARGS__))                                                        \
            tap_fail_diag("  got %d %s, want %d %s (%s)", g_, shmkit_errname(g_), w_,              \
                          shmkit_errname(w_), #got);                                               \
    } while (0)

/* ---- helpers for multi-process tests (tests/lib/testutil.c) ---- */

/* A unique POSIX segment name "/shmkit-t-PID-N-TAG" in BUF (size >= 64). */
const char *tu_name(char *buf, size_t len, const char *tag);
/* waitpid with a timeout; kills (SIGKILL) and reaps the child on timeout.
 * Returns 0 and *STATUS, or -1 on timeout. */
int tu_wait(pid_t pid, int timeout_ms, int *status);
/* Path of a built program: $SHMKIT_BUILD/REL (default build/REL). */
const char *tu_built(char *buf, size_t len, const char *rel);
/* Waits up to TIMEOUT_MS for one byte on FD (a child saying "ready"), then
 * closes FD. Returns 1 if the byte came, 0 otherwise. */
int tu_ready(int fd, int timeout_ms);
/* Runs ARGS (NULL-terminated, a program and its arguments) as another
 * user through setpriv(1): uid UID, gid GID, no supplementary groups;
 * its stdout and stderr go to /dev/null when QUIET. Waits up to
 * TIMEOUT_MS (then kills it). Returns its exit status, 128 + the signal
 * that killed it, or -1 (no fork, or timed out). */
int tu_run_as(int uid, int gid, int quiet, int timeout_ms, const char *const *args);
/* A shmkit result as a process exit status, for helpers that run as
 * another user: 0 for success, the errno of -errno, 100 + the number of
 * a SHMKIT_E* code. */
int tu_code_status(int rc);
/* Monotonic time in nanoseconds. */
uint64_t tu_now_ns(void);

#endif
