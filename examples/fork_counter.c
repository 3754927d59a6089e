/*
 * fork_counter.c - anonymous shared memory across fork() (Michael Kerrisk's example).
 *
 * WHAT IT TEACHES
 *   mmap(MAP_SHARED | MAP_ANONYMOUS) makes memory backed by no file at all. It has no name,
 *   so an unrelated process can never open it; but a child made by fork() inherits the
 *   mapping, and because it is MAP_SHARED both processes see the same physical page: the
 *   child increments the integer, the parent waits for it and reads 2.
 *   With MAP_PRIVATE instead, fork() gives the child a copy-on-write copy: its increment
 *   stays in the child and the parent still reads 1 (the second run below).
 *   The third run does the same with shmkit_open(SHMKIT_ANON): same system calls, plus a
 *   header and error codes instead of errno.
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define PANIC_EXIT(msg)                                                                            \
    do {                                                                                           \
        fprintf(stderr, "\n %s : error \"%s\" in file %s in line %d\n", msg, strerror(errno),      \
                __FILE__, __LINE__);                                                               \
        exit(1);                                                                                   \
    } while (0)

/* The child increments *addr; the parent waits and returns what it then reads. */
static int child_increments(int *addr)
{
    fflush(stdout); /* do not let the child inherit (and print twice) buffered output */
    switch (fork()) {
    case -1:
        PANIC_EXIT("fork");
    case 0:
        printf("  child started, value = %d\n", *addr);
        (*addr)++;
        printf("  child incremented, value = %d\n", *addr);
        fflush(stdout);
        _exit(EXIT_SUCCESS);
    default:
        if (wait(NULL) == -1)
            PANIC_EXIT("wait");
        return *addr;
    }
}

static void with_mmap(int visibility, const char *label)
{
    int *addr = mmap(NULL, sizeof(int), PROT_READ | PROT_WRITE, visibility | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED)
        PANIC_EXIT("mmap");
    *addr = 1; /* initialise the integer before fork(): both processes start from it */
    printf("%s:\n", label);
    int v = child_increments(addr);
    printf("  in parent, value = %d\n", v);
    if (munmap(addr, sizeof(int)) == -1)
        PANIC_EXIT("munmap");
}

int main(void)
{
    with_mmap(MAP_SHARED, "mmap(MAP_SHARED | MAP_ANONYMOUS)");
    with_mmap(MAP_PRIVATE, "mmap(MAP_PRIVATE | MAP_ANONYMOUS)");

    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_ANON, .size = sizeof(int), .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "shmkit_open: %s\n", shmkit_strerror(rc));
        return 1;
    }
    int *addr = shmkit_seg_data(seg);
    *addr = 1;
    printf("shmkit_open(SHMKIT_ANON):\n");
    int v = child_increments(addr);
    printf("  in parent, value = %d\n", v);
    shmkit_close(seg); /* nothing to remove: an anonymous segment dies with its last mapping */
    return 0;
}
