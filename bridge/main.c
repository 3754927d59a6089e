/* main.c - shmkit-bridge: parse, install the stop signals, run. */
#include "bridge.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    static struct bridge b;
    int status = bridge_parse_args(&b.cfg, argc, argv);
    if (status >= 0)
        return status;
    /* no SA_RESTART: a blocking wait returns EINTR and the loop sees STOP */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return bridge_run(&b, &stop);
}
