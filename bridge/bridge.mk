# bridge.mk - shmkit-bridge (issue 15): libshmkit-bridge.a, the program, its
# test helper and its benchmark. Included at the end of the top-level
# Makefile. Everything here links libzmq; libshmkit and the shmkit CLI do
# not (t_bridge.t checks). Without libzmq's header the bridge is not built
# (`make` says so) and the bridge tests skip.

BRIDGE_LIB_SRC := bridge/frame.c bridge/crc.c bridge/config.c bridge/local.c bridge/pump_out.c \
                  bridge/pump_in.c bridge/pump_ring.c bridge/pump_rpc.c bridge/curve.c bridge/stats.c bridge/bridge.c
BRIDGE_LIB_OBJ := $(BRIDGE_LIB_SRC:%.c=$(BUILD)/obj/%.o)
BRIDGE_A       := $(BUILD)/libshmkit-bridge.a
BRIDGE_BIN     := $(BUILD)/bin/shmkit-bridge
BRIDGE_TOOL    := $(BUILD)/bridge/bridge-tool
BRIDGE_FRAMES  := $(BUILD)/bridge/bridge-frames
BRIDGE_BENCH   := $(BUILD)/bench/bench_bridge
BRIDGE_HDRS    := bridge/bridge.h bridge/frame.h bridge/stats_table.h bridge/testmsg.h
ZMQ_LIBS       := $(shell pkg-config --libs libzmq 2>/dev/null || echo -lzmq)
HAVE_ZMQ       := $(wildcard /usr/include/zmq.h /usr/local/include/zmq.h)

.PHONY: bridge bench-bridge install-bridge uninstall-bridge

bridge: $(BRIDGE_BIN) $(BRIDGE_TOOL) $(BRIDGE_FRAMES)

ifneq ($(HAVE_ZMQ),)
all: $(BRIDGE_BIN)
test-build: bridge $(BRIDGE_BENCH)
bench: $(BRIDGE_BENCH) # bench/run runs every program in BUILD/bench
install: install-bridge
uninstall: uninstall-bridge
else
all test-build: bridge-skip
.PHONY: bridge-skip
bridge-skip:
	@echo "bridge.mk: no zmq.h (Debian: libzmq3-dev): shmkit-bridge not built"
endif

$(BRIDGE_LIB_OBJ) $(BUILD)/obj/bridge/main.o: $(BRIDGE_HDRS)

$(BRIDGE_A): $(BRIDGE_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BRIDGE_BIN): $(BUILD)/obj/bridge/main.o $(BRIDGE_A) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(ZMQ_LIBS) $(LDLIBS_ALL)

$(BRIDGE_TOOL): bridge/tool.c $(BRIDGE_A) $(LIB_A) $(BRIDGE_HDRS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ bridge/tool.c $(BRIDGE_A) $(LIB_A) $(ZMQ_LIBS) $(LDLIBS_ALL)

$(BRIDGE_FRAMES): bridge/frames.c $(BRIDGE_A) $(LIB_A) $(BRIDGE_HDRS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ bridge/frames.c $(BRIDGE_A) $(LIB_A) $(ZMQ_LIBS) $(LDLIBS_ALL)

$(BRIDGE_BENCH): bridge/bench_bridge.c $(BRIDGE_A) $(LIB_A) $(BRIDGE_HDRS) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ bridge/bench_bridge.c $(BRIDGE_A) $(LIB_A) $(ZMQ_LIBS) $(LDLIBS_ALL)

# Bridged bus vs raw ZeroMQ PUB/SUB over TCP loopback: throughput (64 B,
# 64 KiB) and round-trip latency. bench/setup-deps installs libzmq3-dev.
# `make bench` runs it too: it lives in BUILD/bench, where bench/run finds it.
bench-bridge: all $(BRIDGE_BENCH)
	@bench/setup-deps
	@$(BRIDGE_BENCH) --csv $(BUILD)/bench/bench_bridge.csv

# `shmkit bridge` finds shmkit-bridge next to the installed shmkit.
install-bridge: $(BRIDGE_BIN)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BRIDGE_BIN) $(DESTDIR)$(BINDIR)/

uninstall-bridge:
	rm -f $(DESTDIR)$(BINDIR)/shmkit-bridge
