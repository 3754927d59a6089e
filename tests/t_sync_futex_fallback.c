/* t_sync_futex_fallback.c - the same futex and wait queue tests against the
 * portable (polling) fallback of src/futex.c, compiled into this program:
 * the definitions here replace the archive's futex.o, so the whole library
 * (seqlock included) runs on the fallback. */
#define SHMKIT_FUTEX_FALLBACK 1
#include "../src/futex.c"

#define main futex_tests
#include "t_sync_futex.c"
#undef main

int main(void)
{
    tap_diag("portable fallback: polling futex");
    return futex_tests();
}
