/*
 * stats_table.h - a bridge's live statistics as a shmkit table: the one
 * record layout that shmkit-bridge writes (stats.c) and the shmkit CLI
 * reads (tools/bridge_stats.c). No libzmq here: the CLI includes it.
 *
 * The bridge makes a table (layout "table", type id BRIDGE_STATS_TYPE) of
 * one record, named by --stats-name (default /shmkit-bridge-PID), claims
 * record 0 and rewrites it whole every 100 ms with shmkit_table_write: a
 * reader's shmkit_table_read gets a consistent snapshot, never half an
 * update, and shmkit_table_owner says whether the bridge still lives. The
 * bridge removes the table on a clean exit; after a kill -9 its header names
 * a dead creator and `shmkit gc` removes it.
 *
 * The record is self-describing (each counter carries its name) so that a
 * CLI of another version prints what a bridge counts. To a reader it is
 * hostile input: magic and version checked, NCTR and NLINKS bounded by the
 * arrays, every string cut at its last byte, counter names restricted to
 * [a-z0-9_] (bst_name_ok), else SHMKIT_ECORRUPT.
 */
#ifndef SHMKIT_BRIDGE_STATS_TABLE_H
#define SHMKIT_BRIDGE_STATS_TABLE_H

#include <stdint.h>

#define BRIDGE_STATS_TYPE 0x53484d4b42524731ull /* "SHMKBRG1": the table's type id */
#define BST_MAGIC "SHMKBRG1"
#define BST_VERSION 1u

#define BST_CTRS 64       /* counter slots                                   */
#define BST_NAME 24       /* a counter's name, NUL-padded                    */
#define BST_LINKS 32      /* links described (more are counted in NLINKS_ALL) */
#define BST_LINK_KIND 16  /* "bus-out", "bus-in", "ring-out", "ring-in", ... */
#define BST_LINK_NAME 96  /* the local channel, with its wire topic ("=/T")  */
#define BST_LINK_EP 128   /* the endpoint(s), cut to fit                     */

struct bst_link {
    char kind[BST_LINK_KIND];
    char name[BST_LINK_NAME];
    char endpoint[BST_LINK_EP];
};

struct bst_record {
    char magic[8];       /* BST_MAGIC (all zero: not written yet)             */
    uint32_t version;    /* BST_VERSION                                      */
    uint32_t nctr;       /* counters used, <= BST_CTRS                       */
    uint32_t nlinks;     /* links described, <= BST_LINKS                    */
    uint32_t nlinks_all; /* links the bridge carries (>= nlinks)             */
    int32_t pid;         /* the bridge's pid (liveness: the record's owner)  */
    uint32_t interval_ms; /* how often the record is rewritten               */
    uint64_t id;         /* the bridge's origin id                           */
    int64_t started;     /* unix time of the start, seconds                  */
    int64_t updated_ms;  /* unix time of this update, milliseconds           */
    uint64_t updates;    /* records written so far                           */
    char ctr_name[BST_CTRS][BST_NAME];
    uint64_t ctr[BST_CTRS];
    struct bst_link links[BST_LINKS];
};

/* A counter name a reader accepts: 1..BST_NAME-1 of [a-z0-9_], then NULs. */
static inline int bst_name_ok(const char *n)
{
    int i = 0;
    for (; i < BST_NAME && n[i]; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            return 0;
    return i > 0 && i < BST_NAME;
}

#endif
