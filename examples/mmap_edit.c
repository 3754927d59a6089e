/*
 * mmap_edit.c - an edit through MAP_PRIVATE stays in memory, through MAP_SHARED it reaches the file.
 *
 * WHAT IT TEACHES
 *   The course's example maps test.txt with MAP_PRIVATE and writes data[42] = 'A': the
 *   process sees the change, but the file does not, because the first write to a private
 *   page makes a private copy of it (copy-on-write). With MAP_SHARED the same store goes
 *   into the page cache page that *is* the file: other processes mapping or reading the file
 *   see it at once, and it reaches the disk later (or at msync()).
 *   Both edits are done on a fresh file in a temporary directory, which is then removed.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static const char text[] = "The quick brown fox jumps over the lazy dog, again and again.\n";

/* Maps PATH with FLAGS, sets byte 4 to 'Q' -> "The Quick", then rereads the file with read(). */
static int edit(const char *path, int flags, const char *label)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return -1;
    struct stat sb;
    fstat(fd, &sb);
    char *data = mmap(NULL, (size_t)sb.st_size, PROT_READ | PROT_WRITE, flags, fd, 0);
    if (data == MAP_FAILED) {
        close(fd);
        return -1;
    }
    data[4] = 'Q'; /* modify the file in memory */
    char again[128] = {0};
    ssize_t n = pread(fd, again, sizeof again - 1, 0);
    printf("%s\n  in memory: %.*s", label, (int)sb.st_size, data);
    printf("  in file:   %.*s", n > 0 ? (int)n : 0, again);
    munmap(data, (size_t)sb.st_size);
    close(fd);
    return 0;
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/mmap_edit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/test.txt", dir);
    int rc = 1;
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror("writing test.txt");
        goto remove_file;
    }
    printf("test.txt:    %s", text);
    if (edit(path, MAP_PRIVATE, "MAP_PRIVATE, data[4] = 'Q':") < 0 ||
        edit(path, MAP_SHARED, "MAP_SHARED, data[4] = 'Q':") < 0) {
        perror("mapping test.txt");
        goto remove_file;
    }
    rc = 0;
remove_file:
    unlink(path);
    rmdir(dir);
    return rc;
}
