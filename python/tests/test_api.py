"""The package's surface: every public name exists, is typed in the stubs and documented;
the docs' excerpts of python/examples are still verbatim in the scripts."""
import ast
import os
import re

import shmkit

HERE = os.path.dirname(os.path.abspath(__file__))
PY = os.path.dirname(HERE)
TOP = os.path.dirname(PY)


def test_public_names_typed_and_documented():
    stubs = ast.parse(open(os.path.join(PY, "shmkit", "__init__.pyi")).read())
    typed = {n.name for n in stubs.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))}
    for name in shmkit.__all__:
        obj = getattr(shmkit, name)
        assert name in typed, f"{name} missing from __init__.pyi"
        assert (obj.__doc__ or "").strip(), f"{name} has no docstring"
    for cls in (shmkit.Segment, shmkit.Ring, shmkit.Bus, shmkit.Subscriber, shmkit.Table,
                shmkit.Mutex, shmkit.RWLock, shmkit.SeqValue, shmkit.RpcServer,
                shmkit.RpcClient, shmkit.Request):
        for meth in [m for m in dir(cls) if not m.startswith("_")]:
            doc = getattr(getattr(cls, meth), "__doc__", None)
            assert doc, f"{cls.__name__}.{meth} has no docstring"


def test_every_exception_is_an_error():
    for name in shmkit.__all__:
        obj = getattr(shmkit, name)
        if isinstance(obj, type) and issubclass(obj, BaseException):
            assert issubclass(obj, shmkit.Error) and issubclass(obj, OSError)


def test_docs_excerpts_match_examples():
    doc = open(os.path.join(TOP, "docs", "python.md")).read()
    sources = {f: open(os.path.join(PY, "examples", f)).read()
               for f in os.listdir(os.path.join(PY, "examples")) if f.endswith(".py")}
    checked = 0
    for block in re.findall(r"```python\n(.*?)```", doc, re.S):
        first = "\n".join(block.splitlines()[:2])
        owners = [f for f, s in sources.items() if first in s]
        if owners:
            assert any(block in sources[f] for f in owners), f"stale excerpt: {first}"
            checked += 1
    assert checked >= 4
