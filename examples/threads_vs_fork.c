/*
 * threads_vs_fork.c - what a thread shares with its creator, and what a child process does.
 *
 * WHAT IT TEACHES
 *   Threads of one process share the whole address space: a global, a malloc() block, a
 *   private or a shared mapping; an increment made by the thread is seen by main().
 *   A process made by fork() gets a *copy* of the address space (copy-on-write): only memory
 *   mapped MAP_SHARED is still the same memory after fork(); everything else the child changes
 *   changes only its copy. That is why processes need shared memory (or pipes, sockets...) to
 *   communicate, and why threads need none but must synchronise every access (see
 *   sync_counter.c). The course question "what is pthread?" is answered by the first column.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static int global_counter;
static int *heap_counter, *private_map, *shared_map;

static void increment_all(void)
{
    global_counter++;
    (*heap_counter)++;
    (*private_map)++;
    (*shared_map)++;
}

static void *thread_main(void *arg)
{
    (void)arg;
    increment_all();
    return NULL;
}

static void reset(void)
{
    global_counter = *heap_counter = *private_map = *shared_map = 1;
}

int main(void)
{
    heap_counter = malloc(sizeof *heap_counter);
    private_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    shared_map = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (!heap_counter || private_map == MAP_FAILED || shared_map == MAP_FAILED) {
        perror("allocation");
        return 1;
    }
    int seen_thread[4], seen_fork[4];

    reset();
    pthread_t t;
    if (pthread_create(&t, NULL, thread_main, NULL) != 0 || pthread_join(t, NULL) != 0) {
        fprintf(stderr, "pthread failed\n");
        return 1;
    }
    seen_thread[0] = global_counter, seen_thread[1] = *heap_counter;
    seen_thread[2] = *private_map, seen_thread[3] = *shared_map;

    reset();
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return 1;
    }
    if (pid == 0) {
        increment_all();
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    seen_fork[0] = global_counter, seen_fork[1] = *heap_counter;
    seen_fork[2] = *private_map, seen_fork[3] = *shared_map;

    static const char *what[4] = {"global variable", "malloc() block",
                                  "mmap MAP_PRIVATE|MAP_ANONYMOUS", "mmap MAP_SHARED|MAP_ANONYMOUS"};
    printf("every counter starts at 1; the thread / the child adds 1; main() then reads:\n");
    printf("%-32s %-14s %s\n", "memory", "after thread", "after fork child");
    for (int i = 0; i < 4; i++)
        printf("%-32s %-14s %s\n", what[i], seen_thread[i] == 2 ? "2 (shared)" : "1 (copy)",
               seen_fork[i] == 2 ? "2 (shared)" : "1 (copy)");
    munmap(private_map, 4096);
    munmap(shared_map, 4096);
    free(heap_counter);
    return 0;
}
