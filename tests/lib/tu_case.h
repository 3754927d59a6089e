/*
 * tu_case.h - named test cases, each run in its own child process (after
 * libuv's test runner): one case that fails, crashes or hangs is reported as
 * such and the next case starts clean.
 *
 *     static void ring_full(void) { ... ok(...); ... }
 *     static const struct tu_case cases[] = {
 *         {"full", ring_full}, ..., {NULL, NULL}};
 *     int main(int argc, char **argv) { return tu_run_cases(argc, argv, cases); }
 *
 *     PROGRAM            every case, in order
 *     PROGRAM --list     the case names, one a line
 *     PROGRAM NAME...    only these cases (shell patterns allowed: 'hostile*')
 *
 * The TAP stream stays flat: a case's checks are numbered after the previous
 * case's (tap_share_counts), and a case that dies or exceeds its time limit
 * adds one failing line naming it. The limit is SHMKIT_CASE_TIMEOUT seconds
 * (default 120) unless the case sets its own. A case sets up and tears down
 * its own state; atexit handlers it registers run when its child exits.
 */
#ifndef SHMKIT_TU_CASE_H
#define SHMKIT_TU_CASE_H

#include "tap.h"

struct tu_case {
    const char *name;
    void (*fn)(void);
    int timeout_s; /* 0: SHMKIT_CASE_TIMEOUT or 120 */
};

/* Runs the cases argv selects (see above) and exits through tap_done. */
int tu_run_cases(int argc, char **argv, const struct tu_case *cases);

#endif
