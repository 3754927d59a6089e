/* t_smoke.c - the shortest path through the core: create, write, reopen, read, remove. */
#include "shmkit.h"
#include "tap.h"

int main(void)
{
    char name[96];
    shmkit_seg *a = NULL, *b = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "smoke"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&a, &o), 0, "create %s", name);
    if (!a)
        tap_bail("cannot create");
    strcpy(shmkit_seg_data(a), "hello");
    struct shmkit_opts r = {.kind = SHMKIT_POSIX, .name = name};
    is_rc(shmkit_open(&b, &r), 0, "reopen");
    ok(b && !strcmp(shmkit_seg_data(b), "hello"), "second mapping sees the bytes");
    is_int(shmkit_seg_size(b), 4096, "payload size from the header");
    is_rc(shmkit_seg_remove(a), 0, "remove");
    shmkit_close(a);
    shmkit_close(b);
    return tap_done();
}
