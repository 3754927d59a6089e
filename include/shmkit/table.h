/*
 * shmkit/table.h - (being written). Included by <shmkit.h>; do not include it directly.
 */
#ifndef SHMKIT_TABLE_H
#define SHMKIT_TABLE_H

#ifndef SHMKIT_H
#error "include <shmkit.h>, not <shmkit/table.h>"
#endif

#endif /* SHMKIT_TABLE_H */
