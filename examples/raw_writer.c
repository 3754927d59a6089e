/*
 * raw_writer.c - the classic POSIX shared memory writer, exactly as the course has it.
 *
 * WHAT IT TEACHES
 *   shm_open() creates a named object that appears as /dev/shm/NAME; ftruncate() gives it
 *   a size; mmap(MAP_SHARED) puts it into our address space; a strcpy() into that memory
 *   is all it takes to "send" a message. When this program exits the message stays: the
 *   segment lives until someone calls shm_unlink() (or the machine reboots).
 *   Nothing here says who wrote the bytes, how many are valid, or whether anyone changed
 *   them later: see tamper.sh, and writer.c for the shmkit version.
 *
 * USAGE   raw_writer [-n NAME] [MESSAGE]      (default NAME /shmkit-raw)
 * THEN    cat /dev/shm/shmkit-raw ; ls -l /dev/shm/shmkit-raw ; raw_reader
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define SEG_SIZE 4096 /* one page, as in the course */

int main(int argc, char **argv)
{
    const char *name = "/shmkit-raw";
    int c;
    while ((c = getopt(argc, argv, "n:h")) != -1) {
        if (c == 'n') {
            name = optarg;
        } else {
            fprintf(stderr, "usage: %s [-n NAME] [MESSAGE]\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    const char *msg = optind < argc ? argv[optind] : "Hello from the writer process!";
    if (strlen(msg) >= SEG_SIZE) {
        fprintf(stderr, "raw_writer: message longer than %d bytes\n", SEG_SIZE - 1);
        return 1;
    }

    int fd = shm_open(name, O_CREAT | O_RDWR, 0600);
    if (fd < 0) {
        perror("shm_open");
        return 1;
    }
    if (ftruncate(fd, SEG_SIZE) < 0) {
        perror("ftruncate");
        close(fd);
        return 1;
    }
    char *mem = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd); /* the mapping keeps the object alive; the descriptor is no longer needed */
    if (mem == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(mem, 0, SEG_SIZE);
    strcpy(mem, msg);
    printf("wrote %zu bytes to %s (segment size %d)\n", strlen(msg) + 1, name, SEG_SIZE);
    munmap(mem, SEG_SIZE);
    return 0;
}
