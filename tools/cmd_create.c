/* cmd_create.c - `shmkit create`: make a POSIX or System V segment. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sys/ipc.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t released;

static void on_release(int sig)
{
    (void)sig;
    released = 1;
}

/* --hold: stay alive with the segment mapped until a signal says go. */
static void hold(void)
{
    struct sigaction sa;
    sigset_t block, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_release;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    /* no signal may slip in between the test and the wait */
    sigprocmask(SIG_BLOCK, &block, &old);
    while (!released)
        sigsuspend(&old);
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void create_help(void)
{
    fputs("Usage:\n"
          " shmkit create NAME --size SIZE [options]\n"
          " shmkit create --sysv (--key KEY | --ftok PATH:PROJ | --private) --size SIZE [options]\n"
          "\n"
          "Create a segment (plain bytes, or a ring, bus, table or RPC endpoint) and\n"
          "print what\n"
          "was made: the POSIX name, or\n"
          "'key=0x... id=N' for System V. Without --excl an existing segment of\n"
          "at least SIZE is reused.\n"
          "\n"
          "Options:\n"
          "  -s, --size SIZE        payload bytes: 4096, 4K, 1.5M, 2GiB ...\n"
          "  -m, --mode MODE        octal permissions (default 0600)\n"
          "  -x, --excl             fail if it already exists\n"
          "      --raw              no shmkit header: the whole segment is payload\n"
          "      --seal             record a checksum of the (zeroed) payload\n"
          "      --noreserve        do not reserve the memory: a sparse segment whose\n"
          "                         pages are allocated when first written\n"
          "      --sysv             a System V segment\n"
          "  -k, --key KEY          System V key (decimal or 0x hex)\n"
          "      --ftok PATH:PROJ   System V key from ftok(PATH, PROJ)\n"
          "      --private          System V IPC_PRIVATE (always a new segment)\n"
          "      --ring CAP         a ring of CAP data bytes (a power of two, >= 256)\n"
          "      --bus SLOTS[:MSGMAX[:SUBS]]  a bus (defaults 256 bytes, 64 subscribers)\n"
          "      --lossy            with --bus: the publisher never waits\n"
          "      --table COUNT:RECSIZE        a table of COUNT records of RECSIZE bytes\n"
          "      --rpc REQ[:RESP[:CLIENTS]]  an RPC endpoint: largest request and\n"
          "                         response (RESP defaults to REQ), client slots\n"
          "                         (default 64); no server is attached\n"
          "                         (these four size the segment themselves, imply\n"
          "                         --excl, and leave the structure empty)\n"
          "      --keep             persistent: meant to outlive its creator; plain\n"
          "                         'shmkit gc' keeps it (gc --older-than or rm remove it)\n"
          "      --hold             stay running with the segment mapped until SIGINT,\n"
          "                         SIGTERM or SIGHUP (a live creator or user)\n"
          "  -h, --help             display this help\n",
          stdout);
}

/* --ring / --bus / --table / --rpc */
struct layout_args {
    uint32_t layout;
    uint64_t a, b, c; /* ring: capacity; bus: slots, msg_max, subs; table: count, rec_size;
                         rpc: max request, max response, clients */
    int lossy;
    uint64_t size; /* payload bytes the structure needs */
};

struct layout_handles {
    shmkit_ring *ring;
    shmkit_bus *bus;
    shmkit_table *table;
};

/* "N[:N[:N]]" with size syntax for each part. */
static int parse_parts(const char *opt, const char *arg, uint64_t *v, int min, int max)
{
    char buf[128];
    if (strlen(arg) >= sizeof buf)
        return cli_usage(opt, "'%s': too long", arg);
    strcpy(buf, arg);
    int n = 0;
    for (char *p = buf, *colon; p; p = colon ? colon + 1 : NULL, n++) {
        colon = strchr(p, ':');
        if (colon)
            *colon = '\0';
        if (n == max)
            return cli_usage(opt, "'%s': too many parts", arg);
        if (opt_size(opt, p, &v[n]))
            return EXIT_USAGE;
    }
    if (n < min)
        return cli_usage(opt, "'%s': expected %s", arg, min == 2 ? "COUNT:RECSIZE" : "a number");
    return 0;
}

static int parse_layout(const char *opt, const char *arg, uint32_t layout, struct layout_args *l)
{
    uint64_t v[3] = {0, layout == SHMKIT_LAYOUT_RPC ? 0 : 256, 64};
    if (parse_parts(opt, arg, v, layout == SHMKIT_LAYOUT_TABLE ? 2 : 1,
                    layout == SHMKIT_LAYOUT_RING    ? 1
                    : layout == SHMKIT_LAYOUT_TABLE ? 2
                                                    : 3))
        return EXIT_USAGE;
    if (layout == SHMKIT_LAYOUT_RPC && !v[1])
        v[1] = v[0];
    l->layout = layout;
    l->a = v[0];
    l->b = v[1];
    l->c = v[2];
    if (layout == SHMKIT_LAYOUT_RING)
        l->size = shmkit_ring_size_for((size_t)l->a);
    else if (layout == SHMKIT_LAYOUT_BUS)
        l->size =
            l->c > UINT32_MAX ? 0 : shmkit_bus_size_for((size_t)l->a, (size_t)l->b, (unsigned)l->c);
    else if (layout == SHMKIT_LAYOUT_RPC)
        l->size = l->c > UINT32_MAX ? 0
                                    : shmkit_rpc_size_for((size_t)l->a, (size_t)l->b, (unsigned)l->c);
    else
        l->size = (l->a && l->a <= UINT32_MAX && l->b && l->b <= UINT32_MAX) ? 1 : 0;
    if (!l->size)
        return cli_usage(opt, "'%s': %s", arg,
                         layout == SHMKIT_LAYOUT_RING ? "capacity must be a power of two >= 256"
                         : layout == SHMKIT_LAYOUT_BUS
                             ? "slots a power of two, message size and subscribers in range"
                         : layout == SHMKIT_LAYOUT_RPC
                             ? "request and response 1..1G, clients 1..4096"
                             : "count and record size must be 1 or more");
    return 0;
}

/* Builds the structure. A table makes its own segment (*SEG is set to it). */
static int make_layout(const struct layout_args *l, const struct shmkit_opts *o, shmkit_seg **seg,
                       struct layout_handles *h, int hold)
{
    int rc;
    /* Without --hold the command exits at once: it sets the channel up
     * without a role, so that a consumer or subscriber joining later waits
     * for a producer instead of being told the stream ended. With --hold it
     * stays the producer (publisher) while it runs. */
    switch (l->layout) {
    case SHMKIT_LAYOUT_RING:
        return shmkit_ring_create(&h->ring, *seg, (size_t)l->a, hold ? SHMKIT_RING_PRODUCER : 0);
    case SHMKIT_LAYOUT_BUS:
        return shmkit_bus_create(&h->bus, *seg, (size_t)l->a, (size_t)l->b, (unsigned)l->c,
                                 (l->lossy ? SHMKIT_BUS_LOSSY : 0) |
                                     (hold ? 0 : SHMKIT_BUS_NOROLE));
    case SHMKIT_LAYOUT_RPC: {
        struct shmkit_rpc_config cfg = {.max_request = l->a, .max_response = l->b,
                                        .max_clients = (uint32_t)l->c};
        return shmkit_rpc_init(*seg, &cfg);
    }
    default:
        rc = shmkit_table_create(&h->table, o, (uint32_t)l->b, (uint32_t)l->a, 0);
        if (rc == 0)
            *seg = shmkit_table_seg(h->table);
        return rc;
    }
}

/* What the command line asks for. */
struct create_args {
    struct shmkit_opts o;
    struct layout_args lay;
    uint64_t size;
    uint32_t mode;
    int have_size, sysv, seal, keys, hold;
    int help;       /* --help was printed: nothing else to do */
    char what[300]; /* how errors name the segment: "/x", "key 0x... (ftok P:N)" */
};

enum {
    O_RAW = 256,
    O_SEAL,
    O_SYSV,
    O_FTOK,
    O_PRIVATE,
    O_HOLD,
    O_RING,
    O_BUS,
    O_LOSSY,
    O_TABLE,
    O_RPC,
    O_NORESERVE,
    O_KEEP
};

static const struct option create_opts[] = {
    {"size", required_argument, NULL, 's'},
    {"mode", required_argument, NULL, 'm'},
    {"excl", no_argument, NULL, 'x'},
    {"raw", no_argument, NULL, O_RAW},
    {"seal", no_argument, NULL, O_SEAL},
    {"sysv", no_argument, NULL, O_SYSV},
    {"key", required_argument, NULL, 'k'},
    {"ftok", required_argument, NULL, O_FTOK},
    {"private", no_argument, NULL, O_PRIVATE},
    {"hold", no_argument, NULL, O_HOLD},
    {"ring", required_argument, NULL, O_RING},
    {"bus", required_argument, NULL, O_BUS},
    {"lossy", no_argument, NULL, O_LOSSY},
    {"table", required_argument, NULL, O_TABLE},
    {"rpc", required_argument, NULL, O_RPC},
    {"noreserve", no_argument, NULL, O_NORESERVE},
    {"keep", no_argument, NULL, O_KEEP},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* --ring, --bus, --table or --rpc ARG (option C). */
static int create_layout_opt(struct create_args *a, int c, const char *arg)
{
    if (a->lay.layout)
        return cli_usage("--ring, --bus, --table, --rpc", "give only one");
    if (c == O_RPC)
        return parse_layout("--rpc", arg, SHMKIT_LAYOUT_RPC, &a->lay);
    if (c == O_RING)
        return parse_layout("--ring", arg, SHMKIT_LAYOUT_RING, &a->lay);
    if (c == O_BUS)
        return parse_layout("--bus", arg, SHMKIT_LAYOUT_BUS, &a->lay);
    return parse_layout("--table", arg, SHMKIT_LAYOUT_TABLE, &a->lay);
}

/* One option C of getopt (ARGV for its complaints). 0 or the exit status. */
static int create_opt(struct create_args *a, int c, char **argv)
{
    struct shmkit_opts *o = &a->o;
    switch (c) {
    case 's':
        a->have_size = 1;
        return opt_size("--size", optarg, &a->size);
    case 'm':
        return opt_mode("--mode", optarg, &a->mode);
    case 'x':
        o->flags |= SHMKIT_EXCL;
        return 0;
    case O_RAW:
        o->flags |= SHMKIT_RAW;
        return 0;
    case O_NORESERVE:
        o->flags |= SHMKIT_NORESERVE;
        return 0;
    case O_KEEP:
        o->flags |= SHMKIT_PERSIST;
        return 0;
    case O_SEAL:
        a->seal = 1;
        return 0;
    case O_SYSV:
        a->sysv = 1;
        return 0;
    case O_HOLD:
        a->hold = 1;
        return 0;
    case O_LOSSY:
        a->lay.lossy = 1;
        return 0;
    case 'k':
        a->keys++;
        return opt_key("--key", optarg, &o->key);
    case O_FTOK:
        a->keys++;
        return opt_ftok("--ftok", optarg, &o->ftok_path, &o->ftok_proj);
    case O_PRIVATE:
        a->keys++;
        o->sysv_private = 1;
        return 0;
    case O_RING:
    case O_BUS:
    case O_TABLE:
    case O_RPC:
        return create_layout_opt(a, c, optarg);
    case 'h':
        create_help();
        a->help = 1;
        return 0;
    default:
        return opt_bad(c, argv);
    }
}

static int create_parse(int argc, char **argv, struct create_args *a)
{
    memset(a, 0, sizeof *a);
    a->o.flags = SHMKIT_CREATE;
    int c, status;
    while ((c = getopt_long(argc, argv, ":s:m:xk:h", create_opts, NULL)) != -1)
        if ((status = create_opt(a, c, argv)) || a->help)
            return status;
    return 0;
}

/* The options that exclude each other. */
static int create_check_flags(const struct create_args *a)
{
    const struct shmkit_opts *o = &a->o;
    if (a->lay.lossy && a->lay.layout != SHMKIT_LAYOUT_BUS)
        return cli_usage("--lossy", "only with --bus");
    if (a->lay.layout && (o->flags & SHMKIT_RAW))
        return cli_usage("--raw", "a ring, bus, table or RPC endpoint needs the shmkit header");
    if (a->lay.layout && a->seal)
        return cli_usage("--seal", "only for plain bytes (a ring, bus, table or endpoint changes)");
    if (a->lay.layout && a->have_size)
        return cli_usage("--size",
                         "not with --ring, --bus, --table or --rpc (they size the segment)");
    if ((o->flags & SHMKIT_PERSIST) && (o->flags & SHMKIT_RAW))
        return cli_usage("--keep, --raw", "mutually exclusive (a raw segment has no header)");
    if (a->seal && (o->flags & SHMKIT_RAW))
        return cli_usage("--seal, --raw", "mutually exclusive (a raw segment has no header)");
    if (a->keys && !a->sysv)
        return cli_usage(o->ftok_path      ? "--ftok"
                         : o->sysv_private ? "--private"
                                           : "--key",
                         "only with --sysv");
    return 0;
}

/* The segment's kind and name: a System V key, or one POSIX name in
 * ARGV[FIRST..]. */
static int create_check_name(struct create_args *a, int argc, char **argv, int first)
{
    if (a->sysv) {
        if (first < argc)
            return cli_usage(argv[first], "a System V segment has no name (use --key)");
        if (a->keys != 1)
            return cli_usage("--sysv", a->keys ? "give only one of --key, --ftok, --private"
                                               : "needs one of --key, --ftok, --private");
        a->o.kind = SHMKIT_SYSV;
        return 0;
    }
    if (first == argc)
        return cli_usage("segment name", "missing (like /orders)");
    /* the name first: after "--" even "-x" is one, judged as a name */
    struct target t;
    if (target_name(&t, argv[first]))
        return EXIT_USAGE;
    if (argc - first > 1) {
        const char *extra = argv[first + 1];
        if (extra[0] == '-' && first > 0 && !strcmp(argv[first - 1], "--"))
            return cli_usage(extra, "options go before '--' (everything after it is a name)");
        return cli_usage(extra, "one segment at a time");
    }
    a->o.kind = SHMKIT_POSIX;
    a->o.name = argv[first];
    return 0;
}

/* A->what: the name, the key (with the ftok arguments it came from), or
 * "System V IPC_PRIVATE". 0 or the exit status (ftok failed). */
static int create_label(struct create_args *a)
{
    const struct shmkit_opts *o = &a->o;
    if (o->kind == SHMKIT_POSIX) {
        snprintf(a->what, sizeof a->what, "%s", o->name);
    } else if (o->sysv_private) {
        snprintf(a->what, sizeof a->what, "System V IPC_PRIVATE");
    } else if (o->ftok_path) {
        key_t key = ftok(o->ftok_path, o->ftok_proj);
        if (key == (key_t)-1)
            return cli_usage("--ftok", "%s: %s", o->ftok_path, strerror(errno));
        snprintf(a->what, sizeof a->what, "key 0x%08x (ftok %.200s:%d)", (unsigned)key,
                 o->ftok_path, o->ftok_proj);
    } else {
        snprintf(a->what, sizeof a->what, "key 0x%08x", (unsigned)o->key);
    }
    return 0;
}

/* Checks what was parsed and completes A->o. 0 or the exit status. */
static int create_validate(struct create_args *a, int argc, char **argv, int first)
{
    int status = create_check_flags(a);
    if (status || (status = create_check_name(a, argc, argv, first)))
        return status;
    if (a->lay.layout) {
        a->size = a->lay.size;
        a->have_size = 1;
        a->o.flags |= SHMKIT_EXCL; /* never re-initialise someone's live structure */
    }
    if (!a->have_size)
        return cli_usage("--size", "required");
    if (a->size == 0)
        return cli_usage("--size", "'0': a segment needs at least one byte");
    if (a->size > SIZE_MAX || a->size > (uint64_t)INT64_MAX - SHMKIT_HEADER_SIZE)
        return cli_usage("--size", "%llu: too large", (unsigned long long)a->size);
    a->o.size = (size_t)a->size;
    a->o.mode = a->mode;
    return create_label(a);
}

/* Prints what was made and, with --hold, waits. 0, a negative code, or
 * EXIT_USAGE after printing the error (--keep met an existing segment that
 * is not persistent). */
static int create_report(const struct create_args *a, shmkit_seg *seg)
{
    struct shmkit_info info;
    int rc = shmkit_seg_stat(seg, &info);
    if (rc < 0)
        return rc;
    if ((a->o.flags & SHMKIT_PERSIST) && !info.persistent) {
        cli_err(a->what, "already exists and is not persistent (--keep applies only when "
                         "creating: remove it first, or use --excl)");
        return EXIT_USAGE;
    }
    if (a->o.kind == SHMKIT_POSIX)
        printf("%s\n", a->o.name);
    else
        printf("key=0x%08x id=%d\n", (unsigned)info.key, info.shmid);
    if (!a->hold)
        return 0;
    if (fflush(stdout) != 0)
        return -EIO;
    hold(); /* with the ring's producer or bus's publisher attached */
    return 0;
}

static int create_run(const struct create_args *a)
{
    const char *what = a->what;
    shmkit_seg *seg = NULL;
    struct layout_handles lh = {0};
    int rc = a->lay.layout == SHMKIT_LAYOUT_TABLE ? 0 : shmkit_open(&seg, &a->o);
    if (rc < 0)
        return cli_fail(what, rc);
    if (a->lay.layout && (rc = make_layout(&a->lay, &a->o, &seg, &lh, a->hold)) < 0) {
        if (seg)
            shmkit_seg_remove(seg); /* ours: --excl */
        shmkit_close(seg);
        return cli_fail(what, rc);
    }
    if (a->seal && (rc = shmkit_seg_seal(seg)) < 0) {
        shmkit_close(seg);
        return cli_fail(what, rc);
    }
    rc = create_report(a, seg);
    shmkit_ring_close(lh.ring);
    shmkit_bus_close(lh.bus);
    if (lh.table)
        shmkit_table_close(lh.table); /* owns seg */
    else
        shmkit_close(seg);
    return rc < 0 ? cli_fail(what, rc) : rc;
}

int cmd_create(int argc, char **argv)
{
    struct create_args a;
    int status = create_parse(argc, argv, &a);
    if (status || a.help)
        return status;
    if ((status = create_validate(&a, argc, argv, optind)))
        return status;
    return create_run(&a);
}
