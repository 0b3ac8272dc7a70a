#!/usr/bin/env python3
"""List Rust functions by length (lines from `fn` to its closing brace), longest first.

usage: scripts/long-fns.py [--min N] [--max N] [DIR...]   (default DIR: src)
  --min N  list only functions of at least N lines (default 80)
  --max N  exit 1 if any function is longer than N lines

Brace matching skips comments, string/char/raw-string literals and lifetimes. The same
count is enforced by tests/fn_length.rs (which fails above 100 lines in src/).
"""
import os
import re
import sys

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def code_only(text):
    """The text with comments and literals blanked out (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
            continue
        if text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        m = re.match(r'b?r(#*)"', text[i:i + 300])
        if m and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = '"' + m.group(1)
            j = text.find(end, i + m.end())
            j = n if j < 0 else j + len(end)
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:i + 12])
            if m:
                out.append(" " * m.end())
                i += m.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def functions(path):
    """(name, first line, line count) of every fn with a body in the file."""
    text = code_only(open(path, encoding="utf-8").read())
    found = []
    for m in re.finditer(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)", text):
        j, depth = m.end(), 0
        while j < len(text):
            ch = text[j]
            if ch in "(<[":
                depth += 1
            elif ch in ")>]":
                depth -= 1 if not (ch == ">" and text[j - 1] == "-") else 0
            elif ch == ";" and depth <= 0:
                j = -1
                break
            elif ch == "{" and depth <= 0:
                break
            j += 1
        if j < 0 or j >= len(text):
            continue
        braces, k = 0, j
        while k < len(text):
            if text[k] == "{":
                braces += 1
            elif text[k] == "}":
                braces -= 1
                if braces == 0:
                    break
            k += 1
        start = text.count("\n", 0, m.start()) + 1
        end = text.count("\n", 0, k) + 1
        found.append((m.group(1), start, end - start + 1))
    return found


def main(argv):
    lo, hi, dirs = 80, None, []
    it = iter(argv)
    for a in it:
        if a == "--min":
            lo = int(next(it))
        elif a == "--max":
            hi = int(next(it))
        else:
            dirs.append(a)
    rows = []
    for d in dirs or ["src"]:
        for root, _, files in os.walk(d):
            for f in files:
                if f.endswith(".rs"):
                    p = os.path.join(root, f)
                    rows += [(n, p, name, line) for name, line, n in functions(p)]
    rows.sort(key=lambda r: (-r[0], r[1], r[3]))
    for n, p, name, line in rows:
        if n >= lo:
            print(f"{n:5} {p}:{line} {name}")
    over = [r for r in rows if hi is not None and r[0] > hi]
    if over:
        print(f"{len(over)} function(s) over {hi} lines", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
