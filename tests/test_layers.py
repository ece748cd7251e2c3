#!/usr/bin/env python3
"""The layers of core/ (core/layers.txt): no file includes a header of a later layer,
no cycle between the units of a layer, every file of core/ listed. Prints each
violation with the file and line; exits 1 if there is any."""
import fnmatch
import os
import re
import sys

top = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..")
core = os.path.join(top, "core")
layers = []  # [(name, [patterns])]
with open(os.path.join(core, "layers.txt")) as f:
    for line in f:
        line = line.split("#", 1)[0].strip()
        if line:
            name, pats = line.split(":", 1)
            layers.append((name.strip(), pats.split()))


def layer_of(path):
    """(index, unit) of a core-relative path such as 'stream.c' or 'econtext/plugin.h'."""
    unit = re.sub(r"\.[ch]$", "", path)
    for i, (_, pats) in enumerate(layers):
        for p in pats:
            if fnmatch.fnmatch(path, p) or ("." not in p and unit == p):
                return i, unit
    return None, unit


errors = []
files = []
for d, _, names in os.walk(core):
    for n in names:
        if n.endswith((".c", ".h")) and n not in ("payload_data.c",):
            rel = os.path.relpath(os.path.join(d, n), core)
            files.append(rel[len("include/"):] if rel.startswith("include/") else rel)
deps = {}  # unit -> {unit: (file, line)}
for rel in sorted(files):
    path = os.path.join(core, "include", rel) if rel.startswith("econtext") else os.path.join(core, rel)
    me, unit = layer_of(rel)
    if me is None:
        errors.append("core/%s: not in core/layers.txt" % rel)
        continue
    with open(path) as f:
        for no, line in enumerate(f, 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            it, iunit = layer_of(inc)
            if it is None:
                errors.append("core/%s:%d: includes %s, which is in no layer" % (rel, no, inc))
            elif it > me:
                errors.append("core/%s:%d: layer '%s' includes %s of the later layer '%s'"
                              % (rel, no, layers[me][0], inc, layers[it][0]))
            elif it == me and iunit != unit:
                deps.setdefault(unit, {}).setdefault(iunit, "core/%s:%d" % (rel, no))

# Cycles between units of one layer.
state = {}


def visit(u, stack):
    state[u] = 1
    for v, where in sorted(deps.get(u, {}).items()):
        if state.get(v) == 1:
            cyc = stack[stack.index(v):] + [v] if v in stack else [u, v]
            errors.append("%s: a cycle between units: %s" % (where, " -> ".join(cyc)))
        elif not state.get(v):
            visit(v, stack + [v])
    state[u] = 2


for u in sorted(deps):
    if not state.get(u):
        visit(u, [u])
for e in errors:
    print(e)
print("layers: %d files in %d layers, %d violation%s" % (
    len(files), len(layers), len(errors), "" if len(errors) == 1 else "s"))
sys.exit(1 if errors else 0)
