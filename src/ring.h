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
    unsigned role; /* SHMKIT_RING_PRODUCER, SHMKIT_RING_CONSUMER, or 0: none */
    int own_seg;   /* made by shmkit_ring_join: close closes the segment too */
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
    struct shmkit__pollfd pfd; /* shmkit_ring_fd's descriptor */
};

/* A filler of LEN bytes (header excluded) is only written in front of a
 * record that did not fit before the end, so it is shorter than the
 * largest record. */
static inline int ring_pad_ok(const shmkit_ring *r, uint64_t len)
{
    return len < chan_round8(r->max_msg);
}

/* Writes a new ring's control block of CAPACITY (a valid power of two the
 * payload holds) and records layout "ring" with FLAGS (SHMKIT_RING_MULTI or
 * 0): shmkit_ring_create without the handle, for join.c's initialiser.
 * 0 or an error of shmkit_seg_set_layout. */
int shmkit__ring_init(shmkit_seg *seg, uint64_t capacity, unsigned flags);

/* The ring's largest message for CAPACITY data bytes. */
uint64_t shmkit__ring_max_msg_for(uint64_t capacity);

/* ring_plock.c (which calls nothing in ring.c): walks committed records
 * from the shared tail hint; sets r->tail and r->head_cache. 0 or
 * SHMKIT_ECORRUPT. Used at a producer's attach and by a lock take-over. */
int shmkit__ring_recover_tail(shmkit_ring *r);

/* ring_plock.c: the producers' lock of a MULTI ring. lock returns 0 (and
 * loads r->tail), -EAGAIN, -ETIMEDOUT, -EINTR, SHMKIT_ECORRUPT. */
int shmkit__ring_plock(shmkit_ring *r, int64_t timeout_ns);
void shmkit__ring_punlock(shmkit_ring *r);

#endif
