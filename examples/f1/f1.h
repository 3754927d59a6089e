/*
 * f1.h - the F1 timing board: what the car processes, race control and the boards share.
 *
 * WHAT IT TEACHES (the course's final project, done with shmkit)
 *   One process per car writes its own record (sector times, laps, pit, out) into a shared
 *   table; race control and any number of boards read consistent snapshots of every record
 *   at >= 10 Hz without ever making a car wait. The table gives each record a seqlock (no
 *   torn reads: a board never shows S1 of one lap with S2 of another) and an owner record
 *   (a board knows a car's process died: kill -9 one and watch it go OUT). Race control
 *   publishes a ticker of events (pit stops, retirements, fastest laps) for every board.
 *
 * The course's F1_Car used doubles and ints; here every time is an int64 of milliseconds
 * (exact, comparable, no rounding differences between processes) and the record carries
 * what a board needs to rank cars and compute gaps without asking anyone.
 */
#ifndef F1_H
#define F1_H

#include <shmkit.h>

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* The monotonic clock in nanoseconds: every process of a weekend on one host
 * agrees on it (the mirror moves times onto its own host's). */
static inline int64_t f1_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static inline void f1_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

#define F1_MAX_CARS 20
#define F1_MAX_LAPS 99
#define F1_MAX_SESSIONS 5

#define F1_TYPE_CARS 0x46312d4341525331ull /* "F1-CARS1": table type ids */
#define F1_TYPE_CTL 0x46312d4354524c32ull  /* "F1-CTRL2" (2: the event count) */
#define F1_TYPE_EVENTS 0x46312d4556454e54ull /* "F1-EVENT" */

enum f1_kind { F1_PRACTICE, F1_Q1, F1_Q2, F1_Q3, F1_RACE, F1_KINDS };

enum f1_state {
    F1_WAIT = 0,     /* cars are getting ready                                  */
    F1_RUN = 1,      /* session ctl.session is running                          */
    F1_BETWEEN = 2,  /* session ctl.session is over, classification final       */
    F1_FINISHED = 3, /* the weekend is over: cars leave                         */
    F1_ABORT = 4     /* stopped (Ctrl-C): cars leave at once                    */
};

/* One car, written only by its own process. */
struct f1_car {
    int32_t index;     /* 0..ncars-1                                            */
    int32_t number;    /* race number                                           */
    int32_t session;   /* session sequence number this data belongs to (0 none) */
    int32_t running;   /* takes part in this session                            */
    int32_t lap;       /* laps completed                                        */
    int32_t sector;    /* sectors completed in the current lap (0..2)           */
    int32_t in_pit;    /* in the pit lane now                                   */
    int32_t out;       /* retired (process still alive)                         */
    int32_t cause;     /* retirement cause (index into f1_causes)               */
    int32_t done;      /* finished the session                                  */
    int32_t pits;      /* pit stops so far                                      */
    int32_t pad;
    int64_t cur_s[3];  /* sector times of the current lap, ms (0 = not yet)      */
    int64_t last_s[3]; /* sectors of the last completed lap                     */
    int64_t best_s[3]; /* personal best sectors of the session                  */
    int64_t last_lap, best_lap; /* ms                                           */
    int64_t total;     /* session time at the last timing line crossed, ms      */
    int64_t lap_total[F1_MAX_LAPS + 1]; /* total at the end of each lap (gaps)   */
    int64_t lap_time[F1_MAX_LAPS + 1];  /* time of each lap                      */
};

struct f1_event {
    int64_t seq;     /* 1, 2, ...: which event this record holds               */
    int32_t session; /* session sequence number                               */
    int32_t kind;    /* enum f1_kind of that session                           */
    int32_t car;     /* car index, -1 for none                                 */
    int32_t lap;
    char text[80];
};

/* The race control record (table of one record, written by race control). */
struct f1_ctl {
    int32_t state;   /* enum f1_state                                          */
    int32_t session; /* sequence number of the current session, 1..nsessions   */
    int32_t kind;    /* enum f1_kind of the current session                    */
    int32_t laps;    /* laps of the current session                            */
    int32_t ncars;
    int32_t race_laps;
    int32_t nsessions;
    int32_t kinds[F1_MAX_SESSIONS];
    int64_t start_ns;  /* CLOCK_MONOTONIC of session time 0                    */
    double speed;      /* session seconds per wall-clock second                */
    uint64_t seed;
    int32_t participates[F1_MAX_CARS];
    int32_t grid[F1_MAX_CARS];  /* race: grid slot (1 = pole) per car, 0 none   */
    int32_t director_pid;
    int32_t sysv;      /* the cars table is a System V IPC_PRIVATE segment     */
    int64_t events;    /* events published so far (see events.c)              */
};

struct f1_driver {
    int number;
    const char *code, *name, *team;
};

extern const struct f1_driver f1_drivers[F1_MAX_CARS];
extern const char *const f1_causes[];
extern const char *const f1_kind_name[F1_KINDS];  /* "PRACTICE", "Q1", ...    */
extern const char *const f1_kind_file[F1_KINDS];  /* "practice", "q1", ...    */

/* Session laps for every kind but the race (race: --laps). */
int f1_session_laps(int kind, int race_laps);

/* car.c: the body of a car process; returns its exit status. */
int f1_car_main(shmkit_table *cars, shmkit_table *ctl, int index);

/* The view of one session a board builds from snapshots. */
struct f1_row {
    int idx;        /* car index                                              */
    int dead;       /* the car's process died (owner gone, record not released) */
    int elim;       /* eliminated by this session's cut (qualifying)          */
    struct f1_car c;
    int64_t gap, interval; /* ms; -1 = none; for laps behind see laps_behind  */
    int laps_behind;
};

struct f1_view {
    struct f1_ctl ctl;
    int n;                       /* rows: participants of the session        */
    struct f1_row rows[F1_MAX_CARS]; /* in classification order              */
    int64_t best_s[3];           /* fastest sector of the session (0 none)    */
    int64_t best_lap;
    int best_lap_car;
};

/* board.c */
/* Reads every record (consistent snapshots; a record whose writer died mid-write
 * keeps its previous snapshot in PREV) and ranks the session's participants. */
int f1_view_build(struct f1_view *v, shmkit_table *cars, shmkit_table *ctl, struct f1_car *prev,
                  int *seen_dead);
/* Number of cars that go through from a qualifying session of N cars (N for others). */
int f1_cut(int kind, int n);
void f1_fmt_time(char *buf, size_t len, int64_t ms);
void f1_fmt_gap(char *buf, size_t len, const struct f1_row *r, int first);

struct f1_screen;
struct f1_screen *f1_screen_open(int tty, FILE *out);
void f1_screen_close(struct f1_screen *s);
void f1_screen_frame(struct f1_screen *s, const struct f1_view *v, const char *title);
void f1_screen_event(struct f1_screen *s, const struct f1_event *e);
void f1_screen_classification(struct f1_screen *s, const struct f1_view *v);
void f1_screen_line(struct f1_screen *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* results.c: DIR/<session>.csv and .json. Returns 0 or -errno. */
int f1_results_write(const char *dir, const struct f1_view *v);

/* events.c: the ticker in a table (segment BASE-events). Race control publishes, boards
 * poll read-only. */
#define F1_EV_SLOTS 64 /* event N is in record N % F1_EV_SLOTS */
struct f1_events;
int f1_events_create(struct f1_events **out, const char *base);
int f1_events_attach(struct f1_events **out, const char *base, shmkit_table *ctl);
void f1_events_close(struct f1_events *e, int remove);
int f1_events_publish(struct f1_events *e, shmkit_table *ctl, struct f1_ctl *c,
                      const struct f1_event *ev);
/* The next event not yet seen: 1 and *EV, 0 if none. */
int f1_events_poll(struct f1_events *e, shmkit_table *ctl, struct f1_event *ev);

/* events.c, for a mirror: writes event EV->seq into its record as it is, without counting it
 * in the race control record (the mirror keeps its own count). Returns 0 or an error of
 * shmkit_table_write. */
int f1_events_put(struct f1_events *e, const struct f1_event *ev);

/* feed.c: the weekend as messages on a lossy bus (f1 --feed), for f1 --mirror on another
 * host (through shmkit bridge). Each message is a header and one record's bytes. */
#define F1_FEED_MAGIC 0x44463146u /* "F1FD" */
#define F1_FEED_VERSION 1
#define F1_FEED_RESEND 8    /* events repeated in every keyframe                     */
#define F1_FEED_MSG_MAX 4096 /* the feed bus's largest message                       */

enum f1_feed_type {
    F1_FEED_CTL = 1,   /* struct f1_ctl: the race control record (20 Hz: also the heartbeat) */
    F1_FEED_CAR = 2,   /* struct f1_car of car INDEX; flag F1_FEED_DEAD: its process died  */
    F1_FEED_EVENT = 3, /* struct f1_event                                               */
    F1_FEED_END = 4    /* no record: the weekend is over, the feed ends                  */
};
#define F1_FEED_DEAD 1

struct f1_feed_hdr {
    uint32_t magic;   /* F1_FEED_MAGIC                                          */
    uint8_t version;  /* F1_FEED_VERSION                                        */
    uint8_t type;     /* enum f1_feed_type                                      */
    uint8_t flags;    /* F1_FEED_DEAD                                           */
    uint8_t pad;
    uint32_t index;   /* F1_FEED_CAR: the car                                   */
    uint32_t len;     /* record bytes after the header: exactly its type's size */
    int64_t sent_ns;  /* sender's CLOCK_MONOTONIC (a mirror rebases start_ns)  */
};

struct f1_feed;
/* The feed bus's geometry (lossy), for its publisher and its subscribers alike. */
void f1_feed_bus_config(struct shmkit_bus_config *cfg);
/* Joins (creating it if missing) the lossy bus BUS as its publisher. 0 or a join error. */
int f1_feed_open(struct f1_feed **out, const char *bus);
/* Closes the bus (end of stream for its readers) and removes it if f1_feed_open made it.
 * Accepts NULL. */
void f1_feed_close(struct f1_feed *f);
/* One refresh: the cars whose record changed (all of them in a keyframe: FORCE, a change of
 * session or state, or a second since the last one), then the race control record. */
void f1_feed_tick(struct f1_feed *f, const struct f1_ctl *c, const struct f1_car *cars,
                  const int *dead, int force);
void f1_feed_event(struct f1_feed *f, const struct f1_event *ev);
/* A last keyframe, then END. */
void f1_feed_end(struct f1_feed *f, const struct f1_ctl *c, const struct f1_car *cars,
                 const int *dead);

/* mirror.c */
struct f1_mirror_cfg {
    const char *bus;     /* the feed bus to read                                   */
    const char *name;    /* base name of the tables to make (NULL: /shmkit-f1-PID) */
    const char *results; /* write each session's results there too (NULL: no)      */
    double idle;         /* give up after this many seconds without a message      */
};
/* f1 --mirror: rebuilds a fed weekend in local tables until END, the feed's end of stream,
 * IDLE seconds of silence, or SIGINT/SIGTERM; removes them then. Returns the exit status. */
int f1_mirror_main(const struct f1_mirror_cfg *cfg);
/* f1 --inject (for tests): publishes on BUS the messages read from standard input, each a
 * 4-byte little-endian length and that many bytes, once a subscriber joined. */
int f1_inject_main(const char *bus);

#endif
