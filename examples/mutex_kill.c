/*
 * mutex_kill.c - a robust mutex whose holder is killed with kill -9, and the repair.
 *
 * WHAT IT TEACHES
 *   Two accounts in shared memory always add up to 100; a transfer takes the mutex, takes
 *   10 from one account, gives 10 to the other, and unlocks. A child is killed (SIGKILL:
 *   nothing runs, no handler, no cleanup) in the middle of a transfer, mutex held.
 *   With a plain mutex everybody would wait for ever. A robust mutex is handed to the next
 *   locker with SHMKIT_EOWNERDEAD: "you have the lock, but its holder died while holding
 *   it; the data may be half-updated". The new holder repairs (here: the missing 10 go
 *   back), calls shmkit_mutex_consistent, and life goes on. Unlocking without the repair
 *   would make the mutex unrecoverable (SHMKIT_ENOTRECOVERABLE) for everyone.
 *
 * USAGE   mutex_kill
 */
#include <shmkit.h>

#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

struct bank {
    struct shmkit_mutex lock;
    volatile int a, b; /* a + b == 100 whenever nobody holds the lock */
    volatile int halfway;
};

int main(void)
{
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sizeof(struct bank), .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "mutex_kill: %s\n", shmkit_strerror(rc));
        return 1;
    }
    struct bank *bank = shmkit_seg_data(seg);
    shmkit_mutex_init(&bank->lock);
    bank->a = 60, bank->b = 40;
    printf("accounts: a = %d, b = %d (sum %d)\n", bank->a, bank->b, bank->a + bank->b);
    fflush(stdout);

    pid_t pid = fork();
    if (pid == 0) { /* the transfer that never finishes */
        shmkit_mutex_lock(&bank->lock);
        bank->a -= 10;
        bank->halfway = 1; /* ... and here it is killed, before b += 10 */
        for (;;)
            pause();
    }
    while (!bank->halfway)
        usleep(1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    printf("the child is killed with SIGKILL halfway through a transfer, mutex held\n");

    rc = shmkit_mutex_lock(&bank->lock);
    printf("shmkit_mutex_lock: %s\n", shmkit_errname(rc));
    if (rc == SHMKIT_EOWNERDEAD) {
        printf("  the state may be broken: a = %d, b = %d (sum %d)\n", bank->a, bank->b,
               bank->a + bank->b);
        bank->b = 100 - bank->a; /* repair: the 10 that left a reach b */
        rc = shmkit_mutex_consistent(&bank->lock);
        printf("  repaired: a = %d, b = %d (sum %d); shmkit_mutex_consistent: %s\n", bank->a,
               bank->b, bank->a + bank->b, rc == 0 ? "ok" : shmkit_strerror(rc));
    }
    shmkit_mutex_unlock(&bank->lock);
    rc = shmkit_mutex_lock(&bank->lock);
    printf("next lock: %s\n", rc == 0 ? "0 (an ordinary lock again)" : shmkit_errname(rc));
    shmkit_mutex_unlock(&bank->lock);
    shmkit_mutex_destroy(&bank->lock);
    shmkit_close(seg);
    return 0;
}
