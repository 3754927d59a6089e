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
static int create_unnamed(shmkit_seg *seg, struct seg_create *c, int private_map)
{
    char *dir = dir_of(c->o->name);
    if (!dir)
        return SHMKIT__NO_TMPFILE;
    int rc = shmkit__link_create(seg, c, dir, c->o->name, private_map);
    free(dir);
    return rc;
}

/* Opens the existing file at O's path, waiting out a lease. */
static int open_existing(const struct shmkit_opts *o, int acc, int nofollow)
{
    int leased = 0, fd;
    do
        fd = open(o->name, acc | O_CLOEXEC | nofollow);
    while (fd < 0 && shmkit__lease_wait(&leased));
    return fd < 0 ? -errno : fd;
}

/* CREATE: makes the file (unnamed first where it can, else O_EXCL), or
 * finds it already there. Returns 0 and the descriptor in *FD (-1 when it
 * was made and mapped whole: SEG holds it), or a negative code. */
static int file_create(shmkit_seg *seg, struct seg_create *c, int nofollow, int *fd)
{
    const struct shmkit_opts *o = c->o;
    mode_t mode = o->mode ? o->mode : 0600;
    *fd = -1;
    int rc = create_unnamed(seg, c, (o->flags & SHMKIT_PRIVATE) != 0);
    if (rc == 0)
        return 0; /* made, mapped and named whole */
    if (rc == SHMKIT__NO_TMPFILE) {
        *fd = open(o->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | nofollow, mode);
        if (*fd >= 0) {
            c->created = 1;
            return 0;
        }
        rc = -errno;
    }
    /* EEXIST also for a symlink (neither linkat nor O_EXCL follows one);
     * opening it below refuses it without SHMKIT_FOLLOW */
    if (rc != -EEXIST || (o->flags & SHMKIT_EXCL))
        return rc;
    *fd = open_existing(o, O_RDWR, nofollow);
    return *fd < 0 ? *fd : 0;
}

static int file_open(shmkit_seg *seg, struct seg_create *c)
{
    const struct shmkit_opts *o = c->o;
    int rdonly = (o->flags & SHMKIT_RDONLY) != 0;
    int private_map = (o->flags & SHMKIT_PRIVATE) != 0;
    int nofollow = (o->flags & SHMKIT_FOLLOW) ? 0 : O_NOFOLLOW;
    /* O_NONBLOCK: opening a FIFO by mistake must fail (not a regular file),
     * not hang waiting for a writer; it changes nothing for regular files */
    nofollow |= O_NONBLOCK;
    /* a private mapping may be written even when the file may not */
    seg->writable = !rdonly;
    int fd, rc;
    if (o->flags & SHMKIT_CREATE) {
        if ((rc = file_create(seg, c, nofollow, &fd)) < 0 || fd < 0)
            return rc;
    } else if ((fd = open_existing(o, rdonly ? O_RDONLY : O_RDWR, nofollow)) < 0) {
        return fd;
    }
    seg->fd = fd;
    if (!c->created && (rc = shmkit__existing_check(fd, o->flags)) < 0)
        return rc;
    if (c->created && fchmod(fd, o->mode ? o->mode : 0600) < 0)
        return -errno;
    return shmkit__fd_map(seg, c, private_map);
}

static int file_check(const struct shmkit_opts *o)
{
    return o->name && *o->name ? 0 : SHMKIT_EBADNAME;
}

static int file_remove(shmkit_seg *seg)
{
    return unlink(seg->name) < 0 ? -errno : 0;
}

/* A private mapping's copy is not what the file holds: checksum the copy. */
static int file_crc(const shmkit_seg *seg, uint32_t *crc)
{
    return (seg->flags & SHMKIT_PRIVATE) ? SHMKIT__CRC_MAP : shmkit__fd_crc(seg, crc);
}

const struct seg_ops shmkit__seg_file = {
    .flags = SHMKIT_PRIVATE | SHMKIT_FOLLOW,
    .named = 1,
    .check = file_check,
    .open = file_open,
    .remove = file_remove,
    .stat = shmkit__fd_stat,
    .crc = file_crc,
    .being_made = shmkit__fd_being_made,
};
