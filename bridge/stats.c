/* stats.c - the counters' names and the stats file: "name=value" lines,
 * replaced atomically (written to PATH.tmp, then renamed) so a reader never
 * sees half a file. */
#include "bridge.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *bridge_ctr_name(int c)
{
    static const char *const names[C_NCTR] = {
        "out_msgs",   "out_bytes",   "in_msgs",      "in_bytes",       "bad_short",
        "bad_long",   "bad_magic",   "bad_version",  "bad_topic",      "bad_header",
        "bad_crc",    "drop_loop",   "drop_dup",     "drop_hops",      "drop_unknown",
        "drop_toobig", "drop_hwm",   "drop_busfull", "local_lost",     "net_lost",
        "origins",    "peers_out",   "peers_in",     "curve_refused",  "handshake_failed",
        "errors",     "ring_out_msgs", "ring_out_bytes", "ring_in_msgs", "ring_in_bytes",
        "drop_stale", "rpc_calls",   "rpc_replies",  "rpc_failed",   "rpc_timeouts",
        "rpc_link_down", "rpc_late", "rpc_cap",     "rpc_served",   "rpc_serve_err",
        "rpc_dropped", "out_frames", "in_frames"};
    return c >= 0 && c < C_NCTR ? names[c] : "?";
}

int bridge_stats_write(const struct bridge *b, const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        return -ENAMETOOLONG;
    FILE *f = fopen(tmp, "we");
    if (!f)
        return -errno;
    fprintf(f, "id=%016llx\npid=%ld\n", (unsigned long long)b->id, (long)getpid());
    for (int c = 0; c < C_NCTR; c++)
        fprintf(f, "%s=%lld\n", bridge_ctr_name(c), (long long)ctr_get(&b->st, c));
    int rc = ferror(f) ? -EIO : 0;
    if (fclose(f) != 0 && !rc)
        rc = -errno;
    if (!rc && rename(tmp, path) < 0)
        rc = -errno;
    if (rc)
        unlink(tmp);
    return rc;
}
