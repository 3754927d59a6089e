/*
 * shmkit/channel.h - (being written). Included by <shmkit.h>; do not include it directly.
 */
#ifndef SHMKIT_CHANNEL_H
#define SHMKIT_CHANNEL_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/channel.h>"
#endif

#endif /* SHMKIT_CHANNEL_H */
