/* join.c - one call for a named ring, bus or table (shmkit_ring_join,
 * shmkit_bus_join, shmkit_sub_join, shmkit_table_join): create-or-attach
 * with a role, the geometry used when creating and checked when attaching,
 * waiting for another process to have made it (first_contact.c). The
 * structure is written by
 * shmkit_open's initialiser, so nobody ever opens a half-made one. Uses
 * the segment, ring, bus and table layers; nothing below calls it. */
#include "chan.h"
#include "first_contact.h"
#include "ring.h"
#include "segment.h"
#include "table.h"

#include <errno.h>
#include <string.h>

#define BUS_DEFAULT_SLOTS 256
#define BUS_DEFAULT_SUBS 64
#define CHAN_DEFAULT_SPIN_NS 50000

/* What a join asks of the segment layer. */
struct join_req {
    uint32_t layout;
    size_t size;                             /* payload, when this call creates */
    int (*init)(shmkit_seg *seg, void *arg); /* writes the structure in it */
    void *arg;
};

/* The fields of WHERE that join sets itself must be zero. */
static int where_check(const struct shmkit_opts *w)
{
    if (w->size || w->layout || w->init_slot_ || w->init_arg_slot_ || (w->flags & SHMKIT_RAW))
        return -EINVAL;
    return 0;
}

/* One try (shmkit__contact_try): the segment, opened or created with W,
 * whose header says Q->layout. */
static int open_once(shmkit_seg **out, const struct shmkit_opts *w, void *ctx)
{
    const struct join_req *q = ctx;
    int create = !!(w->flags & SHMKIT_CREATE);
    struct shmkit_opts o = *w;
    if (create) {
        o.size = q->size;
        o.init = q->init;
        o.init_arg = q->arg;
    }
    shmkit_seg *seg = NULL;
    int rc = shmkit_open(&seg, &o);
    if (rc == SHMKIT_EBADSIZE && create && !(w->flags & SHMKIT_EXCL) && w->kind != SHMKIT_MEMFD) {
        /* the name holds a smaller segment than ours would be: attach to
         * it, so its geometry is judged (SHMKIT_EGEOMETRY), not its size */
        struct shmkit_opts a = *w;
        a.flags &= ~(unsigned)(SHMKIT_CREATE | SHMKIT_ANY_OWNER | SHMKIT_PERSIST);
        if (shmkit_open(&seg, &a) == 0)
            rc = 0;
    }
    if (rc < 0)
        return rc;
    uint32_t layout;
    uint64_t param[4];
    rc = shmkit__seg_layout(seg, &layout, param);
    if (rc == 0 && layout != q->layout)
        /* "bytes": made by hand, the structure not yet written (the old
         * two-step creation): worth waiting for, like a missing name */
        rc = layout == SHMKIT_LAYOUT_BYTES ? -EAGAIN : SHMKIT_ELAYOUT;
    if (rc < 0) {
        shmkit_close(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

/* The segment for Q, waiting up to TIMEOUT_NS while it does not exist
 * (attach only), still holds "bytes", or (attach only) its creator is
 * still in its initialiser (first_contact.c). */
static int join_seg(shmkit_seg **out, const struct shmkit_opts *where, const struct join_req *q,
                    int64_t timeout_ns)
{
    return shmkit__first_contact(out, where, open_once, (void *)q, timeout_ns);
}

/* A segment this call created is removed again if what follows fails. */
static void drop_seg(shmkit_seg *seg)
{
    if (shmkit_seg_created(seg) == 1)
        shmkit_seg_remove(seg);
    shmkit_close(seg);
}

/* ---------------------------------------------------------------- ring */

struct ring_make {
    uint64_t cap;
    unsigned flags;
};

static int ring_init(shmkit_seg *seg, void *arg)
{
    const struct ring_make *m = arg;
    return shmkit__ring_init(seg, m->cap, m->flags);
}

/* The capacity a ring this call creates gets from CFG. */
static int ring_capacity(const struct shmkit_ring_config *cfg, uint64_t *cap)
{
    if (cfg->capacity) {
        if (!shmkit_ring_size_for(cfg->capacity) ||
            cfg->max_msg > shmkit__ring_max_msg_for(cfg->capacity))
            return -EINVAL;
        *cap = cfg->capacity;
        return 0;
    }
    if (!cfg->max_msg)
        return -EINVAL;
    if (cfg->max_msg > SHMKIT_RING_MSG_LIMIT)
        return SHMKIT_ETOOBIG;
    uint64_t c = SHMKIT_RING_MIN_CAP;
    while (shmkit__ring_max_msg_for(c) < cfg->max_msg)
        c *= 2; /* at most 2^33: SHMKIT_RING_MSG_LIMIT is below 2^32 */
    *cap = c;
    return 0;
}

/* An existing ring against the non-zero fields of CFG. */
static int ring_geometry(const shmkit_seg *seg, const struct shmkit_ring_config *cfg)
{
    struct ring_geo g;
    int rc = shmkit__ring_geo(shmkit_seg_data(seg), shmkit_seg_size(seg), &g);
    if (rc < 0)
        return rc;
    if ((cfg->capacity && g.cap != cfg->capacity) || (cfg->max_msg && g.max_msg < cfg->max_msg) ||
        ((cfg->flags & SHMKIT_RING_MULTI) && !(g.flags & SHMKIT_RING_MULTI)))
        return SHMKIT_EGEOMETRY;
    return 0;
}

int shmkit_ring_join(shmkit_ring **out, const struct shmkit_opts *where,
                     const struct shmkit_ring_config *cfg)
{
    if (out)
        *out = NULL;
    if (!out || !where || !cfg || !shmkit__all_zero(cfg->reserved, sizeof cfg->reserved) ||
        (cfg->flags & ~(unsigned)(SHMKIT_RING_MULTI | SHMKIT_RING_TAKEOVER)))
        return -EINVAL;
    unsigned role = cfg->role == SHMKIT_ROLE_PRODUCER   ? SHMKIT_RING_PRODUCER
                    : cfg->role == SHMKIT_ROLE_CONSUMER ? SHMKIT_RING_CONSUMER
                                                        : 0;
    if ((!role && cfg->role != SHMKIT_ROLE_NONE) || (!role && (cfg->flags & SHMKIT_RING_TAKEOVER)))
        return -EINVAL;
    int rc = where_check(where);
    if (rc < 0)
        return rc;
    struct ring_make m = {0, cfg->flags & SHMKIT_RING_MULTI};
    if ((where->flags & SHMKIT_CREATE) && (rc = ring_capacity(cfg, &m.cap)) < 0)
        return rc;
    struct join_req q = {SHMKIT_LAYOUT_RING, shmkit_ring_size_for(m.cap), ring_init, &m};
    shmkit_seg *seg;
    if ((rc = join_seg(&seg, where, &q, cfg->timeout_ns)) < 0)
        return rc;
    shmkit_ring *r = NULL;
    if (!shmkit_seg_created(seg))
        rc = ring_geometry(seg, cfg);
    if (rc == 0)
        rc = shmkit_ring_attach(&r, seg, role | (cfg->flags & SHMKIT_RING_TAKEOVER));
    if (rc < 0) {
        drop_seg(seg);
        return rc;
    }
    r->own_seg = 1;
    shmkit_ring_set_spin(r, cfg->spin_ns ? cfg->spin_ns : CHAN_DEFAULT_SPIN_NS);
    *out = r;
    return 0;
}

/* ---------------------------------------------------------------- bus */

struct bus_make {
    uint64_t slots, msg_max;
    uint32_t max_subs;
    unsigned flags;
};

static int bus_init(shmkit_seg *seg, void *arg)
{
    const struct bus_make *m = arg;
    return shmkit__bus_init(seg, m->slots, m->msg_max, m->max_subs, m->flags);
}

static int bus_geometry(const shmkit_seg *seg, const struct shmkit_bus_config *cfg)
{
    struct bus_geo g;
    int rc = shmkit__bus_geo(shmkit_seg_data(seg), shmkit_seg_size(seg), &g);
    if (rc < 0)
        return rc;
    if ((cfg->slots && g.slots != cfg->slots) || (cfg->msg_max && g.msg_max < cfg->msg_max) ||
        (cfg->max_subs && g.max_subs != cfg->max_subs) ||
        ((cfg->flags & SHMKIT_BUS_LOSSY) && !(g.flags & SHMKIT_BUS_LOSSY)))
        return SHMKIT_EGEOMETRY;
    return 0;
}

/* The bus segment for CFG, checked, for a publisher (ROLE PUBLISHER) or a
 * subscriber (ROLE SUBSCRIBER): both accept ROLE_NONE. */
static int bus_seg(shmkit_seg **seg, const struct shmkit_opts *where,
                   const struct shmkit_bus_config *cfg, unsigned role)
{
    if (!where || !cfg || !shmkit__all_zero(cfg->reserved, sizeof cfg->reserved) || cfg->pad0_ ||
        (cfg->flags & ~(unsigned)SHMKIT_BUS_LOSSY) ||
        (cfg->role != SHMKIT_ROLE_NONE && cfg->role != role))
        return -EINVAL;
    int rc = where_check(where);
    if (rc < 0)
        return rc;
    struct bus_make m = {cfg->slots ? cfg->slots : BUS_DEFAULT_SLOTS, cfg->msg_max,
                         cfg->max_subs ? cfg->max_subs : BUS_DEFAULT_SUBS, cfg->flags};
    size_t size = 0;
    if (where->flags & SHMKIT_CREATE) {
        if (m.slots > SIZE_MAX || m.msg_max > SIZE_MAX ||
            !(size = shmkit_bus_size_for((size_t)m.slots, (size_t)m.msg_max, m.max_subs)))
            return -EINVAL;
    }
    struct join_req q = {SHMKIT_LAYOUT_BUS, size, bus_init, &m};
    if ((rc = join_seg(seg, where, &q, cfg->timeout_ns)) < 0)
        return rc;
    if (!shmkit_seg_created(*seg) && (rc = bus_geometry(*seg, cfg)) < 0) {
        shmkit_close(*seg);
        return rc;
    }
    return 0;
}

int shmkit_bus_join(shmkit_bus **out, const struct shmkit_opts *where,
                    const struct shmkit_bus_config *cfg)
{
    if (out)
        *out = NULL;
    if (!out)
        return -EINVAL;
    shmkit_seg *seg;
    int rc = bus_seg(&seg, where, cfg, SHMKIT_ROLE_PUBLISHER);
    if (rc < 0)
        return rc;
    shmkit_bus *b;
    if ((rc = shmkit__bus_open(&b, seg, cfg->role == SHMKIT_ROLE_PUBLISHER)) < 0) {
        drop_seg(seg);
        return rc;
    }
    shmkit__bus_own_seg(b);
    shmkit_bus_set_spin(b, cfg->spin_ns ? cfg->spin_ns : CHAN_DEFAULT_SPIN_NS);
    *out = b;
    return 0;
}

int shmkit_sub_join(shmkit_sub **out, const struct shmkit_opts *where,
                    const struct shmkit_bus_config *cfg)
{
    if (out)
        *out = NULL;
    if (!out)
        return -EINVAL;
    shmkit_seg *seg;
    int rc = bus_seg(&seg, where, cfg, SHMKIT_ROLE_SUBSCRIBER);
    if (rc < 0)
        return rc;
    shmkit_sub *s;
    if ((rc = shmkit_bus_subscribe(&s, seg)) < 0) {
        drop_seg(seg);
        return rc;
    }
    shmkit__sub_own_seg(s);
    shmkit_sub_set_spin(s, cfg->spin_ns ? cfg->spin_ns : CHAN_DEFAULT_SPIN_NS);
    *out = s;
    return 0;
}

/* ---------------------------------------------------------------- table */

struct table_make {
    uint32_t rec_size, count;
    uint64_t type_id;
};

static int table_init(shmkit_seg *seg, void *arg)
{
    const struct table_make *m = arg;
    return shmkit__table_init(seg, m->rec_size, m->count, m->type_id);
}

int shmkit_table_join(shmkit_table **out, const struct shmkit_opts *where,
                      const struct shmkit_table_config *cfg)
{
    if (out)
        *out = NULL;
    if (!out || !where || !cfg || !shmkit__all_zero(cfg->reserved, sizeof cfg->reserved) ||
        cfg->pad0_ ||
        (cfg->role != SHMKIT_ROLE_NONE && cfg->role != SHMKIT_ROLE_WRITER &&
         cfg->role != SHMKIT_ROLE_READER))
        return -EINVAL;
    int rc = where_check(where);
    if (rc < 0)
        return rc;
    struct table_make m = {cfg->rec_size, cfg->count, cfg->type_id};
    uint64_t size = 0;
    if ((where->flags & SHMKIT_CREATE) && !(size = shmkit__table_size_for(m.rec_size, m.count)))
        return SHMKIT_EBADSIZE;
    struct join_req q = {SHMKIT_LAYOUT_TABLE, (size_t)size, table_init, &m};
    shmkit_seg *seg;
    if ((rc = join_seg(&seg, where, &q, cfg->timeout_ns)) < 0)
        return rc;
    shmkit_table *t;
    int writable = cfg->role != SHMKIT_ROLE_READER && !(where->flags & SHMKIT_RDONLY);
    if ((rc = shmkit__table_wrap(&t, seg, writable)) < 0) {
        drop_seg(seg);
        return rc;
    }
    if (!shmkit_seg_created(seg) &&
        ((cfg->rec_size && shmkit_table_rec_size(t) != cfg->rec_size) ||
         (cfg->count && shmkit_table_count(t) != cfg->count) ||
         (cfg->type_id && shmkit_table_type(t) != cfg->type_id))) {
        shmkit_table_close(t);
        return SHMKIT_EGEOMETRY;
    }
    *out = t;
    return 0;
}
