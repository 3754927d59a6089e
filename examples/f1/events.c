/* events.c - the ticker: race control publishes events (pit stops, retirements, fastest
 * laps, a car process that died) into a third table, BASE-events: a circle of EV_SLOTS
 * records, event N in record N % EV_SLOTS, and the number of events so far in the race
 * control record. A board only reads both, through the tables' seqlocks: it needs no write
 * access at all, so `f1 --attach` maps every segment read-only. Race control never waits for
 * a board; a board that falls more than EV_SLOTS events behind skips ahead and says how many
 * it missed. */
#include "f1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EV_SLOTS F1_EV_SLOTS

struct f1_events {
    shmkit_table *t;
    int64_t next; /* board: number of the next event to show (1 = the first) */
};

static void table_name(char *buf, size_t len, const char *base)
{
    snprintf(buf, len, "%s-events", base);
}

int f1_events_create(struct f1_events **out, const char *base)
{
    char name[300];
    table_name(name, sizeof name, base);
    struct f1_events *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = shmkit_table_create(&e->t, &o, sizeof(struct f1_event), EV_SLOTS, F1_TYPE_EVENTS);
    if (rc < 0)
        goto free_events;
    for (uint32_t i = 0; i < EV_SLOTS && rc == 0; i++)
        rc = shmkit_table_claim(e->t, i) < 0 ? -EBUSY : 0; /* race control writes them all */
    if (rc < 0)
        goto remove_table;
    *out = e;
    return 0;

remove_table:
    shmkit_table_remove(e->t);
    shmkit_table_close(e->t);
free_events:
    free(e);
    return rc;
}

int f1_events_attach(struct f1_events **out, const char *base, shmkit_table *ctl)
{
    char name[300];
    table_name(name, sizeof name, base);
    struct f1_events *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    int rc = shmkit_table_open(&e->t, &o, F1_TYPE_EVENTS);
    struct f1_ctl c;
    if (rc == 0)
        rc = shmkit_table_read(ctl, 0, &c, sizeof c, NULL);
    if (rc < 0) {
        shmkit_table_close(e->t);
        free(e);
        return rc;
    }
    /* a late board starts with the last few events, as on the big screen */
    e->next = c.events > 6 ? c.events - 5 : 1;
    *out = e;
    return 0;
}

void f1_events_close(struct f1_events *e, int remove)
{
    if (!e)
        return;
    if (remove)
        shmkit_table_remove(e->t);
    shmkit_table_close(e->t);
    free(e);
}

int f1_events_publish(struct f1_events *e, shmkit_table *ctl, struct f1_ctl *c,
                      const struct f1_event *ev)
{
    struct f1_event copy = *ev;
    copy.seq = c->events + 1;
    int rc = shmkit_table_write(e->t, (uint32_t)(copy.seq % EV_SLOTS), &copy, sizeof copy);
    if (rc < 0)
        return rc;
    c->events = copy.seq; /* the event is in its record before the count says so */
    return shmkit_table_write(ctl, 0, c, sizeof *c);
}

int f1_events_put(struct f1_events *e, const struct f1_event *ev)
{
    return shmkit_table_write(e->t, (uint32_t)(ev->seq % EV_SLOTS), ev, sizeof *ev);
}

int f1_events_poll(struct f1_events *e, shmkit_table *ctl, struct f1_event *ev)
{
    struct f1_ctl c;
    if (shmkit_table_read(ctl, 0, &c, sizeof c, NULL) < 0 || c.events < e->next)
        return 0;
    int64_t missed = 0;
    if (c.events - e->next >= EV_SLOTS) { /* lapped: those records hold newer events now */
        missed = c.events - EV_SLOTS + 1 - e->next;
        e->next = c.events - EV_SLOTS + 1;
    }
    if (!missed) {
        int rc = shmkit_table_read(e->t, (uint32_t)(e->next % EV_SLOTS), ev, sizeof *ev, NULL);
        if (rc < 0)
            return 0; /* being rewritten: next frame */
        if (ev->seq == e->next) {
            e->next++;
            ev->text[sizeof ev->text - 1] = '\0'; /* shared bytes: terminate before printing */
            return 1;
        }
        missed = 1; /* overwritten between our two reads */
        e->next++;
    }
    memset(ev, 0, sizeof *ev);
    ev->kind = -1;
    snprintf(ev->text, sizeof ev->text, "(%lld events missed: this board fell behind)",
             (long long)missed);
    return 1;
}
