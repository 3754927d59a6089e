/*
 * anon_exec.c - anonymous shared memory is shared after fork(), but only until exec().
 *
 * WHAT IT TEACHES
 *   mmap(MAP_SHARED | MAP_ANONYMOUS) has no name and no file: the only way to reach it is to
 *   inherit the mapping through fork(). A child that calls exec() gets a brand-new address
 *   space for the new program: the mapping is gone, and there is no name to map it again.
 *   Nor does it outlive its processes: when the last one unmaps it (or exits), the memory is
 *   freed - nothing is left in /dev/shm or in ipcs. For memory that unrelated programs share,
 *   or that must outlive them, use a named segment (shm_open, shmget).
 *
 * USAGE   anon_exec
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* 1 if ADDR lies in a mapping of this process (looked up in /proc/self/maps). */
static int mapped(uintptr_t addr)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        found = sscanf(line, "%lx-%lx", &lo, &hi) == 2 && addr >= lo && addr < hi;
    }
    if (f)
        fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--after-exec")) { /* the new program, after exec() */
        uintptr_t addr = (uintptr_t)strtoull(argv[2], NULL, 16);
        printf("  after exec(): address %#lx is %s\n", (unsigned long)addr,
               mapped(addr) ? "still mapped?" : "not mapped any more (new address space)");
        return 0;
    }
    int *shared = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shared == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    *shared = 1;
    printf("parent: shared int at %p = %d\n", (void *)shared, *shared);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        (*shared)++; /* same physical page as the parent's */
        printf("  child after fork(): address mapped, value = %d, increments it\n", *shared - 1);
        fflush(stdout);
        char hex[32];
        snprintf(hex, sizeof hex, "%lx", (unsigned long)(uintptr_t)shared);
        execl("/proc/self/exe", argv[0], "--after-exec", hex, (char *)NULL);
        perror("exec");
        _exit(1);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("parent: value = %d (the child's increment before exec)\n", *shared);
    munmap(shared, sizeof(int)); /* the last mapping: the memory is freed, nothing remains */
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}
