/* mutex.c - robust, process-shared, error-checking pthread mutex in shared
 * memory, with shmkit's owner-died protocol. */
#include "sync_internal.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* The magic says which pthread ABI wrote the mutex, as LMDB's lock format
 * does: a pthread_mutex_t is only meaningful to the C library, word size
 * and layout that initialised it, so a 32-bit and a 64-bit process, or a
 * glibc and a musl program, must not share one. Bytes, high to low: 'm',
 * the C library, the pointer size, sizeof(pthread_mutex_t). A magic with
 * the tag and other bytes is another ABI's mutex: SHMKIT_EVERSION. */
#define MUTEX_TAG 0x6du /* 'm' (the tag of the format before this one, too) */
#if defined(__GLIBC__)
#define MUTEX_LIBC 'g'
#elif defined(__BIONIC__)
#define MUTEX_LIBC 'b'
#elif defined(__UCLIBC__)
#define MUTEX_LIBC 'u'
#else
#define MUTEX_LIBC 'o' /* another C library (musl defines no macro to tell) */
#endif
#define MUTEX_MAGIC                                                                                \
    ((uint32_t)MUTEX_TAG << 24 | (uint32_t)MUTEX_LIBC << 16 | (uint32_t)sizeof(void *) << 8 |      \
     (uint32_t)sizeof(pthread_mutex_t))
_Static_assert(sizeof(pthread_mutex_t) < 256, "the size fits the magic's low byte");
#define MAGIC_OFF (sizeof(((struct shmkit_mutex *)0)->u.bytes) - sizeof(uint32_t))

_Static_assert(sizeof(pthread_mutex_t) <= MAGIC_OFF, "pthread_mutex_t fits before the magic");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(uint64_t), "alignment of pthread_mutex_t");

static pthread_mutex_t *pm(struct shmkit_mutex *m)
{
    return (pthread_mutex_t *)(void *)m->u.bytes;
}

static uint32_t *magic(struct shmkit_mutex *m)
{
    return (uint32_t *)(void *)(m->u.bytes + MAGIC_OFF);
}

/* 0 if M was initialised by this pthread ABI; SHMKIT_EVERSION if by
 * another one (see MUTEX_MAGIC); -EINVAL for NULL or anything else. */
static int check(struct shmkit_mutex *m)
{
    if (!m)
        return -EINVAL;
    /* acquire: pairs with init's release, the mutex is initialised */
    uint32_t mg = shmkit__load_acquire(magic(m));
    if (mg == MUTEX_MAGIC)
        return 0;
    return mg >> 24 == MUTEX_TAG ? SHMKIT_EVERSION : -EINVAL;
}

/* pthread's error numbers to shmkit's codes: every call's result goes
 * through here, so EOWNERDEAD and ENOTRECOVERABLE never leak as raw -errno. */
static int code(int e)
{
    switch (e) {
    case 0:
        return 0;
    case EOWNERDEAD:
        return SHMKIT_EOWNERDEAD;
    case ENOTRECOVERABLE:
        return SHMKIT_ENOTRECOVERABLE;
    default:
        return -e;
    }
}

int shmkit_mutex_init(struct shmkit_mutex *m)
{
    if (!m)
        return -EINVAL;
    pthread_mutexattr_t a;
    int e = pthread_mutexattr_init(&a);
    if (e)
        return -e;
    if ((e = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED)) ||
        (e = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST)) ||
        (e = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK)))
        goto destroy_attr;
    memset(m, 0, sizeof *m);
    e = pthread_mutex_init(pm(m), &a);
    if (!e)
        /* release: the initialised mutex is visible before the magic */
        shmkit__store_release(magic(m), MUTEX_MAGIC);
destroy_attr:
    pthread_mutexattr_destroy(&a);
    return e == EINVAL ? -ENOTSUP : -e;
}

int shmkit_mutex_lock(struct shmkit_mutex *m)
{
    int rc = check(m);
    if (rc < 0)
        return rc;
    return code(pthread_mutex_lock(pm(m)));
}

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 30))
/* CLOCK_MONOTONIC: a wall-clock step must not stretch or cut the wait */
#define LOCK_CLOCK CLOCK_MONOTONIC
#define abs_lock(mx, ts) pthread_mutex_clocklock(mx, CLOCK_MONOTONIC, ts)
#else
#define LOCK_CLOCK CLOCK_REALTIME
#define abs_lock(mx, ts) pthread_mutex_timedlock(mx, ts)
#endif

/* Tries once. Not pthread_mutex_trylock: in glibc (seen in 2.36), trylock
 * on an unrecoverable robust mutex returns ENOTRECOVERABLE but leaves the
 * caller's thread id in the lock word, and every later call on the mutex
 * then fails with EDEADLK. A timed lock with a deadline already past tries
 * once too (one CAS when free) and has no such bug. */
static int try_once(struct shmkit_mutex *m)
{
    static const struct timespec past = {0, 0};
    return abs_lock(pm(m), &past);
}

int shmkit_mutex_trylock(struct shmkit_mutex *m)
{
    int rc = check(m);
    if (rc < 0)
        return rc;
    int e = try_once(m);
    return code(e == EDEADLK || e == ETIMEDOUT ? EBUSY : e);
}

int shmkit_mutex_timedlock(struct shmkit_mutex *m, int64_t timeout_ns)
{
    int rc = check(m);
    if (rc < 0)
        return rc;
    if (timeout_ns < 0)
        return code(pthread_mutex_lock(pm(m)));
    if (timeout_ns == 0)
        return code(try_once(m));
    struct timespec ts;
    clock_gettime(LOCK_CLOCK, &ts);
    int64_t ns = ts.tv_nsec + timeout_ns % 1000000000;
    ts.tv_sec += (time_t)(timeout_ns / 1000000000 + ns / 1000000000);
    ts.tv_nsec = (long)(ns % 1000000000);
    return code(abs_lock(pm(m), &ts));
}

int shmkit_mutex_unlock(struct shmkit_mutex *m)
{
    int rc = check(m);
    if (rc < 0)
        return rc;
    return code(pthread_mutex_unlock(pm(m)));
}

int shmkit_mutex_consistent(struct shmkit_mutex *m)
{
    int rc = check(m);
    if (rc < 0)
        return rc;
    return code(pthread_mutex_consistent(pm(m)));
}

int shmkit_mutex_destroy(struct shmkit_mutex *m)
{
    if (!m)
        return 0;
    int rc = check(m);
    if (rc < 0)
        return rc;
    /* glibc does not refuse to destroy a locked robust mutex: find out */
    int e = try_once(m);
    switch (e) {
    case 0:
        e = pthread_mutex_unlock(pm(m));
        break;
    case EOWNERDEAD:
        /* the holder died: no one holds it now, and the state it guarded
         * goes with the mutex; release it cleanly before destroying */
        e = pthread_mutex_consistent(pm(m));
        if (e == 0)
            e = pthread_mutex_unlock(pm(m));
        break;
    case ENOTRECOVERABLE:
        /* destroy (then init) is the documented way out of this state */
        e = 0;
        break;
    case ETIMEDOUT:
    case EBUSY:
    case EDEADLK:
        return -EBUSY; /* a live thread holds it, maybe the caller */
    default:
        return code(e);
    }
    if (e == 0)
        e = pthread_mutex_destroy(pm(m));
    if (e)
        return code(e);
    /* relaxed: nobody may use a destroyed mutex anyway */
    shmkit__store_relaxed(magic(m), 0);
    return 0;
}
