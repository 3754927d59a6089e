/* t_table_mp.c - a table across processes: snapshots stay consistent while another process
 * writes; a killed owner is seen as dead and its record taken over; a writer killed in the
 * middle of a write is reported (SHMKIT_EPEERDEAD), not spun on, and repaired by the next owner.
 * Named cases (tu_case.h): --list. */
#include "shmkit.h"
#include "tu_case.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define WORDS 32 /* 256-byte records: a torn copy would mix two values */
#define CTL 128
#define STRIDE (64 + WORDS * 8)

struct rec {
    uint64_t w[WORDS];
};

/* Set by the reader once it has seen enough snapshots: on a loaded machine
 * a fixed writing time may give it only a few timeslices. */
static _Atomic int *enough;

static int writer_child(shmkit_table *t, uint32_t idx, int ms)
{
    if (shmkit_table_claim(t, idx) != 0)
        return 2;
    struct rec r;
    uint64_t start = tu_now_ns(), end = start + (uint64_t)ms * 1000000u;
    uint64_t hard_end = start + 20000000000u; /* 20 s: the reader is stuck */
    uint64_t n = 0;
    for (uint64_t now = start; (now < end || !atomic_load(enough)) && now < hard_end;
         now = tu_now_ns()) {
        n++;
        for (int i = 0; i < WORDS; i++)
            r.w[i] = n;
        if (shmkit_table_write(t, idx, &r, sizeof r) != 0)
            return 3;
    }
    return shmkit_table_release(t, idx) == 0 ? 0 : 4;
}

static char name[96];
static struct shmkit_opts o;
/* t: the read-write handle; r: a second, read-only handle (another reader) */
static shmkit_table *t, *r;

static void cleanup(void)
{
    if (t)
        shmkit_table_remove(t);
    shmkit_table_close(r);
    shmkit_table_close(t);
}

/* Every case works in its own table, removed at its exit. */
static void setup(void)
{
    o = (struct shmkit_opts){.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "tblmp")};
    atexit(cleanup);
    if (shmkit_table_create(&t, &o, sizeof(struct rec), 4, 0) < 0)
        tap_bail("cannot create");
}

/* The read-only handle, opened without a check of its own. */
static void open_reader(void)
{
    struct shmkit_opts ro = o;
    ro.flags = SHMKIT_RDONLY;
    if (shmkit_table_open(&r, &ro, 0) < 0)
        tap_bail("reader open");
}

/* one process writes record 0 flat out, this one reads it in another handle */
static void snapshots(void)
{
    setup();
    enough = mmap(NULL, sizeof *enough, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (enough == MAP_FAILED)
        tap_bail("mmap");
    pid_t w = fork();
    if (w == 0)
        _exit(writer_child(t, 0, 600));
    struct shmkit_opts ro = o;
    ro.flags = SHMKIT_RDONLY;
    is_rc(shmkit_table_open(&r, &ro, 0), 0, "reader opens the table read-only");
    for (int i = 0; i < 2000 && shmkit_table_owner(r, 0, NULL) != 1; i++)
        usleep(1000);
    is_rc(shmkit_table_claim(t, 0), -EBUSY, "record owned by a live process: claim refused");
    uint64_t reads = 0, torn = 0, backwards = 0, last = 0, lastver = 0, distinct = 0;
    int errs = 0;
    while (shmkit_table_owner(r, 0, NULL) == 1) {
        struct rec s;
        uint64_t ver;
        int rc = shmkit_table_read(r, 0, &s, sizeof s, &ver);
        if (rc == -EAGAIN)
            continue;
        if (rc != 0) {
            errs++;
            break;
        }
        reads++;
        for (int i = 1; i < WORDS; i++)
            torn += s.w[i] != s.w[0];
        backwards += s.w[0] < last || ver < lastver;
        distinct += s.w[0] != last;
        if (reads >= 200 && distinct >= 20)
            atomic_store(enough, 1);
        last = s.w[0];
        lastver = ver;
    }
    int st = 0;
    is_int(tu_wait(w, 5000, &st), 0, "writer finished");
    ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "writer wrote without error");
    is_int(errs, 0, "no read error");
    ok(reads > 100 && distinct > 10, "%llu snapshots, %llu distinct values",
       (unsigned long long)reads, (unsigned long long)distinct);
    is_int(torn, 0, "no torn snapshot");
    is_int(backwards, 0, "values and versions never go backwards");
    struct shmkit_table_stats stats;
    shmkit_table_stats(r, &stats);
    ok(stats.writes >= last, "stats count the writes (%llu >= %llu), %llu read retries",
       (unsigned long long)stats.writes, (unsigned long long)last,
       (unsigned long long)stats.read_retries);
}

/* an owner killed outside a write: dead owner, record intact, taken over */
static void dead_owner(void)
{
    struct shmkit_table_stats stats;
    setup();
    open_reader();
    int pfd[2];
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t k = fork();
    if (k == 0) {
        struct rec s = {{0}};
        s.w[0] = 1234;
        shmkit_table_claim(t, 1);
        shmkit_table_write(t, 1, &s, sizeof s);
        (void)!write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    char c;
    (void)!read(pfd[0], &c, 1);
    is_rc(shmkit_table_owner(r, 1, NULL), 1, "owner alive");
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    struct shmkit_owner ow;
    is_rc(shmkit_table_owner(r, 1, &ow), SHMKIT_EPEERDEAD, "after kill -9: owner dead");
    is_int(ow.pid, k, "the record still names the dead process");
    shmkit_table_stats(r, &stats);
    is_int(stats.dead, 1, "stats: one dead owner (the first writer released its record)");
    struct rec s;
    is_rc(shmkit_table_read(r, 1, &s, sizeof s, NULL), 0, "its last write is readable");
    is_int(s.w[0], 1234, "and intact");
    is_rc(shmkit_table_claim(t, 1), 1, "claim takes over from the dead owner");
    close(pfd[0]);
    close(pfd[1]);
}

/* a writer killed in the middle of a write */
static void writer_killed(void)
{
    struct shmkit_table_stats stats;
    struct rec s;
    char c;
    int pfd[2];
    setup();
    open_reader();
    if (pipe(pfd) < 0)
        tap_bail("pipe");
    pid_t k = fork();
    if (k == 0) {
        shmkit_table_claim(t, 3);
        char *slot = (char *)shmkit_seg_data(shmkit_table_seg(t)) + CTL + 3 * STRIDE;
        shmkit_seqlock_write_begin((struct shmkit_seqlock *)(void *)slot);
        (void)!write(pfd[1], "x", 1);
        pause();
        _exit(0);
    }
    (void)!read(pfd[0], &c, 1);
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
    is_rc(shmkit_table_read(r, 3, &s, sizeof s, NULL), SHMKIT_EPEERDEAD,
          "read of a record whose writer died mid-write: EPEERDEAD");
    shmkit_table_stats(r, &stats);
    is_int(stats.writing, 1, "stats: one write left open");
    is_rc(shmkit_table_claim(t, 3), 1, "new owner takes the record over");
    memset(&s, 0, sizeof s);
    is_rc(shmkit_table_write(t, 3, &s, sizeof s), 0, "and rewrites it");
    is_rc(shmkit_table_read(r, 3, &s, sizeof s, NULL), 0, "consistent again");
    close(pfd[0]);
    close(pfd[1]);
}

static const struct tu_case cases[] = {
    {"snapshots", snapshots, 0},
    {"dead_owner", dead_owner, 0},
    {"writer_killed", writer_killed, 0},
    {NULL, NULL, 0},
};

int main(int argc, char **argv)
{
    return tu_run_cases(argc, argv, cases);
}
