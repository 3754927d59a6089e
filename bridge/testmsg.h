/* testmsg.h - the self-checking message the bridge's test programs send
 * (bridge-tool and bridge-frames): seq (8 bytes), the CRC-32C of what
 * follows it (4), then bytes derived from seq. */
#ifndef SHMKIT_BRIDGE_TESTMSG_H
#define SHMKIT_BRIDGE_TESTMSG_H

#include <shmkit.h>

#include <stdint.h>
#include <string.h>

/* Fills P[0..LEN) (LEN >= 12) with message SEQ. */
static inline void bridge_testmsg_fill(unsigned char *p, size_t len, uint64_t seq)
{
    memcpy(p, &seq, 8);
    for (size_t i = 12; i < len; i++)
        p[i] = (unsigned char)(seq * 31 + i);
    uint32_t crc = shmkit_crc32c(0, p + 12, len - 12);
    memcpy(p + 8, &crc, 4);
}

#endif
