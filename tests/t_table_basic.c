/* t_table_basic.c - table create/open, claim/write/read/release, every argument error, stats. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <unistd.h>

struct rec {
    int id;
    double lap;
    char name[20];
};

int main(void)
{
    char name[96];
    shmkit_table *t = NULL, *r = NULL, *ro = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "tbl")};

    is_rc(shmkit_table_create(NULL, &o, 8, 1, 0), -EINVAL, "create: NULL out");
    is_rc(shmkit_table_create(&t, NULL, 8, 1, 0), -EINVAL, "create: NULL opts");
    is_rc(shmkit_table_create(&t, &o, 0, 4, 0), SHMKIT_EBADSIZE, "create: record size 0");
    is_rc(shmkit_table_create(&t, &o, 8, 0, 0), SHMKIT_EBADSIZE, "create: count 0");
    is_rc(shmkit_table_create(&t, &o, SHMKIT_TABLE_MAX_RECORD + 1, 1, 0), SHMKIT_EBADSIZE,
          "create: record too big");
    is_rc(shmkit_table_create(&t, &o, 8, SHMKIT_TABLE_MAX_COUNT + 1, 0), SHMKIT_EBADSIZE,
          "create: too many records");
    struct shmkit_opts bad = o;
    bad.flags = SHMKIT_RAW;
    is_rc(shmkit_table_create(&t, &bad, 8, 1, 0), -EINVAL, "create: RAW refused");
    ok(access("/dev/shm" , F_OK) == 0 && shmkit_table_open(&r, &o, 0) == -ENOENT,
       "no segment left by the failed creates");

    is_rc(shmkit_table_create(&t, &o, sizeof(struct rec), 5, 0xF1), 0, "create 5 records");
    if (!t)
        tap_bail("cannot create");
    is_rc(shmkit_table_create(&r, &o, sizeof(struct rec), 5, 0xF1), -EEXIST, "create again: EEXIST");
    is_int(shmkit_table_count(t), 5, "count");
    is_int(shmkit_table_rec_size(t), sizeof(struct rec), "record size");
    ok(shmkit_table_type(t) == 0xF1, "type id");
    ok(shmkit_table_seg(t) != NULL, "segment behind the table");
    is_int(shmkit_table_count(NULL), 0, "count of NULL");

    is_rc(shmkit_table_open(&r, &o, 0xF2), SHMKIT_ELAYOUT, "open with another type id");
    is_rc(shmkit_table_open(&r, &o, 0), 0, "open with any type id");
    struct shmkit_opts oro = o;
    oro.flags = SHMKIT_RDONLY;
    is_rc(shmkit_table_open(&ro, &oro, 0xF1), 0, "open read-only with the right type id");
    struct shmkit_opts ocr = o;
    ocr.flags = SHMKIT_CREATE;
    shmkit_table *x = NULL;
    is_rc(shmkit_table_open(&x, &ocr, 0), -EINVAL, "open refuses SHMKIT_CREATE");

    struct rec a = {.id = 44, .lap = 89.123, .name = "HAM"}, b;
    is_rc(shmkit_table_write(t, 0, &a, sizeof a), -EPERM, "write before claim: EPERM");
    is_rc(shmkit_table_owner(t, 0, NULL), 0, "unclaimed record has no live owner");
    is_rc(shmkit_table_claim(t, 0), 0, "claim record 0");
    is_rc(shmkit_table_claim(r, 0), 0, "claim again from another handle of the same process");
    is_rc(shmkit_table_claim(t, 5), -ERANGE, "claim out of range");
    is_rc(shmkit_table_claim(ro, 1), -EBADF, "claim on a read-only handle");
    is_rc(shmkit_table_write(t, 0, &a, sizeof a), 0, "write");
    is_rc(shmkit_table_write(t, 0, &a, sizeof a + 1), SHMKIT_EBADSIZE, "write longer than record");
    is_rc(shmkit_table_write(t, 7, &a, sizeof a), -ERANGE, "write out of range");
    is_rc(shmkit_table_write(t, 0, NULL, 4), -EINVAL, "write NULL");
    uint64_t v1 = 0, v2 = 0;
    is_rc(shmkit_table_read(ro, 0, &b, sizeof b, &v1), 0, "read through the read-only handle");
    ok(b.id == 44 && b.lap == 89.123 && !strcmp(b.name, "HAM"), "snapshot holds what was written");
    is_int(v1, 2, "version after one write is 2");
    a.lap = 88.5;
    is_rc(shmkit_table_write(t, 0, &a.id, sizeof a.id), 0, "partial write (first bytes only)");
    is_rc(shmkit_table_read(r, 0, &b, sizeof b, &v2), 0, "read again");
    ok(b.lap == 89.123 && v2 == 4, "bytes after a partial write keep their value; version 4");
    is_rc(shmkit_table_read(r, 5, &b, sizeof b, NULL), -ERANGE, "read out of range");
    is_rc(shmkit_table_read(r, 0, &b, sizeof b + 1, NULL), SHMKIT_EBADSIZE, "read too long");
    is_rc(shmkit_table_read(r, 0, NULL, 4, NULL), -EINVAL, "read into NULL");
    struct shmkit_owner ow;
    is_rc(shmkit_table_owner(r, 0, &ow), 1, "owner is alive");
    is_int(ow.pid, getpid(), "owner pid is ours");
    is_rc(shmkit_table_owner(r, 9, &ow), -ERANGE, "owner out of range");

    struct shmkit_table_stats st;
    is_rc(shmkit_table_stats(t, &st), 0, "stats");
    ok(st.count == 5 && st.writes == 2 && st.owned == 1 && st.dead == 0 && st.writing == 0,
       "stats: 5 records, 2 writes, 1 owned");
    is_rc(shmkit_table_stats(NULL, &st), -EINVAL, "stats of NULL");

    is_rc(shmkit_table_release(ro, 0), -EBADF, "release on a read-only handle");
    is_rc(shmkit_table_release(t, 1), -EPERM, "release a record we do not own");
    is_rc(shmkit_table_release(t, 0), 0, "release");
    is_rc(shmkit_table_owner(t, 0, &ow), 0, "released: no owner");
    is_int(ow.pid, 0, "owner pid 0 after release");
    is_rc(shmkit_table_write(t, 0, &a, sizeof a), -EPERM, "write after release: EPERM");

    is_rc(shmkit_table_remove(t), 0, "remove");
    is_rc(shmkit_table_remove(NULL), -EINVAL, "remove NULL");
    is_rc(shmkit_table_close(ro), 0, "close read-only");
    is_rc(shmkit_table_close(r), 0, "close second handle");
    is_rc(shmkit_table_close(t), 0, "close");
    is_rc(shmkit_table_close(NULL), 0, "close NULL");

    /* the other kinds work the same way */
    struct shmkit_opts an = {.kind = SHMKIT_ANON};
    is_rc(shmkit_table_create(&t, &an, 100, 3, 0), 0, "anonymous table");
    is_rc(shmkit_table_claim(t, 2), 0, "claim in anonymous table");
    char buf[100] = "x";
    is_rc(shmkit_table_write(t, 2, buf, sizeof buf), 0, "write a 100-byte record");
    shmkit_table_close(t);
    return tap_done();
}
