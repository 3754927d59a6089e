/* results.c - each session's classification as results/<session>.csv and .json.
 * A car that is out (process died, or retired) has no gap: the board says OUT or DNF there,
 * and so do the files (gap_ms and laps_behind empty in the CSV, null in the JSON). */
#include "f1.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static const char *status_of(const struct f1_row *r)
{
    return r->dead ? "OUT" : r->c.out ? "DNF" : r->elim ? "ELIMINATED" : "CLASSIFIED";
}

static FILE *open_tmp(const char *dir, const char *name, const char *ext, char *tmp, size_t len)
{
    snprintf(tmp, len, "%s/.%s.%s.tmp", dir, name, ext);
    return fopen(tmp, "w");
}

static int finish(FILE *f, const char *tmp, const char *dir, const char *name, const char *ext)
{
    char path[4200];
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return -EIO;
    }
    snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext);
    return rename(tmp, path) < 0 ? -errno : 0; /* readers never see half a file */
}

int f1_results_write(const char *dir, const struct f1_view *v)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    const char *name = f1_kind_file[v->ctl.kind];
    int race = v->ctl.kind == F1_RACE;
    char tmp[4200];
    FILE *f = open_tmp(dir, name, "csv", tmp, sizeof tmp);
    if (!f)
        return -errno;
    fprintf(f, "pos,number,code,driver,team,status,cause,laps,best_lap_ms,best_lap,best_s1_ms,"
               "best_s2_ms,best_s3_ms,total_ms,gap_ms,laps_behind,pits,grid\n");
    for (int p = 0; p < v->n; p++) {
        const struct f1_row *r = &v->rows[p];
        const struct f1_driver *d = &f1_drivers[r->idx];
        char best[16], gap[24] = "", behind[16] = "";
        f1_fmt_time(best, sizeof best, r->c.best_lap);
        if (!r->dead && !r->c.out) {
            snprintf(gap, sizeof gap, "%lld", (long long)(p ? r->gap : 0));
            snprintf(behind, sizeof behind, "%d", r->laps_behind);
        }
        fprintf(f, "%d,%d,%s,%s,%s,%s,%s,%d,%lld,%s,%lld,%lld,%lld,%lld,%s,%s,%d,%d\n", p + 1,
                d->number, d->code, d->name, d->team, status_of(r),
                r->c.out && !r->dead ? f1_causes[r->c.cause % 5] : r->dead ? "process died" : "",
                r->c.lap, (long long)r->c.best_lap, best, (long long)r->c.best_s[0],
                (long long)r->c.best_s[1], (long long)r->c.best_s[2],
                (long long)(race ? r->c.total : 0), gap, behind, r->c.pits,
                race ? v->ctl.grid[r->idx] : 0);
    }
    int rc = finish(f, tmp, dir, name, "csv");
    if (rc < 0)
        return rc;

    f = open_tmp(dir, name, "json", tmp, sizeof tmp);
    if (!f)
        return -errno;
    fprintf(f, "{\n  \"session\": \"%s\",\n  \"laps\": %d,\n  \"seed\": %llu,\n  \"cars\": %d,\n",
            name, v->ctl.laps, (unsigned long long)v->ctl.seed, v->ctl.ncars);
    fprintf(f, "  \"fastest_lap\": {\"number\": %d, \"ms\": %lld},\n",
            v->best_lap_car >= 0 ? f1_drivers[v->best_lap_car].number : 0,
            (long long)v->best_lap);
    fprintf(f, "  \"classification\": [\n");
    for (int p = 0; p < v->n; p++) {
        const struct f1_row *r = &v->rows[p];
        const struct f1_driver *d = &f1_drivers[r->idx];
        char gap[24] = "null", behind[16] = "null";
        if (!r->dead && !r->c.out) {
            snprintf(gap, sizeof gap, "%lld", (long long)(p ? r->gap : 0));
            snprintf(behind, sizeof behind, "%d", r->laps_behind);
        }
        fprintf(f, "    {\"pos\": %d, \"number\": %d, \"code\": \"%s\", \"driver\": \"%s\", "
                   "\"team\": \"%s\", \"status\": \"%s\", \"laps\": %d, \"best_lap_ms\": %lld, "
                   "\"best_sectors_ms\": [%lld, %lld, %lld], \"total_ms\": %lld, "
                   "\"gap_ms\": %s, \"laps_behind\": %s, \"pits\": %d, \"grid\": %d, "
                   "\"lap_times_ms\": [",
                p + 1, d->number, d->code, d->name, d->team, status_of(r), r->c.lap,
                (long long)r->c.best_lap, (long long)r->c.best_s[0], (long long)r->c.best_s[1],
                (long long)r->c.best_s[2], (long long)(race ? r->c.total : 0),
                gap, behind, r->c.pits,
                race ? v->ctl.grid[r->idx] : 0);
        for (int l = 1; l <= r->c.lap && l <= F1_MAX_LAPS; l++)
            fprintf(f, "%s%lld", l > 1 ? ", " : "", (long long)r->c.lap_time[l]);
        fprintf(f, "]}%s\n", p + 1 < v->n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return finish(f, tmp, dir, name, "json");
}
