/* curve.c - CURVE keys from files, and the ZAP handler that lets in only
 * the peers whose public key is listed in --curve-allow. */
#include "bridge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

/* The first Z85 key (40 characters) of each non-comment line of PATH, up
 * to MAX keys, into KEYS. Returns how many, or -errno / -EINVAL. */
static int read_keys(const char *path, char (*keys)[41], int max)
{
    FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        char *s = line + strspn(line, " \t");
        if (*s == '#' || *s == '\n' || !*s)
            continue;
        size_t k = strcspn(s, " \t\r\n");
        unsigned char raw[32];
        if (k != 40)
            goto bad;
        s[40] = 0;
        if (!zmq_z85_decode(raw, s))
            goto bad;
        memcpy(keys[n++], s, 41);
    }
    fclose(f);
    return n;
bad:
    fclose(f);
    return -EINVAL;
}

int bridge_curve_load(struct bridge_curve *cv, const struct bridge_cfg *cfg, char *err,
                      size_t errlen)
{
    memset(cv, 0, sizeof *cv);
    if (!cfg->curve_secret)
        return 0;
    if (!zmq_has("curve")) {
        snprintf(err, errlen, "this libzmq was built without CURVE");
        return -ENOTSUP;
    }
    char k[1][41];
    int n = read_keys(cfg->curve_secret, k, 1);
    if (n != 1 || zmq_curve_public(cv->public_, k[0]) < 0) {
        snprintf(err, errlen, "%s: %s", cfg->curve_secret,
                 n < 0 && n != -EINVAL ? strerror(-n) : "no Z85 secret key (40 characters)");
        return n < 0 ? n : -EINVAL;
    }
    memcpy(cv->secret, k[0], 41);
    char(*allow)[41] = calloc(4096, 41);
    if (!allow)
        return -ENOMEM;
    n = read_keys(cfg->curve_allow, allow, 4096);
    if (n < 0) {
        snprintf(err, errlen, "%s: %s", cfg->curve_allow,
                 n == -EINVAL ? "a line that is not a Z85 public key" : strerror(-n));
        free(allow);
        return n;
    }
    cv->allow = calloc(n ? (size_t)n : 1, 32);
    if (!cv->allow) {
        free(allow);
        return -ENOMEM;
    }
    for (int i = 0; i < n; i++)
        zmq_z85_decode(cv->allow[i], allow[i]);
    cv->nallow = n;
    if (cfg->curve_server) {
        int m = read_keys(cfg->curve_server, k, 1);
        if (m != 1) {
            snprintf(err, errlen, "%s: %s", cfg->curve_server,
                     m < 0 && m != -EINVAL ? strerror(-m) : "no Z85 public key");
            free(allow);
            return m < 0 ? m : -EINVAL;
        }
        memcpy(cv->server, k[0], 41);
    } else if (n > 0) {
        memcpy(cv->server, allow[0], 41);
    } else if (cfg->nconnect || cfg->nring_out) {
        snprintf(err, errlen, "%s: no key (--connect needs the server's: --curve-server)",
                 cfg->curve_allow);
        free(allow);
        return -EINVAL;
    }
    free(allow);
    cv->on = 1;
    return 0;
}

int bridge_curve_server(const struct bridge_curve *cv, void *sock)
{
    int one = 1;
    if (!cv->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, cv->secret, 40) < 0)
        return -errno;
    /* a ZAP domain makes libzmq ask the handler for every peer */
    return zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "shmkit-bridge", 13) < 0 ? -errno : 0;
}

int bridge_curve_client(const struct bridge_curve *cv, void *sock)
{
    if (!cv->on)
        return 0;
    if (zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, cv->server, 40) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, cv->public_, 40) < 0 ||
        zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, cv->secret, 40) < 0)
        return -errno;
    return 0;
}

int bridge_zap_start(struct bridge_curve *cv, void *ctx)
{
    if (!cv->on)
        return 0;
    cv->zap = zmq_socket(ctx, ZMQ_REP);
    if (!cv->zap)
        return -errno;
    int zero = 0;
    zmq_setsockopt(cv->zap, ZMQ_LINGER, &zero, sizeof zero);
    return zmq_bind(cv->zap, "inproc://zeromq.zap.01") < 0 ? -errno : 0;
}

/* RFC 27 (ZAP): version, request id, domain, address, identity, mechanism,
 * credentials (CURVE: the client's 32-byte public key). */
void bridge_zap_serve(struct bridge_curve *cv, struct bridge_stats *st)
{
    zmq_msg_t part[8];
    int n = 0, more = 1;
    while (more && n < 8) {
        zmq_msg_init(&part[n]);
        if (zmq_msg_recv(&part[n], cv->zap, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&part[n]);
            if (n == 0)
                return;
            break; /* a REP socket delivers whole messages: not reached */
        }
        more = zmq_msg_more(&part[n]);
        n++;
    }
    while (more) { /* more parts than RFC 27 has: drain them */
        zmq_msg_t x;
        zmq_msg_init(&x);
        if (zmq_msg_recv(&x, cv->zap, 0) < 0)
            more = 0;
        else
            more = zmq_msg_more(&x);
        zmq_msg_close(&x);
    }
    int ok = 0;
    if (n >= 7 && zmq_msg_size(&part[5]) == 5 && !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) &&
        zmq_msg_size(&part[6]) == 32)
        for (int i = 0; i < cv->nallow && !ok; i++)
            ok = !memcmp(cv->allow[i], zmq_msg_data(&part[6]), 32);
    if (!ok)
        ctr_add(st, C_CURVE_REFUSED, 1);
    const char *rid = n >= 2 ? zmq_msg_data(&part[1]) : "";
    size_t rlen = n >= 2 ? zmq_msg_size(&part[1]) : 0;
    zmq_send(cv->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send(cv->zap, rid, rlen, ZMQ_SNDMORE);
    zmq_send(cv->zap, ok ? "200" : "400", 3, ZMQ_SNDMORE);
    zmq_send(cv->zap, ok ? "OK" : "key not allowed", ok ? 2 : 15, ZMQ_SNDMORE);
    zmq_send(cv->zap, "", 0, ZMQ_SNDMORE);
    zmq_send(cv->zap, "", 0, 0);
    for (int i = 0; i < n; i++)
        zmq_msg_close(&part[i]);
}

void bridge_curve_free(struct bridge_curve *cv)
{
    if (cv->zap)
        zmq_close(cv->zap);
    free(cv->allow);
    memset(cv, 0, sizeof *cv);
}

static int write_key(const char *prefix, const char *ext, const char *key, mode_t mode)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s.%s", prefix, ext) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(stderr, "shmkit-bridge: %s: %s\n", path, strerror(errno));
        return -errno;
    }
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", key);
    int rc = write(fd, line, (size_t)n) == n ? 0 : -EIO;
    if (close(fd) < 0 && !rc)
        rc = -errno;
    if (rc)
        fprintf(stderr, "shmkit-bridge: %s: write failed\n", path);
    return rc;
}

int bridge_keygen(const char *prefix)
{
    char pub[41], sec[41];
    if (zmq_curve_keypair(pub, sec) < 0) {
        fprintf(stderr, "shmkit-bridge: --keygen: %s\n", zmq_strerror(errno));
        return -errno;
    }
    int rc = write_key(prefix, "secret", sec, 0600);
    if (!rc)
        rc = write_key(prefix, "public", pub, 0644);
    return rc;
}
