/* fuzz_cli_args.c - libFuzzer target: the CLI's argument parsing.
 *
 * The input is split at NUL bytes into an argument vector and run through
 * getopt_long with the options the shmkit commands share, dispatched to the
 * CLI's own parsers (tools/util.c and tools/target.c, compiled in:
 * opt_size, opt_offset, opt_key, opt_id, opt_mode, opt_interval, opt_ftok,
 * the --id/--key/--memfd targets, positional segment names) and to the
 * library's shmkit_parse_size / shmkit_parse_key / shmkit_name_check with checks of
 * what they promise:
 *   - a size that parses is the decimal value when the text is all digits,
 *     and printing it back in decimal parses to the same value;
 *   - a key that parses fits 32 bits and round-trips through "%d" and
 *     "0x%x";
 *   - a name that passes shmkit_name_check starts with one '/', holds no
 *     other '/', and is at most NAME_MAX bytes after it;
 *   - the escaping every outside string goes through (esc_str/esc_len)
 *     leaves no control character, C1, stray byte or bidi control, and a
 *     cut copy fits its buffer and ends in "...".
 * Nothing here touches a segment: the parsers are pure. */
#include "../../tools/util.c"
#include "../../tools/target.c"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* the CLI's error lines go to stderr: silence them (the sanitizers
     * write to file descriptor 2 directly, so reports still show) */
    FILE *null = fopen("/dev/null", "w");
    if (null)
        stderr = null;
    return 0;
}

static void check_size(const char *s)
{
    uint64_t v = 0, w = 0;
    int rc = shmkit_parse_size(s, &v);
    if (rc != 0 && rc != SHMKIT_EBADSIZE && rc != -ERANGE)
        abort();
    if (rc != 0)
        return;
    size_t digits = strspn(s, "0123456789");
    if (digits && s[digits] == '\0' && digits < 19 && v != strtoull(s, NULL, 10))
        abort();
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    if (shmkit_parse_size(buf, &w) != 0 || w != v)
        abort();
}

static void check_key(const char *s)
{
    int32_t k = 0, k2 = 0;
    int rc = shmkit_parse_key(s, &k);
    if (rc != 0 && rc != SHMKIT_EBADKEY)
        abort();
    if (rc != 0)
        return;
    char buf[32];
    snprintf(buf, sizeof buf, "%d", (int)k);
    if (shmkit_parse_key(buf, &k2) != 0 || k2 != k)
        abort();
    snprintf(buf, sizeof buf, "0x%x", (unsigned)k);
    if (shmkit_parse_key(buf, &k2) != 0 || k2 != k)
        abort();
}

static void check_name(const char *s)
{
    int rc = shmkit_name_check(s);
    if (rc != 0 && rc != SHMKIT_EBADNAME)
        abort();
    if (rc == 0 && (s[0] != '/' || strchr(s + 1, '/') || strlen(s + 1) == 0 ||
                    strlen(s + 1) > NAME_MAX))
        abort();
}

/* The one escaping of outside strings (util.c): nothing a terminal acts on
 * survives (C0, DEL, C1 raw or as UTF-8, a stray byte >= 0x80 that is not
 * valid UTF-8, bidi controls), the length agrees with what is written, and
 * a cut copy stays within its buffer and is marked. */
static void check_escape(const char *s)
{
    static char buf[4096 * 4 + 4];
    char small[24];
    for (int flags = 0; flags <= (ESC_SPACE | ESC_QUOTE); flags++) {
        size_t len = esc_len(s, flags);
        esc_str(s, flags, buf, sizeof buf);
        if (strlen(buf) != len)
            abort();
        for (const unsigned char *p = (const unsigned char *)buf; *p;) {
            uint32_t cp;
            int n = utf8_seq(p, &cp);
            if (n == 0 || cp_unsafe(cp) || ((flags & ESC_SPACE) && cp == ' ') ||
                ((flags & ESC_QUOTE) && cp == '"'))
                abort();
            if (cp == '\\' && p[1] != 'x')
                abort(); /* a backslash only starts an escape */
            p += n;
        }
        esc_str(s, flags, small, sizeof small);
        size_t sl = strlen(small);
        if (sl >= sizeof small || (len >= sizeof small && (sl < 3 || strcmp(small + sl - 3, "..."))))
            abort();
    }
}

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = "shmkit";
    for (size_t i = 0; i <= size && argc < MAX_ARGS + 1;) {
        argv[argc++] = copy + i;
        i += strlen(copy + i) + 1;
    }
    argv[argc] = NULL;
    for (int i = 1; i < argc; i++) {
        check_size(argv[i]);
        check_key(argv[i]);
        check_name(argv[i]);
        check_escape(argv[i]);
    }

    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},   {"offset", required_argument, NULL, 'o'},
        {"key", required_argument, NULL, 'k'},    {"id", required_argument, NULL, 'i'},
        {"memfd", required_argument, NULL, 'm'},  {"mode", required_argument, NULL, 'M'},
        {"interval", required_argument, NULL, 'I'}, {"ftok", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    uint64_t u;
    uint32_t mode;
    double d;
    const char *path;
    int proj, c, status = 0;
    optind = 0; /* glibc: full re-initialisation for each vector */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":s:o:k:i:m:M:I:f:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            status = opt_size("--size", optarg, &u);
            break;
        case 'o':
            status = opt_offset("--offset", optarg, &u);
            break;
        case 'k':
        case 'i':
        case 'm':
            status = targets_opt(&ts, c, optarg);
            break;
        case 'M':
            status = opt_mode("--mode", optarg, &mode);
            if (status == 0 && (mode == 0 || mode > 0777))
                abort();
            break;
        case 'I':
            status = opt_interval("--interval", optarg, &d);
            break;
        case 'f':
            status = opt_ftok("--ftok", optarg, &path, &proj);
            if (status == 0 && (proj < 1 || proj > 255))
                abort();
            break;
        case 'h':
            break;
        default:
            status = opt_bad(c, argv);
            break;
        }
        if (status != 0 && status != EXIT_USAGE)
            abort();
    }
    struct target one;
    if (optind <= argc)
        targets_one(&ts, argc, argv, optind, &one); /* reads the names, then wants exactly one */
    for (int i = 0; i < ts.n; i++) {
        if (ts.v[i].type == T_NAME && shmkit_name_check(ts.v[i].name) != 0)
            abort();
        if (ts.v[i].type == T_KEY && ts.v[i].key == 0)
            abort();
    }
    char buf[64];
    if (ts.n > 0)
        fmt_human((uint64_t)ts.v[0].id * 977u, buf, sizeof buf);
    fmt_perms((uint32_t)size, buf, sizeof buf);
    targets_free(&ts);
    free(copy);
    return 0;
}
