/* table.h - what join.c needs from table.c: the table made in a segment
 * the caller opened (its initialiser), and a handle around it. Internal. */
#ifndef SHMKIT_TABLE_INTERNAL_H
#define SHMKIT_TABLE_INTERNAL_H

#include "shmkit.h"

/* Payload bytes a table of COUNT records of REC_SIZE bytes needs; 0 if
 * either is 0 or above its limit. */
uint64_t shmkit__table_size_for(uint32_t rec_size, uint32_t count);

/* Records layout "table" with the geometry in SEG's header and writes the
 * control block (magic last) in its payload, which must be zero-filled and
 * at least shmkit__table_size_for bytes. 0 or an error of
 * shmkit_seg_set_layout. */
int shmkit__table_init(shmkit_seg *seg, uint32_t rec_size, uint32_t count, uint64_t type_id);

/* A handle on the table in SEG after the checks of shmkit_table_open (any
 * type id); on success the handle owns SEG (shmkit_table_close closes it),
 * on failure the caller still does. WRITABLE 0: claims and writes give
 * -EBADF. */
int shmkit__table_wrap(shmkit_table **out, shmkit_seg *seg, int writable);

#endif
