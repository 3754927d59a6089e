/* cmd_data.c - the bytes inside a segment: `cat`, `dump` (hexdump -C
 * style) and `write` (stdin into the payload, bounds-checked). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_RAW = 256, O_SEAL, O_IGNORE_SEAL };

/* Options every data command shares: the target and --raw. */
struct data_args {
    struct targets ts;
    struct target t;
    int raw;
    uint64_t offset, length;
    int have_length, seal;
    int ignore_seal; /* cat/dump: show a payload that fails its seal anyway */
};

static void data_help(const char *cmd)
{
    printf("Usage:\n shmkit %s NAME | --id ID | --key KEY | --ftok PATH:PROJ | --memfd PID:FD "
           "[options]%s\n\n",
           cmd, !strcmp(cmd, "write") ? " < DATA" : "");
    if (!strcmp(cmd, "cat"))
        fputs("Copy the payload (the bytes after the shmkit header) to stdout.\n", stdout);
    if (strcmp(cmd, "write"))
        fputs("A sealed payload that no longer matches its seal is not shown (exit 3).\n", stdout);
    else if (!strcmp(cmd, "dump"))
        fputs("Hex dump of the payload, in the format of hexdump -C. Offsets count\n"
              "from the start of the payload.\n",
              stdout);
    else
        fputs("Copy stdin into the payload at OFFSET. Nothing is written if the data\n"
              "does not fit between OFFSET and the end of the payload. A sealed segment\n"
              "is only written with --seal, which records the new checksum.\n",
              stdout);
    fputs("\nA segment without a shmkit header (foreign or --raw) is all payload.\n\n"
          "Options:\n"
          "  -i, --id ID          System V segment by shmid\n"
          "  -k, --key KEY        System V segment by key\n"
          "      --ftok PATH:PROJ System V segment by the key ftok(PATH, PROJ) makes\n"
          "  -m, --memfd PID:FD   memfd held by process PID as descriptor FD\n"
          "      --raw            the whole segment, header bytes included, unchecked\n",
          stdout);
    if (strcmp(cmd, "cat"))
        fputs("  -o, --offset N       start N bytes into the payload (K/M suffix or 0x hex)\n",
              stdout);
    if (!strcmp(cmd, "dump"))
        fputs("  -n, --length N       dump at most N bytes\n", stdout);
    if (!strcmp(cmd, "write"))
        fputs("      --seal           seal the segment after writing\n", stdout);
    else
        fputs("      --ignore-seal    show a sealed payload that no longer matches its seal\n"
              "                       (without it: an error and exit status 3)\n",
              stdout);
    fputs("  -h, --help           display this help\n", stdout);
}

/* Returns -1 to go on, or the exit status (help shown or usage error). */
static int data_parse(const char *cmd, int argc, char **argv, struct data_args *a)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"memfd", required_argument, NULL, 'm'},
        {"raw", no_argument, NULL, O_RAW},
        {"offset", required_argument, NULL, 'o'},
        {"length", required_argument, NULL, 'n'},
        {"seal", no_argument, NULL, O_SEAL},
        {"help", no_argument, NULL, 'h'},
        {"ignore-seal", no_argument, NULL, O_IGNORE_SEAL},
        {NULL, 0, NULL, 0},
    };
    int c, rc;
    int is_cat = !strcmp(cmd, "cat"), is_dump = !strcmp(cmd, "dump");
    memset(a, 0, sizeof *a);
    while ((c = getopt_long(argc, argv, ":i:k:m:o:n:h", opts, NULL)) != -1) {
        switch (c) {
        case O_RAW:
            a->raw = 1;
            break;
        case 'o':
            if (is_cat)
                return cli_usage("--offset", "not an option of cat (see 'shmkit dump')");
            if (opt_offset("--offset", optarg, &a->offset))
                return EXIT_USAGE;
            break;
        case 'n':
            if (!is_dump)
                return cli_usage("--length", "only an option of dump");
            if (opt_offset("--length", optarg, &a->length))
                return EXIT_USAGE;
            a->have_length = 1;
            break;
        case O_IGNORE_SEAL:
            if (!is_cat && !is_dump)
                return cli_usage("--ignore-seal", "only an option of cat and dump");
            a->ignore_seal = 1;
            break;
        case O_SEAL:
            if (strcmp(cmd, "write"))
                return cli_usage("--seal", "only an option of write");
            a->seal = 1;
            break;
        case 'h':
            data_help(cmd);
            return EXIT_OKAY;
        default:
            if ((rc = targets_getopt(&a->ts, c, argv)))
                return rc;
            break;
        }
    }
    if (a->seal && a->raw)
        return cli_usage("--seal, --raw", "mutually exclusive");
    if ((rc = targets_one(&a->ts, argc, argv, optind, &a->t)))
        return rc;
    return -1;
}

/* Parses the command line of CMD into *A (the caller frees A->ts either
 * way) and opens the target, read-only unless CMD is write. Returns -1 to
 * go on with *SEG open, or the exit status: help shown, a usage error, a
 * header error (exit 3, with a hint that --raw still reads the bytes), or
 * for cat and dump without --ignore-seal, a sealed payload that no longer
 * matches its seal (exit 3; checked once, before the first byte is shown). */
static int data_start(const char *cmd, int argc, char **argv, struct data_args *a, shmkit_seg **seg,
                      int *raw)
{
    int st = data_parse(cmd, argc, argv, a);
    if (st >= 0)
        return st;
    unsigned flags = (strcmp(cmd, "write") ? SHMKIT_RDONLY : 0) | (a->raw ? SHMKIT_RAW : 0);
    int rc = open_target(&a->t, flags, seg, raw);
    if (rc < 0) {
        st = cli_fail(a->t.label, rc);
        if (st == EXIT_INTEGRITY && !a->raw)
            cli_err(a->t.label, "use --raw to see the bytes anyway");
        return st;
    }
    if (!strcmp(cmd, "write") || *raw || a->ignore_seal)
        return -1;
    /* cat and dump show a sealed payload only while it matches its seal
     * (shmkit_seg_verify reads it without allocating a hole) */
    rc = shmkit_seg_verify(*seg);
    if (rc == 0 || rc == SHMKIT_ENOTSEALED)
        return -1;
    st = cli_fail(a->t.label, rc);
    if (st == EXIT_INTEGRITY)
        cli_err(a->t.label, "use --ignore-seal to see the payload anyway");
    shmkit_close(*seg);
    *seg = NULL;
    return st;
}

/* A read of the payload failed: the segment shrank, or the descriptor. */
static int data_read_fail(const struct data_args *a, int rc)
{
    if (rc == -ENODATA) {
        cli_err(a->t.label, "segment shrank while being read");
        return EXIT_SYSTEM;
    }
    return cli_fail(a->t.label, rc);
}

/* --offset must fall inside the payload of SIZE bytes (its end included).
 * Returns 0 or EXIT_USAGE after printing the error. */
static int data_offset_fits(const struct data_args *a, size_t size)
{
    if (a->offset <= size)
        return 0;
    return cli_usage("--offset", "%llu is past the end (the payload is %zu bytes)",
                     (unsigned long long)a->offset, size);
}

int cmd_cat(int argc, char **argv)
{
    static const unsigned char zeros[1 << 20]; /* never written: the zero page */
    static unsigned char buf[1 << 20];
    struct data_args a;
    shmkit_seg *seg = NULL;
    struct payload p;
    int raw, st = data_start("cat", argc, argv, &a, &seg, &raw);
    if (st >= 0)
        goto free_args;
    payload_init(&p, seg, raw);
    st = EXIT_OKAY;
    for (uint64_t pos = 0; pos < p.len && !ferror(stdout);) {
        uint64_t hole;
        int rc = payload_hole(&p, pos, &hole);
        size_t n = p.len - pos < sizeof buf ? (size_t)(p.len - pos) : sizeof buf;
        if (rc == 0 && hole) {
            n = hole < sizeof zeros ? (size_t)hole : sizeof zeros;
            fwrite(zeros, 1, n, stdout); /* a hole: zeros, nothing read */
        } else if (rc == 0 && (rc = payload_read(&p, pos, buf, n)) == 0) {
            fwrite(buf, 1, n, stdout); /* a write error is reported at exit */
        }
        if (rc < 0) {
            st = data_read_fail(&a, rc);
            break;
        }
        pos += n;
    }
    shmkit_close(seg);
free_args:
    targets_free(&a.ts);
    return st;
}

static void hex_line(uint64_t off, const unsigned char *b, size_t n)
{
    char line[100];
    int k = snprintf(line, sizeof line, "%08llx  ", (unsigned long long)off);
    for (size_t i = 0; i < 16; i++) {
        if (i < n)
            k += snprintf(line + k, sizeof line - (size_t)k, "%02x ", b[i]);
        else
            k += snprintf(line + k, sizeof line - (size_t)k, "   ");
        if (i == 7)
            line[k++] = ' ';
    }
    line[k++] = ' ';
    line[k++] = '|';
    for (size_t i = 0; i < n; i++)
        line[k++] = (b[i] >= 0x20 && b[i] < 0x7f) ? (char)b[i] : '.';
    line[k++] = '|';
    line[k++] = '\n';
    fwrite(line, 1, (size_t)k, stdout);
}

int cmd_dump(int argc, char **argv)
{
    static const unsigned char zero_line[16];
    static unsigned char win[1 << 16];
    struct data_args a;
    shmkit_seg *seg = NULL;
    struct payload p;
    int raw, st = data_start("dump", argc, argv, &a, &seg, &raw);
    if (st >= 0)
        goto free_args;
    size_t size = shmkit_seg_size(seg);
    if ((st = data_offset_fits(&a, size)))
        goto close_seg;
    payload_init(&p, seg, raw);
    uint64_t len = size - a.offset;
    if (a.have_length && a.length < len)
        len = a.length;
    unsigned char prev[16], cur[16];
    uint64_t wpos = 0, wlen = 0; /* WIN holds bytes [wpos, wpos + wlen) of the dump */
    int have_prev = 0, starred = 0, rc = 0;
    for (uint64_t pos = 0; pos < len && !ferror(stdout);) {
        size_t n = len - pos < 16 ? (size_t)(len - pos) : 16;
        if (pos < wpos || pos + n > wpos + wlen) {
            /* whole lines of a hole are all zeros: print the first, star the
             * rest, without reading (or allocating) any of it */
            uint64_t hole;
            if ((rc = payload_hole(&p, a.offset + pos, &hole)) < 0)
                break;
            uint64_t lines = (hole < len - pos ? hole : len - pos) / 16;
            int prev_zero = have_prev && !memcmp(prev, zero_line, 16);
            if (lines >= 2 || (lines == 1 && prev_zero)) {
                if (!prev_zero) {
                    hex_line(a.offset + pos, zero_line, 16);
                    memcpy(prev, zero_line, 16);
                    have_prev = 1;
                    starred = 0;
                    pos += 16;
                    lines--;
                }
                if (!starred)
                    fputs("*\n", stdout);
                starred = 1;
                pos += lines * 16;
                continue;
            }
            wpos = pos;
            wlen = len - pos < sizeof win ? len - pos : sizeof win;
            if ((rc = payload_read(&p, a.offset + pos, win, (size_t)wlen)) < 0)
                break;
        }
        memcpy(cur, win + (pos - wpos), n); /* one read of shared bytes per window */
        if (n == 16 && have_prev && !memcmp(cur, prev, 16)) {
            if (!starred)
                fputs("*\n", stdout);
            starred = 1;
            pos += n;
            continue;
        }
        hex_line(a.offset + pos, cur, n);
        memcpy(prev, cur, n);
        have_prev = n == 16;
        starred = 0;
        pos += n;
    }
    if (rc < 0) {
        st = data_read_fail(&a, rc);
        goto close_seg;
    }
    if (len)
        printf("%08llx\n", (unsigned long long)(a.offset + len));
    st = EXIT_OKAY;
close_seg:
    shmkit_close(seg);
free_args:
    targets_free(&a.ts);
    return st;
}

/* Reads stdin up to MAX bytes; *TOO_MUCH when more is waiting. */
static int read_input(size_t max, unsigned char **out, size_t *len, int *too_much)
{
    size_t cap = max + 1 < 65536 ? max + 1 : 65536, n = 0;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return -ENOMEM;
    *too_much = 0;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                *too_much = 1;
                break;
            }
            size_t ncap = cap * 2 > max + 1 ? max + 1 : cap * 2;
            unsigned char *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                return -ENOMEM;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(0, buf + n, cap - n);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            int err = -errno;
            free(buf);
            return err;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    if (n > max)
        *too_much = 1;
    *out = buf;
    *len = n;
    return 0;
}

int cmd_write(int argc, char **argv)
{
    struct data_args a;
    shmkit_seg *seg = NULL;
    unsigned char *data = NULL;
    int raw, st = data_start("write", argc, argv, &a, &seg, &raw);
    if (st >= 0)
        goto free_args;
    struct shmkit_info info;
    int rc = shmkit_seg_stat(seg, &info);
    if (rc < 0) {
        st = cli_fail(a.t.label, rc);
        goto close_seg;
    }
    if (info.seals & F_SEAL_WRITE) {
        st = cli_usage(a.t.label, "memfd is sealed against writes by the kernel");
        goto close_seg;
    }
    if (!raw && info.has_header && info.sealed && !a.seal) {
        st = cli_usage(a.t.label, "segment is sealed (use --seal to write and re-seal it)");
        goto close_seg;
    }
    size_t size = shmkit_seg_size(seg);
    if ((st = data_offset_fits(&a, size)))
        goto close_seg;
    size_t room = size - (size_t)a.offset, len = 0;
    int too_much = 0;
    rc = read_input(room, &data, &len, &too_much);
    if (rc < 0) {
        st = cli_fail("stdin", rc);
        goto close_seg;
    }
    if (too_much) {
        st = cli_usage(a.t.label,
                       "input does not fit: %zu bytes from offset %llu to the end; nothing written",
                       room, (unsigned long long)a.offset);
        goto free_data;
    }
    if (len) /* empty input: data may be NULL */
        memcpy((char *)shmkit_seg_data(seg) + a.offset, data, len);
    st = EXIT_OKAY;
    if (a.seal && (rc = shmkit_seg_seal(seg)) < 0)
        st = cli_fail(a.t.label, rc);
free_data:
    free(data);
close_seg:
    shmkit_close(seg);
free_args:
    targets_free(&a.ts);
    return st;
}
