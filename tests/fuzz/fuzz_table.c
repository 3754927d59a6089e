/* fuzz_table.c - libFuzzer target: shmkit_table_open and every reader of a
 * table (stats, owner, read, and claim/write/release on a writable handle)
 * on hostile segment bytes.
 *
 * Input: 32 bytes of layout parameters, one byte of mode bits, then the
 * payload (control block + slots, at most 64 KiB). The harness writes a
 * header with a valid CRC around them (a random CRC would stop every input
 * at the header check, which fuzz targets of the header cover) and puts the
 * table's ready magic in place (without it, open waits ~100 ms for a
 * creator). Mode bits: 1 = copy the geometry of the input's control block
 * into the header parameters (so the fuzzer reaches the slot bounds checks),
 * 2 = fix the stride the record size implies, 4 = open read-only, 8 =
 * claim, write and release records, 16 = read a record whose sequence is
 * stuck odd (slow: the reader yields ~200 times before it gives up). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_PAYLOAD 65536u
#define CTL_MAGIC 0x314c4254u /* src/table.c: "TBL1" */

static char name[64];
static unsigned char *map; /* the whole object, header included */
static struct shmkit__hdr tmpl;

static void cleanup(void)
{
    shm_unlink(name);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(name, sizeof name, "/shmkit-fuzz-table-%d", (int)getpid());
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0 || ftruncate(fd, SHMKIT_HEADER_SIZE + MAX_PAYLOAD) < 0)
        abort();
    atexit(cleanup);
    map = mmap(NULL, SHMKIT_HEADER_SIZE + MAX_PAYLOAD, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        abort();
    /* reads /proc/self/stat once, not per input */
    shmkit__hdr_init(&tmpl, 1, SHMKIT_LAYOUT_TABLE);
    return 0;
}

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 33 + 1)
        return 0;
    unsigned mode = data[32];
    const uint8_t *pl = data + 33;
    size_t n = size - 33;
    if (n > MAX_PAYLOAD)
        n = MAX_PAYLOAD;
    memset(map + SHMKIT_HEADER_SIZE, 0, MAX_PAYLOAD);
    memcpy(map + SHMKIT_HEADER_SIZE, pl, n);
    if (n >= 4) {
        uint32_t m = CTL_MAGIC;
        memcpy(map + SHMKIT_HEADER_SIZE, &m, sizeof m);
    }
    struct shmkit__hdr h = tmpl;
    h.payload_size = n;
    for (unsigned i = 0; i < 4; i++)
        h.layout_param[i] = rd64(data + 8 * i);
    if ((mode & 1) && n >= 40) {
        uint32_t rs, cnt;
        memcpy(&rs, map + SHMKIT_HEADER_SIZE + 8, 4);
        memcpy(&cnt, map + SHMKIT_HEADER_SIZE + 12, 4);
        h.layout_param[0] = rs;
        h.layout_param[1] = cnt;
        h.layout_param[2] = rd64(map + SHMKIT_HEADER_SIZE + 16);
        h.layout_param[3] = rd64(map + SHMKIT_HEADER_SIZE + 24);
    }
    if (mode & 2) {
        uint64_t st = 64 + ((h.layout_param[0] + 63) & ~(uint64_t)63);
        h.layout_param[3] = st;
        if (n >= 32)
            memcpy(map + SHMKIT_HEADER_SIZE + 24, &st, sizeof st);
    }
    shmkit__hdr_finish(&h);
    memcpy(map, &h, sizeof h);

    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name,
                            .flags = (mode & 4) ? SHMKIT_RDONLY : 0};
    int rc = shmkit_table_open(&t, &o, 0);
    if (rc < 0)
        return 0;
    struct shmkit_table_stats st;
    if (shmkit_table_stats(t, &st) != 0)
        abort();
    uint32_t count = shmkit_table_count(t), rs = shmkit_table_rec_size(t);
    /* a validated table lies inside the payload it was opened with */
    if ((uint64_t)count * (64 + ((rs + 63u) & ~63u)) + 128 > n)
        abort();
    static unsigned char buf[SHMKIT_TABLE_MAX_RECORD];
    /* the first two records and the last (each read of a slot stuck odd
     * costs ~200 sched_yield calls before the reader gives up) */
    int odd_reads = 0;
    for (uint32_t j = 0; j < 3 && j < count; j++) {
        uint32_t i = j < 2 ? j : count - 1;
        uint32_t seq;
        memcpy(&seq, map + SHMKIT_HEADER_SIZE + 128 + (uint64_t)i * (64 + ((rs + 63u) & ~63u)),
               sizeof seq);
        /* a slot stuck odd costs ~200 sched_yield calls before the read
         * gives up (by design): only inputs with mode bit 16 try one */
        if ((seq & 1u) && (!(mode & 16) || odd_reads++))
            continue;
        if (seq & 1u) {
            /* and with a dead writer: a live one (pid 1, say) makes the
             * read retry for its full 50 ms before -EAGAIN */
            int32_t nopid = 0;
            memcpy(map + SHMKIT_HEADER_SIZE + 128 + (uint64_t)i * (64 + ((rs + 63u) & ~63u)) + 8,
                   &nopid, sizeof nopid);
        }
        struct shmkit_owner ow;
        shmkit_table_owner(t, i, &ow);
        uint64_t ver;
        shmkit_table_read(t, i, buf, rs, &ver);
        /* a claim waits ~100 ms on a slot stuck "being claimed" (pid -1):
         * by design, but it would slow the fuzzer down a thousandfold */
        if (!(mode & 4) && (mode & 8) && ow.pid != -1 && shmkit_table_claim(t, i) >= 0) {
            shmkit_table_write(t, i, buf, rs);
            shmkit_table_release(t, i);
        }
    }
    if (shmkit_table_read(t, count, buf, 1, NULL) != -ERANGE)
        abort();
    shmkit_table_close(t);
    return 0;
}
