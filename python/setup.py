"""Builds the shmkit Python package: the CPython extension shmkit._shmkit compiles the
binding's own C files together with libshmkit's sources (../src/*.c), so nothing has to be
installed first and nothing is fetched:

    /usr/bin/python3 -m pip install --no-build-isolation --break-system-packages ./python

(or, in a venv made with --system-site-packages: python -m pip install --no-build-isolation
./python). See docs/python.md.
"""
import glob
import os

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)


def rel(p):
    # setuptools wants paths relative to setup.py
    return os.path.relpath(p, HERE)


lib_src = sorted(glob.glob(os.path.join(TOP, "src", "*.c")))
if not lib_src:
    raise SystemExit("shmkit: ../src/*.c not found: build from the shmkit source tree")

ext = Extension(
    "shmkit._shmkit",
    sources=[rel(os.path.join(HERE, "shmkit", f))
             for f in ("_shmkit.c", "_chan.c", "_table.c", "_sync.c", "_rpc.c")] + [rel(p) for p in lib_src],
    include_dirs=[rel(os.path.join(TOP, "include")), rel(os.path.join(TOP, "src"))],
    define_macros=[("_GNU_SOURCE", None)],
    extra_compile_args=["-std=c11", "-fvisibility=hidden", "-pthread", "-Wall", "-Wextra",
                        "-Wshadow", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
                        "-Wno-cast-function-type"]
    + os.environ.get("SHMKIT_PY_CFLAGS", "").split(),
    extra_link_args=["-pthread", "-lrt"],
)

setup(
    name="shmkit",
    version="0.1.0",
    description="Shared memory done right: segments, rings, buses, tables, robust locks",
    packages=["shmkit"],
    package_data={"shmkit": ["py.typed", "*.pyi"]},
    ext_modules=[ext],
    python_requires=">=3.9",
)
