/* feed.c - the weekend as messages (`f1 --feed`), for a board on another host.
 *
 * A table lives in one host's /dev/shm; `shmkit bridge` carries buses, not tables. So race
 * control also publishes what the boards read - the race control record, each car's record,
 * the ticker's events - on a LOSSY bus, BASE-feed, which a bridge carries to other hosts,
 * where `f1 --mirror` writes the records into tables of its own (mirror.c).
 *
 * Lossy, because a slow or far board must never hold up the race: race control never waits
 * for the feed's readers. A lost message is made good by a later one: a car's record goes out
 * when it changed, and every record (plus the last few events) at least once a second and at
 * every change of session or state (a KEYFRAME), so a mirror that lost a message, or joined
 * late, is whole again within a second. The race control record goes out at every refresh
 * (20 Hz): it is also the heartbeat. At the end, END (three times: one may be lost).
 *
 * A message is a struct f1_feed_hdr and the record's bytes as they are in the tables: both
 * ends run this program, so the records need no encoding; a mirror built with another
 * layout (another version, another ABI) refuses every message by its version or length. */
#include "f1.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYFRAME_NS 1000000000LL /* every record at least this often                   */
#define END_COPIES 3

struct f1_feed {
    shmkit_bus *bus;
    struct f1_car sent[F1_MAX_CARS]; /* what the mirrors last got of each car             */
    unsigned char sent_dead[F1_MAX_CARS];
    int64_t last_key;                /* CLOCK_MONOTONIC of the last keyframe (0: none)     */
    int32_t last_state, last_session;
    struct f1_event recent[F1_FEED_RESEND]; /* the last events, oldest first             */
    int nrecent;
    int made;                        /* this process created the bus: it removes it        */
};

void f1_feed_bus_config(struct shmkit_bus_config *cfg)
{
    /* 1024 slots: a mirror may fall ~2 s of a 20-car weekend behind before it loses any */
    *cfg = (struct shmkit_bus_config){.flags = SHMKIT_BUS_LOSSY, .slots = 1024,
                                      .msg_max = F1_FEED_MSG_MAX, .max_subs = 16};
}

int f1_feed_open(struct f1_feed **out, const char *bus)
{
    struct f1_feed *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = bus, .flags = SHMKIT_CREATE,
                            .mode = 0600};
    struct shmkit_bus_config cfg;
    f1_feed_bus_config(&cfg);
    cfg.role = SHMKIT_ROLE_PUBLISHER;
    int rc = shmkit_bus_join(&f->bus, &o, &cfg);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->made = shmkit_seg_created(shmkit_bus_seg(f->bus)) == 1;
    f->last_state = f->last_session = -1;
    *out = f;
    return 0;
}

void f1_feed_close(struct f1_feed *f)
{
    if (!f)
        return;
    if (f->made) /* a bus a bridge made (it was there first) is the bridge's */
        shmkit_seg_remove(shmkit_bus_seg(f->bus));
    shmkit_bus_close(f->bus); /* end of stream for the bridge that reads it */
    free(f);
}

/* One message: header + LEN record bytes. Lossy: never waits, fails only on bad arguments. */
static void send_msg(struct f1_feed *f, int type, uint32_t index, int flags, const void *rec,
                     size_t len)
{
    unsigned char buf[F1_FEED_MSG_MAX];
    struct f1_feed_hdr h = {.magic = F1_FEED_MAGIC, .version = F1_FEED_VERSION,
                            .type = (uint8_t)type, .flags = (uint8_t)flags, .index = index,
                            .len = (uint32_t)len, .sent_ns = f1_now_ns()};
    memcpy(buf, &h, sizeof h);
    if (len)
        memcpy(buf + sizeof h, rec, len);
    shmkit_bus_send(f->bus, buf, sizeof h + len, 0);
}

void f1_feed_event(struct f1_feed *f, const struct f1_event *ev)
{
    if (!f)
        return;
    send_msg(f, F1_FEED_EVENT, 0, 0, ev, sizeof *ev);
    if (f->nrecent == F1_FEED_RESEND) {
        memmove(f->recent, f->recent + 1, sizeof f->recent[0] * (F1_FEED_RESEND - 1));
        f->nrecent--;
    }
    f->recent[f->nrecent++] = *ev;
}

void f1_feed_tick(struct f1_feed *f, const struct f1_ctl *c, const struct f1_car *cars,
                  const int *dead, int force)
{
    if (!f)
        return;
    int64_t now = f1_now_ns();
    int key = force || !f->last_key || now - f->last_key >= KEYFRAME_NS ||
              c->state != f->last_state || c->session != f->last_session;
    /* the cars before the race control record: a mirror that sees a session end has its
     * final records already */
    for (int i = 0; i < c->ncars && i < F1_MAX_CARS; i++) {
        int d = dead[i] != 0;
        if (cars[i].index != i)
            continue; /* race control has not read this car yet */
        if (!key && d == f->sent_dead[i] && !memcmp(&cars[i], &f->sent[i], sizeof cars[i]))
            continue;
        send_msg(f, F1_FEED_CAR, (uint32_t)i, d ? F1_FEED_DEAD : 0, &cars[i], sizeof cars[i]);
        f->sent[i] = cars[i];
        f->sent_dead[i] = (unsigned char)d;
    }
    if (key) {
        for (int i = 0; i < f->nrecent; i++)
            send_msg(f, F1_FEED_EVENT, 0, 0, &f->recent[i], sizeof f->recent[i]);
        f->last_key = now;
        f->last_state = c->state;
        f->last_session = c->session;
    }
    send_msg(f, F1_FEED_CTL, 0, 0, c, sizeof *c);
}

void f1_feed_end(struct f1_feed *f, const struct f1_ctl *c, const struct f1_car *cars,
                 const int *dead)
{
    if (!f)
        return;
    f1_feed_tick(f, c, cars, dead, 1);
    for (int i = 0; i < END_COPIES; i++)
        send_msg(f, F1_FEED_END, 0, 0, NULL, 0);
}
