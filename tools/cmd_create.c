/* cmd_create.c - `shmkit create`: make a POSIX or System V segment. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
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
          "Create a segment and print what was made: the POSIX name, or\n"
          "'key=0x... id=N' for System V. Without --excl an existing segment of\n"
          "at least SIZE is reused.\n"
          "\n"
          "Options:\n"
          "  -s, --size SIZE        payload bytes: 4096, 4K, 1.5M, 2GiB ...\n"
          "  -m, --mode MODE        octal permissions (default 0600)\n"
          "  -x, --excl             fail if it already exists\n"
          "      --raw              no shmkit header: the whole segment is payload\n"
          "      --seal             record a checksum of the (zeroed) payload\n"
          "      --sysv             a System V segment\n"
          "  -k, --key KEY          System V key (decimal or 0x hex)\n"
          "      --ftok PATH:PROJ   System V key from ftok(PATH, PROJ)\n"
          "      --private          System V IPC_PRIVATE (always a new segment)\n"
          "      --hold             stay running with the segment mapped until SIGINT,\n"
          "                         SIGTERM or SIGHUP (a live creator or user)\n"
          "  -h, --help             display this help\n",
          stdout);
}

int cmd_create(int argc, char **argv)
{
    enum { O_RAW = 256, O_SEAL, O_SYSV, O_FTOK, O_PRIVATE, O_HOLD };
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'}, {"mode", required_argument, NULL, 'm'},
        {"excl", no_argument, NULL, 'x'},       {"raw", no_argument, NULL, O_RAW},
        {"seal", no_argument, NULL, O_SEAL},    {"sysv", no_argument, NULL, O_SYSV},
        {"key", required_argument, NULL, 'k'},  {"ftok", required_argument, NULL, O_FTOK},
        {"private", no_argument, NULL, O_PRIVATE}, {"hold", no_argument, NULL, O_HOLD},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct shmkit_opts o;
    memset(&o, 0, sizeof o);
    o.flags = SHMKIT_CREATE;
    uint64_t size = 0;
    uint32_t mode = 0;
    int have_size = 0, sysv = 0, seal = 0, keys = 0, hold_it = 0, c;
    while ((c = getopt_long(argc, argv, ":s:m:xk:h", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (opt_size("--size", optarg, &size))
                return EXIT_USAGE;
            have_size = 1;
            break;
        case 'm':
            if (opt_mode("--mode", optarg, &mode))
                return EXIT_USAGE;
            break;
        case 'x':
            o.flags |= SHMKIT_EXCL;
            break;
        case O_RAW:
            o.flags |= SHMKIT_RAW;
            break;
        case O_SEAL:
            seal = 1;
            break;
        case O_SYSV:
            sysv = 1;
            break;
        case 'k':
            if (opt_key("--key", optarg, &o.key))
                return EXIT_USAGE;
            keys++;
            break;
        case O_FTOK:
            if (opt_ftok("--ftok", optarg, &o.ftok_path, &o.ftok_proj))
                return EXIT_USAGE;
            keys++;
            break;
        case O_PRIVATE:
            o.sysv_private = 1;
            keys++;
            break;
        case O_HOLD:
            hold_it = 1;
            break;
        case 'h':
            create_help();
            return EXIT_OKAY;
        default:
            return opt_bad(c, argv);
        }
    }
    if (seal && (o.flags & SHMKIT_RAW))
        return cli_usage("--seal, --raw", "mutually exclusive (a raw segment has no header)");
    if (keys && !sysv)
        return cli_usage(o.ftok_path ? "--ftok" : o.sysv_private ? "--private" : "--key",
                         "only with --sysv");
    if (sysv) {
        if (optind < argc)
            return cli_usage(argv[optind], "a System V segment has no name (use --key)");
        if (keys != 1)
            return cli_usage("--sysv", keys ? "give only one of --key, --ftok, --private"
                                            : "needs one of --key, --ftok, --private");
        o.kind = SHMKIT_SYSV;
    } else {
        if (optind == argc)
            return cli_usage("segment name", "missing (like /orders)");
        if (argc - optind > 1)
            return cli_usage(argv[optind + 1], "one segment at a time");
        struct target t;
        if (target_name(&t, argv[optind]))
            return EXIT_USAGE;
        o.kind = SHMKIT_POSIX;
        o.name = argv[optind];
    }
    if (!have_size)
        return cli_usage("--size", "required");
    if (size == 0)
        return cli_usage("--size", "'0': a segment needs at least one byte");
    if (size > SIZE_MAX || size > (uint64_t)INT64_MAX - SHMKIT_HEADER_SIZE)
        return cli_usage("--size", "%llu: too large", (unsigned long long)size);
    o.size = (size_t)size;
    o.mode = mode;

    if (o.ftok_path && access(o.ftok_path, F_OK) < 0)
        return cli_usage("--ftok", "%s: %s", o.ftok_path, strerror(errno));
    const char *what = o.kind == SHMKIT_POSIX ? o.name : "create";
    shmkit_seg *seg = NULL;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0)
        return cli_fail(what, rc);
    if (seal && (rc = shmkit_seg_seal(seg)) < 0) {
        shmkit_close(seg);
        return cli_fail(what, rc);
    }
    struct shmkit_info info;
    rc = shmkit_seg_stat(seg, &info);
    if (rc == 0) {
        if (o.kind == SHMKIT_POSIX)
            printf("%s\n", o.name);
        else
            printf("key=0x%08x id=%d\n", (unsigned)info.key, info.shmid);
        if (hold_it) {
            if (fflush(stdout) != 0)
                rc = -EIO;
            else
                hold();
        }
    }
    shmkit_close(seg);
    return rc < 0 ? cli_fail(what, rc) : EXIT_OKAY;
}
