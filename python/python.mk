# python/python.mk - the Python binding (included by the top-level Makefile).
#
#   make python        builds the extension in place into $(BUILD)/python/lib (PYTHONPATH
#                      there runs it without installing); the plain test-build makes it too
#   make bench-python  the Python benchmarks (python/bench/bench_py.py; PYBENCH_ARGS=--quick)
#
# Debian's python3 (PY) with python3-dev; skipped with a note when Python.h is missing.
# Sanitizer builds skip it: the extension is tested in the plain build (tests/t_python.t).

PY          ?= /usr/bin/python3
PY_LIB      := $(BUILD)/python/lib
PY_STAMP    := $(PY_LIB)/shmkit/.built
PY_DEPS     := python/setup.py $(wildcard python/shmkit/*.c python/shmkit/*.h \
               python/shmkit/*.py python/shmkit/*.pyi) $(LIB_SRC) $(HEADERS)
PY_HAVE_DEV  = $(shell $(PY) -c 'import sysconfig, os; print(int(os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))))' 2>/dev/null)

.PHONY: python python-ext bench-python

python python-ext: $(PY_STAMP) $(BUILD)/python/c_peer

# the C side of the interoperability tests and of the round-trip benchmark
$(BUILD)/python/c_peer: python/bench/c_peer.c $(LIB_A) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_ALL) $(CFLAGS_ALL) -o $@ $< $(LIB_A) $(LDLIBS_ALL)

$(PY_STAMP): $(PY_DEPS)
	@if [ "$(PY_HAVE_DEV)" != 1 ]; then \
	    echo "python: no Python.h for $(PY) (apt-get install python3-dev): extension not built"; \
	else \
	    mkdir -p $(BUILD)/python && cd python && \
	    SHMKIT_PY_CFLAGS=-Werror PYTHONDONTWRITEBYTECODE= $(PY) setup.py -q build_py --no-compile --build-lib $(abspath $(PY_LIB)) \
	        build_ext --build-lib $(abspath $(PY_LIB)) --build-temp $(abspath $(BUILD))/python/tmp/x \
	        >/dev/null && touch $(abspath $@); \
	fi

ifeq ($(SANFLAGS),)
test-build: python-ext
endif

bench-python: all python-ext
	@PYTHONPATH=$(abspath $(PY_LIB)) $(PY) python/bench/bench_py.py --build $(BUILD) $(PYBENCH_ARGS)
