/* t_table_owner.c - shmkit_table_owner tells the three states apart
 * (issue 12): 0 for a record never claimed (or released), 1 for a live
 * owner, SHMKIT_EPEERDEAD for an owner that died holding it (kill -9) -
 * and the record still names that owner, and a claim takes it over. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static char name[96];
static shmkit_table *t;

static void cleanup(void)
{
    if (t)
        shmkit_table_remove(t);
}

int main(void)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "tbo")};
    if (shmkit_table_create(&t, &o, 64, 4, 0) < 0)
        tap_bail("table create");
    atexit(cleanup);
    struct shmkit_owner ow = {.pid = 99};
    is_rc(shmkit_table_owner(t, 0, &ow), 0, "never claimed: 0");
    is_int(ow.pid, 0, "... and no owner named");
    is_rc(shmkit_table_claim(t, 0), 0, "claim");
    is_rc(shmkit_table_owner(t, 0, &ow), 1, "claimed by us: 1");
    is_rc(shmkit_table_release(t, 0), 0, "release");
    is_rc(shmkit_table_owner(t, 0, NULL), 0, "released: 0");

    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t k = fork();
    if (k == 0) {
        if (shmkit_table_claim(t, 1) != 0)
            _exit(1);
        (void)!write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    close(pfd[1]);
    ok(tu_ready(pfd[0], 5000), "a child claimed record 1");
    is_rc(shmkit_table_owner(t, 1, NULL), 1, "the child lives: 1");
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    is_rc(shmkit_table_owner(t, 1, &ow), SHMKIT_EPEERDEAD,
          "the child killed: SHMKIT_EPEERDEAD, not 0 as for never claimed");
    is_int(ow.pid, k, "... naming the dead child");
    is_rc(shmkit_table_owner(t, 2, NULL), 0, "another record never claimed: still 0");
    is_rc(shmkit_table_claim(t, 1), 1, "a claim takes the dead child's record over");
    is_rc(shmkit_table_owner(t, 1, &ow), 1, "then: a live owner");
    is_int(ow.pid, getpid(), "... us");
    is_rc(shmkit_table_owner(t, 9, NULL), -ERANGE, "out of range: -ERANGE");
    is_rc(shmkit_table_owner(NULL, 0, NULL), -EINVAL, "NULL: -EINVAL");
    return tap_done();
}
