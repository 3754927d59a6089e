/* t_join_table.c - shmkit_table_join: a named table in every start order
 * (writer first; reader first, waiting; six writers racing with
 * SHMKIT_CREATE, each claiming its own record - exactly one creates) over
 * POSIX, FILE and System V; geometry mismatch (rec_size, count, type id)
 * gives SHMKIT_EGEOMETRY and changes nothing; a READER handle refuses
 * writes even on a table it created; a creator killed inside its
 * initialiser; timeouts; arguments. */
#include "tu_case.h"
#include "tu_join.h"

#define RACERS 6
#define TYPE 0x7a61626c65ull

struct rec {
    uint64_t pid;
    uint64_t value;
};

static struct tj_place place;

static void use_place(int kind, const char *tag)
{
    tj_use_place(&place, kind, tag, 3);
}

static struct shmkit_table_config table_cfg(unsigned role, int64_t timeout_ns)
{
    struct shmkit_table_config c;
    memset(&c, 0, sizeof c);
    c.role = role;
    c.rec_size = sizeof(struct rec);
    c.count = 8;
    c.type_id = TYPE;
    c.timeout_ns = timeout_ns;
    return c;
}

/* A writer: joins (FLAGS), claims record IDX, writes its pid and VALUE. */
static void writer_child(unsigned flags, uint32_t idx, struct tj_line *line)
{
    if (line)
        tj_line_wait(line);
    struct shmkit_opts w = tj_where(&place, flags);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_WRITER, 10000000000);
    shmkit_table *t = NULL;
    int rc = shmkit_table_join(&t, &w, &c);
    if (rc < 0) {
        fprintf(stderr, "writer %u: join: %s\n", idx, shmkit_errname(rc));
        _exit(TJ_BAD);
    }
    int mine = shmkit_seg_created(shmkit_table_seg(t)) == 1 ? TJ_CREATED : 0;
    struct rec r = {(uint64_t)getpid(), 1000 + idx};
    if ((rc = shmkit_table_claim(t, idx)) == 0)
        rc = shmkit_table_write(t, idx, &r, sizeof r);
    if (rc == 0)
        rc = shmkit_table_release(t, idx);
    if (rc < 0)
        fprintf(stderr, "writer %u: %s\n", idx, shmkit_errname(rc));
    shmkit_table_close(t);
    _exit(mine | (rc < 0 ? TJ_BAD : 0));
}

static pid_t fork_writer(unsigned flags, uint32_t idx, struct tj_line *line)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0)
        tap_bail("fork");
    if (pid == 0)
        writer_child(flags, idx, line);
    return pid;
}

/* Records 0..N-1 all hold 1000 + their index. */
static int all_written(const shmkit_table *t, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        struct rec r;
        if (shmkit_table_read(t, i, &r, sizeof r, NULL) != 0 || r.value != 1000 + i)
            return 0;
    }
    return 1;
}

static void orders(int kind)
{
    const char *k = tj_kind_name(kind);
    use_place(kind, "jt-order");
    int created, bad;
    pid_t pid[RACERS];
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_READER, 0);
    shmkit_table *t = NULL;

    /* creator first: a reader with CREATE makes it, a writer attaches */
    is_rc(shmkit_table_join(&t, &w, &c), 0, "%s: the reader joins first, with CREATE", k);
    is_int(shmkit_seg_created(shmkit_table_seg(t)), 1, "%s: ... created the table", k);
    ok(shmkit_table_count(t) == 8 && shmkit_table_rec_size(t) == sizeof(struct rec) &&
           shmkit_table_type(t) == TYPE,
       "%s: ... 8 records, its size and type", k);
    is_rc(shmkit_table_claim(t, 0), -EBADF, "%s: a READER cannot claim, even its own table", k);
    pid[0] = fork_writer(SHMKIT_CREATE, 0, NULL);
    tj_reap(pid, 1, &created, &bad);
    ok(created == 0 && bad == 0, "%s: the writer attached and wrote record 0", k);
    ok(all_written(t, 1), "%s: the reader reads it", k);
    shmkit_table_remove(t);
    is_rc(shmkit_table_close(t), 0, "%s: close", k);

    /* reader first, without CREATE, waiting */
    fflush(stdout);
    pid_t rd = fork();
    if (rd == 0) {
        struct shmkit_opts a = tj_where(&place, 0);
        struct shmkit_table_config rc_ = table_cfg(SHMKIT_ROLE_READER, 10000000000);
        shmkit_table *q = NULL;
        int rc = shmkit_table_join(&q, &a, &rc_);
        if (rc < 0) {
            fprintf(stderr, "reader: %s\n", shmkit_errname(rc));
            _exit(TJ_BAD);
        }
        uint64_t end = tu_now_ns() + 10000000000ull;
        while (!all_written(q, 1) && tu_now_ns() < end)
            tj_sleep_ms(1);
        rc = all_written(q, 1) ? 0 : TJ_BAD;
        shmkit_table_close(q);
        _exit(rc);
    }
    tj_sleep_ms(50);
    c = table_cfg(SHMKIT_ROLE_WRITER, 0);
    is_rc(shmkit_table_join(&t, &w, &c), 0, "%s: the writer joins 50 ms later", k);
    is_int(shmkit_seg_created(shmkit_table_seg(t)), 1, "%s: ... and created it", k);
    struct rec r = {(uint64_t)getpid(), 1000};
    ok(shmkit_table_claim(t, 0) == 0 && shmkit_table_write(t, 0, &r, sizeof r) == 0,
       "%s: ... wrote record 0", k);
    is_int(tu_wait_exit(rd), 0, "%s: the waiting reader joined and read it", k);
    shmkit_table_remove(t);
    shmkit_table_close(t);

    /* writers racing, each on its own record */
    struct tj_line line;
    tj_line_init(&line);
    for (int i = 0; i < RACERS; i++)
        pid[i] = fork_writer(SHMKIT_CREATE, (uint32_t)i, &line);
    tj_line_go(&line);
    tj_reap(pid, RACERS, &created, &bad);
    is_int(created, 1, "%s: %d writers with CREATE: exactly one created", k, RACERS);
    is_int(bad, 0, "%s: ... each joined and wrote its record", k);
    struct shmkit_opts a = tj_where(&place, 0);
    c = table_cfg(SHMKIT_ROLE_READER, 0);
    is_rc(shmkit_table_join(&t, &a, &c), 0, "%s: a reader joins", k);
    ok(all_written(t, RACERS), "%s: ... every writer's record is there", k);
    shmkit_table_remove(t);
    shmkit_table_close(t);
}

static void orders_posix(void)
{
    orders(SHMKIT_POSIX);
}

static void orders_file(void)
{
    orders(SHMKIT_FILE);
}

static void orders_sysv(void)
{
    orders(SHMKIT_SYSV);
}

static void geometry(void)
{
    use_place(SHMKIT_POSIX, "jt-geo");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_WRITER, 0);
    shmkit_table *t = NULL, *u = NULL;
    is_rc(shmkit_table_join(&t, &w, &c), 0, "a table of 8 records");
    struct rec r = {1, 1000};
    ok(shmkit_table_claim(t, 0) == 0 && shmkit_table_write(t, 0, &r, sizeof r) == 0,
       "record 0 written");
    struct shmkit_table_stats before, after;
    shmkit_table_stats(t, &before);
    struct {
        uint32_t rec_size, count;
        uint64_t type_id;
        const char *what;
    } bad[] = {
        {32, 0, 0, "rec_size 32 against 16"},
        {0, 16, 0, "count 16 against 8"},
        {0, 4, 0, "count 4 against 8"},
        {0, 0, TYPE + 1, "another type id"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int create = 0; create < 2; create++) {
            struct shmkit_opts a = tj_where(&place, create ? SHMKIT_CREATE : 0);
            struct shmkit_table_config g = table_cfg(SHMKIT_ROLE_WRITER, 0);
            g.rec_size = bad[i].rec_size ? bad[i].rec_size : create ? g.rec_size : 0;
            g.count = bad[i].count ? bad[i].count : create ? g.count : 0;
            g.type_id = bad[i].type_id;
            is_rc(shmkit_table_join(&u, &a, &g), SHMKIT_EGEOMETRY, "%s%s: SHMKIT_EGEOMETRY",
                  bad[i].what, create ? " (CREATE)" : "");
            ok(u == NULL, "... no handle");
        }
    }
    shmkit_table_stats(t, &after);
    ok(after.count == before.count && after.writes == before.writes && after.owned == 1,
       "nothing changed: same records, same writes, one owner");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_table_config g;
    memset(&g, 0, sizeof g);
    is_rc(shmkit_table_join(&u, &a, &g), 0, "no geometry, role NONE: attached as a writer");
    is_rc(shmkit_table_claim(u, 1), 0, "... that may claim");
    struct rec got;
    ok(shmkit_table_read(u, 0, &got, sizeof got, NULL) == 0 && got.value == 1000,
       "... and reads record 0");
    shmkit_table_close(u);

    /* another layout: SHMKIT_ELAYOUT at once */
    shmkit_table_remove(t);
    shmkit_table_close(t);
    shmkit_ring *ring = NULL;
    struct shmkit_ring_config rc;
    memset(&rc, 0, sizeof rc);
    rc.max_msg = 16;
    is_rc(shmkit_ring_join(&ring, &w, &rc), 0, "a ring under the name");
    g = table_cfg(SHMKIT_ROLE_READER, 2000000000);
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_table_join(&u, &a, &g), SHMKIT_ELAYOUT, "joined as a table: SHMKIT_ELAYOUT");
    ok(tu_now_ns() - t0 < 1000000000ull, "... at once");
    shmkit_seg_remove(shmkit_ring_seg(ring));
    shmkit_ring_close(ring);
}

static void killed(void)
{
    char args[PATH_MAX + 32];
    use_place(SHMKIT_SYSV, "jt-kill");
    pid_t pid = tj_stuck_creator(&place, 4096);
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_READER, 200000000);
    shmkit_table *t = NULL;
    is_rc(shmkit_table_join(&t, &a, &c), -ETIMEDOUT,
          "SYSV: a joiner times out while the creator initialises");
    kill(pid, SIGKILL);
    is_int(tu_wait_exit(pid), 128 + SIGKILL, "SYSV: creator killed inside its initialiser");
    is_rc(shmkit_table_join(&t, &a, &c), SHMKIT_EPEERDEAD,
          "SYSV: a joiner then sees it died in its initialiser");
    is_int(tj_gc(tj_gc_args(&place, args, sizeof args)), 0, "SYSV: shmkit gc exits 0");
    ok(!tj_exists(&place), "SYSV: ... and removed it");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    is_rc(shmkit_table_join(&t, &w, &c), 0, "SYSV: a new join creates the table");
    shmkit_table_remove(t);
    shmkit_table_close(t);
}

static void timeouts(void)
{
    use_place(SHMKIT_FILE, "jt-time");
    struct shmkit_opts a = tj_where(&place, 0);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_READER, 0);
    shmkit_table *t = NULL;
    is_rc(shmkit_table_join(&t, &a, &c), -ENOENT, "FILE, attach only, timeout 0: -ENOENT");
    c.timeout_ns = 150000000;
    uint64_t t0 = tu_now_ns();
    is_rc(shmkit_table_join(&t, &a, &c), -ETIMEDOUT, "timeout 150 ms: -ETIMEDOUT");
    ok(tu_now_ns() - t0 >= 150000000ull, "... not before the timeout");
    ok(!tj_exists(&place) && t == NULL, "... nothing left, no handle");
}

static void args(void)
{
    use_place(SHMKIT_POSIX, "jt-args");
    struct shmkit_opts w = tj_where(&place, SHMKIT_CREATE);
    struct shmkit_table_config c = table_cfg(SHMKIT_ROLE_WRITER, 0), g;
    shmkit_table *t = NULL;
    is_rc(shmkit_table_join(NULL, &w, &c), -EINVAL, "OUT NULL");
    is_rc(shmkit_table_join(&t, NULL, &c), -EINVAL, "WHERE NULL");
    is_rc(shmkit_table_join(&t, &w, NULL), -EINVAL, "CFG NULL");
    g = c;
    g.role = SHMKIT_ROLE_CONSUMER;
    is_rc(shmkit_table_join(&t, &w, &g), -EINVAL, "a ring role");
    g = c;
    g.pad0_ = 1;
    is_rc(shmkit_table_join(&t, &w, &g), -EINVAL, "pad0_ non-zero");
    g = c;
    g.reserved[2] = 1;
    is_rc(shmkit_table_join(&t, &w, &g), -EINVAL, "reserved non-zero");
    g = c;
    g.count = 0;
    is_rc(shmkit_table_join(&t, &w, &g), SHMKIT_EBADSIZE, "create with count 0");
    g = c;
    g.rec_size = SHMKIT_TABLE_MAX_RECORD + 1;
    is_rc(shmkit_table_join(&t, &w, &g), SHMKIT_EBADSIZE, "record above the limit");
    struct shmkit_opts bad = w;
    bad.layout = SHMKIT_LAYOUT_TABLE;
    is_rc(shmkit_table_join(&t, &bad, &c), -EINVAL, "where->layout set");
    ok(!tj_exists(&place), "nothing made by any of them");
    is_rc(shmkit_table_join(&t, &w, &c), 0, "created");
    shmkit_table_close(t);
    struct shmkit_opts ro = tj_where(&place, SHMKIT_RDONLY);
    is_rc(shmkit_table_join(&t, &ro, &c), 0, "RDONLY, role WRITER: opened");
    is_rc(shmkit_table_claim(t, 0), -EBADF, "... a reader all the same (-EBADF)");
    shmkit_table_close(t);
    tj_remove(&place);
}

static const struct tu_case cases[] = {
    {"orders_posix", orders_posix, 0},
    {"orders_file", orders_file, 0},
    {"orders_sysv", orders_sysv, 0},
    {"geometry", geometry, 0},
    {"killed", killed, 0},
    {"timeouts", timeouts, 0},
    {"args", args, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
