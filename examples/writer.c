/*
 * writer.c - the writer of the course, with shmkit.
 *
 * WHAT IT TEACHES
 *   The same exchange as raw_writer.c, but the segment now says what it is: it starts with a
 *   256-byte shmkit header (magic, format version, payload size, creator pid and start time,
 *   creation time, CRC of the header). After writing the message the writer *seals* the
 *   segment: a checksum of the payload is recorded in the header, so a later change made
 *   behind the library's back (a `dd` into /dev/shm, a stray pointer) is detected by reader
 *   and by `shmkit verify`. Compare `ls -l /dev/shm/shmkit-msg` (4096 + 256 bytes) with the
 *   raw segment (4096 bytes), and `shmkit info /shmkit-msg`.
 *
 * USAGE   writer [-n NAME] [MESSAGE]      (default NAME /shmkit-msg)
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PAYLOAD 4096

int main(int argc, char **argv)
{
    const char *name = "/shmkit-msg";
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
    if (strlen(msg) >= PAYLOAD) {
        fprintf(stderr, "writer: message longer than %d bytes\n", PAYLOAD - 1);
        return 1;
    }

    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = PAYLOAD,
                            .flags = SHMKIT_CREATE};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "writer: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    char *mem = shmkit_seg_data(seg);
    memset(mem, 0, shmkit_seg_size(seg));
    strcpy(mem, msg);
    rc = shmkit_seg_seal(seg); /* record the payload checksum: from now on changes show */
    if (rc < 0) {
        fprintf(stderr, "writer: seal %s: %s\n", name, shmkit_strerror(rc));
        shmkit_close(seg);
        return 1;
    }
    printf("wrote %zu bytes to %s (payload %zu + header %d bytes), sealed\n", strlen(msg) + 1,
           name, shmkit_seg_size(seg), SHMKIT_HEADER_SIZE);
    shmkit_close(seg);
    return 0;
}
