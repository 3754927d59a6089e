/* seg_file.c - any regular file, mapped MAP_SHARED (changes reach the file) or MAP_PRIVATE. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory PATH's last component lives in (malloc'ed), or NULL when
 * the path does not name a new entry plainly ("dir/", ".", "a/.."): those
 * go the O_EXCL way, which reports them as it always did. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return NULL;
    if (!slash)
        return strdup(".");
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(n + 1);
    if (dir) {
        memcpy(dir, path, n);
        dir[n] = '\0';
    }
    return dir;
}

/* Creates the file unnamed and links it once whole (see shmkit__link_create).
 * Returns 0, SHMKIT__NO_TMPFILE, or a negative code. */
static int create_unnamed(shmkit_seg *seg, const struct shmkit_opts *o, size_t total,
                          int private_map)
{
    char *dir = dir_of(o->name);
    if (!dir)
        return SHMKIT__NO_TMPFILE;
    int rc = shmkit__link_create(seg, o, dir, o->name, total, private_map);
    free(dir);
    return rc;
}

int shmkit__file_open(shmkit_seg *seg, const struct shmkit_opts *o, size_t total, int *created)
{
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int private_map = (o->flags & SHMKIT_PRIVATE) != 0;
    int nofollow = (o->flags & SHMKIT_FOLLOW) ? 0 : O_NOFOLLOW;
    mode_t mode = o->mode ? o->mode : 0600;
    /* O_NONBLOCK: opening a FIFO by mistake must fail (not a regular file),
     * not hang waiting for a writer; it changes nothing for regular files */
    nofollow |= O_NONBLOCK;
    /* a private mapping may be written even when the file may not */
    seg->writable = !rdonly;
    int fd;
    if (o->flags & SHMKIT_CREATE) {
        int rc = create_unnamed(seg, o, total, private_map);
        if (rc == 0) {
            *created = 1;
            return 0; /* made, mapped and named whole */
        }
        if (rc == SHMKIT__NO_TMPFILE) {
            fd = open(o->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | nofollow, mode);
            rc = fd >= 0 ? 0 : -errno;
        }
        if (rc == 0) {
            *created = 1;
        } else {
            /* EEXIST also for a symlink (neither linkat nor O_EXCL follows
             * one); opening it below refuses it without SHMKIT_FOLLOW */
            if (rc != -EEXIST || (o->flags & SHMKIT_EXCL))
                return rc;
            int leased = 0;
            do
                fd = open(o->name, O_RDWR | O_CLOEXEC | nofollow);
            while (fd < 0 && shmkit__lease_wait(&leased));
        }
    } else {
        int leased = 0;
        do
            fd = open(o->name, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | nofollow);
        while (fd < 0 && shmkit__lease_wait(&leased));
    }
    if (fd < 0)
        return -errno;
    seg->fd = fd;
    if (!*created) {
        int rc = shmkit__existing_check(fd, o->flags);
        if (rc < 0)
            return rc;
    }
    if (*created && fchmod(fd, mode) < 0)
        return -errno;
    return shmkit__fd_map(seg, o, total, *created, private_map);
}
