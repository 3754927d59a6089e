/* events.c - the ticker: race control publishes events (pit stops, retirements, fastest
 * laps, a car process that died) on a bus, every attached board subscribes to it.
 * The bus is lossy: race control never waits for a slow board; a board that falls more than
 * EV_SLOTS events behind skips ahead and says how many it missed. */
#include "f1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define EV_SLOTS 64
#define EV_SUBS 16

struct f1_events {
    shmkit_seg *seg;
    shmkit_bus *pub; /* race control */
    shmkit_sub *sub; /* an attached board */
    uint64_t lost_told;
};

static void bus_name(char *buf, size_t len, const char *base)
{
    snprintf(buf, len, "%s-events", base);
}

int f1_events_create(struct f1_events **out, const char *base)
{
    char name[300];
    bus_name(name, sizeof name, base);
    struct f1_events *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name,
                            .size = shmkit_bus_size_for(EV_SLOTS, sizeof(struct f1_event), EV_SUBS),
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    int rc = shmkit_open(&e->seg, &o);
    if (rc < 0)
        goto free_events;
    rc = shmkit_bus_create(&e->pub, e->seg, EV_SLOTS, sizeof(struct f1_event), EV_SUBS,
                           SHMKIT_BUS_LOSSY);
    if (rc < 0)
        goto remove_segment;
    *out = e;
    return 0;

remove_segment:
    shmkit_seg_remove(e->seg);
    shmkit_close(e->seg);
free_events:
    free(e);
    return rc;
}

int f1_events_attach(struct f1_events **out, const char *base, shmkit_table *ctl)
{
    (void)ctl;
    char name[300];
    bus_name(name, sizeof name, base);
    struct f1_events *e = calloc(1, sizeof *e);
    if (!e)
        return -ENOMEM;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = shmkit_open(&e->seg, &o); /* writable: a subscriber keeps its cursor in the bus */
    if (rc == 0)
        rc = shmkit_bus_subscribe(&e->sub, e->seg);
    if (rc < 0) {
        shmkit_close(e->seg);
        free(e);
        return rc;
    }
    *out = e;
    return 0;
}

void f1_events_close(struct f1_events *e, int remove)
{
    if (!e)
        return;
    shmkit_bus_unsubscribe(e->sub);
    shmkit_bus_close(e->pub);
    if (remove)
        shmkit_seg_remove(e->seg);
    shmkit_close(e->seg);
    free(e);
}

const char *f1_events_transport(const struct f1_events *e)
{
    (void)e;
    return "bus";
}

int f1_events_publish(struct f1_events *e, shmkit_table *ctl, struct f1_ctl *c,
                      const struct f1_event *ev)
{
    (void)ctl;
    (void)c;
    return shmkit_bus_send(e->pub, ev, sizeof *ev, 0); /* lossy: never waits */
}

int f1_events_poll(struct f1_events *e, shmkit_table *ctl, struct f1_event *ev)
{
    (void)ctl;
    uint64_t lost = 0;
    int n = shmkit_bus_recv(e->sub, ev, sizeof *ev, NULL, &lost, 0);
    if (lost) {
        memset(ev, 0, sizeof *ev);
        ev->kind = -1;
        snprintf(ev->text, sizeof ev->text, "(%llu events missed: this board fell behind)",
                 (unsigned long long)lost);
        return 1;
    }
    if (n != (int)sizeof *ev)
        return 0; /* nothing new (-EAGAIN), race control gone, or a short message */
    ev->text[sizeof ev->text - 1] = '\0'; /* shared bytes: terminate before printing */
    return 1;
}
