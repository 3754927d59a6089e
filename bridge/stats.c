/* stats.c - the counters' names, the stats file ("name=value" lines,
 * replaced atomically: written to PATH.tmp, then renamed, so a reader never
 * sees half a file) and the live statistics table that `shmkit info` and
 * `shmkit watch` read (one record, stats_table.h). */
#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

_Static_assert(C_NCTR <= BST_CTRS, "every counter has a slot in the statistics record");

const char *bridge_ctr_name(int c)
{
    static const char *const names[C_NCTR] = {
        "out_msgs",   "out_bytes",   "in_msgs",      "in_bytes",       "bad_short",
        "bad_long",   "bad_magic",   "bad_version",  "bad_topic",      "bad_header",
        "bad_crc",    "drop_loop",   "drop_dup",     "drop_hops",      "drop_unknown",
        "drop_toobig", "drop_hwm",   "drop_busfull", "local_lost",     "net_lost",
        "origins",    "peers_out",   "peers_in",     "curve_refused",  "handshake_failed",
        "errors",     "ring_out_msgs", "ring_out_bytes", "ring_in_msgs", "ring_in_bytes",
        "drop_stale", "rpc_calls",   "rpc_replies",  "rpc_failed",   "rpc_timeouts",
        "rpc_link_down", "rpc_late", "rpc_cap",     "rpc_served",   "rpc_serve_err",
        "rpc_dropped", "out_frames", "in_frames"};
    return c >= 0 && c < C_NCTR ? names[c] : "?";
}

int bridge_stats_write(const struct bridge *b, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "id=%016llx\npid=%ld\n", (unsigned long long)b->id, (long)getpid());
    for (int c = 0; c < C_NCTR; c++)
        fprintf(f, "%s=%lld\n", bridge_ctr_name(c), (long long)ctr_get(&b->st, c));
    int rc = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}

/* ---- the statistics table ---- */

/* "A B C" of the endpoints V[0..N-1] into DST (LEN bytes), cut to fit. */
static void join_eps(char *dst, size_t len, char *const *v, int n)
{
    dst[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t at = strlen(dst);
        snprintf(dst + at, len - at, "%s%s", i ? " " : "", v[i]);
    }
}

static void add_link(struct bst_record *r, const char *kind, const char *name, size_t name_len,
                     const char *ep)
{
    r->nlinks_all++;
    if (r->nlinks == BST_LINKS)
        return; /* counted, not described */
    struct bst_link *l = &r->links[r->nlinks++];
    snprintf(l->kind, sizeof l->kind, "%s", kind);
    snprintf(l->name, sizeof l->name, "%.*s", (int)(name_len < sizeof l->name ? name_len : sizeof l->name - 1), name);
    snprintf(l->endpoint, sizeof l->endpoint, "%s", ep);
}

/* Every bus, ring and request/response link of the command line. */
static void describe_links(struct bst_record *r, const struct bridge *b)
{
    const struct bridge_cfg *c = &b->cfg;
    char eps[BST_LINK_EP];
    for (int i = 0; i < b->nchan; i++) {
        const struct bridge_chan *ch = &b->chans[i];
        char nm[2 * BRIDGE_TOPIC_MAX + 2];
        snprintf(nm, sizeof nm, "%s%s%s", ch->name, strcmp(ch->name, ch->topic) ? "=" : "",
                 strcmp(ch->name, ch->topic) ? ch->topic : "");
        if (ch->dirs & DIR_EXPORT) {
            join_eps(eps, sizeof eps, c->binds, c->nbind);
            add_link(r, "bus-out", nm, strlen(nm), eps);
        }
        if (ch->dirs & DIR_IMPORT) {
            join_eps(eps, sizeof eps, c->connects, c->nconnect);
            add_link(r, "bus-in", nm, strlen(nm), eps);
        }
    }
    static const char *const kinds[] = {"ring-out", "ring-in", "rpc-out", "rpc-in"};
    char *const *lists[] = {c->ring_out, c->ring_in, c->rpc_out, c->rpc_in};
    const int counts[] = {c->nring_out, c->nring_in, c->nrpc_out, c->nrpc_in};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < counts[k]; i++) {
            const char *ep = bridge_ring_endpoint(lists[k][i]); /* "NAME@EP", checked */
            add_link(r, kinds[k], lists[k][i], (size_t)(ep - 1 - lists[k][i]), ep);
        }
}

int bridge_stats_table_open(struct bridge *b)
{
    char def[64];
    const char *name = b->cfg.stats_name;
    if (name && !strcmp(name, "none"))
        return 0;
    if (!name) {
        snprintf(def, sizeof def, "/shmkit-bridge-%ld", (long)getpid());
        name = def;
    }
    struct bst_record *r = calloc(1, sizeof *r);
    if (!r) {
        fprintf(stderr, "shmkit-bridge: %s\n", strerror(ENOMEM));
        return 2;
    }
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_CREATE};
    struct shmkit_table_config tc = {.role = SHMKIT_ROLE_WRITER,
                                     .rec_size = sizeof *r,
                                     .count = 1,
                                     .type_id = BRIDGE_STATS_TYPE};
    shmkit_table *t = NULL;
    int rc = shmkit_table_join(&t, &o, &tc);
    if (rc == 0)
        rc = shmkit_table_claim(t, 0); /* 1: a killed bridge's table, taken over */
    if (rc < 0) {
        fprintf(stderr, "shmkit-bridge: --stats-name %s: %s\n", name,
                rc == -EBUSY ? "in use by another live bridge" : shmkit_strerror(rc));
        shmkit_table_close(t);
        free(r);
        return rc == -EBUSY || rc == SHMKIT_EGEOMETRY || rc == SHMKIT_ELAYOUT ||
                       rc == SHMKIT_EBADNAME
                   ? 1
                   : 2;
    }
    memcpy(r->magic, BST_MAGIC, sizeof r->magic);
    r->version = BST_VERSION;
    r->nctr = C_NCTR;
    for (int c = 0; c < C_NCTR; c++)
        snprintf(r->ctr_name[c], BST_NAME, "%s", bridge_ctr_name(c));
    r->pid = (int32_t)getpid();
    r->interval_ms = BRIDGE_STATS_TABLE_MS;
    r->id = b->id;
    r->started = (int64_t)time(NULL);
    describe_links(r, b);
    b->stab = t;
    b->srec = r;
    bridge_stats_table_update(b);
    return 0;
}

void bridge_stats_table_update(struct bridge *b)
{
    struct bst_record *r = b->srec;
    if (!b->stab)
        return;
    for (int c = 0; c < C_NCTR; c++)
        r->ctr[c] = ctr_get(&b->st, c);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->updated_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    r->updates++;
    /* one seqlocked write: readers see the whole record or the previous one */
    shmkit_table_write(b->stab, 0, r, sizeof *r);
}

void bridge_stats_table_close(struct bridge *b)
{
    if (!b->stab)
        return;
    shmkit_table_remove(b->stab);
    shmkit_table_close(b->stab);
    free(b->srec);
    b->stab = NULL;
    b->srec = NULL;
}
