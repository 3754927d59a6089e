/* table.c - fixed-size records in a segment, each with its own seqlock and owner. */
#include "sync_internal.h"
#include "table.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CTL_MAGIC 0x314c4254u /* "TBL1" */
#define CTL_VERSION 1u
#define CTL_SIZE 128u
#define SLOT_HDR 64u
#define CLAIMING (-1) /* owner.pid while a claim fills in the start time */

/* At the start of the payload; repeats the header's layout parameters. */
struct ctl {
    uint32_t magic; /* written last by the creator: the table is ready */
    uint32_t version;
    uint32_t rec_size;
    uint32_t count;
    uint64_t type_id;
    uint64_t stride;
    uint64_t read_retries; /* statistics, bumped by readers with write access */
    uint8_t reserved[CTL_SIZE - 40];
};
_Static_assert(sizeof(struct ctl) == CTL_SIZE, "control block size");

/* The header of every slot; the record follows at SLOT_HDR. */
struct slot {
    struct shmkit_seqlock lock;
    struct shmkit_owner owner;
    uint8_t reserved[SLOT_HDR - sizeof(struct shmkit_seqlock) - sizeof(struct shmkit_owner)];
};
_Static_assert(sizeof(struct slot) == SLOT_HDR, "slot header size");

struct shmkit_table {
    shmkit_seg *seg;
    char *base; /* payload: control block, then the slots */
    uint32_t rec_size;
    uint32_t count;
    uint64_t type_id;
    uint64_t stride;
    int writable;
    uint64_t local_retries; /* read-only handles cannot bump the shared counter */
};

static uint64_t stride_for(uint32_t rec_size)
{
    return SLOT_HDR + (((uint64_t)rec_size + 63u) & ~(uint64_t)63u);
}

static struct ctl *ctl_of(const shmkit_table *t)
{
    return (struct ctl *)(void *)t->base;
}

static struct slot *slot_of(const shmkit_table *t, uint32_t idx)
{
    return (struct slot *)(void *)(t->base + CTL_SIZE + (uint64_t)idx * t->stride);
}

static void *data_of(const shmkit_table *t, uint32_t idx)
{
    return (char *)slot_of(t, idx) + SLOT_HDR;
}

/* The argument checks every record call starts with, in one order so the
 * codes agree: no handle, IDX out of range (the handle's own count, checked
 * against the segment at open), LEN longer than a record, a write through a
 * read-only handle. */
static int rec_args(const shmkit_table *t, uint32_t idx, size_t len, int write)
{
    if (!t)
        return -EINVAL;
    if (idx >= t->count)
        return -ERANGE;
    if (len > t->rec_size)
        return SHMKIT_EBADSIZE;
    if (write && !t->writable)
        return -EBADF;
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int shmkit_table_create(shmkit_table **out, const struct shmkit_opts *opts, uint32_t rec_size,
                        uint32_t count, uint64_t type_id)
{
    if (!out || !opts)
        return -EINVAL;
    *out = NULL;
    if (opts->flags & (SHMKIT_RDONLY | SHMKIT_RAW))
        return -EINVAL;
    if (rec_size == 0 || rec_size > SHMKIT_TABLE_MAX_RECORD || count == 0 ||
        count > SHMKIT_TABLE_MAX_COUNT)
        return SHMKIT_EBADSIZE;
    shmkit_table *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->rec_size = rec_size;
    t->count = count;
    t->type_id = type_id;
    t->stride = stride_for(rec_size);
    t->writable = 1;

    struct shmkit_opts o = *opts;
    o.flags |= SHMKIT_CREATE | SHMKIT_EXCL;
    o.layout = SHMKIT_LAYOUT_TABLE;
    o.size = CTL_SIZE + (size_t)count * t->stride; /* within limits: < 2^41 */
    /* the geometry goes into the first header: nothing to rewrite later */
    const uint64_t param[4] = {rec_size, count, type_id, t->stride};
    int rc = shmkit__open_layout(&t->seg, &o, param);
    if (rc < 0)
        goto free_handle;
    t->base = shmkit_seg_data(t->seg);

    /* A fresh segment is zero-filled: every seqlock is valid and every
     * slot unowned. Only the control block and the parameters are set. */
    struct ctl *c = ctl_of(t);
    c->version = CTL_VERSION;
    c->rec_size = rec_size;
    c->count = count;
    c->type_id = type_id;
    c->stride = t->stride;
    /* release: the control block and the header parameters are visible
     * before the magic that says the table is ready */
    shmkit__store_release(&c->magic, CTL_MAGIC);
    *out = t;
    return 0;

free_handle:
    free(t);
    return rc;
}

uint64_t shmkit__table_size_for(uint32_t rec_size, uint32_t count)
{
    if (rec_size == 0 || rec_size > SHMKIT_TABLE_MAX_RECORD || count == 0 ||
        count > SHMKIT_TABLE_MAX_COUNT)
        return 0;
    return CTL_SIZE + (uint64_t)count * stride_for(rec_size); /* < 2^41 */
}

int shmkit__table_init(shmkit_seg *seg, uint32_t rec_size, uint32_t count, uint64_t type_id)
{
    const uint64_t param[4] = {rec_size, count, type_id, stride_for(rec_size)};
    int rc = shmkit_seg_set_layout(seg, SHMKIT_LAYOUT_TABLE, param);
    if (rc < 0)
        return rc;
    /* the payload of a new segment is zero-filled: every seqlock is valid
     * and every slot unowned, as in shmkit_table_create */
    struct ctl *c = shmkit_seg_data(seg);
    c->version = CTL_VERSION;
    c->rec_size = rec_size;
    c->count = count;
    c->type_id = type_id;
    c->stride = param[3];
    /* release: the control block is visible before the magic that says
     * the table is ready */
    shmkit__store_release(&c->magic, CTL_MAGIC);
    return 0;
}

/* Checks the geometry of a mapped table; fills T's own copies on success. */
static int geometry_check(shmkit_table *t)
{
    uint64_t p[4];
    uint32_t layout;
    int rc = shmkit__seg_layout(t->seg, &layout, p); /* one header read */
    if (rc < 0)
        return rc;
    if (layout != SHMKIT_LAYOUT_TABLE)
        return SHMKIT_ELAYOUT; /* rewritten since the open checked it */
    struct ctl c;
    /* one copy of the control block; only the copy is judged */
    shmkit_seqlock_load(&c, t->base, sizeof c);
    if (p[0] == 0 || p[0] > SHMKIT_TABLE_MAX_RECORD || p[1] == 0 || p[1] > SHMKIT_TABLE_MAX_COUNT)
        return SHMKIT_ECORRUPT;
    if (p[3] != stride_for((uint32_t)p[0]))
        return SHMKIT_ECORRUPT;
    if (c.version != CTL_VERSION || c.rec_size != p[0] || c.count != p[1] || c.type_id != p[2] ||
        c.stride != p[3])
        return SHMKIT_ECORRUPT;
    uint64_t need = CTL_SIZE + p[1] * p[3]; /* <= 2^20 * (2^20 + 128): no overflow */
    if (need > shmkit_seg_size(t->seg))
        return SHMKIT_ECORRUPT;
    t->rec_size = (uint32_t)p[0];
    t->count = (uint32_t)p[1];
    t->type_id = p[2];
    t->stride = p[3];
    return 0;
}

int shmkit__table_wrap(shmkit_table **out, shmkit_seg *seg, int writable)
{
    shmkit_table *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->seg = seg;
    t->base = shmkit_seg_data(seg);
    t->writable = writable;
    int rc = SHMKIT_ECORRUPT;
    if (shmkit_seg_size(seg) < CTL_SIZE)
        goto free_handle;
    /* A creator may still be between shmkit_open and publishing the magic
     * (its header rewrite can even be caught half done): ~100 ms. */
    for (int tries = 0;; tries++) {
        /* acquire: pairs with the creator's release of the magic */
        uint32_t magic = shmkit__load_acquire(&ctl_of(t)->magic);
        rc = magic == CTL_MAGIC ? geometry_check(t) : SHMKIT_ECORRUPT;
        if (rc == 0 || rc == SHMKIT_ELAYOUT || tries >= 50)
            break;
        if (magic == CTL_MAGIC && rc != SHMKIT_EBADHEADER)
            break; /* ready, and still wrong: corrupt, no point waiting */
        sleep_ms(2);
    }
    if (rc < 0)
        goto free_handle;
    *out = t;
    return 0;
free_handle:
    free(t);
    return rc;
}

int shmkit_table_open(shmkit_table **out, const struct shmkit_opts *opts, uint64_t type_id)
{
    if (!out || !opts)
        return -EINVAL;
    *out = NULL;
    if (opts->flags & (SHMKIT_CREATE | SHMKIT_RAW))
        return -EINVAL;
    shmkit_seg *seg;
    struct shmkit_opts o = *opts;
    o.layout = SHMKIT_LAYOUT_TABLE;
    o.size = 0;
    int rc = shmkit_open(&seg, &o);
    if (rc < 0)
        return rc;
    shmkit_table *t;
    rc = shmkit__table_wrap(&t, seg, !(opts->flags & SHMKIT_RDONLY));
    if (rc == 0 && type_id && t->type_id != type_id) {
        free(t);
        rc = SHMKIT_ELAYOUT;
    }
    if (rc < 0) {
        shmkit_close(seg);
        return rc;
    }
    *out = t;
    return 0;
}

int shmkit_table_close(shmkit_table *t)
{
    if (!t)
        return 0;
    int rc = shmkit_close(t->seg);
    free(t);
    return rc;
}

int shmkit_table_remove(shmkit_table *t)
{
    return t ? shmkit_seg_remove(t->seg) : -EINVAL;
}

shmkit_seg *shmkit_table_seg(const shmkit_table *t)
{
    return t ? t->seg : NULL;
}

uint32_t shmkit_table_count(const shmkit_table *t)
{
    return t ? t->count : 0;
}

uint32_t shmkit_table_rec_size(const shmkit_table *t)
{
    return t ? t->rec_size : 0;
}

uint64_t shmkit_table_type(const shmkit_table *t)
{
    return t ? t->type_id : 0;
}

/* A copy of the owner record, loaded field by field (it may change under us). */
static struct shmkit_owner owner_copy(const struct slot *s)
{
    struct shmkit_owner o = {0};
    /* acquire: a claimer stores the start time before the pid (release) */
    o.pid = shmkit__load_acquire(&s->owner.pid);
    o.start = shmkit__load_relaxed(&s->owner.start);
    return o;
}

int shmkit_table_claim(shmkit_table *t, uint32_t idx)
{
    int rc = rec_args(t, idx, 0, 1);
    if (rc < 0)
        return rc;
    struct shmkit_owner me;
    rc = shmkit__owner_self_cached(&me);
    if (rc < 0)
        return rc;
    struct slot *s = slot_of(t, idx);
    /* Another claimer holds CLAIMING for a few instructions; a process
     * killed right there leaves it forever: give up after ~100 ms. */
    for (int tries = 0; tries < 100; tries++) {
        struct shmkit_owner cur = owner_copy(s);
        int took_over = 0;
        if (cur.pid == me.pid && cur.start == me.start)
            return 0;
        if (cur.pid == CLAIMING) {
            sleep_ms(1);
            continue;
        }
        if (cur.pid != 0) {
            if (shmkit_owner_alive(&cur))
                return -EBUSY;
            took_over = 1; /* dead owner, reused pid, or a hostile value */
        }
        int32_t expect = cur.pid;
        /* acquire on success: we see the dead owner's last stores */
        if (!shmkit__cas_acquire(&s->owner.pid, &expect, CLAIMING))
            continue;
        shmkit__store_relaxed(&s->owner.start, me.start);
        /* release: the start time is visible before the pid that vouches for it */
        shmkit__store_release(&s->owner.pid, me.pid);
        return took_over;
    }
    return -EBUSY;
}

int shmkit_table_release(shmkit_table *t, uint32_t idx)
{
    int rc = rec_args(t, idx, 0, 1);
    if (rc < 0)
        return rc;
    struct slot *s = slot_of(t, idx);
    int32_t me = (int32_t)getpid();
    /* release: our last record writes are published before the slot is free */
    if (!shmkit__cas_release(&s->owner.pid, &me, 0))
        return -EPERM;
    return 0;
}

int shmkit_table_owner(const shmkit_table *t, uint32_t idx, struct shmkit_owner *owner)
{
    int rc = rec_args(t, idx, 0, 0);
    if (rc < 0)
        return rc;
    struct shmkit_owner cur = owner_copy(slot_of(t, idx));
    if (owner)
        *owner = cur;
    if (cur.pid == CLAIMING)
        return 1; /* a claim in progress: its claimer is alive right now */
    if (cur.pid == 0)
        return 0; /* never claimed, or released */
    /* a dead owner, a reused pid, or a hostile value: what claim takes over */
    return cur.pid > 0 && shmkit_owner_alive(&cur) ? 1 : SHMKIT_EPEERDEAD;
}

int shmkit_table_write(shmkit_table *t, uint32_t idx, const void *src, size_t len)
{
    if (len && !src)
        return -EINVAL;
    int rc = rec_args(t, idx, len, 1);
    if (rc < 0)
        return rc;
    struct slot *s = slot_of(t, idx);
    /* relaxed: only our own claim can have stored our pid here */
    if (shmkit__load_relaxed(&s->owner.pid) != (int32_t)getpid())
        return -EPERM;
    rc = shmkit_seqlock_write(&s->lock, data_of(t, idx), src, len);
    return rc < 0 ? rc : 0; /* 1 = took over a dead writer's torn record: now whole */
}

int shmkit_table_read(const shmkit_table *t, uint32_t idx, void *dst, size_t len, uint64_t *version)
{
    if (len && !dst)
        return -EINVAL;
    int rc = rec_args(t, idx, len, 0);
    if (rc < 0)
        return rc;
    const struct slot *s = slot_of(t, idx);
    const void *src = data_of(t, idx);
    int64_t deadline = 0;
    uint32_t stuck_seq = 0;
    unsigned stuck = 0, tries = 0;
    rc = -EAGAIN;
    for (;;) {
        uint32_t seq = shmkit_seqlock_read_begin(&s->lock);
        if (!(seq & 1u)) {
            shmkit_seqlock_load(dst, src, len);
            if (!shmkit_seqlock_read_retry(&s->lock, seq)) {
                if (version)
                    *version = seq;
                rc = 0;
                break;
            }
        } else if (seq == stuck_seq) {
            if (++stuck % 256 == 0 && !shmkit_seqlock_writer_alive(&s->lock) &&
                shmkit_seqlock_read_begin(&s->lock) == seq) {
                rc = SHMKIT_EPEERDEAD;
                break;
            }
        } else {
            stuck_seq = seq;
            stuck = 0;
        }
        /* spin briefly, then let the writer (maybe on our core) run */
        if (++tries < 64) {
            shmkit__cpu_relax();
            continue;
        }
        if (tries == 64)
            deadline = shmkit__deadline(SHMKIT__TABLE_READ_GIVEUP_NS);
        else if ((tries & 15u) == 0 && shmkit__time_left(deadline) == 0) {
            /* giving up: on a busy core the rounds above may never have
             * reached a liveness check, so say now whether the writer we
             * waited for is dead rather than "try again" */
            if (stuck && !shmkit_seqlock_writer_alive(&s->lock) &&
                shmkit_seqlock_read_begin(&s->lock) == stuck_seq)
                rc = SHMKIT_EPEERDEAD;
            break;
        }
        sched_yield();
    }
    if (tries > 0 && rc != SHMKIT_EPEERDEAD) {
        if (t->writable)
            shmkit__fetch_add_relaxed(&ctl_of(t)->read_retries, 1); /* a statistic */
        else
            ((shmkit_table *)t)->local_retries++;
    }
    return rc;
}

int shmkit_table_stats(const shmkit_table *t, struct shmkit_table_stats *st)
{
    if (!t || !st)
        return -EINVAL;
    memset(st, 0, sizeof *st);
    st->count = t->count;
    st->rec_size = t->rec_size;
    st->type_id = t->type_id;
    /* relaxed: statistics, no data is read on their strength */
    st->read_retries = shmkit__load_relaxed(&ctl_of(t)->read_retries) + t->local_retries;
    for (uint32_t i = 0; i < t->count; i++) {
        const struct slot *s = slot_of(t, i);
        uint32_t seq = shmkit__load_relaxed(&s->lock.seq);
        st->writes += seq >> 1;
        st->writing += seq & 1u;
        struct shmkit_owner o = owner_copy(s);
        if (o.pid == CLAIMING || (o.pid > 0 && shmkit_owner_alive(&o)))
            st->owned++;
        else if (o.pid != 0)
            st->dead++;
    }
    return 0;
}
