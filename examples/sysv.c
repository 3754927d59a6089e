/*
 * sysv.c - System V shared memory: ftok, shmget, shmat, shmctl(IPC_STAT), shmdt, IPC_RMID.
 *
 * WHAT IT TEACHES
 *   System V segments have no name but a numeric *key*; ftok(path, proj) derives one from a
 *   file's inode and a project byte, so every process that knows the path finds the same key.
 *   shmget(key, size, IPC_CREAT|IPC_EXCL|0600) creates the segment (or fails if it exists)
 *   and returns its id; shmat() attaches it; shmctl(IPC_STAT) fills a struct shmid_ds with
 *   its size, the number of attachments, the creator's and the last user's pid and times.
 *   A segment outlives every process: it stays (visible in `ipcs -m`) until IPC_RMID (or
 *   `ipcrm -m ID`), and is destroyed only after the last detach. With -k this program leaves
 *   it in place so you can look at it with `ipcs -m`, `shmkit ls --sysv`, then remove it.
 *   The second part does the same through shmkit (kind SHMKIT_SYSV, shmkit_seg_stat()).
 *
 * USAGE   sysv [-k | -r | -K | -I] [-p PATH]    (PATH for ftok, default this program's own file)
 *         -k keeps the segment; -r finds the kept one again (shmget with the same key and no
 *         IPC_CREAT, as any other process would) and removes it; -K prints the key and -I the
 *         kept segment's shmid, for `ipcrm -M KEY` / `ipcrm -m ID`
 */
#include <shmkit.h>

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

static const char *when(time_t t, char *buf, size_t len)
{
    if (t == 0)
        return "never";
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", localtime(&t));
    return buf;
}

static void print_stat(int shmid)
{
    struct shmid_ds ds;
    char b1[32], b2[32], b3[32];
    if (shmctl(shmid, IPC_STAT, &ds) < 0) {
        perror("shmctl(IPC_STAT)");
        return;
    }
    printf("  shmctl(IPC_STAT):\n");
    printf("    shm_segsz  = %zu bytes\n", (size_t)ds.shm_segsz);
    printf("    shm_nattch = %lu\n", (unsigned long)ds.shm_nattch);
    printf("    shm_cpid   = %d (creator; this process is %d)\n", (int)ds.shm_cpid, (int)getpid());
    printf("    shm_lpid   = %d (last shmat/shmdt)\n", (int)ds.shm_lpid);
    printf("    shm_perm   : key 0x%08x, uid %u, mode %03o\n", (unsigned)ds.shm_perm.__key,
           (unsigned)ds.shm_perm.uid, (unsigned)ds.shm_perm.mode & 0777);
    printf("    shm_atime  = %s, shm_dtime = %s, shm_ctime = %s\n", when(ds.shm_atime, b1, 32),
           when(ds.shm_dtime, b2, 32), when(ds.shm_ctime, b3, 32));
}

int main(int argc, char **argv)
{
    char self[PATH_MAX];
    const char *path = NULL;
    int keep = 0, rm = 0, print = 0, c;
    while ((c = getopt(argc, argv, "krKIp:h")) != -1) {
        if (c == 'K' || c == 'I') {
            print = c;
        } else if (c == 'k') {
            keep = 1;
        } else if (c == 'r') {
            rm = 1;
        } else if (c == 'p') {
            path = optarg;
        } else {
            fprintf(stderr, "usage: %s [-k | -r | -K | -I] [-p PATH]\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    if (!path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            perror("readlink /proc/self/exe");
            return 1;
        }
        self[n] = '\0';
        path = self;
    }

    /* 1. the system calls themselves */
    key_t key = ftok(path, 'S');
    if (key == -1) {
        perror("ftok");
        return 1;
    }
    if (print == 'K') {
        printf("0x%08x\n", (unsigned)key);
        return 0;
    }
    if (print == 'I') {
        int id = shmget(key, 0, 0);
        if (id == -1) {
            perror("shmget");
            return 1;
        }
        printf("%d\n", id);
        return 0;
    }
    if (rm) {
        int id = shmget(key, 0, 0); /* find the existing segment: no IPC_CREAT */
        if (id == -1 || shmctl(id, IPC_RMID, NULL) == -1) {
            perror("sysv -r");
            return 1;
        }
        printf("shmget(key, 0, 0) = shmid %d; shmctl(IPC_RMID): removed\n", id);
        return 0;
    }
    printf("ftok(\"%s\", 'S') = 0x%08x\n", path, (unsigned)key);
    int shmid = shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600);
    if (shmid == -1) {
        fprintf(stderr, "shmget: %s%s\n", strerror(errno),
                errno == EEXIST ? " (left by an earlier `sysv -k`? ipcrm -M KEY removes it)" : "");
        return 1;
    }
    printf("shmget(key, 4096, IPC_CREAT|IPC_EXCL|0600) = shmid %d\n", shmid);
    char *mem = shmat(shmid, NULL, 0);
    if (mem == (void *)-1) {
        perror("shmat");
        shmctl(shmid, IPC_RMID, NULL);
        return 1;
    }
    strcpy(mem, "written through shmat");
    printf("shmat() -> %p, wrote \"%s\"\n", (void *)mem, mem);
    print_stat(shmid);
    shmdt(mem);
    printf("shmdt(): attachments now:\n");
    print_stat(shmid);
    if (keep) {
        printf("kept: look at it with `ipcs -m -i %d` or `shmkit ls --sysv`, "
               "remove it with `ipcrm -m %d` or `sysv -r`\n", shmid, shmid);
        return 0;
    }
    if (shmctl(shmid, IPC_RMID, NULL) < 0) {
        perror("shmctl(IPC_RMID)");
        return 1;
    }
    printf("shmctl(IPC_RMID): removed\n");

    /* 2. the same through shmkit: a header in front, errors as return codes */
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .ftok_path = path, .ftok_proj = 'T',
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "shmkit_open(SYSV): %s\n", shmkit_strerror(rc));
        return 1;
    }
    struct shmkit_info info;
    rc = shmkit_seg_stat(seg, &info);
    if (rc == 0)
        printf("shmkit: key 0x%08x, shmid %d, %llu bytes (%llu payload + %d header), "
               "nattch %lld, cpid %d, layout %s\n",
               (unsigned)info.key, info.shmid, (unsigned long long)info.size,
               (unsigned long long)info.payload_size, SHMKIT_HEADER_SIZE, (long long)info.nattch,
               (int)info.cpid, shmkit_layout_name(info.layout));
    rc = shmkit_seg_remove(seg);
    shmkit_close(seg);
    printf("shmkit_seg_remove(): %s\n", rc == 0 ? "removed" : shmkit_strerror(rc));
    return rc == 0 ? 0 : 1;
}
