/*
 * mmap_vs_fread.c - reading a file: fopen/fread into a buffer vs mmap, whole and in part.
 *
 * WHAT IT TEACHES
 *   fread() copies the file from the kernel's page cache into a buffer you malloc()ed: the
 *   data exists twice and every byte is copied, even the bytes you never look at. mmap()
 *   maps the page-cache pages into the process: no copy and no buffer, the kernel fills a
 *   page when it is first touched. The file is read once before timing, so both start from
 *   a warm page cache (the comparison is about copying, not about the disk); each method
 *   runs several times and the best time is kept.
 *   1. Whole file (a checksum of every byte): the checksum loop costs more than the copy,
 *      so the two are close and either may win by a little; measure, do not assume.
 *   2. A few bytes of a large file (16 bytes at the start of every MiB): fread still copies
 *      the whole file, mmap touches 16 pages. mmap wins by far - the course's "no need to
 *      copy the whole file into memory".
 *
 * USAGE   mmap_vs_fread [-s MiB] [-r RUNS]    (default 64 MiB, 3 runs; file in a temp dir)
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define PART 16          /* bytes looked at per MiB in the partial read */
#define STEP (1u << 20)

/* Whole file (SPARSE 0): every byte. Partial: PART bytes at the start of every MiB. */
static uint64_t checksum(const unsigned char *p, size_t n, int sparse)
{
    uint64_t s = 0;
    if (sparse) {
        for (size_t at = 0; at < n; at += STEP)
            for (size_t i = at; i < at + PART && i < n; i++)
                s = s * 31 + p[i];
        return s;
    }
    for (size_t i = 0; i < n; i++)
        s = s * 31 + p[i];
    return s;
}

static int make_file(const char *path, size_t size)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    unsigned char block[65536];
    uint32_t x = 2463534242u;
    for (size_t done = 0; done < size; done += sizeof block) {
        for (size_t i = 0; i < sizeof block; i++) { /* xorshift: bytes nobody can guess */
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            block[i] = (unsigned char)x;
        }
        size_t n = size - done < sizeof block ? size - done : sizeof block;
        if (fwrite(block, 1, n, f) != n) {
            fclose(f);
            return -1;
        }
    }
    return fclose(f);
}

/* The course's version: size with fseek/ftell, malloc, fread everything, then use it. */
static int with_fread(const char *path, int sparse, uint64_t *sum)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    fseek(fp, 0, SEEK_END);
    long filesize = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    char *file = malloc((size_t)filesize);
    if (!file || fread(file, 1, (size_t)filesize, fp) != (size_t)filesize) {
        free(file);
        fclose(fp);
        return -1;
    }
    fclose(fp);
    *sum = checksum((unsigned char *)file, (size_t)filesize, sparse);
    free(file);
    return 0;
}

static int with_mmap(const char *path, int sparse, uint64_t *sum)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return -1;
    }
    void *addr = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd); /* the mapping stays valid without the descriptor */
    if (addr == MAP_FAILED)
        return -1;
    *sum = checksum(addr, (size_t)st.st_size, sparse); /* page faults fill what we touch */
    munmap(addr, (size_t)st.st_size);
    return 0;
}

int main(int argc, char **argv)
{
    long mib = 64, runs = 3;
    int c;
    while ((c = getopt(argc, argv, "s:r:h")) != -1) {
        if (c == 's') {
            mib = strtol(optarg, NULL, 10);
        } else if (c == 'r') {
            runs = strtol(optarg, NULL, 10);
        } else {
            fprintf(stderr, "usage: %s [-s MiB] [-r RUNS]\n", argv[0]);
            return c == 'h' ? 0 : 2;
        }
    }
    if (mib < 1 || mib > 4096 || runs < 1 || runs > 100) {
        fprintf(stderr, "mmap_vs_fread: size must be 1..4096 MiB, runs 1..100\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], path[600];
    snprintf(dir, sizeof dir, "%s/mmap_vs_fread.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(path, sizeof path, "%s/big.bin", dir);
    int rc = 1;
    size_t size = (size_t)mib << 20;
    if (make_file(path, size) < 0) {
        perror("writing the test file");
        goto remove_file;
    }
    printf("file: %ld MiB of pseudo-random bytes in a temporary directory\n", mib);

    uint64_t warm;
    if (with_fread(path, 0, &warm) < 0) /* warm the page cache for both methods */
        goto read_error;
    int same = 1;
    for (int sparse = 0; sparse <= 1; sparse++) {
        uint64_t s1 = 0, s2 = 0;
        double best_fread = 1e30, best_mmap = 1e30;
        for (long i = 0; i < runs; i++) {
            double t0 = now_ms();
            if (with_fread(path, sparse, &s1) < 0)
                goto read_error;
            double t1 = now_ms();
            if (with_mmap(path, sparse, &s2) < 0)
                goto read_error;
            double t2 = now_ms();
            if (t1 - t0 < best_fread)
                best_fread = t1 - t0;
            if (t2 - t1 < best_mmap)
                best_mmap = t2 - t1;
        }
        if (best_mmap < 0.001)
            best_mmap = 0.001; /* a clock tick: keep the ratio finite */
        if (sparse)
            printf("%d bytes at each MiB (%ld x %d bytes), best of %ld runs:\n", PART, mib, PART, runs);
        else
            printf("whole file (checksum of every byte), best of %ld runs:\n", runs);
        printf("  fopen+fread: %8.3f ms   mmap: %8.3f ms   fread/mmap time ratio: %.2f\n",
               best_fread, best_mmap, best_fread / best_mmap);
        printf("  same checksum both ways: %s\n", s1 == s2 ? "yes" : "NO");
        same &= s1 == s2;
    }
    rc = same ? 0 : 1;
    goto remove_file;
read_error:
    perror("reading the test file");
remove_file:
    unlink(path);
    rmdir(dir);
    return rc;
}
