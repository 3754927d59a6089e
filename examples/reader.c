/*
 * reader.c - the reader of the course, with shmkit.
 *
 * WHAT IT TEACHES
 *   shmkit_open() checks the header before trusting a byte of the segment (magic, version,
 *   header CRC, sizes against the real object size), and with SHMKIT_VERIFY it recomputes
 *   the checksum the writer sealed. A segment modified behind the library's back is reported
 *   as tampered and its message is NOT printed: compare with raw_reader after tamper.sh.
 *
 * USAGE   reader [-n NAME] [-r]      (default NAME /shmkit-msg; -r: remove it afterwards)
 * EXIT    0 message read; 1 the segment is missing, foreign, corrupted or tampered
 */
#include <shmkit.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *name = "/shmkit-msg";
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
    shmkit_seg *seg = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name,
                            .flags = SHMKIT_RDONLY | SHMKIT_VERIFY};
    int rc = shmkit_open(&seg, &o);
    if (rc < 0) {
        fprintf(stderr, "reader: %s: %s (%s)\n", name, shmkit_strerror(rc), shmkit_errname(rc));
        if (remove_after)
            shmkit_posix_remove(name);
        return 1;
    }
    const char *mem = shmkit_seg_data(seg);
    size_t len = shmkit_seg_size(seg);
    struct shmkit_info info;
    int sealed = shmkit_seg_stat(seg, &info) == 0 && info.sealed;
    printf("read from %s: %.*s\n", name, (int)strnlen(mem, len), mem);
    printf("checked: header valid, %s\n",
           sealed ? "seal verified (payload unchanged since the writer sealed it)"
                  : "not sealed (no checksum to verify)");
    if (remove_after)
        shmkit_seg_remove(seg);
    shmkit_close(seg);
    return 0;
}
