/* t_sync_abi.c - a robust mutex records the pthread ABI that initialised
 * it (C library, pointer size, sizeof(pthread_mutex_t)) in its magic: a
 * mutex from another ABI - forged here by changing one byte of the magic -
 * is refused with SHMKIT_EVERSION by every call, and so is an rwlock built
 * on one; a magic without the tag stays -EINVAL. */
#include "shmkit.h"
#include "tap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>

/* The magic is the mutex's last 4 bytes (src/mutex.c). */
static uint32_t *magic_of(struct shmkit_mutex *m)
{
    return (uint32_t *)(void *)(m->u.bytes + sizeof m->u.bytes - 4);
}

static void all_refuse(struct shmkit_mutex *m, int want, const char *what)
{
    is_rc(shmkit_mutex_lock(m), want, "%s: lock", what);
    is_rc(shmkit_mutex_trylock(m), want, "%s: trylock", what);
    is_rc(shmkit_mutex_timedlock(m, 1000000), want, "%s: timedlock", what);
    is_rc(shmkit_mutex_unlock(m), want, "%s: unlock", what);
    is_rc(shmkit_mutex_consistent(m), want, "%s: consistent", what);
    is_rc(shmkit_mutex_destroy(m), want, "%s: destroy", what);
}

int main(void)
{
    tap_plan(24);
    struct shmkit_mutex m;
    is_rc(shmkit_mutex_init(&m), 0, "init");
    uint32_t mg = *magic_of(&m);
    ok((mg >> 24) == 'm', "magic tag 'm' (%08x)", mg);
    is_int(mg & 0xff, (int)sizeof(pthread_mutex_t), "magic records sizeof(pthread_mutex_t)");
    is_int((mg >> 8) & 0xff, (int)sizeof(void *), "magic records the pointer size");
#ifdef __GLIBC__
    is_int((mg >> 16) & 0xff, 'g', "magic records glibc");
#else
    ok(((mg >> 16) & 0xff) != 'g', "magic records a C library other than glibc");
#endif

    /* the other word size's mutex (40 vs 24 bytes for glibc) */
    *magic_of(&m) = (mg & 0xffff0000u) | (uint32_t)(sizeof(void *) == 8 ? 4 : 8) << 8 |
                    (sizeof(void *) == 8 ? 24u : 40u);
    all_refuse(&m, SHMKIT_EVERSION, "32/64-bit mismatch");
    /* another C library, same sizes */
    *magic_of(&m) = (mg & 0xff00ffffu) | (uint32_t)'o' << 16;
    if (((mg >> 16) & 0xff) == 'o')
        *magic_of(&m) = (mg & 0xff00ffffu) | (uint32_t)'g' << 16;
    is_rc(shmkit_mutex_lock(&m), SHMKIT_EVERSION, "another libc: lock");
    /* the format before the ABI was recorded ("mxtk") */
    *magic_of(&m) = 0x6d78746bu;
    is_rc(shmkit_mutex_lock(&m), SHMKIT_EVERSION, "old magic: lock");
    /* garbage without the tag, and zero */
    *magic_of(&m) = 0x12345678u;
    is_rc(shmkit_mutex_lock(&m), -EINVAL, "garbage magic: -EINVAL");
    *magic_of(&m) = 0;
    is_rc(shmkit_mutex_lock(&m), -EINVAL, "zero magic: -EINVAL");
    *magic_of(&m) = mg;
    is_rc(shmkit_mutex_lock(&m), 0, "the right magic locks");
    is_rc(shmkit_mutex_unlock(&m), 0, "and unlocks");
    is_rc(shmkit_mutex_destroy(&m), 0, "destroy");

    /* an rwlock whose internal mutex came from another ABI */
    struct shmkit_rwlock l;
    is_rc(shmkit_rwlock_init(&l), 0, "rwlock init");
    uint32_t *wm = magic_of(&l.wm);
    uint32_t keep = *wm;
    *wm ^= 0x0c00u; /* another pointer size */
    is_rc(shmkit_rwlock_rdlock(&l, 0), SHMKIT_EVERSION, "rwlock rdlock: SHMKIT_EVERSION");
    is_rc(shmkit_rwlock_wrlock(&l, -1), SHMKIT_EVERSION, "rwlock wrlock: SHMKIT_EVERSION");
    *wm = keep;
    int t = shmkit_rwlock_rdlock(&l, 0);
    ok(t >= 0, "restored: rdlock");
    is_rc(shmkit_rwlock_rdunlock(&l, t), 0, "rdunlock");
    is_rc(shmkit_rwlock_destroy(&l), 0, "rwlock destroy");
    return tap_done();
}
