/* car.c - one car = one process: it owns its record in the cars table and writes it at every
 * timing line. Its times come only from its own random generator, seeded with (seed, car,
 * session): the same seed gives the same results whatever the scheduler does. */
#include "f1.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const struct f1_driver f1_drivers[F1_MAX_CARS] = {
    {1, "VER", "Verstappen", "Red Bull"},     {11, "PER", "Perez", "Red Bull"},
    {16, "LEC", "Leclerc", "Ferrari"},        {55, "SAI", "Sainz", "Ferrari"},
    {4, "NOR", "Norris", "McLaren"},          {81, "PIA", "Piastri", "McLaren"},
    {44, "HAM", "Hamilton", "Mercedes"},      {63, "RUS", "Russell", "Mercedes"},
    {14, "ALO", "Alonso", "Aston Martin"},    {18, "STR", "Stroll", "Aston Martin"},
    {10, "GAS", "Gasly", "Alpine"},           {31, "OCO", "Ocon", "Alpine"},
    {23, "ALB", "Albon", "Williams"},         {2, "SAR", "Sargeant", "Williams"},
    {22, "TSU", "Tsunoda", "RB"},             {3, "RIC", "Ricciardo", "RB"},
    {77, "BOT", "Bottas", "Sauber"},          {24, "ZHO", "Zhou", "Sauber"},
    {20, "MAG", "Magnussen", "Haas"},         {27, "HUL", "Hulkenberg", "Haas"},
};

const char *const f1_causes[] = {"engine", "gearbox", "hydraulics", "brakes", "collision"};
const char *const f1_kind_name[F1_KINDS] = {"PRACTICE", "Q1", "Q2", "Q3", "RACE"};
const char *const f1_kind_file[F1_KINDS] = {"practice", "q1", "q2", "q3", "race"};

int f1_session_laps(int kind, int race_laps)
{
    return kind == F1_RACE ? race_laps : kind == F1_PRACTICE ? 3 : 2;
}

/* splitmix64: small, good enough, and identical in every process. */
struct rng {
    uint64_t s;
};

static uint64_t rnext(struct rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double runif(struct rng *r)
{
    return (double)(rnext(r) >> 11) / 9007199254740992.0;
}

static double rgauss(struct rng *r)
{
    double u = runif(r), v = runif(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static const int64_t sector_base[3] = {28000, 33500, 26500}; /* ms: an 88 s lap */

/* The car's intrinsic pace: team order plus a seed-dependent share. */
static double pace_factor(uint64_t seed, int index)
{
    struct rng r = {seed * 31 + (uint64_t)index * 1000003u + 7};
    return 1.0 + (index / 2) * 0.0011 + runif(&r) * 0.006;
}

static int read_ctl(shmkit_table *ctl, struct f1_ctl *c)
{
    int rc;
    while ((rc = shmkit_table_read(ctl, 0, c, sizeof *c, NULL)) == -EAGAIN)
        ;
    return rc;
}

/* Sleeps until session time SIM_MS. Returns 0, or 1 if the session was stopped. */
static int wait_until(shmkit_table *ctl, const struct f1_ctl *c, int64_t sim_ms)
{
    int64_t due = c->start_ns + (int64_t)((double)sim_ms * 1e6 / c->speed);
    for (;;) {
        int64_t left = due - f1_now_ns();
        if (left <= 0)
            return 0;
        if (left > 20000000)
            left = 20000000; /* look at race control every 20 ms */
        struct timespec ts = {0, (long)left};
        nanosleep(&ts, NULL);
        struct f1_ctl now;
        if (read_ctl(ctl, &now) < 0 || now.state >= F1_FINISHED || now.session != c->session)
            return 1;
        if (getppid() == 1)
            return 1; /* race control is gone */
    }
}

static int run_session(shmkit_table *cars, shmkit_table *ctl, const struct f1_ctl *c, int index)
{
    struct f1_car car;
    memset(&car, 0, sizeof car);
    car.index = index;
    car.number = f1_drivers[index].number;
    car.session = c->session;
    car.running = c->participates[index];
    if (!car.running) {
        car.done = 1;
        return shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
    }
    int rc = shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
    if (rc < 0)
        return rc;

    struct rng r = {c->seed ^ ((uint64_t)(index + 1) << 32) ^ ((uint64_t)c->kind * 0x1234567u)};
    for (int i = 0; i < 4; i++)
        rnext(&r);
    double pace = pace_factor(c->seed, index);
    int race = c->kind == F1_RACE;
    int pit_lap = race && c->laps >= 4 ? 2 + (int)((c->laps - 3) * runif(&r)) : -1;
    double session_delta = c->kind == F1_PRACTICE ? 900 : race ? 0 : -400.0 * c->kind;
    int64_t t = 0; /* session time, ms */
    if (race)
        t = (c->grid[index] > 0 ? c->grid[index] - 1 : index) * 250; /* grid slot to the line */
    else
        t = (int64_t)index * 4000 + (int64_t)(runif(&r) * 3000); /* staggered out laps */
    int tyre_age = 0;

    for (int lap = 1; lap <= c->laps && lap <= F1_MAX_LAPS; lap++) {
        for (int k = 0; k < 3; k++) {
            double ms = (double)sector_base[k] * pace + session_delta / 3.0 + rgauss(&r) * 120.0;
            if (race) {
                ms += (3000.0 - 60.0 * lap) / 3.0 + 30.0 * tyre_age; /* fuel, tyres */
                if (lap == 1 && k == 0)
                    ms += 2500; /* standing start */
            }
            if (runif(&r) < 0.02)
                ms += 400 + runif(&r) * 1500; /* a small mistake */
            if (race && runif(&r) < 0.0012) { /* about one car in four races 20 laps */
                car.out = 1;
                car.cause = (int)(runif(&r) * 5) % 5;
                if (wait_until(ctl, c, t + (int64_t)(ms / 2)))
                    return 0;
                car.done = 1;
                return shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
            }
            if (lap == pit_lap && k == 2) {
                ms += 20500 + rgauss(&r) * 600; /* pit lane and stop */
                car.in_pit = 1;
                shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
            }
            t += (int64_t)ms;
            if (wait_until(ctl, c, t))
                return 0;
            car.cur_s[k] = (int64_t)ms;
            car.sector = k + 1;
            car.total = t;
            if (car.best_s[k] == 0 || car.cur_s[k] < car.best_s[k])
                car.best_s[k] = car.cur_s[k];
            if (k == 2) {
                car.lap = lap;
                car.sector = 0;
                car.last_lap = car.cur_s[0] + car.cur_s[1] + car.cur_s[2];
                memcpy(car.last_s, car.cur_s, sizeof car.last_s);
                memset(car.cur_s, 0, sizeof car.cur_s);
                if (car.best_lap == 0 || car.last_lap < car.best_lap)
                    car.best_lap = car.last_lap;
                car.lap_total[lap] = t;
                car.lap_time[lap] = car.last_lap;
                tyre_age++;
                if (car.in_pit) {
                    car.in_pit = 0;
                    car.pits++;
                    tyre_age = 0;
                }
            }
            rc = shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
            if (rc < 0)
                return rc;
        }
    }
    car.done = 1;
    return shmkit_table_write(cars, (uint32_t)index, &car, sizeof car);
}

int f1_car_main(shmkit_table *cars, shmkit_table *ctl, int index)
{
    if (shmkit_table_claim(cars, (uint32_t)index) < 0)
        return 3;
    int last = 0, status = 0;
    for (;;) {
        struct f1_ctl c;
        if (read_ctl(ctl, &c) < 0 || getppid() == 1) {
            status = 4;
            break;
        }
        if (c.state >= F1_FINISHED)
            break;
        if (c.state == F1_RUN && c.session != last) {
            last = c.session;
            if (run_session(cars, ctl, &c, index) < 0) {
                status = 5;
                break;
            }
            continue;
        }
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    /* a clean exit gives the record up: only a process that dies leaves it owned */
    shmkit_table_release(cars, (uint32_t)index);
    return status;
}
