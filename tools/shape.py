#!/usr/bin/env python3
"""The code's shape, checked: no source file under crates/*/src over 700 lines, no function
over 200 lines, and no import circle between the files of a crate (`use crate::…` and
`use super::…` paths, comments and test modules left out). Exit 1 with the offenders named.

    python3 tools/shape.py [--max-file 700] [--max-fn 200]

It reads the text (no compiler): a function's length runs from its `fn` line to the brace
that closes it, counted by braces outside strings and comments as far as a line scan can tell.
"""
import argparse
import glob
import os
import re
import sys

FN = re.compile(r"\s*(pub(\([a-z ]+\))?\s+)?(const\s+)?(async\s+)?(unsafe\s+)?fn\s+(\w+)")


def strip(line):
    """A line without its string literals and `//` comment (enough to count braces)."""
    line = re.sub(r'"(\\.|[^"\\])*"', '""', line)
    line = re.sub(r"'(\\.|[^'\\])'", "''", line)
    return line.split("//", 1)[0]


def long_functions(path, limit):
    lines = open(path, encoding="utf-8").read().split("\n")
    out = []
    for i, line in enumerate(lines):
        m = FN.match(line)
        if not m:
            continue
        depth, opened = 0, False
        for j in range(i, len(lines)):
            code = strip(lines[j])
            if not opened and code.rstrip().endswith(";"):
                break
            for ch in code:
                if ch == "{":
                    depth, opened = depth + 1, True
                elif ch == "}":
                    depth -= 1
            if opened and depth == 0:
                if j - i + 1 > limit:
                    out.append((j - i + 1, m.group(6)))
                break
    return out


def module_path(src, path):
    parts = os.path.relpath(path, src)[:-3].split(os.sep)
    return parts[:-1] if parts[-1] in ("mod", "lib", "main") else parts


def import_circles(src):
    files = sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True))
    mods = {tuple(module_path(src, f)): f for f in files}

    def resolve(parts):
        for k in range(len(parts), 0, -1):
            if tuple(parts[:k]) in mods:
                return mods[tuple(parts[:k])]
        return None

    edges = {f: set() for f in files}
    for f in files:
        text = open(f, encoding="utf-8").read().split("#[cfg(test)]")[0]
        text = "\n".join(l.split("//", 1)[0] for l in text.split("\n"))
        me = module_path(src, f)
        for m in re.finditer(r"\b(crate|super)::((?:[a-z_][a-z0-9_]*::)*)(\{[^}]*\}|[A-Za-z_]\w*)", text):
            # `super::` is the parent module (for a mod.rs, `me` already names its folder).
            base = [] if m.group(1) == "crate" else me[:-1]
            parts = [p for p in m.group(2).split("::") if p]
            tails = re.findall(r"[a-z_][a-z0-9_]*", m.group(3)) if m.group(3).startswith("{") else [m.group(3)]
            for t in tails or [""]:
                target = resolve(base + parts + ([t] if t else []))
                if target and target != f:
                    edges[f].add(target)
    # Strongly connected components (Tarjan): every one with two or more files is a circle.
    index, low, stack, on, circles, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                circles.append(sorted(comp))

    for v in files:
        if v not in index:
            visit(v)
    return circles


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-file", type=int, default=700)
    ap.add_argument("--max-fn", type=int, default=200)
    a = ap.parse_args()
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    bad = []
    longest_file, longest_fn = (0, ""), (0, "")
    for src in sorted(glob.glob(os.path.join(root, "crates", "*", "src"))):
        for f in sorted(glob.glob(os.path.join(src, "**", "*.rs"), recursive=True)):
            rel = os.path.relpath(f, root)
            n = sum(1 for _ in open(f, encoding="utf-8"))
            longest_file = max(longest_file, (n, rel))
            if n > a.max_file:
                bad.append(f"{rel}: {n} lines (at most {a.max_file})")
            for length, name in long_functions(f, 0):
                longest_fn = max(longest_fn, (length, f"{rel}: fn {name}"))
                if length > a.max_fn:
                    bad.append(f"{rel}: fn {name} is {length} lines (at most {a.max_fn})")
        for c in import_circles(src):
            bad.append("import circle: " + " -> ".join(os.path.relpath(f, root) for f in c))
    print(f"longest file: {longest_file[1]} ({longest_file[0]} lines)")
    print(f"longest function: {longest_fn[1]} ({longest_fn[0]} lines)")
    for b in bad:
        print(b)
    print("shape: ok" if not bad else f"shape: {len(bad)} problem(s)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
