/* local.c - the local buses a bridge carries: attached by name, created
 * (with the geometry of --slots/--msg-max/--max-subs) when missing. */
#include "bridge.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Lays the bus out in a segment this bridge creates, without taking the
 * publisher role: whoever publishes (a local program for an export, the
 * bridge itself for an import) attaches afterwards, and a subscriber that
 * joins first waits for it (a publisher that closed would be end of
 * stream). */
static int make_bus(shmkit_seg *seg, void *arg)
{
    const struct bridge_cfg *cfg = arg;
    shmkit_bus *b;
    int rc = shmkit_bus_create(&b, seg, cfg->slots, cfg->msg_max, cfg->max_subs,
                               (cfg->lossy ? SHMKIT_BUS_LOSSY : 0) | SHMKIT_BUS_NOROLE);
    if (rc < 0)
        return rc;
    return shmkit_bus_close(b);
}

static int open_seg(struct bridge_chan *c, const struct bridge_cfg *cfg)
{
    for (int tries = 0; tries < 3; tries++) {
        struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = c->name,
                                .layout = SHMKIT_LAYOUT_BUS};
        int rc = shmkit_open(&c->seg, &o);
        if (rc != -ENOENT)
            return rc;
        o.flags = SHMKIT_CREATE | SHMKIT_EXCL;
        o.size = shmkit_bus_size_for(cfg->slots, cfg->msg_max, cfg->max_subs);
        o.mode = 0600;
        o.init = make_bus;
        o.init_arg = (void *)cfg;
        rc = shmkit_open(&c->seg, &o);
        if (rc != -EEXIST) /* else another process made it meanwhile: open it */
            return rc;
    }
    return -EEXIST;
}

int bridge_local_open(struct bridge_chan *c, const struct bridge_cfg *cfg)
{
    int rc = open_seg(c, cfg);
    if (rc < 0)
        return rc;
    uint64_t mm;
    rc = shmkit_seg_layout_param(c->seg, 1, &mm);
    if (rc < 0)
        goto fail;
    c->msg_max = (size_t)mm;
    if (c->dirs & DIR_IMPORT) {
        rc = shmkit_bus_attach(&c->pub, c->seg);
        if (rc < 0)
            goto fail;
    }
    if (c->dirs & DIR_EXPORT) {
        rc = shmkit_bus_subscribe(&c->sub, c->seg);
        if (rc < 0)
            goto fail;
    }
    if (c->dirs == (DIR_IMPORT | DIR_EXPORT)) {
        /* a message older than the bus's slot count is gone from the bus
         * (lossy) or cannot have been published yet (back-pressure), so
         * one entry per slot is enough */
        uint64_t slots;
        rc = shmkit_seg_layout_param(c->seg, 0, &slots);
        if (rc < 0)
            goto fail;
        c->nfwd = slots;
        c->fwd = calloc(slots, sizeof *c->fwd);
        if (!c->fwd) {
            rc = -ENOMEM;
            goto fail;
        }
    }
    return 0;
fail:
    bridge_local_close(c);
    return rc;
}

void bridge_local_close(struct bridge_chan *c)
{
    shmkit_bus_unsubscribe(c->sub);
    shmkit_bus_close(c->pub);
    shmkit_close(c->seg);
    free(c->fwd);
    c->sub = NULL;
    c->pub = NULL;
    c->seg = NULL;
    c->fwd = NULL;
}
