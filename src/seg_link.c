/* seg_link.c - creating a POSIX or FILE segment whole before it has a name
 * (Linux: O_TMPFILE + linkat), so that a creator killed at any moment leaves
 * either nothing or a complete segment, never a header-less fragment. The
 * only Linux-only code of creation; elsewhere it reports "not supported"
 * and the callers use shm_open/open with O_EXCL as before. */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__) && defined(O_TMPFILE)

#include <sys/vfs.h>

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

/* Undoes the unnamed object: nothing of it remains once it is closed. */
static void drop(shmkit_seg *seg, struct seg_create *c)
{
    c->created = 0;
    c->hdr_written = 0;
    c->init_done = 0;
    c->reserve_rest = 0;
    if (seg->map)
        munmap(seg->map, seg->map_len);
    seg->map = NULL;
    seg->map_len = 0;
    if (seg->fd >= 0)
        close(seg->fd);
    seg->fd = -1;
}

/* Sizes, reserves and (unless RAW) writes the header of the unnamed object
 * in SEG->fd, then maps it, exactly as shmkit__fd_map does for a named one,
 * except that all the memory is reserved before the name exists. */
static int fill(shmkit_seg *seg, struct seg_create *c, int private_map)
{
    c->created = 1;
    int rc = shmkit__fd_map(seg, c, private_map);
    if (rc < 0)
        return rc;
    if (c->reserve_rest && (rc = shmkit__reserve_rest(seg)) < 0)
        return rc;
    c->reserve_rest = 0;
    if (c->hdr) {
        /* through the descriptor, so that a private mapping's file gets it
         * too; no one can see the object yet, so no ordering is needed */
        ssize_t n = pwrite(seg->fd, c->hdr, sizeof *c->hdr, 0);
        if (n != (ssize_t)sizeof *c->hdr)
            return n < 0 ? -errno : -EIO;
        c->hdr_written = 1;
    }
    return 0;
}

int shmkit__link_create(shmkit_seg *seg, struct seg_create *c, const char *dir, const char *path,
                        int private_map)
{
    const struct shmkit_opts *o = c->o;
    const char *knob = getenv("SHMKIT_NO_TMPFILE");
    if (knob && *knob && strcmp(knob, "0"))
        return SHMKIT__NO_TMPFILE;
    /* linkat names the object through its /proc/self/fd entry */
    if (access("/proc/self/fd", X_OK) < 0)
        return SHMKIT__NO_TMPFILE;
    if (!strcmp(dir, "/dev/shm")) {
        /* shm_open is open() in /dev/shm; anything but a tmpfs there is a
         * setup we do not second-guess: use shm_open itself */
        struct statfs sf;
        if (statfs(dir, &sf) < 0 || sf.f_type != TMPFS_MAGIC)
            return SHMKIT__NO_TMPFILE;
    }
    /* a name already there (or a symlink): say so before reserving memory
     * for an object that linkat would refuse, or that opening does not need */
    struct stat st;
    if (lstat(path, &st) == 0)
        return -EEXIST;
    mode_t mode = o->mode ? o->mode : 0600;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
    if (fd < 0)
        return SHMKIT__NO_TMPFILE; /* unsupported, or an error the O_EXCL path reports as before */
    seg->fd = fd;
    /* the umask must not narrow what the caller asked for */
    int rc = fchmod(fd, mode) < 0 ? -errno : 0;
    if (rc == 0)
        rc = fill(seg, c, private_map);
    if (rc == 0 && c->init)
        rc = c->init(seg, c); /* one-time initialisation: no one can see it yet */
    if (rc < 0)
        goto drop_object;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    /* the exclusive create: EEXIST if the name (or a symlink) is there.
     * Any other refusal (a security module, a too-long path, a full
     * directory) is left to the O_EXCL path, which reports it as always */
    if (linkat(AT_FDCWD, proc, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0) {
        rc = errno == EEXIST ? -EEXIST : SHMKIT__NO_TMPFILE;
        goto drop_object;
    }
    return 0;

drop_object:
    drop(seg, c);
    return rc;
}

#else

int shmkit__link_create(shmkit_seg *seg, struct seg_create *c, const char *dir, const char *path,
                        int private_map)
{
    (void)seg, (void)c, (void)dir, (void)path, (void)private_map;
    return SHMKIT__NO_TMPFILE;
}

#endif
