// boost_mq.cpp - Boost.Interprocess message_queue measured like bench_ipc
// measures everything else: 64-byte ping-pong (two queues, two processes
// pinned to CPUs A and B), 64-byte one-way rate, 1 MiB one-way bandwidth.
// Prints CSV lines "transport,placement,metric,value,unit" for bench_ipc.
//
//   boost_mq [--quick] CPU_A CPU_B
//
// The queues have names unique to this run and are removed at exit, on
// SIGINT/SIGTERM and when anything fails.
#include <boost/interprocess/ipc/message_queue.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sched.h>
#include <string>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <vector>

namespace bip = boost::interprocess;

static std::string names[2];

static void cleanup()
{
    for (auto &n : names)
        if (!n.empty())
            bip::message_queue::remove(n.c_str());
}

static void on_signal(int sig)
{
    cleanup();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

static uint64_t now_ns()
{
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

static void pin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof set, &set);
}

// Two queues (A->B, B->A) of DEPTH messages of up to SIZE bytes.
static void make_queues(size_t depth, size_t size)
{
    cleanup();
    for (int i = 0; i < 2; i++) {
        names[i] = "shmkit-bench-boost-" + std::to_string(getpid()) + "-" + std::to_string(i);
        bip::message_queue::remove(names[i].c_str());
        bip::message_queue(bip::create_only, names[i].c_str(), depth, size);
    }
}

int main(int argc, char **argv)
{
    bool quick = false;
    int cpu[2] = {0, 1}, ci = 0;
    for (int i = 1; i < argc; i++) {
        if (!std::strcmp(argv[i], "--quick"))
            quick = true;
        else if (ci < 2)
            cpu[ci++] = std::atoi(argv[i]);
    }
    const char *plc = cpu[0] == cpu[1] ? "same-core" : "cross-core";
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::atexit(cleanup);
    pin(cpu[0]);
    const int pp = quick ? 5000 : 40000, tp = quick ? 20000 : 200000, nbig = quick ? 25 : 250;

    try {
        // ping-pong
        make_queues(16, 64);
        std::fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            pin(cpu[1]);
            bip::message_queue in(bip::open_only, names[0].c_str()), out(bip::open_only, names[1].c_str());
            char buf[64];
            size_t got;
            unsigned prio;
            for (int i = 0; i < pp + pp / 10; i++) {
                in.receive(buf, sizeof buf, got, prio);
                out.send(buf, 64, 0);
            }
            _exit(0);
        }
        {
            bip::message_queue out(bip::open_only, names[0].c_str()), in(bip::open_only, names[1].c_str());
            char buf[64] = {1};
            size_t got;
            unsigned prio;
            std::vector<uint64_t> lat;
            for (int i = 0; i < pp + pp / 10; i++) {
                uint64_t t0 = now_ns();
                out.send(buf, 64, 0);
                in.receive(buf, sizeof buf, got, prio);
                if (i >= pp / 10)
                    lat.push_back(now_ns() - t0);
            }
            waitpid(pid, nullptr, 0);
            std::sort(lat.begin(), lat.end());
            size_t n = lat.size();
            std::printf("boost message_queue,%s,rtt_p50,%llu,ns\n", plc, (unsigned long long)lat[n / 2]);
            std::printf("boost message_queue,%s,rtt_p99,%llu,ns\n", plc, (unsigned long long)lat[n * 99 / 100]);
            std::printf("boost message_queue,%s,rtt_p999,%llu,ns\n", plc, (unsigned long long)lat[n * 999 / 1000]);
        }

        // one way: 64 B rate, then 1 MiB bandwidth
        for (int big = 0; big < 2; big++) {
            size_t size = big ? (1u << 20) : 64;
            int n = big ? nbig : tp;
            make_queues(big ? 4 : 256, size);
            std::fflush(stdout);
            pid = fork();
            if (pid == 0) {
                pin(cpu[1]);
                bip::message_queue in(bip::open_only, names[0].c_str()), out(bip::open_only, names[1].c_str());
                std::vector<char> buf(size);
                size_t got;
                unsigned prio;
                for (int i = 0; i < n; i++)
                    in.receive(buf.data(), size, got, prio);
                out.send(buf.data(), 1, 0);
                _exit(0);
            }
            bip::message_queue out(bip::open_only, names[0].c_str()), in(bip::open_only, names[1].c_str());
            std::vector<char> buf(size, 0x5a);
            size_t got;
            unsigned prio;
            uint64_t t0 = now_ns();
            for (int i = 0; i < n; i++)
                out.send(buf.data(), size, 0);
            in.receive(buf.data(), size, got, prio);
            double secs = (now_ns() - t0) / 1e9;
            waitpid(pid, nullptr, 0);
            if (big)
                std::printf("boost message_queue,%s,big_oneway,%.3f,GB/s\n", plc, double(size) * n / secs / 1e9);
            else
                std::printf("boost message_queue,%s,small_oneway,%.0f,msg/s\n", plc, n / secs);
        }
    } catch (const std::exception &e) {
        std::fprintf(stderr, "boost_mq: %s\n", e.what());
        cleanup();
        return 1;
    }
    cleanup();
    return 0;
}
