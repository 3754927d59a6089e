/* events.c - the ticker: race control publishes events (pit stops, retirements, fastest
 * laps, a process that died), every board shows them.
 * Transport: the last F1_EVENTS events live in the race control record itself, under its
 * seqlock; a board remembers how many it has seen and catches up from the ring. */
#include "f1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct f1_events {
    uint32_t seen; /* events this board has shown */
};

int f1_events_create(struct f1_events **out, const char *base)
{
    (void)base;
    *out = calloc(1, sizeof **out);
    return *out ? 0 : -ENOMEM;
}

int f1_events_attach(struct f1_events **out, const char *base, shmkit_table *ctl)
{
    (void)base;
    struct f1_ctl c;
    int rc = shmkit_table_read(ctl, 0, &c, sizeof c, NULL);
    if (rc < 0)
        return rc;
    *out = calloc(1, sizeof **out);
    if (!*out)
        return -ENOMEM;
    /* a late board starts with the recent past still in the ring */
    (*out)->seen = c.nevents > F1_EVENTS ? c.nevents - F1_EVENTS : 0;
    return 0;
}

void f1_events_close(struct f1_events *e, int remove)
{
    (void)remove;
    free(e);
}

const char *f1_events_transport(const struct f1_events *e)
{
    (void)e;
    return "race control record";
}

int f1_events_publish(struct f1_events *e, shmkit_table *ctl, struct f1_ctl *c,
                      const struct f1_event *ev)
{
    c->ev[c->nevents % F1_EVENTS] = *ev;
    c->nevents++;
    e->seen = c->nevents; /* race control shows its own events directly */
    return shmkit_table_write(ctl, 0, c, sizeof *c);
}

int f1_events_poll(struct f1_events *e, shmkit_table *ctl, struct f1_event *ev)
{
    struct f1_ctl c;
    if (shmkit_table_read(ctl, 0, &c, sizeof c, NULL) < 0)
        return 0;
    if (c.nevents == e->seen)
        return 0;
    if (c.nevents - e->seen > F1_EVENTS)
        e->seen = c.nevents - F1_EVENTS; /* fell behind: the oldest are gone */
    *ev = c.ev[e->seen % F1_EVENTS];
    ev->text[sizeof ev->text - 1] = '\0'; /* shared bytes: terminate before printing */
    e->seen++;
    return 1;
}
