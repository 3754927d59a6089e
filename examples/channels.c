/*
 * channels.c - messages between two (or more) separate programs: a ring and a bus.
 *
 * WHAT IT TEACHES
 *   A RING carries messages from one producer to one consumer, in order, none lost: the
 *   producer waits when the ring is full, the consumer when it is empty (on a futex: no
 *   busy loop), and each side learns if the other died (SHMKIT_EPEERDEAD) instead of
 *   waiting for ever. A BUS carries every message of one publisher to each of several
 *   subscribers, each reading at its own pace (with back-pressure, as here, the publisher
 *   waits for the slowest). Both live inside a named POSIX segment, so the programs only
 *   share its name; the side that creates the segment also removes its name at the end.
 *
 * USAGE   channels ring-recv NAME           creates the ring, prints messages until "bye"
 *         channels ring-send NAME COUNT     sends COUNT messages, then "bye"
 *         channels bus-pub NAME COUNT SUBS  creates the bus, waits for SUBS subscribers,
 *                                           publishes COUNT messages, then "bye"
 *         channels bus-sub NAME LABEL       prints every message, prefixed with LABEL
 */
#include <shmkit.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEC 1000000000LL

static void nap(void)
{
    struct timespec ts = {0, 10000000};
    nanosleep(&ts, NULL);
}

/* Opens NAME once its creator has set it up (layout recorded), for up to 5 s. */
static int open_when_ready(shmkit_seg **seg, const char *name, uint32_t layout)
{
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name};
    int rc = -ENOENT;
    for (int i = 0; i < 500; i++, nap()) {
        struct shmkit_info info;
        if ((rc = shmkit_open(seg, &o)) < 0)
            continue;
        if (shmkit_seg_stat(*seg, &info) == 0 && info.layout == layout)
            return 0;
        shmkit_close(*seg);
        rc = SHMKIT_ELAYOUT;
    }
    return rc;
}

static int ring_recv(const char *name)
{
    shmkit_seg *seg = NULL;
    shmkit_ring *r = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = shmkit_ring_size_for(4096),
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    int rc = shmkit_open(&seg, &o);
    if (rc == 0 && (rc = shmkit_ring_create(&r, seg, 4096, SHMKIT_RING_CONSUMER)) < 0)
        shmkit_seg_remove(seg);
    char msg[256];
    int n = 0;
    while (rc == 0) {
        int len = shmkit_ring_recv(r, msg, sizeof msg - 1, 10 * SEC); /* sleeps while empty */
        if (len < 0) {
            rc = len;
            break;
        }
        msg[len] = '\0';
        if (!strcmp(msg, "bye"))
            break;
        printf("ring-recv: %s\n", msg);
        n++;
    }
    if (seg) {
        shmkit_ring_close(r);
        shmkit_seg_remove(seg);
        shmkit_close(seg);
    }
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    printf("ring-recv: %d messages, then bye; %s removed\n", n, name);
    return 0;
}

static int ring_send(const char *name, int count)
{
    shmkit_seg *seg = NULL;
    shmkit_ring *r = NULL;
    int rc = open_when_ready(&seg, name, SHMKIT_LAYOUT_RING);
    if (rc == 0)
        rc = shmkit_ring_attach(&r, seg, SHMKIT_RING_PRODUCER);
    char msg[64];
    for (int i = 1; rc == 0 && i <= count + 1; i++) {
        int len = i <= count ? snprintf(msg, sizeof msg, "message %d", i) : snprintf(msg, sizeof msg, "bye");
        rc = shmkit_ring_send(r, msg, (size_t)len, 10 * SEC); /* sleeps while full */
    }
    shmkit_ring_close(r);
    shmkit_close(seg);
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    return 0;
}

static int bus_pub(const char *name, int count, unsigned subs)
{
    shmkit_seg *seg = NULL;
    shmkit_bus *b = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name,
                            .size = shmkit_bus_size_for(16, 64, 8), .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    int rc = shmkit_open(&seg, &o);
    if (rc == 0)
        rc = shmkit_bus_create(&b, seg, 16, 64, 8, 0); /* 0: back-pressure, nothing lost */
    struct shmkit_chan_stats st = {0};
    for (int i = 0; rc == 0 && i < 500 && st.readers < subs; i++, nap())
        rc = shmkit_chan_stats(seg, &st); /* a subscriber gets what is published after it joins */
    if (rc == 0 && st.readers < subs)
        rc = -ETIMEDOUT;
    char msg[64];
    for (int i = 1; rc == 0 && i <= count + 1; i++) {
        int len = i <= count ? snprintf(msg, sizeof msg, "message %d", i) : snprintf(msg, sizeof msg, "bye");
        rc = shmkit_bus_send(b, msg, (size_t)len, 10 * SEC);
    }
    shmkit_bus_close(b);
    if (seg) {
        shmkit_seg_remove(seg); /* the subscribers keep their mapping until they are done */
        shmkit_close(seg);
    }
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    return 0;
}

static int bus_sub(const char *name, const char *label)
{
    shmkit_seg *seg = NULL;
    shmkit_sub *s = NULL;
    int rc = open_when_ready(&seg, name, SHMKIT_LAYOUT_BUS);
    if (rc == 0)
        rc = shmkit_bus_subscribe(&s, seg);
    char msg[65];
    while (rc == 0) {
        int len = shmkit_bus_recv(s, msg, sizeof msg - 1, NULL, NULL, 10 * SEC);
        if (len < 0) {
            rc = len;
            break;
        }
        msg[len] = '\0';
        printf("%s: %s\n", label, msg);
        if (!strcmp(msg, "bye"))
            break;
    }
    shmkit_bus_unsubscribe(s);
    shmkit_close(seg);
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0); /* one line at a time, even into a pipe */
    if (argc == 3 && !strcmp(argv[1], "ring-recv"))
        return ring_recv(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "ring-send"))
        return ring_send(argv[2], atoi(argv[3]));
    if (argc == 5 && !strcmp(argv[1], "bus-pub"))
        return bus_pub(argv[2], atoi(argv[3]), (unsigned)atoi(argv[4]));
    if (argc == 4 && !strcmp(argv[1], "bus-sub"))
        return bus_sub(argv[2], argv[3]);
    fprintf(stderr, "usage: channels ring-recv NAME | ring-send NAME COUNT |\n"
                    "                bus-pub NAME COUNT SUBS | bus-sub NAME LABEL\n");
    return 2;
}
