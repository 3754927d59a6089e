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

#include <errno.h> /* the -E* codes the functions return */
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
    X(PROTO, 16, "peer does not follow the protocol")                                             \
    X(CLOSED, 17, "peer closed the channel (end of stream)")                                       \
    X(GEOMETRY, 18, "exists with a different geometry")

enum shmkit_error {
#define SHMKIT__ERRENUM(name, n, msg) SHMKIT_E##name = -(SHMKIT_ERRNO_BASE + (n)),
    SHMKIT_ERRORS(SHMKIT__ERRENUM)
#undef SHMKIT__ERRENUM
};

/* Roles for the one-call constructors shmkit_ring_join, shmkit_bus_join,
 * shmkit_sub_join and shmkit_table_join (shmkit/channel.h, shmkit/table.h):
 * what the handle they return may do. */
enum shmkit_role {
    SHMKIT_ROLE_NONE = 0,      /* set up (create or check) only: no role taken  */
    SHMKIT_ROLE_PRODUCER = 1,  /* ring  */
    SHMKIT_ROLE_CONSUMER = 2,  /* ring  */
    SHMKIT_ROLE_PUBLISHER = 3, /* bus   */
    SHMKIT_ROLE_SUBSCRIBER = 4, /* bus  */
    SHMKIT_ROLE_WRITER = 5,    /* table */
    SHMKIT_ROLE_READER = 6     /* table */
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
    SHMKIT_SHMID = 1u << 8,    /* SYSV: attach the existing segment opts.shmid      */
    SHMKIT_ANY_OWNER = 1u << 9, /* with CREATE: also open an existing segment that  */
                               /* another user owns (see OWNERSHIP below)           */
    SHMKIT_ALLOW_UNSEALED = 1u << 10, /* MEMFD: accept a channel or table that is not */
                               /* sealed against shrinking (see CAVEATS)             */
    SHMKIT_PERSIST = 1u << 11, /* with CREATE: the segment is meant to outlive its  */
                               /* creator; plain `shmkit gc` never removes it. A    */
                               /* header flag (info.persistent), set only by the    */
                               /* call that creates; attaching never changes it     */
    SHMKIT_REQUIRE_SEAL = 1u << 12 /* on open: like VERIFY, and an unsealed segment */
                               /* is refused with SHMKIT_ENOTSEALED (an existing    */
                               /* one; a segment this call creates is not checked)  */
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
                          /* at open: 0 = whatever the segment holds, else the   */
                          /* least payload the caller needs (SHMKIT_EBADSIZE)     */
    mode_t mode;          /* permission bits (0777 at most) at create; 0 = 0600;  */
                          /* applied exactly, whatever the umask                  */
    uint32_t layout;      /* enum shmkit_layout recorded at create (0 = bytes)    */
    /* SYSV only: exactly one of key / ftok_path / sysv_private chooses the key */
    int32_t key;          /* an explicit key (not IPC_PRIVATE)                    */
    const char *ftok_path; /* key = ftok(ftok_path, ftok_proj)                    */
    int ftok_proj;        /* 1..255                                              */
    int sysv_private;     /* non-zero: key IPC_PRIVATE (always creates)           */
    int shmid;            /* with SHMKIT_SHMID: attach this id, no key needed     */
    /* MEMFD only. Without SHMKIT_CREATE: a descriptor received from
     * another process (see shmkit_fd_recv), any value >= 0 - descriptor 0
     * included, so a zero-initialised opts names descriptor 0; negative:
     * -EINVAL. With SHMKIT_CREATE: 0 or negative (nothing handed in);
     * positive: -EINVAL. shmkit_open takes ownership of every descriptor
     * it is handed this way (without CREATE: >= 0; with CREATE: > 0): it
     * is closed on failure, and by shmkit_close otherwise. With
     * SHMKIT_RDONLY it is reopened read-only (through /proc) so that the
     * sender can still seal it. Other kinds ignore fd. */
    int fd;
    /* One-time initialisation (see INITIALISATION below). With
     * SHMKIT_CREATE and a header (not RAW, not PRIVATE): INIT runs on a
     * segment this call creates, with INIT_ARG, before any other process can
     * use it; a negative return fails the open with that code and removes
     * the segment. NULL: none. Each member sits in 8 bytes whatever the
     * pointer size, so the struct keeps its size. */
    union {
        int (*init)(shmkit_seg *seg, void *arg);
        uint64_t init_slot_;
    };
    union {
        void *init_arg;
        uint64_t init_arg_slot_;
    };
    /* Opening a segment whose creator is still in its initialiser (System
     * V, and POSIX/FILE without O_TMPFILE) waits up to this long:
     * 0 = 10000 ms. Then -ETIMEDOUT. */
    uint32_t init_wait_ms;
    uint32_t pad0_; /* zero */
    /* Room for options later versions add: must be zero (zero-initialise
     * the struct), else -EINVAL - so that a library older than the program
     * refuses a request it cannot honour instead of ignoring part of it. */
    uint64_t reserved[5];
};

/* Whether SEG was created by the shmkit_open that returned it (1) or was
 * an existing segment it attached to (0); -EINVAL for NULL. */
SHMKIT_API int shmkit_seg_created(const shmkit_seg *seg);

/* Opens or creates a segment described by OPTS and maps it.
 * On success *OUT holds the handle and 0 is returned; on failure *OUT is
 * NULL (when OUT is not).
 *
 * Creating reserves the memory (posix_fallocate for POSIX, MEMFD and FILE,
 * MADV_POPULATE_WRITE for SYSV and ANON) unless SHMKIT_NORESERVE, so a full
 * tmpfs fails here with -ENOSPC instead of with SIGBUS at first touch.
 * On Linux a POSIX or FILE segment is made whole before it has a name:
 * created unnamed (O_TMPFILE in /dev/shm, which must be a tmpfs, or in the
 * file's directory), given its mode, sized, reserved, its header written,
 * then linked to its name (linkat through /proc/self/fd). The link is the
 * exclusive create: an existing name or symlink gives -EEXIST with
 * SHMKIT_EXCL, and plain SHMKIT_CREATE opens the existing segment instead
 * if it is the caller's own (OWNERSHIP below).
 * A creator killed at any moment leaves no name at all or a complete
 * segment whose header names its dead creator, which `shmkit gc` removes
 * (a RAW one: sized and reserved). Where that cannot be done (no O_TMPFILE
 * on the kernel or file system, no /proc, or the testing knob
 * SHMKIT_NO_TMPFILE set), and for SYSV, ANON and MEMFD, the segment is
 * made under its name, its header written first and the rest reserved
 * after it (RAW: before anything): a POSIX or FILE creator killed between
 * making it and writing the header leaves a header-less segment that gc
 * cannot tell from a foreign one; one killed while reserving leaves one gc
 * removes. A process that opens such a segment meanwhile may see it before
 * its memory is reserved, and if reserving fails the creator removes it
 * again. Both ways give the same results and errors.
 * Opening an existing segment that is empty or has no magic yet waits for
 * its creator: ~50-100 ms, and up to ~10 s while the creator is visibly
 * still reserving the memory of a RAW segment (POSIX, FILE, MEMFD: its
 * allocated blocks grow; SYSV: a live other process made it less than 10 s
 * ago).
 *
 * PATHS SOMEONE ELSE MADE. An existing object is opened O_NONBLOCK (so a
 * FIFO without a writer cannot hang the open; cleared afterwards) and
 * O_NOFOLLOW (FILE: unless SHMKIT_FOLLOW), and the opened descriptor must
 * be a regular file. Nothing is ever created at a symlink's target. A MEMFD
 * descriptor in opts.fd must be a regular file too.
 *
 * OWNERSHIP. SHMKIT_CREATE without SHMKIT_EXCL opens an existing segment
 * only when it is the caller's own: POSIX and FILE: owned by the caller's
 * effective uid and no other name (link count 1); SYSV: owner and creator
 * (shm_perm.uid and .cuid) both the caller's effective uid. Otherwise
 * -EPERM, and the segment is left alone - for root too, since root adopting
 * a name an unprivileged user planted is exactly the attack. Pass
 * SHMKIT_ANY_OWNER for segments several users share on purpose. A plain
 * open (no CREATE) is unchanged: permissions decide. The existing object
 * is never opened with O_CREAT (the kernel's protected_regular stays in
 * force in sticky directories).
 *
 * Errors:
 *   -EINVAL             OPTS or OUT is NULL; unknown kind, flag or layout;
 *                       contradictory flags (EXCL without CREATE, CREATE with
 *                       RDONLY or SHMID, PRIVATE/FOLLOW on a kind other than
 *                       FILE, SHMID on a kind other than SYSV, RAW with a
 *                       layout or VERIFY, ANY_OWNER without CREATE,
 *                       ALLOW_UNSEALED on a kind other than MEMFD, PERSIST
 *                       without CREATE, RAW with PERSIST or REQUIRE_SEAL,
 *                       init without CREATE or with RAW or PRIVATE,
 *                       a non-zero pad0_); mode with
 *                       bits beyond 0777; ANON without CREATE; MEMFD with
 *                       CREATE and a positive opts.fd, or without CREATE and
 *                       a negative one; a non-zero opts.reserved; SYSV SHMID of
 *                       no segment; an existing object (or MEMFD descriptor)
 *                       that is not a regular file (FIFO, pipe, directory,
 *                       device; POSIX: a directory also read-write)
 *   SHMKIT_EBADNAME     POSIX name NULL, without exactly one leading '/',
 *                       "/", "/.", "/..", or longer than NAME_MAX after the
 *                       slash; FILE path NULL or empty
 *   SHMKIT_EBADKEY      SYSV with no key chosen or more than one (key,
 *                       ftok_path, sysv_private, SHMID), IPC_PRIVATE without
 *                       CREATE, ftok_proj outside 1..255, or ftok() failed
 *   SHMKIT_EBADSIZE     create with size 0, or a size that with the header
 *                       overflows or exceeds INT64_MAX; SYSV size outside
 *                       SHMMIN..SHMMAX; opts.size larger than the payload of
 *                       the existing segment that was opened
 *   -ENOENT             open-only of a missing segment; ftok_path missing
 *   -EEXIST             CREATE|EXCL of an existing segment (or symlink)
 *   -EACCES, -EPERM     permissions
 *   -EPERM              CREATE without EXCL found a segment that is not the
 *                       caller's own (OWNERSHIP) and no SHMKIT_ANY_OWNER
 *   -ENXIO              the name is a socket
 *   -EAGAIN             POSIX, FILE: a file lease on the existing object was
 *                       not released within ~100 ms (`shmkit gc` holds one
 *                       for a few system calls while it checks that nothing
 *                       uses a segment; the open waits that out)
 *   -ENOSPC             no room to reserve the memory at create (the file
 *                       system's free space is checked first, then
 *                       posix_fallocate)
 *   -ENOMEM             ANON, SYSV, MEMFD: more than RAM + swap, or the
 *                       kernel could not provide the pages
 *   -ELOOP              POSIX name or FILE path is a symlink (FILE: and
 *                       SHMKIT_FOLLOW not given)
 *   -EISDIR             FILE path is a directory (read-write)
 *   -ENAMETOOLONG, -EFBIG  path or size beyond what the file system takes
 *   -ENOSYS             MEMFD on a system without memfd_create
 *   SHMKIT_ENOTSHMKIT, SHMKIT_EVERSION, SHMKIT_EBADHEADER, SHMKIT_ETRUNCATED
 *                       opened segment does not carry a valid header, or is
 *                       empty / smaller than its header says
 *   SHMKIT_ETAMPERED    SHMKIT_VERIFY or SHMKIT_REQUIRE_SEAL and the sealed
 *                       payload changed
 *   -ETIMEDOUT          the segment's creator was still in its initialiser
 *                       after opts.init_wait_ms (see INITIALISATION)
 *   SHMKIT_EPEERDEAD    its creator died inside its initialiser
 *   opts.init's code    the initialiser failed (the segment is removed)
 *   SHMKIT_ENOTSEALED   SHMKIT_REQUIRE_SEAL and the existing segment records
 *                       no seal (its writer never sealed it, or died first)
 *   SHMKIT_ELAYOUT      opts->layout non-zero and the segment holds another
 *   SHMKIT_ENOTSEALED   MEMFD descriptor holding a ring, bus or table that is
 *                       not sealed against shrinking, without
 *                       SHMKIT_ALLOW_UNSEALED (see CAVEATS)
 *   any other -errno from the underlying system calls
 * Nothing is left behind on failure: a segment this call created is
 * removed; one that existed before is never removed.
 *
 * INITIALISATION. Two unrelated programs sharing a named segment need it
 * set up once (a robust mutex initialised, a table laid out) before either
 * uses it, whichever starts first. Give opts.init: it runs on a segment
 * this call creates, before any other process can open it, and its
 * negative return fails the open with that code, the segment removed.
 * POSIX and FILE (O_TMPFILE): it runs on the unnamed object, before the
 * linkat that names it; a creator killed inside it leaves no name. Since
 * several callers may each make an unnamed object at once and only one
 * link wins, the initialiser may run in more than one process (on objects
 * that are then thrown away): let it touch nothing but the segment.
 * SYSV, and POSIX/FILE without O_TMPFILE: the header is published with an
 * "initialising" flag that the creator clears once the initialiser
 * returns; shmkit_open of such a segment (with or without CREATE and init)
 * waits for it, up to opts.init_wait_ms (0: 10 s), then -ETIMEDOUT, or
 * SHMKIT_EPEERDEAD at once when the creator is seen dead - that segment
 * stays until `shmkit gc` (or shmkit_seg_remove) removes it, since its
 * creator is dead. Whatever the initialiser wrote is visible to every
 * process once shmkit_open returns. shmkit_seg_created tells the caller
 * whether it created (and initialised) the segment or attached to it.
 * init needs SHMKIT_CREATE and a header (not RAW, not PRIVATE): else
 * -EINVAL. Example, a robust mutex in a named segment:
 *
 *     struct shared { struct shmkit_mutex lock; long counter; };
 *
 *     static int setup(shmkit_seg *seg, void *arg)
 *     {
 *         struct shared *sh = shmkit_seg_data(seg);
 *         (void)arg;
 *         return shmkit_mutex_init(&sh->lock); // counter is already 0
 *     }
 *
 *     struct shmkit_opts o = { .kind = SHMKIT_POSIX, .name = "/counter",
 *                              .size = sizeof(struct shared),
 *                              .flags = SHMKIT_CREATE, .init = setup };
 *     shmkit_seg *seg;
 *     int rc = shmkit_open(&seg, &o);  // every program runs the same code
 *     if (rc < 0)
 *         return rc;
 *     struct shared *sh = shmkit_seg_data(seg);
 *     rc = shmkit_mutex_lock(&sh->lock);  // never -EINVAL: initialised
 *     if (rc == SHMKIT_EOWNERDEAD) {      // a holder died: repair, then
 *         shmkit_mutex_consistent(&sh->lock);
 *         rc = 0;
 *     }
 *     if (rc == 0) {
 *         sh->counter++;
 *         shmkit_mutex_unlock(&sh->lock);
 *     }
 *     shmkit_close(seg);
 *
 * SYSTEM V SIZES. The kernel rounds a System V segment up to whole pages,
 * and the header comes on top of opts.size: a 4096-byte payload makes a
 * 4352-byte segment (two pages of memory). SHMKIT_PAYLOAD_FOR_PAGES(n, page)
 * is the payload that fills N pages of PAGE bytes exactly:
 * n * page - SHMKIT_HEADER_SIZE (3840 for one 4096-byte page).
 */
SHMKIT_API int shmkit_open(shmkit_seg **out, const struct shmkit_opts *opts);

/* Unmaps/detaches and frees the handle. The segment itself stays (see
 * shmkit_seg_remove). Accepts NULL. Returns 0 or -errno from munmap/shmdt. */
SHMKIT_API int shmkit_close(shmkit_seg *seg);

/* Removes the segment's name (shm_unlink, IPC_RMID, unlink for FILE, by
 * the name or path exactly as given at open) so no one new can open it;
 * existing mappings stay valid until closed. ANON and MEMFD segments have
 * no name: 0 is returned. Returns 0, -EINVAL (SEG NULL), -ENOENT if already
 * removed (POSIX, FILE; removing a System V segment twice while still
 * attached returns 0 again, once destroyed -EINVAL), -EACCES/-EPERM, or
 * another -errno. The handle stays usable and must
 * still be closed. */
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
    char name[4096];       /* POSIX name, FILE path, MEMFD name; "" otherwise;  */
                           /* PATH_MAX bytes: whatever an open accepted fits   */
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
    int persistent;        /* created with SHMKIT_PERSIST: gc leaves it alone   */
    uint32_t initialising; /* its creator's opts.init has not returned yet     */
    uint64_t reserved[7];  /* zero; room for fields later versions report      */
};

/* Fills *INFO for SEG. INFO->name holds the whole name or path the handle
 * was opened with (a POSIX name is at most "/" + NAME_MAX bytes, a path
 * that open(2) took is shorter than PATH_MAX). The header fields are filled only if the header is valid now
 * (has_header 0 otherwise: shmkit_seg_verify says why). Returns 0, -EINVAL
 * (SEG or INFO NULL) or -errno (from fstat/shmctl, e.g. -EINVAL or -EIDRM
 * for a System V segment removed and destroyed meanwhile). */
SHMKIT_API int shmkit_seg_stat(const shmkit_seg *seg, struct shmkit_info *info);

/* System V only: IPC_SET the mode and/or owner. Pass (uid_t)-1 / (gid_t)-1
 * to keep the owner, mode (mode_t)-1 to keep the mode. Errors: -EINVAL
 * (SEG NULL or not SYSV, or the segment is gone), -EPERM (not the owner or
 * creator), -EACCES (IPC_STAT refused), -EIDRM. */
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
/* The payload size whose segment (header included) fills N pages of PAGE
 * bytes (sysconf(_SC_PAGESIZE)) exactly: give it as opts.size. N >= 1. */
#define SHMKIT_PAYLOAD_FOR_PAGES(n, page) ((size_t)(n) * (size_t)(page) - SHMKIT_HEADER_SIZE)
#define SHMKIT_MAGIC "SHMKIT\x00\x01"
#define SHMKIT_FORMAT_VERSION 1

enum shmkit_layout {
    SHMKIT_LAYOUT_BYTES = 0, /* plain bytes */
    SHMKIT_LAYOUT_RING = 1,
    SHMKIT_LAYOUT_BUS = 2,
    SHMKIT_LAYOUT_TABLE = 3,
    SHMKIT_LAYOUT_RPC = 4 /* a request/response endpoint (shmkit/rpc.h) */
};

/* "bytes", "ring", "bus", "table", "rpc", or "unknown". */
SHMKIT_API const char *shmkit_layout_name(uint32_t layout);

/* Records a checksum of the current payload in the header and bumps the
 * generation (and, for MEMFD, adds F_SEAL_WRITE|F_SEAL_GROW|F_SEAL_SHRINK|
 * F_SEAL_SEAL and remaps read-only, so the kernel refuses any later write:
 * write(2) gives EPERM, a store through the mapping SIGSEGV). Sealing a
 * FILE opened MAP_PRIVATE records the seal in this process's copy only.
 * Errors: -EINVAL (SEG NULL or RAW), -EBADF (read-only handle, or a MEMFD
 * handle left without a mapping by a failed remap), -EBUSY (MEMFD mapped
 * writable by another process or an inherited mapping: the header is left
 * unsealed and the mapping writable), SHMKIT_ETRUNCATED / EBADHEADER / ...
 * (the header is no longer valid, see shmkit_seg_verify), -errno. */
SHMKIT_API int shmkit_seg_seal(shmkit_seg *seg);

/* Revalidates the header and, if sealed, recomputes the payload checksum.
 * Safe after the backing object was truncated (the size is checked before
 * any page is read, so no SIGBUS). The checksum (here, in seal and in
 * SHMKIT_VERIFY) never allocates the holes of a sparse segment: POSIX, MEMFD
 * and shared FILE are read with pread over the SEEK_DATA/SEEK_HOLE extents,
 * holes counted as zeros in O(log n) (truncated while read:
 * SHMKIT_ETRUNCATED); SYSV page by page where mincore says the page exists,
 * while /proc/sysvipc/shm shows none swapped out. Otherwise (SYSV with
 * swapped pages, ANON, a private FILE) it reads through the mapping, which
 * allocates the holes it reads.
 * Returns 0 when intact; when not: SHMKIT_ETAMPERED (payload changed since
 * the seal), SHMKIT_ETRUNCATED (backing object shrank below the mapping),
 * SHMKIT_ENOTSHMKIT / EVERSION / EBADHEADER (header damaged; EBADHEADER also
 * when its payload size changed since this handle was opened);
 * SHMKIT_ENOTSEALED when the header is valid but no seal was recorded (or a
 * MEMFD holding a ring, bus or table lacks F_SEAL_SHRINK, see CAVEATS);
 * -EINVAL for NULL or RAW; -EBADF for a handle without a mapping. */
SHMKIT_API int shmkit_seg_verify(const shmkit_seg *seg);

/* Validates a header image of LEN bytes (e.g. read from a file) against a
 * mapping of MAPPED bytes. Does not need a handle, never reads past LEN.
 * Returns 0, -EINVAL (BUF NULL), SHMKIT_ENOTSHMKIT (at least 8 bytes and
 * not our magic), SHMKIT_EVERSION (another format version, or a feature
 * bit this library does not know in a header whose CRC holds: a newer
 * format), SHMKIT_EBADHEADER, or SHMKIT_ETRUNCATED
 * (our magic but fewer than SHMKIT_HEADER_SIZE bytes of image or mapping,
 * or a payload size the mapping cannot hold). On success, fills INFO's
 * header fields (has_header ... sealed, payload_size) if INFO is non-NULL. */
SHMKIT_API int shmkit_header_check(const void *buf, size_t len, uint64_t mapped,
                                   struct shmkit_info *info);

/* Layout parameters: four 64-bit words in the header that ring, bus and
 * table use to record their geometry. get copies one out; set records the
 * layout, the four words (PARAM NULL keeps them), bumps the generation and
 * refreshes the header checksum (a seal stays valid: the payload is not
 * touched). Setting a ring, bus or table layout on a MEMFD seals it against
 * shrinking first (F_SEAL_SHRINK, see CAVEATS). Errors: -EINVAL (NULL, RAW,
 * IDX > 3, unknown layout), -EBADF (set on a read-only handle),
 * SHMKIT_ENOTSEALED (MEMFD that holds, or is to hold, a ring, bus or table
 * and is not and cannot be sealed against shrinking, without
 * SHMKIT_ALLOW_UNSEALED), and the header errors of shmkit_seg_verify. */
SHMKIT_API int shmkit_seg_layout_param(const shmkit_seg *seg, unsigned idx, uint64_t *val);
SHMKIT_API int shmkit_seg_set_layout(shmkit_seg *seg, uint32_t layout, const uint64_t param[4]);

/* CRC-32C (Castagnoli) of LEN bytes, continuing from CRC (start with 0). */
SHMKIT_API uint32_t shmkit_crc32c(uint32_t crc, const void *buf, size_t len);

/* ------------------------------------------------------------------------
 * CAVEATS
 *
 * Truncation. Anyone who may write a POSIX, FILE or MEMFD segment's object
 * can truncate it (ftruncate); every process that then touches a page past
 * the new end dies of SIGBUS - a consumer blocked in a ring or bus too.
 * Only shmkit_seg_verify, shmkit_seg_stat and the layout calls check the
 * size first. MEMFD: the library seals every MEMFD segment that holds a
 * ring, bus or table against shrinking (F_SEAL_SHRINK), at create with
 * that layout or when ring/bus/table creation records it; a received
 * descriptor holding one that lacks the seal is refused with
 * SHMKIT_ENOTSEALED unless the receiver passes SHMKIT_ALLOW_UNSEALED
 * (accepting that the sender can kill it). POSIX and FILE: give the
 * segment a mode that admits only trusted writers (0600, or a trusted
 * group). SYSV and ANON segments cannot shrink.
 *
 * Sparse segments. Reading the holes of a SHMKIT_NORESERVE segment through
 * the mapping allocates them (in a small /dev/shm: ENOSPC for others, then
 * SIGBUS). The library's own reads (seal, verify) avoid that except for
 * ANON, private FILE mappings and SYSV segments with swapped-out pages;
 * programs that scan a payload should do the same.
 *
 * Liveness. Whether a lock holder, a channel peer or a segment's creator
 * lives is read from /proc/PID/stat (pid + start time). A process that
 * /proc hides from the caller (hidepid=) counts as alive as long as
 * kill(pid, 0) finds its pid; a peer in another pid namespace is not seen
 * at all and looks dead: share channels and locks only within one pid
 * namespace.
 *
 * Robust mutexes. The process-shared mutexes are robust: they need glibc
 * 2.12 or later (or another libc with pthread_mutexattr_setrobust) on a
 * kernel with robust futex lists (Linux 2.6.17 and later). shmkit works
 * around a glibc bug (seen in 2.36): pthread_mutex_trylock on an
 * unrecoverable robust mutex leaves the caller's thread id in the lock
 * word, and every later call fails with EDEADLK; a try is a timed lock
 * with a deadline already past instead (src/mutex.c). A mutex's magic
 * records the pthread ABI it was made with (C library, word size, size of
 * pthread_mutex_t): another ABI's process gets SHMKIT_EVERSION instead of
 * sharing it silently.
 *
 * Growth of the public structures. struct shmkit_opts and struct
 * shmkit_info end with reserved fields: opts.reserved must be zero (else
 * -EINVAL, so an older library refuses what it cannot honour),
 * info.reserved is returned zero.
 * ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------
 * MEMFD DESCRIPTOR PASSING (Linux)
 * ------------------------------------------------------------------------ */

/* Sends SEG's descriptor over the connected unix socket SOCK (SCM_RIGHTS)
 * with one byte of data. Errors: -EINVAL (SEG NULL, or a kind without a
 * descriptor: SYSV, ANON), -errno from sendmsg (-EPIPE: peer gone; no
 * SIGPIPE is raised). */
SHMKIT_API int shmkit_fd_send(int sock, const shmkit_seg *seg);

/* Receives a descriptor sent by shmkit_fd_send and stores it in *FD (the
 * caller owns it: pass it as opts.fd to shmkit_open with kind MEMFD, which
 * takes ownership, refuses anything but a regular file, and a ring, bus or
 * table not sealed against shrinking, see CAVEATS). It arrives
 * close-on-exec. *FD is -1 on failure.
 * Errors: -EINVAL (FD NULL), -EBADMSG (no descriptor in the message, or
 * more than one, or a truncated one: whatever arrived is closed),
 * -ECONNRESET (peer closed), -errno from recvmsg. */
SHMKIT_API int shmkit_fd_recv(int sock, int *fd);

/* ------------------------------------------------------------------------
 * PARSING HELPERS (shared by the CLI; exposed because users want them too)
 * ------------------------------------------------------------------------ */

/* Checks a POSIX shared memory name: "/" then 1..NAME_MAX (255) bytes
 * without another '/', and not "/." or "/..". Returns 0 or SHMKIT_EBADNAME
 * (also for NULL). */
SHMKIT_API int shmkit_name_check(const char *name);

/* Parses "4096", "4K", "1.5M", "2GiB", "64kB" into *OUT: DIGITS, optionally
 * "." DIGITS, then an optional suffix B, K/KB/KiB, M/MB/MiB, G/GB/GiB,
 * T/TB/TiB (any case; all powers of 1024). A fraction is rounded down to
 * whole bytes (exact up to 19 fraction digits; later ones are ignored).
 * Errors: -EINVAL (S or OUT NULL), SHMKIT_EBADSIZE (empty, sign, space,
 * unknown suffix, trailing junk, "1." or ".5", a fraction of a byte),
 * -ERANGE (the whole part or the result overflows 64 bits). */
SHMKIT_API int shmkit_parse_size(const char *s, uint64_t *out);

/* Parses a System V key: decimal INT32_MIN..INT32_MAX, or 0x/0X hex up to
 * 0xffffffff (stored as the int32 ipcs shows, e.g. 0xffffffff = -1). "0"
 * parses to 0, which shmkit_opts reads as "no key": use sysv_private for
 * IPC_PRIVATE. Errors: SHMKIT_EBADKEY (S or OUT NULL, empty, junk, out of
 * range). */
SHMKIT_API int shmkit_parse_key(const char *s, int32_t *out);

#ifdef __cplusplus
}
#endif

#include "shmkit/sync.h"
#include "shmkit/channel.h"
#include "shmkit/table.h"
#include "shmkit/rpc.h"

#endif /* SHMKIT_H */
