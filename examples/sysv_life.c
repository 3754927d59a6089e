/*
 * sysv_life.c - the life of a System V segment, step by step, as `ipcs -m` sees it.
 *
 * WHAT IT TEACHES
 *   1. ftok(path, proj) mixes the low 8 bits of the project byte (the key's high byte:
 *      'L' = 0x4c), the low 8 bits of the file's device and 16 of its inode. The file must
 *      exist: ftok fails otherwise.
 *   2. Creating (IPC_CREAT | IPC_EXCL | 0666) and acquiring (shmget(key, 0, 0): size 0, no
 *      IPC_CREAT) are the same call. shmget only grants the right: the segment enters the
 *      process's page table (its /proc/self/maps) at shmat.
 *   3. IPC_SET changes the mode (or the owner) of a live segment.
 *   4. SHM_RDONLY attaches read-only: a write is a segmentation fault.
 *   5. A process that exits without shmdt is detached by the kernel.
 *   6. IPC_RMID while someone is attached only marks the segment: `ipcs -m` shows it with
 *      key 0 and status "dest", it keeps working for whoever has it attached, and the kernel
 *      frees it at the last shmdt.
 *
 * USAGE   sysv_life [-p PATH]    (PATH for ftok, default this program's own file)
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned long nattch(int id)
{
    struct shmid_ds ds;
    return shmctl(id, IPC_STAT, &ds) == 0 ? (unsigned long)ds.shm_nattch : 0;
}

/* Prints the line of `ipcs -m` for segment ID, blanks squeezed. */
static void ipcs_line(int id)
{
    FILE *p = popen("ipcs -m", "r");
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char key[32];
        int sid;
        if (sscanf(line, "%31s %d", key, &sid) == 2 && sid == id) {
            printf("     ipcs -m:");
            for (char *save = NULL, *w = strtok_r(line, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
                printf(" %s", w);
            printf("\n");
        }
    }
    if (p)
        pclose(p);
}

/* 1 if the SYSV segment ID appears in this process's /proc/self/maps. */
static int in_maps(int id)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512], want[32];
    int found = 0;
    snprintf(want, sizeof want, " %d ", id); /* the inode column of a SYSV mapping is its shmid */
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, "/SYSV") && strstr(line, want);
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    char self[PATH_MAX];
    const char *path = NULL;
    if (argc == 3 && !strcmp(argv[1], "-p")) {
        path = argv[2];
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0)
            return 1;
        self[n] = '\0';
        path = self;
    }
    key_t key = ftok(path, 'L');
    if (key == -1) {
        printf("1. ftok(\"%s\", 'L'): %s (the file must exist)\n", path, strerror(errno));
        return 1;
    }
    printf("1. ftok(\"%s\", 'L') = 0x%08x: 0x%02x = 'L', then the file's device and inode\n",
           path, (unsigned)key, (unsigned)key >> 24);
    key_t none = ftok("/no/such/file", 'L');
    printf("   ftok(\"/no/such/file\", 'L') = %d: %s\n", (int)none, strerror(errno));

    int id = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0666);
    if (id == -1) {
        fprintf(stderr, "shmget: %s%s\n", strerror(errno),
                errno == EEXIST ? " (left by an earlier run? ipcrm -M KEY removes it)" : "");
        return 1;
    }
    printf("2. create:  shmget(key, 4096, IPC_CREAT|IPC_EXCL|0666) = %d\n", id);
    int again = shmget(key, 0, 0);
    printf("   acquire: shmget(key, 0, 0) = %d (the same segment)\n", again);
    printf("   in /proc/self/maps after shmget: %s\n", in_maps(id) ? "yes" : "no");
    char *mem = shmat(id, NULL, 0);
    if (mem == (void *)-1) {
        perror("shmat");
        shmctl(id, IPC_RMID, NULL);
        return 1;
    }
    strcpy(mem, "still here");
    printf("   in /proc/self/maps after shmat:  %s\n", in_maps(id) ? "yes" : "no");

    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    ds.shm_perm.mode = 0640;
    shmctl(id, IPC_SET, &ds); /* mode, uid and gid are taken from ds; the rest is ignored */
    printf("3. IPC_SET: mode 666 -> 640\n");
    ipcs_line(id);

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* die of it, even under a sanitizer that catches faults */
        char *ro = shmat(id, NULL, SHM_RDONLY);
        if (ro != (void *)-1)
            ro[0] = 'X'; /* the page is mapped read-only: SIGSEGV */
        _exit(0);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("4. SHM_RDONLY: a child writes through it: %s\n",
           WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "no fault?");

    unsigned long before = nattch(id);
    int go[2];
    if (pipe(go) < 0)
        return 1;
    fflush(stdout);
    pid = fork();
    if (pid == 0) { /* attaches, says so, and exits without shmdt */
        char c = shmat(id, NULL, 0) != (void *)-1;
        if (write(go[1], &c, 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    if (read(go[0], &c, 1) != 1)
        return 1;
    unsigned long during = nattch(id);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    printf("5. nattch %lu; a child (fork inherits the attachment, then shmat again): %lu;\n"
           "   the child is killed, no shmdt: %lu (the kernel detached it)\n", before, during,
           nattch(id));

    shmctl(id, IPC_RMID, NULL);
    printf("6. IPC_RMID while attached (nattch %lu):\n", nattch(id));
    ipcs_line(id);
    printf("   still readable here: \"%s\"\n", mem);
    shmdt(mem);
    printf("   shmdt(): shmctl(IPC_STAT) now fails: %s (freed)\n",
           shmctl(id, IPC_STAT, &ds) == -1 ? strerror(errno) : "exists?");
    return 0;
}
