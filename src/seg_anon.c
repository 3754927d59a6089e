/* seg_anon.c - anonymous shared memory: MAP_SHARED|MAP_ANONYMOUS, inherited across fork(). */
#include "segment.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON /* older BSDs */
#endif

static int anon_open(shmkit_seg *seg, struct seg_create *c)
{
    unsigned f = c->o->flags;
    if (!(f & SHMKIT_NORESERVE)) {
        int rc = shmkit__mem_check(c->total);
        if (rc < 0)
            return rc;
    }
    void *m = mmap(NULL, c->total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    seg->map = m;
    seg->map_len = c->total;
    seg->writable = 1;
    c->created = 1;
    if (!(f & SHMKIT_NORESERVE))
        return shmkit__reserve_mapping(m, c->total);
    return 0;
}

static int anon_check(const struct shmkit_opts *o)
{
    return (o->flags & SHMKIT_CREATE) ? 0 : -EINVAL; /* an anonymous mapping can only be made */
}

/* Only this process and its children can reach it. */
static int anon_stat(const shmkit_seg *seg, struct shmkit_info *info)
{
    (void)seg;
    info->mode = 0600;
    info->uid = (uint32_t)geteuid();
    info->gid = (uint32_t)getegid();
    return 0;
}

const struct seg_ops shmkit__seg_anon = {
    .check = anon_check,
    .open = anon_open,
    .stat = anon_stat,
};
