/* seg_anon.c - anonymous shared memory: MAP_SHARED|MAP_ANONYMOUS, inherited across fork(). */
#include "segment.h"

#include <errno.h>
#include <sys/mman.h>

#ifndef MAP_ANONYMOUS
#define MAP_ANONYMOUS MAP_ANON /* older BSDs */
#endif

int shmkit__anon_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    if (!(o->flags & SHMKIT_NORESERVE)) {
        int rc = shmkit__mem_check(total);
        if (rc < 0)
            return rc;
    }
    void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return -errno;
    seg->map = m;
    seg->map_len = total;
    seg->writable = 1;
    *created = 1;
    if (!(o->flags & SHMKIT_NORESERVE))
        return shmkit__reserve_mapping(m, total);
    return 0;
}
