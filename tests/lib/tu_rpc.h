/* tu_rpc.h - an RPC endpoint for the tests (header-only, tu_ prefix). */
#ifndef TU_RPC_H
#define TU_RPC_H

#include "tap.h"
#include "tu_ring.h" /* tu_seg_anon */

#include <shmkit.h>

/* An ANON endpoint of 64-byte requests and responses for CLIENTS clients,
 * shared across fork; bails out when it cannot be made. */
static inline shmkit_seg *tu_rpc_anon(unsigned clients)
{
    shmkit_seg *seg = tu_seg_anon(shmkit_rpc_size_for(64, 64, clients));
    struct shmkit_rpc_config cfg = {.max_request = 64, .max_response = 64, .max_clients = clients};
    if (shmkit_rpc_init(seg, &cfg) < 0)
        tap_bail("rpc init");
    return seg;
}

#endif
