/* util.c - errors, option parsing and formatting shared by the commands. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *cli_cmd;

static void verr(const char *what, const char *fmt, va_list ap)
{
    fflush(stdout);
    fputs("shmkit: ", stderr);
    if (what) { /* often a segment name: escaped like every outside string */
        esc_put(stderr, what, 0);
        fputs(": ", stderr);
    }
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_err(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(what, fmt, ap);
    va_end(ap);
}

int cli_usage(const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verr(what, fmt, ap);
    va_end(ap);
    if (cli_cmd)
        fprintf(stderr, "try 'shmkit %s --help'\n", cli_cmd);
    else
        fputs("try 'shmkit --help'\n", stderr);
    return EXIT_USAGE;
}

int cli_status(int code)
{
    switch (code) {
    case 0:
        return EXIT_OKAY;
    /* what the user typed or named is wrong */
    case -ENOENT:
    case -EINVAL:
    case -EEXIST:
    case -EIDRM:
    case SHMKIT_EBADNAME:
    case SHMKIT_EBADKEY:
    case SHMKIT_EBADSIZE:
    case SHMKIT_ELAYOUT:
    case SHMKIT_ENOTSEALED:
    case E_NOTSEG:
        return EXIT_USAGE;
    /* the segment failed its integrity check */
    case SHMKIT_ENOTSHMKIT:
    case SHMKIT_EVERSION:
    case SHMKIT_EBADHEADER:
    case SHMKIT_ETAMPERED:
    case SHMKIT_ETRUNCATED:
    case SHMKIT_ECORRUPT:
    case E_INITDIED:
        return EXIT_INTEGRITY;
    default:
        return EXIT_SYSTEM;
    }
}

int cli_fail(const char *what, int code)
{
    const char *why = shmkit_strerror(code);
    if (code == -ENOENT)
        why = "no such segment";
    else if (code == -EEXIST)
        why = "already exists";
    else if (code == E_NOTSEG)
        why = "not a segment (a FIFO, socket, device, directory or symlink is there)";
    else if (code == E_INITIALISING)
        why = "not ready: its creator is still initialising it ('shmkit info' names the creator)";
    else if (code == E_INITDIED)
        why = "never initialised: its creator died while initialising it ('shmkit gc' removes it)";
    cli_err(what, "%s", why);
    return cli_status(code);
}

/* ---- option parsing ---- */

int opt_size(const char *opt, const char *arg, uint64_t *out)
{
    int rc = shmkit_parse_size(arg, out);
    if (rc == -ERANGE)
        return cli_usage(opt, "'%s': size too large", arg);
    if (rc < 0)
        return cli_usage(opt, "'%s': invalid size (use a number with an optional K, M, G, T suffix)",
                         arg);
    return 0;
}

int opt_offset(const char *opt, const char *arg, uint64_t *out)
{
    if (arg[0] == '0' && (arg[1] == 'x' || arg[1] == 'X')) {
        char *end;
        errno = 0;
        if (!arg[2] || arg[2] == '-' || arg[2] == '+')
            return cli_usage(opt, "'%s': invalid number", arg);
        unsigned long long v = strtoull(arg + 2, &end, 16);
        if (errno == ERANGE)
            return cli_usage(opt, "'%s': number too large", arg);
        if (*end)
            return cli_usage(opt, "'%s': invalid number", arg);
        *out = v;
        return 0;
    }
    return opt_size(opt, arg, out);
}

int opt_key(const char *opt, const char *arg, int32_t *out)
{
    if (shmkit_parse_key(arg, out) < 0)
        return cli_usage(opt, "'%s': invalid key (use decimal or 0x hex, 32 bits)", arg);
    if (*out == 0)
        return cli_usage(opt, "'%s': key 0 is IPC_PRIVATE (use --private or --id)", arg);
    return 0;
}

int opt_id(const char *opt, const char *arg, int *out)
{
    char *end;
    errno = 0;
    if (!*arg || *arg == '-' || *arg == '+' || *arg == ' ')
        return cli_usage(opt, "'%s': invalid id", arg);
    long v = strtol(arg, &end, 10);
    if (errno || *end || v < 0 || v > INT_MAX)
        return cli_usage(opt, "'%s': invalid id", arg);
    *out = (int)v;
    return 0;
}

int opt_mode(const char *opt, const char *arg, uint32_t *out)
{
    char *end;
    errno = 0;
    if (!*arg || *arg == '-' || *arg == '+' || *arg == ' ')
        return cli_usage(opt, "'%s': invalid mode (use octal like 0640)", arg);
    unsigned long v = strtoul(arg, &end, 8);
    if (errno || *end || v > 0777)
        return cli_usage(opt, "'%s': invalid mode (use octal like 0640)", arg);
    if (v == 0)
        return cli_usage(opt, "'%s': mode 0 would lock everyone out", arg);
    *out = (uint32_t)v;
    return 0;
}

int opt_interval(const char *opt, const char *arg, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (errno || end == arg || *end || !(v >= 0.05 && v <= 3600))
        return cli_usage(opt, "'%s': invalid interval (seconds, 0.05 to 3600)", arg);
    *out = v;
    return 0;
}

int opt_ftok(const char *opt, char *arg, const char **path, int *proj)
{
    char *colon = strrchr(arg, ':');
    if (!colon || colon == arg || !colon[1])
        return cli_usage(opt, "'%s': expected PATH:PROJ", arg);
    *colon = '\0';
    const char *p = colon + 1;
    char *end;
    errno = 0;
    long v = strtol(p, &end, 0);
    if (*p >= '0' && *p <= '9' && !*end && !errno) {
        if (v < 1 || v > 255) {
            *colon = ':';
            return cli_usage(opt, "'%s': PROJ must be 1..255 or one character", arg);
        }
    } else if (p[0] && !p[1]) {
        v = (unsigned char)p[0];
    } else {
        *colon = ':';
        return cli_usage(opt, "'%s': PROJ must be 1..255 or one character", arg);
    }
    *path = arg;
    *proj = (int)v;
    return 0;
}

int opt_bad(int c, char **argv)
{
    const char *arg = argv[optind - 1];
    if (c == ':') {
        if (optopt)
            return cli_usage(NULL, "-%c: missing argument", optopt);
        return cli_usage(arg, "missing argument");
    }
    if (optopt)
        return cli_usage(NULL, "-%c: unknown option", optopt);
    return cli_usage(arg, "unknown option");
}

/* ---- formatting ---- */

const char *fmt_human(uint64_t bytes, char *buf, size_t len)
{
    static const char units[] = "BKMGTPE";
    int e = 0;
    while (e < 6 && bytes >= (1ull << (10 * (e + 1))))
        e++;
    if (e == 0) {
        snprintf(buf, len, "%llu", (unsigned long long)bytes);
        return buf;
    }
    /* tenths of the unit, rounded to nearest */
    unsigned __int128 unit = (unsigned __int128)1 << (10 * e);
    uint64_t tenths = (uint64_t)(((unsigned __int128)bytes * 10 + unit / 2) / unit);
    if (tenths >= 10240 && e < 6) {
        e++;
        unit <<= 10;
        tenths = (uint64_t)(((unsigned __int128)bytes * 10 + unit / 2) / unit);
    }
    if (tenths % 10)
        snprintf(buf, len, "%llu.%llu%c", (unsigned long long)(tenths / 10),
                 (unsigned long long)(tenths % 10), units[e]);
    else
        snprintf(buf, len, "%llu%c", (unsigned long long)(tenths / 10), units[e]);
    return buf;
}

const char *fmt_perms(uint32_t mode, char *buf, size_t len)
{
    static const char rwx[] = "rwxrwxrwx";
    if (len < 10)
        return "";
    for (int i = 0; i < 9; i++)
        buf[i] = (mode & (1u << (8 - i))) ? rwx[i] : '-';
    buf[9] = '\0';
    return buf;
}

struct uname_cache {
    uint32_t uid;
    char *name;
};
static struct uname_cache *unames;
static size_t n_unames;

const char *user_name(uint32_t uid)
{
    for (size_t i = 0; i < n_unames; i++)
        if (unames[i].uid == uid)
            return unames[i].name;
    char tmp[32];
    struct passwd *pw = getpwuid((uid_t)uid);
    const char *s = pw ? pw->pw_name : tmp;
    if (!pw)
        snprintf(tmp, sizeof tmp, "%u", uid);
    struct uname_cache *n = realloc(unames, (n_unames + 1) * sizeof *n);
    char *dup = strdup(s);
    if (!n || !dup) {
        free(dup);
        if (n)
            unames = n;
        return "?";
    }
    unames = n;
    unames[n_unames].uid = uid;
    unames[n_unames].name = dup;
    return unames[n_unames++].name;
}

const char *fmt_time_short(int64_t t, char *buf, size_t len)
{
    if (t <= 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t now = time(NULL), tt = (time_t)t;
    struct tm a, b;
    localtime_r(&tt, &a);
    localtime_r(&now, &b);
    if (a.tm_year == b.tm_year && a.tm_yday == b.tm_yday)
        strftime(buf, len, "%H:%M", &a);
    else if (a.tm_year == b.tm_year)
        strftime(buf, len, "%b%d", &a);
    else
        strftime(buf, len, "%Y", &a);
    return buf;
}

const char *fmt_time_iso(int64_t t, char *buf, size_t len)
{
    if (t <= 0) {
        snprintf(buf, len, "-");
        return buf;
    }
    time_t tt = (time_t)t;
    struct tm a;
    localtime_r(&tt, &a);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", &a);
    return buf;
}

const char *proc_comm(int pid, char *buf, size_t len)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/comm", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, len - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(buf, len, "?");
        return buf;
    }
    buf[n] = '\0';
    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    return buf;
}

static void on_sigbus(int sig)
{
    static const char msg[] = "shmkit: segment became unreadable while being read "
                              "(SIGBUS: truncated, or no memory for its pages)\n";
    (void)sig;
    ssize_t w = write(2, msg, sizeof msg - 1);
    (void)w;
    _exit(EXIT_SYSTEM);
}

void guard_sigbus(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigbus;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* ---- escaping ---- */

/* Length of the valid UTF-8 sequence at P (1-4 bytes; shortest form, no
 * surrogates), its code point in *CP; 0 when P does not start one. ASCII
 * counts as a sequence of 1. */
int utf8_seq(const unsigned char *p, uint32_t *cp)
{
    unsigned c = p[0];
    int n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0; /* also stops at the terminating NUL */
        v = v << 6 | (p[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* Code points a terminal acts on or that reorder what is shown: C0, DEL,
 * C1 (U+0080-U+009F: 8-bit CSI, OSC...), and the bidirectional controls. */
int cp_unsafe(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
           (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0x2028 ||
           cp == 0x2029;
}

/* The one escaping step: the character at P, escaped per FLAGS into OUT
 * (room for 16 bytes, *OUTN set), returns how many input bytes it took. */
static size_t esc_step(const unsigned char *p, int flags, char *out, size_t *outn)
{
    uint32_t cp;
    int n = utf8_seq(p, &cp);
    int bad = n == 0 || cp_unsafe(cp) || cp == '\\' || ((flags & ESC_SPACE) && cp == ' ') ||
              ((flags & ESC_QUOTE) && cp == '"');
    if (!bad) {
        memcpy(out, p, (size_t)n);
        *outn = (size_t)n;
        return (size_t)n;
    }
    /* every byte of an unsafe sequence (or one stray byte) as \xHH */
    size_t k = 0, take = n ? (size_t)n : 1;
    for (size_t i = 0; i < take; i++)
        k += (size_t)snprintf(out + k, 16 - k, "\\x%02x", p[i]);
    *outn = k;
    return take;
}

size_t esc_len(const char *s, int flags)
{
    char tmp[16];
    size_t len = 0, n;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += esc_step(p, flags, tmp, &n);
        len += n;
    }
    return len;
}

void esc_put(FILE *f, const char *s, int flags)
{
    char tmp[16];
    size_t n;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        p += esc_step(p, flags, tmp, &n);
        fwrite(tmp, 1, n, f);
    }
}

const char *esc_str(const char *s, int flags, char *buf, size_t len)
{
    char tmp[16];
    size_t k = 0, n;
    if (len < 4) {
        if (len)
            buf[0] = '\0';
        return buf;
    }
    /* what does not fit is cut at a whole character and marked "..." */
    size_t room = esc_len(s, flags) < len ? len - 1 : len - 4;
    for (const unsigned char *p = (const unsigned char *)s; *p;) {
        size_t took = esc_step(p, flags, tmp, &n);
        if (k + n > room) {
            memcpy(buf + k, "...", 3);
            k += 3;
            break;
        }
        memcpy(buf + k, tmp, n);
        k += n;
        p += took;
    }
    buf[k] = '\0';
    return buf;
}

void *grow_array(void *v, size_t *cap, size_t n, size_t size, size_t first)
{
    if (n < *cap)
        return v;
    size_t ncap = *cap ? *cap * 2 : first;
    if (ncap > SIZE_MAX / size)
        return NULL;
    v = realloc(v, ncap * size);
    if (v)
        *cap = ncap;
    return v;
}
