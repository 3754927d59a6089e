/* cmd_verify.c - `shmkit verify`: header and seal check, exit 3 when one fails. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void verify_help(void)
{
    fputs("Usage:\n"
          " shmkit verify NAME... [--id ID]... [--key KEY]... [--ftok PATH:PROJ]...\n"
          "               [--memfd PID:FD]... [-q]\n"
          "\n"
          "Validate each segment's shmkit header and, when it is sealed, recompute\n"
          "the payload checksum. Prints one line per intact segment on stdout and\n"
          "one error line per failed one on stderr.\n"
          "\n"
          "Exit status: 0 all intact, 3 a header or payload failed its check\n"
          "(including a segment without a shmkit header), 1 a segment does not\n"
          "exist, 2 a system error; the highest applies.\n"
          "\n"
          "Options:\n"
          "  -i, --id ID          System V segment by shmid (repeatable)\n"
          "  -k, --key KEY        System V segment by key (repeatable)\n"
          "      --ftok PATH:PROJ System V segment by ftok(PATH, PROJ) (repeatable)\n"
          "  -m, --memfd PID:FD   memfd held by process PID as descriptor FD\n"
          "  -q, --quiet          no lines for intact segments\n"
          "  -h, --help           display this help\n",
          stdout);
}

static int verify_one(const struct target *t, int quiet)
{
    struct scan_opts so = {.header = 1};
    struct seg_row r;
    int rc = scan_target(t, &so, &r);
    if (rc < 0)
        return cli_fail(t->label, rc);
    rc = r.hdr_rc;
    row_free(&r);
    if (rc == SHMKIT_ENOTSHMKIT) {
        cli_err(t->label, "not a shmkit segment (no header to verify)");
        return EXIT_INTEGRITY;
    }
    if (rc < 0)
        return cli_fail(t->label, rc);
    shmkit_seg *seg = NULL;
    int raw = 0;
    rc = open_target(t, SHMKIT_RDONLY, &seg, &raw);
    if (rc < 0)
        return cli_fail(t->label, rc);
    rc = shmkit_seg_verify(seg);
    shmkit_close(seg);
    if (rc == 0 || rc == SHMKIT_ENOTSEALED) {
        if (!quiet) {
            esc_put(stdout, t->label, 0);
            printf(": ok (%s)\n",
                   rc == 0 ? "header valid, sealed payload intact" : "header valid, not sealed");
        }
        return EXIT_OKAY;
    }
    return cli_fail(t->label, rc);
}

int cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"id", required_argument, NULL, 'i'},
        {"key", required_argument, NULL, 'k'},
        {"ftok", required_argument, NULL, OPT_FTOK},
        {"memfd", required_argument, NULL, 'm'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct targets ts = {0};
    int quiet = 0, c, status = EXIT_OKAY;
    while ((c = getopt_long(argc, argv, ":i:k:m:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q':
            quiet = 1;
            break;
        case 'h':
            verify_help();
            goto free_targets;
        default:
            if ((status = targets_getopt(&ts, c, argv)))
                goto free_targets;
            break;
        }
    }
    if ((status = targets_some(&ts, argc, argv, optind)))
        goto free_targets;
    for (int i = 0; i < ts.n; i++) {
        int st = verify_one(&ts.v[i], quiet);
        if (st > status)
            status = st;
    }
free_targets:
    targets_free(&ts);
    return status;
}
