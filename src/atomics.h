/* atomics.h - the memory orderings the library uses, each named and
 * explained once (as liburing's barrier.h does). Every call site still
 * says in one line what its ordering publishes or observes; this header
 * says what the ordering itself guarantees.
 *
 * They are GCC/Clang __atomic builtins, so they work on plain integers in
 * shared memory (no _Atomic types in the on-memory layouts), of any size
 * the builtins accept lock-free (4 and 8 bytes here). Internal. */
#ifndef SHMKIT_ATOMICS_H
#define SHMKIT_ATOMICS_H

/* RELAXED: atomic (never torn), but orders nothing around it. For
 * statistics, hints, single-writer fields read back by their writer, and
 * stores ordered by a fence or a later release. */
#define shmkit__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define shmkit__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define shmkit__fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define shmkit__xchg_relaxed(p, v) __atomic_exchange_n((p), (v), __ATOMIC_RELAXED)

/* ACQUIRE load: everything the thread that stored the value did before
 * its release store (or release fence) is visible after this load. The
 * reading half of every publication. */
#define shmkit__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

/* RELEASE store: everything this thread did before is visible to whoever
 * reads the value with an acquire load. The writing half of every
 * publication (a record, a head or tail, an unlock). */
#define shmkit__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define shmkit__fetch_add_release(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELEASE)
#define shmkit__fetch_sub_release(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define shmkit__xchg_release(p, v) __atomic_exchange_n((p), (v), __ATOMIC_RELEASE)

/* ACQ_REL read-modify-write: acquires what the previous writer of the
 * word published and releases what we did before. */
#define shmkit__xchg_acq_rel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

/* SEQ_CST: one total order over every seq_cst access. Needed, and used,
 * only for the store-buffering pairs of the sleep/wake protocols: "I
 * announce myself, then look at you" against "you publish, then look at
 * me" - with seq_cst on both sides at least one sees the other, so no
 * wake-up is lost. Acquire/release alone would let both miss. */
#define shmkit__load_seq_cst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define shmkit__store_seq_cst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)
#define shmkit__fetch_add_seq_cst(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define shmkit__fetch_sub_seq_cst(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define shmkit__and_fetch_seq_cst(p, v) __atomic_and_fetch((p), (v), __ATOMIC_SEQ_CST)
#define shmkit__or_fetch_seq_cst(p, v) __atomic_or_fetch((p), (v), __ATOMIC_SEQ_CST)

/* Compare-and-swap (strong: fails only when *P differs from *EXP, which
 * then holds the value seen). Returns nonzero on success.
 * _acquire: on success acquires what the word's previous writer released
 *   (taking a lock or a claim); on failure relaxed (we only retry).
 * _acq_rel: as _acquire, and also releases what we did before (handing a
 *   claim over).
 * _release: on success publishes what we did before; failure relaxed.
 * _relaxed: a word that orders nothing (a hint bit, a statistic). */
#define shmkit__cas_acquire(p, exp, des)                                                           \
    __atomic_compare_exchange_n((p), (exp), (des), 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)
#define shmkit__cas_acq_rel(p, exp, des)                                                           \
    __atomic_compare_exchange_n((p), (exp), (des), 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)
#define shmkit__cas_release(p, exp, des)                                                           \
    __atomic_compare_exchange_n((p), (exp), (des), 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define shmkit__cas_relaxed(p, exp, des)                                                           \
    __atomic_compare_exchange_n((p), (exp), (des), 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)

/* Fences order the plain or relaxed accesses around them.
 * _seq_cst: the store-buffering pair again, when the announcing store and
 *   the checking load are relaxed (the channels' park/wake).
 * _release: stores after the fence are not seen before accesses before it
 *   (the seqlock writer: odd sequence, then data).
 * _acquire: loads before the fence are not overtaken by accesses after it
 *   (the seqlock reader: data, then the sequence re-check). */
#define shmkit__fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define shmkit__fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#define shmkit__fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)

/* The seqlock's data copies and fences (seqlock.c). ThreadSanitizer does
 * not model atomic_thread_fence (gcc refuses to compile one with
 * -fsanitize=thread), so under TSan the two fences become no-ops and every
 * data access carries the ordering itself: data loads acquire, data stores
 * release. That is the other correct C11 seqlock (slower on weakly ordered
 * CPUs, identical code on x86). Otherwise the data accesses are relaxed
 * and the fences order them against the sequence. */
#if defined(__SANITIZE_THREAD__)
#define SHMKIT__TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SHMKIT__TSAN 1
#endif
#endif
#ifdef SHMKIT__TSAN
#define shmkit__seq_data_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define shmkit__seq_data_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define shmkit__seq_fence_acquire() ((void)0)
#define shmkit__seq_fence_release() ((void)0)
#else
#define shmkit__seq_data_load(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define shmkit__seq_data_store(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define shmkit__seq_fence_acquire() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define shmkit__seq_fence_release() __atomic_thread_fence(__ATOMIC_RELEASE)
#endif

#endif
