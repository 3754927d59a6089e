/* board.c - from snapshots to a ranking, and the ranking to the screen (ANSI full-screen on a
 * terminal, a few plain lines otherwise). Race control and an attached board use the same
 * code on the same records, so they show the same ranking.
 * The full screen follows the terminal's size, read again at every frame (a resize is
 * redrawn within 50 ms): below FULL_COLS columns a compact layout without sector times;
 * rows that do not fit are left out, from the back of the field, and a line under the title
 * says what is hidden. Line wrap is off while the board is up, so a line never spills into
 * the next one and the title never scrolls away. */
#include "f1.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

int f1_cut(int kind, int ncars)
{
    int e = (ncars + 2) / 4; /* 20 cars: 5 out after Q1 and after Q2 */
    int cut = kind == F1_Q1 ? ncars - e : kind == F1_Q2 ? ncars - 2 * e : ncars;
    return cut < 1 ? 1 : cut;
}

static int is_out(const struct f1_row *r)
{
    return r->dead || r->c.out;
}

static int64_t progress(const struct f1_car *c)
{
    return (int64_t)c->lap * 3 + c->sector;
}

static int row_cmp_race(const void *a, const void *b)
{
    const struct f1_row *x = a, *y = b;
    if (is_out(x) != is_out(y))
        return is_out(x) - is_out(y);
    if (progress(&x->c) != progress(&y->c))
        return progress(&x->c) > progress(&y->c) ? -1 : 1;
    if (x->c.total != y->c.total)
        return x->c.total < y->c.total ? -1 : 1;
    return x->idx - y->idx;
}

static int row_cmp_times(const void *a, const void *b)
{
    const struct f1_row *x = a, *y = b;
    if (is_out(x) != is_out(y))
        return is_out(x) - is_out(y);
    int64_t bx = x->c.best_lap ? x->c.best_lap : INT64_MAX;
    int64_t by = y->c.best_lap ? y->c.best_lap : INT64_MAX;
    if (bx != by)
        return bx < by ? -1 : 1;
    return x->idx - y->idx;
}

/* Gap of car C behind car L at the last lap line C crossed; laps behind if lapped. */
static void race_gap(const struct f1_car *l, const struct f1_car *c, int64_t *gap, int *laps)
{
    *gap = -1;
    *laps = 0;
    int n = c->lap;
    if (n <= 0 || n > F1_MAX_LAPS || l->lap < n)
        return;
    while (n + *laps + 1 <= l->lap && l->lap_total[n + *laps + 1] <= c->lap_total[n])
        (*laps)++;
    *gap = c->lap_total[n] - l->lap_total[n];
}

static int read_retrying(shmkit_table *t, uint32_t i, void *dst, size_t len)
{
    int rc, tries = 0;
    while ((rc = shmkit_table_read(t, i, dst, len, NULL)) == -EAGAIN && ++tries < 20)
        ;
    return rc;
}

int f1_view_build(struct f1_view *v, shmkit_table *cars, shmkit_table *ctl, struct f1_car *prev,
                  int *seen_dead)
{
    int rc = read_retrying(ctl, 0, &v->ctl, sizeof v->ctl);
    if (rc < 0)
        return rc;
    const struct f1_ctl *c = &v->ctl;
    int ncars = c->ncars;
    if (ncars < 1 || ncars > F1_MAX_CARS || (uint32_t)ncars > shmkit_table_count(cars))
        return SHMKIT_ECORRUPT; /* the control record is input too */
    v->n = 0;
    v->best_lap = 0;
    v->best_lap_car = -1;
    memset(v->best_s, 0, sizeof v->best_s);
    for (int i = 0; i < ncars; i++) {
        struct f1_car snap;
        /* a torn or unreadable record keeps its previous snapshot */
        if (read_retrying(cars, (uint32_t)i, &snap, sizeof snap) == 0 && snap.index == i)
            prev[i] = snap;
        struct shmkit_owner ow;
        if (shmkit_table_owner(cars, (uint32_t)i, &ow) == SHMKIT_EPEERDEAD)
            seen_dead[i] = 1; /* owned by a process that is gone: not a clean exit */
        if (!c->participates[i])
            continue;
        struct f1_row *r = &v->rows[v->n++];
        memset(r, 0, sizeof *r);
        r->idx = i;
        r->dead = seen_dead[i];
        if (prev[i].session == c->session) {
            r->c = prev[i];
        } else { /* not on track yet in this session */
            r->c.index = i;
            r->c.number = f1_drivers[i].number;
            r->c.session = c->session;
        }
        for (int k = 0; k < 3; k++)
            if (r->c.best_s[k] && (!v->best_s[k] || r->c.best_s[k] < v->best_s[k]))
                v->best_s[k] = r->c.best_s[k];
        if (r->c.best_lap && (!v->best_lap || r->c.best_lap < v->best_lap ||
                              (r->c.best_lap == v->best_lap && i < v->best_lap_car))) {
            v->best_lap = r->c.best_lap;
            v->best_lap_car = i;
        }
    }
    int race = c->kind == F1_RACE;
    qsort(v->rows, (size_t)v->n, sizeof v->rows[0], race ? row_cmp_race : row_cmp_times);
    int cut = f1_cut(c->kind, c->ncars);
    for (int p = 0; p < v->n; p++) {
        struct f1_row *r = &v->rows[p];
        r->gap = r->interval = -1;
        r->elim = (c->kind == F1_Q1 || c->kind == F1_Q2) && p >= cut;
        if (p == 0)
            continue;
        const struct f1_car *lead = &v->rows[0].c, *ahead = &v->rows[p - 1].c;
        if (race) {
            int l2;
            race_gap(lead, &r->c, &r->gap, &r->laps_behind);
            race_gap(ahead, &r->c, &r->interval, &l2);
        } else if (r->c.best_lap) {
            if (lead->best_lap)
                r->gap = r->c.best_lap - lead->best_lap;
            if (ahead->best_lap)
                r->interval = r->c.best_lap - ahead->best_lap;
        }
    }
    return 0;
}

void f1_fmt_time(char *buf, size_t len, int64_t ms)
{
    if (ms <= 0)
        snprintf(buf, len, "-");
    else if (ms >= 3600000)
        snprintf(buf, len, "%d:%02d:%02d.%03d", (int)(ms / 3600000), (int)(ms / 60000 % 60),
                 (int)(ms / 1000 % 60), (int)(ms % 1000));
    else if (ms >= 60000)
        snprintf(buf, len, "%d:%02d.%03d", (int)(ms / 60000), (int)(ms / 1000 % 60),
                 (int)(ms % 1000));
    else
        snprintf(buf, len, "%d.%03d", (int)(ms / 1000), (int)(ms % 1000));
}

static void fmt_delta(char *buf, size_t len, int64_t gap, int laps)
{
    if (laps > 0)
        snprintf(buf, len, "+%d LAP%s", laps, laps > 1 ? "S" : "");
    else if (gap < 0)
        snprintf(buf, len, "-");
    else
        snprintf(buf, len, "+%d.%03d", (int)(gap / 1000), (int)(gap % 1000));
}

void f1_fmt_gap(char *buf, size_t len, const struct f1_row *r, int first)
{
    if (r->dead)
        snprintf(buf, len, "OUT");
    else if (r->c.out)
        snprintf(buf, len, "DNF");
    else if (first)
        snprintf(buf, len, "LEADER");
    else
        fmt_delta(buf, len, r->gap, r->laps_behind);
}

/* ------------------------------------------------------------------------ screen */

#define TICKER 6
#define FULL_COLS 118 /* the widest line of the full layout */

struct f1_screen {
    FILE *out;
    int tty;
    int ticker_n;
    char ticker[TICKER][120];
    int rows, cols; /* terminal size at the last frame */
};

struct f1_screen *f1_screen_open(int tty, FILE *out)
{
    struct f1_screen *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->out = out;
    s->tty = tty;
    if (tty) /* alternate screen, cursor hidden, no line wrap: the shell's screen and its
              * settings come back at the end */
        fputs("\033[?1049h\033[?25l\033[?7l\033[H\033[2J", out);
    return s;
}

void f1_screen_close(struct f1_screen *s)
{
    if (!s)
        return;
    if (s->tty)
        fputs("\033[?7h\033[?25h\033[?1049l", s->out);
    fflush(s->out);
    free(s);
}

void f1_screen_line(struct f1_screen *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!s->tty) {
        vfprintf(s->out, fmt, ap);
        fputc('\n', s->out);
        fflush(s->out);
    }
    va_end(ap);
}

void f1_screen_event(struct f1_screen *s, const struct f1_event *e)
{
    char line[120];
    if ((unsigned)e->kind < F1_KINDS)
        snprintf(line, sizeof line, "[%s%s%d] %s", f1_kind_name[e->kind],
                 e->kind == F1_RACE ? " L" : " lap ", e->lap, e->text);
    else
        snprintf(line, sizeof line, "%s", e->text);
    if (s->tty) {
        memmove(s->ticker[1], s->ticker[0], sizeof s->ticker[0] * (TICKER - 1));
        snprintf(s->ticker[0], sizeof s->ticker[0], "%s", line);
        if (s->ticker_n < TICKER)
            s->ticker_n++;
    } else {
        fprintf(s->out, "%s\n", line);
        fflush(s->out);
    }
}

/* A sector cell: purple = fastest of the session, green = personal best; plain text
 * marks the fastest of the session with a '*'. */
static void sector_cell(FILE *f, int tty, int64_t ms, int64_t pb, int64_t sb, int dim)
{
    char t[16];
    f1_fmt_time(t, sizeof t, ms);
    int fastest = ms > 0 && ms == sb;
    if (!tty) {
        fprintf(f, " %7s%c", t, fastest ? '*' : ' ');
        return;
    }
    const char *col = ms <= 0 ? "" : fastest ? "\033[1;35m" : ms == pb ? "\033[32m" : dim ? "\033[2m" : "";
    fprintf(f, " %s%7s%s ", col, t, *col ? "\033[0m" : "");
}

/* The column header and the first SHOWN rows; COMPACT leaves the sector times out. */
static void table_rows(FILE *f, int tty, const struct f1_view *v, int live, int compact, int shown)
{
    if (compact)
        fprintf(f, "%s POS  NO DRV   BEST       LAST      GAP       INT       LAPS     %s\n",
                tty ? "\033[7m" : "", tty ? "\033[0m\033[K" : "");
    else
        fprintf(f, "%s POS  NO DRIVER          BEST       LAST       S1      S2      S3      "
                   "%-9s %-9s LAPS     %s\n",
                tty ? "\033[7m" : "", "GAP", "INT", tty ? "\033[0m\033[K" : "");
    for (int p = 0; p < v->n && p < shown; p++) {
        const struct f1_row *r = &v->rows[p];
        const struct f1_driver *d = &f1_drivers[r->idx];
        char best[16], last[16], gap[16], inter[16];
        f1_fmt_time(best, sizeof best, r->c.best_lap);
        f1_fmt_time(last, sizeof last, r->c.last_lap);
        f1_fmt_gap(gap, sizeof gap, r, p == 0);
        if (p == 0 || is_out(r))
            snprintf(inter, sizeof inter, "-");
        else
            fmt_delta(inter, sizeof inter, r->interval, 0);
        int bl = tty && r->c.best_lap && r->c.best_lap == v->best_lap;
        if (compact) {
            fprintf(f, "%s %3d %3d %-3s %s%9s%s  %9s ", tty && is_out(r) ? "\033[2m" : "", p + 1,
                    d->number, d->code, bl ? "\033[1;35m" : "", best, bl ? "\033[0m" : "", last);
        } else {
            fprintf(f, "%s %3d %3d %-3s %-11.11s %s%9s%s  %9s ", tty && is_out(r) ? "\033[2m" : "",
                    p + 1, d->number, d->code, d->name, bl ? "\033[1;35m" : "", best,
                    bl ? "\033[0m" : "", last);
            for (int k = 0; k < 3; k++) {
                int cur = r->c.cur_s[k] > 0;
                int64_t ms = cur ? r->c.cur_s[k] : r->c.last_s[k];
                sector_cell(f, tty, ms, r->c.best_s[k], v->best_s[k], !cur);
            }
        }
        const char *flag = r->dead ? "OUT (process died)"
                           : r->c.out ? "OUT"
                           : r->c.in_pit ? "PIT"
                           : r->elim ? (live ? "(drop zone)" : "ELIMINATED")
                                     : "";
        fprintf(f, "  %-9s %-9s %4d %s%s%s\n", gap, inter, r->c.lap,
                tty && (r->c.in_pit || is_out(r)) ? "\033[1;33m" : "", flag,
                tty ? "\033[0m\033[K" : "");
    }
}

void f1_screen_frame(struct f1_screen *s, const struct f1_view *v, const char *title)
{
    if (!s->tty)
        return;
    struct winsize ws;
    int rows = 50, cols = 160;
    if (ioctl(fileno(s->out), TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0)
        rows = ws.ws_row, cols = ws.ws_col;
    int resized = rows != s->rows || cols != s->cols;
    s->rows = rows, s->cols = cols;
    int compact = cols < FULL_COLS;
    /* rows - 1 lines at most: a newline on the last line would scroll the title away */
    int left = rows - 1 - 3; /* title, what is hidden, column header */
    int ev = s->ticker_n, evblock = ev ? ev + 2 : 0; /* blank line, EVENTS, events */
    int shown = v->n;
    if (shown + evblock > left) {
        ev = ev < 2 ? ev : 2;
        evblock = ev ? ev + 1 : 0;
        if (shown + evblock > left)
            shown = left - evblock;
        if (shown < 1) { /* tiny terminal: the leader first, events if room is left */
            shown = left < 1 ? 0 : 1;
            evblock = left - shown > 1 ? left - shown : 0;
            ev = evblock ? evblock - 1 : 0;
        }
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return;
    fputs(resized ? "\033[H\033[2J" : "\033[H", f);
    fprintf(f, "\033[1m%s\033[0m\033[K\n", title);
    char note[160] = "";
    if (shown < v->n)
        snprintf(note, sizeof note, "P%d-P%d (%d rows)", shown + 1, v->n, rows);
    if (compact)
        snprintf(note + strlen(note), sizeof note - strlen(note), "%ssectors (%d columns)",
                 *note ? ", " : "", cols);
    if (*note) /* say what is hidden, and what shows it */
        fprintf(f, "\033[2mnot shown: %s; %dx%d shows all\033[0m\033[K\n", note, FULL_COLS,
                v->n + 3 + TICKER + 3);
    else
        fputs("\033[K\n", f);
    table_rows(f, 1, v, v->ctl.state == F1_RUN, compact, shown);
    if (evblock) {
        if (evblock > ev + 1)
            fputs("\033[K\n", f);
        fputs("\033[1mEVENTS\033[0m\033[K\n", f);
        for (int i = 0; i < ev; i++)
            fprintf(f, " %s\033[K\n", s->ticker[i]);
    }
    fputs("\033[J", f);
    fclose(f);
    fwrite(buf, 1, len, s->out);
    fflush(s->out);
    free(buf);
}

void f1_screen_classification(struct f1_screen *s, const struct f1_view *v)
{
    if (s->tty)
        return; /* the full-screen frame already shows it */
    fprintf(s->out, "-- %s classification (%d cars)%s\n", f1_kind_name[v->ctl.kind], v->n,
            v->ctl.kind == F1_Q1 || v->ctl.kind == F1_Q2 ? ", ELIMINATED = out of qualifying" : "");
    table_rows(s->out, 0, v, 0, 0, v->n);
    fflush(s->out);
}
