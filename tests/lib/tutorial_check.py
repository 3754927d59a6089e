#!/usr/bin/env python3
"""tutorial_check.py BUILD FILE [TRANSLATION...] - runs every command of FILE and checks its output,
its code excerpts and its claims.

A TRANSLATION must hold exactly the same console blocks as FILE (one test each); its commands
are then not run a second time, but its code excerpts are checked like FILE's.

In a ```console block, a line "$ CMD" is a command (run from the repository root with bash,
stderr merged into stdout, "build/" replaced by BUILD/, and "make" given BUILD=BUILD when BUILD
is not the default) and the lines after it, up to the next command, are its expected output.
Variable parts are written as "…": inside a line it matches any text, a line holding only "…"
matches any number of lines. NUL bytes and trailing blanks are ignored.

A ```c block whose info string names a file ("```c examples/raw_writer.c") is an excerpt: its
lines must appear in that file verbatim and in one piece; a line holding only "…" (any
indentation) separates pieces that must appear in that order.

CLAIMS below are what the text says a demonstration shows; each is checked on the output of
the command that contains its key.

Prints TAP; exit 0."""
import os, re, subprocess, sys

build, files, translations = sys.argv[1], sys.argv[2:3], sys.argv[3:]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def claim_lost(out):
    m = re.search(r"^no lock +(\d+) of (\d+) +WRONG: (\d+) lost", out, re.M)
    return m is not None and int(m.group(3)) > 0 and int(m.group(1)) + int(m.group(3)) == int(m.group(2)), \
        "without a lock, updates are lost"


def claim_torn(out):
    m = re.search(r"^reader without lock +(\d+) of", out, re.M)
    s = re.search(r"^reader with seqlock +(\d+) of", out, re.M)
    return m is not None and s is not None and int(m.group(1)) > 0 and int(s.group(1)) == 0, \
        "torn copies without a lock, none with the seqlock"


def claim_mmap(out):
    m = re.search(r"^16 bytes at each MiB.*\n.*fread/mmap time ratio: ([0-9.]+)", out, re.M)
    return m is not None and float(m.group(1)) > 3, "reading 16 bytes per MiB, mmap is more than 3x faster"


CLAIMS = {"sync_counter -p 4": [claim_lost, claim_torn], "mmap_vs_fread -s 16": [claim_mmap]}

cmds, excerpts = [], []
for f in files + translations:
    block, info, start = None, "", 0
    for n, line in enumerate(open(f, encoding="utf-8").read().split("\n"), 1):
        if line.startswith("```"):
            if block is None:
                block, info, start, body = line[3:].strip().split(" ")[0], line[3:].strip(), n, []
            else:
                if block == "c" and len(info.split()) > 1:
                    excerpts.append((os.path.basename(f), start, info.split()[1], body))
                block = None
            continue
        if block == "c":
            body.append(line)
        if block != "console" or f not in files:
            continue
        if line.startswith("$ "):
            cmds.append([os.path.basename(f), line[2:], []])
        elif cmds:
            cmds[-1][2].append(line)


def pattern(lines):
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    parts = []
    for l in lines:
        if l.strip() == "…":
            parts.append(r"(?:[^\n]*\n)*?")
        else:
            parts.append(".*?".join(re.escape(p) for p in l.rstrip().split("…")) + r"\n")
    return re.compile("".join(parts) + r"\Z", re.S)


def blocks(path):
    return re.findall(r"```console\n.*?```", open(path, encoding="utf-8").read(), re.S)


nclaims = sum(len(v) for k, v in CLAIMS.items() for c in cmds if k in c[1])
print(f"1..{len(cmds) + len(translations) + len(excerpts) + nclaims}")
k = 0
env = dict(os.environ, LC_ALL="C")
for var in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS"):
    env.pop(var, None)  # under `make test`, a `make` in the text would say "Entering directory"
for doc, cmd, want in cmds:
    real = re.sub(r"(^|[\s=(;|&])build/", lambda m: m.group(1) + build.rstrip("/") + "/", cmd)
    if build.rstrip("/") != "build":
        real = re.sub(r"^make\b", "make BUILD=" + build.rstrip("/"), real)
    try:
        p = subprocess.run(["bash", "-c", real], cwd=root, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace").replace("\0", "")
    except subprocess.TimeoutExpired:
        out = "(timed out)\n"
    got = "".join(l.rstrip() + "\n" for l in out.rstrip("\n").split("\n")) if out.strip() else ""
    good = pattern(want).match(got) is not None
    k += 1
    print(("ok" if good else "not ok"), k, "-", doc + ":", cmd[:70])
    if not good:  # on stderr: prove shows it without -v
        for tag, lines in (("want:", want), ("got: ", got.split("\n"))):
            for l in lines:
                print("#  ", tag, l, file=sys.stderr)
    for key, checks in CLAIMS.items():
        if key in cmd:
            for check in checks:
                held, what = check(got)
                k += 1
                print(("ok" if held else "not ok"), k, "-", doc + ": claim:", what)
for t in translations:
    same = blocks(t) == blocks(files[0])
    k += 1
    print(("ok" if same else "not ok"), k, "-", os.path.basename(t) + ": same commands and outputs as",
          os.path.basename(files[0]))
for doc, line, path, body in excerpts:
    try:
        text = open(os.path.join(root, path), encoding="utf-8").read()
    except OSError as e:
        text, err = None, str(e)
    pieces, cur = [], []
    for l in body:
        if l.strip() == "…":
            pieces.append(cur)
            cur = []
        else:
            cur.append(l)
    pieces.append(cur)
    at, good = 0, text is not None
    for piece in pieces:
        if not good or not piece:
            continue
        want = "\n".join(piece) + "\n"
        i = text.find(want, at)
        while i > 0 and text[i - 1] != "\n":  # whole lines only
            i = text.find(want, i + 1)
        good = i >= 0
        at = i + 1
    k += 1
    print(("ok" if good else "not ok"), k, "-", f"{doc}:{line}: excerpt found verbatim in {path}")
    if not good:
        print("#  ", err if text is None else "not found (or not in this order) in the file")
