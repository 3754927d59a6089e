/* t_hostile_lib_owner.c - SHMKIT_CREATE does not adopt another user's
 * segment (needs root to act as nobody).
 * nobody plants a 0666 POSIX segment, FILE segment (in a sticky directory)
 * and System V key; root's CREATE (without EXCL) of the same name refuses
 * with -EPERM and leaves the bytes alone, CREATE|SHMKIT_ANY_OWNER opens it,
 * a plain open (no CREATE) opens it as before. The same the other way
 * round: nobody's CREATE of root's 0666 segments. A System V segment that
 * nobody created and gave to root (IPC_SET uid 0) is still nobody's: root's
 * CREATE refuses it. The caller's own segment is reused as always, and
 * ANY_OWNER without CREATE is -EINVAL. */
#include "tu_seg.h"

#include <sys/ipc.h>
#include <sys/shm.h>

#define NOBODY 65534

static char dir[128];

/* Runs this program's helper mode with ARGS as nobody; exit status or -1. */
static int as_nobody(const char *const *args)
{
    const char *argv[16] = {tu_self(), "helper"};
    int n = 2;
    for (int i = 0; args[i] && n < 15; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    return tu_run_as(65534, 65534, 0, 10000, argv);
}

/* Fills O for KIND ("posix", "file", "sysv") and NAME (a name, path or key). */
static void opts_for(struct shmkit_opts *o, const char *kind, const char *name)
{
    memset(o, 0, sizeof *o);
    if (!strcmp(kind, "posix")) {
        o->kind = SHMKIT_POSIX;
        o->name = name;
    } else if (!strcmp(kind, "file")) {
        o->kind = SHMKIT_FILE;
        o->name = name;
    } else {
        o->kind = SHMKIT_SYSV;
        o->key = (int32_t)strtol(name, NULL, 0);
    }
}

/* Makes a 0666 segment holding WHO ("root's", "nobody's"). */
static int make(const char *kind, const char *name, const char *who)
{
    struct shmkit_opts o;
    opts_for(&o, kind, name);
    o.size = 4096;
    o.mode = 0666;
    o.flags = SHMKIT_CREATE | SHMKIT_EXCL;
    shmkit_seg *s = NULL;
    int rc = shmkit_open(&s, &o);
    if (rc == 0)
        memcpy(shmkit_seg_data(s), who, strlen(who));
    shmkit_close(s);
    return rc;
}

/* Opens (HOW: "create", "any", "plain") and writes MARK if it opened. */
static int try_open(const char *kind, const char *name, const char *how, const char *mark)
{
    struct shmkit_opts o;
    opts_for(&o, kind, name);
    if (!strcmp(how, "create"))
        o.flags = SHMKIT_CREATE;
    else if (!strcmp(how, "any"))
        o.flags = SHMKIT_CREATE | SHMKIT_ANY_OWNER;
    if (o.flags & SHMKIT_CREATE)
        o.size = 4096;
    shmkit_seg *s = NULL;
    int rc = shmkit_open(&s, &o);
    if (rc == 0 && mark)
        memcpy(shmkit_seg_data(s), mark, strlen(mark));
    shmkit_close(s);
    return rc;
}

/* What the segment holds now (first 16 bytes, as a string). */
static const char *holds(const char *kind, const char *name)
{
    static char buf[17];
    struct shmkit_opts o;
    opts_for(&o, kind, name);
    o.flags = SHMKIT_RDONLY;
    shmkit_seg *s = NULL;
    memset(buf, 0, sizeof buf);
    if (shmkit_open(&s, &o) == 0)
        memcpy(buf, shmkit_seg_data(s), 16);
    shmkit_close(s);
    return buf;
}

static void is_str(const char *got, const char *want, const char *what)
{
    if (!ok(!strcmp(got, want), "%s", what))
        tap_fail_diag("  got \"%s\", want \"%s\"", got, want);
}

static void drop(const char *kind, const char *name)
{
    if (!strcmp(kind, "posix")) {
        shmkit_posix_remove(name);
    } else if (!strcmp(kind, "file")) {
        unlink(name);
    } else {
        int id = shmget((key_t)strtol(name, NULL, 0), 0, 0);
        if (id >= 0)
            shmctl(id, IPC_RMID, NULL);
    }
}

static void one_kind(const char *kind, const char *name)
{
    /* nobody plants, root creates */
    is_int(as_nobody((const char *[]){"make", kind, name, "nobody's", NULL}), 0,
           "%s: nobody makes a 0666 segment", kind);
    is_rc(try_open(kind, name, "create", "root's"), -EPERM,
          "%s: root's CREATE of nobody's segment: EPERM", kind);
    is_str(holds(kind, name), "nobody's", "... its bytes untouched");
    is_rc(try_open(kind, name, "any", NULL), 0, "%s: root's CREATE|ANY_OWNER opens it", kind);
    is_rc(try_open(kind, name, "plain", NULL), 0, "%s: root's plain open opens it", kind);
    drop(kind, name);

    /* root makes, nobody creates */
    is_rc(make(kind, name, "root's"), 0, "%s: root makes a 0666 segment", kind);
    is_int(as_nobody((const char *[]){"open", kind, name, "create", "nobody's", NULL}), EPERM,
           "%s: nobody's CREATE of root's segment: EPERM", kind);
    is_str(holds(kind, name), "root's", "... its bytes untouched");
    is_int(as_nobody((const char *[]){"open", kind, name, "any", NULL}), 0,
           "%s: nobody's CREATE|ANY_OWNER opens it", kind);
    is_int(as_nobody((const char *[]){"open", kind, name, "plain", NULL}), 0,
           "%s: nobody's plain open opens it", kind);
    /* the caller's own segment: reused as always */
    is_rc(try_open(kind, name, "create", "root's again"), 0,
          "%s: root's CREATE of its own segment opens it", kind);
    is_str(holds(kind, name), "root's again", "... and writes it");
    drop(kind, name);
}

static void test_sysv_given_away(const char *key)
{
    is_int(as_nobody((const char *[]){"make", "sysv", key, "nobody's", "give-to-root", NULL}), 0,
           "sysv: nobody makes a segment and gives it to root (IPC_SET uid 0)");
    int id = shmget((key_t)strtol(key, NULL, 0), 0, 0);
    struct shmid_ds ds;
    ok(id >= 0 && shmctl(id, IPC_STAT, &ds) == 0 && ds.shm_perm.uid == 0 &&
           ds.shm_perm.cuid == NOBODY,
       "... owner root, creator nobody");
    is_rc(try_open("sysv", key, "create", "root's"), -EPERM,
          "sysv: root's CREATE of it: EPERM (its creator still controls it)");
    is_str(holds("sysv", key), "nobody's", "... its bytes untouched");
    drop("sysv", key);
}

static int helper(int argc, char **argv)
{
    if (argc >= 6 && !strcmp(argv[2], "make")) { /* make KIND NAME WHO [give-to-root] */
        int rc = make(argv[3], argv[4], argv[5]);
        if (rc == 0 && argc >= 7) {
            int id = shmget((key_t)strtol(argv[4], NULL, 0), 0, 0);
            struct shmid_ds ds;
            if (id < 0 || shmctl(id, IPC_STAT, &ds) < 0)
                return errno;
            ds.shm_perm.uid = 0;
            if (shmctl(id, IPC_SET, &ds) < 0)
                return errno;
        }
        return tu_code_status(rc);
    }
    if (argc >= 6 && !strcmp(argv[2], "open")) /* open KIND NAME HOW [MARK] */
        return tu_code_status(try_open(argv[3], argv[4], argv[5], argc >= 7 ? argv[6] : NULL));
    return 99;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "helper"))
        return helper(argc, argv);
    if (geteuid() != 0)
        tap_skip_all("needs root to act as a second user");
    if (system("setpriv --version >/dev/null 2>&1") != 0)
        tap_skip_all("setpriv (util-linux) not installed");
    if (as_nobody((const char *[]){"nothing", NULL}) != 99)
        tap_skip_all("nobody cannot run %s (directory permissions?)", tu_self());
    snprintf(dir, sizeof dir, "/tmp/shmkit-owner-%ld", (long)getpid());
    if (mkdir(dir, 0755) < 0 || chmod(dir, 01777) < 0)
        tap_bail("mkdir %s", dir);

    char name[96], path[192], key[32], key2[32];
    tu_name(name, sizeof name, "owner");
    snprintf(path, sizeof path, "%s/seg", dir);
    /* keys unlikely to be anyone else's: from the pid */
    snprintf(key, sizeof key, "0x%x", 0x5b000000u | ((unsigned)getpid() & 0xffffffu));
    snprintf(key2, sizeof key2, "0x%x", 0x5c000000u | ((unsigned)getpid() & 0xffffffu));
    drop("sysv", key);
    drop("sysv", key2);

    one_kind("posix", name);
    one_kind("file", path);
    one_kind("sysv", key);
    test_sysv_given_away(key2);

    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_ANY_OWNER};
    shmkit_seg *s = NULL;
    is_rc(shmkit_open(&s, &o), -EINVAL, "ANY_OWNER without CREATE: EINVAL");

    if (rmdir(dir) < 0)
        tap_fail_diag("%s left behind: %s", dir, strerror(errno));
    return tap_done();
}
