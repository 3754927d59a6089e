/* cmd_call.c - `shmkit call NAME < request`: one request to an RPC
 * endpoint, its response on stdout (for scripts and debugging). */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void call_help(void)
{
    fputs("Usage:\n"
          " shmkit call NAME [--timeout SECONDS] < REQUEST\n"
          "\n"
          "Send stdin as one request to the RPC endpoint NAME (a POSIX segment\n"
          "with layout rpc, see shmkit_rpc(3)) and write the response to stdout.\n"
          "The call takes a free client slot for its duration.\n"
          "\n"
          "Exit status: 0 answered, 1 bad usage, no such endpoint or a request\n"
          "larger than the endpoint takes, 2 no answer (timeout, the server died\n"
          "or closed) or a system error, 3 the endpoint is corrupted.\n"
          "\n"
          "Options:\n"
          "  -t, --timeout SECONDS  how long to wait for the answer (default 5)\n"
          "  -h, --help             display this help\n",
          stdout);
}

/* Reads all of stdin, up to MAX bytes (one more tells it was longer). */
static int read_request(unsigned char *buf, size_t max, size_t *len)
{
    size_t n = 0;
    for (;;) {
        ssize_t r = read(STDIN_FILENO, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max)
            return SHMKIT_ETOOBIG;
    }
    *len = n;
    return 0;
}

static int call_run(const char *name, double timeout_s)
{
    struct shmkit_opts where = {.kind = SHMKIT_POSIX, .name = name};
    struct shmkit_rpc_config cfg = {0};
    shmkit_rpc_client *c;
    int rc = shmkit_rpc_client_open(&c, &where, &cfg);
    if (rc < 0)
        return cli_fail(name, rc);
    size_t max_req = shmkit_rpc_max_request(c), max_resp = shmkit_rpc_max_response(c);
    unsigned char *req = malloc(max_req + 1), *resp = malloc(max_resp ? max_resp : 1);
    size_t len = 0;
    int status = EXIT_OKAY;
    if (!req || !resp) {
        status = cli_fail(name, -ENOMEM);
        goto free_bufs;
    }
    rc = read_request(req, max_req, &len);
    if (rc == SHMKIT_ETOOBIG) {
        cli_err(name, "request larger than the endpoint's %zu bytes", max_req);
        status = EXIT_USAGE;
        goto free_bufs;
    }
    if (rc < 0) {
        status = cli_fail("stdin", rc);
        goto free_bufs;
    }
    rc = shmkit_rpc_call(c, req, len, resp, max_resp, (int64_t)(timeout_s * 1e9));
    if (rc < 0) {
        /* no answer is not a usage mistake, whatever the code */
        status = cli_fail(name, rc);
        if (status == EXIT_USAGE)
            status = EXIT_SYSTEM;
        goto free_bufs;
    }
    fwrite(resp, 1, (size_t)rc, stdout);
free_bufs:
    free(req);
    free(resp);
    shmkit_rpc_client_close(c);
    return status;
}

int cmd_call(int argc, char **argv)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double timeout_s = 5;
    int c;
    while ((c = getopt_long(argc, argv, ":t:h", opts, NULL)) != -1) {
        switch (c) {
        case 't':
            if (opt_interval("--timeout", optarg, &timeout_s))
                return EXIT_USAGE;
            break;
        case 'h':
            call_help();
            return EXIT_OKAY;
        default:
            return opt_bad(c, argv);
        }
    }
    if (optind != argc - 1)
        return cli_usage("call", optind >= argc ? "NAME missing" : "one NAME only");
    if (shmkit_name_check(argv[optind]) < 0)
        return cli_fail(argv[optind], SHMKIT_EBADNAME);
    return call_run(argv[optind], timeout_s);
}
