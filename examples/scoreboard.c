/*
 * scoreboard.c - your own table program, the F1 board's pattern in 100 lines: one record per
 * player, each written only by its own process, read whole by anyone.
 *
 * WHAT IT TEACHES
 *   1. A record is a plain struct of fixed-size fields (no pointers: every process maps the
 *      segment at a different address). shmkit_table_join with SHMKIT_CREATE makes COUNT of
 *      them, each with its own seqlock and owner record; the other programs join the same
 *      name without it (waiting a while if the table is not there yet).
 *   2. A writer claims its record (shmkit_table_claim: pid + start time stored), then writes
 *      it with shmkit_table_write: readers see the old or the new record, never half of each.
 *      A clean exit releases the record.
 *   3. A reader opens the table read-only and copies each record with shmkit_table_read: a
 *      consistent snapshot, retried if a write was under way, without making the writer
 *      wait. shmkit_table_owner says whether the record's owner is alive, released it, or
 *      died holding it (kill -9).
 *
 * USAGE   scoreboard create NAME PLAYERS | play NAME INDEX ROUNDS | show NAME | rm NAME
 */
#include <shmkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SCORE_TYPE 0x53434f5245533031ull /* "SCORES01": our tables, not someone else's */

struct player { /* one record; only fixed-size fields */
    int32_t index;
    int32_t rounds;  /* rounds played so far */
    int64_t score;   /* sum of the points of every round */
    int64_t best;    /* best round */
};

static int fail(const char *what, int rc)
{
    fprintf(stderr, "scoreboard: %s: %s\n", what, shmkit_strerror(rc));
    return 1;
}

static int create(const char *name, int players)
{
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    struct shmkit_table_config cfg = {.role = SHMKIT_ROLE_WRITER, .rec_size = sizeof(struct player),
                                      .count = (uint32_t)players, .type_id = SCORE_TYPE};
    int rc = shmkit_table_join(&t, &o, &cfg); /* a new table: EXCL, not someone's old one */
    if (rc < 0)
        return fail(name, rc);
    printf("%s: %d records of %zu bytes\n", name, players, sizeof(struct player));
    shmkit_table_close(t);
    return 0;
}

static int play(const char *name, int index, int rounds)
{
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    struct shmkit_table_config cfg = {.role = SHMKIT_ROLE_WRITER, .rec_size = sizeof(struct player),
                                      .type_id = SCORE_TYPE, .timeout_ns = 5000000000};
    int rc = shmkit_table_join(&t, &o, &cfg); /* waits up to 5 s for `create` */
    if (rc < 0)
        return fail(name, rc);
    rc = shmkit_table_claim(t, (uint32_t)index); /* this record is mine: I am its one writer */
    if (rc < 0) {
        shmkit_table_close(t);
        return fail("claim", rc);
    }
    struct player p = {.index = index};
    for (int r = 1; r <= rounds; r++) {
        int64_t points = (r * 7 + index * 3) % 10; /* the same game on every run */
        p.rounds = r;
        p.score += points;
        if (points > p.best)
            p.best = points;
        rc = shmkit_table_write(t, (uint32_t)index, &p, sizeof p); /* whole or not at all */
        if (rc < 0)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    shmkit_table_release(t, (uint32_t)index); /* a clean exit gives the record back */
    shmkit_table_close(t);
    return rc < 0 ? fail("write", rc) : 0;
}

static int show(const char *name)
{
    shmkit_table *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    struct shmkit_table_config cfg = {.role = SHMKIT_ROLE_READER, .type_id = SCORE_TYPE};
    int rc = shmkit_table_join(&t, &o, &cfg);
    if (rc < 0)
        return fail(name, rc);
    printf("PLAYER ROUNDS SCORE BEST OWNER\n");
    for (uint32_t i = 0; i < shmkit_table_count(t); i++) {
        struct player p;
        rc = shmkit_table_read(t, i, &p, sizeof p, NULL); /* a consistent snapshot */
        struct shmkit_owner ow;
        int alive = shmkit_table_owner(t, i, &ow);
        const char *who = alive == 1 ? "playing" : ow.pid ? "DIED (killed while playing)"
                                                          : "done (released)";
        if (rc == 0)
            printf("%6u %6d %5lld %4lld %s\n", i, p.rounds, (long long)p.score, (long long)p.best, who);
        else
            printf("%6u %s\n", i, shmkit_strerror(rc));
    }
    shmkit_table_close(t);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && !strcmp(argv[1], "create"))
        return create(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "play"))
        return play(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc == 3 && !strcmp(argv[1], "show"))
        return show(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "rm")) {
        int rc = shmkit_posix_remove(argv[2]);
        return rc < 0 ? fail(argv[2], rc) : 0;
    }
    fprintf(stderr, "usage: scoreboard create NAME PLAYERS | play NAME INDEX ROUNDS | show NAME | rm NAME\n");
    return 2;
}
