/* cmd_ls.c - `shmkit ls`: every segment on the machine, like lsipc. */
#include "cli.h"

#include <getopt.h>
#include <string.h>

static void ls_help(void)
{
    fputs("Usage:\n"
          " shmkit ls [options]\n"
          "\n"
          "List POSIX (/dev/shm), System V and memfd shared memory segments.\n"
          "\n"
          "Options:\n"
          "      --posix           POSIX segments only (may be combined)\n"
          "      --sysv            System V segments only (may be combined)\n"
          "      --memfd           memfd segments held open by processes (may be combined)\n"
          "  -o, --output LIST     columns to print (LIST starting with '+' adds to the default)\n"
          "  -b, --bytes           sizes in bytes, not like 4K or 1.5M\n"
          "  -r, --raw             raw output: no alignment, fields separated by one space\n"
          "  -J, --json            JSON output: {\"segments\": [ ... ]}\n"
          "  -n, --noheadings      no header line\n"
          "  -A, --no-attach       never attach a System V segment (its header columns\n"
          "                        LAYOUT, STATUS, CREATED... then show '-' or unknown)\n"
          "      --check-seals     recompute the checksum of every sealed payload: STATUS\n"
          "                        tampered when it no longer matches (reads every sealed\n"
          "                        payload; not System V ones with --no-attach)\n"
          "  -h, --help            display this help\n"
          "\n"
          "Reading a System V segment's shmkit header means attaching it read-only for\n"
          "an instant: ipcs then shows shmkit as its last attacher (LPID) and its\n"
          "attach and detach times change. --no-attach, or columns that need no header,\n"
          "avoid that. A segment marked for removal shows STATUS dest; one created\n"
          "persistent (shmkit create --keep) whose creator is gone and that nobody\n"
          "uses shows persistent (gc keeps it; see the PERSIST column).\n"
          "\n"
          "Columns:\n",
          stdout);
    out_help_columns(stdout);
}

/* --check-seals: STATUS tampered for each sealed row whose payload no
 * longer matches its seal (shmkit_seg_verify: sparse-safe, no allocation). */
static void check_seals(struct seg_list *l, int no_attach)
{
    for (size_t i = 0; i < l->n; i++) {
        struct seg_row *r = &l->v[i];
        if (r->hdr_rc != 0 || !r->hdr.sealed || r->status == ST_DEST ||
            (r->kind == SHMKIT_SYSV && no_attach))
            continue;
        struct target t;
        target_of_row(&t, r);
        shmkit_seg *seg = NULL;
        int raw = 0;
        if (open_target(&t, SHMKIT_RDONLY, &seg, &raw) < 0)
            continue; /* gone or not ours to read: its STATUS stays */
        int rc = raw ? 0 : shmkit_seg_verify(seg);
        shmkit_close(seg);
        if (rc == SHMKIT_ETAMPERED)
            r->status = ST_TAMPERED;
        else if (rc < 0 && rc != SHMKIT_ENOTSEALED && cli_status(rc) == EXIT_INTEGRITY)
            r->status = ST_CORRUPT;
    }
}

int cmd_ls(int argc, char **argv)
{
    cli_init_wait_ms = 1; /* looking: a creator still initialising is shown, not waited for */
    static const struct option opts[] = {
        {"posix", no_argument, NULL, 'P'},       {"sysv", no_argument, NULL, 'S'},
        {"memfd", no_argument, NULL, 'M'},       {"output", required_argument, NULL, 'o'},
        {"bytes", no_argument, NULL, 'b'},       {"raw", no_argument, NULL, 'r'},
        {"json", no_argument, NULL, 'J'},        {"noheadings", no_argument, NULL, 'n'},
        {"no-attach", no_argument, NULL, 'A'},   {"help", no_argument, NULL, 'h'},
        {"check-seals", no_argument, NULL, 'C'}, {NULL, 0, NULL, 0},
    };
    struct out_opts out;
    struct scan_opts so;
    memset(&out, 0, sizeof out);
    memset(&so, 0, sizeof so);
    out_default_columns(&out);
    int json = 0, raw = 0, seals = 0, c;
    while ((c = getopt_long(argc, argv, ":o:brJnAh", opts, NULL)) != -1) {
        switch (c) {
        case 'P':
            so.posix = 1;
            break;
        case 'S':
            so.sysv = 1;
            break;
        case 'M':
            so.memfd = 1;
            break;
        case 'o':
            if (out_columns(&out, optarg))
                return EXIT_USAGE;
            break;
        case 'b':
            out.bytes = 1;
            break;
        case 'r':
            raw = 1;
            break;
        case 'J':
            json = 1;
            break;
        case 'n':
            out.noheadings = 1;
            break;
        case 'A':
            so.no_attach = 1;
            break;
        case 'C':
            seals = 1;
            break;
        case 'h':
            ls_help();
            return EXIT_OKAY;
        default:
            return opt_bad(c, argv);
        }
    }
    if (optind < argc)
        return cli_usage(argv[optind],
                         "unexpected argument (ls takes no names; see 'shmkit info')");
    if (json && raw)
        return cli_usage("--json, --raw", "mutually exclusive");
    out.mode = json ? OUT_JSON : raw ? OUT_RAW : OUT_TABLE;
    if (!so.posix && !so.sysv && !so.memfd)
        so.posix = so.sysv = so.memfd = 1;
    so.header = out_needs_header(&out, !so.posix && !so.memfd) || seals || out_needs_detail(&out);
    so.procs = out_needs_procs(&out) || so.memfd;
    struct seg_list l;
    int rc = scan(&so, &l);
    if (rc < 0)
        return cli_fail("ls", rc);
    if (seals)
        check_seals(&l, so.no_attach);
    if (out_needs_detail(&out))
        for (size_t i = 0; i < l.n; i++)
            if (l.v[i].kind != SHMKIT_SYSV || !so.no_attach)
                layout_detail(&l.v[i]);
    out_print(&out, &l, stdout);
    seg_list_free(&l);
    return EXIT_OKAY;
}
