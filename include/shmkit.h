/*
 * shmkit.h - shared memory for C, done right.
 *
 * This is the one header a program includes. It reads top to bottom like a
 * manual: error convention, segments, the on-segment header; then (in the
 * section headers it includes at the end) synchronization, channels and
 * tables.
 *
 * CONVENTIONS
 *   - Every function that can fail returns an int: 0 (or a non-negative
 *     count) on success, a negative code on failure. Codes are either a
 *     negated errno value (-ENOENT, -EACCES, ...) or one of shmkit's own
 *     SHMKIT_E* codes, which live in a reserved range below
 *     SHMKIT_ERRNO_BASE and never collide with errno. errno itself is never
 *     used to pass errors. shmkit_strerror() describes any code.
 *   - Handles are opaque; the function that frees a handle accepts NULL.
 *   - Every field read from shared memory is treated as hostile input: it is
 *     copied once and bounds-checked before it is used.
 *   - Functions are safe to call from several threads on different handles;
 *     a single handle is not internally locked.
 *
 * Link with -lshmkit (pkg-config --libs shmkit).
 */
#ifndef SHMKIT_H
#define SHMKIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define SHMKIT_API __attribute__((visibility("default")))
#else
#define SHMKIT_API
#endif

#define SHMKIT_VERSION_MAJOR 0
#define SHMKIT_VERSION_MINOR 1
#define SHMKIT_VERSION_PATCH 0
#define SHMKIT_VERSION_STRING "0.1.0"

/* Returns SHMKIT_VERSION_STRING of the library actually linked. */
SHMKIT_API const char *shmkit_version(void);

/* ------------------------------------------------------------------------
 * ERRORS
 *
 * shmkit's own codes. The list macro is the single source of the codes,
 * their names (shmkit_errname) and their messages (shmkit_strerror).
 * ------------------------------------------------------------------------ */

#define SHMKIT_ERRNO_BASE 9000

#define SHMKIT_ERRORS(X)                                                                           \
    X(NOTSHMKIT, 1, "not a shmkit segment (bad magic)")                                            \
    X(VERSION, 2, "unsupported shmkit format version")                                             \
    X(BADHEADER, 3, "shmkit segment header is corrupted")                                          \
    X(TAMPERED, 4, "payload checksum mismatch: segment was modified after sealing")                \
    X(TRUNCATED, 5, "segment truncated: smaller than its header says, or empty")                   \
    X(BADNAME, 6, "invalid segment name")                                                          \
    X(BADKEY, 7, "invalid System V key")                                                           \
    X(PEERDEAD, 8, "peer process died")                                                            \
    X(OWNERDEAD, 9, "previous lock owner died; repair the state and mark it consistent")           \
    X(NOTRECOVERABLE, 10, "lock is unrecoverable: a previous owner died and it was never repaired") \
    X(LAYOUT, 11, "segment holds a different layout")                                              \
    X(TOOBIG, 12, "message larger than the channel can hold")                                      \
    X(CORRUPT, 13, "shared structure is corrupted")                                                \
    X(NOTSEALED, 14, "segment is not sealed")                                                      \
    X(BADSIZE, 15, "invalid size")                                                                 \
    X(PROTO, 16, "peer does not follow the protocol")

enum shmkit_error {
#define SHMKIT__ERRENUM(name, n, msg) SHMKIT_E##name = -(SHMKIT_ERRNO_BASE + (n)),
    SHMKIT_ERRORS(SHMKIT__ERRENUM)
#undef SHMKIT__ERRENUM
};

/* A message for any code this library returns (shmkit's own or -errno).
 * Never NULL; the string is static. Positive values are treated like their
 * negation, so shmkit_strerror(errno) works too. */
SHMKIT_API const char *shmkit_strerror(int code);

/* The symbolic name of a code: "SHMKIT_ETAMPERED", "ENOENT", ... Never NULL;
 * "UNKNOWN" for a code that is neither. */
SHMKIT_API const char *shmkit_errname(int code);

/* ------------------------------------------------------------------------
 * SEGMENTS
 *
 * One opaque handle for every kind of shared memory. A segment is opened
 * (and optionally created) from a struct shmkit_opts; its payload is then
 * a plain pointer. Closing (unmap/detach) and removing (unlink/IPC_RMID)
 * are separate verbs, as in the system APIs.
 *
 * Unless SHMKIT_RAW is given, the first SHMKIT_HEADER_SIZE bytes of the
 * mapping hold a shmkit header (see HEADER below) and the payload follows
 * it. shmkit_seg_data() always points at the payload.
 * ------------------------------------------------------------------------ */

typedef struct shmkit_seg shmkit_seg;

enum shmkit_kind {
    SHMKIT_POSIX = 1, /* shm_open + mmap; name like "/orders"                 */
    SHMKIT_SYSV = 2,  /* shmget + shmat; key, ftok(path, proj) or IPC_PRIVATE  */
    SHMKIT_ANON = 3,  /* mmap(MAP_SHARED|MAP_ANONYMOUS); shared across fork()  */
    SHMKIT_MEMFD = 4, /* Linux memfd_create; sealable, passed over unix socket */
    SHMKIT_FILE = 5   /* any regular file mapped with mmap                     */
};

enum shmkit_flags {
    SHMKIT_CREATE = 1u << 0,  /* create if missing (open-only without it)           */
    SHMKIT_EXCL = 1u << 1,    /* with CREATE: fail with -EEXIST if it exists        */
    SHMKIT_RDONLY = 1u << 2,  /* map read-only; writes fault with SIGSEGV           */
    SHMKIT_RAW = 1u << 3,     /* no shmkit header: the whole mapping is payload     */
    SHMKIT_PRIVATE = 1u << 4, /* FILE: MAP_PRIVATE copy-on-write (changes stay here) */
    SHMKIT_FOLLOW = 1u << 5,  /* FILE: follow a symlink (refused by default)        */
    SHMKIT_VERIFY = 1u << 6,  /* on open: recompute a sealed segment's checksum     */
    SHMKIT_NORESERVE = 1u << 7, /* do not reserve memory at create (sparse segment)  */
    SHMKIT_SHMID = 1u << 8     /* SYSV: attach the existing segment opts.shmid      */
};

/* Options for shmkit_open(). Zero-initialise, then set what you need:
 *     struct shmkit_opts o = { .kind = SHMKIT_POSIX, .name = "/orders",
 *                              .size = 4096, .flags = SHMKIT_CREATE };
 */
struct shmkit_opts {
    int kind;             /* enum shmkit_kind                                     */
    unsigned flags;       /* enum shmkit_flags, or-ed                             */
    const char *name;     /* POSIX: "/name"; FILE: a path; MEMFD: a debug name    */
    size_t size;          /* payload bytes wanted at create (not incl. header);   */
                          /* at open: 0 = whatever the segment holds              */
    mode_t mode;          /* permissions at create; 0 means 0600                  */
    uint32_t layout;      /* enum shmkit_layout recorded at create (0 = bytes)    */
    /* SYSV only: exactly one of key / ftok_path / sysv_private chooses the key */
    int32_t key;          /* an explicit key (not IPC_PRIVATE)                    */
    const char *ftok_path; /* key = ftok(ftok_path, ftok_proj)                    */
    int ftok_proj;        /* 1..255                                              */
    int sysv_private;     /* non-zero: key IPC_PRIVATE (always creates)           */
    int shmid;            /* with SHMKIT_SHMID: attach this id, no key needed     */
    /* MEMFD only: a descriptor received from another process (see
     * shmkit_memfd_recv); -1 or 0 to create a new one. */
    int fd;
};

/* Opens or creates a segment described by OPTS and maps it.
 * On success *OUT holds the handle and 0 is returned.
 * Errors:
 *   -EINVAL             OPTS or OUT is NULL, unknown kind, contradictory flags
 *   SHMKIT_EBADNAME     POSIX name without one leading '/', with another '/',
 *                       empty, or longer than NAME_MAX; FILE path empty
 *   SHMKIT_EBADKEY      SYSV with no key chosen, IPC_PRIVATE given as .key,
 *                       ftok_proj outside 1..255, or ftok() failed
 *   SHMKIT_EBADSIZE     create with size 0, or size overflowing the header
 *   -ENOENT             open-only of a missing segment
 *   -EEXIST             CREATE|EXCL of an existing segment
 *   -EACCES, -EPERM     permissions
 *   -ENOSPC, -ENOMEM    no room to reserve the memory at create
 *   -ELOOP              FILE path is a symlink and SHMKIT_FOLLOW not given
 *   -ENOSYS             MEMFD on a system without memfd_create
 *   SHMKIT_ENOTSHMKIT, SHMKIT_EVERSION, SHMKIT_EBADHEADER, SHMKIT_ETRUNCATED
 *                       opened segment does not carry a valid header
 *   SHMKIT_ETAMPERED    SHMKIT_VERIFY and the sealed payload changed
 *   SHMKIT_ELAYOUT      opts->layout non-zero and the segment holds another
 *   any other -errno from the underlying system calls
 * Nothing is left behind on failure: a segment this call created is removed.
 */
SHMKIT_API int shmkit_open(shmkit_seg **out, const struct shmkit_opts *opts);

/* Unmaps/detaches and frees the handle. The segment itself stays (see
 * shmkit_seg_remove). Accepts NULL. Returns 0 or -errno from munmap/shmdt. */
SHMKIT_API int shmkit_close(shmkit_seg *seg);

/* Removes the segment's name (shm_unlink, IPC_RMID, unlink for FILE) so no
 * one new can open it; existing mappings stay valid until closed. ANON and
 * MEMFD segments have no name: 0 is returned. Returns 0, -ENOENT if already
 * removed, or another -errno. The handle stays usable and must still be
 * closed. */
SHMKIT_API int shmkit_seg_remove(shmkit_seg *seg);

/* Removes a POSIX segment by name without opening it.
 * Errors: SHMKIT_EBADNAME, -ENOENT, -EACCES. */
SHMKIT_API int shmkit_posix_remove(const char *name);

/* Removes a System V segment by shmid (IPC_RMID). Errors: -EINVAL (no such
 * id), -EPERM, -EIDRM. */
SHMKIT_API int shmkit_sysv_remove(int shmid);

/* Payload address and size (bytes after the header; the whole mapping for
 * RAW segments). Never fail for a valid handle; NULL/0 for NULL. */
SHMKIT_API void *shmkit_seg_data(const shmkit_seg *seg);
SHMKIT_API size_t shmkit_seg_size(const shmkit_seg *seg);

/* The backing descriptor (POSIX, MEMFD, FILE), or -1 (SYSV, ANON). The
 * handle keeps ownership. */
SHMKIT_API int shmkit_seg_fd(const shmkit_seg *seg);

/* Everything the system and the header know about a segment. Fields the
 * kind cannot know are 0 (or -1 for ids). */
struct shmkit_info {
    int kind;              /* enum shmkit_kind                                  */
    char name[256];        /* POSIX name, FILE path, MEMFD name; "" otherwise   */
    int32_t key;           /* SYSV key (0 = IPC_PRIVATE)                        */
    int shmid;             /* SYSV id, -1 otherwise                             */
    uint64_t size;         /* bytes mapped (header + payload)                   */
    uint64_t payload_size; /* bytes usable through shmkit_seg_data()            */
    uint32_t mode;         /* permission bits                                   */
    uint32_t uid, gid;     /* owner                                             */
    int32_t cpid, lpid;    /* SYSV creator / last shmat-shmdt pid; 0 otherwise  */
    int64_t nattch;        /* SYSV attach count; -1 when unknown                */
    int64_t atime, dtime, ctime, mtime; /* seconds since the epoch, 0 unknown  */
    /* from the shmkit header (has_header == 0 for RAW/foreign segments) */
    int has_header;
    uint32_t layout;       /* enum shmkit_layout                                */
    uint32_t format;       /* format word                                       */
    int32_t creator_pid;
    uint32_t creator_uid;
    uint64_t creator_start; /* creator's start time, clock ticks since boot    */
    int64_t created;       /* creation time, seconds since the epoch            */
    uint64_t generation;   /* bumped by each seal / layout re-initialisation    */
    int sealed;            /* a payload checksum is recorded                    */
    uint32_t seals;        /* MEMFD: F_GET_SEALS bits; 0 otherwise              */
};

/* Fills *INFO for SEG. Returns 0 or -errno (from fstat/shmctl). */
SHMKIT_API int shmkit_seg_stat(const shmkit_seg *seg, struct shmkit_info *info);

/* System V only: IPC_SET the mode and/or owner. Pass (uid_t)-1 / (gid_t)-1
 * to keep the owner, mode (mode_t)-1 to keep the mode. Errors: -EINVAL
 * (not SYSV), -EPERM. */
SHMKIT_API int shmkit_sysv_set(shmkit_seg *seg, mode_t mode, uid_t uid, gid_t gid);

/* ------------------------------------------------------------------------
 * HEADER AND SEALING
 *
 * A non-raw segment starts with a SHMKIT_HEADER_SIZE-byte header: magic,
 * format word (layout version + feature bits), header and payload size,
 * layout tag and its parameters, creator pid + start time + uid, creation
 * time, a generation counter, an optional payload checksum (the seal) and a
 * CRC-32C of the header itself. shmkit_open() validates all of it before it
 * trusts a single field. The checksums detect accidental or casual
 * modification (a `dd` into /dev/shm); they are not cryptographic.
 * ------------------------------------------------------------------------ */

#define SHMKIT_HEADER_SIZE 256
#define SHMKIT_MAGIC "SHMKIT\x00\x01"
#define SHMKIT_FORMAT_VERSION 1

enum shmkit_layout {
    SHMKIT_LAYOUT_BYTES = 0, /* plain bytes */
    SHMKIT_LAYOUT_RING = 1,
    SHMKIT_LAYOUT_BUS = 2,
    SHMKIT_LAYOUT_TABLE = 3
};

/* "bytes", "ring", "bus", "table", or "unknown". */
SHMKIT_API const char *shmkit_layout_name(uint32_t layout);

/* Records a checksum of the current payload in the header (and, for MEMFD,
 * adds F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK so the kernel refuses any
 * later write). Errors: -EINVAL (RAW segment), -EBADF (read-only),
 * -EBUSY (MEMFD still mapped writable elsewhere), -errno. */
SHMKIT_API int shmkit_seg_seal(shmkit_seg *seg);

/* Revalidates the header and, if sealed, recomputes the payload checksum.
 * Returns 0 when intact; SHMKIT_ETAMPERED, SHMKIT_EBADHEADER, ... when not;
 * SHMKIT_ENOTSEALED when the header is valid but no seal was recorded;
 * -EINVAL for RAW segments. */
SHMKIT_API int shmkit_seg_verify(const shmkit_seg *seg);

/* Validates a header image of LEN bytes (e.g. read from a file) against a
 * mapping of MAPPED bytes. Does not need a handle, never reads past LEN.
 * Returns 0 or SHMKIT_ENOTSHMKIT / EVERSION / EBADHEADER / ETRUNCATED. On
 * success, fills INFO's header fields if INFO is non-NULL. */
SHMKIT_API int shmkit_header_check(const void *buf, size_t len, uint64_t mapped,
                                   struct shmkit_info *info);

/* Layout parameters: four 64-bit words in the header that ring, bus and
 * table use to record their geometry. get copies them out; set writes them
 * and refreshes the header checksum. Errors: -EINVAL (RAW, index > 3). */
SHMKIT_API int shmkit_seg_layout_param(const shmkit_seg *seg, unsigned idx, uint64_t *val);
SHMKIT_API int shmkit_seg_set_layout(shmkit_seg *seg, uint32_t layout, const uint64_t param[4]);

/* CRC-32C (Castagnoli) of LEN bytes, continuing from CRC (start with 0). */
SHMKIT_API uint32_t shmkit_crc32c(uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------------
 * MEMFD DESCRIPTOR PASSING (Linux)
 * ------------------------------------------------------------------------ */

/* Sends SEG's descriptor over the connected unix socket SOCK (SCM_RIGHTS).
 * Errors: -EINVAL (not MEMFD/POSIX/FILE), -errno from sendmsg. */
SHMKIT_API int shmkit_fd_send(int sock, const shmkit_seg *seg);

/* Receives a descriptor sent by shmkit_fd_send and stores it in *FD (the
 * caller owns it: pass it as opts.fd to shmkit_open with kind MEMFD, which
 * takes ownership). Errors: -EBADMSG (no descriptor in the message),
 * -ECONNRESET (peer closed), -errno. */
SHMKIT_API int shmkit_fd_recv(int sock, int *fd);

/* ------------------------------------------------------------------------
 * PARSING HELPERS (shared by the CLI; exposed because users want them too)
 * ------------------------------------------------------------------------ */

/* Checks a POSIX shared memory name. Returns 0 or SHMKIT_EBADNAME. */
SHMKIT_API int shmkit_name_check(const char *name);

/* Parses "4096", "4K", "1.5M", "2GiB", "64kB" (powers of 1024) into *OUT.
 * Errors: SHMKIT_EBADSIZE (empty, negative, unknown suffix, trailing junk),
 * -ERANGE (overflows 64 bits). */
SHMKIT_API int shmkit_parse_size(const char *s, uint64_t *out);

/* Parses a System V key: decimal or 0x hex, fits in 32 bits (negative
 * decimal allowed down to INT32_MIN). Errors: SHMKIT_EBADKEY. */
SHMKIT_API int shmkit_parse_key(const char *s, int32_t *out);

#ifdef __cplusplus
}
#endif

#include "shmkit/sync.h"
#include "shmkit/channel.h"
#include "shmkit/table.h"

#endif /* SHMKIT_H */
