/*
 * output.c - the column table, and rows printed as an aligned table, raw
 * (space-separated, for scripts) or JSON. One table of column descriptors
 * drives `ls --help`, `-o/--output` and the output, as in lsipc.
 */
#include "cli.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum col_id {
    C_KIND,
    C_NAME,
    C_KEY,
    C_ID,
    C_PERMS,
    C_OWNER,
    C_UID,
    C_GID,
    C_SIZE,
    C_NATTCH,
    C_HOLDERS,
    C_CPID,
    C_LPID,
    C_CTIME,
    C_LAYOUT,
    C_STATUS,
    C_CREATED,
    C_SEALED,
    C_PERSIST,
    C_GEN,
    C_CLIENTS,
    C_PENDING,
    C_DETAIL,
    C_COUNT
};

enum { J_STR, J_NUM, J_NULL };
enum { NEED_HEADER = 1, NEED_PROCS = 2, NEED_DETAIL = 4 };

static const struct column {
    const char *name;
    int right; /* right-aligned in tables */
    int needs;
    const char *help;
} columns[C_COUNT] = {
    [C_KIND] = {"KIND", 0, 0, "posix, sysv or memfd"},
    [C_NAME] = {"NAME", 0, 0, "POSIX name, System V key, or memfd:NAME"},
    [C_KEY] = {"KEY", 0, 0, "System V key"},
    [C_ID] = {"ID", 1, 0, "System V shmid; PID:FD of a process holding a memfd"},
    [C_PERMS] = {"PERMS", 0, 0, "permissions"},
    [C_OWNER] = {"OWNER", 0, 0, "owner's user name"},
    [C_UID] = {"UID", 1, 0, "owner's user id"},
    [C_GID] = {"GID", 1, 0, "owner's group id"},
    [C_SIZE] = {"SIZE", 1, 0, "size in bytes, header included"},
    [C_NATTCH] = {"NATTCH", 1, NEED_PROCS, "processes attached (mapping it)"},
    [C_HOLDERS] = {"HOLDERS", 1, NEED_PROCS, "processes holding a descriptor on it"},
    [C_CPID] = {"CPID", 1, NEED_HEADER, "creator pid (System V: kernel; else shmkit header)"},
    [C_LPID] = {"LPID", 1, 0, "last pid to attach or detach (System V)"},
    [C_CTIME] = {"CTIME", 0, 0, "time of last change"},
    [C_LAYOUT] = {"LAYOUT", 0, NEED_HEADER, "raw, bytes, ring, bus, table or rpc"},
    [C_STATUS] = {"STATUS", 0, NEED_HEADER | NEED_PROCS,
                  "ok, stale, persistent, corrupt, foreign, unknown, dest; tampered"},
    [C_CREATED] = {"CREATED", 0, NEED_HEADER, "creation time from the shmkit header"},
    [C_SEALED] = {"SEALED", 0, NEED_HEADER, "yes when a payload checksum is recorded"},
    [C_PERSIST] = {"PERSIST", 0, NEED_HEADER, "yes when created persistent (create --keep)"},
    [C_GEN] = {"GEN", 1, NEED_HEADER, "header generation counter"},
    [C_CLIENTS] = {"CLIENTS", 1, NEED_DETAIL, "RPC endpoint: client slots held"},
    [C_PENDING] = {"PENDING", 1, NEED_DETAIL, "RPC endpoint: calls sent, not yet taken"},
    [C_DETAIL] = {"DETAIL", 0, NEED_DETAIL,
                  "ring fill, bus subscribers, table records, RPC clients and calls, bridge"},
};

static const int default_cols[] = {C_KIND,  C_NAME,  C_ID,     C_PERMS,  C_OWNER,
                                   C_SIZE,  C_NATTCH, C_CPID, C_LPID,   C_CTIME,
                                   C_LAYOUT, C_STATUS, C_DETAIL};

void out_default_columns(struct out_opts *o)
{
    o->ncols = 0;
    for (size_t i = 0; i < sizeof default_cols / sizeof default_cols[0]; i++)
        o->cols[o->ncols++] = default_cols[i];
}

int out_columns(struct out_opts *o, const char *list)
{
    if (list[0] == '+')
        list++;
    else
        o->ncols = 0;
    if (!*list)
        return cli_usage("--output", "empty column list");
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int found = -1;
        for (int c = 0; c < C_COUNT; c++)
            if (strlen(columns[c].name) == len && !strncasecmp(columns[c].name, p, len))
                found = c;
        if (found < 0)
            return cli_usage("--output", "'%.*s': unknown column", (int)len, p);
        if (o->ncols == (int)(sizeof o->cols / sizeof o->cols[0]))
            return cli_usage("--output", "too many columns");
        o->cols[o->ncols++] = found;
        if (!comma)
            break;
        p = comma + 1;
        if (!*p)
            return cli_usage("--output", "'%s': trailing comma", list);
    }
    return 0;
}

int out_needs_header(const struct out_opts *o, int sysv_only)
{
    for (int i = 0; i < o->ncols; i++) {
        if (o->cols[i] == C_CPID && sysv_only)
            continue; /* the kernel knows a System V creator */
        if (columns[o->cols[i]].needs & NEED_HEADER)
            return 1;
    }
    return 0;
}

int out_needs_detail(const struct out_opts *o)
{
    for (int i = 0; i < o->ncols; i++)
        if (columns[o->cols[i]].needs & NEED_DETAIL)
            return 1;
    return 0;
}

int out_needs_procs(const struct out_opts *o)
{
    for (int i = 0; i < o->ncols; i++)
        if (columns[o->cols[i]].needs & NEED_PROCS)
            return 1;
    return 0;
}

void out_help_columns(FILE *f)
{
    for (int c = 0; c < C_COUNT; c++)
        fprintf(f, "  %8s  %s\n", columns[c].name, columns[c].help);
    fputs("\nDefault: ", f);
    for (size_t i = 0; i < sizeof default_cols / sizeof default_cols[0]; i++)
        fprintf(f, "%s%s", i ? "," : "", columns[default_cols[i]].name);
    fputc('\n', f);
}

static const char *kind_name(int kind)
{
    switch (kind) {
    case SHMKIT_POSIX:
        return "posix";
    case SHMKIT_SYSV:
        return "sysv";
    case SHMKIT_MEMFD:
        return "memfd";
    default:
        return "?";
    }
}

/* The columns the shmkit header (or the System V kernel record) fills:
 * as cell() below. */
static const char *cell_header(const struct out_opts *o, const struct seg_row *r, int c, char *buf,
                               size_t len, int *jt)
{
    int hdr = r->hdr_rc == 0;
    switch (c) {
    case C_CPID:
    case C_LPID: {
        int32_t v = 0;
        if (r->kind == SHMKIT_SYSV)
            v = c == C_CPID ? r->cpid : r->lpid;
        else if (c == C_CPID && hdr)
            v = r->hdr.creator_pid;
        else
            break;
        *jt = J_NUM;
        snprintf(buf, len, "%d", v);
        return buf;
    }
    case C_CTIME:
    case C_CREATED: {
        int64_t t = c == C_CTIME ? r->ctime : (hdr ? r->hdr.created : 0);
        if (t <= 0)
            break;
        return o->mode == OUT_TABLE ? fmt_time_short(t, buf, len) : fmt_time_iso(t, buf, len);
    }
    case C_LAYOUT:
        if (hdr)
            return shmkit_layout_name(r->hdr.layout);
        if (r->hdr_rc == SHMKIT_ENOTSHMKIT)
            return "raw";
        if (r->status == ST_CORRUPT)
            return "?";
        break;
    case C_SEALED:
    case C_PERSIST:
        if (!hdr)
            break;
        return (c == C_SEALED ? r->hdr.sealed : r->hdr.persistent) ? "yes" : "no";
    case C_GEN:
        if (!hdr)
            break;
        *jt = J_NUM;
        snprintf(buf, len, "%llu", (unsigned long long)r->hdr.generation);
        return buf;
    }
    *jt = J_NULL;
    return "-";
}

/* The value of column C for row R: a string (in BUF or static) and its JSON type. */
static const char *cell(const struct out_opts *o, const struct seg_row *r, int c, char *buf,
                        size_t len, int *jt)
{
    *jt = J_STR;
    switch (c) {
    case C_KIND:
        return kind_name(r->kind);
    case C_NAME:
        if (r->kind == SHMKIT_MEMFD) {
            snprintf(buf, len, "memfd:%s", r->name);
            return buf;
        }
        return r->name;
    case C_KEY:
        if (r->kind != SHMKIT_SYSV)
            break;
        snprintf(buf, len, "0x%08x", (unsigned)r->key);
        return buf;
    case C_ID:
        if (r->kind == SHMKIT_SYSV) {
            *jt = J_NUM;
            snprintf(buf, len, "%d", r->shmid);
        } else if (r->kind == SHMKIT_MEMFD) {
            snprintf(buf, len, "%d:%d", r->memfd_pid, r->memfd_fd);
        } else {
            break;
        }
        return buf;
    case C_PERMS:
        return fmt_perms(r->mode, buf, len);
    case C_OWNER:
        return user_name(r->uid);
    case C_UID:
    case C_GID:
        *jt = J_NUM;
        snprintf(buf, len, "%u", c == C_UID ? r->uid : r->gid);
        return buf;
    case C_SIZE:
        if (o->bytes || o->mode == OUT_JSON) {
            *jt = J_NUM;
            snprintf(buf, len, "%llu", (unsigned long long)r->size);
            return buf;
        }
        return fmt_human(r->size, buf, len);
    case C_NATTCH:
    case C_HOLDERS: {
        int64_t v = c == C_NATTCH ? r->nattch : r->holders;
        if (v < 0)
            break;
        *jt = J_NUM;
        snprintf(buf, len, "%lld", (long long)v);
        return buf;
    }
    case C_STATUS:
        return status_name(r->status);
    case C_CLIENTS:
    case C_PENDING: {
        int64_t v = c == C_CLIENTS ? r->clients : r->pending;
        if (v < 0)
            break;
        *jt = J_NUM;
        snprintf(buf, len, "%lld", (long long)v);
        return buf;
    }
    case C_DETAIL:
        if (!r->detail[0])
            break;
        return r->detail;
    default:
        return cell_header(o, r, c, buf, len, jt);
    }
    *jt = J_NULL;
    return "-";
}

/* Table and raw output escape what would break a line or a field (util.c's
 * escaping, the one every outside string goes through). */
static void put_escaped(FILE *f, const char *s, int raw, int width, int right)
{
    int flags = raw ? ESC_SPACE : 0;
    int pad = width - (int)esc_len(s, flags);
    for (; right && pad > 0; pad--)
        fputc(' ', f);
    esc_put(f, s, flags);
    for (; pad > 0; pad--)
        fputc(' ', f);
}

void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        uint32_t cp;
        int n = utf8_seq(p, &cp);
        if (*p == '"' || *p == '\\') {
            fputc('\\', f);
            fputc(*p, f);
        } else if (n == 0) {
            fprintf(f, "\\u%04x", *p); /* a stray byte, read as Latin-1 */
        } else if (cp_unsafe(cp)) {
            fprintf(f, "\\u%04x", (unsigned)cp); /* all unsafe ones are in the BMP */
            p += n - 1;
        } else {
            fwrite(p, 1, (size_t)n, f);
            p += n - 1;
        }
    }
    fputc('"', f);
}

static void lower(const char *s, char *buf, size_t len)
{
    size_t i = 0;
    for (; s[i] && i + 1 < len; i++)
        buf[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    buf[i] = '\0';
}

static void print_json(const struct out_opts *o, const struct seg_list *l, FILE *f)
{
    char buf[512], key[32];
    int jt;
    fputs("{\n  \"segments\": [", f);
    for (size_t i = 0; i < l->n; i++) {
        fputs(i ? ",\n    {" : "\n    {", f);
        for (int k = 0; k < o->ncols; k++) {
            const char *v = cell(o, &l->v[i], o->cols[k], buf, sizeof buf, &jt);
            lower(columns[o->cols[k]].name, key, sizeof key);
            fprintf(f, "%s\"%s\": ", k ? ", " : "", key);
            if (jt == J_NULL)
                fputs("null", f);
            else if (jt == J_NUM)
                fputs(v, f);
            else
                json_str(f, v);
        }
        fputc('}', f);
    }
    fputs(l->n ? "\n  ]\n}\n" : "]\n}\n", f);
}

/* Cell strings of every row, formatted once: widths first, then output. */
struct cells {
    char *buf;
    size_t len, cap;
    size_t *off; /* row * ncols + col -> offset in buf */
};

static int cells_fill(const struct out_opts *o, const struct seg_list *l, struct cells *c)
{
    char tmp[512];
    int jt;
    memset(c, 0, sizeof *c);
    c->off = malloc((l->n * (size_t)o->ncols + 1) * sizeof *c->off);
    if (!c->off)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        for (int k = 0; k < o->ncols; k++) {
            const char *v = cell(o, &l->v[i], o->cols[k], tmp, sizeof tmp, &jt);
            size_t n = strlen(v) + 1;
            if (c->len + n > c->cap) {
                size_t cap = c->cap ? c->cap * 2 : 65536;
                while (cap < c->len + n)
                    cap *= 2;
                char *b = realloc(c->buf, cap);
                if (!b)
                    return -1;
                c->buf = b;
                c->cap = cap;
            }
            memcpy(c->buf + c->len, v, n);
            c->off[i * (size_t)o->ncols + (size_t)k] = c->len;
            c->len += n;
        }
    }
    return 0;
}

void out_print(const struct out_opts *o, const struct seg_list *l, FILE *f)
{
    int width[C_COUNT] = {0};
    struct cells cs;
    if (o->mode == OUT_JSON) {
        print_json(o, l, f);
        return;
    }
    if (cells_fill(o, l, &cs) < 0) {
        free(cs.buf);
        free(cs.off);
        cli_err("ls", "out of memory");
        return;
    }
#define CELL(i, k) (cs.buf + cs.off[(i) * (size_t)o->ncols + (size_t)(k)])
    if (o->mode == OUT_TABLE) {
        for (int k = 0; k < o->ncols; k++) {
            if (!o->noheadings)
                width[k] = (int)strlen(columns[o->cols[k]].name);
            for (size_t i = 0; i < l->n; i++) {
                int w = (int)esc_len(CELL(i, k), 0);
                if (w > width[k])
                    width[k] = w;
            }
        }
    }
    int raw = o->mode == OUT_RAW;
    if (!o->noheadings) {
        for (int k = 0; k < o->ncols; k++) {
            const struct column *c = &columns[o->cols[k]];
            int last = k == o->ncols - 1;
            put_escaped(f, c->name, raw, raw || (last && !c->right) ? 0 : width[k], c->right);
            fputc(last ? '\n' : ' ', f);
        }
    }
    for (size_t i = 0; i < l->n; i++) {
        for (int k = 0; k < o->ncols; k++) {
            const struct column *c = &columns[o->cols[k]];
            int last = k == o->ncols - 1;
            put_escaped(f, CELL(i, k), raw, raw || (last && !c->right) ? 0 : width[k], c->right);
            fputc(last ? '\n' : ' ', f);
        }
    }
#undef CELL
    free(cs.buf);
    free(cs.off);
}

/* ---- key/value emitter ---- */

static void emit_key(struct emit *e, const char *key)
{
    switch (e->mode) {
    case EM_JSON:
        fputs(e->n ? ", " : "", e->f);
        json_str(e->f, key);
        fputs(": ", e->f);
        break;
    case EM_LINE:
        fprintf(e->f, "%s%s=", e->n ? " " : "", key);
        break;
    default:
        fprintf(e->f, "%-15s ", key);
        break;
    }
    e->n++;
}

static void emit_end(struct emit *e)
{
    if (e->mode == EM_TEXT)
        fputc('\n', e->f);
}

void emit_str(struct emit *e, const char *key, const char *val)
{
    char k[64];
    snprintf(k, sizeof k, "%s:", key);
    emit_key(e, e->mode == EM_TEXT ? k : key);
    if (e->mode == EM_JSON) {
        if (val)
            json_str(e->f, val);
        else
            fputs("null", e->f);
    } else if (e->mode == EM_LINE && val && strpbrk(val, " \"")) {
        fputc('"', e->f); /* one field per value: quote the ones with spaces */
        esc_put(e->f, val, ESC_QUOTE);
        fputc('"', e->f);
    } else {
        put_escaped(e->f, val ? val : "-", 0, 0, 0);
    }
    emit_end(e);
}

void emit_num(struct emit *e, const char *key, long long v)
{
    char k[64];
    snprintf(k, sizeof k, "%s:", key);
    emit_key(e, e->mode == EM_TEXT ? k : key);
    fprintf(e->f, "%lld", v);
    emit_end(e);
}

void emit_fmt(struct emit *e, const char *key, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    emit_str(e, key, buf);
}
