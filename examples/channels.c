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
 *   share its name. Every program makes the same join call with its own role, whichever
 *   starts first: the first one creates the channel, the others attach to it, and nobody
 *   needs a retry loop. The consumer (the publisher) removes the name at the end, whoever
 *   created it.
 *
 * USAGE   channels ring-recv NAME           prints messages until "bye", removes the ring
 *         channels ring-send NAME COUNT     sends COUNT messages, then "bye"
 *         channels bus-pub NAME COUNT SUBS  waits for SUBS subscribers, publishes COUNT
 *                                           messages, then "bye", removes the bus
 *         channels bus-sub NAME LABEL       prints every message, prefixed with LABEL
 */
#include <shmkit.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEC 1000000000LL

/* Every side of a channel names it the same way, and creates it if it is not there yet. */
static struct shmkit_opts where(const char *name)
{
    return (struct shmkit_opts){.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_CREATE};
}

/* Both ends of the bus agree on its geometry: 16 slots of up to 64 bytes, 8 subscribers. */
static struct shmkit_bus_config bus_config(unsigned role)
{
    return (struct shmkit_bus_config){.role = role, .slots = 16, .msg_max = 64, .max_subs = 8};
}

static int ring_recv(const char *name)
{
    shmkit_ring *r = NULL;
    struct shmkit_opts o = where(name);
    struct shmkit_ring_config cfg = {.role = SHMKIT_ROLE_CONSUMER, .max_msg = 255};
    int rc = shmkit_ring_join(&r, &o, &cfg); /* creates the ring, or attaches to the sender's */
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
    if (r) {
        shmkit_seg_remove(shmkit_ring_seg(r)); /* the name goes; the sender keeps its mapping */
        shmkit_ring_close(r);                  /* closes the segment too */
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
    shmkit_ring *r = NULL;
    struct shmkit_opts o = where(name);
    struct shmkit_ring_config cfg = {.role = SHMKIT_ROLE_PRODUCER, .max_msg = 255};
    int rc = shmkit_ring_join(&r, &o, &cfg); /* the same call: whoever comes first creates */
    char msg[64];
    for (int i = 1; rc == 0 && i <= count + 1; i++) {
        int len = i <= count ? snprintf(msg, sizeof msg, "message %d", i) : snprintf(msg, sizeof msg, "bye");
        rc = shmkit_ring_send(r, msg, (size_t)len, 10 * SEC); /* sleeps while full */
    }
    shmkit_ring_close(r);
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    return 0;
}

static int bus_pub(const char *name, int count, unsigned subs)
{
    shmkit_bus *b = NULL;
    struct shmkit_opts o = where(name);
    struct shmkit_bus_config cfg = bus_config(SHMKIT_ROLE_PUBLISHER); /* back-pressure: nothing lost */
    int rc = shmkit_bus_join(&b, &o, &cfg);
    if (rc == 0) /* a subscriber gets what is published after it joins */
        rc = shmkit_bus_wait_subscribers(b, subs, 5 * SEC);
    char msg[64];
    for (int i = 1; rc == 0 && i <= count + 1; i++) {
        int len = i <= count ? snprintf(msg, sizeof msg, "message %d", i) : snprintf(msg, sizeof msg, "bye");
        rc = shmkit_bus_send(b, msg, (size_t)len, 10 * SEC);
    }
    if (b)
        shmkit_seg_remove(shmkit_bus_seg(b)); /* the subscribers keep their mapping until they are done */
    shmkit_bus_close(b);
    if (rc < 0) {
        fprintf(stderr, "channels: %s: %s\n", name, shmkit_strerror(rc));
        return 1;
    }
    return 0;
}

static int bus_sub(const char *name, const char *label)
{
    shmkit_sub *s = NULL;
    struct shmkit_opts o = where(name);
    struct shmkit_bus_config cfg = bus_config(SHMKIT_ROLE_SUBSCRIBER);
    int rc = shmkit_sub_join(&s, &o, &cfg);
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
    shmkit_bus_unsubscribe(s); /* closes the segment too */
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
