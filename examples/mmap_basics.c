/*
 * mmap_basics.c - the mmap() prototype of the course, one argument at a time.
 *
 *   void *mmap(void *addr,    // NULL: the kernel chooses the address
 *              size_t length, // bytes to map
 *              int prot,      // PROT_READ | PROT_WRITE (| PROT_EXEC), or PROT_NONE
 *              int flags,     // MAP_SHARED or MAP_PRIVATE, | MAP_ANONYMOUS (| MAP_FIXED)
 *              int fd,        // the file to map; -1 with MAP_ANONYMOUS
 *              off_t offset); // where in the file: a multiple of the page size
 *   returns the address, or MAP_FAILED ((void *)-1, not NULL) and errno
 *
 * WHAT IT TEACHES
 *   1. The course's foo.txt: open, mmap MAP_SHARED, print the address and the first 20
 *      characters - no read(), no buffer: the file's bytes are simply at that address.
 *   2. The offset must be a multiple of the page size: 100 gives MAP_FAILED with EINVAL.
 *   3. MAP_ANON is the older (BSD) name of MAP_ANONYMOUS: the same flag.
 *   4. Anonymous private memory is what malloc() itself uses for large blocks: a 1 MiB
 *      malloc() gets its own anonymous mapping, a 100-byte one comes from the [heap].
 *   mmap is POSIX, not ISO C (C99/C11 know only fopen/fread): it works on Linux, macOS, BSD
 *   and WSL, not in native Windows programs (which have CreateFileMapping instead).
 *
 * USAGE   mmap_basics [FILE]    (default: writes foo.txt in a temporary directory)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The line of /proc/self/maps that holds ADDR, without its address range. */
static void mapping_of(const void *addr, char *out, size_t len)
{
    snprintf(out, len, "(not mapped)");
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
            char perms[8] = "", path[256] = "";
            sscanf(line, "%*s %7s %*s %*s %*s %255[^\n]", perms, path);
            snprintf(out, len, "%s %s", perms, *path ? path : "(anonymous)");
            break;
        }
    }
    if (f)
        fclose(f);
}

int main(int argc, char **argv)
{
    char dir[512] = "", path[600];
    if (argc > 1) {
        snprintf(path, sizeof path, "%s", argv[1]);
    } else {
        const char *tmp = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/mmap_basics.XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(dir)) {
            perror("mkdtemp");
            return 1;
        }
        snprintf(path, sizeof path, "%s/foo.txt", dir);
        FILE *w = fopen(path, "w");
        if (!w || fputs("Shared memory maps a file's pages into the process.\n", w) < 0 ||
            fclose(w) != 0) {
            perror("writing foo.txt");
            return 1;
        }
    }
    int rc = 1;
    int fd = open(path, O_RDWR);
    if (fd < 0) {
        perror(path);
        goto out;
    }
    char *addr = mmap(NULL, 100, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (addr == MAP_FAILED) {
        perror("mmap");
        close(fd);
        goto out;
    }
    printf("1. foo.txt mapped at %p\n", (void *)addr);
    printf("   first characters of the file: %.*s...\n", 20, addr);

    void *bad = mmap(NULL, 100, PROT_READ, MAP_SHARED, fd, 100);
    printf("2. offset 100: %s (%s): the offset must be a multiple of the page size (%ld)\n",
           bad == MAP_FAILED ? "MAP_FAILED" : "mapped?", bad == MAP_FAILED ? strerror(errno) : "",
           sysconf(_SC_PAGESIZE));
    close(fd); /* the mapping stays valid without the descriptor */
    munmap(addr, 100);

    printf("3. MAP_ANON == MAP_ANONYMOUS: %s (0x%x)\n", MAP_ANON == MAP_ANONYMOUS ? "yes" : "no",
           MAP_ANONYMOUS);

    char *big = malloc(1 << 20), *small = malloc(100);
    char m1[300], m2[300];
    mapping_of(big, m1, sizeof m1);
    mapping_of(small, m2, sizeof m2);
    printf("4. malloc(1 MiB) lies in: %s\n   malloc(100)   lies in: %s\n", m1, m2);
    free(big);
    free(small);
    rc = 0;
out:
    if (*dir) {
        unlink(path);
        rmdir(dir);
    }
    return rc;
}
