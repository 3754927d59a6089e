/*
 * raw_reader.c - the classic POSIX shared memory reader.
 *
 * WHAT IT TEACHES
 *   Another, unrelated process opens the same name with shm_open(), maps it and reads the
 *   bytes the writer left there. It trusts them blindly: it prints whatever is in the first
 *   bytes of the segment, even after `dd` wrote "HACKED" over them (see tamper.sh).
 *
 * USAGE   raw_reader [-n NAME] [-r]      (default NAME /shmkit-raw; -r: shm_unlink afterwards)
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *name = "/shmkit-raw";
    int c, remove_after = 0;
    while ((c = getopt(argc, argv, "n:rh")) != -1) {
        if (c == 'n') {
            name = optarg;
        } else if (c == 'r') {
            remove_after = 1;
        } else {
            fprintf(stderr, "usage: %s [-n NAME] [-r]\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    int fd = shm_open(name, O_RDONLY, 0);
    if (fd < 0) {
        perror("shm_open");
        return 1;
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0) {
        fprintf(stderr, "raw_reader: %s is empty\n", name);
        close(fd);
        return 1;
    }
    size_t len = (size_t)st.st_size;
    const char *mem = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (mem == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    /* the classic reader does printf("%s", mem); strnlen at least stops at the end */
    printf("read from %s: %.*s\n", name, (int)strnlen(mem, len), mem);
    munmap((void *)mem, len);
    if (remove_after && shm_unlink(name) < 0) {
        perror("shm_unlink");
        return 1;
    }
    return 0;
}
