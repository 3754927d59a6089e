/*
 * bridge_stats.c - what `info`, `watch` and `ls` show of a running
 * shmkit-bridge: the one record of its statistics table (the layout is
 * bridge/stats_table.h), read as a consistent snapshot and checked whole
 * before anything in it is printed (it is untrusted input).
 */
#include "cli.h"

#include <string.h>
#include <time.h>

/* The counters watch turns into rates, in layout_state.v[1..4]. */
static const char *const rated[] = {"out_msgs", "out_bytes", "in_msgs", "in_bytes"};

/* Copies record 0 of TAB into *R and checks it. 0 (R->magic all zero: not
 * written yet, R->nctr and R->nlinks 0), SHMKIT_ECORRUPT, SHMKIT_EVERSION,
 * or the table read's error. *ALIVE: 1 the bridge lives, 0 gone. */
static int bst_read(const shmkit_table *tab, struct bst_record *r, int *alive)
{
    if (shmkit_table_rec_size(tab) < sizeof *r || shmkit_table_count(tab) < 1)
        return SHMKIT_ECORRUPT;
    int rc = shmkit_table_read(tab, 0, r, sizeof *r, NULL);
    if (rc < 0 && rc != SHMKIT_EPEERDEAD)
        return rc; /* a bridge killed mid-write: its last record, checked below */
    *alive = shmkit_table_owner(tab, 0, NULL) == 1;
    static const char zero[8];
    if (!memcmp(r->magic, zero, sizeof zero)) {
        memset(r, 0, sizeof *r);
        return 0;
    }
    if (memcmp(r->magic, BST_MAGIC, 8))
        return SHMKIT_ECORRUPT;
    if (r->version != BST_VERSION)
        return SHMKIT_EVERSION;
    if (r->nctr > BST_CTRS || r->nlinks > BST_LINKS || r->nlinks_all < r->nlinks)
        return SHMKIT_ECORRUPT;
    for (uint32_t i = 0; i < r->nctr; i++)
        if (!bst_name_ok(r->ctr_name[i]))
            return SHMKIT_ECORRUPT;
    for (uint32_t i = 0; i < r->nlinks; i++) {
        /* cut at the last byte; printed escaped like every outside string */
        r->links[i].kind[BST_LINK_KIND - 1] = '\0';
        r->links[i].name[BST_LINK_NAME - 1] = '\0';
        r->links[i].endpoint[BST_LINK_EP - 1] = '\0';
    }
    return 0;
}

/* Counter NAME, or -1 when the record has none of that name. */
static int64_t bst_get(const struct bst_record *r, const char *name)
{
    for (uint32_t i = 0; i < r->nctr; i++)
        if (!strncmp(r->ctr_name[i], name, BST_NAME))
            return r->ctr[i] > INT64_MAX ? INT64_MAX : (int64_t)r->ctr[i];
    return -1;
}

static int is_drop(const char *n)
{
    return !strncmp(n, "drop_", 5) || !strncmp(n, "bad_", 4) || !strcmp(n, "net_lost") ||
           !strcmp(n, "local_lost") || !strcmp(n, "curve_refused");
}

static void emit_head(struct emit *e, const struct bst_record *r, int alive)
{
    char buf[64];
    emit_fmt(e, "bridge", "%016llx", (unsigned long long)r->id);
    emit_fmt(e, "bridge_pid", "%d (%s)", r->pid, alive ? "alive" : "dead");
    if (e->mode != EM_LINE)
        emit_str(e, "started", r->started > 0 ? fmt_time_iso(r->started, buf, sizeof buf) : NULL);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t age = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000 - r->updated_ms;
    if (r->updated_ms > 0 && age >= 0 && age < INT64_MAX / 2)
        emit_fmt(e, "updated", "%.1f s ago", (double)age / 1000.0);
    else
        emit_str(e, "updated", NULL);
    emit_num(e, "links", r->nlinks_all);
}

static void emit_links(struct emit *e, const struct bst_record *r)
{
    for (uint32_t i = 0; i < r->nlinks; i++) {
        char key[32];
        snprintf(key, sizeof key, "link_%u", i + 1);
        emit_fmt(e, key, "%s %s %s", r->links[i].kind, r->links[i].name, r->links[i].endpoint);
    }
}

static double bst_rate(struct layout_state *st, unsigned i, int64_t v, double now)
{
    double r = -1;
    if (v < 0)
        return -1;
    if (st->have && now > st->t && (uint64_t)v >= st->v[i])
        r = (double)((uint64_t)v - st->v[i]) / (now - st->t);
    st->v[i] = (uint64_t)v;
    return r;
}

int bridge_stats(const shmkit_table *tab, struct emit *e, struct layout_state *st, double now)
{
    struct bst_record r;
    int alive = 0;
    int rc = bst_read(tab, &r, &alive);
    if (rc < 0)
        return rc;
    if (!r.magic[0]) {
        emit_str(e, "bridge", "starting (no statistics written yet)");
        return 0;
    }
    emit_head(e, &r, alive);
    if (!st) { /* info: everything */
        emit_links(e, &r);
        for (uint32_t i = 0; i < r.nctr; i++)
            emit_num(e, r.ctr_name[i], r.ctr[i] > INT64_MAX ? INT64_MAX : (long long)r.ctr[i]);
        return 0;
    }
    emit_num(e, "peers_out", bst_get(&r, "peers_out"));
    emit_num(e, "peers_in", bst_get(&r, "peers_in"));
    for (unsigned i = 0; i < sizeof rated / sizeof rated[0]; i++) {
        int64_t v = bst_get(&r, rated[i]);
        double x = bst_rate(st, i + 1, v, now);
        char key[32];
        emit_num(e, rated[i], v);
        snprintf(key, sizeof key, "%s_rate", rated[i]);
        if (x >= 0)
            emit_fmt(e, key, "%.1f%s", i % 2 ? x / 1e6 : x, i % 2 ? " MB/s" : " msg/s");
    }
    for (uint32_t i = 0; i < r.nctr; i++)
        if (is_drop(r.ctr_name[i]))
            emit_num(e, r.ctr_name[i], r.ctr[i] > INT64_MAX ? INT64_MAX : (long long)r.ctr[i]);
    return 0;
}

int bridge_detail(const shmkit_table *tab, char *buf, size_t len)
{
    struct bst_record r;
    int alive = 0;
    int rc = bst_read(tab, &r, &alive);
    if (rc < 0)
        return rc;
    if (!r.magic[0])
        snprintf(buf, len, "bridge (starting)");
    else
        snprintf(buf, len, "bridge %d (%s), %u link%s, peers %lld out %lld in", r.pid,
                 alive ? "alive" : "dead", r.nlinks_all, r.nlinks_all == 1 ? "" : "s",
                 (long long)bst_get(&r, "peers_out"), (long long)bst_get(&r, "peers_in"));
    return 0;
}

/* Whether link L carries the local channel NAME ("NAME" or "NAME=/TOPIC"). */
static int link_is(const struct bst_link *l, const char *name)
{
    size_t n = strlen(name);
    return !strncmp(l->name, name, n) && (l->name[n] == '\0' || l->name[n] == '=');
}

/* The links of the bridge whose statistics table is row R that carry
 * NAME, as "bridged_by" members. */
static void carriers_of(struct emit *e, const struct seg_row *r, const char *name, int *found)
{
    struct target t;
    struct shmkit_opts o;
    shmkit_table *tab = NULL;
    struct bst_record rec;
    int alive = 0;
    target_of_row(&t, r);
    if (target_opts(&t, SHMKIT_RDONLY, &o) < 0 || shmkit_table_open(&tab, &o, BRIDGE_STATS_TYPE) < 0)
        return;
    if (bst_read(tab, &rec, &alive) == 0)
        for (uint32_t i = 0; i < rec.nlinks; i++) {
            if (!link_is(&rec.links[i], name))
                continue;
            char key[32];
            int k = ++*found;
            if (k == 1)
                snprintf(key, sizeof key, "bridged_by");
            else
                snprintf(key, sizeof key, "bridged_by_%d", k);
            emit_fmt(e, key, "%s (bridge %d, %s) %s %s", r->name, rec.pid, alive ? "alive" : "dead",
                     rec.links[i].kind, rec.links[i].endpoint);
        }
    shmkit_table_close(tab);
}

void bridge_carriers(struct emit *e, const char *name)
{
    struct scan_opts so = {.posix = 1, .header = 1};
    struct seg_list l;
    int found = 0;
    if (scan(&so, &l) < 0)
        return;
    for (size_t i = 0; i < l.n; i++)
        if (l.v[i].hdr_rc == 0 && l.v[i].hdr.layout == SHMKIT_LAYOUT_TABLE)
            carriers_of(e, &l.v[i], name, &found);
    seg_list_free(&l);
}
