#!/usr/bin/env python3
"""tutorial_check.py BUILD FILE [TRANSLATION...] - runs every command of FILE and checks its output.

A TRANSLATION must hold exactly the same console blocks as FILE (one test each); its commands
are then not run a second time.

In a ```console block, a line "$ CMD" is a command (run from the repository root with bash,
stderr merged into stdout, "build/" replaced by BUILD/) and the lines after it, up to the next
command, are its expected output. Variable parts are written as "…": inside a line it matches
any text, a line holding only "…" matches any number of lines. NUL bytes and trailing blanks
are ignored. Prints TAP (one test per command); exit 0."""
import os, re, subprocess, sys

build, files, translations = sys.argv[1], sys.argv[2:3], sys.argv[3:]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
cmds = []
for f in files:
    block = False
    for line in open(f, encoding="utf-8").read().split("\n"):
        if line.startswith("```"):
            block = line.strip() == "```console"
            continue
        if not block:
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

print(f"1..{len(cmds) + len(translations)}")
env = dict(os.environ, LC_ALL="C")
for i, (doc, cmd, want) in enumerate(cmds, 1):
    real = re.sub(r"(^|[\s=])build/", lambda m: m.group(1) + build.rstrip("/") + "/", cmd)
    try:
        p = subprocess.run(["bash", "-c", real], cwd=root, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        out = p.stdout.decode("utf-8", "replace").replace("\0", "")
    except subprocess.TimeoutExpired:
        out = "(timed out)\n"
    got = "".join(l.rstrip() + "\n" for l in out.rstrip("\n").split("\n")) if out.strip() else ""
    good = pattern(want).match(got) is not None
    print(("ok" if good else "not ok"), i, "-", doc + ":", cmd[:70])
    if not good:
        for l in want:
            print("#   want:", l)
        for l in got.split("\n"):
            print("#   got: ", l)
for k, t in enumerate(translations, len(cmds) + 1):
    same = blocks(t) == blocks(files[0])
    print(("ok" if same else "not ok"), k, "-", os.path.basename(t) + ": same commands and outputs as",
          os.path.basename(files[0]))
