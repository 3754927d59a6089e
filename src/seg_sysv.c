/* seg_sysv.c - System V shared memory: ftok/key/IPC_PRIVATE, shmget, shmat, shmctl. */
#include "segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

static int sysv_key(const struct shmkit_opts *o, key_t *key)
{
    int chosen = !!o->key + !!o->ftok_path + !!o->sysv_private;
    if (chosen != 1)
        return SHMKIT_EBADKEY;
    if (o->sysv_private) {
        *key = IPC_PRIVATE;
        return (o->flags & SHMKIT_CREATE) ? 0 : SHMKIT_EBADKEY;
    }
    if (o->ftok_path) {
        if (o->ftok_proj < 1 || o->ftok_proj > 255)
            return SHMKIT_EBADKEY;
        key_t k = ftok(o->ftok_path, o->ftok_proj);
        if (k == (key_t)-1)
            return errno == ENOENT ? -ENOENT : SHMKIT_EBADKEY;
        *key = k;
        return 0;
    }
    *key = (key_t)o->key;
    return 0;
}

/* The id O names: opts.shmid with SHMKIT_SHMID, else the key's segment,
 * made (CREATE, TOTAL bytes; *CREATED set) when it does not exist. */
static int sysv_id(const struct shmkit_opts *o, size_t total, key_t *key, int *created)
{
    if (o->flags & SHMKIT_SHMID) {
        if (o->key || o->ftok_path || o->sysv_private)
            return SHMKIT_EBADKEY; /* an id and a key: which one? */
        return o->shmid < 0 ? -EINVAL : o->shmid;
    }
    int rc = sysv_key(o, key);
    if (rc < 0)
        return rc;
    int id;
    if (o->flags & SHMKIT_CREATE) {
        int mode = (int)(o->mode ? o->mode : 0600) & 0777;
        int extra = (o->flags & SHMKIT_NORESERVE) ? SHM_NORESERVE : 0;
        if (!extra && (rc = shmkit__mem_check(total)) < 0)
            return rc;
        id = shmget(*key, total, IPC_CREAT | IPC_EXCL | extra | mode);
        if (id >= 0) {
            *created = 1;
            return id;
        }
        if (errno == EINVAL)
            return SHMKIT_EBADSIZE; /* outside SHMMIN..SHMMAX */
        if (errno != EEXIST || (o->flags & SHMKIT_EXCL))
            return -errno;
    }
    id = shmget(*key, 0, 0);
    return id < 0 ? -errno : id;
}

static int sysv_open(shmkit_seg *seg, struct seg_create *c)
{
    const struct shmkit_opts *o = c->o;
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    key_t key = IPC_PRIVATE;
    int id = sysv_id(o, c->total, &key, &c->created);
    if (id < 0)
        return id;
    seg->shmid = id;
    seg->key = (int32_t)key;
    seg->writable = !rdonly;
    /* the size of what we attach comes from the kernel, not from the caller */
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds) < 0)
        return -errno;
    /* CREATE found the key taken: only the caller's own segment is reused.
     * Both owner and creator: the creator of a segment may give it to any
     * uid (IPC_SET) and still control it. */
    if ((o->flags & SHMKIT_CREATE) && !c->created && !(o->flags & SHMKIT_ANY_OWNER) &&
        (ds.shm_perm.uid != geteuid() || ds.shm_perm.cuid != geteuid()))
        return -EPERM;
    seg->key = (int32_t)ds.shm_perm.__key;
    void *m = shmat(id, NULL, rdonly ? SHM_RDONLY : 0);
    if (m == (void *)-1)
        return -errno;
    seg->map = m;
    seg->map_len = ds.shm_segsz;
    if (c->created && !(o->flags & SHMKIT_NORESERVE)) {
        if (!(o->flags & SHMKIT_RAW)) {
            c->reserve_rest = 1; /* see shmkit_open */
            return 0;
        }
        return shmkit__reserve_mapping(m, seg->map_len);
    }
    return 0;
}

static int sysv_check(const struct shmkit_opts *o)
{
    /* an id names an existing segment: nothing to create */
    return (o->flags & SHMKIT_SHMID) && (o->flags & SHMKIT_CREATE) ? -EINVAL : 0;
}

static int sysv_remove(shmkit_seg *seg)
{
    return shmkit_sysv_remove(seg->shmid);
}

int shmkit_sysv_remove(int shmid)
{
    if (shmid < 0)
        return -EINVAL;
    return shmctl(shmid, IPC_RMID, NULL) < 0 ? -errno : 0;
}

static int sysv_unmap(shmkit_seg *seg)
{
    return shmdt(seg->map) < 0 ? -errno : 0;
}

/* Whether a header-less segment is visibly still being made: its memory
 * cannot be watched growing, so another live process made it less than
 * 10 s ago. */
static int sysv_being_made(const shmkit_seg *seg, int64_t *last)
{
    struct shmid_ds ds;
    (void)last;
    if (shmctl(seg->shmid, IPC_STAT, &ds) < 0 || ds.shm_cpid == getpid())
        return 0;
    int alive = kill(ds.shm_cpid, 0) == 0 || errno == EPERM;
    return alive && time(NULL) - ds.shm_ctime < 10;
}

static int sysv_stat(const shmkit_seg *seg, struct shmkit_info *info)
{
    struct shmid_ds ds;
    if (shmctl(seg->shmid, IPC_STAT, &ds) < 0)
        return -errno;
    info->shmid = seg->shmid;
    info->key = (int32_t)ds.shm_perm.__key;
    info->size = ds.shm_segsz;
    info->mode = ds.shm_perm.mode & 0777;
    info->uid = ds.shm_perm.uid;
    info->gid = ds.shm_perm.gid;
    info->cpid = ds.shm_cpid;
    info->lpid = ds.shm_lpid;
    info->nattch = (int64_t)ds.shm_nattch;
    info->atime = ds.shm_atime;
    info->dtime = ds.shm_dtime;
    info->ctime = ds.shm_ctime;
    return 0;
}

int shmkit_sysv_set(shmkit_seg *seg, mode_t mode, uid_t uid, gid_t gid)
{
    struct shmid_ds ds;
    if (!seg || seg->kind != SHMKIT_SYSV)
        return -EINVAL;
    if (shmctl(seg->shmid, IPC_STAT, &ds) < 0)
        return -errno;
    if (mode != (mode_t)-1)
        ds.shm_perm.mode = (ds.shm_perm.mode & ~0777u) | (mode & 0777u);
    if (uid != (uid_t)-1)
        ds.shm_perm.uid = uid;
    if (gid != (gid_t)-1)
        ds.shm_perm.gid = gid;
    return shmctl(seg->shmid, IPC_SET, &ds) < 0 ? -errno : 0;
}

/* The "swap" column of SHMID's line in /proc/sysvipc/shm (bytes swapped
 * out). The file is read as untrusted text: columns are found by the
 * header's names, every number is parsed whole. -ENOENT when there is no
 * such file, column or line. */
static int sysv_swapped(int shmid, uint64_t *swapped)
{
    FILE *f = fopen("/proc/sysvipc/shm", "re");
    if (!f)
        return -ENOENT;
    char line[512];
    int col_id = -1, col_swap = -1, rc = -ENOENT;
    if (fgets(line, sizeof line, f)) {
        char *save = NULL;
        int i = 0;
        for (char *t = strtok_r(line, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), i++) {
            if (!strcmp(t, "shmid"))
                col_id = i;
            else if (!strcmp(t, "swap"))
                col_swap = i;
        }
    }
    while (col_id >= 0 && col_swap >= 0 && rc == -ENOENT && fgets(line, sizeof line, f)) {
        char *save = NULL, *end;
        long long id = -1;
        unsigned long long sw = 0;
        int i = 0, have = 0;
        for (char *t = strtok_r(line, " \t\n", &save); t; t = strtok_r(NULL, " \t\n", &save), i++) {
            errno = 0;
            if (i == col_id) {
                id = strtoll(t, &end, 10);
                have |= !errno && !*end ? 1 : 0;
            } else if (i == col_swap) {
                sw = strtoull(t, &end, 10);
                have |= !errno && !*end ? 2 : 0;
            }
        }
        if (have == 3 && id == shmid) {
            *swapped = sw;
            rc = 0;
        }
    }
    fclose(f);
    return rc;
}

/* Payload checksum without touching (allocating) pages that do not exist:
 * mincore tells which do, /proc/sysvipc/shm that none is swapped out (a
 * swapped page is not resident either, but is not zero). 0 and *CRC, or
 * SHMKIT__CRC_MAP when this cannot be relied on: read through the mapping. */
static int sysv_crc(const shmkit_seg *seg, uint32_t *crc)
{
    enum { CHUNK = 4096 }; /* pages per mincore call */
    unsigned char vec[CHUNK];
    uint64_t swapped = 1;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0 || sysv_swapped(seg->shmid, &swapped) < 0 || swapped)
        return SHMKIT__CRC_MAP;
    const char *base = seg->map; /* page aligned: shmat gives an aligned address */
    uint64_t off = SHMKIT_HEADER_SIZE, end = off + seg->data_len;
    uint64_t span = (end + (uint64_t)pg - 1) / (uint64_t)pg * (uint64_t)pg; /* within the mapping */
    uint32_t c = 0;
    uint64_t step = (uint64_t)CHUNK * (uint64_t)pg;
    for (uint64_t chunk = 0; chunk < span; chunk += step) {
        uint64_t len = span - chunk < step ? span - chunk : step;
        if (mincore((void *)(base + chunk), (size_t)len, vec) < 0)
            return SHMKIT__CRC_MAP;
        for (uint64_t p = 0; p * (uint64_t)pg < len; p++) {
            uint64_t a = chunk + p * (uint64_t)pg, b = a + (uint64_t)pg;
            a = a < off ? off : a;
            b = b > end ? end : b;
            if (a >= b)
                continue;
            /* a page that does not exist reads as zeros: count, do not fault it in */
            c = (vec[p] & 1) ? shmkit_crc32c(c, base + a, (size_t)(b - a))
                             : shmkit__crc32c_zeros(c, b - a);
        }
    }
    /* a page swapped out meanwhile was counted as zeros: do not trust it */
    if (sysv_swapped(seg->shmid, &swapped) < 0 || swapped)
        return SHMKIT__CRC_MAP;
    *crc = c;
    return 0;
}

const struct seg_ops shmkit__seg_sysv = {
    .flags = SHMKIT_SHMID,
    .check = sysv_check,
    .open = sysv_open,
    .remove = sysv_remove,
    .unmap = sysv_unmap,
    .stat = sysv_stat,
    .crc = sysv_crc,
    .being_made = sysv_being_made,
};
