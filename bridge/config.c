/* config.c - shmkit-bridge's command line. */
#include "bridge.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

void bridge_usage(FILE *f)
{
    fputs("Usage:\n"
          " shmkit-bridge [options] --bus NAME... (--bind ENDPOINT | --connect ENDPOINT)...\n"
          " shmkit bridge [options] ...\n"
          " shmkit-bridge --keygen PREFIX\n"
          "\n"
          "Carries shmkit buses between hosts over ZeroMQ: what local programs publish\n"
          "on an exported bus goes to every peer connected to a --bind endpoint; what\n"
          "peers at --connect endpoints publish is republished into the local bus of\n"
          "the same name (created if missing).\n"
          "\n"
          "Channels:\n"
          "  -b, --bus NAME           a bus to carry: exported with --bind, imported\n"
          "                           with --connect (give --export/--import when both);\n"
          "                           NAME=/TOPIC: the local bus NAME is /TOPIC on the wire\n"
          "      --export NAME        local bus -> peers (the bridge subscribes)\n"
          "      --import NAME        peers -> local bus (the bridge publishes)\n"
          "  -B, --bind ENDPOINT      serve exported buses here (tcp://*:5555)\n"
          "  -c, --connect ENDPOINT   import from the bridge serving there\n"
          "\n"
          "Rings (point to point, back-pressure end to end):\n"
          "      --ring-out NAME@ENDPOINT  local ring -> the bridge at ENDPOINT (connects)\n"
          "      --ring-in NAME@ENDPOINT   the bridge at ENDPOINT -> local ring (binds)\n"
          "      --ring-cap SIZE      data bytes of a ring the bridge creates (default 1M)\n"
          "\n"
          "Request/response (at most once; a failed call ends with SHMKIT_ECLOSED):\n"
          "      --rpc-out NAME@ENDPOINT   serve the local RPC endpoint NAME, forwarding\n"
          "                           each call to the bridge at ENDPOINT (connects)\n"
          "      --rpc-in NAME@ENDPOINT    make the calls of the bridge at ENDPOINT as a\n"
          "                           client of the local endpoint NAME (binds)\n"
          "      --rpc-timeout MS     a forwarded call's limit (default 5000)\n"
          "      --rpc-inflight N     calls in flight per --rpc-out (default 64)\n"
          "      --rpc-msg-max SIZE   largest request and response (default 64K)\n"
          "\n"
          "Buses the bridge creates:\n"
          "      --slots N            messages kept (power of two; default 1024)\n"
          "      --msg-max SIZE       largest message (default 64K)\n"
          "      --max-subs N         subscribers (default 16)\n"
          "      --lossy              the bridge never waits for slow local subscribers\n"
          "\n"
          "Flow:\n"
          "      --hwm N              messages queued per peer and direction (default 1000)\n"
          "      --publish-timeout MS how long an import waits for room in a full local\n"
          "                           bus before dropping (default 100)\n"
          "      --send-timeout MS    how long an export waits for room when a peer's\n"
          "                           queue is full before dropping, for every peer\n"
          "                           (default 0: drop for that peer only, at once)\n"
          "\n"
          "Security (required unless every endpoint is loopback, ipc:// or inproc://):\n"
          "      --curve-secret FILE  this bridge's CURVE secret key (Z85)\n"
          "      --curve-allow FILE   public keys of the peers allowed in, one a line\n"
          "      --curve-server FILE  public key of the bridges we --connect to\n"
          "                           (default: the first key of --curve-allow)\n"
          "      --insecure           no CURVE even on non-loopback endpoints\n"
          "      --keygen PREFIX      write PREFIX.secret and PREFIX.public and exit\n"
          "\n"
          "Other:\n"
          "      --stats-file FILE    write the counters there (key=value lines)\n"
          "      --stats-interval S   every S seconds (default 1) and at exit\n"
          "      --stats-name NAME    live counters in the shmkit table NAME, for\n"
          "                           'shmkit info/watch NAME' (default\n"
          "                           /shmkit-bridge-PID; 'none': no table)\n"
          "      --id HEX             origin id (default: random at each start)\n"
          "  -v, --verbose            log connections and refused frames to stderr\n"
          "  -h, --help               display this help\n"
          "  -V, --version            display the version\n"
          "\n"
          "Stops cleanly on SIGTERM or SIGINT. Exit status: 0 ok, 1 bad usage,\n"
          "2 system error. See shmkit-bridge(1).\n",
          f);
}

static int usage_err(const char *what, const char *why)
{
    fprintf(stderr, "shmkit-bridge: %s: %s\ntry 'shmkit-bridge --help'\n", what, why);
    return 1;
}

static int add(char **v, int *n, int max, char *s, const char *opt)
{
    if (*n >= max)
        return usage_err(opt, "given too many times");
    v[(*n)++] = s;
    return -1;
}

int bridge_split_name(const char *arg, char *local, char *topic)
{
    const char *eq = strstr(arg, "=/");
    size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
    const char *t = eq ? eq + 1 : arg;
    if (n > BRIDGE_TOPIC_MAX || strlen(t) > BRIDGE_TOPIC_MAX)
        return -1;
    memcpy(local, arg, n);
    local[n] = 0;
    strcpy(topic, t);
    return shmkit_name_check(local) < 0 || shmkit_name_check(topic) < 0 ? -1 : 0;
}

static int name_arg(const char *opt, const char *s)
{
    char l[BRIDGE_TOPIC_MAX + 1], t[BRIDGE_TOPIC_MAX + 1];
    if (bridge_split_name(s, l, t) < 0)
        return usage_err(s, "not a channel name (\"/name\" or \"/name=/topic\")");
    (void)opt;
    return -1;
}

static int uint_arg(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    uint64_t v;
    if (shmkit_parse_size(s, &v) < 0 || v < lo || v > hi) {
        char why[96];
        snprintf(why, sizeof why, "'%s' is not a number in %llu..%llu", s, (unsigned long long)lo,
                 (unsigned long long)hi);
        return usage_err(opt, why);
    }
    *out = v;
    return -1;
}

enum {
    O_EXPORT = 0x100, O_IMPORT, O_SLOTS, O_MSGMAX, O_MAXSUBS, O_LOSSY, O_HWM, O_PTO,
    O_STO,
    O_CSECRET, O_CALLOW, O_CSERVER, O_INSECURE, O_KEYGEN, O_SFILE, O_SINT, O_SNAME, O_ID, O_RING_OUT,
    O_RING_IN, O_RING_CAP, O_RPC_OUT, O_RPC_IN, O_RPC_TIMEOUT, O_RPC_INFLIGHT, O_RPC_MSGMAX
};

/* "NAME[=/TOPIC]@ENDPOINT": both parts checked. */
static int ring_arg(const char *opt, const char *s)
{
    const char *at = strchr(s, '@');
    char part[2 * BRIDGE_TOPIC_MAX + 3], l[BRIDGE_TOPIC_MAX + 1], t[BRIDGE_TOPIC_MAX + 1];
    if (!at || !at[1] || (size_t)(at - s) >= sizeof part)
        return usage_err(opt, "not NAME@ENDPOINT");
    memcpy(part, s, (size_t)(at - s));
    part[at - s] = 0;
    if (bridge_split_name(part, l, t) < 0)
        return usage_err(s, "not a channel name (\"/name\" or \"/name=/topic\") before the @");
    return -1;
}

const char *bridge_ring_endpoint(const char *arg)
{
    return strchr(arg, '@') + 1;
}

int bridge_parse_args(struct bridge_cfg *cfg, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bus", required_argument, 0, 'b'},           {"export", required_argument, 0, O_EXPORT},
        {"import", required_argument, 0, O_IMPORT},   {"bind", required_argument, 0, 'B'},
        {"connect", required_argument, 0, 'c'},       {"slots", required_argument, 0, O_SLOTS},
        {"msg-max", required_argument, 0, O_MSGMAX},  {"max-subs", required_argument, 0, O_MAXSUBS},
        {"lossy", no_argument, 0, O_LOSSY},           {"hwm", required_argument, 0, O_HWM},
        {"publish-timeout", required_argument, 0, O_PTO},
        {"send-timeout", required_argument, 0, O_STO},
        {"curve-secret", required_argument, 0, O_CSECRET},
        {"curve-allow", required_argument, 0, O_CALLOW},
        {"curve-server", required_argument, 0, O_CSERVER},
        {"insecure", no_argument, 0, O_INSECURE},     {"keygen", required_argument, 0, O_KEYGEN},
        {"stats-file", required_argument, 0, O_SFILE},
        {"stats-interval", required_argument, 0, O_SINT},
        {"stats-name", required_argument, 0, O_SNAME},
        {"id", required_argument, 0, O_ID},
        {"ring-out", required_argument, 0, O_RING_OUT},
        {"ring-in", required_argument, 0, O_RING_IN},
        {"ring-cap", required_argument, 0, O_RING_CAP},
        {"rpc-out", required_argument, 0, O_RPC_OUT},
        {"rpc-in", required_argument, 0, O_RPC_IN},
        {"rpc-timeout", required_argument, 0, O_RPC_TIMEOUT},
        {"rpc-inflight", required_argument, 0, O_RPC_INFLIGHT},
        {"rpc-msg-max", required_argument, 0, O_RPC_MSGMAX},           {"verbose", no_argument, 0, 'v'},
        {"help", no_argument, 0, 'h'},                {"version", no_argument, 0, 'V'},
        {0, 0, 0, 0}};
    memset(cfg, 0, sizeof *cfg);
    cfg->slots = 1024;
    cfg->msg_max = 64 * 1024;
    cfg->max_subs = 16;
    cfg->hwm = 1000;
    cfg->publish_timeout_ms = 100;
    cfg->stats_interval = 1.0;
    cfg->ring_cap = 1u << 20;
    cfg->rpc_msg_max = 64 * 1024;
    cfg->rpc_timeout_ms = 5000;
    cfg->rpc_inflight = 64;
    int c, r = -1;
    uint64_t v;
    opterr = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, ":b:B:c:vhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if ((r = name_arg("--bus", optarg)) < 0)
                r = add(cfg->buses, &cfg->nbus, BRIDGE_MAX_CHANS, optarg, "--bus");
            break;
        case O_EXPORT:
            if ((r = name_arg("--export", optarg)) < 0)
                r = add(cfg->exports, &cfg->nexport, BRIDGE_MAX_CHANS, optarg, "--export");
            break;
        case O_IMPORT:
            if ((r = name_arg("--import", optarg)) < 0)
                r = add(cfg->imports, &cfg->nimport, BRIDGE_MAX_CHANS, optarg, "--import");
            break;
        case 'B':
            r = add(cfg->binds, &cfg->nbind, BRIDGE_MAX_EPS, optarg, "--bind");
            break;
        case 'c':
            r = add(cfg->connects, &cfg->nconnect, BRIDGE_MAX_EPS, optarg, "--connect");
            break;
        case O_RING_OUT:
            if ((r = ring_arg("--ring-out", optarg)) < 0)
                r = add(cfg->ring_out, &cfg->nring_out, BRIDGE_MAX_RINGS, optarg, "--ring-out");
            break;
        case O_RING_IN:
            if ((r = ring_arg("--ring-in", optarg)) < 0)
                r = add(cfg->ring_in, &cfg->nring_in, BRIDGE_MAX_RINGS, optarg, "--ring-in");
            break;
        case O_RPC_OUT:
            if ((r = ring_arg("--rpc-out", optarg)) < 0)
                r = add(cfg->rpc_out, &cfg->nrpc_out, BRIDGE_MAX_RINGS, optarg, "--rpc-out");
            break;
        case O_RPC_IN:
            if ((r = ring_arg("--rpc-in", optarg)) < 0)
                r = add(cfg->rpc_in, &cfg->nrpc_in, BRIDGE_MAX_RINGS, optarg, "--rpc-in");
            break;
        case O_RPC_TIMEOUT:
            if ((r = uint_arg("--rpc-timeout", optarg, 1, 3600000, &v)) < 0)
                cfg->rpc_timeout_ms = (int)v;
            break;
        case O_RPC_INFLIGHT:
            if ((r = uint_arg("--rpc-inflight", optarg, 1, SHMKIT_RPC_MAX_CLIENTS, &v)) < 0)
                cfg->rpc_inflight = (int)v;
            break;
        case O_RPC_MSGMAX:
            if ((r = uint_arg("--rpc-msg-max", optarg, 1, 64u << 20, &v)) < 0)
                cfg->rpc_msg_max = v;
            break;
        case O_RING_CAP:
            if ((r = uint_arg("--ring-cap", optarg, SHMKIT_RING_MIN_CAP, 1ull << 32, &v)) < 0) {
                if (v & (v - 1))
                    return usage_err("--ring-cap", "not a power of two");
                cfg->ring_cap = v;
            }
            break;
        case O_SLOTS:
            if ((r = uint_arg("--slots", optarg, 2, 1u << 24, &v)) < 0) {
                if (v & (v - 1))
                    return usage_err("--slots", "not a power of two");
                cfg->slots = v;
            }
            break;
        case O_MSGMAX:
            if ((r = uint_arg("--msg-max", optarg, 1, 64u << 20, &v)) < 0)
                cfg->msg_max = v;
            break;
        case O_MAXSUBS:
            if ((r = uint_arg("--max-subs", optarg, 1, SHMKIT_BUS_MAX_SUBS, &v)) < 0)
                cfg->max_subs = (unsigned)v;
            break;
        case O_LOSSY:
            cfg->lossy = 1;
            break;
        case O_HWM:
            if ((r = uint_arg("--hwm", optarg, 1, 1000000, &v)) < 0)
                cfg->hwm = (int)v;
            break;
        case O_PTO:
            if ((r = uint_arg("--publish-timeout", optarg, 0, 3600000, &v)) < 0)
                cfg->publish_timeout_ms = (int)v;
            break;
        case O_STO:
            if ((r = uint_arg("--send-timeout", optarg, 0, 3600000, &v)) < 0)
                cfg->send_timeout_ms = (int)v;
            break;
        case O_CSECRET:
            cfg->curve_secret = optarg;
            break;
        case O_CALLOW:
            cfg->curve_allow = optarg;
            break;
        case O_CSERVER:
            cfg->curve_server = optarg;
            break;
        case O_INSECURE:
            cfg->insecure = 1;
            break;
        case O_KEYGEN: {
            int rc = bridge_keygen(optarg);
            return rc < 0 ? 2 : 0;
        }
        case O_SFILE:
            cfg->stats_file = optarg;
            break;
        case O_SNAME:
            if (strcmp(optarg, "none") && shmkit_name_check(optarg) < 0)
                return usage_err("--stats-name", "not a segment name (\"/name\") nor 'none'");
            cfg->stats_name = optarg;
            break;
        case O_SINT: {
            char *end;
            double d = strtod(optarg, &end);
            if (*end || !(d >= 0.01 && d <= 86400))
                return usage_err("--stats-interval", "not a number of seconds in 0.01..86400");
            cfg->stats_interval = d;
            break;
        }
        case O_ID: {
            char *end;
            errno = 0;
            unsigned long long id = strtoull(optarg, &end, 16);
            if (*end || !*optarg || errno || !id)
                return usage_err("--id", "not a non-zero hexadecimal number");
            cfg->id = id;
            break;
        }
        case 'v':
            cfg->verbose++;
            break;
        case 'h':
            bridge_usage(stdout);
            return 0;
        case 'V':
            printf("shmkit-bridge %s (libshmkit %s, libzmq)\n", SHMKIT_VERSION_STRING,
                   shmkit_version());
            return 0;
        case ':':
            return usage_err(argv[optind - 1], "needs an argument");
        default:
            return usage_err(optopt ? (char[]){'-', (char)optopt, 0} : argv[optind - 1],
                             "unknown option");
        }
        if (r >= 0)
            return r;
    }
    if (optind < argc)
        return usage_err(argv[optind], "unexpected argument");
    if (cfg->nbus && !cfg->nbind && !cfg->nconnect)
        return usage_err("--bus", "needs --bind (export) or --connect (import)");
    if (cfg->nbus && cfg->nbind && cfg->nconnect)
        return usage_err("--bus", "with both --bind and --connect, say --export or --import");
    for (int i = 0; i < cfg->nbus; i++) {
        if (cfg->nbind)
            r = add(cfg->exports, &cfg->nexport, BRIDGE_MAX_CHANS, cfg->buses[i], "--export");
        else
            r = add(cfg->imports, &cfg->nimport, BRIDGE_MAX_CHANS, cfg->buses[i], "--import");
        if (r >= 0)
            return r;
    }
    if (!cfg->nexport && !cfg->nimport && !cfg->nring_out && !cfg->nring_in && !cfg->nrpc_out &&
        !cfg->nrpc_in)
        return usage_err("--bus", "no bus, ring or RPC endpoint to carry");
    if (cfg->nexport && !cfg->nbind)
        return usage_err("--export", "needs a --bind endpoint");
    if (cfg->nimport && !cfg->nconnect)
        return usage_err("--import", "needs a --connect endpoint");
    if (cfg->nbind && !cfg->nexport)
        return usage_err("--bind", "no bus exported");
    if (cfg->nconnect && !cfg->nimport)
        return usage_err("--connect", "no bus imported");
    if (!!cfg->curve_secret != !!cfg->curve_allow)
        return usage_err("--curve-secret", "--curve-secret and --curve-allow go together");
    if (cfg->curve_secret && cfg->insecure)
        return usage_err("--insecure", "contradicts --curve-secret");
    if (!cfg->curve_secret && !cfg->insecure && !bridge_all_local(cfg))
        return usage_err("--bind/--connect",
                         "a non-loopback endpoint needs CURVE (--curve-secret, --curve-allow) "
                         "or --insecure");
    if (shmkit_bus_size_for(cfg->slots, cfg->msg_max, cfg->max_subs) == 0)
        return usage_err("--slots/--msg-max/--max-subs", "no such bus geometry");
    return -1;
}

/* tcp://127.x.y.z:P, tcp://[::1]:P, tcp://localhost:P, ipc://, inproc:// */
static int ep_local(const char *ep)
{
    if (!strncmp(ep, "ipc://", 6) || !strncmp(ep, "inproc://", 9))
        return 1;
    if (strncmp(ep, "tcp://", 6))
        return 0;
    const char *h = ep + 6;
    /* "tcp://IFACE;HOST:PORT" binds a source address: judge the destination */
    const char *semi = strchr(h, ';');
    if (semi)
        h = semi + 1;
    return !strncmp(h, "127.", 4) || !strncmp(h, "[::1]:", 6) || !strncmp(h, "localhost:", 10) ||
           !strncmp(h, "lo:", 3);
}

int bridge_all_local(const struct bridge_cfg *cfg)
{
    for (int i = 0; i < cfg->nbind; i++)
        if (!ep_local(cfg->binds[i]))
            return 0;
    for (int i = 0; i < cfg->nconnect; i++)
        if (!ep_local(cfg->connects[i]))
            return 0;
    for (int i = 0; i < cfg->nring_out; i++)
        if (!ep_local(bridge_ring_endpoint(cfg->ring_out[i])))
            return 0;
    for (int i = 0; i < cfg->nring_in; i++)
        if (!ep_local(bridge_ring_endpoint(cfg->ring_in[i])))
            return 0;
    for (int i = 0; i < cfg->nrpc_out; i++)
        if (!ep_local(bridge_ring_endpoint(cfg->rpc_out[i])))
            return 0;
    for (int i = 0; i < cfg->nrpc_in; i++)
        if (!ep_local(bridge_ring_endpoint(cfg->rpc_in[i])))
            return 0;
    return 1;
}
