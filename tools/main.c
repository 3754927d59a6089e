/*
 * main.c - `shmkit COMMAND ...`: finds the command, runs it, and makes sure
 * what it wrote to stdout really got there (a write error is exit 2).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* `shmkit bridge ARGS...` runs shmkit-bridge (bridge/, built beside this
 * binary): the ZeroMQ dependency stays out of libshmkit and this program.
 * The copy next to the running shmkit first (/proc/self/exe's directory, so
 * a build tree runs its own), then PATH. Returns only on failure. */
static int cmd_bridge(int argc, char **argv)
{
    (void)argc;
    argv[0] = "shmkit-bridge";
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n > 0) {
        self[n] = 0;
        char *slash = strrchr(self, '/');
        if (slash && (size_t)(slash - self) + sizeof "/shmkit-bridge" <= sizeof self) {
            strcpy(slash + 1, "shmkit-bridge");
            execv(self, argv);
        }
    }
    execvp("shmkit-bridge", argv);
    int err = errno;
    cli_err("bridge", "cannot run shmkit-bridge: %s", strerror(err));
    return err == ENOENT ? EXIT_USAGE : EXIT_SYSTEM;
}

static const struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"ls", cmd_ls, "list POSIX, System V and memfd segments"},
    {"info", cmd_info, "everything about one segment"},
    {"create", cmd_create, "create a POSIX or System V segment"},
    {"cat", cmd_cat, "copy a segment's payload to stdout"},
    {"dump", cmd_dump, "hex dump of a segment's payload"},
    {"write", cmd_write, "copy stdin into a segment's payload"},
    {"verify", cmd_verify, "check headers and seals"},
    {"rm", cmd_rm, "remove segments"},
    {"gc", cmd_gc, "remove shmkit segments left by dead processes"},
    {"watch", cmd_watch, "live view of a segment"},
    {"bridge", cmd_bridge, "carry buses to other hosts (shmkit-bridge)"},
    {"call", cmd_call, "send stdin to an RPC endpoint, print the answer"},
};

static void usage(FILE *f)
{
    fputs("Usage:\n"
          " shmkit COMMAND [options] [arguments]\n"
          " shmkit COMMAND --help\n"
          "\n"
          "See and manage shared memory: POSIX (/dev/shm), System V and memfd.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Options:\n"
          "  -h, --help     display this help\n"
          "  -V, --version  display the version\n"
          "\n"
          "Exit status: 0 ok, 1 bad usage or input, 2 system error, 3 integrity failure.\n"
          "For more details see shmkit(1).\n",
          f);
}

/* Flushes and closes stdout, turning a failed write into exit status 2,
 * as util-linux's close_stdout() does. A closed pipe is not an error. */
static int close_stdout(int status)
{
    int failed = ferror(stdout);
    errno = 0;
    if (fflush(stdout) != 0)
        failed = 1;
    int err = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    if (failed && err != EPIPE) {
        cli_err("write error", "%s", err ? strerror(err) : "unknown error");
        return EXIT_SYSTEM;
    }
    return status;
}

int main(int argc, char **argv)
{
    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    if (argc < 2)
        return cli_usage("command", "missing (ls, info, create, cat, dump, write, verify, rm, gc, watch, bridge)");
    const char *c = argv[1];
    if (!strcmp(c, "-h") || !strcmp(c, "--help")) {
        usage(stdout);
        return close_stdout(EXIT_OKAY);
    }
    if (!strcmp(c, "-V") || !strcmp(c, "--version")) {
        printf("shmkit %s (libshmkit %s)\n", SHMKIT_VERSION_STRING, shmkit_version());
        return close_stdout(EXIT_OKAY);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(c, commands[i].name))
            continue;
        cli_cmd = commands[i].name;
        if (commands[i].run == cmd_bridge) /* before any output is buffered */
            return cmd_bridge(argc - 1, argv + 1);
        guard_sigbus();
        int status = commands[i].run(argc - 1, argv + 1);
        return close_stdout(status);
    }
    if (c[0] == '-')
        return cli_usage(c, "unknown option");
    return cli_usage(c, "unknown command");
}
