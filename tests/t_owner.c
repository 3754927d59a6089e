/*
 * t_owner - process identity (pid + start time) and liveness, src/owner.c:
 * the record of a live process, of one reaped, of a zombie, of a pid reused
 * (caught by its start time), hostile pids, the 64-bit claim-word identity,
 * and a live process that /proc hides from the caller (hidepid=2, as nobody,
 * in a private mount namespace): it must never look dead, or its lock or
 * channel role would be taken from it.
 */
#include <shmkit.h>

#include "sync_internal.h"
#include "tap.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <grp.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child that exits at once: its record, taken while it lived. */
static pid_t short_child(struct shmkit_owner *o)
{
    int go[2];
    if (pipe(go) < 0)
        tap_bail("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork: %s", strerror(errno));
    if (pid == 0) {
        char c;
        close(go[1]);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(go[0]);
    if (shmkit_owner_of(pid, o) < 0)
        tap_bail("shmkit_owner_of(child)");
    close(go[1]); /* let it exit */
    return pid;
}

/* Waits until PID is a zombie (exited, not reaped). */
static int wait_zombie(pid_t pid)
{
    siginfo_t si;
    for (int i = 0; i < 3000; i++) {
        memset(&si, 0, sizeof si);
        if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == pid)
            return 1;
        usleep(1000);
    }
    return 0;
}

/* In a child: a private mount namespace with a /proc mounted hidepid=2,
 * then nobody; reports through its exit status what it saw of PARENT
 * (alive, by record and by claim-word identity) and of DEAD (gone). */
static int hidden_view(const struct shmkit_owner *parent, const struct shmkit_owner *dead)
{
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
            mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") < 0)
            _exit(77);
        if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
            setresuid(65534, 65534, 65534) < 0)
            _exit(78);
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", (int)parent->pid);
        if (access(path, F_OK) == 0)
            _exit(79); /* hidepid did not hide root's process from nobody */
        int bits = 0;
        bits |= shmkit_owner_alive(parent) == 1 ? 1 : 0;
        bits |= shmkit__owner_id_alive(shmkit__owner_id(parent)) == 1 ? 2 : 0;
        bits |= shmkit_owner_alive(dead) == 0 ? 4 : 0;
        bits |= shmkit__owner_id_alive(shmkit__owner_id(dead)) == 0 ? 8 : 0;
        _exit(bits);
    }
    int status;
    if (tu_wait(pid, 10000, &status) < 0 || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

int main(void)
{
    tap_plan(17);
    struct shmkit_owner me, o;
    is_rc(shmkit_owner_self(&me), 0, "shmkit_owner_self");
    ok(me.pid == getpid() && me.start > 0, "the record holds our pid and a start time");
    is_int(shmkit_owner_alive(&me), 1, "we are alive");
    is_int(shmkit__owner_id_alive(shmkit__owner_id(&me)), 1, "and so is our claim-word identity");

    /* a pid reused: same pid, another start time */
    o = me;
    o.start = me.start + 1;
    is_int(shmkit_owner_alive(&o), 0, "a record with our pid but another start time is dead (pid reuse)");
    is_int(shmkit__owner_id_alive(shmkit__owner_id(&o)), 0, "likewise its claim-word identity");

    /* a zombie, then the same child reaped */
    pid_t pid = short_child(&o);
    ok(wait_zombie(pid), "the child exited (zombie, not reaped)");
    is_int(shmkit_owner_alive(&o), 0, "a zombie is dead");
    int status;
    tu_wait(pid, 5000, &status);
    struct shmkit_owner dead = o;
    is_int(shmkit_owner_alive(&dead), 0, "a reaped child is dead");
    is_int(shmkit__owner_id_alive(shmkit__owner_id(&dead)), 0, "likewise its claim-word identity");

    /* hostile records, as a corrupted segment may hold them */
    struct shmkit_owner bad[] = {{.pid = 0}, {.pid = -1}, {.pid = (1 << 22) + 1}, {.pid = INT32_MAX}};
    int all_dead = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        all_dead &= shmkit_owner_alive(&bad[i]) == 0;
    ok(all_dead, "pids 0, -1, 2^22+1 and INT32_MAX are nobody alive");
    ok(shmkit_owner_alive(NULL) == 0, "a NULL record is nobody");
    is_rc(shmkit_owner_of(-5, &o), -EINVAL, "shmkit_owner_of(-5) is -EINVAL");
    is_rc(shmkit_owner_of(1, NULL), -EINVAL, "shmkit_owner_of(pid, NULL) is -EINVAL");

    /* what /proc hides is not dead */
    if (geteuid() != 0) {
        for (int i = 0; i < 3; i++)
            ok(1, "# SKIP hidepid view needs root");
        return tap_done();
    }
    int bits = hidden_view(&me, &dead);
    if (bits == 77 || bits == 78 || bits == 79) {
        for (int i = 0; i < 3; i++)
            ok(1, "# SKIP no private /proc with hidepid=2 here (%d)", bits);
        return tap_done();
    }
    ok(bits >= 0 && (bits & 1), "under hidepid=2, nobody sees root's live process as alive");
    ok(bits >= 0 && (bits & 2), "and its claim-word identity as alive");
    ok(bits >= 0 && (bits & 12) == 12, "a reaped process is still dead under hidepid=2");
    return tap_done();
}
