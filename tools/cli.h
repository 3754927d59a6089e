/*
 * cli.h - what the files of the shmkit command-line tool share.
 *
 * main.c dispatches to one cmd_*() per command group; target.c parses the
 * segments a command names and open.c opens them (never blocking on what
 * another user controls); scan.c lists segments and what the system and
 * their headers say about them, with procscan.c's bounded /proc scan for
 * who uses them; output.c prints rows through the column table (table, raw
 * or JSON); util.c holds error reporting, option parsing and formatting
 * helpers.
 */
#ifndef SHMKIT_CLI_H
#define SHMKIT_CLI_H

#include <shmkit.h>

#include "../bridge/stats_table.h" /* a bridge's statistics table (no libzmq) */

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

/* Exit statuses, documented in man/shmkit.1. */
enum {
    EXIT_OKAY = 0,     /* done                                              */
    EXIT_USAGE = 1,    /* bad usage or input (incl. no such segment)        */
    EXIT_SYSTEM = 2,   /* a system call failed (permissions, no memory, ...) */
    EXIT_INTEGRITY = 3 /* a header or payload failed its check              */
};

/* ---- util.c: errors -------------------------------------------------- */

extern const char *cli_cmd; /* the command being run, for "try 'shmkit CMD --help'" */

/* "shmkit: WHAT: WHY" on stderr. */
void cli_err(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A usage mistake: the error line plus "try 'shmkit [CMD] --help'"; returns EXIT_USAGE. */
int cli_usage(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* What is at a segment's name (or behind /proc/PID/fd/N) is not a regular
 * file: a FIFO, socket, device, directory or symlink. Exit status 1. */
#define E_NOTSEG (-EMEDIUMTYPE)
/* open_target: the segment's creator is still in its initialiser after
 * cli_init_wait_ms (EXIT_SYSTEM), or died there (EXIT_INTEGRITY) */
#define E_INITIALISING (-EINPROGRESS)
#define E_INITDIED (-EOWNERDEAD)

/* Exit status for a shmkit/-errno code: input errors 1, integrity 3, others 2. */
int cli_status(int code);
/* Prints "shmkit: WHAT: <shmkit_strerror(code)>" and returns cli_status(code). */
int cli_fail(const char *what, int code);

/* ---- util.c: option parsing ------------------------------------------ */

/* Each returns 0 or prints a usage error and returns EXIT_USAGE. OPT is the
 * option's spelling for the message ("--size"). */
int opt_size(const char *opt, const char *arg, uint64_t *out);
int opt_offset(const char *opt, const char *arg, uint64_t *out); /* size syntax or 0x hex */
int opt_key(const char *opt, const char *arg, int32_t *out);
int opt_id(const char *opt, const char *arg, int *out);
int opt_mode(const char *opt, const char *arg, uint32_t *out);
int opt_interval(const char *opt, const char *arg, double *out);
/* "PATH:PROJ", PROJ 1..255 or one character. PATH points into ARG (modified). */
int opt_ftok(const char *opt, char *arg, const char **path, int *proj);
/* Reports getopt's '?' / ':' results as usage errors; returns EXIT_USAGE. */
int opt_bad(int c, char **argv);

/* ---- target.c: the segments a command names ------------------------ */

/* A segment named on the command line. */
enum target_type { T_NAME = 1, T_ID, T_KEY, T_MEMFD };
struct target {
    int type;
    const char *name; /* T_NAME: "/x" (checked) */
    int id;           /* T_ID */
    int32_t key;      /* T_KEY */
    int pid, fd;      /* T_MEMFD */
    char label[300];  /* how messages name it: "/x", "id 5", "key 0x..", "memfd 12:4" */
};
int target_name(struct target *t, const char *name);
void target_id(struct target *t, int id);
void target_key(struct target *t, int32_t key);
int target_memfd(struct target *t, const char *opt, const char *arg);
struct seg_row;
/* The target that reaches the segment of a scanned row (name, shmid, or
 * the memfd's PID:FD). */
void target_of_row(struct target *t, const struct seg_row *r);

/* The segments a command names: positional NAMEs plus --id/--key/--memfd. */
struct targets {
    struct target *v;
    int n, cap;
};
/* getopt's value for --ftok PATH:PROJ in every command that takes --key
 * (a System V key from ftok(3), named as "key 0x... (ftok PATH:PROJ)"). */
enum { OPT_FTOK = 0x1000 };
/* C is the option letter: 'i' (--id), 'k' (--key), 'm' (--memfd), or
 * OPT_FTOK (--ftok; ARG is cut in place). Returns 0 or the exit status
 * after printing the error. */
int targets_opt(struct targets *ts, int c, char *arg);
/* The getopt results every segment-naming command treats alike: 'i', 'k',
 * 'm' and OPT_FTOK add a target (targets_opt), anything else is getopt's complaint
 * (opt_bad). For the default case of a command's option switch. Returns 0
 * or the exit status after printing the error. */
int targets_getopt(struct targets *ts, int c, char **argv);
/* Adds argv[first..argc-1] as names. */
int targets_names(struct targets *ts, int argc, char **argv, int first);
void targets_free(struct targets *ts);
/* Adds argv[first..] as names, then requires at least one target (SOME)
 * or exactly one, copied to *T (ONE). Returns 0 or the exit status after
 * printing the error. */
int targets_some(struct targets *ts, int argc, char **argv, int first);
int targets_one(struct targets *ts, int argc, char **argv, int first, struct target *t);

/* ---- util.c: formatting ---------------------------------------------- */

/* "4K", "1.5M", "512"; buf of at least 16 bytes. */
const char *fmt_human(uint64_t bytes, char *buf, size_t len);
/* "rw-r-----" */
const char *fmt_perms(uint32_t mode, char *buf, size_t len);
/* user name or decimal uid, cached; the string lives until exit. */
const char *user_name(uint32_t uid);
/* short: "19:23" today, "Nov24" this year, "2023" before; iso: 2025-11-24T19:23:05+0000 */
const char *fmt_time_short(int64_t t, char *buf, size_t len);
const char *fmt_time_iso(int64_t t, char *buf, size_t len);
/* command name of a process (/proc/PID/comm), "?" when gone. */
const char *proc_comm(int pid, char *buf, size_t len);

/* ---- util.c: escaping ------------------------------------------------ */

/* The one escaping of every string that comes from outside (segment names,
 * memfd names, /proc/PID/comm, anything read from a segment) before it is
 * printed as text: control characters (C0, DEL, C1 also as UTF-8), the
 * bidirectional controls, bytes that are not valid UTF-8 and the backslash
 * become \xHH, byte by byte; valid UTF-8 passes. ESC_SPACE also escapes
 * spaces (raw output: one field per value), ESC_QUOTE double quotes. JSON
 * output uses json_str instead, which classifies with the same functions. */
enum { ESC_SPACE = 1, ESC_QUOTE = 2 };
void esc_put(FILE *f, const char *s, int flags);
size_t esc_len(const char *s, int flags);
/* Into BUF (LEN bytes); what does not fit is cut and marked "...". */
const char *esc_str(const char *s, int flags, char *buf, size_t len);
/* Length of the valid UTF-8 sequence at P and its code point; 0 if none. */
int utf8_seq(const unsigned char *p, uint32_t *cp);
/* Whether code point CP must never reach a terminal as it is. */
int cp_unsafe(uint32_t cp);

/* Room for element N of the array V (CAP elements of SIZE bytes): V itself
 * while N < *CAP, else V reallocated to twice *CAP (FIRST when empty) with
 * *CAP updated. NULL when out of memory; V and *CAP are then unchanged. */
void *grow_array(void *v, size_t *cap, size_t n, size_t size, size_t first);

/* Arms a SIGBUS handler so a segment truncated under a read reports an
 * error (exit 2) instead of a crash. */
void guard_sigbus(void);

/* ---- scan.c: segments and their status ------------------------------ */

#define SHM_DIR "/dev/shm"

/* ST_PERSIST: what would be ST_STALE (creator dead, unused) for a segment
 * created persistent (gc keeps it); ST_TAMPERED: only from ls --check-seals,
 * a sealed payload that no longer matches its seal. */
enum seg_status {
    ST_OK,
    ST_STALE,
    ST_CORRUPT,
    ST_FOREIGN,
    ST_UNKNOWN,
    ST_DEST,
    ST_PERSIST,
    ST_TAMPERED
};
const char *status_name(int st);

struct pid_use {
    int32_t pid;
    unsigned maps : 1; /* maps it */
    unsigned fds : 1;  /* holds a descriptor on it */
};

struct seg_row {
    int kind;                /* SHMKIT_POSIX, SHMKIT_SYSV or SHMKIT_MEMFD */
    char name[NAME_MAX + 2]; /* POSIX "/x" (up to "/" + NAME_MAX); MEMFD the memfd_create name */
    int32_t key;             /* SYSV */
    int shmid;               /* SYSV; -1 otherwise */
    int memfd_pid, memfd_fd; /* MEMFD: one process holding it, and its fd */
    uint64_t dev, ino;       /* POSIX/MEMFD device and inode (SYSV: shmid in /proc maps) */
    uint32_t mode, uid, gid;
    uint64_t size;      /* bytes, header included */
    int64_t nattch;     /* processes attached (SYSV: kernel; others: /proc maps) */
    int64_t holders;    /* processes holding a descriptor (POSIX, MEMFD) */
    int hidden;         /* processes whose maps/fds we could not (fully) read */
    int dest;           /* SYSV: marked for removal (SHM_DEST), gone at the last detach */
    int use_unknown;    /* POSIX: creator dead, no user seen, but HIDDEN processes
                           could not be inspected and the kernel would not say */
    int busy_unseen;    /* POSIX: no inspected process uses it, but the kernel says
                           one has it open or mapped (another namespace, hidden) */
    int32_t cpid, lpid; /* SYSV */
    uint32_t cuid;      /* SYSV: creator's uid (may remove it, as the owner may) */
    int64_t ctime, atime, dtime;
    int hdr_rc;             /* 0 valid header; SHMKIT_ENOTSHMKIT foreign; other SHMKIT_E*
                               corrupt; -errno unreadable; 1 not read */
    struct shmkit_info hdr; /* header fields when hdr_rc == 0 */
    int creator_alive;      /* 1, 0, or -1 unknown */
    int status;             /* enum seg_status */
    struct pid_use *users;  /* with want_pids: who maps/holds it */
    size_t n_users;
    /* ls DETAIL, CLIENTS, PENDING (layout.c: layout_detail) */
    char detail[96];         /* what the structure says of itself; "" unknown */
    int64_t clients, pending; /* RPC endpoint; -1 otherwise */
};

struct scan_opts {
    int posix, sysv, memfd; /* kinds to list */
    int header;             /* read headers (LAYOUT, STATUS, CREATOR...) */
    int procs;              /* scan /proc for attachments (NATTCH of POSIX, memfds, STATUS) */
    int pids;               /* keep the list of processes per segment */
    int no_attach;          /* never attach a System V segment (no header then) */
    int probe;              /* ask the kernel whether a stale-looking POSIX segment is
                               open or mapped (a brief write lease; gc) */
};

struct seg_list {
    struct seg_row *v;
    size_t n, cap;
    int hidden; /* processes whose maps/fds could not be read (not counted) */
};

/* A new row in L, its fields "unknown" (-1, hdr_rc 1); NULL when out of memory. */
struct seg_row *seg_list_add(struct seg_list *l);
/* What the inode says, for a POSIX segment or a memfd alike. */
void row_stat(struct seg_row *r, const struct stat *st);

/* Lists segments of the chosen kinds, sorted (POSIX by name, SYSV by id,
 * MEMFD by pid/fd). Returns 0 or -errno (e.g. /proc unreadable). */
int scan(const struct scan_opts *o, struct seg_list *out);
/* Finds one target; fills *ROW (the caller frees with seg_list_free-like
 * row_free). Returns 0, -ENOENT, -EINVAL (no such id), or -errno. */
int scan_target(const struct target *t, const struct scan_opts *o, struct seg_row *row);
void row_free(struct seg_row *r);
/* Re-reads who uses the rows (a fresh /proc scan; IPC_STAT for System V)
 * and recomputes their STATUS, just before acting on them. Rows of System V
 * segments that vanished get nattch -1. Returns 0 or -errno. */
int scan_refresh(struct seg_list *l);
void seg_list_free(struct seg_list *l);

/* Removes the POSIX segment of row R only if its name still refers to the
 * inode that was judged and no process at all has it open or mapped, all
 * under a write lease (see scan.c). Returns 0, -EBUSY (in use),
 * -ESTALE (the name is now another file), -ENOENT, -ENOLCK (the kernel
 * would not tell: no lease for this user; nothing removed), or -errno. */
int posix_remove_idle(const struct seg_row *r);

/* ---- procscan.c: who maps and holds what (one bounded /proc pass) ---- */

struct procs_opts {
    int maps, fds; /* read /proc/PID/maps, /proc/PID/fd */
    int pids;      /* keep the list of processes per row */
    int add_memfd; /* append a MEMFD row per memfd found (header not read) */
};
/* Scans every process but ourselves and joins what it finds to the rows of
 * L: NATTCH and HOLDERS of the POSIX and memfd rows, USERS (PIDS), HIDDEN.
 * Returns 0 or -errno (/proc unreadable, no memory). */
int procs_scan(struct seg_list *l, const struct procs_opts *po);

/* ---- open.c: opening what a target names, never blocking ------------ */

/* Opens PATH (relative to DIRFD; FOLLOW: a /proc/PID/fd/N link) only if it
 * is a regular file, never blocking and never opening anything else (a FIFO,
 * a device): see open.c. FLAGS is O_RDONLY or O_RDWR. Returns the
 * descriptor with *ST its fstat, or E_NOTSEG (*ST then says what is there),
 * or -errno (-EACCES: *ST is still filled). */
int open_regular(int dirfd, const char *path, int flags, int follow, struct stat *st);
/* Opens descriptor FD of process PID only while it is a memfd; NAME (LEN
 * bytes, may be NULL) gets its name. The descriptor, or -ENOENT (not a
 * memfd now), -EACCES/-EPERM. */
int open_memfd(int pid, int fd, int flags, struct stat *st, char *name, size_t len);
/* The NAME of a "/memfd:NAME[ (deleted)]" link, cut in place. */
const char *memfd_link_name(char *link);
/* The shmid of System V KEY: 0 and *ID, -ENOENT or -errno. */
int sysv_id_of_key(int32_t key, int *id);

/* Opens a target with the library. FLAGS: SHMKIT_RDONLY and/or SHMKIT_RAW.
 * Without RAW a segment that has no shmkit magic is reopened RAW and *RAW_OUT
 * set to 1 (foreign segments are all payload). A segment whose creator is
 * still in its initialiser is waited for up to cli_init_wait_ms (1000; the
 * commands that only look set 1), then E_INITIALISING; E_INITDIED if the
 * creator died there. */
extern int cli_init_wait_ms;
int open_target(const struct target *t, unsigned flags, shmkit_seg **seg, int *raw_out);
/* The shmkit_open() options that reach target T (System V keys resolved
 * to an id; a memfd reopened through /proc, its descriptor then owned by
 * whoever opens O). Returns 0, -ENOENT, or -errno. */
int target_opts(const struct target *t, unsigned flags, struct shmkit_opts *o);

/* ---- output.c -------------------------------------------------------- */

enum out_mode { OUT_TABLE, OUT_RAW, OUT_JSON };

struct out_opts {
    int mode;
    int bytes; /* sizes in bytes */
    int noheadings;
    int cols[32]; /* column ids, in order */
    int ncols;
};

/* Parses "-o LIST" ("+LIST" appends to the defaults) into O. Returns 0 or
 * EXIT_USAGE after printing the error. */
int out_columns(struct out_opts *o, const char *list);
void out_default_columns(struct out_opts *o);
/* Which columns need the header / the /proc scan / the structure's
 * statistics (layout_detail). */
int out_needs_header(const struct out_opts *o, int sysv_only);
int out_needs_procs(const struct out_opts *o);
int out_needs_detail(const struct out_opts *o);
void out_print(const struct out_opts *o, const struct seg_list *l, FILE *f);
void out_help_columns(FILE *f);

/* JSON helpers shared by info/watch. */
void json_str(FILE *f, const char *s);

/* Key/value output shared by info and watch: aligned "key: value" lines,
 * JSON object members, or one "key=value ..." line per sample. */
enum emit_mode { EM_TEXT, EM_JSON, EM_LINE };
struct emit {
    FILE *f;
    int mode;
    int n; /* members written in the current object/line */
};
void emit_str(struct emit *e, const char *key, const char *val); /* NULL val: null / "-" */
void emit_num(struct emit *e, const char *key, long long v);
void emit_fmt(struct emit *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- payload.c: reading a payload without allocating its holes ------- */

struct payload {
    int fd;                     /* the segment's descriptor; -1: System V, MAP */
    uint64_t base;              /* file offset of payload byte 0 */
    uint64_t len;               /* payload bytes */
    const unsigned char *map;   /* the mapping (read only when fd < 0) */
    uint64_t data_at, data_end; /* the data extent found last (payload offsets) */
    int no_seek;                /* SEEK_DATA unsupported: read everything */
};
/* RAW: the handle was opened RAW (payload = whole segment). */
void payload_init(struct payload *p, shmkit_seg *seg, int raw);
/* *HOLE: bytes from POS that are a hole (zeros, not to be read); 0 in data.
 * Returns 0, or -ENODATA when the segment shrank under us. */
int payload_hole(struct payload *p, uint64_t pos, uint64_t *hole);
/* N bytes at POS into BUF, holes as zeros. 0, -ENODATA (shrank), -errno. */
int payload_read(struct payload *p, uint64_t pos, void *buf, size_t n);
/* CRC-32C of the whole payload (holes fed as zeros). 0 or as above. */
int payload_crc(struct payload *p, uint32_t *crc);

/* ---- layout.c: layout-specific statistics ---------------------------- */

/* What watch remembers between samples to compute rates. */
struct layout_state {
    double t;      /* when the previous sample was taken (seconds) */
    uint64_t v[8]; /* counters of the previous sample */
    uint32_t layout;
    int have;
};
/* Emits what the layout held by SEG says about itself (ring fill, bus
 * subscribers, table rows; a checksum of plain bytes). ST (zeroed before
 * the first call) and NOW give watch its rates. Returns 0 or a negative
 * code (the segment is corrupt). */
int layout_stats(const struct target *t, shmkit_seg *seg, uint32_t layout, struct emit *e,
                 struct layout_state *st, double now);
/* ls: fills R->detail (a one-line summary: ring fill, bus subscribers,
 * table records, RPC clients and pending calls, a bridge's links and
 * peers) and R->clients / R->pending for an RPC endpoint, reading the
 * segment of row R read-only. Leaves them unknown when it cannot be read
 * (R->detail then says why, e.g. "corrupt"). */
void layout_detail(struct seg_row *r);

/* ---- bridge_stats.c: a bridge's statistics table (BRIDGE_STATS_TYPE) -- */

/* What info (ST NULL: every counter by name) and watch (ST: peers, traffic
 * and its rates, drops; counters in ST->v[1..]) show of the bridge whose
 * statistics table is TAB. 0 or a negative code (SHMKIT_ECORRUPT: the
 * record fails its checks; SHMKIT_EVERSION). */
int bridge_stats(const shmkit_table *tab, struct emit *e, struct layout_state *st, double now);
/* ls DETAIL of it: "bridge PID (alive), N links, peers N out N in". */
int bridge_detail(const shmkit_table *tab, char *buf, size_t len);
/* info of a POSIX bus, ring or RPC endpoint NAME: which running (or
 * killed) bridges carry it, one "bridged_by" member per link, found by
 * reading every bridge statistics table in /dev/shm. */
void bridge_carriers(struct emit *e, const char *name);

/* ---- commands -------------------------------------------------------- */

int cmd_ls(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_write(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_call(int argc, char **argv); /* cmd_call.c */

#endif
