# shmkit - build, test, bench, demo, install.
#
#   make            libshmkit.a, libshmkit.so, the shmkit CLI, examples
#   make demo       the F1 timing board (the project's main job); HOST2=1: watched from a
#                   second "host" through shmkit bridge
#   make check      the fast inner loop: plain build, plain tests (BUILD=dir works)
#   make test       every test: plain build, ASan+UBSan build, TSan, short fuzz runs
#   make bench      benchmarks against pipes, sockets, message queues, Boost, ZeroMQ; the
#                   bridge, named join, Python binding (BENCH_QUICK=1: a short smoke run)
#   make install    PREFIX=/usr/local DESTDIR= (header, libs, shmkit.pc, man, CLI;
#                   then ldconfig as root, or a hint to run it: see install)
#
# Sources are found by wildcard: a new src/*.c joins the library, a new
# tests/t_*.c becomes a test program, a new examples/NAME.c (or examples/NAME/)
# an example, a new tools/*.c part of the CLI.

VERSION     := 0.1.0
SOVERSION   := 0
PREFIX      ?= /usr/local
DESTDIR     ?=
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
BINDIR      ?= $(PREFIX)/bin
MANDIR      ?= $(PREFIX)/share/man
LDCONFIG    ?= ldconfig

CC          ?= cc
BUILD       ?= build
OPT         ?= -O2
SANFLAGS    ?=
WARN        := -std=c11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CPPFLAGS_ALL = -D_GNU_SOURCE -Iinclude -Isrc $(CPPFLAGS)
CFLAGS_ALL   = $(WARN) $(OPT) -g -fvisibility=hidden -fPIC -pthread $(SANFLAGS) $(CFLAGS)
LDLIBS_ALL   = -pthread -lrt $(LDLIBS)

LIB_SRC     := $(sort $(wildcard src/*.c))
LIB_OBJ     := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TOOL_SRC    := $(sort $(wildcard tools/*.c))
TOOL_OBJ    := $(TOOL_SRC:%.c=$(BUILD)/obj/%.o)
TESTLIB_SRC := $(sort $(wildcard tests/lib/*.c))
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC    := $(sort $(wildcard tests/t_*.c))
TEST_BIN    := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TEST_SH     := $(sort $(wildcard tests/t_*.t))
TEST_SHLINK := $(TEST_SH:tests/%=$(BUILD)/tests/%)
TSAN_SRC    := $(sort $(wildcard tests/tsan/t_*.c))
EX_SRC      := $(sort $(wildcard examples/*.c))
EX_DIRS     := $(sort $(patsubst %/,%,$(dir $(wildcard examples/*/*.c))))
EX_BIN      := $(EX_SRC:examples/%.c=$(BUILD)/examples/%) \
               $(EX_DIRS:examples/%=$(BUILD)/examples/%)
BENCH_SRC   := $(sort $(wildcard bench/*.c))
BENCH_BIN   := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
FUZZ_SRC    := $(sort $(wildcard tests/fuzz/fuzz_*.c))
HEADERS     := include/shmkit.h $(wildcard include/shmkit/*.h) $(wildcard src/*.h)

LIB_A       := $(BUILD)/libshmkit.a
LIB_SO      := $(BUILD)/libshmkit.so.$(VERSION)
CLI         := $(BUILD)/bin/shmkit

.PHONY: FORCE all lib check test test-build check-clang bench demo install uninstall clean tsan-build fuzz-build \
        install-man uninstall-man
.DELETE_ON_ERROR:

CLI_IF_ANY  := $(if $(TOOL_SRC),$(CLI))

all: lib $(CLI_IF_ANY) $(EX_BIN)

lib: $(LIB_A) $(LIB_SO)

$(BUILD)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -c $< -o $@

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(LIB_SO): $(LIB_OBJ) src/shmkit.map
	$(CC) -shared -Wl,-soname,libshmkit.so.$(SOVERSION) -Wl,--version-script=src/shmkit.map \
	    $(CFLAGS_ALL) -o $@ $(LIB_OBJ) $(LDLIBS_ALL)
	ln -sf libshmkit.so.$(VERSION) $(BUILD)/libshmkit.so.$(SOVERSION)
	ln -sf libshmkit.so.$(VERSION) $(BUILD)/libshmkit.so

# The CLI's own headers (cli.h, and the bridge's statistics record it reads).
$(TOOL_OBJ): $(wildcard tools/*.h) bridge/stats_table.h

$(CLI): $(TOOL_OBJ) $(LIB_A)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) -o $@ $(TOOL_OBJ) $(LIB_A) $(LDLIBS_ALL)

$(BUILD)/examples/%: examples/%.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL) -lm

.SECONDEXPANSION:
$(EX_DIRS:examples/%=$(BUILD)/examples/%): $(BUILD)/examples/%: $$(wildcard examples/%/*.c) $$(wildcard examples/%/*.h) $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $(filter %.c,$^) $(LIB_A) $(LDLIBS_ALL) -lm

$(BUILD)/tests/%: tests/%.c $(TESTLIB_OBJ) $(LIB_A) $(HEADERS) $(wildcard tests/*.h tests/lib/*.h)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) -Itests/lib $(CFLAGS_ALL) -o $@ $< $(TESTLIB_OBJ) $(LIB_A) $(LDLIBS_ALL) -lm

$(BUILD)/tests/%.t: tests/%.t
	@mkdir -p $(@D)
	ln -sf $(abspath $<) $@

$(BUILD)/bench/%: bench/%.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL) -lm

# Everything one build variant needs to run the suite (the .pc for t_version.t).
test-build: all $(TEST_BIN) $(TEST_SHLINK) $(BUILD)/shmkit.pc

# ThreadSanitizer: the concurrent code, driven by threads (tests/tsan/t_*.c).
TSAN_FLAGS := -O1 -fsanitize=thread -Wno-tsan
tsan-build:
	@mkdir -p build/tsan/tests
	@for t in $(TSAN_SRC); do \
	    n=$$(basename $$t .c); \
	    $(CC) $(CPPFLAGS_ALL) -Itests/lib $(WARN) -g $(TSAN_FLAGS) -pthread -o build/tsan/tests/$$n \
	        $$t $(TESTLIB_SRC) $(LIB_SRC) $(LDLIBS_ALL) -lm || exit 1; \
	done

# libFuzzer targets (clang only): tests/fuzz/fuzz_*.c.
FUZZ_CC    ?= clang
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz-build:
	@mkdir -p build/fuzz
	@for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    $(FUZZ_CC) $(CPPFLAGS_ALL) $(WARN) $(FUZZ_FLAGS) -o build/fuzz/$$n $$f $(LIB_SRC) -pthread -lrt || exit 1; \
	done

# The library and CLI must also build warning-free with clang.
check-clang:
	$(MAKE) -s --no-print-directory BUILD=build/clang CC=clang lib $(patsubst build/%,build/clang/%,$(CLI_IF_ANY))

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

# The fast inner loop: the plain build and its tests, and nothing else (no
# package installs, no sanitizer, TSan or fuzz builds: make test runs those).
check:
	$(MAKE) -s --no-print-directory test-build
	@tests/run-all --plain $(BUILD)

test:
	@tests/setup-deps
	$(MAKE) -s --no-print-directory test-build
	$(MAKE) -s --no-print-directory BUILD=build/asan OPT=-O1 SANFLAGS="$(ASAN_FLAGS)" test-build
	$(MAKE) -s --no-print-directory tsan-build
	$(MAKE) -s --no-print-directory fuzz-build
	$(MAKE) -s --no-print-directory check-clang
	@tests/run-all build build/asan

bench: all $(BENCH_BIN)
	@bench/setup-deps
	@bench/run $(BUILD)
	@$(MAKE) -s --no-print-directory bench-python $(if $(filter-out 0,$(BENCH_QUICK)),PYBENCH_ARGS=--quick)

# HOST2=1: the weekend watched from a second "host" through shmkit bridge (needs libzmq, as
# the bridge does): examples/f1/demo-bridge.sh, in namespaces as root, on loopback otherwise.
demo: all
ifneq ($(filter-out 0,$(HOST2)),)
	@examples/f1/demo-bridge.sh --build $(BUILD) -- $(DEMO_ARGS)
else
	@$(BUILD)/examples/f1 $(DEMO_ARGS)
endif

# The directories shmkit.pc names: rewritten only when they change, so the
# .pc is made again after `make install PREFIX=...` with another prefix.
PC_DIRS := $(PREFIX) $(LIBDIR) $(INCLUDEDIR) $(VERSION)
$(BUILD)/pc-dirs: FORCE
	@mkdir -p $(@D)
	@echo '$(PC_DIRS)' | cmp -s - $@ || echo '$(PC_DIRS)' > $@

$(BUILD)/shmkit.pc: shmkit.pc.in Makefile $(BUILD)/pc-dirs
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' $< > $(BUILD)/shmkit.pc

# The man pages, and one link per name in each page's NAME section (every
# public function is named in the NAME of the page that documents it, which
# t_man.t checks): a file man3/shmkit_open.3 holding ".so man3/shmkit_segment.3",
# as util-linux and liburing install them, so `man shmkit_open` finds its page.
# The links come from the pages at install time: no list to keep by hand.
MAN_PAGES  := $(wildcard man/*.[1-8])
# $(call man_names,PAGE): the names PAGE's NAME section lists before "\-".
man_names   = sed -n '/^\.SH NAME/,/^\.SH/{/^\./d;p;}' $(1) | tr '\n' ' ' | sed 's/\\-.*//' | \
              tr ', ' '\n\n' | grep -x '[A-Za-z_][A-Za-z0-9_]*'
install-man:
	@for m in $(MAN_PAGES); do \
	    p=$${m##*/}; s=$${p##*.}; d=$(DESTDIR)$(MANDIR)/man$$s; \
	    install -d $$d && install -m 644 $$m $$d/ || exit 1; \
	    for f in $$($(call man_names,$$m)); do \
	        [ "$$f.$$s" = "$$p" ] || echo ".so man$$s/$$p" >$$d/$$f.$$s || exit 1; \
	    done; \
	done

# Removes the pages and their links, and any shmkit* link left by an older
# install whose page named a function since renamed.
uninstall-man:
	@for m in $(MAN_PAGES); do \
	    p=$${m##*/}; s=$${p##*.}; d=$(DESTDIR)$(MANDIR)/man$$s; \
	    for f in $$($(call man_names,$$m)); do \
	        [ "$$f.$$s" = "$$p" ] || rm -f $$d/$$f.$$s; \
	    done; \
	    for l in $$d/shmkit*.$$s; do \
	        grep -qx "\.so man$$s/shmkit[a-z_]*\.$$s" "$$l" 2>/dev/null && rm -f "$$l"; \
	    done; \
	    rm -f $$d/$$p; \
	done; true

# After a real install (DESTDIR empty) the dynamic linker must learn of the
# new library unless LIBDIR is one of its default directories (/lib, /usr/lib,
# /lib64, /usr/lib64). When LIBDIR is one of ld.so.conf's directories and the
# install runs as root, install runs ldconfig (it rebuilds /etc/ld.so.cache,
# as a distribution's package does after installing a library; `make install
# LDCONFIG=` skips it); otherwise it prints what to run. A staged install (DESTDIR set)
# prints nothing: the package that ships it runs ldconfig.
LD_DEFAULT := /lib /usr/lib /lib64 /usr/lib64
ld_hint = so=libshmkit.so.$(SOVERSION); at="installed $$so in $(LIBDIR)"; \
    if PATH=$$PATH:/sbin:/usr/sbin ldconfig -N -v 2>/dev/null | grep -q '^$(LIBDIR):'; then \
        if [ "$$(id -u)" -eq 0 ] && $(if $(LDCONFIG),$(LDCONFIG),false); then \
            echo "$$at: ran $(LDCONFIG), programs find it"; \
        else echo "$$at: run ldconfig (as root) so programs find it"; fi; \
    else echo "$$at, a directory the dynamic linker does not search: add it to"; \
        echo "/etc/ld.so.conf.d/ and run ldconfig (as root), or set LD_LIBRARY_PATH=$(LIBDIR)"; fi

install: all $(BUILD)/shmkit.pc install-man
	install -d $(DESTDIR)$(INCLUDEDIR)/shmkit $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR)
	install -m 644 include/shmkit.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 include/shmkit/*.h $(DESTDIR)$(INCLUDEDIR)/shmkit/
	install -m 644 $(LIB_A) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(LIB_SO) $(DESTDIR)$(LIBDIR)/
	ln -sf libshmkit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libshmkit.so.$(SOVERSION)
	ln -sf libshmkit.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libshmkit.so
	install -m 644 $(BUILD)/shmkit.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	$(if $(CLI_IF_ANY),install -m 755 $(CLI) $(DESTDIR)$(BINDIR)/)
	@$(if $(DESTDIR)$(filter $(LIBDIR),$(LD_DEFAULT)),:,$(ld_hint))

uninstall: uninstall-man
	rm -f $(DESTDIR)$(INCLUDEDIR)/shmkit.h $(DESTDIR)$(LIBDIR)/libshmkit.* \
	    $(DESTDIR)$(LIBDIR)/pkgconfig/shmkit.pc $(DESTDIR)$(BINDIR)/shmkit
	rm -rf $(DESTDIR)$(INCLUDEDIR)/shmkit

FORCE:

clean:
	rm -rf build results

# ---- Abuse suites, long runs and reports (tests/README.md) ----
.PHONY: check-long coverage valgrind
# Long fuzzing, 1,000-round crash matrix, 100 M-message soak (an hour or more).
check-long:
	@tests/setup-deps
	$(MAKE) -s --no-print-directory test-build
	$(MAKE) -s --no-print-directory fuzz-build
	@tests/abuse/check-long

# Line coverage of src/ by the test suite: gcov + lcov, built in build/cov.
coverage:
	@tests/setup-deps
	@tests/abuse/setup-tools
	$(MAKE) -s --no-print-directory BUILD=build/cov OPT=-O0 SANFLAGS="--coverage -DSHMKIT_COVERAGE" test-build
	@tests/abuse/coverage

# Every CLI command and example under valgrind --leak-check=full.
valgrind: all
	@tests/abuse/setup-tools
	@SHMKIT_BUILD=$(BUILD) tests/abuse/valgrind
include python/python.mk
include bridge/bridge.mk
