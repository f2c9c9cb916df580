#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""SQL is never built from strings (SECURITY.md).

Scans lib/store/*.c and lib/session/persist.c for every call that hands SQL text to SQLite,
directly (sqlite3_prepare*, sqlite3_exec) or through the store's helpers (cmee__store_prepare,
cmee__store_exec, query_int), and asserts that the SQL argument is a string literal, a
`static const char SQL_NAME[]` made of string literals only, or a choice between such names.
Values always go in with sqlite3_bind_*. The only exceptions are listed in EXCEPTIONS with the
reason; a new one makes this test fail until it is reviewed and added there.

usage: check_sql.py SOURCE_ROOT
"""
import glob
import os
import re
import sys

CALLS = ("sqlite3_prepare", "sqlite3_prepare_v2", "sqlite3_prepare_v3", "sqlite3_prepare16",
         "sqlite3_prepare16_v2", "sqlite3_prepare16_v3", "sqlite3_exec",
         "cmee__store_prepare", "cmee__store_exec", "query_int")

# (file name, argument text) -> why it is fine.
EXCEPTIONS = {
    ("store.c", "sql"): "the helpers cmee__store_prepare/query_int forward their caller's "
                        "argument; every caller is checked here",
    ("store.c", "p"): "cmee__store_exec walks its own argument statement by statement",
    ("store.c", "m->sql"): "the schema migrations: the static const migrations[] table of "
                           "string literals in store.c",
    ("store.c", "bump"): "PRAGMA user_version = %d: a PRAGMA takes no bound parameters; the "
                         "integer comes from the static migration table, never from input",
}

CONST_DEF = re.compile(r"static\s+const\s+char\s+(SQL_[A-Z0-9_]+)\s*\[\s*\]\s*=\s*(.*?);",
                       re.S)
STRING_ONLY = re.compile(r'^(\s*"(?:[^"\\]|\\.)*"\s*)+$', re.S)
NAME = re.compile(r"^SQL_[A-Z0-9_]+$")
TERNARY = re.compile(r"^[^?]+\?\s*(SQL_[A-Z0-9_]+)\s*:\s*(SQL_[A-Z0-9_]+)$")
CALL = re.compile(r"\b(" + "|".join(CALLS) + r")\s*\(")


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: " " * len(m.group(0)), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def args_at(text, start):
    """The top-level arguments of the call whose '(' is at text[start]."""
    depth, args, cur, i, in_str = 0, [], [], start, False
    while i < len(text):
        c = text[i]
        if in_str:
            cur.append(c)
            if c == "\\":
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                in_str = False
        elif c == '"':
            in_str = True
            cur.append(c)
        elif c == "(":
            depth += 1
            if depth > 1:
                cur.append(c)
        elif c == ")":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args
            cur.append(c)
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    return args


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.getcwd()
    files = sorted(glob.glob(os.path.join(root, "lib", "store", "*.c")))
    files.append(os.path.join(root, "lib", "session", "persist.c"))
    problems, calls = [], 0
    consts = {}
    texts = {}
    for path in files:
        text = strip_comments(open(path, encoding="utf-8").read())
        texts[path] = text
        for m in CONST_DEF.finditer(text):
            consts[m.group(1)] = bool(STRING_ONLY.match(m.group(2)))
    for path, text in texts.items():
        base = os.path.basename(path)
        for m in CALL.finditer(text):
            line = text.count("\n", 0, m.start()) + 1
            # Skip the definitions of the helpers themselves ("cmee_status name(type arg").
            before = text[max(0, m.start() - 40):m.start()]
            if re.search(r"(cmee_status|int|void)\s+\**$", before):
                continue
            args = args_at(text, m.end() - 1)
            if len(args) < 2:
                problems.append(f"{base}:{line}: {m.group(1)}: cannot read its arguments")
                continue
            sql = " ".join(args[1].split())
            calls += 1
            names = []
            if sql.startswith('"'):
                if not STRING_ONLY.match(sql):
                    problems.append(f"{base}:{line}: {m.group(1)}: SQL is not a plain literal")
                continue
            if NAME.match(sql):
                names = [sql]
            elif TERNARY.match(sql):
                names = list(TERNARY.match(sql).groups())
            elif (base, sql) in EXCEPTIONS:
                continue
            else:
                problems.append(f"{base}:{line}: {m.group(1)}: SQL argument '{sql}' is not "
                                "static text (bind values instead, or document an exception)")
                continue
            for n in names:
                if n not in consts:
                    problems.append(f"{base}:{line}: {n}: not a static const char[] here")
                elif not consts[n]:
                    problems.append(f"{base}:{line}: {n}: not made of string literals only")
    # Text built with a formatting function must not be SQL, apart from the exceptions.
    for path, text in texts.items():
        for m in re.finditer(r"\b(?:snprintf|cmee__fmt|sprintf|strcat|strcpy)\s*\(", text):
            args = args_at(text, m.end() - 1)
            lit = " ".join(a for a in args if a.startswith('"'))
            if re.search(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE|DROP|PRAGMA|WHERE)\b", lit):
                if "PRAGMA user_version = %d" in lit:
                    continue
                line = text.count("\n", 0, m.start()) + 1
                problems.append(f"{os.path.basename(path)}:{line}: SQL built with a format")
    for p in problems:
        print("FAIL:", p)
    if calls == 0:
        print("FAIL: no SQL calls found: is the scan still looking in the right place?")
        return 1
    print(f"{calls} SQL call sites checked in {len(files)} files, "
          f"{len(consts)} static SQL constants, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
