/* t_table_hostile.c - a table segment is hostile input: scribbled geometry, owners and
 * sequences give error codes, never an out-of-bounds access or a hang. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <unistd.h>

#define CTL 128 /* control block, then slots: the layout table.h documents */

static shmkit_seg *raw_view(const char *name)
{
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot open %s", name);
    return s;
}

static uint64_t now_ms(void)
{
    return tu_now_ns() / 1000000u;
}

int main(void)
{
    char name[96];
    shmkit_table *t = NULL, *r = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "tblh")};
    if (shmkit_table_create(&t, &o, 40, 4, 7) < 0)
        tap_bail("cannot create");
    shmkit_seg *v = raw_view(name);
    unsigned char *p = shmkit_seg_data(v);
    uint64_t stride = 64 + 64; /* 40-byte records round up to 64 */
    uint64_t param[4] = {40, 4, 7, stride};

    /* 1. the control block disagrees with the header */
    uint32_t saved;
    memcpy(&saved, p + 12, 4);
    uint32_t huge = 0x7fffffff;
    memcpy(p + 12, &huge, 4);
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "control block count scribbled");
    memcpy(p + 12, &saved, 4);
    memcpy(&saved, p, 4);
    memset(p, 'X', 4);
    uint64_t t0 = now_ms();
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "control block magic scribbled");
    ok(now_ms() - t0 < 2000, "gave up waiting for initialisation in bounded time");
    memcpy(p, &saved, 4);
    is_rc(shmkit_table_open(&r, &o, 7), 0, "restored: opens");
    shmkit_table_close(r);
    r = NULL;

    /* 2. header parameters rewritten with a valid header CRC (not cryptographic) */
    uint64_t h1[4] = {40, 1u << 20, 7, stride};
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_TABLE, h1), 0, "header says 2^20 records");
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "refused: header/control mismatch");
    uint32_t big = 1u << 20;
    memcpy(&saved, p + 12, 4);
    memcpy(p + 12, &big, 4);
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "refused: both agree, slots do not fit");
    memcpy(p + 12, &saved, 4);
    uint64_t h2[4] = {40, 4, 7, 64};
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_TABLE, h2), 0, "header stride too small");
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "refused: stride not the one the size implies");
    uint64_t h3[4] = {0, 4, 7, stride};
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_TABLE, h3), 0, "header record size 0");
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "refused: record size 0");
    uint64_t h4[4] = {0xffffffffffull, 4, 7, stride};
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_TABLE, h4), 0, "header record size 2^40");
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ECORRUPT, "refused: record size out of range");
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_BYTES, param), 0, "header layout: bytes");
    is_rc(shmkit_table_open(&r, &o, 0), SHMKIT_ELAYOUT, "refused: not a table");
    is_rc(shmkit_seg_set_layout(v, SHMKIT_LAYOUT_TABLE, param), 0, "header restored");
    is_rc(shmkit_table_open(&r, &o, 0), 0, "opens again");

    /* 3. after open, the handle's own geometry rules */
    memcpy(p + 12, &huge, 4);
    struct { char b[40]; } rec;
    is_rc(shmkit_table_read(r, 4, &rec, sizeof rec, NULL), -ERANGE, "index 4 refused though the "
          "control block now says 2^31 records");
    is_int(shmkit_table_count(r), 4, "count from the handle's copy");
    memcpy(p + 12, &saved, 4);

    /* 4. owner records: hostile pids are simply not alive; a claim takes over */
    unsigned char *slot1 = p + CTL + 1 * stride;
    int32_t pid = -77;
    memcpy(slot1 + 24, &pid, 4);
    struct shmkit_owner ow;
    is_rc(shmkit_table_owner(r, 1, &ow), SHMKIT_EPEERDEAD, "negative owner pid: not alive");
    is_rc(shmkit_table_claim(r, 1), 1, "claim takes over from a hostile owner");
    pid = 0x7ffffff0;
    memcpy(slot1 + 24, &pid, 4);
    is_rc(shmkit_table_owner(r, 1, &ow), SHMKIT_EPEERDEAD, "huge owner pid: not alive");
    is_rc(shmkit_table_write(r, 1, &rec, sizeof rec), -EPERM, "write refused: not ours any more");
    is_rc(shmkit_table_claim(r, 1), 1, "claim takes over again");
    is_rc(shmkit_table_write(r, 1, &rec, sizeof rec), 0, "write");

    /* 5. sequences: odd forever with a dead writer, or with a live one */
    unsigned char *slot2 = p + CTL + 2 * stride;
    uint32_t odd = 7;
    int32_t dead = 0x7ffffff0;
    memcpy(slot2, &odd, 4);
    memcpy(slot2 + 8, &dead, 4);
    t0 = now_ms();
    is_rc(shmkit_table_read(r, 2, &rec, sizeof rec, NULL), SHMKIT_EPEERDEAD,
          "odd sequence, dead writer: EPEERDEAD");
    struct shmkit_owner me;
    shmkit_owner_self(&me);
    memcpy(slot2 + 8, &me, sizeof me);
    is_rc(shmkit_table_read(r, 2, &rec, sizeof rec, NULL), -EAGAIN,
          "odd sequence, live writer that never finishes: EAGAIN");
    ok(now_ms() - t0 < 3000, "both gave up in bounded time (%llu ms)",
       (unsigned long long)(now_ms() - t0));
    struct shmkit_table_stats st;
    is_rc(shmkit_table_stats(r, &st), 0, "stats on a scribbled table");
    ok(st.writing == 1 && st.owned == 1, "stats: one write in progress, one owner");

    /* 6. a table segment too small for its control block */
    char n2[96];
    shmkit_seg *tiny = NULL;
    struct shmkit_opts ot = {.kind = SHMKIT_POSIX, .name = tu_name(n2, sizeof n2, "tiny"),
                             .size = 16, .layout = SHMKIT_LAYOUT_TABLE,
                             .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&tiny, &ot), 0, "a 16-byte segment claiming to be a table");
    struct shmkit_opts on2 = {.kind = SHMKIT_POSIX, .name = n2};
    shmkit_table *x = NULL;
    is_rc(shmkit_table_open(&x, &on2, 0), SHMKIT_ECORRUPT, "refused: no room for a control block");
    shmkit_seg_remove(tiny);
    shmkit_close(tiny);

    shmkit_table_remove(t);
    shmkit_close(v);
    shmkit_table_close(r);
    shmkit_table_close(t);
    return tap_done();
}
