/*
 * shmkit/table.h - a table of fixed-size records, one writer per record.
 * Included by <shmkit.h>; do not include it directly.
 *
 * A table is a segment (layout SHMKIT_LAYOUT_TABLE) holding COUNT records
 * of REC_SIZE bytes. Each record has its own seqlock and its own owner
 * record (pid + start time):
 *
 *   - a process CLAIMS a record, then it alone WRITES it, as often as it
 *     likes, without ever waiting for a reader;
 *   - any number of processes READ any record and always get a consistent
 *     snapshot (never half of one write and half of the next);
 *   - anyone can ask whether a record's owner still lives, so a board can
 *     tell that the process behind a record died (kill -9) and a new
 *     process can take the record over.
 *
 * This is the shape of the course's F1 project: one process per car owns its
 * record (sector times, laps, pit, out), the timing board reads them all.
 *
 *   shmkit_table *t;
 *   struct shmkit_opts o = { .kind = SHMKIT_POSIX, .name = "/timing" };
 *   shmkit_table_create(&t, &o, sizeof(struct car), 20, CAR_TYPE_ID);
 *   (or, by every program alike, creating or attaching by name:
 *    o.flags = SHMKIT_CREATE;
 *    struct shmkit_table_config cfg = { .role = SHMKIT_ROLE_WRITER,
 *        .rec_size = sizeof(struct car), .count = 20, .type_id = CAR_TYPE_ID };
 *    shmkit_table_join(&t, &o, &cfg);)
 *   ...fork()...
 *   child:  shmkit_table_claim(t, i);  loop { shmkit_table_write(t, i, &car, sizeof car); }
 *   board:  shmkit_table_read(t, i, &car, sizeof car, NULL);
 *           shmkit_table_owner(t, i, NULL) == SHMKIT_EPEERDEAD  ->  the car's
 *                                                     process died
 *
 * IN THE SEGMENT (all of it hostile input to a process that opens it):
 *   header layout parameters (covered by the header CRC):
 *     param[0] = record size, param[1] = record count, param[2] = type id,
 *     param[3] = stride (bytes per slot);
 *   payload: a 128-byte control block repeating these values, then COUNT
 *   slots of STRIDE bytes: a 64-byte slot header (seqlock, owner) and the
 *   record rounded up to 64 bytes. shmkit_table_open() checks that both
 *   copies agree, that the stride is the one the size implies and that
 *   every slot lies inside the payload; after that it uses only its own
 *   copies, so later scribbles on the control block cannot send it out of
 *   bounds.
 *
 * SIGNALS: no table call but shmkit_table_join sleeps (it returns -EINTR
 * when a signal handler ran while it waited for the table to be made, the
 * library's one policy, SIGNALS in shmkit/sync.h), so no other returns
 * -EINTR:
 * shmkit_table_read spins and yields while a write is open, for at most
 * ~50 ms, then answers -EAGAIN or SHMKIT_EPEERDEAD whatever signals
 * arrived meanwhile.
 * ------------------------------------------------------------------------ */
#ifndef SHMKIT_TABLE_H
#define SHMKIT_TABLE_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/table.h>"
#endif

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct shmkit_table shmkit_table;

/* Limits checked at create and at open. */
#define SHMKIT_TABLE_MAX_RECORD (1u << 20) /* bytes per record        */
#define SHMKIT_TABLE_MAX_COUNT (1u << 20)  /* records per table       */

/* Creates a new table segment described by OPTS (any kind; the flags
 * SHMKIT_CREATE | SHMKIT_EXCL are implied, OPTS->size and OPTS->layout are
 * ignored: the size follows from REC_SIZE and COUNT) with COUNT records of
 * REC_SIZE bytes, all zero and unowned. TYPE_ID is any value the
 * application chooses to recognise its own tables (0 = none); openers can
 * insist on it. On success *OUT holds the handle.
 * Errors:
 *   -EINVAL            OUT or OPTS NULL, OPTS->flags hold SHMKIT_RDONLY or
 *                      SHMKIT_RAW
 *   SHMKIT_EBADSIZE    REC_SIZE or COUNT is 0 or above its limit
 *   -EEXIST            a segment of that name exists
 *   -ENOMEM            out of memory for the handle
 *   any error of shmkit_open() (SHMKIT_EBADNAME, -EACCES, -ENOSPC, ...)
 * Nothing is left behind on failure. */
SHMKIT_API int shmkit_table_create(shmkit_table **out, const struct shmkit_opts *opts,
                                   uint32_t rec_size, uint32_t count, uint64_t type_id);

/* Opens an existing table (OPTS as for shmkit_open, without
 * SHMKIT_CREATE; SHMKIT_RDONLY gives a handle that can only read). If
 * TYPE_ID is non-zero the table must have been created with it. Waits up
 * to ~100 ms for a table that is still being initialised by its creator.
 * Errors:
 *   -EINVAL            OUT or OPTS NULL, SHMKIT_CREATE or SHMKIT_RAW given
 *   SHMKIT_ELAYOUT     the segment is not a table, or TYPE_ID differs
 *   SHMKIT_ECORRUPT    geometry in the header and in the control block
 *                      disagree, out of range, or the slots do not fit
 *                      the payload (hostile or damaged segment)
 *   -ENOMEM            out of memory for the handle
 *   any error of shmkit_open() (-ENOENT, SHMKIT_ENOTSHMKIT, ...) */
SHMKIT_API int shmkit_table_open(shmkit_table **out, const struct shmkit_opts *opts,
                                 uint64_t type_id);

/* Joining a table by name, in the shape of the channels (JOINING BY NAME
 * in shmkit/channel.h: every point applies - create-or-attach with
 * SHMKIT_CREATE, attach only and wait up to timeout_ns without it, the
 * table written by the creator's initialiser so nobody sees it half made,
 * geometry used at create and checked at attach, SHMKIT_EGEOMETRY). The
 * table handle always owns its segment. */
struct shmkit_table_config {
    unsigned role;        /* SHMKIT_ROLE_WRITER (may claim and write),          */
                          /* SHMKIT_ROLE_READER (claim/write/release give       */
                          /* -EBADF, even if this call created the table),      */
                          /* SHMKIT_ROLE_NONE = WRITER. SHMKIT_RDONLY in WHERE  */
                          /* (attach only) makes a reader whatever the role     */
    uint32_t rec_size;    /* create: 1..SHMKIT_TABLE_MAX_RECORD; attach: 0 or   */
                          /* equal                                              */
    uint32_t count;       /* create: 1..SHMKIT_TABLE_MAX_COUNT; attach: 0 or    */
                          /* equal                                              */
    uint32_t pad0_;       /* zero                                               */
    uint64_t type_id;     /* create: as shmkit_table_create; attach: 0 or equal */
    int64_t timeout_ns;   /* see JOINING BY NAME                                */
    uint64_t reserved[4]; /* zero, else -EINVAL                                 */
};

/* Joins the table WHERE names (see above). On success *OUT holds the
 * handle; on failure NULL. Errors: those under JOINING BY NAME in
 * shmkit/channel.h (-EINVAL, SHMKIT_EGEOMETRY - a type id that differs
 * included, SHMKIT_ELAYOUT, -ETIMEDOUT, -ENOENT, SHMKIT_EPEERDEAD, -EINTR,
 * the errors of shmkit_open), SHMKIT_EBADSIZE (create: rec_size or count 0
 * or above its limit), and those of shmkit_table_open (SHMKIT_ECORRUPT,
 * -ENOMEM). */
SHMKIT_API int shmkit_table_join(shmkit_table **out, const struct shmkit_opts *where,
                                 const struct shmkit_table_config *cfg);

/* Closes the handle (the segment stays; see shmkit_table_remove). Records
 * this process claimed stay claimed by it until it exits or releases them.
 * Accepts NULL. Returns 0 or the error of shmkit_close(). */
SHMKIT_API int shmkit_table_close(shmkit_table *t);

/* Removes the table's segment name (as shmkit_seg_remove). The handle stays
 * usable and must still be closed. Errors: -EINVAL (T NULL), those of
 * shmkit_seg_remove. */
SHMKIT_API int shmkit_table_remove(shmkit_table *t);

/* The segment under the table (owned by the table: do not close it). NULL
 * for NULL. */
SHMKIT_API shmkit_seg *shmkit_table_seg(const shmkit_table *t);

/* Geometry, from the handle's own validated copy. 0 for NULL. */
SHMKIT_API uint32_t shmkit_table_count(const shmkit_table *t);
SHMKIT_API uint32_t shmkit_table_rec_size(const shmkit_table *t);
SHMKIT_API uint64_t shmkit_table_type(const shmkit_table *t);

/* Makes the calling process the owner (the one writer) of record IDX.
 * Returns:
 *   0                  claimed (or already owned by this process)
 *   1                  claimed, taking over from an owner that died: the
 *                      record holds what the dead owner last wrote
 *   -EBUSY             another live process owns it
 *   -ERANGE            IDX >= count
 *   -EBADF             read-only handle
 *   -EINVAL            T NULL
 *   -errno             the caller's own identity could not be read */
SHMKIT_API int shmkit_table_claim(shmkit_table *t, uint32_t idx);

/* Gives record IDX up (its contents stay). Returns 0, -EPERM (the caller
 * does not own it), -ERANGE, -EBADF (read-only handle), -EINVAL. */
SHMKIT_API int shmkit_table_release(shmkit_table *t, uint32_t idx);

/* Copies the owner record of IDX into *OWNER (if OWNER is non-NULL) and
 * says whether that owner lives.
 * Returns:
 *   1                  owned by a live process (or being claimed right now)
 *   0                  no owner: never claimed, or released
 *   SHMKIT_EPEERDEAD   the owner died without releasing it (also a pid
 *                      reused by another process, or a hostile value):
 *                      *OWNER names it; shmkit_table_claim takes it over
 *   -ERANGE            IDX >= count
 *   -EINVAL            T NULL */
SHMKIT_API int shmkit_table_owner(const shmkit_table *t, uint32_t idx, struct shmkit_owner *owner);

/* Writes LEN bytes from SRC at the start of record IDX as one update that
 * readers see whole or not at all (bytes after LEN keep their value). Never
 * waits for readers. Only the owner may write.
 * Returns:
 *   0                  written
 *   -EPERM             the caller is not the record's owner (claim first)
 *   -ERANGE            IDX >= count
 *   SHMKIT_EBADSIZE    LEN > record size
 *   -EBADF             read-only handle
 *   -EINVAL            T NULL, or SRC NULL with LEN > 0
 *   SHMKIT_EPROTO      another live process is in the middle of a write
 *                      of this record (two writers: a caller bug) */
SHMKIT_API int shmkit_table_write(shmkit_table *t, uint32_t idx, const void *src, size_t len);

/* Copies the first LEN bytes of record IDX into DST as one consistent
 * snapshot. If VERSION is non-NULL it receives the record's version: it
 * changes with every write (twice the number of writes so far), so a reader
 * can skip a record that did not change. Retries while the owner writes;
 * does not block the writer.
 * Returns:
 *   0                  DST holds a consistent snapshot
 *   SHMKIT_EPEERDEAD   the writer died in the middle of a write: DST holds
 *                      an unspecified (possibly torn) copy; it stays so
 *                      until a new owner claims the record and writes it
 *   -EAGAIN            no consistent snapshot within ~50 ms (a writer
 *                      rewriting the record without pause, or a sequence
 *                      stuck odd by a live process); try again later
 *   -ERANGE            IDX >= count
 *   SHMKIT_EBADSIZE    LEN > record size
 *   -EINVAL            T NULL, or DST NULL with LEN > 0 */
SHMKIT_API int shmkit_table_read(const shmkit_table *t, uint32_t idx, void *dst, size_t len,
                                 uint64_t *version);

/* What `shmkit watch` shows about a table. */
struct shmkit_table_stats {
    uint32_t count;        /* records                                          */
    uint32_t rec_size;     /* bytes per record                                 */
    uint64_t type_id;      /* as given at create                               */
    uint64_t writes;       /* writes so far, all records (from the versions)   */
    uint64_t read_retries; /* snapshots that had to be retried, all readers    */
    uint32_t owned;        /* records with a live owner                        */
    uint32_t dead;         /* records whose owner died without releasing them  */
    uint32_t writing;      /* records with a write in progress right now       */
};

/* Fills *ST by scanning every record's slot header (no record is copied).
 * Returns 0 or -EINVAL (T or ST NULL). */
SHMKIT_API int shmkit_table_stats(const shmkit_table *t, struct shmkit_table_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* SHMKIT_TABLE_H */
