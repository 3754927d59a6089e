/* ring.h - the handle behind shmkit_ring, shared by ring.c and ring_plock.c
 * (ring.c calls ring_plock.c, never the reverse). */
#ifndef SHMKIT_RING_H
#define SHMKIT_RING_H

#include "chan.h"

struct shmkit_ring {
    shmkit_seg *seg;
    struct ring_ctl *c;
    unsigned char *data;
    uint64_t cap, mask, max_msg;
    unsigned role; /* SHMKIT_RING_PRODUCER or SHMKIT_RING_CONSUMER */
    int multi;
    int slot; /* producer slot */
    int64_t spin_ns;
    int64_t last_check; /* see struct chan_waiter */
    struct shmkit_owner self;
    uint64_t claim; /* our claim word: CLAIM_ATTACHED | our owner id */
    /* producer */
    uint64_t tail, head_cache, pad, need, resv;
    int reserved;
    /* consumer */
    uint64_t head, cur_len, skipped;
    unsigned char *cur_ptr;
    int peeked;
    /* cut-through (ring.c): the consumer's poll also returns a REC_WIP
     * record (want_wip), says so (cur_wip); the record's start and the
     * bytes copied out of it so far */
    int want_wip, cur_wip;
    uint64_t ct_start, ct_done;
};

/* A filler of LEN bytes (header excluded) is only written in front of a
 * record that did not fit before the end, so it is shorter than the
 * largest record. */
static inline int ring_pad_ok(const shmkit_ring *r, uint64_t len)
{
    return len < chan_round8(r->max_msg);
}

/* ring_plock.c (which calls nothing in ring.c): walks committed records
 * from the shared tail hint; sets r->tail and r->head_cache. 0 or
 * SHMKIT_ECORRUPT. Used at a producer's attach and by a lock take-over. */
int shmkit__ring_recover_tail(shmkit_ring *r);

/* ring_plock.c: the producers' lock of a MULTI ring. lock returns 0 (and
 * loads r->tail), -EAGAIN, -ETIMEDOUT, -EINTR, SHMKIT_ECORRUPT. */
int shmkit__ring_plock(shmkit_ring *r, int64_t timeout_ns);
void shmkit__ring_punlock(shmkit_ring *r);

#endif
